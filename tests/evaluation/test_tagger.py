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


def test_script_writes_json_markdown_and_chart_and_exits_2_on_bad_input(tmp_path: Path) -> None:
    data = write_tmdb_csv(tmp_path / "tmdb.csv")
    out = tmp_path / "ev"
    common = ["tagger", "--tmdb", str(data), "--out", str(out), "--seeds", "0", "1"]
    assert evaluate_text.main([*common, "--config", json.dumps(CONFIG)]) == 0
    report = json.loads((out / "genre_tagger.json").read_text())
    assert report["config"] == {**TaggerConfig().to_dict(), **CONFIG}
    agg = report["tmdb"]["aggregate"]
    assert agg["seeds"] == [0, 1] and agg["labels"] == ["Comedy", "Horror", "Science Fiction"]
    f1 = agg["modes"]["per_label"]["summary"]["f1_micro"]
    assert f1["mean"] > 0.9 and f1["min"] <= f1["mean"] <= f1["max"]  # marker words
    assert (out / "genre_f1_tmdb.png").stat().st_size > 0
    assert "### tmdb" in (out / "genre_tagger.md").read_text()
    assert evaluate_text.main([*common, "--config", '{"no_such_key": 1}']) == 2
    for bad in (["--config", "{oops"], ["--test-size", "1.5"]):
        with pytest.raises(SystemExit) as exit_info:
            evaluate_text.main([*common, *bad])
        assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        evaluate_text.main(["tagger", "--out", str(tmp_path)])  # neither --netflix nor --tmdb
    with pytest.raises(ValueError, match="netflix and / or tmdb"):
        evaluate_tagger(out)
