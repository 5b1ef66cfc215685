"""Feature rows for (user, movie) pairs, shared by the ranker and the like model.

One row per pair: the user's, the movie's and the user-genre aggregates of
:mod:`reco.features.tables`, the stage-one model scores (CF, explicit rating model, content
similarity to the user's profile) and, for candidate rows, the rank each candidate source
gave the movie. Column order is fixed by ``RANK_FEATURES`` / ``LIKE_FEATURES``
(:mod:`reco.ranking.schema`) and written into the manifest; loading checks it.

Rows are computed from a :class:`~reco.ranking.user_state.UserContext` (known users gathered,
new people folded in) and the stage's :class:`~reco.ranking.stage_arrays.FeatureStore`, with
array gathers and row-wise dot products only, in chunks: the same code builds a few
million training rows and the couple of hundred rows of one request.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from reco.columns import MOVIE_ID, USER_ID, YEAR
from reco.ids import IdMap

# LIKE_FEATURES is re-exported: callers that build rows take the feature order from here too
from reco.ranking.schema import (  # noqa: F401
    GENRE_COLUMNS,
    LIKE_FEATURES,
    MOVIE_COLUMNS,
    RANK_FEATURES,
    RECENT_MONTHS,
    USER_COLUMNS,
)
from reco.ranking.stage_arrays import FeatureStore
from reco.ranking.stage_one import StageOne
from reco.ranking.user_state import UserContext

CHUNK = 1 << 16  # pairs per block: bounds the (chunk, genres, 3) temporaries


def _dots(left: np.ndarray, right: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``left[i] . right[rows[i]]``; NaN where ``rows`` is -1 (or ``left`` is NaN)."""
    out = np.einsum("ij,ij->i", left, right[np.maximum(rows, 0)], dtype=np.float64)
    out[rows < 0] = np.nan
    return out


def _genre_block(movie_genres: np.ndarray, prefs: np.ndarray) -> list[np.ndarray]:
    """The five user-genre aggregates over each pair's movie genres (see GENRE_COLUMNS).

    A movie with no genres (or unknown) gets NaN in all five; a movie with genres the user
    never rated gets NaN means and max, and 0 for the sum and the count.
    """
    has = movie_genres.any(axis=1)
    out = []
    for slot in (0, 1):  # like_rate, deviation: means over the genres the user rated
        valid = movie_genres & ~np.isnan(prefs[..., slot])
        count = valid.sum(axis=1)
        total = np.where(valid, prefs[..., slot], 0.0).sum(axis=1, dtype=np.float64)
        out.append(np.where(count > 0, total / np.maximum(count, 1), np.nan))
    share = prefs[..., 2]
    valid = movie_genres & ~np.isnan(share)
    count = valid.sum(axis=1)
    best = (np.where(valid, share, -np.inf).max(axis=1) if valid.shape[1]
            else np.full(valid.shape[0], -np.inf))  # a release without genres: no columns
    out.append(np.where(count > 0, best, np.nan))
    out.append(np.where(has, np.where(valid, share, 0.0).sum(axis=1, dtype=np.float64), np.nan))
    out.append(np.where(has, count.astype(np.float64), np.nan))
    return out


def _year(timestamps: np.ndarray) -> np.ndarray:
    return timestamps.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970.0


def rank_within(groups: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """1-based rank of each score within its group, best (highest) first; ties keep
    the input order and NaN ranks last."""
    key = np.where(np.isnan(scores), np.inf, -scores)
    order = np.lexsort((np.arange(scores.size), key, groups))
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, order.size]))
    ranks = np.empty(scores.size, dtype=np.float64)
    ranks[order] = np.arange(order.size) - first + 1
    return ranks


def cf_score_rank(stage: StageOne, context: UserContext, user_rows: np.ndarray,
                  movie_ids: np.ndarray) -> np.ndarray:
    """Rank of each pair's CF score among the pairs of the same user (1 = best)."""
    store = stage.store
    m = store.movies.indices(np.asarray(movie_ids), missing="mask")
    rows = np.where(m >= 0, store.cf_rows[np.maximum(m, 0)], -1)
    cf = np.empty(rows.size)
    for start in range(0, rows.size, CHUNK):
        part = slice(start, start + CHUNK)
        cf[part] = _dots(context.cf[user_rows[part]], store.cf_items, rows[part])
    return rank_within(np.asarray(user_rows), cf)


def pair_features(
    stage: StageOne,
    context: UserContext,
    user_rows: np.ndarray,
    movie_ids: np.ndarray,
    columns: tuple[str, ...],
    extra: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """The ``columns`` of each pair (``context`` row ``user_rows[i]``, ``movie_ids[i]``).

    ``extra`` supplies columns computed elsewhere (the ``rank_in_<source>`` of candidates;
    ``cf_score_rank`` when the pairs are a sample of larger candidate lists). Otherwise
    ``cf_score_rank`` ranks the CF scores among each user's pairs in this call.

    Returns
    -------
    numpy.ndarray
        float32 ``(n_pairs, len(columns))``, NaN for missing values.
    """
    extra = dict(extra or {})
    user_rows = np.asarray(user_rows, dtype=np.int64)
    movie_ids = np.asarray(movie_ids, dtype=np.int64)
    out = np.empty((movie_ids.size, len(columns)), dtype=np.float32)
    position = {name: j for j, name in enumerate(columns)}
    first = None
    if "cf_score_rank" in position and "cf_score_rank" not in extra:
        if movie_ids.size <= CHUNK:  # one block (a request): rank the CF scores it has
            first = _block(stage, context, user_rows, movie_ids)
            extra["cf_score_rank"] = rank_within(user_rows, first["cf_score"])
        else:
            extra["cf_score_rank"] = cf_score_rank(stage, context, user_rows, movie_ids)
    for start in range(0, movie_ids.size, CHUNK):
        part = slice(start, start + CHUNK)
        values = first if first is not None else _block(stage, context, user_rows[part],
                                                         movie_ids[part])
        for name, j in position.items():
            source: np.ndarray | float | None = (
                extra[name][part] if name in extra else values.get(name))
            if source is None:
                if not name.startswith("rank_in_"):
                    raise KeyError(f"no feature named {name!r}")
                source = np.nan
            out[part, j] = source
    return out


def _block(stage: StageOne, context: UserContext, users: np.ndarray,
           movie_ids: np.ndarray) -> dict[str, np.ndarray]:
    store = stage.store
    m = store.movies.indices(movie_ids, missing="mask")
    known_movie = m >= 0
    safe = np.maximum(m, 0)

    def model_rows(rows: np.ndarray) -> np.ndarray:
        return np.where(known_movie, rows[safe], -1)

    cols: dict[str, np.ndarray] = {}
    stats = context.stats[users]
    for j, name in enumerate(USER_COLUMNS):
        cols[f"u_{name}"] = stats[:, j]
    movie_stats = np.where(known_movie[:, None], store.movie_stats[safe], np.nan)
    for j, name in enumerate(MOVIE_COLUMNS):
        cols[f"m_{name}"] = movie_stats[:, j]
    genres = store.movie_genres[safe] & known_movie[:, None]
    cols.update(zip(GENRE_COLUMNS, _genre_block(genres, context.genre_prefs[users])))
    cf_rows = model_rows(store.cf_rows)
    cols["cf_score"] = _dots(context.cf[users], store.cf_items, cf_rows)
    cols["cf_recent_sim"] = _dots(context.recent_cf[users], store.cf_unit, cf_rows)
    nan = np.full(users.size, np.nan)
    cols["rating_pred"] = cols["content_sim"] = cols["content_recent_sim"] = nan
    if store.rating is not None:
        r_rows = model_rows(store.rating_rows)
        cols["rating_pred"] = (store.rating_mean + context.rating_bias[users]
                               + store.rating_item_bias[np.maximum(r_rows, 0)]
                               + _dots(context.rating[users], store.rating_items, r_rows))
    if store.content is not None:
        c_rows = model_rows(store.content_rows)
        cols["content_sim"] = _dots(context.content[users], store.content_emb, c_rows)
        cols["content_recent_sim"] = _dots(
            context.recent_content[users], store.content_unit, c_rows)
    cols["knn_rating_dev"] = _knn_deviation(store.cf_unit, store.stage.cf.item_map_,
                                            context, users, cf_rows)
    cols["item_score"] = cols["item_recent_score"] = nan
    if store.item is not None:
        cols["item_score"] = _item_scores(store, context, users, m)
        cols["item_recent_score"] = _item_scores(store, context, users, m, recent=True)
    last = context.last_timestamp[users]
    for months in RECENT_MONTHS:
        cols[f"m_share_{months}m_at_user"] = stage.time_popularity.share(movie_ids, last, months)
    cols["m_seen_share_at_user"] = stage.time_popularity.seen_share(movie_ids, last)
    user_year = np.where(context.known[users], _year(last), np.nan)
    cols["movie_age"] = user_year - cols[f"m_{YEAR}"]
    cols["rating_pred_dev"] = cols["rating_pred"] - cols["u_rating_mean"]
    return cols


#: How many of a user's rated movies, the most similar to the target, the neighbourhood
#: rating deviation averages.
KNN = 20


def _knn_deviation(unit: np.ndarray, item_map: IdMap, context: UserContext,
                   users: np.ndarray, cf_rows: np.ndarray) -> np.ndarray:
    """Item-based neighbourhood prediction of each pair's rating, as a deviation from the
    user's mean: the similarity-weighted mean of ``rating - user mean`` over the ``KNN``
    rated movies closest to the target in one model's space (``unit`` item vectors, rows
    of ``item_map``; ``cf_rows`` the targets' rows; cosine, positive similarities only).
    NaN when the user rated no movie the model knows or the target is unknown to it."""
    out = np.full(users.size, np.nan)
    order = np.argsort(users, kind="stable")
    bounds = np.flatnonzero(np.r_[True, users[order][1:] != users[order][:-1], True])
    # every rated movie of the context mapped once (one lookup per user cost more than
    # the arithmetic when the boosters' rows cover 20,000 users)
    rated_rows = item_map.indices(context.seen_movies, missing="mask")
    for a, b in zip(bounds[:-1], bounds[1:]):
        pick = order[a:b]
        pick = pick[cf_rows[pick] >= 0]
        if pick.size == 0:
            continue
        user = int(users[pick[0]])
        part = slice(context.seen_indptr[user], context.seen_indptr[user + 1])
        rated, ratings = rated_rows[part], context.seen_ratings[part]
        known = rated >= 0
        if not known.any():
            continue
        deviation = ratings[known] - ratings[known].mean()
        sims = unit[rated[known]] @ unit[cf_rows[pick]].T  # rated x targets
        if sims.shape[0] > KNN:
            top = np.argpartition(-sims, KNN - 1, axis=0)[:KNN]
            sims = np.take_along_axis(sims, top, axis=0)
            dev = deviation[top]
        else:
            dev = deviation[:, None]
        sims = np.maximum(sims, 0.0)
        weight = sims.sum(axis=0)
        out[pick] = np.where(weight > 0, (sims * dev).sum(axis=0) / np.maximum(weight, 1e-12),
                             np.nan)
    return out


#: Users per dense block of item-item scores (block x modelled items float32).
_ITEM_USERS = 1024


def _item_scores(store: FeatureStore, context: UserContext, users: np.ndarray,
                 movies: np.ndarray, recent: bool = False) -> np.ndarray:
    """The item-item score of each pair (NaN: the movie is not modelled), from dense
    score rows of the pairs' distinct users, a block of them at a time."""
    out = np.full(users.size, np.nan)
    cols = np.where(movies >= 0, store.item_rows[np.maximum(movies, 0)], -1)
    distinct, inverse = np.unique(users, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(0, distinct.size + _ITEM_USERS,
                                                       _ITEM_USERS))
    for b, start in enumerate(range(0, distinct.size, _ITEM_USERS)):
        block = distinct[start:start + _ITEM_USERS]
        scores = store.item_scores(context, block, recent)
        pick = order[bounds[b]:bounds[b + 1]]
        ok = pick[cols[pick] >= 0]
        out[ok] = scores[inverse[ok] - start, cols[ok]]
    return out


def build_rows(pairs: pl.DataFrame, stage: StageOne,
               columns: tuple[str, ...] = RANK_FEATURES) -> pl.DataFrame:
    """``pairs`` (``user_id, movie_id`` [+ ``rank_in_<source>``]) with the ``columns``.

    Row order follows ``pairs``; users are looked up among the stage's known users.
    """
    users = pairs[USER_ID].to_numpy().astype(np.int64)
    distinct, inverse = np.unique(users, return_inverse=True)
    context = stage.store.known_users(distinct)
    extra = {c: pairs[c].cast(pl.Float64).to_numpy() for c in pairs.columns
             if c.startswith("rank_in_")}
    matrix = pair_features(stage, context, inverse, pairs[MOVIE_ID].to_numpy(), columns, extra)
    features = pl.DataFrame(matrix, schema=list(columns), orient="row")
    return pl.concat([pairs.select(USER_ID, MOVIE_ID), features], how="horizontal")


def to_matrix(rows: pl.DataFrame, columns: tuple[str, ...]) -> np.ndarray:
    """The feature columns as a float32 matrix, nulls as NaN."""
    return rows.select(pl.col(c).cast(pl.Float32) for c in columns).to_numpy()
