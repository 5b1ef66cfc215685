"""Family flag evaluation: metrics and split, the seeds summary, the training script, and
the protocol on a sample of the real Netflix file (slow; the whole file is
`scripts/evaluate_text.py family`'s, docs/TEXT_MODELS.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from reco.data.netflix import read_netflix_titles
from reco.evaluation.family import (
    FamilyEvalConfig,
    binary_metrics,
    evaluate_family,
    gold_labels,
    split_parts,
    write_report,
)
from reco.text.family import FamilyClassifier
from scripts import evaluate_text
from scripts.train_family_flag import main as train_main
from tests.text.test_family import _titles, write_netflix_csv


def test_metrics_and_split() -> None:
    parts = split_parts(1000, seed=3)
    assert set(parts) == {"train", "dev", "test"} and (parts == split_parts(1000, seed=3)).all()
    m = binary_metrics(np.array([1, 0, 1, 0]), np.array([0.9, 0.2, 0.4, 0.1]))
    assert m["roc_auc"] == 1.0 and m["precision"] == 1.0 and m["recall"] == 0.5
    assert binary_metrics(np.array([1, 1]), np.array([0.2, 0.9]))["roc_auc"] is None
    gold = gold_labels(pl.DataFrame({"rating": ["G", "TV-MA", "PG-13", None, "TV-Y7-FV"]}))
    assert gold.tolist() == [1, 0, -1, -1, 1]


def test_training_script_saves_and_exits_2_on_a_missing_file(tmp_path: Path) -> None:
    netflix = write_netflix_csv(_titles(), tmp_path / "n.csv")
    assert train_main(["--netflix", str(netflix), "--out", str(tmp_path / "out")]) == 0
    loaded = FamilyClassifier.load(tmp_path / "out")
    assert (loaded.predict_proba(_titles())[::2] > 0.5).all()
    assert json.loads((tmp_path / "out" / "family.json").read_text())["training"]["seed"] == 0
    missing = ["--netflix", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "o")]
    assert train_main(missing) == 2


@pytest.mark.slow
def test_real_evaluation_report_on_a_sample(netflix_file: Path, tmp_path: Path) -> None:
    titles = read_netflix_titles(netflix_file).head(2500)
    result = evaluate_family(titles, FamilyEvalConfig(seed=1))
    assert result["selection"]["source"] in ("majority", "em")
    assert result["test"]["roc_auc"] > 0.85
    json_path, md_path = write_report(result, tmp_path)
    assert json.loads(json_path.read_text())["parts"]["test"]["titles"] > 0
    assert "genre_kids" in md_path.read_text() and "ROC-AUC" in md_path.read_text()


def test_seeds_summary_through_the_script_on_a_tiny_file(tmp_path: Path) -> None:
    netflix = write_netflix_csv(_titles(120), tmp_path / "n.csv")
    out = tmp_path / "ev"
    common = ["family", "--netflix", str(netflix), "--out", str(out), "--seeds", "0", "1"]
    assert evaluate_text.main([*common, "--config", '{"threshold": 0.6}']) == 0
    report = json.loads((out / "family_seeds.json").read_text())
    assert report["seeds"] == [0, 1] and set(report["summary"]) == {
        "test", "uncovered", "no genre LFs"}
    for seed in (0, 1):
        per_seed = json.loads((out / f"seed-{seed}" / "family_eval.json").read_text())
        assert per_seed["test"]["roc_auc"] == report["summary"]["test"]["roc_auc"][seed]
        assert per_seed["config"]["seed"] == seed and per_seed["config"]["threshold"] == 0.6
    assert "| test |" in (out / "family_seeds.md").read_text()
    assert evaluate_text.main([*common, "--config", '{"dev_share": 0.9}']) == 2
