"""RP3beta (Paudel et al., ACM TiiS 2017): a 3-step random walk user -> item -> user ->
item on the like graph, its transition probabilities raised to ``alpha`` and the landing
item's popularity discounted by ``beta``.

With X the binary users x items like matrix, d_u = sum_j X_uj and p_j = sum_u X_uj::

    P_ui = X_ui / d_u,   P_iu = X_ui / p_i
    W_ij = (P_iu^alpha P_ui^alpha)_ij / p_j^beta,   W_ii = 0   (powers elementwise)
    each row i of W keeps its ``neighbours`` largest entries (as Dacrema et al.'s
    implementation does), and score(u, j) = sum_i X_ui W_ij

alpha = 1, beta = 0 is P3alpha's plain 3-step walk; beta > 0 lifts the long tail.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from reco.config import ConfigBase, check_int, check_range
from reco.data.split import LIKE_THRESHOLD
from reco.evaluation.peers._item_item import ItemItemPeer, keep_top


@dataclass(frozen=True)
class RP3betaConfig(ConfigBase):
    """The walk's exponent ``alpha``, the popularity discount ``beta`` and the neighbours
    kept per item (0: all)."""

    alpha: float = 0.5
    beta: float = 0.5
    neighbours: int = 200
    like_threshold: float = LIKE_THRESHOLD

    def __post_init__(self) -> None:
        check_range("RP3betaConfig", "alpha", self.alpha, 0.0, 5.0)
        check_range("RP3betaConfig", "beta", self.beta, 0.0, 5.0)
        check_int("RP3betaConfig", "neighbours", self.neighbours, 0)
        check_range("RP3betaConfig", "like_threshold", self.like_threshold, 0.0, 10.0)


def _row_normalised(matrix: sp.csr_matrix, power: float) -> sp.csr_matrix:
    """Each row divided by its sum, then raised to ``power`` (elementwise; rows of 0 stay 0)."""
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    out = sp.csr_matrix(sp.diags(1.0 / np.maximum(sums, 1e-12)) @ matrix, dtype=np.float64)
    out.data **= power
    return out


class RP3betaPeer(ItemItemPeer):
    """RP3beta (formula in the module docstring)."""

    name = "rp3beta"
    config_class = RP3betaConfig
    config: RP3betaConfig

    def _weights(self, likes: sp.csr_matrix) -> sp.csr_matrix:
        cfg = self.config
        p_ui = _row_normalised(likes, cfg.alpha)
        p_iu = _row_normalised(sp.csr_matrix(likes.T), cfg.alpha)
        walk = np.asarray((p_iu @ p_ui).toarray(), dtype=np.float32)
        popularity = np.asarray(likes.sum(axis=0)).ravel()
        walk /= np.power(np.maximum(popularity, 1.0), cfg.beta, dtype=np.float64
                         ).astype(np.float32)[None, :]
        np.fill_diagonal(walk, 0.0)
        if cfg.neighbours == 0 or cfg.neighbours >= walk.shape[1]:
            return sp.csr_matrix(walk)
        return keep_top(walk, cfg.neighbours, axis=1)
