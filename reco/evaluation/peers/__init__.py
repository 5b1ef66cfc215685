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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from reco.config import ConfigBase, check_int
from reco.data.split import LIKE_THRESHOLD, per_user_split
from reco.evaluation.metrics import evaluate_topn
from reco.evaluation.peers.external import (
    ImplicitALSPeer,
    SurpriseSVDPeer,
    implicit_available,
    surprise_available,
)
from reco.exceptions import ModelFitError
from reco.models.base import Recommender
from reco.models.ease import EASE_MAX_ITEMS as EASE_MAX_ITEMS
from reco.models.ease import EASEConfig, EASERecommender
from reco.models.popularity import PopularityRecommender

log = logging.getLogger(__name__)

EASE_LAMBDA_GRID = (50.0, 100.0, 200.0, 300.0, 500.0, 1000.0, 2000.0)


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
