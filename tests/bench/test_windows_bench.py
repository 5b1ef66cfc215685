"""scripts/bench/windows.py and its command line: one run on a tiny release and its cuts."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts import benchmark


@pytest.mark.parametrize("argv, message", [
    (["--windows", "11"], "counts from 0 to 10"),
    (["--windows", "-1"], "counts from 0 to 10"),
    (["--synthetic", "synthetic-9m"], "unknown release"),
])
def test_bad_arguments_are_refused(tmp_path: Path, argv: list[str], message: str):
    with pytest.raises(SystemExit, match=message):
        benchmark.main(["windows", "--data", str(tmp_path), *argv])


def test_some_release_is_needed():
    with pytest.raises(SystemExit, match="give --data"):
        benchmark.main(["windows", "--windows", "0"])


@pytest.mark.slow
def test_a_run_scores_each_release_and_count(tmp_path: Path):
    from dataclasses import replace

    from reco.data.synthetic import SyntheticConfig, make_release
    from scripts.bench import windows as bw
    from tests.ranking.test_hybrid import SMALL

    source = tmp_path / "tiny"
    make_release(SyntheticConfig(n_users=150, n_movies=150, n_ratings=8_000, seed=4), source)
    result = bw.run_windows(source, [0, 1], [], base=replace(SMALL, earlier_windows=0))
    rows = result["rows"]
    # the release itself and its three cuts, each with both counts
    assert [(r["release"], r["earlier_windows"]) for r in rows] == [
        (name, n) for name in ("tiny", "tiny-before-p50", "tiny-before-p75",
                               "tiny-half-users-seed0") for n in (0, 1)]
    for row in rows:
        assert 0.0 <= row["ndcg@10"] <= 1.0 and 0.0 <= row["like_auc"] <= 1.0
        assert row["fit_seconds"] >= 0.0
