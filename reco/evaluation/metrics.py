"""The metrics of the evaluation protocol (``docs/EVALUATION.md``, reco-eval v1).

Top-N ranking at cut-off ``k`` for a user with relevant set ``R`` (``|R| >= 1``) and a
recommended list ``r_1 .. r_k``, with ``h_j = 1`` when ``r_j`` is in ``R`` (binary gains)::

    DCG@k       = sum_j h_j / log2(j + 1)                       j = 1 .. k
    IDCG@k      = sum_{j <= min(|R|, k)} 1 / log2(j + 1)        (every hit on top)
    NDCG@k      = DCG@k / IDCG@k
    Recall@k    = sum_j h_j / |R|
    Precision@k = sum_j h_j / k
    HitRate@k   = 1 if any h_j else 0
    AP@k        = sum_j h_j * (sum_{i <= j} h_i / j) / min(|R|, k)     (MAP@k is its mean)

Every figure is the mean over users. Catalogue coverage is the number of distinct movies
recommended to anyone divided by the number of candidate movies. :func:`evaluate_topn`
runs the protocol end to end; :func:`classification_metrics` and :func:`rating_metrics`
cover the like/dislike and rating-prediction parts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import polars as pl
import scipy.sparse as sp

from reco._numeric import top_k
from reco.columns import MOVIE_ID, RATING, USER_ID
from reco.config import check_int
from reco.data.split import LIKE_THRESHOLD
from reco.ids import rating_matrix

if TYPE_CHECKING:
    from reco.data.split import Split
    from reco.models.base import BaseRecommender

log = logging.getLogger(__name__)

Relevant: TypeAlias = Sequence[Any] | sp.spmatrix | sp.sparray | Mapping[Any, Any]


# ---------------------------------------------------------------------------- top-N
def _relevant_pairs(relevant: Relevant, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Flatten ``relevant`` to (row, movie id) pairs, one row per recommended list."""
    if sp.issparse(relevant):
        matrix = sp.csr_matrix(relevant, copy=True)
        matrix.eliminate_zeros()
        if matrix.shape[0] != n_users:
            raise ValueError(f"relevant has {matrix.shape[0]} rows for {n_users} users")
        rows = np.repeat(np.arange(n_users), np.diff(matrix.indptr))
        return rows, matrix.indices.astype(np.int64)
    if isinstance(relevant, Mapping):
        relevant = list(relevant.values())  # rows in the mapping's iteration order
    if len(relevant) != n_users:
        raise ValueError(f"relevant has {len(relevant)} entries for {n_users} users")
    arrays = [np.fromiter(r, dtype=np.int64) if isinstance(r, (set, frozenset))
              else np.asarray(r, dtype=np.int64).ravel() for r in relevant]
    lengths = np.array([a.size for a in arrays], dtype=np.int64)
    rows = np.repeat(np.arange(n_users), lengths)
    movies = np.concatenate(arrays) if arrays else np.empty(0, np.int64)
    return rows, movies


def _hits(recommended: np.ndarray, rows: np.ndarray, movies: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Boolean hit matrix (n_users, k) and |relevant| per user.

    A (row, movie) pair is encoded as ``row * width + movie + 1`` (padding -1 maps to the
    row's own slot 0), so membership for every user at once is a single :func:`numpy.isin`.
    A movie listed twice counts once.
    """
    n_users, k = recommended.shape
    if movies.size and movies.min() < 0:
        raise ValueError("relevant movie ids must be >= 0 (-1 is the padding id)")
    width = int(max(movies.max(initial=0), recommended.max(initial=0))) + 2
    rel_keys = np.unique(rows * width + movies + 1)
    n_relevant = np.bincount(rel_keys // width, minlength=n_users)
    rec_keys = (np.arange(n_users)[:, None] * width + recommended + 1).ravel()
    first = np.zeros(rec_keys.size, dtype=bool)
    first[np.unique(rec_keys, return_index=True)[1]] = True
    hits = np.isin(rec_keys, rel_keys) & first & (recommended.ravel() >= 0)
    return hits.reshape(n_users, k), n_relevant


def topn_metrics(
    recommended: np.ndarray, relevant: Relevant, k: int = 10, per_user: bool = False
) -> dict[str, Any]:
    """NDCG, Recall, Precision, HitRate and MAP at ``k`` (formulas in the module docstring).

    Parameters
    ----------
    recommended
        Movie ids, shape (n_users, >= k), best first, padded with -1 (never a hit). Only
        the first ``k`` columns count; a narrower array is padded to ``k``.
    relevant
        Each user's relevant movie ids, row for row: a sequence of arrays or sets, a
        mapping (its values in iteration order), or a sparse matrix whose row ``u``
        holds user ``u``'s relevant ids as column indices. Every user needs at least one.
    k
        The cut-off.
    per_user
        Return per-user arrays (float64, length n_users) instead of their means.

    Returns
    -------
    dict
        ``{"ndcg@k", "recall@k", "precision@k", "hit_rate@k", "map@k"}``.
    """
    check_int("evaluate_topn", "k", k, 1)  # a ConfigError, so a ValueError
    recommended = np.asarray(recommended)
    if recommended.ndim != 2 or not np.issubdtype(recommended.dtype, np.integer):
        raise ValueError(f"recommended must be a 2-d integer array, got {recommended.dtype} "
                         f"of shape {recommended.shape}")
    n_users = recommended.shape[0]
    if n_users == 0:
        raise ValueError("no users to evaluate")
    recommended = recommended[:, :k].astype(np.int64)
    if recommended.shape[1] < k:
        recommended = np.pad(recommended, ((0, 0), (0, k - recommended.shape[1])),
                             constant_values=-1)
    hits, n_relevant = _hits(recommended, *_relevant_pairs(relevant, n_users))
    if (n_relevant == 0).any():
        row = int(np.flatnonzero(n_relevant == 0)[0])
        raise ValueError(f"user row {row} has no relevant movies; rank only users with some")
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    n_ideal = np.minimum(n_relevant, k)
    n_hits = hits.sum(axis=1)
    precision_at = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    values = {
        "ndcg": (hits @ discount) / np.cumsum(discount)[n_ideal - 1],
        "recall": n_hits / n_relevant,
        "precision": n_hits / k,
        "hit_rate": (n_hits > 0).astype(np.float64),
        "map": (precision_at * hits).sum(axis=1) / n_ideal,
    }
    if per_user:
        return {f"{name}@{k}": v.astype(np.float64) for name, v in values.items()}
    return {f"{name}@{k}": float(v.mean()) for name, v in values.items()}


def coverage(recommended: np.ndarray, n_candidates: int) -> float:
    """Catalogue coverage: distinct movie ids in ``recommended`` (-1 ignored) / candidates."""
    if n_candidates <= 0:
        raise ValueError(f"n_candidates must be positive, got {n_candidates!r}")
    ids = np.asarray(recommended).ravel()
    return float(np.unique(ids[ids >= 0]).size / n_candidates)


# ---------------------------------------------------------------------------- protocol
def _check_not_leaky(model: BaseRecommender, test: pl.DataFrame) -> None:
    """Refuse a model whose training ratings hold any test (user, movie) pair."""
    users = model.user_map_.indices(test[USER_ID].to_numpy(), missing="mask")
    items = model.item_map_.indices(test[MOVIE_ID].to_numpy(), missing="mask")
    known = (users >= 0) & (items >= 0)
    seen = np.asarray(model.seen_[users[known], items[known]]).ravel()
    if (seen != 0).any():
        raise ValueError(
            f"{type(model).__name__} was fitted on {int((seen != 0).sum())} test rating(s); "
            "fit it on split.train"
        )


def recommend_candidates(
    model: BaseRecommender, user_ids: np.ndarray, train: pl.DataFrame, k: int = 10,
    batch_size: int = 1024,
) -> np.ndarray:
    """Top ``k`` movie ids per user among the protocol's candidates, padded with -1.

    Candidates are the movies in ``train`` minus those the user rated in ``train``. The
    model's item universe may be wider (a content model knows every movie), so this scores
    through ``model._score_users`` and masks everything else, instead of calling
    :meth:`~reco.models.base.BaseRecommender.recommend_batch`.
    """
    model._check_fitted()
    users = model.user_map_.indices(user_ids)
    train_movies = train[MOVIE_ID].unique().to_numpy()
    missing = ~np.isin(train_movies, model.item_map_.ids)
    if missing.any():
        raise ValueError(f"{type(model).__name__} cannot score {int(missing.sum())} train "
                         f"movie(s), e.g. {int(train_movies[missing][0])}; fit it on split.train")
    not_candidate = ~np.isin(model.item_map_.ids, train_movies)
    seen = rating_matrix(train, model.user_map_, model.item_map_, values=None)
    out = np.full((len(users), k), -1, dtype=np.int64)
    for start in range(0, len(users), batch_size):
        chunk = users[start : start + batch_size]
        scores = np.array(model._score_users(chunk), dtype=np.float32)  # a writable copy
        if np.isnan(scores).any():
            raise ValueError(f"{type(model).__name__} produced NaN scores")
        scores[:, not_candidate] = -np.inf
        rows = seen[chunk]
        scores[np.repeat(np.arange(len(chunk)), np.diff(rows.indptr)), rows.indices] = -np.inf
        idx, _ = top_k(scores, k)
        out[start : start + len(chunk)] = np.where(
            idx >= 0, model.item_map_.ids[np.maximum(idx, 0)], -1
        )
    return out


def evaluate_topn(
    model: BaseRecommender, split: Split, k: int = 10, like_threshold: float = LIKE_THRESHOLD,
    batch_size: int = 1024,
) -> dict[str, Any]:
    """The protocol's top-N evaluation of a model fitted on ``split.train``.

    Who: users with at least one liked test rating (``rating >= like_threshold``).
    Candidates: every train movie minus the user's train movies. Relevant: the user's
    liked test movies. Returns the :func:`topn_metrics` means plus ``coverage@k``,
    ``n_users``, ``n_candidates`` and ``predict_seconds`` (scoring and ranking time).

    Raises
    ------
    ValueError
        The model was fitted on test ratings, cannot score a train movie, or no user
        has a liked test rating.
    UnknownIdError
        A ranked user is unknown to the model.
    """
    model._check_fitted()
    _check_not_leaky(model, split.test)
    liked = (split.test.filter(pl.col(RATING) >= like_threshold)
             .group_by(USER_ID).agg(pl.col(MOVIE_ID)).sort(USER_ID))
    if liked.is_empty():
        raise ValueError("no user has a liked test rating; nothing to rank")
    user_ids = liked[USER_ID].to_numpy()
    relevant = [np.asarray(m, dtype=np.int64) for m in liked[MOVIE_ID].to_list()]
    started = time.perf_counter()
    recommended = recommend_candidates(model, user_ids, split.train, k, batch_size)
    seconds = time.perf_counter() - started
    n_candidates = int(split.train[MOVIE_ID].n_unique())
    result: dict[str, Any] = topn_metrics(recommended, relevant, k)
    result[f"coverage@{k}"] = coverage(recommended, n_candidates)
    result.update(n_users=len(user_ids), n_candidates=n_candidates, predict_seconds=seconds)
    log.info("%s: NDCG@%d %.4f over %d users in %.2fs", type(model).__name__, k,
             result[f"ndcg@{k}"], len(user_ids), seconds)
    return result


# ---------------------------------------------------------------------------- labels
def classification_metrics(
    y_true: np.ndarray, p_like: np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """ROC-AUC of ``p_like``, accuracy and F1 at ``threshold``, and the like-rate.

    ``y_true`` holds 0/1 (or boolean) like labels. AUC is NaN when only one class occurs.
    """
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    y, p = _paired(y_true, p_like, "p_like")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold 0/1 like labels")
    y = y.astype(np.int64)
    predicted = (p >= threshold).astype(np.int64)
    both = np.unique(y).size == 2
    return {
        "auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "accuracy": float(accuracy_score(y, predicted)),
        "f1": float(f1_score(y, predicted, zero_division=0.0)),
        "like_rate": float(y.mean()),
        "n": int(y.size),
    }


def rating_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """RMSE = sqrt(mean((y - y_hat)^2)) and MAE = mean(|y - y_hat|)."""
    y, p = _paired(y_true, y_pred, "y_pred")
    error = p - y
    return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error))),
            "n": int(y.size)}


def _paired(y_true: np.ndarray, y_other: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_other, dtype=np.float64).ravel()
    if y.size != p.size:
        raise ValueError(f"y_true has {y.size} values, {name} has {p.size}")
    if y.size == 0:
        raise ValueError("no values to evaluate")
    if not (np.isfinite(y).all() and np.isfinite(p).all()):
        raise ValueError(f"y_true and {name} must be finite")
    return y, p
