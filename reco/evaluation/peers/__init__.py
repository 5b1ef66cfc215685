"""The peers the evaluation protocol compares reco against (``shared/EVALUATION.md``).

Each is a :class:`~reco.models.base.Recommender`, so :func:`reco.evaluation.metrics.evaluate_topn`
measures them exactly as it measures reco's own models:

* :class:`~reco.models.popularity.PopularityRecommender`: most liked movies;
* :class:`EASERecommender`: Steck's closed-form item-item model on the like matrix;
* :class:`TruncatedSVDPeer`: a rank-20 truncated SVD of the raw rating matrix;
* :class:`~reco.evaluation.peers.external.ImplicitALSPeer` and
  :class:`~reco.evaluation.peers.external.SurpriseSVDPeer`: wrappers of the ``implicit`` and
  ``scikit-surprise`` packages, available when those import.

:func:`peer_factories` lists them for the evaluation script.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import scipy.linalg
import scipy.sparse as sp

from reco.config import ConfigBase, check_int, check_range
from reco.data.split import LIKE_THRESHOLD, per_user_split
from reco.evaluation.metrics import evaluate_topn
from reco.evaluation.peers.external import (
    ImplicitALSPeer,
    SurpriseSVDPeer,
    implicit_available,
    surprise_available,
)
from reco.exceptions import ConfigError, ModelFitError
from reco.models.base import Recommender
from reco.models.popularity import PopularityRecommender

log = logging.getLogger(__name__)

#: EASE holds dense items x items matrices; above this many liked items it refuses to fit
#: unless ``EASEConfig.max_items`` raises the cap (30k items take ~7 GB per float64 copy).
EASE_MAX_ITEMS = 30_000
EASE_LAMBDA_GRID = (50.0, 100.0, 200.0, 300.0, 500.0, 1000.0, 2000.0)
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
    like_threshold: float = LIKE_THRESHOLD
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


def tune_ease_lambda(
    train: pl.DataFrame, grid: Sequence[float] = EASE_LAMBDA_GRID, k: int = 10,
    like_threshold: float = LIKE_THRESHOLD, max_items: int | None = None,
) -> tuple[float, pl.DataFrame]:
    """Pick EASE's lambda by NDCG@k on an inner validation split of ``train`` only.

    The inner split is :func:`~reco.data.split.per_user_split` applied to ``train`` (each
    user's last 20% of training ratings), so no outer test rating is ever seen. Ties go
    to the earlier lambda in ``grid``.

    Returns
    -------
    (best_lambda, table)
        ``table`` has one row per lambda: ``lam`` and the :func:`evaluate_topn` metrics.
    """
    if not grid:
        raise ValueError("grid must hold at least one lambda")
    inner = per_user_split(train)
    rows = []
    for lam in grid:
        model = EASERecommender(EASEConfig(lam=float(lam), like_threshold=like_threshold,
                                           max_items=max_items)).fit(inner.train)
        rows.append({"lam": float(lam), **evaluate_topn(model, inner, k, like_threshold)})
        log.info("EASE lambda %g: inner NDCG@%d %.4f", lam, k, rows[-1][f"ndcg@{k}"])
    table = pl.DataFrame(rows)
    best = float(table["lam"][int(np.argmax(table[f"ndcg@{k}"].to_numpy()))])
    return best, table


@dataclass(frozen=True)
class TruncatedSVDConfig(ConfigBase):
    """Rank and seed of :class:`TruncatedSVDPeer` (scikit-learn's randomized solver)."""

    n_components: int = 20
    n_iter: int = 5
    random_state: int = 0

    def __post_init__(self) -> None:
        for field in ("n_components", "n_iter"):
            check_int("TruncatedSVDConfig", field, getattr(self, field), 1)


class TruncatedSVDPeer(Recommender):
    """Truncated SVD of the raw (uncentred) users x items rating matrix R ~ U S V^T.

    ``user_factors_`` = U S (= R V) and ``item_factors_`` = V, so scores = U S V^T; a new
    user's row r folds in as r V V^T.
    """

    name = "truncated_svd"
    config_class = TruncatedSVDConfig
    config: TruncatedSVDConfig
    state_arrays = ("user_factors", "item_factors", "singular_values")

    def _fit(self, matrix: sp.csr_matrix, **context: Any) -> None:
        from sklearn.decomposition import TruncatedSVD

        if self.config.n_components > min(matrix.shape):
            raise ModelFitError(f"n_components {self.config.n_components} exceeds the "
                                f"rating matrix's smaller side {min(matrix.shape)}")
        svd = TruncatedSVD(n_components=self.config.n_components, n_iter=self.config.n_iter,
                           random_state=self.config.random_state)
        self.user_factors_ = svd.fit_transform(matrix.astype(np.float64)).astype(np.float32)
        self.item_factors_ = svd.components_.T.astype(np.float32)
        self.singular_values_ = svd.singular_values_.astype(np.float32)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users] @ self.item_factors_.T

    def _fold_in(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        return (values @ self.item_factors_[items]) @ self.item_factors_.T

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_ * self.singular_values_


#: Each peer's line in the protocol's reference table, keyed by its model ``name``.
PEER_NAMES = {
    "popularity": "most popular (count of likes)",
    "ease": "EASE (lambda 300, on likes)",
    "truncated_svd": "truncated SVD of the rating matrix (k 20)",
    "implicit_als": "implicit ALS (64 factors, reg 0.05, alpha 2, on likes)",
    "surprise_svd": "Surprise SVD (defaults), ranked by predicted rating",
}


def peer_factories(available_only: bool = True) -> dict[str, Callable[..., Recommender]]:
    """The protocol's peers, keyed by their line in the reference table (:data:`PEER_NAMES`).

    Each callable builds an unfitted model (optionally from a config). ``available_only``
    drops the wrappers whose package does not import (``implicit``, ``surprise``).
    """
    factories: dict[str, Callable[..., Recommender]] = {
        PEER_NAMES["popularity"]: PopularityRecommender,
        PEER_NAMES["ease"]: EASERecommender,
        PEER_NAMES["truncated_svd"]: TruncatedSVDPeer,
    }
    if not available_only or implicit_available():
        factories[PEER_NAMES["implicit_als"]] = ImplicitALSPeer
    if not available_only or surprise_available():
        factories[PEER_NAMES["surprise_svd"]] = SurpriseSVDPeer
    return factories
