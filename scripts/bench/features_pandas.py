"""The feature tables of :mod:`reco.features.tables`, written the pandas way (the benchmark's peer).

Same three tables, same columns, same values as
:func:`reco.features.tables.build_feature_tables`, built with the tools a pandas notebook would
use: ``groupby().agg``, ``merge`` and ``explode``, eagerly and on one core. It exists only
so ``scripts/benchmark.py build`` can time reco's lazy Polars pipeline against it on the
same data in the same run; nothing in reco's training or serving path imports it.

Written as good pandas, not as a straw man: vectorised aggregations only (no ``apply``
per group), genres exploded once from the small movies table and turned into a
categorical before the merge with the ratings, so the (ratings x genres) frame carries
one byte per row for the genre instead of a Python string.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl

from reco.columns import GENRE, GENRES, MOVIE_ID, RATING, TIMESTAMP, USER_ID, YEAR
from reco.features.tables import SECONDS_PER_DAY, FeatureConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PandasFeatureTables:
    """The three feature tables as pandas frames (columns as in :mod:`reco.features.tables`)."""

    users: pd.DataFrame
    movies: pd.DataFrame
    user_genres: pd.DataFrame

    def row_counts(self) -> dict[str, int]:
        return {"users": len(self.users), "movies": len(self.movies),
                "user_genres": len(self.user_genres)}


def to_pandas_frames(ratings: pl.DataFrame,
                     movies: pl.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Canonical Polars ratings and movies as pandas frames (genres as Python lists).

    Built column by column from NumPy, because ``pl.DataFrame.to_pandas`` needs pyarrow,
    which reco does not depend on. A null year becomes NaN (a float column).
    """
    ratings_pd = pd.DataFrame({c: ratings[c].to_numpy() for c in
                               (USER_ID, MOVIE_ID, RATING, TIMESTAMP)})
    movies_pd = pd.DataFrame({MOVIE_ID: movies[MOVIE_ID].to_numpy(),
                              YEAR: movies[YEAR].to_numpy(),
                              GENRES: movies[GENRES].to_list()})
    return ratings_pd, movies_pd


def _movie_genres(movies: pd.DataFrame) -> pd.DataFrame:
    """(movie_id, genre) pairs; a movie without genres contributes none."""
    pairs = movies[[MOVIE_ID, GENRES]].explode(GENRES).dropna(subset=[GENRES])
    # sorted categories: the codes then sort the way Polars sorts the strings
    categories = sorted(pairs[GENRES].astype(str).unique())
    return pd.DataFrame({MOVIE_ID: pairs[MOVIE_ID].to_numpy(),
                         GENRE: pd.Categorical(pairs[GENRES].astype(str),
                                               categories=categories)})


def _users(ratings: pd.DataFrame, exploded: pd.DataFrame, like: pd.Series) -> pd.DataFrame:
    frame = ratings.assign(_r=ratings[RATING].astype(np.float64), _like=like)
    stats = frame.groupby(USER_ID, sort=True).agg(
        n_ratings=("_r", "size"), rating_mean=("_r", "mean"), rating_std=("_r", "std"),
        like_rate=("_like", "mean"), first_timestamp=(TIMESTAMP, "min"),
        last_timestamp=(TIMESTAMP, "max"),
    )
    # most frequent hour of day, the earliest on a tie: count, sort, keep the first per user
    hours = pd.DataFrame({USER_ID: ratings[USER_ID].to_numpy(),
                          "hour": (ratings[TIMESTAMP] // 3600 % 24).to_numpy()})
    counts = hours.groupby([USER_ID, "hour"], sort=False).size().reset_index(name="_n")
    counts = counts.sort_values([USER_ID, "_n", "hour"], ascending=[True, False, True])
    active = counts.drop_duplicates(USER_ID).set_index(USER_ID)["hour"].rename("active_hour")
    n_genres = exploded.groupby(USER_ID, sort=False, observed=True)[GENRE].nunique()
    users = stats.join(active).join(n_genres.rename("n_genres"))
    users["n_genres"] = users["n_genres"].fillna(0)
    users["active_days"] = (users["last_timestamp"] - users["first_timestamp"]) / SECONDS_PER_DAY
    users = users.reset_index()
    return users.astype({"n_ratings": np.int32, "active_hour": np.int8, "n_genres": np.int32})


def _movies(ratings: pd.DataFrame, movies: pd.DataFrame, like: pd.Series,
            config: FeatureConfig) -> pd.DataFrame:
    frame = ratings.assign(_r=ratings[RATING].astype(np.float64), _like=like)
    stats = frame.groupby(MOVIE_ID, sort=False).agg(
        n_ratings=("_r", "size"), rating_mean=("_r", "mean"), rating_std=("_r", "std"),
        like_rate=("_like", "mean"),
    )
    newest = ratings[TIMESTAMP].max()
    recent = ratings[ratings[TIMESTAMP] > newest - config.recent_days * SECONDS_PER_DAY]
    recent_counts = recent.groupby(MOVIE_ID, sort=False).size().rename("_recent")
    n_genres = movies[GENRES].map(len).astype(np.int32)
    table = (pd.DataFrame({MOVIE_ID: movies[MOVIE_ID].to_numpy(), YEAR: movies[YEAR].to_numpy(),
                           "n_genres": n_genres.to_numpy()})
             .merge(stats, left_on=MOVIE_ID, right_index=True, how="left")
             .merge(recent_counts, left_on=MOVIE_ID, right_index=True, how="left"))
    n = table["n_ratings"].fillna(0)
    table["n_ratings"] = n.astype(np.int32)
    global_mean = frame["_r"].mean()
    m = config.bayes_prior_weight
    denominator = n + m
    total = table["rating_mean"].fillna(0.0) * n + global_mean * m
    # no prior and no ratings: nothing to shrink towards (null, as in reco.features.tables)
    table["bayes_mean"] = (total / denominator).where(denominator > 0)
    table["popularity"] = n / ratings[USER_ID].nunique()
    table["recent_popularity"] = table["_recent"].fillna(0) / recent[USER_ID].nunique()
    return table.drop(columns="_recent").sort_values(MOVIE_ID, kind="stable").reset_index(
        drop=True)


def _user_genres(ratings: pd.DataFrame, exploded: pd.DataFrame,
                 config: FeatureConfig) -> pd.DataFrame:
    per_user = ratings.assign(_r=ratings[RATING].astype(np.float64)).groupby(USER_ID).agg(
        _user_n=("_r", "size"), _user_mean=("_r", "mean"))
    frame = exploded.assign(_r=exploded[RATING].astype(np.float64),
                            _like=(exploded[RATING] >= config.like_threshold).astype(np.float64))
    table = frame.groupby([USER_ID, GENRE], sort=True, observed=True).agg(
        n_ratings=("_r", "size"), rating_mean=("_r", "mean"), like_rate=("_like", "mean"),
    ).reset_index().merge(per_user, left_on=USER_ID, right_index=True, how="left")
    table["deviation"] = table["rating_mean"] - table["_user_mean"]
    table["share"] = table["n_ratings"] / table["_user_n"]
    table[GENRE] = table[GENRE].astype(str)
    return table.drop(columns=["_user_n", "_user_mean"]).astype({"n_ratings": np.int32})


def build_feature_tables_pandas(ratings: pd.DataFrame, movies: pd.DataFrame,
                                config: FeatureConfig | None = None) -> PandasFeatureTables:
    """Build users, movies and user_genres from pandas frames.

    Parameters
    ----------
    ratings
        ``user_id, movie_id, rating, timestamp`` (see :func:`to_pandas_frames`).
    movies
        ``movie_id, year, genres`` with ``genres`` a list of strings per movie.
    config
        The same :class:`~reco.features.tables.FeatureConfig` the Polars pipeline takes.

    Returns
    -------
    PandasFeatureTables
        The tables of :func:`reco.features.tables.build_feature_tables`, row for row, sorted
        the same way (users by id, movies by id, user_genres by user then genre).
    """
    config = config or FeatureConfig()
    like = (ratings[RATING] >= config.like_threshold).astype(np.float64)
    exploded = ratings.merge(_movie_genres(movies), on=MOVIE_ID, how="inner")
    log.debug("pandas features: %d (rating, genre) rows", len(exploded))
    return PandasFeatureTables(
        users=_users(ratings, exploded, like),
        movies=_movies(ratings, movies, like, config),
        user_genres=_user_genres(ratings, exploded, config),
    )
