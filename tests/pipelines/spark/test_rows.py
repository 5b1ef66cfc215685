"""Rows built per block of users (reco.pipelines.spark.rows) are the single-machine rows.

The first tests need no Spark: they run the task functions on Arrow batches in this
process, with the stage round-tripped through its files. The last runs them as a Spark
job, the stage shipped with addFile.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from reco.columns import MOVIE_ID, RATING, USER_ID
from reco.data.synthetic import SyntheticConfig, generate
from reco.ranking.candidates import generate_candidates
from reco.ranking.hybrid import HybridRecommender
from reco.ranking.pair_features import LIKE_FEATURES, RANK_FEATURES, cf_score_rank, pair_features
from reco.ranking.schema import SOURCES
from tests.pipelines.spark.conftest import require_arrow
from tests.ranking.test_hybrid import SMALL


@pytest.fixture(scope="module")
def stage():
    data = generate(SyntheticConfig(n_users=60, n_movies=80, n_ratings=2_000, seed=2))
    return HybridRecommender(SMALL).stage_one(data.ratings, data.movies)


def _expected(stage, users, liked):
    people = stage.store.known_users(users)
    found = generate_candidates(people, stage.store, SMALL.candidates)
    extra = {f"rank_in_{s}": found.ranks[s] for s in SOURCES}
    extra["cf_score_rank"] = cf_score_rank(stage, people, found.rows, found.movie_ids)
    features = pair_features(stage, people, found.rows, found.movie_ids, RANK_FEATURES, extra)
    wanted = {(u, m) for u, ms in liked.items() for m in ms}
    labels = [(u, m) in wanted for u, m in zip(people.ids[found.rows].tolist(),
                                                 found.movie_ids.tolist())]
    return found, people, features, labels


def _liked(stage, users):
    """Each user's first two unrated CF candidates count as liked."""
    people = stage.store.known_users(users)
    found = generate_candidates(people, stage.store, SMALL.candidates)
    liked = {}
    for row, movie in zip(found.rows, found.movie_ids):
        liked.setdefault(int(people.ids[row]), [])
        if len(liked[int(people.ids[row])]) < 2:
            liked[int(people.ids[row])].append(int(movie))
    return liked


def _frame(batches) -> pl.DataFrame:
    import pyarrow as pa

    table = pa.Table.from_batches(list(batches))
    return pl.from_arrow(table).sort(USER_ID, MOVIE_ID)


def test_stage_files_round_trip(stage, tmp_path):
    require_arrow()
    from reco.pipelines.spark.rows import read_stage, write_stage

    back = read_stage(write_stage(stage, tmp_path / "stage"))
    users = stage.cf.user_map_.ids[:10]
    a, b = stage.store.known_users(users), back.store.known_users(users)
    assert np.array_equal(a.cf, b.cf) and np.array_equal(a.content, b.content)
    assert back.tables.users.equals(stage.tables.users)
    assert back.like_threshold == stage.like_threshold


def test_ranker_rows_in_a_task_are_reco_rows(stage, tmp_path, monkeypatch):
    require_arrow()
    import pyarrow as pa

    from reco.pipelines.spark import rows

    monkeypatch.setattr(rows, "USER_BLOCK", 7)  # several blocks in one batch
    users = stage.cf.user_map_.ids[3:23]
    # as shipped: restricted to these users, through its files
    shipped = rows.read_stage(rows.write_stage(rows.restrict_stage(stage, users),
                                               tmp_path / "stage"))
    assert len(shipped.cf.user_map_) == 20 and shipped.tables.users.height == 20
    monkeypatch.setitem(rows._STAGES, "test-stage", shipped)
    liked = _liked(stage, users)
    batch = pa.RecordBatch.from_pydict({
        USER_ID: pa.array(users.astype(np.int32)),
        "liked": pa.array([liked.get(int(u), []) for u in users], pa.list_(pa.int32()))})
    got = _frame(rows.ranker_rows("test-stage", SMALL.candidates.to_dict(), iter([batch])))
    found, people, features, _ = _expected(stage, users, liked)
    want = pl.DataFrame({USER_ID: people.ids[found.rows].astype(np.int32),
                         MOVIE_ID: found.movie_ids.astype(np.int32),
                         "features": features.astype(np.float32).tolist()}).sort(USER_ID, MOVIE_ID)
    assert got[USER_ID].equals(want[USER_ID]) and got[MOVIE_ID].equals(want[MOVIE_ID])
    ours = np.array(got["features"].to_list(), dtype=np.float32)
    theirs = np.array(want["features"].to_list(), dtype=np.float32)
    # the CF-score rank is per user: blocks of 7 users must not change it
    assert np.array_equal(np.isnan(ours), np.isnan(theirs))
    assert np.allclose(ours, theirs, equal_nan=True)
    pairs = {(u, m) for u, ms in liked.items() for m in ms}
    expected = [(int(u), int(m)) in pairs for u, m in zip(got[USER_ID], got[MOVIE_ID])]
    assert got["label"].to_list() == [int(x) for x in expected]
    assert sum(expected) == len(pairs)


def test_like_rows_in_a_task_are_reco_rows(stage, monkeypatch):
    require_arrow()
    import pyarrow as pa

    from reco.pipelines.spark import rows

    monkeypatch.setitem(rows._STAGES, "test-stage", stage)
    users = np.repeat(stage.cf.user_map_.ids[:5], 3)
    movies = np.tile(stage.cf.item_map_.ids[:3], 5)
    ratings = np.linspace(1, 5, users.size)
    batch = pa.RecordBatch.from_pydict({USER_ID: users.astype(np.int32),
                                        MOVIE_ID: movies.astype(np.int32),
                                        RATING: ratings.astype(np.float32)})
    got = pl.from_arrow(pa.Table.from_batches(list(rows.like_rows("test-stage", 3.5,
                                                                  iter([batch])))))
    distinct, inverse = np.unique(users, return_inverse=True)
    want = pair_features(stage, stage.store.known_users(distinct), inverse, movies,
                         LIKE_FEATURES)
    assert np.allclose(np.array(got["features"].to_list()), want, equal_nan=True)
    assert got["label"].to_list() == [int(r >= 3.5) for r in ratings.astype(np.float32)]


def test_ranker_rows_as_a_spark_job(spark, stage, tmp_path):
    import uuid

    from pyspark.sql import functions as F

    from reco.pipelines.spark.rows import ranker_job, write_stage

    name = f"stage-{uuid.uuid4().hex[:8]}"
    spark.sparkContext.addFile(str(write_stage(stage, tmp_path / name)), recursive=True)
    users = stage.cf.user_map_.ids[:30]
    liked = _liked(stage, users)
    frame = spark.createDataFrame([(int(u), m) for u, ms in liked.items() for m in ms],
                                  "user_id int, movie_id int")
    per_user = frame.groupBy(USER_ID).agg(F.collect_list(MOVIE_ID).alias("liked")).repartition(3)
    got = pl.from_arrow(ranker_job(per_user, name, SMALL.candidates).toArrow()).sort(USER_ID,
                                                                                  MOVIE_ID)
    found, people, features, labels = _expected(stage, np.array(sorted(liked)), liked)
    order = np.lexsort((found.movie_ids, people.ids[found.rows]))
    assert np.array_equal(got[MOVIE_ID].to_numpy(), found.movie_ids[order])
    assert np.allclose(np.array(got["features"].to_list()), features[order], equal_nan=True)
    assert got["label"].sum() == sum(labels)
