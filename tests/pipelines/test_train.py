"""scripts/train.py -> scripts/recommend.py -> scripts/evaluate.py, end to end on small data."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import polars as pl
import pytest

from reco.artifacts.model_dir import load_model
from reco.data.synthetic import SyntheticConfig, make_release
from reco.exceptions import ArtifactError, DataFormatError
from reco.pipelines import train as training
from scripts import build_features, evaluate, recommend
from scripts import train as train_script
from tests.artifact_tools import current
from tests.ranking.test_hybrid import SMALL


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release")
    make_release(SyntheticConfig(n_users=200, n_movies=250, n_ratings=12_000, seed=9), out)
    return out


@pytest.fixture(scope="module")
def artifacts(release, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("artifacts")
    training.train(release, out, config=SMALL)
    return out


def test_train_publishes_a_version_of_the_store(artifacts):
    assert {p.name for p in artifacts.iterdir()} == {"current", "versions", ".staging"}
    version = current(artifacts)
    names = {p.name for p in version.iterdir()}
    assert {"manifest.json", "cf.npz", "rating.npz", "content.npz", "popular.npz", "item.npz",
            "ranker.json",
            "like_model.json", "catalog.parquet", "context.npz", "store.npz", "titles.npz",
            "features"} == names
    assert all(p.stat().st_mode & 0o777 == 0o644 for p in version.rglob("*") if p.is_file())
    manifest = json.loads((version / "manifest.json").read_text())
    assert set(manifest["files"]) == {str(p.relative_to(version)) for p in version.rglob("*")
                                      if p.is_file()} - {"manifest.json"}
    assert manifest["model"]["rank_features"] and manifest["model"]["like_features"]
    assert manifest["data"]["fingerprint"].startswith("sha256:")
    assert manifest["metrics"]["training_windows"]["ranker_rows"] > 0
    assert {"load", "fit", "save"} <= set(manifest["timings_seconds"])


def test_recommend_script_writes_ranked_rows(artifacts, release, tmp_path, caplog):
    ratings = pl.read_csv(release / "ratings.csv")
    users = tmp_path / "users.txt"
    users.write_text("1\n2\n# a comment\n\n999999\n1\n")
    out = tmp_path / "recs.csv"
    with caplog.at_level(logging.INFO):
        code = recommend.main(["--artifacts", str(artifacts), "--users", str(users),
                               "--k", "5", "--out", str(out)])
    assert code == 0
    recs = pl.read_csv(out)
    assert recs.columns == ["user_id", "rank", "movie_id", "score"]
    assert recs["user_id"].unique(maintain_order=True).to_list() == [1, 2, 999999]
    assert recs.group_by("user_id").len()["len"].to_list() == [5, 5, 5]
    for user in (1, 2):
        mine = recs.filter(pl.col("user_id") == user)
        assert mine["rank"].to_list() == [1, 2, 3, 4, 5]
        assert mine["score"].is_sorted(descending=True)
        seen = ratings.filter(pl.col("userId") == user)["movieId"].to_list()
        assert not set(seen) & set(mine["movie_id"].to_list())
    assert "1 of 3 users unknown" in caplog.text


def test_recommend_rejects_a_bad_users_file(artifacts, tmp_path, caplog):
    users = tmp_path / "users.txt"
    users.write_text("1\nbob\n")
    with caplog.at_level(logging.ERROR):
        code = recommend.main(["--artifacts", str(artifacts), "--users", str(users),
                               "--out", str(tmp_path / "r.csv")])
    assert code == 2
    assert "users.txt, line 2, field 'user_id', value 'bob'" in caplog.text


def test_recommend_needs_trained_artifacts(release, tmp_path):
    assert build_features.main(["--data", str(release), "--artifacts", str(tmp_path)]) == 0
    with pytest.raises(ArtifactError, match="features only"):
        load_model(tmp_path)


def test_read_user_ids_errors(tmp_path):
    from reco.pipelines.batch import read_user_ids

    empty = tmp_path / "empty.txt"
    empty.write_text("\n# nothing\n")
    with pytest.raises(DataFormatError, match="no user ids"):
        read_user_ids(empty)


def test_train_script_exit_codes(tmp_path):
    assert train_script.main(["--data", str(tmp_path), "--artifacts", str(tmp_path / "a")]) == 2


def test_train_script_takes_the_models_settings_as_json(release, tmp_path):
    settings = SMALL.to_dict()
    settings["ranker"]["n_estimators"] = 7
    out = tmp_path / "store"
    assert train_script.main(["--data", str(release), "--artifacts", str(out),
                              "--config", json.dumps(settings)]) == 0
    model, _, manifest = load_model(out)
    assert model.config.ranker.n_estimators == 7 == model.ranker_.num_boosted_rounds()
    assert model.config.cf.factors == SMALL.cf.factors  # the rest as given, not the defaults
    # a key or value the config does not have is one line and exit 2, before any training
    for bad in ('{"rankr": {}}', '{"ranker": {"max_depth": 0}}'):
        assert train_script.main(["--data", str(release), "--artifacts",
                                  str(tmp_path / "no"), "--config", bad]) == 2
    assert not (tmp_path / "no").exists()
    with pytest.raises(SystemExit) as usage:  # not a JSON object: argparse's usage error
        train_script.main(["--config", "[1, 2]"])
    assert usage.value.code == 2


def test_evaluate_script_exits_2_on_bad_input(tmp_path):
    assert evaluate.main(["--data", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    with pytest.raises(SystemExit) as exit_info:
        evaluate.main(["--k", "0"])
    assert exit_info.value.code == 2


@pytest.mark.slow  # every peer and the full model fitted and measured: seconds, not ms
def test_evaluate_script_writes_tables_and_charts(release, tmp_path):
    out = tmp_path / "report"
    assert evaluate.main(["--data", str(release), "--out", str(out), "--fast"]) == 0
    report = json.loads((out / "evaluation.json").read_text())
    methods = [row["method"] for row in report["topn"]]
    assert any("EASE" in m for m in methods) and "reco full (two-stage + XGBoost)" in methods
    assert any(m.startswith("most popular") for m in methods)
    assert all(0 <= row["ndcg@10"] <= 1 for row in report["topn"])
    assert {row["features"] for row in report["classification"]} == {"seed recipe", "reco full"}
    markdown = (out / "evaluation.md").read_text()
    assert "| method |" in markdown and "python scripts/evaluate.py" in markdown
    assert (out / "methods.png").stat().st_size > 1000
    assert (out / "feature_importance.png").stat().st_size > 1000


def test_train_takes_loaded_data_and_says_what_to_do_with_a_frame(tmp_path):
    from reco.data.synthetic import generate

    data = generate(SyntheticConfig(n_users=120, n_movies=150, n_ratings=6_000, seed=3))
    manifest = training.train(data, tmp_path / "store", config=SMALL)
    assert manifest["row_counts"]["ratings"] == data.n_ratings
    with pytest.raises(DataFormatError, match="HybridRecommender\\(\\).fit"):
        training.train(data.ratings, tmp_path / "other", config=SMALL)
