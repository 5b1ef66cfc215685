"""EASE with a recency-weighted user vector: Steck's item-item weights B, learned as
:class:`~reco.models.ease.EASERecommender` learns them, applied to a user vector whose
likes fade with age.

A user's likes are ranked newest first (r = 0, 1, ...; by timestamp, then movie id) and
weighted ``w = 0.5 ** (r / half_life)``: the ``half_life``-th most recent like counts half.
Scores are ``w_u B`` instead of ``x_u B``; half_life = inf is plain EASE. Rank, not age in
days, so the same half-life means the same on releases with different rating rates.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import scipy.linalg
import scipy.sparse as sp

from reco.columns import MOVIE_ID, RATING, TIMESTAMP, USER_ID
from reco.config import ConfigBase, check_range
from reco.data.split import LIKE_THRESHOLD
from reco.evaluation.peers._item_item import like_matrix
from reco.exceptions import ConfigError, ModelFitError
from reco.models.base import Recommender
from reco.models.ease import EASE_MAX_ITEMS, EASERecommender

#: The last B solved, by (like matrix digest, lambda), most recent last: tuning the half-life
#: refits the same matrix at the same lambda several times, the EASE lines of one run share
#: lambdas, and B is the whole cost of a fit. Four entries bound the memory (4 x 256 MB at
#: ml-latest-small's 8,000 liked items).
_RECENT_B: OrderedDict[tuple[str, float], tuple[np.ndarray, np.ndarray]] = OrderedDict()
_RECENT_B_SIZE = 4


def ease_weights(likes: sp.csr_matrix, lam: float, max_items: int | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """EASE's (active items, B) for the binary ``likes``, exactly as
    :class:`~reco.models.ease.EASERecommender` computes them; the last result is kept, so
    refitting the same matrix at the same lambda (another half-life) costs nothing."""
    digest = hashlib.sha1(likes.indptr.tobytes() + likes.indices.tobytes()).hexdigest()
    key = (f"{digest}:{likes.shape}", float(lam))
    if key in _RECENT_B:
        _RECENT_B.move_to_end(key)
        return _RECENT_B[key]
    active = np.flatnonzero(np.diff(likes.tocsc().indptr))
    limit = max_items or EASE_MAX_ITEMS
    if active.size > limit:
        raise ModelFitError(f"EASE would need a dense {active.size:,} x {active.size:,} "
                            f"matrix but max_items is {limit:,}")
    if active.size == 0:
        raise ModelFitError("no like: EASE has nothing to learn from")
    x = likes[:, active].astype(np.float64)
    gram = np.asarray((x.T @ x).toarray())
    gram[np.diag_indices_from(gram)] += lam
    p = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
    del gram
    p /= -np.diag(p)  # column j divided by -P_jj
    np.fill_diagonal(p, 0.0)
    result = (active.astype(np.int64), p.astype(np.float32))
    _RECENT_B[key] = result
    while len(_RECENT_B) > _RECENT_B_SIZE:
        _RECENT_B.popitem(last=False)
    return result


@dataclass(frozen=True)
class EASERecencyConfig(ConfigBase):
    """EASE's ``lam`` and the half-life (in likes, newest first) of the user vector."""

    lam: float = 300.0
    half_life: float = 20.0
    like_threshold: float = LIKE_THRESHOLD
    max_items: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.lam, bool) or not isinstance(self.lam, (int, float)) or self.lam <= 0:
            raise ConfigError(f"EASERecencyConfig.lam must be > 0, got {self.lam!r}")
        check_range("EASERecencyConfig", "half_life", self.half_life, 1e-9)
        check_range("EASERecencyConfig", "like_threshold", self.like_threshold, 0.0, 10.0)


def recency_weights(ratings: pl.DataFrame, half_life: float, threshold: float) -> pl.DataFrame:
    """``user_id, movie_id, weight`` for every like in ``ratings``: 0.5 ** (rank / half_life),
    rank 0 the user's newest like (ties: the higher movie id is newer)."""
    rank = pl.int_range(pl.len()).over(USER_ID)
    likes = (ratings.filter(pl.col(RATING) >= threshold)
             .sort([USER_ID, TIMESTAMP, MOVIE_ID], descending=[False, True, True])
             .with_columns(rank.alias("_rank")))
    decay = 0.0 if math.isinf(half_life) else 1.0 / half_life
    return likes.select(USER_ID, MOVIE_ID,
                        (0.5 ** (pl.col("_rank").cast(pl.Float64) * decay)).alias("weight"))


class EASERecencyPeer(Recommender):
    """EASE scored from a recency-weighted like vector (see the module docstring).

    Needs timestamps: :meth:`fit` takes a ratings frame with ``timestamp``.
    """

    name = "ease_recency"
    config_class = EASERecencyConfig
    config: EASERecencyConfig
    state_arrays = ("active", "B", "weights_data", "weights_indices", "weights_indptr")

    def fit(self, ratings: pl.DataFrame, movies: pl.DataFrame | None = None,
            **context: Any) -> EASERecencyPeer:
        """Fit on canonical ratings (with timestamps, which order each user's likes)."""
        return super().fit(ratings, movies, train_ratings=ratings, **context)

    def _fit(self, matrix: sp.csr_matrix, **context: Any) -> None:
        ratings: pl.DataFrame | None = context.get("train_ratings")
        if ratings is None or TIMESTAMP not in ratings.columns:
            raise ModelFitError("EASERecencyPeer needs the ratings frame with timestamps "
                                "(fit(ratings)); the matrix alone has no order")
        cfg = self.config
        self.active_, self.B_ = ease_weights(like_matrix(matrix, cfg.like_threshold),
                                             cfg.lam, cfg.max_items)
        w = recency_weights(ratings, cfg.half_life, cfg.like_threshold)
        users = self.user_map_.indices(w[USER_ID].to_numpy(), missing="mask")
        items = self.item_map_.indices(w[MOVIE_ID].to_numpy(), missing="mask")
        ok = (users >= 0) & (items >= 0)
        weights = sp.csr_matrix((w["weight"].to_numpy()[ok].astype(np.float32),
                                 (users[ok], items[ok])), shape=matrix.shape)
        weights.sort_indices()
        self.weights_data_ = weights.data
        self.weights_indices_ = weights.indices.astype(np.int64)
        self.weights_indptr_ = weights.indptr.astype(np.int64)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        weights = sp.csr_matrix((self.weights_data_, self.weights_indices_,
                                 self.weights_indptr_), shape=self.seen_.shape)[users]
        scores = np.zeros((len(users), self.n_items), dtype=np.float32)
        scores[:, self.active_] = weights[:, self.active_] @ self.B_
        return scores

    def _fold_in(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        """A new user's likes, in the order given taken as oldest to newest."""
        liked = items[values >= self.config.like_threshold]
        x = np.zeros(self.n_items, dtype=np.float32)
        rank = np.arange(liked.size)[::-1]  # the last given is the newest
        x[liked] = 0.5 ** (rank / self.config.half_life)
        scores = np.zeros(self.n_items, dtype=np.float32)
        scores[self.active_] = x[self.active_] @ self.B_
        return scores


class SharedEASE(EASERecommender):
    """:class:`~reco.models.ease.EASERecommender` with its B from :func:`ease_weights` (the
    same numbers), so the evaluation's EASE lines (tuned, lambda 300, recency-weighted)
    share the solves of one run instead of repeating them."""

    def _fit(self, matrix: sp.csr_matrix, **context: Any) -> None:
        self.active_, self.B_ = ease_weights(like_matrix(matrix, self.config.like_threshold),
                                             self.config.lam, self.config.max_items)
