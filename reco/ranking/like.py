"""P(like) for any user context, the average user of a cold start, and one score scale.

:func:`like_features` and :func:`like_probability` run the like model on the pairs of any
:class:`~reco.ranking.user_state.UserContext`: a known user, a person folded in from
ratings, or :func:`average_user`.

The average user
----------------
An answer with no user (a fallback for an unknown id, or ratings of movies the model does
not know) still gets a P(like), and it must mean something: the like model's answer for
the *average user* of the training data. Every user-side input is the mean over the users
the stage was fitted on: the user-table columns, the user-genre preferences (per genre,
over the users who rated it), the CF and rating-model vectors and bias, the content
profile and the latest-movies vectors; the user's "now" is the model's newest rating.
Because the CF, rating and content features are dot products with those vectors, each
one equals the users' average of that feature for the movie: the average predicted
rating, the average CF affinity. Nothing is invented; nothing about a person is assumed
beyond "like the people we know, on average".

One score scale
---------------
With the default ``binary:logistic`` objective the ranker's output is already a
probability (that the user likes the movie next, among their candidates); a
``rank:*`` ranker gives margins, which :func:`unit_scores` maps through the logistic so
every score lies in [0, 1] and keeps its order.
"""

from __future__ import annotations

import numpy as np

from reco.ranking.booster import Booster, predict
from reco.ranking.pair_features import pair_features
from reco.ranking.schema import LIKE_FEATURES
from reco.ranking.stage_arrays import FeatureStore
from reco.ranking.stage_one import StageOne
from reco.ranking.user_state import NEW_USER, UserContext

#: Users per block when averaging the latest-movies vectors (bounds the temporaries).
_BLOCK = 8192


def _mean_rows(matrix: np.ndarray) -> np.ndarray:
    """Column means over the rows that are finite (NaN where none is)."""
    values = np.asarray(matrix, dtype=np.float64)
    finite = np.isfinite(values)
    count = finite.sum(axis=0)
    total = np.where(finite, values, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _mean_recent(store: FeatureStore) -> tuple[np.ndarray, np.ndarray]:
    ids = store.users.ids
    sums: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    for start in range(0, ids.size, _BLOCK):
        # the store's own gather of known users' latest-movies vectors, a block at a time
        block = store._recent_known(ids[start:start + _BLOCK])[:2]
        for n, vectors in enumerate(block):
            values = np.asarray(vectors, dtype=np.float64)
            finite = np.isfinite(values).all(axis=1)
            part = values[finite].sum(axis=0)
            if len(sums) <= n:
                sums.append(part)
                counts.append(np.array(finite.sum()))
            else:
                sums[n] += part
                counts[n] += finite.sum()
    if not sums:
        return (np.full(store.cf_items.shape[1], np.nan),
                np.full(1 if store.content is None else store.content_emb.shape[1], np.nan))
    out = [s / c if c > 0 else np.full(s.shape, np.nan) for s, c in zip(sums, counts)]
    return out[0], out[1]


def average_user(store: FeatureStore) -> UserContext:
    """The average user of the stage (see the module docstring); built once per store."""
    cached = store.__dict__.get("_average_user")
    if cached is not None:
        return cached
    stage = store.stage
    prefs = store.user_prefs.reshape(len(store.users), -1)
    genre_prefs = _mean_rows(prefs).reshape(store.user_prefs.shape[1:]) if len(store.users) \
        else np.full(store.user_prefs.shape[1:], np.nan)
    rating = np.full(1, np.nan)
    rating_bias = np.nan
    if store.rating is not None:
        vectors, bias, _, _, _ = store.rating.rating_terms()
        rating, rating_bias = _mean_rows(vectors), float(np.mean(bias))
    content = np.full(1, np.nan)
    if store.content is not None:
        content = _mean_rows(store.content.profiles_)
    recent_cf, recent_content = _mean_recent(store)
    context = UserContext(
        ids=np.array([NEW_USER]), known=np.array([True]),
        stats=_mean_rows(store.user_stats)[None], last_timestamp=np.array([store.now]),
        genre_prefs=genre_prefs[None].astype(np.float32),
        cf=_mean_rows(stage.cf.user_factors_)[None].astype(np.float32),
        rating=rating[None].astype(np.float32), rating_bias=np.array([rating_bias]),
        content=content[None].astype(np.float32),
        recent_cf=recent_cf[None].astype(np.float32),
        recent_content=recent_content[None].astype(np.float32),
        seen_indptr=np.zeros(2, dtype=np.int64), seen_movies=np.empty(0, dtype=np.int64),
        seen_ratings=np.empty(0, dtype=np.float32))
    store.__dict__["_average_user"] = context
    return context


def like_features(stage: StageOne, context: UserContext, rows: np.ndarray,
                  movie_ids: np.ndarray) -> np.ndarray:
    """The like model's feature rows (``LIKE_FEATURES``) of pairs of ``context``."""
    return pair_features(stage, context, np.asarray(rows, dtype=np.int64),
                         np.asarray(movie_ids, dtype=np.int64), LIKE_FEATURES)


def like_probability(like_model: Booster, features: np.ndarray) -> np.ndarray:
    """P(like) of :func:`like_features` rows."""
    return predict(like_model, features, LIKE_FEATURES)


def unit_scores(scores: np.ndarray, objective: str) -> np.ndarray:
    """Ranker scores on [0, 1]: as they are for ``binary:logistic`` (probabilities), else
    the logistic of the margin (same order, not a calibrated probability)."""
    values = np.asarray(scores, dtype=np.float64)
    if objective == "binary:logistic":
        return np.clip(values, 0.0, 1.0)
    return 1.0 / (1.0 + np.exp(-values))
