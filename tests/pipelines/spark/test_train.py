"""End to end: scripts/train.py --engine spark publishes a version the API serves (a
small synthetic release), and on ml-latest-small the Spark-built model is as good as the
single-machine one under the project's protocol (per-user split: NDCG@10 within 5 %, like
AUC within 0.01), and served once published.

Both use the test suite's small config (tests/ranking/test_hybrid.py's SMALL) to stay in
the suite's time budget; docs/SCALING.md has the comparison with the default config.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from reco.columns import MOVIE_ID, RATING, USER_ID
from tests.pipelines.spark.conftest import TEST_CONF, require_spark
from tests.ranking.test_hybrid import SMALL


def _served(store) -> None:
    from api import create_app

    client = create_app({"ARTIFACTS": str(store), "TESTING": True}).test_client()
    answer = client.get("/recommend/1?k=5")
    assert answer.status_code == 200, answer.get_json()
    items = answer.get_json()["items"]
    assert len(items) == 5 and all(0.0 <= item["score"] <= 1.0 for item in items)


@pytest.mark.slow
def test_train_script_publishes_a_served_spark_version(tmp_path, monkeypatch):
    require_spark()
    from reco.data.synthetic import SyntheticConfig, make_release
    from reco.pipelines.spark import train as spark_train
    from reco.pipelines.spark.session import SparkConfig
    from scripts import train as script

    # the script's defaults, with the suite's small model and a quiet local session
    real = spark_train.train_spark

    def small(data, artifacts, *, spark, keep, **_):
        conf = SparkConfig(master=spark.master, shuffle_partitions=spark.shuffle_partitions,
                           ui=False, conf=TEST_CONF)
        return real(data, artifacts, spark=conf, keep=keep, config=SMALL)

    monkeypatch.setattr(spark_train, "train_spark", small)
    release = tmp_path / "release"
    make_release(SyntheticConfig(n_users=200, n_movies=250, n_ratings=12_000, seed=11), release)
    store = tmp_path / "store"
    code = script.main(["--engine", "spark", "--spark-master", "local[2]", "--spark-partitions",
                        "4", "--data", str(release), "--artifacts", str(store)])
    assert code == 0
    from reco.artifacts.store import resolve

    manifest = json.loads((resolve(store) / "manifest.json").read_text())
    assert manifest["engine"] == "spark" and manifest["spark"]["version"].startswith("4.")
    _served(store)


@pytest.mark.slow
def test_spark_model_is_as_good_as_the_local_one_and_served(spark, ml_latest_small, tmp_path):
    from reco.data.movielens import load_movielens
    from reco.data.split import per_user_split
    from reco.evaluation.metrics import classification_metrics, evaluate_topn
    from reco.evaluation.protocol import tags_seen_in_train
    from reco.pipelines.spark.train import fit_hybrid
    from reco.ranking.hybrid import HybridRecommender, TextInputs
    from tests.pipelines.spark.frames import to_spark

    data = load_movielens(ml_latest_small)
    split = per_user_split(data.ratings)
    tags = tags_seen_in_train(data.tags, split, data.ratings)
    local = HybridRecommender(SMALL).fit(split.train, data.movies, tags=tags, links=data.links)
    remote = fit_hybrid(spark, to_spark(spark, split.train),
                        TextInputs(data.movies, tags, data.links), SMALL)
    test = split.test
    liked = (test[RATING].to_numpy() >= 3.5).astype(int)
    found = {}
    for name, model in (("local", local), ("spark", remote)):
        ndcg = evaluate_topn(model, split, k=10)["ndcg@10"]
        auc = classification_metrics(liked, model.predict_like(
            test[USER_ID].to_numpy(), test[MOVIE_ID].to_numpy()))["auc"]
        found[name] = (ndcg, auc)
    (ndcg_l, auc_l), (ndcg_s, auc_s) = found["local"], found["spark"]
    assert abs(ndcg_s - ndcg_l) <= 0.05 * ndcg_l, found
    assert abs(auc_s - auc_l) <= 0.01, found
    assert np.isfinite([ndcg_l, ndcg_s, auc_l, auc_s]).all()
    # published as train_spark publishes it, it is served
    from reco.artifacts.model_dir import save_model
    from reco.columns import GENRES, TITLE, YEAR

    catalog = data.movies.select(MOVIE_ID, TITLE, YEAR, GENRES)
    save_model(remote, tmp_path / "store", catalog=catalog, manifest={"engine": "spark"})
    _served(tmp_path / "store")
