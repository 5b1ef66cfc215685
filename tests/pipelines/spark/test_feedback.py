"""Stored ratings added to a release's on Spark: the same rows and counts as the
single-machine merge (reco.data.feedback.merge.merge_stored), on its known-answer case."""

from __future__ import annotations

import polars as pl

from reco.columns import MOVIE_ID, RATING, RATINGS_SCHEMA, TIMESTAMP, USER_ID
from reco.data.feedback import StoredRating
from reco.data.feedback.merge import merge_stored

STORED = [StoredRating(1, 10, 1.0, 200, 0.0),   # newer: replaces the release's 4.0
          StoredRating(1, 11, 5.0, 50, 0.0),    # older: the release's 2.0 stays
          StoredRating(2, 10, 5.0, 100, 0.0),   # a tie: the stored one (given later)
          StoredRating(9, 12, 4.5, 300, 0.0),   # a new person
          StoredRating(9, 999, 4.5, 300, 0.0)]  # a movie the release does not list


class _Store:
    def all_ratings(self) -> list[StoredRating]:
        return list(STORED)

    def close(self) -> None:
        pass


def test_spark_merge_matches_the_single_machine_one(spark, monkeypatch):
    from reco.pipelines.spark import feedback

    release = pl.DataFrame({USER_ID: [1, 1, 2], MOVIE_ID: [10, 11, 10], RATING: [4.0, 2.0, 3.0],
                            TIMESTAMP: [100, 100, 100]}, schema=RATINGS_SCHEMA)
    movies = pl.DataFrame({MOVIE_ID: [10, 11, 12]})
    monkeypatch.setattr(feedback, "open_store", lambda url: _Store())
    frame = spark.createDataFrame(release.to_pandas())
    merged, counts = feedback.merge_feedback(spark, frame, movies, "feedback.sqlite3")
    expected, expected_counts = merge_stored(release, movies[MOVIE_ID], STORED)
    got = sorted((r[USER_ID], r[MOVIE_ID], r[RATING], r[TIMESTAMP]) for r in merged.collect())
    assert got == sorted(expected.iter_rows())
    assert counts == expected_counts
