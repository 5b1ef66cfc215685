"""The peers the evaluation protocol compares reco against (``docs/EVALUATION.md``).

Each is a :class:`~reco.models.base.Recommender`, so :func:`reco.evaluation.metrics.evaluate_topn`
measures them exactly as it measures reco's own models.

Untuned reference peers (fixed settings; they anchor the history of the figures),
listed by :func:`peer_factories`:

* :class:`~reco.models.popularity.PopularityRecommender`: most liked movies;
* :class:`EASERecommender` (lambda 300): Steck's closed-form item-item model on the likes;
* :class:`TruncatedSVDPeer`: a rank-20 truncated SVD of the raw rating matrix;
* :class:`~reco.evaluation.peers.external.ImplicitALSPeer` and
  :class:`~reco.evaluation.peers.external.SurpriseSVDPeer`: wrappers of the ``implicit`` and
  ``scikit-surprise`` packages, available when those import.

Tuned peers (the bar reco is measured against), listed by
:func:`~reco.evaluation.peers.tuned.tuned_peers`, each tuned by
:func:`~reco.evaluation.peers.tuning.tune` on an inner split of train: EASE,
:class:`~reco.evaluation.peers.ease_recency.EASERecencyPeer`, implicit ALS,
:class:`~reco.evaluation.peers.slim.SLIMPeer`, :class:`~reco.evaluation.peers.rp3beta.RP3betaPeer`
and :class:`~reco.evaluation.peers.itemknn.ItemKNNPeer`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from reco.config import ConfigBase, check_int
from reco.evaluation.peers.ease_recency import EASERecencyConfig, EASERecencyPeer, SharedEASE
from reco.evaluation.peers.external import (
    ImplicitALSPeer,
    SurpriseSVDPeer,
    implicit_available,
    surprise_available,
)
from reco.evaluation.peers.itemknn import ItemKNNConfig, ItemKNNPeer
from reco.evaluation.peers.rp3beta import RP3betaConfig, RP3betaPeer
from reco.evaluation.peers.slim import SLIMConfig, SLIMPeer
from reco.evaluation.peers.tuning import TuneResult, tune
from reco.exceptions import ModelFitError
from reco.models.base import Recommender
from reco.models.ease import EASE_MAX_ITEMS as EASE_MAX_ITEMS
from reco.models.ease import EASEConfig, EASERecommender
from reco.models.popularity import PopularityRecommender

__all__ = [
    "EASEConfig", "EASERecencyConfig", "EASERecencyPeer", "EASERecommender", "ItemKNNConfig",
    "ItemKNNPeer", "PEER_NAMES", "RP3betaConfig", "RP3betaPeer", "SLIMConfig", "SLIMPeer",
    "SharedEASE", "TruncatedSVDConfig", "TruncatedSVDPeer", "TuneResult", "peer_factories", "tune",
]

log = logging.getLogger(__name__)


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
        PEER_NAMES["ease"]: SharedEASE,  # EASERecommender's numbers, solves shared
        PEER_NAMES["truncated_svd"]: TruncatedSVDPeer,
    }
    if not available_only or implicit_available():
        factories[PEER_NAMES["implicit_als"]] = ImplicitALSPeer
    if not available_only or surprise_available():
        factories[PEER_NAMES["surprise_svd"]] = SurpriseSVDPeer
    return factories
