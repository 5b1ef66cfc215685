"""Most-popular recommender: the protocol's simplest peer and reco's cold-start fallback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from reco._numeric import top_k
from reco.config import ConfigBase, check_range
from reco.models.base import Recommender


@dataclass(frozen=True)
class PopularityConfig(ConfigBase):
    """Rank movies by their number of likes (ratings >= ``like_threshold``)."""

    like_threshold: float = 3.5

    def __post_init__(self) -> None:
        check_range("PopularityConfig", "like_threshold", self.like_threshold, 0.0, 10.0)


class PopularityRecommender(Recommender):
    """Scores every movie by its count of likes in training, the same for every user.

    Ties (equal like counts) go to the movie with more ratings, then the lower id.
    """

    name = "popularity"
    config_class = PopularityConfig
    config: PopularityConfig
    state_arrays = ("scores",)
    item_arrays = ("scores",)

    def _fit(self, matrix: sp.csr_matrix, **context: Any) -> None:
        likes = np.asarray((matrix >= self.config.like_threshold).sum(axis=0)).ravel()
        counts = np.diff(matrix.tocsc().indptr)
        # counts < number of users, so this keeps likes first and breaks ties by count
        self.scores_ = (likes * (matrix.shape[0] + 1.0) + counts).astype(np.float64)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.scores_, (len(users), self.scores_.size))

    def _fold_in(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        return self.scores_.copy()

    def top_allowed(self, allowed: np.ndarray,
                    k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Item indices of the ``k`` most popular movies among ``allowed`` (a boolean mask
        over the items; every allowed one when ``k`` is None), best first, with their
        scores: the candidate source and the API's fallback list."""
        self._check_fitted()
        scores = np.where(allowed, self.scores_, -np.inf)
        idx, vals = top_k(scores[None, :], int(np.count_nonzero(allowed)) if k is None else k)
        keep = idx[0] >= 0
        return idx[0][keep], vals[0][keep]
