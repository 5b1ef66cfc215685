"""The feature rows as reco computed them before the array store: plain Polars joins.

Kept as an independent reference: tests check that :func:`reco.ranking.pair_features.build_rows`
gives the same values (it must, or trained rankers would read different features).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from reco.columns import GENRE, GENRES, MOVIE_ID, USER_ID, YEAR
from reco.features.temporal import RecentItems
from reco.ids import IdMap
from reco.ranking.candidates import SOURCES, rank_column
from reco.ranking.pair_features import (
    MOVIE_COLUMNS,
    RECENT_MONTHS,
    USER_COLUMNS,
    StageOne,
)


def _prefixed(frame: pl.DataFrame, key: str, columns: tuple[str, ...], prefix: str) -> pl.DataFrame:
    return frame.select([pl.col(key)] + [pl.col(c).alias(f"{prefix}{c}") for c in columns])


def _genre_features(pairs: pl.DataFrame, stage: StageOne) -> pl.DataFrame:
    """Aggregate the user's preferences over the movie's genres."""
    genres = stage.movies.select(MOVIE_ID, pl.col(GENRES).alias(GENRE)).explode(GENRE)
    prefs = stage.tables.user_genres.select(USER_ID, GENRE, "like_rate", "deviation", "share")
    return (
        pairs.select(USER_ID, MOVIE_ID)
        .join(genres.drop_nulls(GENRE), on=MOVIE_ID, how="inner")
        .join(prefs, on=[USER_ID, GENRE], how="left")
        .group_by(USER_ID, MOVIE_ID)
        .agg(
            pl.col("like_rate").mean().alias("ug_like_rate"),
            pl.col("deviation").mean().alias("ug_deviation"),
            pl.col("share").max().alias("ug_share_max"),
            pl.col("share").sum().alias("ug_share_sum"),
            pl.col("share").is_not_null().sum().cast(pl.Float64).alias("ug_known"),
        )
    )


def recent_similarity(recent: RecentItems, user_ids: np.ndarray, movie_ids: np.ndarray,
                      item_map: IdMap, unit: np.ndarray) -> np.ndarray:
    """Cosine between each movie's vector and the mean unit vector of the user's recent
    movies (``unit``: unit-length item vectors, rows indexed by ``item_map``; recent movies
    it does not know are skipped); NaN for an unknown user or movie. One user at a time."""
    profiles: dict[int, np.ndarray] = {}
    for user in np.unique(user_ids):
        row = recent.users.indices(np.array([user]), missing="mask")[0]
        if row < 0:
            continue
        rows = item_map.indices(recent.movies[recent.indptr[row]:recent.indptr[row + 1]],
                                missing="mask")
        total = unit[rows[rows >= 0]].astype(np.float64).sum(axis=0)
        profiles[int(user)] = total / max(np.linalg.norm(total), 1e-12)
    items = item_map.indices(np.asarray(movie_ids), missing="mask")
    out = np.full(len(items), np.nan, dtype=np.float32)
    for i, (user, item) in enumerate(zip(user_ids, items)):
        if item >= 0 and int(user) in profiles:
            out[i] = profiles[int(user)] @ unit[item]
    return out


def _knn(pairs: pl.DataFrame, stage: StageOne, k: int = 20) -> np.ndarray:
    """The neighbourhood rating deviation, a pair at a time: over the user's rated movies
    (the CF model's), the ``k`` most cosine-similar to the target in CF space, the mean of
    ``rating - user mean`` weighted by the positive similarities."""
    cf = stage.cf
    unit = cf.unit_item_vectors()
    seen = cf.seen_
    out = np.full(pairs.height, np.nan)
    for n, (user, movie) in enumerate(zip(pairs[USER_ID].to_list(), pairs[MOVIE_ID].to_list())):
        u = cf.user_map_.indices(np.array([user]), missing="mask")[0]
        j = cf.item_map_.indices(np.array([movie]), missing="mask")[0]
        if u < 0 or j < 0:
            continue
        row = seen[u]
        if row.nnz == 0:
            continue
        deviation = row.data - row.data.mean()
        sims = unit[row.indices] @ unit[j]
        top = np.argsort(-sims, kind="stable")[:k]
        weights = np.maximum(sims[top], 0.0)
        if weights.sum() > 0:
            out[n] = (weights * deviation[top]).sum() / weights.sum()
    return out


def _item_scores(pairs: pl.DataFrame, stage: StageOne) -> dict[str, np.ndarray]:
    """EASE's score of each pair from the user's likes (all ratings) and from their latest
    movies, a pair at a time over a dense B; NaN for a movie EASE does not model."""
    nan = np.full(pairs.height, np.nan)
    item = stage.item
    if item is None:
        return {"item_score": nan, "item_recent_score": nan.copy()}
    weights = item.B_.toarray() if hasattr(item.B_, "toarray") else np.asarray(item.B_)
    modelled = item.item_map_.ids[item.active_]
    column = {int(m): j for j, m in enumerate(modelled)}
    liked: dict[int, list[int]] = {}
    seen = item.seen_.tocoo()
    for u, i, r in zip(seen.row, seen.col, seen.data):
        movie = int(item.item_map_.ids[i])
        if r >= stage.like_threshold and movie in column:
            liked.setdefault(int(item.user_map_.ids[u]), []).append(column[movie])
    recent = stage.recent
    latest = {int(u): [column[int(m)] for m in recent.movies[recent.indptr[k]:recent.indptr[k + 1]]
                       if int(m) in column]
              for k, u in enumerate(recent.users.ids)}
    out = {"item_score": nan.copy(), "item_recent_score": nan.copy()}
    for n, (user, movie) in enumerate(zip(pairs[USER_ID].to_list(), pairs[MOVIE_ID].to_list())):
        if movie in column:
            j = column[movie]
            out["item_score"][n] = weights[liked.get(user, []), j].sum()
            out["item_recent_score"][n] = weights[latest.get(user, []), j].sum()
    return out


def _model_scores(pairs: pl.DataFrame, stage: StageOne) -> pl.DataFrame:
    users = pairs[USER_ID].to_numpy()
    movies = pairs[MOVIE_ID].to_numpy()
    cf = stage.cf.score_pairs(users, movies)
    if stage.rating_model is not None and hasattr(stage.rating_model, "predict"):
        rating = np.asarray(stage.rating_model.predict(users, movies), dtype=np.float32)  # type: ignore[attr-defined]
    else:
        rating = np.full(users.shape, np.nan, dtype=np.float32)
    if stage.content is not None and hasattr(stage.content, "profile_similarity"):
        content = np.asarray(stage.content.profile_similarity(users, movies), dtype=np.float32)  # type: ignore[attr-defined]
    else:
        content = np.full(users.shape, np.nan, dtype=np.float32)
    columns = {"cf_score": cf, "rating_pred": rating, "content_sim": content,
               **_item_scores(pairs, stage), "knn_rating_dev": _knn(pairs, stage)}
    last = pairs.select(USER_ID).join(
        stage.tables.users.select(USER_ID, "last_timestamp"), on=USER_ID, how="left",
        maintain_order="left",
    )["last_timestamp"].fill_null(0).to_numpy()
    for months in RECENT_MONTHS:
        columns[f"m_share_{months}m_at_user"] = stage.time_popularity.share(movies, last, months)
    columns["m_seen_share_at_user"] = stage.time_popularity.seen_share(movies, last)
    columns["cf_recent_sim"] = recent_similarity(
        stage.recent, users, movies, stage.cf.item_map_, stage.cf.unit_item_vectors())
    if stage.content is not None:
        columns["content_recent_sim"] = recent_similarity(
            stage.recent, users, movies, stage.content.item_map_, stage.content.unit_item_vectors())
    else:
        columns["content_recent_sim"] = np.full(users.shape, np.nan, dtype=np.float32)
    return pl.DataFrame({name: np.asarray(values) for name, values in columns.items()})


def reference_rows(pairs: pl.DataFrame, stage: StageOne) -> pl.DataFrame:
    """Feature rows for ``pairs`` (``user_id, movie_id`` [+ ``rank_in_<source>`` columns]).

    Row order follows ``pairs``. Missing values stay null (XGBoost reads them as missing).
    """
    users = _prefixed(stage.tables.users, USER_ID, USER_COLUMNS, "u_").join(
        stage.tables.users.select(USER_ID, "last_timestamp"), on=USER_ID
    )
    movies = _prefixed(stage.tables.movies, MOVIE_ID, MOVIE_COLUMNS, "m_")
    # Model scores come in pair order and are attached by position; the joins below
    # are on unique keys, so duplicate pairs stay one row each.
    rows = (
        pl.concat([pairs, _model_scores(pairs, stage)], how="horizontal")
        .with_row_index("_order")
        .join(users, on=USER_ID, how="left")
        .join(movies, on=MOVIE_ID, how="left")
        .join(_genre_features(pairs.unique([USER_ID, MOVIE_ID]), stage),
              on=[USER_ID, MOVIE_ID], how="left")
        .sort("_order")
    )
    last_year = pl.from_epoch(pl.col("last_timestamp"), time_unit="s").dt.year()
    rows = rows.with_columns(
        (last_year - pl.col(f"m_{YEAR}")).cast(pl.Float64).alias("movie_age"),
        (pl.col("rating_pred") - pl.col("u_rating_mean")).alias("rating_pred_dev"),
        pl.col("cf_score").rank("ordinal", descending=True).over(USER_ID)
        .cast(pl.Float64).alias("cf_score_rank"),
    )
    for name in (rank_column(s) for s in SOURCES):
        if name not in rows.columns:
            rows = rows.with_columns(pl.lit(None, dtype=pl.Int32).alias(name))
    return rows
