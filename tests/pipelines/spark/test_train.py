"""End to end on ml-latest-small (slow): ``scripts/train.py --engine spark`` publishes a
version the API serves, and that Spark-built model is as good as the single-machine one
under the project's protocol (per-user split: NDCG@10 within 5 %, like AUC within 0.01).

One Spark fit does both: the release given to the script is the protocol's training part
(ratings and the tags seen by then), so the published version is judged on the test part
against reco's ``HybridRecommender`` fitted on the same part. Both engines use the test
suite's small config (tests/ranking/test_hybrid.py's SMALL) to stay in the suite's time
budget; docs/SCALING.md has the comparison with the default config.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import polars as pl
import pytest

from reco.columns import MOVIE_ID, RATING, TAG, TIMESTAMP, USER_ID
from tests.pipelines.spark.conftest import TEST_CONF, require_spark
from tests.ranking.test_hybrid import SMALL


def _write_train_release(source, split, tags, out):
    """The training part as a csv release (MovieLens's names; movies and links as given)."""
    out.mkdir()
    split.train.rename({USER_ID: "userId", MOVIE_ID: "movieId"}).select(
        "userId", "movieId", RATING, TIMESTAMP).write_csv(out / "ratings.csv")
    tags.rename({USER_ID: "userId", MOVIE_ID: "movieId"}).select(
        "userId", "movieId", TAG, TIMESTAMP).write_csv(out / "tags.csv")
    for name in ("movies.csv", "links.csv"):
        shutil.copy(source / name, out / name)
    return out


@pytest.mark.slow
def test_spark_version_is_served_and_as_good_as_the_local_model(ml_latest_small, tmp_path,
                                                                 monkeypatch):
    require_spark()
    from api import create_app
    from reco.artifacts.model_dir import load_model
    from reco.data.movielens import load_movielens
    from reco.data.split import per_user_split
    from reco.evaluation.metrics import classification_metrics, evaluate_topn
    from reco.evaluation.protocol import tags_seen_in_train
    from reco.pipelines.spark import train as spark_train
    from reco.pipelines.spark.session import SparkConfig
    from reco.ranking.hybrid import HybridRecommender
    from scripts import train as script

    data = load_movielens(ml_latest_small)
    split = per_user_split(data.ratings)
    tags = tags_seen_in_train(data.tags, split, data.ratings)
    release = _write_train_release(ml_latest_small, split, tags, tmp_path / "train-part")

    real = spark_train.train_spark

    def small(data_dir, artifacts, *, spark, keep, **_):  # the script's call, SMALL model
        conf = SparkConfig(master=spark.master, shuffle_partitions=spark.shuffle_partitions,
                           ui=False, conf=TEST_CONF)
        return real(data_dir, artifacts, spark=conf, keep=keep, config=SMALL)

    monkeypatch.setattr(spark_train, "train_spark", small)
    store = tmp_path / "store"
    assert script.main(["--engine", "spark", "--spark-master", "local[2]",
                        "--spark-partitions", "2", "--data", str(release),
                        "--artifacts", str(store)]) == 0

    remote, _, manifest = load_model(store)
    assert manifest["engine"] == "spark" and manifest["spark"]["version"].startswith("4.")
    assert json.dumps(manifest)  # plain JSON all through
    client = create_app({"ARTIFACTS": str(store), "TESTING": True}).test_client()
    answer = client.get("/recommend/1?k=5")
    assert answer.status_code == 200, answer.get_json()
    items = answer.get_json()["items"]
    assert len(items) == 5 and all(0.0 <= item["score"] <= 1.0 for item in items)

    local = HybridRecommender(SMALL).fit(split.train, data.movies, tags=tags, links=data.links)
    test = split.test
    liked = (test[RATING].to_numpy() >= 3.5).astype(int)
    found = {}
    for name, model in (("local", local), ("spark", remote)):
        ndcg = evaluate_topn(model, split, k=10)["ndcg@10"]
        auc = classification_metrics(liked, model.predict_like(
            test[USER_ID].to_numpy(), test[MOVIE_ID].to_numpy()))["auc"]
        found[name] = (ndcg, auc)
    (ndcg_l, auc_l), (ndcg_s, auc_s) = found["local"], found["spark"]
    assert np.isfinite([ndcg_l, ndcg_s, auc_l, auc_s]).all()
    assert abs(ndcg_s - ndcg_l) <= 0.05 * ndcg_l, found
    assert abs(auc_s - auc_l) <= 0.01, found
    assert pl.DataFrame(found).height == 2
