"""Time context: each user's recent movies and the monthly popularity, against plain
reference computations on random ratings (ties in time included)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from reco.columns import RATINGS_SCHEMA
from reco.features.temporal import SECONDS_PER_MONTH, RecentItems, TimePopularity


def _random_ratings(seed: int, n: int = 3000) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({
        "user_id": rng.integers(1, 60, n), "movie_id": rng.integers(1, 400, n),
        "rating": rng.choice([1.0, 3.5, 5.0], n),
        "timestamp": rng.integers(0, 40, n) * SECONDS_PER_MONTH // 3,  # many ties
    }, schema=RATINGS_SCHEMA).sample(fraction=1.0, shuffle=True, seed=seed)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n", [1, 3, 10])
def test_recent_items_are_each_users_last_movies_by_time_then_id(seed, n):
    ratings = _random_ratings(seed)
    recent = RecentItems.from_ratings(ratings, n=n)
    users = sorted(set(ratings["user_id"].to_list()))
    assert recent.users.ids.tolist() == users
    assert recent.indptr[0] == 0 and recent.indptr[-1] == recent.movies.size
    for row, user in enumerate(users):
        mine = sorted((t, m) for u, m, t in ratings.select(
            "user_id", "movie_id", "timestamp").iter_rows() if u == user)
        got = recent.movies[recent.indptr[row]:recent.indptr[row + 1]].tolist()
        assert got == [m for _, m in mine[-n:]]


def test_recent_items_of_no_ratings_are_empty():
    recent = RecentItems.from_ratings(pl.DataFrame(schema=RATINGS_SCHEMA))
    assert len(recent.users) == 0 and recent.indptr.tolist() == [0] and recent.movies.size == 0


def test_time_popularity_counts_each_movies_ratings_per_month():
    ratings = _random_ratings(4)
    popularity = TimePopularity.from_ratings(ratings)
    month = ratings["timestamp"].to_numpy() // SECONDS_PER_MONTH
    movies = ratings["movie_id"].to_numpy()
    for movie in popularity.movies.ids[::37]:
        row = popularity.movies.index(int(movie))
        for bucket in range(popularity.cum.shape[1]):
            before = (movies == movie) & (month < popularity.first_month + bucket)
            assert popularity.cum[row, bucket] == before.sum()
    assert popularity.total.tolist() == popularity.cum.sum(axis=0).tolist()


def test_time_popularity_takes_the_windows_movie_map():
    from reco.models.interactions import Interactions

    ratings = _random_ratings(5)
    given = TimePopularity.from_ratings(ratings, Interactions.from_ratings(ratings).item_map)
    built = TimePopularity.from_ratings(ratings)
    assert given.movies == built.movies and given.first_month == built.first_month
    np.testing.assert_array_equal(given.cum, built.cum)
