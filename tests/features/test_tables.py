"""Feature tables on the tiny dataset, against values computed by hand.

Ratings (user, movie, rating), see tests/fixtures.py:
u1: m1 4, m2 3, m3 5 | u2: m1 2, m3 4 | u3: m2 5, m4 1; m5 never rated.
Global mean 24/7. Genres: m1 Adventure|Animation|Children|Comedy, m2 Comedy|Drama|Romance,
m3 Drama, m4 none, m5 Western.
"""

from __future__ import annotations

import math

import polars as pl
import pytest

from reco.data.movielens import load_movielens
from reco.exceptions import ConfigError
from reco.features.tables import FeatureConfig, build_feature_tables

GLOBAL_MEAN = 24 / 7


@pytest.fixture
def tables(csv_release):
    data = load_movielens(csv_release)
    return build_feature_tables(data.ratings, data.movies, FeatureConfig(recent_days=1))


def _row(frame: pl.DataFrame, **keys: object) -> dict:
    matches = frame.filter(*[pl.col(k) == v for k, v in keys.items()])
    assert matches.height == 1, keys
    return matches.row(0, named=True)


def test_user_features(tables):
    u1 = _row(tables.users, user_id=1)
    assert u1["n_ratings"] == 3
    assert u1["rating_mean"] == pytest.approx(4.0)
    assert u1["rating_std"] == pytest.approx(1.0)
    assert u1["like_rate"] == pytest.approx(2 / 3)
    assert u1["n_genres"] == 6
    assert u1["active_hour"] == 11  # two of its three ratings fall in 11:00-12:00 UTC
    assert u1["active_days"] == pytest.approx(3660 / 86400)
    u3 = _row(tables.users, user_id=3)
    assert u3["rating_std"] == pytest.approx(math.sqrt(8))
    assert u3["n_genres"] == 3  # m4 has no genres
    assert tables.users["user_id"].to_list() == [1, 2, 3]


def test_movie_features(tables):
    m1 = _row(tables.movies, movie_id=1)
    assert (m1["n_ratings"], m1["year"], m1["n_genres"]) == (2, 1995, 4)
    assert m1["rating_mean"] == pytest.approx(3.0)
    assert m1["rating_std"] == pytest.approx(math.sqrt(2))
    assert m1["like_rate"] == pytest.approx(0.5)
    assert m1["bayes_mean"] == pytest.approx((2 * 3.0 + 10 * GLOBAL_MEAN) / 12)
    assert m1["popularity"] == pytest.approx(2 / 3)
    m4 = _row(tables.movies, movie_id=4)
    assert m4["rating_std"] is None and m4["year"] is None and m4["n_genres"] == 0


def test_unrated_movies_are_kept_with_neutral_values(tables):
    m5 = _row(tables.movies, movie_id=5)
    assert m5["n_ratings"] == 0 and m5["popularity"] == 0.0
    assert m5["rating_mean"] is None
    assert m5["bayes_mean"] == pytest.approx(GLOBAL_MEAN)
    assert tables.movies.height == 5


def test_recent_popularity_uses_the_last_window(tables):
    # recent_days=1: only u3's two ratings fall in the day before the newest rating.
    recent = dict(zip(tables.movies["movie_id"], tables.movies["recent_popularity"]))
    assert recent == {1: 0.0, 2: 1.0, 3: 0.0, 4: 1.0, 5: 0.0}


def test_user_genre_preferences(tables):
    comedy = _row(tables.user_genres, user_id=1, genre="Comedy")
    assert comedy["n_ratings"] == 2
    assert comedy["rating_mean"] == pytest.approx(3.5)
    assert comedy["like_rate"] == pytest.approx(0.5)
    assert comedy["deviation"] == pytest.approx(-0.5)
    assert comedy["share"] == pytest.approx(2 / 3)
    drama = _row(tables.user_genres, user_id=1, genre="Drama")
    assert drama["deviation"] == pytest.approx(0.0)
    assert tables.user_genres.filter(pl.col("user_id") == 3)["genre"].to_list() == [
        "Comedy", "Drama", "Romance",
    ]


def test_like_threshold_is_configurable(csv_release):
    data = load_movielens(csv_release)
    strict = build_feature_tables(data.ratings, data.movies, FeatureConfig(like_threshold=5.0))
    assert _row(strict.users, user_id=1)["like_rate"] == pytest.approx(1 / 3)


def test_lazy_and_eager_inputs_agree(csv_release):
    data = load_movielens(csv_release)
    eager = build_feature_tables(data.ratings, data.movies)
    lazy = build_feature_tables(data.ratings.lazy(), data.movies.lazy())
    assert eager.users.equals(lazy.users) and eager.movies.equals(lazy.movies)


@pytest.mark.parametrize(
    "field,value", [("like_threshold", -1), ("bayes_prior_weight", -0.1), ("recent_days", 0)]
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ConfigError, match=field):
        FeatureConfig(**{field: value})


@pytest.mark.slow
def test_ml_latest_small_feature_tables(ml_latest_small):
    data = load_movielens(ml_latest_small)
    tables = build_feature_tables(data.ratings, data.movies)
    assert tables.users.height == 610
    assert tables.movies.height == 9_742
    assert tables.user_genres["user_id"].n_unique() == 610
    assert tables.movies.filter(pl.col("n_ratings") == 0).height == 18
    assert tables.users["n_ratings"].sum() == 100_836
    assert tables.users["active_hour"].is_between(0, 23).all()
