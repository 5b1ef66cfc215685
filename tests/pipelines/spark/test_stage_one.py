"""Stage one on Spark: MLlib's factors in reco's models, the counts equal reco's."""

from __future__ import annotations

import numpy as np
import polars as pl

from reco.features.temporal import RecentItems, TimePopularity
from reco.models.interactions import Interactions
from reco.models.mf import ALSConfig
from reco.models.popularity import PopularityConfig, PopularityRecommender
from reco.pipelines.spark.stage_one import (
    explicit_als,
    implicit_als,
    popularity,
    recent_items,
    time_popularity,
)
from tests.pipelines.spark.frames import random_ratings, to_spark


def _blocks(n_users: int = 24, n_movies: int = 24, seed: int = 0) -> pl.DataFrame:
    """Two taste blocks: users 1-12 like movies 1-12 and dislike 13-24, the rest the
    reverse; each user misses one movie of their block, which should score high."""
    rows = []
    for u in range(1, n_users + 1):
        mine = range(1, 13) if u <= 12 else range(13, 25)
        other = range(13, 25) if u <= 12 else range(1, 13)
        held = list(mine)[u % 12]
        rows += [(u, m, 5.0, 1_500_000_000 + m) for m in mine if m != held]
        rows += [(u, m, 1.0, 1_500_000_000 + m) for m in list(other)[:4]]
    frame = pl.DataFrame(rows, schema=["user_id", "movie_id", "rating", "timestamp"],
                         orient="row")
    return frame.cast({"user_id": pl.Int32, "movie_id": pl.Int32, "rating": pl.Float32})


def test_implicit_als_ranks_the_block_first(spark):
    ratings = _blocks()
    interactions = Interactions.from_ratings(ratings)
    model = implicit_als(to_spark(spark, ratings), interactions,
                         ALSConfig(factors=4, iterations=8, regularization=0.5))
    assert model.user_factors_.shape == (24, 4) and model.item_factors_.dtype == np.float32
    assert np.array_equal(model.user_map_.ids, interactions.user_map.ids)
    assert model.regularization_ == 0.5
    for user in (1, 13):
        top, _ = model.recommend(user, k=1)
        block = range(1, 13) if user <= 12 else range(13, 25)
        assert int(top[0]) in block  # the one unrated movie of the user's block


def test_explicit_als_predicts_the_ratings(spark):
    ratings = _blocks()
    interactions = Interactions.from_ratings(ratings)
    model = explicit_als(to_spark(spark, ratings), interactions,
                         ALSConfig(feedback="explicit", factors=4, iterations=8))
    predicted = model.predict(ratings["user_id"].to_numpy(), ratings["movie_id"].to_numpy())
    rmse = float(np.sqrt(np.mean((predicted - ratings["rating"].to_numpy()) ** 2)))
    assert rmse < 0.5  # ratings of 1 and 5: a model that learned nothing is near 2
    assert abs(model.global_mean_ - float(ratings["rating"].mean())) < 1e-6


def test_counts_match_reco(spark):
    ratings = random_ratings()
    interactions = Interactions.from_ratings(ratings)
    frame = to_spark(spark, ratings)
    ours = popularity(frame, interactions, 3.5)
    theirs = PopularityRecommender(PopularityConfig()).fit_interactions(interactions)
    assert np.array_equal(ours.scores_, theirs.scores_)
    tp, expected = time_popularity(frame), TimePopularity.from_ratings(ratings)
    assert tp.first_month == expected.first_month
    assert np.array_equal(tp.cum, expected.cum) and np.array_equal(tp.total, expected.total)
    recent, want = recent_items(frame), RecentItems.from_ratings(ratings)
    assert np.array_equal(recent.users.ids, want.users.ids)
    assert np.array_equal(recent.indptr, want.indptr)
    assert np.array_equal(recent.movies, want.movies)
