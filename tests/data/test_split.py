"""The evaluation split of shared/EVALUATION.md, against hand-computed cases."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reco.columns import MOVIE_ID, RATINGS_SCHEMA, TIMESTAMP
from reco.data.movielens import load_movielens
from reco.data.split import global_time_split, n_test_ratings, per_user_split


def _ratings(rows: list[tuple[int, int, float, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=RATINGS_SCHEMA, orient="row")


@pytest.mark.parametrize(
    "n,expected",
    [(1, 0), (4, 0), (5, 1), (7, 1), (8, 2), (10, 2), (12, 2), (13, 3), (20, 4), (23, 5)],
)
def test_number_of_test_ratings(n, expected):
    # max(1, rint(0.2 n)) for n >= 5: 7 -> rint(1.4) = 1, 8 -> rint(1.6) = 2, 13 -> 3.
    assert n_test_ratings(np.array([n]))[0] == expected


def _user(user: int, n: int, start_movie: int = 1) -> list[tuple[int, int, float, int]]:
    return [(user, start_movie + i, 4.0, 1000 + 10 * i) for i in range(n)]


def test_last_ratings_in_time_are_test():
    # user 4 (4 ratings, train only) rates movies 5-8 so every test movie is seen in train.
    ratings = _ratings(_user(1, 8) + _user(2, 4) + _user(3, 5) + _user(4, 4, start_movie=5))
    split = per_user_split(ratings)
    test = {(u, m) for u, m in split.test.select("user_id", "movie_id").iter_rows()}
    # user 1: 8 ratings -> last 2 (movies 7, 8); user 2: 4 -> none; user 3: 5 -> movie 5.
    assert test == {(1, 7), (1, 8), (3, 5)}
    assert split.train.height == 8 + 4 + 5 + 4 - 3


def test_ties_in_time_are_ordered_by_movie_id():
    # user 2 (12 ratings: movies 1-10 train, 11-12 test) puts movie 9 in train.
    rows = [(1, m, 4.0, 500) for m in (9, 3, 7, 1, 5)] + _user(2, 12)
    split = per_user_split(_ratings(rows))
    assert split.test.filter(pl.col("user_id") == 1)["movie_id"].to_list() == [9]


def test_test_movies_unseen_in_train_are_dropped():
    rows = _user(1, 5) + [(2, m, 3.0, 2000 + m) for m in (1, 2, 3, 5, 42)]
    split = per_user_split(_ratings(rows))
    assert split.test.filter(pl.col("user_id") == 2).height == 0  # movie 42 only in test
    assert split.test.filter(pl.col("user_id") == 1)["movie_id"].to_list() == [5]
    assert split.train.filter(pl.col("movie_id") == 42).height == 0


def test_global_time_split_cuts_at_the_lower_quantile():
    rows = [(1, m, 4.0, 100 * m) for m in range(1, 11)]  # movies 1-10 at 100..1000
    rows += [(3, m, 3.0, 10 * i) for i, m in enumerate((8, 9, 10, 11, 12, 13), start=1)]
    rows += [(2, 1, 3.0, 150), (2, 11, 3.0, 950)]
    ratings = _ratings(rows)
    split = global_time_split(ratings)
    cut = np.quantile(ratings["timestamp"].to_numpy(), 0.8, method="lower")
    assert cut == 700  # 18 timestamps: index floor(0.8 * 17) = 13 of the sorted list
    assert split.train["timestamp"].max() < cut <= split.test["timestamp"].min()
    # user 1: movie 7 is rated only after the cut (dropped); 8-10 were seen (user 3).
    # user 2 has a single train rating (< 5), so its test rating does not count.
    assert split.test.select("user_id", "movie_id").rows() == [(1, 8), (1, 9), (1, 10)]
    assert split.train.height == 6 + 6 + 1


rating_rows = st.lists(
    st.tuples(
        st.integers(1, 8), st.integers(1, 30), st.sampled_from([1.0, 2.5, 3.5, 5.0]),
        st.integers(0, 50),
    ),
    min_size=1, max_size=120,
    unique_by=lambda r: (r[0], r[1]),
)


@settings(max_examples=60, deadline=None)
@given(rating_rows)
def test_split_properties(rows):
    ratings = _ratings(rows)
    split = per_user_split(ratings)
    pairs = lambda df: set(df.select("user_id", "movie_id").iter_rows())  # noqa: E731
    assert not pairs(split.train) & pairs(split.test)
    assert pairs(split.train) | pairs(split.test) <= pairs(ratings)
    assert set(split.test["movie_id"]) <= set(split.train["movie_id"])
    for user, group in split.test.group_by("user_id"):
        train = split.train.filter(pl.col("user_id") == user[0])
        key = lambda df: list(zip(df["timestamp"], df["movie_id"]))  # noqa: E731
        assert max(key(train)) < min(key(group))
        assert group.height <= n_test_ratings(np.array([train.height + group.height]))[0]
    # the period the split carries is exactly what the anti-join gives
    from reco.data.split import held_out

    key = ["user_id", "movie_id", "timestamp"]
    assert split.period is not None
    assert split.period.sort(key).equals(held_out(ratings, split.train).sort(key))
    # each user's test rows are their last n_test_ratings(n) by (timestamp, movie)
    for user, group in ratings.group_by("user_id"):
        ordered = group.sort("timestamp", "movie_id")
        n_test = int(n_test_ratings(np.array([ordered.height]))[0])
        mine = split.period.filter(pl.col("user_id") == user[0])
        assert mine.select(key).equals(ordered.tail(n_test).select(key)) if n_test else \
            mine.is_empty()


@pytest.mark.slow
def test_reference_figures_on_ml_latest_small(ml_latest_small):
    # shared/EVALUATION.md: train 80,672 / test 18,472 / 594 ranked users / 8,239 movies.
    split = per_user_split(load_movielens(ml_latest_small).ratings)
    summary = split.summary()
    assert summary["train_ratings"] == 80_672
    assert summary["test_ratings"] == 18_472
    assert summary["ranked_users"] == 594
    assert summary["train_movies"] == 8_239


def test_held_out_keeps_the_test_rows_the_split_drops():
    from reco.data.split import held_out

    # user 1's last rating (movie 9) is test, then dropped: nobody rated movie 9 in train
    rows = [(1, m, 4.0, 10 * m) for m in (1, 2, 3, 4, 9)] + [(2, 1, 3.0, 5)]
    ratings = pl.DataFrame(rows, schema=RATINGS_SCHEMA, orient="row")
    split = per_user_split(ratings)
    assert split.test.is_empty()
    period = held_out(ratings, split.train)
    assert period[MOVIE_ID].to_list() == [9] and period[TIMESTAMP].to_list() == [90]
    assert split.period is not None and split.period.equals(period)
