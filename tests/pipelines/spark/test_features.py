"""Feature parity: the Spark tables equal reco's Polars tables (docs/FEATURES.md)."""

from __future__ import annotations

import pytest

from reco.features.tables import FeatureConfig, build_feature_tables
from reco.pipelines.spark.features import collect_tables, feature_frames, movies_frame
from tests.pipelines.spark.frames import assert_tables_equal, random_ratings, to_spark


def _compare(spark, ratings, movies, config=None):
    ours = collect_tables(feature_frames(to_spark(spark, ratings), movies_frame(movies, spark),
                                         config))
    theirs = build_feature_tables(ratings, movies, config)
    for name in ("users", "movies", "user_genres"):
        assert_tables_equal(getattr(ours, name), getattr(theirs, name), name)


def test_tiny_release_tables_match(spark, csv_release):
    from reco.data.movielens import load_movielens

    data = load_movielens(csv_release)
    _compare(spark, data.ratings, data.movies)
    # another threshold and prior reach every definition that reads them
    _compare(spark, data.ratings, data.movies,
             FeatureConfig(like_threshold=4.0, bayes_prior_weight=3.0, recent_days=30))


def test_random_ratings_tables_match(spark, csv_release):
    from reco.data.movielens import load_movielens

    movies = load_movielens(csv_release).movies
    ratings = random_ratings(n_movies=int(movies["movie_id"].max()))
    ratings = ratings.filter(ratings["movie_id"].is_in(movies["movie_id"].implode()))
    _compare(spark, ratings, movies)


@pytest.mark.slow
def test_ml_latest_small_tables_match(spark, ml_latest_small):
    from reco.data.movielens import load_movielens

    data = load_movielens(ml_latest_small)
    _compare(spark, data.ratings, data.movies)
