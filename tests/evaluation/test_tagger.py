"""Genre tagger evaluation: seeded splits, the aggregate over seeds, the report files, and
the script's exits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reco.evaluation.tagger import aggregate, evaluate_tagger
from reco.text.genre_tagger import TaggerConfig
from scripts import evaluate_text
from tests.text.test_genre_tagger import write_tmdb_csv

CONFIG = {"char_ngram_max": 0, "min_label_count": 2, "c": 100.0}


def test_evaluate_tagger_writes_json_markdown_and_chart(tmp_path: Path) -> None:
    data = write_tmdb_csv(tmp_path / "tmdb.csv")
    report = evaluate_tagger(tmp_path / "ev", tmdb=data, seeds=(0, 1),
                             config=TaggerConfig.from_dict(CONFIG))
    agg = report["tmdb"]["aggregate"]
    assert agg["seeds"] == [0, 1] and agg["labels"] == ["Comedy", "Horror", "Science Fiction"]
    summary = agg["modes"]["per_label"]["summary"]
    assert summary["f1_micro"]["mean"] > 0.9  # marker words: near-perfect
    assert summary["f1_micro"]["min"] <= summary["f1_micro"]["mean"] <= summary["f1_micro"]["max"]
    assert json.loads((tmp_path / "ev" / "genre_tagger.json").read_text())["config"] == {
        **TaggerConfig().to_dict(), **CONFIG}
    assert (tmp_path / "ev" / "genre_f1_tmdb.png").stat().st_size > 0
    assert "### tmdb" in (tmp_path / "ev" / "genre_tagger.md").read_text()


def test_aggregate_is_mean_and_sample_std_over_seeds() -> None:
    def run(seed: int, f1: float) -> dict:
        summary = dict.fromkeys(("f1_macro", "f1_micro", "f1_samples", "jaccard_samples",
                                 "hamming_loss", "exact_match", "at_least_one"), f1)
        mode = {"summary": summary, "per_label_f1": [f1], "support": [4],
                "confused": [("A", "B", 2)],
                "buckets": [{"low": 0.0, "high": 1.0, "n_labels": 1, "f1_mean": f1}]}
        return {"seed": seed, "labels": ["A"], "modes": {"per_label": mode, "global": mode}}

    agg = aggregate([run(0, 0.5), run(1, 0.7)])
    f1 = agg["modes"]["global"]["summary"]["f1_macro"]
    assert f1["mean"] == pytest.approx(0.6) and f1["std"] == pytest.approx(0.1414, abs=1e-4)
    assert agg["modes"]["per_label"]["confused"] == [("A", "B", 2.0)]


def test_script_runs_and_exits_2_on_bad_input(tmp_path: Path) -> None:
    data = write_tmdb_csv(tmp_path / "tmdb.csv")
    common = ["tagger", "--tmdb", str(data), "--out", str(tmp_path / "ev"), "--seeds", "0"]
    assert evaluate_text.main([*common, "--config", json.dumps(CONFIG)]) == 0
    assert evaluate_text.main([*common, "--config", '{"no_such_key": 1}']) == 2
    for bad in (["--config", "{oops"], ["--test-size", "1.5"]):
        with pytest.raises(SystemExit) as exit_info:
            evaluate_text.main([*common, *bad])
        assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        evaluate_text.main(["tagger", "--out", str(tmp_path)])  # neither --netflix nor --tmdb
