"""The evaluation hands a model only the tags applied before the ratings it is judged on."""

from __future__ import annotations

import polars as pl

from reco.columns import MOVIE_ID, RATINGS_SCHEMA, TAG, TIMESTAMP, USER_ID
from reco.data.split import global_time_split, per_user_split
from reco.evaluation.protocol import tags_seen_in_train


def _ratings() -> pl.DataFrame:
    # user 1: five ratings at t = 10..50, the last (t = 50) is test; user 2: three, train only
    rows = [(1, m, 4.0, 10 * m) for m in range(1, 6)] + [(2, m, 3.0, 100 + m) for m in (1, 2, 3)]
    return pl.DataFrame(rows, schema=RATINGS_SCHEMA, orient="row")


def _tags() -> pl.DataFrame:
    return pl.DataFrame({USER_ID: [1, 1, 2], MOVIE_ID: [1, 5, 3], TAG: ["a", "b", "c"],
                         TIMESTAMP: [15, 55, 500]})


def test_per_user_split_cuts_each_user_at_their_first_test_rating() -> None:
    kept = tags_seen_in_train(_tags(), per_user_split(_ratings()), _ratings())
    assert kept is not None
    # user 1's tag at t = 55 came after their test rating (t = 50), even though that test
    # row is dropped (movie 5 is unseen in train); user 2 has no test part
    assert sorted(kept[TAG].to_list()) == ["a", "c"]


def test_global_split_cuts_everyone_at_the_last_training_rating() -> None:
    split = global_time_split(_ratings())
    kept = tags_seen_in_train(_tags(), split, _ratings())
    assert kept is not None
    last = split.train[TIMESTAMP].max()
    assert kept[TIMESTAMP].max() <= last and kept.height < 3


def test_no_tags_stay_no_tags() -> None:
    assert tags_seen_in_train(None, per_user_split(_ratings()), _ratings()) is None
