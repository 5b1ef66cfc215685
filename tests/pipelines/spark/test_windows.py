"""The Spark window cut is reco's per-user split (reco.data.split.per_user_split)."""

from __future__ import annotations

import polars as pl

from reco.columns import MOVIE_ID, TIMESTAMP, USER_ID
from reco.data.split import held_out, per_user_split
from reco.pipelines.spark.windows import FEATURE, LABEL, UNSEEN, WINDOW, mark_windows
from tests.pipelines.spark.frames import random_ratings, to_spark

KEY = [USER_ID, MOVIE_ID]


def test_windows_are_the_per_user_split(spark):
    ratings = random_ratings()
    # a movie first rated as the last rating of three users: in no feature window
    # and a user with 3 ratings (fewer than 5: no label window)
    late = pl.DataFrame({USER_ID: [1, 2, 3, 77, 77, 77], MOVIE_ID: [999] * 3 + [1, 2, 3],
                         "rating": [4.0] * 6,
                         TIMESTAMP: [2_000_000_000] * 6}).cast(ratings.schema)
    ratings = pl.concat([ratings, late])
    marked = pl.from_arrow(mark_windows(to_spark(spark, ratings)).toArrow())
    split = per_user_split(ratings)
    window = marked.select(*KEY, WINDOW)

    def part(*values: int) -> pl.DataFrame:
        return window.filter(pl.col(WINDOW).is_in(list(values))).select(KEY).sort(KEY)

    assert part(FEATURE).equals(split.train.select(KEY).sort(KEY))
    assert part(LABEL).equals(split.test.select(KEY).sort(KEY))
    # the label period keeps the rows of movies unseen in the feature window (tag cut)
    assert part(LABEL, UNSEEN).equals(held_out(ratings, split.train).select(KEY).sort(KEY))
    assert marked.filter(pl.col(WINDOW) == UNSEEN).height > 0  # the fixture reaches it
    # small users (< 5 ratings) have no label window
    counts = ratings.group_by(USER_ID).len()
    small = counts.filter(pl.col("len") < 5)[USER_ID]
    assert small.len() > 0
    assert (marked.filter(pl.col(USER_ID).is_in(small.implode()))[WINDOW] == FEATURE).all()
    assert marked.height == ratings.height
    assert set(marked.columns) == {*ratings.columns, WINDOW}
    assert marked[TIMESTAMP].dtype == pl.Int64
