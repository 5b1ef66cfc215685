"""The three feature tables as Spark SQL expressions, one definition per feature.

Each function below mirrors the Polars expression of the same name in
:mod:`reco.features.tables` (``docs/FEATURES.md`` holds the definitions); the table
builders join their group-bys the same way, and :func:`collect_tables` brings the result
to the driver with the Polars tables' column order and dtypes, so the two engines' tables
compare column by column (``tests/pipelines/spark/test_features.py``: exact counts,
means and deviations within 1e-9).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from reco.columns import GENRE, GENRES, MOVIE_ID, RATING, TIMESTAMP, USER_ID, YEAR
from reco.features.tables import (
    PREDICTED_MARK,
    SECONDS_PER_DAY,
    FeatureConfig,
    FeatureTables,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

#: Each table's columns and dtypes, as :func:`reco.features.tables.build_feature_tables`
#: gives them (``genres_predicted`` follows ``n_genres`` in movies when the movies have it).
USERS = {USER_ID: pl.Int32, "n_ratings": pl.Int32, "rating_mean": pl.Float64,
         "rating_std": pl.Float64, "like_rate": pl.Float64, "first_timestamp": pl.Int64,
         "last_timestamp": pl.Int64, "active_hour": pl.Int8, "n_genres": pl.Int32,
         "active_days": pl.Float64}
MOVIES = {MOVIE_ID: pl.Int32, YEAR: pl.Int32, "n_genres": pl.Int32, "n_ratings": pl.Int32,
          "rating_mean": pl.Float64, "rating_std": pl.Float64, "like_rate": pl.Float64,
          "bayes_mean": pl.Float64, "popularity": pl.Float64, "recent_popularity": pl.Float64}
USER_GENRES = {USER_ID: pl.Int32, GENRE: pl.String, "n_ratings": pl.Int32,
               "rating_mean": pl.Float64, "like_rate": pl.Float64, "deviation": pl.Float64,
               "share": pl.Float64}


def _F() -> Any:
    from pyspark.sql import functions

    return functions


# ------------------------------------------------------------------ expressions
def n_ratings() -> Column:
    return _F().count(_F().lit(1)).cast("int").alias("n_ratings")


def rating_mean() -> Column:
    return _F().avg(_F().col(RATING).cast("double")).alias("rating_mean")


def rating_std() -> Column:
    # sample std; Spark's stddev_samp is null for one value, as Polars' std is
    return _F().stddev_samp(_F().col(RATING).cast("double")).alias("rating_std")


def like_rate(threshold: float) -> Column:
    return _F().avg((_F().col(RATING) >= threshold).cast("double")).alias("like_rate")


def first_timestamp() -> Column:
    return _F().min(TIMESTAMP).alias("first_timestamp")


def last_timestamp() -> Column:
    return _F().max(TIMESTAMP).alias("last_timestamp")


def active_days() -> Column:
    span = _F().col("last_timestamp") - _F().col("first_timestamp")
    return (span / SECONDS_PER_DAY).alias("active_days")


def hour_of_day() -> Column:
    # Polars' // is a floor division: for Unix seconds (>= 0) the same as Spark's div
    return ((_F().col(TIMESTAMP).cast("long") / 3600).cast("long") % 24).cast("byte").alias("hour")


def bayes_mean(prior_weight: float, global_mean: Column) -> Column:
    F = _F()
    n = F.col("n_ratings").cast("double")
    total = F.coalesce(F.col("rating_mean"), F.lit(0.0)) * n + global_mean * prior_weight
    denominator = n + prior_weight
    # with no prior and no ratings there is nothing to shrink towards
    return F.when(denominator > 0, total / denominator).alias("bayes_mean")


# ------------------------------------------------------------------ tables
def movies_frame(movies: pl.DataFrame, spark: object) -> DataFrame:
    """The movies table (``movie_id, year, genres`` [+ ``genres_predicted``]) as Spark's."""
    marked = [PREDICTED_MARK] if PREDICTED_MARK in movies.columns else []
    table = movies.select(MOVIE_ID, YEAR, GENRES, *marked).to_arrow()
    return spark.createDataFrame(table)  # type: ignore[attr-defined]


def _user_stats(ratings: DataFrame, config: FeatureConfig) -> DataFrame:
    return ratings.groupBy(USER_ID).agg(
        n_ratings(), rating_mean(), rating_std(), like_rate(config.like_threshold),
        first_timestamp(), last_timestamp())


def _active_hours(ratings: DataFrame) -> DataFrame:
    # the mode, made deterministic: the earliest of equally frequent hours
    from pyspark.sql import Window

    F = _F()
    counts = ratings.groupBy(USER_ID, hour_of_day()).agg(F.count(F.lit(1)).alias("_n"))
    best = Window.partitionBy(USER_ID).orderBy(F.col("_n").desc(), F.col("hour").asc())
    return (counts.withColumn("_r", F.row_number().over(best)).where(F.col("_r") == 1)
            .select(USER_ID, F.col("hour").alias("active_hour")))


def _user_genre_counts(ratings: DataFrame, movies: DataFrame,
                       like_threshold: float) -> DataFrame:
    """Count, mean and like rate per (user, genre) rated."""
    F = _F()
    pairs = movies.select(MOVIE_ID, F.explode(GENRES).alias(GENRE))
    return (ratings.join(pairs, on=MOVIE_ID, how="inner")
            .groupBy(USER_ID, GENRE)
            .agg(n_ratings(), F.sum(F.col(RATING).cast("double")).alias("_sum"),
                 F.sum((F.col(RATING) >= like_threshold).cast("long")).alias("_likes"))
            .select(USER_ID, GENRE, "n_ratings",
                    (F.col("_sum") / F.col("n_ratings")).alias("rating_mean"),
                    (F.col("_likes") / F.col("n_ratings")).alias("like_rate")))


def user_features(ratings: DataFrame, counts: DataFrame, config: FeatureConfig) -> DataFrame:
    F = _F()
    genres = counts.groupBy(USER_ID).agg(F.count(F.lit(1)).cast("int").alias("n_genres"))
    return (_user_stats(ratings, config)
            .join(_active_hours(ratings), on=USER_ID, how="left")
            .join(genres, on=USER_ID, how="left")
            .withColumn("n_genres", F.coalesce(F.col("n_genres"), F.lit(0)))
            .withColumn("active_days", active_days()))


def user_genre_features(ratings: DataFrame, counts: DataFrame,
                        config: FeatureConfig) -> DataFrame:
    F = _F()
    per_user = ratings.groupBy(USER_ID).agg(F.count(F.lit(1)).alias("_user_n"),
                                            rating_mean().alias("_user_mean"))
    return (counts.join(per_user, on=USER_ID, how="left")
            .withColumn("deviation", F.col("rating_mean") - F.col("_user_mean"))
            .withColumn("share", F.col("n_ratings") / F.col("_user_n"))
            .drop("_user_n", "_user_mean"))


def movie_features(ratings: DataFrame, movies: DataFrame, config: FeatureConfig) -> DataFrame:
    """One row per movie of the movies table, rated or not."""
    F = _F()
    totals = ratings.agg(F.max(TIMESTAMP).alias("_newest"),
                         F.countDistinct(USER_ID).alias("_users"),
                         F.avg(F.col(RATING).cast("double")).alias("_global"))
    recent = (ratings.crossJoin(F.broadcast(totals.select("_newest")))
              .where(F.col(TIMESTAMP) > F.col("_newest") - config.recent_days * SECONDS_PER_DAY))
    recent_counts = recent.groupBy(MOVIE_ID).agg(F.count(F.lit(1)).alias("_recent"))
    recent_users = recent.agg(F.countDistinct(USER_ID).alias("_recent_users"))
    stats = ratings.groupBy(MOVIE_ID).agg(n_ratings(), rating_mean(), rating_std(),
                                          like_rate(config.like_threshold))
    marked = [PREDICTED_MARK] if PREDICTED_MARK in movies.columns else []
    return (movies.select(MOVIE_ID, YEAR, F.size(GENRES).cast("int").alias("n_genres"), *marked)
            .join(stats, on=MOVIE_ID, how="left")
            .join(recent_counts, on=MOVIE_ID, how="left")
            .crossJoin(F.broadcast(totals.select("_users", "_global")))
            .crossJoin(F.broadcast(recent_users))
            .withColumn("n_ratings", F.coalesce(F.col("n_ratings"), F.lit(0)))
            .withColumn("_recent", F.coalesce(F.col("_recent"), F.lit(0)))
            .withColumn("bayes_mean", bayes_mean(config.bayes_prior_weight, F.col("_global")))
            .withColumn("popularity", F.col("n_ratings") / F.col("_users"))
            .withColumn("recent_popularity", F.col("_recent") / F.col("_recent_users"))
            .drop("_recent", "_users", "_recent_users", "_global"))


def feature_frames(ratings: DataFrame, movies: DataFrame,
                   config: FeatureConfig | None = None) -> dict[str, DataFrame]:
    """The three tables as Spark frames (unordered; :func:`collect_tables` sorts them)."""
    config = config or FeatureConfig()
    counts = _user_genre_counts(ratings, movies, config.like_threshold).cache()
    return {"users": user_features(ratings, counts, config),
            "movies": movie_features(ratings, movies, config),
            "user_genres": user_genre_features(ratings, counts, config)}


def _to_polars(frame: DataFrame, schema: Mapping[str, pl.DataType | type[pl.DataType]],
               keys: list[str]) -> pl.DataFrame:
    table = pl.from_arrow(frame.toArrow())
    assert isinstance(table, pl.DataFrame)
    extra = [c for c in table.columns if c not in schema]  # genres_predicted
    order = list(schema)
    if extra:
        order = order[:3] + extra + order[3:]
    return (table.select(order).cast(pl.Schema(schema))
            .sort(keys))


def collect_tables(frames: dict[str, DataFrame]) -> FeatureTables:
    """The tables on the driver, as :func:`~reco.features.tables.build_feature_tables`
    lays them out (column order, dtypes, sorted by their keys)."""
    return FeatureTables(users=_to_polars(frames["users"], USERS, [USER_ID]),
                         movies=_to_polars(frames["movies"], MOVIES, [MOVIE_ID]),
                         user_genres=_to_polars(frames["user_genres"], USER_GENRES,
                                                [USER_ID, GENRE]))
