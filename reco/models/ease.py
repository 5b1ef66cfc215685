"""EASE (Steck, WWW 2019): the closed-form item-item model on the like matrix.

Used by the evaluation as a peer and by the two-stage model as a stage-one source (on the
most liked items when the catalog is too large for a dense items x items matrix).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from reco.config import ConfigBase, check_int, check_range
from reco.exceptions import ConfigError, ModelFitError
from reco.models.base import Recommender

log = logging.getLogger(__name__)

#: EASE holds dense items x items matrices; above this many liked items it refuses to fit
#: unless ``EASEConfig.max_items`` raises the cap (30k items take ~7 GB per float64 copy).
EASE_MAX_ITEMS = 30_000
_GRAM_BATCH = 4096


@dataclass(frozen=True)
class EASEConfig(ConfigBase):
    """EASE on the binary like matrix.

    Parameters
    ----------
    lam
        The L2 penalty lambda added to the Gram matrix's diagonal.
    like_threshold
        A rating at or above it is a like (an entry 1 of X).
    max_items
        The most liked items EASE may model; None means :data:`EASE_MAX_ITEMS`. Memory
        grows as 16 * n_items^2 bytes at the peak (the Gram matrix and its inverse).
    """

    lam: float = 300.0
    like_threshold: float = 3.5
    max_items: int | None = None

    def __post_init__(self) -> None:
        check_range("EASEConfig", "lam", self.lam, 0.0)
        if self.lam <= 0:
            raise ConfigError(f"EASEConfig.lam must be > 0, got {self.lam!r}")
        check_range("EASEConfig", "like_threshold", self.like_threshold, 0.0, 10.0)
        if self.max_items is not None:
            check_int("EASEConfig", "max_items", self.max_items, 1)


def _like_matrix(ratings: sp.csr_matrix, threshold: float) -> sp.csr_matrix:
    likes = (ratings >= threshold).astype(np.float64)
    likes.eliminate_zeros()
    return sp.csr_matrix(likes)


class EASERecommender(Recommender):
    """Embarrassingly Shallow Autoencoder (Steck, WWW 2019), closed form.

    With X the users x items like matrix (1 where rating >= threshold)::

        G = X^T X + lambda I,   P = G^-1,   B_ij = -P_ij / P_jj,   B_jj = 0
        score(u, j) = sum_i X_ui B_ij

    which minimises ||X - X B||^2 + lambda ||B||^2 subject to diag(B) = 0. Only items with
    at least one like are modelled (the others form a block of G that gives them B = 0,
    so their score is exactly 0 either way); ``active_`` holds their indices and ``B_``
    (float32) their weights.
    """

    name = "ease"
    config_class = EASEConfig
    config: EASEConfig
    state_arrays = ("active", "B")

    @classmethod
    def with_lambda(cls, lam: float, **config: Any) -> EASERecommender:
        """An unfitted EASE with penalty ``lam`` (e.g. from :func:`tune_ease_lambda`)."""
        return cls(EASEConfig(lam=float(lam), **config))

    def _fit(self, matrix: sp.csr_matrix, **context: Any) -> None:
        likes = _like_matrix(matrix, self.config.like_threshold)
        active = np.flatnonzero(np.diff(likes.tocsc().indptr))
        limit = self.config.max_items or EASE_MAX_ITEMS
        if active.size > limit:
            raise ModelFitError(
                f"EASE would need a dense {active.size:,} x {active.size:,} matrix "
                f"(~{16 * active.size**2 / 1e9:.1f} GB at the peak) but max_items is {limit:,}; "
                "set EASEConfig(max_items=...) higher to allow it"
            )
        if active.size == 0:
            raise ModelFitError(f"no rating >= {self.config.like_threshold}: EASE has nothing "
                                "to learn from")
        started = time.perf_counter()
        x = likes[:, active]
        gram = np.zeros((active.size, active.size))
        for start in range(0, x.shape[0], _GRAM_BATCH):  # X^T X without a sparse n^2 product
            chunk = x[start : start + _GRAM_BATCH]
            gram += chunk.T @ chunk.toarray()
        gram[np.diag_indices_from(gram)] += self.config.lam
        p = scipy.linalg.inv(gram, overwrite_a=True, check_finite=False)
        del gram
        p /= -np.diag(p)  # column j divided by -P_jj
        np.fill_diagonal(p, 0.0)
        self.active_ = active.astype(np.int64)
        self.B_ = p.astype(np.float32)
        log.info("EASE: %d liked items, lambda %g, solved in %.2fs", active.size,
                 self.config.lam, time.perf_counter() - started)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        likes = _like_matrix(self.seen_[users], self.config.like_threshold)
        scores = np.zeros((len(users), self.n_items), dtype=np.float32)
        scores[:, self.active_] = likes[:, self.active_].astype(np.float32) @ self.B_
        return scores

    def _fold_in(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        x = np.zeros(self.n_items, dtype=np.float32)
        x[items[values >= self.config.like_threshold]] = 1.0
        scores = np.zeros(self.n_items, dtype=np.float32)
        scores[self.active_] = x[self.active_] @ self.B_
        return scores


