"""Stored ratings added to a release's on Spark (``scripts/train.py --engine spark
--feedback URL``), by the rules of :func:`reco.data.feedback.merge.merge_stored`.

The feedback store is a database the driver reaches (SQLite file or PostgreSQL): its
ratings are read there, once, and shipped to the cluster as a small frame (the store holds
what visitors rated on the site, not the release). Then, as on one machine: a stored
rating of a movie the release does not list is dropped and counted; per (user, movie)
the newest timestamp wins, the stored rating on a tie; new people simply become users.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from reco.columns import MOVIE_ID, RATING, TIMESTAMP, USER_ID
from reco.data.feedback import open_store

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

_SOURCE = "_source"


def merge_feedback(spark: SparkSession, ratings: DataFrame, movies: pl.DataFrame,
                   url: str | Path) -> tuple[DataFrame, dict[str, int]]:
    """The release's ``ratings`` (a Spark frame of ``user_id, movie_id, rating,
    timestamp``) with the store's ratings added, and the same counts as
    :func:`~reco.data.feedback.merge.merge_stored` gives for the manifest."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    store = open_store(url)
    try:
        stored = store.all_ratings()
    finally:
        store.close()
    known_movies = set(movies[MOVIE_ID].to_list())
    rows = [(r.user_id, r.movie_id, float(r.rating), int(r.timestamp)) for r in stored
            if r.movie_id in known_movies]
    unknown = len(stored) - len(rows)
    schema = T.StructType([T.StructField(USER_ID, T.IntegerType(), False),
                           T.StructField(MOVIE_ID, T.IntegerType(), False),
                           T.StructField(RATING, T.FloatType(), False),
                           T.StructField(TIMESTAMP, T.LongType(), False)])
    frame = spark.createDataFrame(rows, schema)
    both = (ratings.select(USER_ID, MOVIE_ID, RATING, TIMESTAMP).withColumn(_SOURCE, F.lit(0))
            .unionByName(frame.withColumn(_SOURCE, F.lit(1))))
    newest = Window.partitionBy(USER_ID, MOVIE_ID).orderBy(F.col(TIMESTAMP).desc(),
                                                           F.col(_SOURCE).desc())
    merged = (both.withColumn("_n", F.row_number().over(newest)).where(F.col("_n") == 1)
              .drop("_n"))
    overlap = frame.alias("s").join(
        ratings.select(USER_ID, MOVIE_ID, F.col(TIMESTAMP).alias("_release_ts")),
        on=[USER_ID, MOVIE_ID], how="inner")
    replaced = overlap.where(F.col(TIMESTAMP) >= F.col("_release_ts")).count()
    totals = merged.agg(F.count(F.lit(1)).alias("all"),
                        F.sum(F.col(_SOURCE)).alias("stored")).first()
    assert totals is not None
    from_store = int(totals["stored"] or 0)
    new_users = frame.select(USER_ID).distinct().join(
        ratings.select(USER_ID).distinct(), on=USER_ID, how="left_anti").count()
    counts = {"release": int(totals["all"]) - from_store, "feedback": from_store,
              "feedback_replaced_release": int(replaced),
              "feedback_older_than_release": int(overlap.count()) - int(replaced),
              "feedback_unknown_movies": unknown, "feedback_new_users": int(new_users)}
    log.info("feedback store: %d stored ratings read; %d used (%d replaced a release rating, "
             "%d new users), %d older than the release's, %d of unknown movies dropped",
             len(stored), counts["feedback"], counts["feedback_replaced_release"],
             counts["feedback_new_users"], counts["feedback_older_than_release"], unknown)
    return merged.drop(_SOURCE), counts
