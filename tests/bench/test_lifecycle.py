"""``scripts/benchmark.py lifecycle`` end to end, tiny (never timed: zero failures asserted).

One kill only, on a small synthetic release: every kill is a whole ``scripts/train.py`` run
and the run needs two more (the first version and the live retrain), so this is the
smallest run that goes through every phase.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reco.data.synthetic import SyntheticConfig, make_release
from scripts import benchmark
from scripts.bench.lifecycle import LATE_POINTS, TITLE, kill_points
from scripts.bench.report import GENERATED_END
from tests.ranking.test_hybrid import SMALL


def test_kill_points_spread_over_the_save_phase():
    assert kill_points(1, 11) == ["staged:1"]
    assert kill_points(2, 11) == ["staged:1", "pointer-moved"]
    twelve = kill_points(12, 11)
    assert len(twelve) == 12 and twelve[0] == "staged:1" and "staged:11" in twelve
    assert twelve[-len(LATE_POINTS):] == list(LATE_POINTS)  # every late point, in order
    assert kill_points(17, 11)[15:] == ["staged:1", "staged:2"]  # beyond them all: repeats


@pytest.mark.slow  # three trains and two server starts
def test_lifecycle_end_to_end(tmp_path: Path):
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("# Benchmarks\n\n## Serving\n\nuntouched\n")
    out = tmp_path / "lifecycle.json"
    # a small release: the benchmark trains three times, and what it checks is the store
    # and the server around the train, not the model
    release = tmp_path / "release"
    make_release(SyntheticConfig(n_users=200, n_movies=200, n_ratings=8_000, seed=5), release)
    # and the suite's small model (tests/ranking/test_hybrid.py): trained 3 times
    small = json.dumps(SMALL.to_dict())
    code = benchmark.main(["lifecycle", "--data", str(release), "--config", small,
                           "--kills", "1", "--requests",
                           "300", "--concurrency", "2", "--kill-concurrency", "2",
                           "--data-root", str(tmp_path / "b"), "--out", str(out),
                           "--doc", str(doc)])
    assert code == 0
    result = json.loads(out.read_text())
    for key in ("start_seconds_fresh_store", "start_seconds_after_kill_test", "kill_test",
                "live_retrain", "targets", "provenance", "command", "uptime_start"):
        assert key in result, key
    assert result["train_config"] == small
    kill, live = result["kill_test"], result["live_retrain"]

    (outcome,) = kill["outcomes"]
    assert outcome["aimed"] == "staged:1" and outcome["train_exit"] == -9
    assert outcome["hit"].startswith("staged:") or outcome["hit"] == "manifest"
    # killed before the rename: the previous version is still the current one, whole
    assert outcome["current"] == outcome["previous"] == result["initial_version"]
    assert outcome["intact"] and outcome["verify"]["ok"] and outcome["health"]["ok"]
    assert outcome["staging_leftovers"], "a killed writer leaves its staging dir behind"
    assert kill["failed"] == 0 and kill["load"]["requests"] > 0, kill["load"]
    assert kill["all_intact"] and kill["worker_crashes"] == 0

    assert live["train_exit"] == 0 and live["new_version"] not in (None, live["previous"])
    assert live["failed"] == 0 and live["load"]["requests"] >= 300, live["load"]
    assert live["worker_crashes"] == 0 and live["booting_lines_new"] == 0
    assert live["pointer_to_first_new_response_s"] is not None
    assert live["leftovers_removed"] and not set(live["staging_after"]) & set(
        outcome["staging_leftovers"])
    assert live["verify"]["ok"] and live["latency"]["before"]["requests"] > 0
    assert result["served_versions_all_were_current"]
    assert {t["status"] for t in result["targets"]} <= {"met", "missed"}

    text = doc.read_text()
    assert f"## {TITLE}" in text and GENERATED_END in text and "untouched" in text
    assert "kill -9" in text and result["command"] in text
