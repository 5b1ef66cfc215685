"""User, movie and user-genre preference features, built with lazy Polars.

Each feature is a small function returning a ``pl.Expr``. :func:`build_feature_tables`
runs the four heavy group-bys (per user, per hour of day, per (user, genre), per movie)
once, side by side in one ``collect_all``, and makes the three tables from them with small
joins; the (user, genre) group-by, the costliest, works on one integer key instead of a
user id and a genre string (2.1x faster than the previous plan at 10M ratings:
``docs/BENCHMARKS.md``).

Definitions (``like`` = rating >= ``FeatureConfig.like_threshold``):

* users: ``n_ratings``, ``rating_mean``, ``rating_std`` (sample, null for one rating),
  ``like_rate``, ``first_timestamp``, ``last_timestamp``, ``active_days``,
  ``active_hour`` (most frequent UTC hour of day; the earliest hour on a tie),
  ``n_genres`` (distinct genres among the rated movies).
* movies: every movie of the movies table, rated or not: ``n_ratings``, ``rating_mean``,
  ``rating_std``, ``like_rate``, ``bayes_mean`` = (n * mean + m * global_mean) / (n + m)
  with m = ``bayes_prior_weight`` (the global mean for unrated movies), ``year``,
  ``n_genres``, ``popularity`` = n_ratings / n_users, ``recent_popularity`` = ratings in
  the last ``recent_days`` before the newest rating / users active in that window.
* user_genres: for each (user, genre) rated: ``n_ratings``, ``rating_mean``,
  ``like_rate``, ``deviation`` = genre mean - the user's overall mean, ``share`` =
  the genre's ratings / the user's ratings (a movie with k genres counts in each).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from reco.columns import GENRE, GENRES, MOVIE_ID, RATING, TIMESTAMP, USER_ID, YEAR
from reco.config import ConfigBase, check_int, check_range

log = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400
PREDICTED_MARK = "genres_predicted"


@dataclass(frozen=True)
class FeatureConfig(ConfigBase):
    """Parameters of the feature tables.

    Parameters
    ----------
    like_threshold
        A rating at or above it is a like (3.5, as in ``shared/EVALUATION.md``).
    bayes_prior_weight
        Pseudo-ratings at the global mean added to each movie's mean (``bayes_mean``).
    recent_days
        Width of the window, ending at the newest rating, for ``recent_popularity``.
    """

    like_threshold: float = 3.5
    bayes_prior_weight: float = 10.0
    recent_days: int = 365

    def __post_init__(self) -> None:
        check_range("FeatureConfig", "like_threshold", self.like_threshold, 0.0, 10.0)
        check_range("FeatureConfig", "bayes_prior_weight", self.bayes_prior_weight, 0.0)
        check_int("FeatureConfig", "recent_days", self.recent_days, 1)


# ------------------------------------------------------------------ expressions
def n_ratings() -> pl.Expr:
    return pl.len().cast(pl.Int32).alias("n_ratings")


def rating_mean() -> pl.Expr:
    return pl.col(RATING).cast(pl.Float64).mean().alias("rating_mean")


def rating_std() -> pl.Expr:
    return pl.col(RATING).cast(pl.Float64).std().alias("rating_std")


def like_rate(threshold: float) -> pl.Expr:
    return (pl.col(RATING) >= threshold).cast(pl.Float64).mean().alias("like_rate")


def first_timestamp() -> pl.Expr:
    return pl.col(TIMESTAMP).min().alias("first_timestamp")


def last_timestamp() -> pl.Expr:
    return pl.col(TIMESTAMP).max().alias("last_timestamp")


def active_days() -> pl.Expr:
    span = pl.col("last_timestamp") - pl.col("first_timestamp")
    return (span / SECONDS_PER_DAY).alias("active_days")


def hour_of_day() -> pl.Expr:
    return ((pl.col(TIMESTAMP) // 3600) % 24).cast(pl.Int8).alias("hour")


def active_hour() -> pl.Expr:
    # The mode, made deterministic: the earliest of equally frequent hours.
    return pl.col("hour").mode().min().alias("active_hour")


def bayes_mean(prior_weight: float, global_mean: pl.Expr) -> pl.Expr:
    n = pl.col("n_ratings").cast(pl.Float64)
    total = pl.col("rating_mean").fill_null(0.0) * n + global_mean * prior_weight
    denominator = n + prior_weight
    # With no prior and no ratings there is nothing to shrink towards.
    return pl.when(denominator > 0).then(total / denominator).otherwise(None).alias("bayes_mean")


# ------------------------------------------------------------------ tables
def genre_names(movies: pl.LazyFrame) -> list[str]:
    """The distinct genres of the movies table, sorted (a small eager query)."""
    names = movies.select(pl.col(GENRES).explode().drop_nulls().unique().sort()).collect()
    return names.to_series().to_list()


def _user_genre_counts(ratings: pl.LazyFrame, movies: pl.LazyFrame, names: list[str],
                       like_threshold: float) -> pl.LazyFrame:
    """Count, rating sum and likes per (user, genre), sorted by user then genre.

    The (ratings x genres) frame is the largest of the build, so it carries one integer
    key, ``user_id * len(names) + genre code``, instead of a user id and a string; the
    group-by on it is the costliest step, and the key's order is (user, genre name).
    """
    width = max(len(names), 1)
    codes = pl.DataFrame({GENRE: names, "_code": range(len(names))},
                         schema={GENRE: pl.String, "_code": pl.Int64}).lazy()
    pairs = (movies.select(MOVIE_ID, pl.col(GENRES).alias(GENRE)).explode(GENRE)
             .join(codes, on=GENRE, how="inner").select(MOVIE_ID, "_code"))
    key = pl.col(USER_ID).cast(pl.Int64) * width + pl.col("_code")
    return (
        ratings.join(pairs, on=MOVIE_ID, how="inner")
        .group_by(key.alias("_key"))
        .agg(n_ratings(), pl.col(RATING).cast(pl.Float64).sum().alias("_sum"),
             (pl.col(RATING) >= like_threshold).sum().alias("_likes"))
        .sort("_key")
        .select(
            (pl.col("_key") // width).cast(pl.Int32).alias(USER_ID),
            pl.lit(pl.Series(names, dtype=pl.String)).gather(pl.col("_key") % width)
            .alias(GENRE),
            "n_ratings",
            (pl.col("_sum") / pl.col("n_ratings")).alias("rating_mean"),
            (pl.col("_likes") / pl.col("n_ratings")).alias("like_rate"),
        )
    )


def _user_stats(ratings: pl.LazyFrame, config: FeatureConfig) -> pl.LazyFrame:
    return ratings.group_by(USER_ID).agg(
        n_ratings(), rating_mean(), rating_std(), like_rate(config.like_threshold),
        first_timestamp(), last_timestamp(),
    )


def _active_hours(ratings: pl.LazyFrame) -> pl.LazyFrame:
    # The mode, made deterministic: the earliest of equally frequent hours.
    return (
        ratings.group_by(USER_ID, hour_of_day()).agg(pl.len().alias("_n"))
        .group_by(USER_ID)
        .agg(pl.col("hour").sort_by("_n", "hour", descending=[True, False]).first()
             .alias("active_hour"))
    )


def _users_from(stats: pl.LazyFrame, hours: pl.LazyFrame,
                genre_counts: pl.LazyFrame) -> pl.LazyFrame:
    genres = genre_counts.group_by(USER_ID).agg(pl.len().cast(pl.Int32).alias("n_genres"))
    return (
        stats.join(hours, on=USER_ID, how="left")
        .join(genres, on=USER_ID, how="left")
        .with_columns(active_days(), pl.col("n_genres").fill_null(0))
        .sort(USER_ID)
    )


def _user_genres_from(stats: pl.LazyFrame, genre_counts: pl.LazyFrame) -> pl.LazyFrame:
    per_user = stats.select(USER_ID, pl.col("n_ratings").alias("_user_n"),
                            pl.col("rating_mean").alias("_user_mean"))
    return (
        genre_counts.join(per_user, on=USER_ID, how="left", maintain_order="left")
        .with_columns(
            (pl.col("rating_mean") - pl.col("_user_mean")).alias("deviation"),
            (pl.col("n_ratings") / pl.col("_user_n")).alias("share"),
        )
        .drop("_user_n", "_user_mean")
    )


def movie_features(
    ratings: pl.LazyFrame, movies: pl.LazyFrame, config: FeatureConfig
) -> pl.LazyFrame:
    """One row per movie of the movies table (key ``movie_id``), rated or not."""
    newest = pl.col(TIMESTAMP).max()
    recent = ratings.filter(
        pl.col(TIMESTAMP) > newest - config.recent_days * SECONDS_PER_DAY
    )
    recent_counts = recent.group_by(MOVIE_ID).agg(pl.len().alias("_recent"))
    n_users = ratings.select(pl.col(USER_ID).n_unique().alias("_users"))
    n_recent_users = recent.select(pl.col(USER_ID).n_unique().alias("_recent_users"))
    global_mean = ratings.select(pl.col(RATING).cast(pl.Float64).mean().alias("_global"))
    stats = ratings.group_by(MOVIE_ID).agg(
        n_ratings(), rating_mean(), rating_std(), like_rate(config.like_threshold)
    )
    # movies whose genres a text model predicted keep the mark (reco.pipelines.text_models)
    marked = [PREDICTED_MARK] if PREDICTED_MARK in movies.collect_schema().names() else []
    return (
        movies.select(MOVIE_ID, YEAR, pl.col(GENRES).list.len().cast(pl.Int32).alias("n_genres"),
                      *marked)
        .join(stats, on=MOVIE_ID, how="left")
        .join(recent_counts, on=MOVIE_ID, how="left")
        .join(n_users, how="cross")
        .join(n_recent_users, how="cross")
        .join(global_mean, how="cross")
        .with_columns(pl.col("n_ratings").fill_null(0), pl.col("_recent").fill_null(0))
        .with_columns(
            bayes_mean(config.bayes_prior_weight, pl.col("_global")),
            (pl.col("n_ratings") / pl.col("_users")).alias("popularity"),
            (pl.col("_recent") / pl.col("_recent_users")).alias("recent_popularity"),
        )
        .drop("_recent", "_users", "_recent_users", "_global")
        .sort(MOVIE_ID)
    )


#: A table, or a function that reads it when it is first asked for.
TableSource = pl.DataFrame | Callable[[], pl.DataFrame]


class FeatureTables:
    """The three feature tables. Each may be given as a function that reads it: it is
    then read on first use, once (a server whose version stores the arrays it computes
    from them reads them only for the user pages, if ever)."""

    __slots__ = ("_tables",)

    def __init__(self, users: TableSource, movies: TableSource,
                 user_genres: TableSource) -> None:
        self._tables: dict[str, TableSource] = {"users": users, "movies": movies,
                                                "user_genres": user_genres}

    def _table(self, name: str) -> pl.DataFrame:
        table = self._tables[name]
        if not isinstance(table, pl.DataFrame):
            table = self._tables[name] = table()
        return table

    @property
    def users(self) -> pl.DataFrame:
        return self._table("users")

    @property
    def movies(self) -> pl.DataFrame:
        return self._table("movies")

    @property
    def user_genres(self) -> pl.DataFrame:
        return self._table("user_genres")

    def row_counts(self) -> dict[str, int]:
        return {
            "users": self.users.height,
            "movies": self.movies.height,
            "user_genres": self.user_genres.height,
        }


def build_feature_tables(
    ratings: pl.LazyFrame | pl.DataFrame,
    movies: pl.LazyFrame | pl.DataFrame,
    config: FeatureConfig | None = None,
) -> FeatureTables:
    """Plan the three tables on ``ratings`` and ``movies`` and collect them once."""
    config = config or FeatureConfig()
    ratings_lf, movies_lf = ratings.lazy(), movies.lazy()
    names = genre_names(movies_lf)
    # The heavy group-bys run once, side by side; the tables are small joins of them.
    stats, hours, counts, movie_table = pl.collect_all([
        _user_stats(ratings_lf, config),
        _active_hours(ratings_lf),
        _user_genre_counts(ratings_lf, movies_lf, names, config.like_threshold),
        movie_features(ratings_lf, movies_lf, config),
    ])
    users, user_genres = pl.collect_all([
        _users_from(stats.lazy(), hours.lazy(), counts.lazy()),
        _user_genres_from(stats.lazy(), counts.lazy()),
    ])
    return FeatureTables(users=users, movies=movie_table, user_genres=user_genres)
