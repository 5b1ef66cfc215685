"""ItemKNN cosine with shrinkage on the like matrix (Sarwar et al. 2001; the shrunk form of
Dacrema et al.'s ``Compute_Similarity``).

With X the users x items like matrix and c_ij = x_i . x_j the co-like counts::

    s_ij = c_ij / (||x_i|| ||x_j|| + shrink),   s_jj = 0
    W[:, j] = the ``neighbours`` largest s_ij of column j (target j's neighbours i)
    score(u, j) = sum_i x_ui W_ij

The shrink term pulls similarities computed from few co-likes towards 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from reco.config import ConfigBase, check_int, check_range
from reco.data.split import LIKE_THRESHOLD
from reco.evaluation.peers._item_item import ItemItemPeer, keep_top


@dataclass(frozen=True)
class ItemKNNConfig(ConfigBase):
    """Neighbourhood size and shrink of :class:`ItemKNNPeer`."""

    neighbours: int = 100
    shrink: float = 10.0
    like_threshold: float = LIKE_THRESHOLD

    def __post_init__(self) -> None:
        check_int("ItemKNNConfig", "neighbours", self.neighbours, 1)
        check_range("ItemKNNConfig", "shrink", self.shrink, 0.0)
        check_range("ItemKNNConfig", "like_threshold", self.like_threshold, 0.0, 10.0)


class ItemKNNPeer(ItemItemPeer):
    """Item-based k nearest neighbours, cosine with shrink (formula in the module doc)."""

    name = "itemknn"
    config_class = ItemKNNConfig
    config: ItemKNNConfig

    def _weights(self, likes: sp.csr_matrix) -> sp.csr_matrix:
        co = np.asarray((likes.T @ likes).toarray(), dtype=np.float32)
        norms = np.sqrt(np.diag(co)).astype(np.float32)
        sim = co / (norms[:, None] * norms[None, :] + np.float32(self.config.shrink) + 1e-9)
        np.fill_diagonal(sim, 0.0)
        return keep_top(sim, self.config.neighbours, axis=0)
