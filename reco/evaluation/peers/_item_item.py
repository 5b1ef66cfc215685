"""The part the item-item peers share (ItemKNN, RP3beta, SLIM): a sparse items x items
weight matrix W learned from the like matrix X, and ``score(u, .) = x_u W``.

Each peer supplies :meth:`ItemItemPeer._weights` (X -> W). W is kept as the three arrays of
a CSR matrix, so it saves to ``.npz`` like every other recommender (no pickle).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from reco.exceptions import ModelFitError
from reco.models.base import Recommender


def like_matrix(ratings: sp.csr_matrix, threshold: float) -> sp.csr_matrix:
    """Binary float32 users x items matrix: 1 where the rating is at least ``threshold``."""
    likes = sp.csr_matrix((ratings >= threshold).astype(np.float32))
    likes.eliminate_zeros()
    return likes


def keep_top(weights: np.ndarray, n: int, axis: int) -> sp.csr_matrix:
    """``weights`` with only the ``n`` largest positive entries of each row (``axis=1``) or
    each column (``axis=0``) kept, as CSR. Ties at the cut go as :func:`numpy.argpartition`
    puts them (the same on every run)."""
    dense = weights if axis == 1 else weights.T
    n = min(n, dense.shape[1])
    rows, cols, vals = [], [], []
    for start in range(0, dense.shape[0], 1024):  # bounds the argsort temporaries
        block = dense[start : start + 1024]
        order = np.argpartition(-block, n - 1, axis=1)[:, :n]  # the n largest, unordered
        top = np.take_along_axis(block, order, axis=1)
        keep = top > 0
        rows.append((np.arange(block.shape[0])[:, None] + start).repeat(n, axis=1)[keep])
        cols.append(order[keep])
        vals.append(top[keep])
    kept = sp.csr_matrix(
        (np.concatenate(vals).astype(np.float32), (np.concatenate(rows), np.concatenate(cols))),
        shape=dense.shape)
    return kept if axis == 1 else sp.csr_matrix(kept.T)


class ItemItemPeer(Recommender):
    """A peer scoring ``x_u W``: x_u the user's binary likes, W sparse items x items."""

    state_arrays: ClassVar[tuple[str, ...]] = ("W_data", "W_indices", "W_indptr")

    @abstractmethod
    def _weights(self, likes: sp.csr_matrix) -> sp.csr_matrix:
        """W (items x items, zero diagonal) from the binary like matrix."""

    def _fit(self, matrix: sp.csr_matrix, **context: Any) -> None:
        likes = like_matrix(matrix, self.config.like_threshold)  # type: ignore[attr-defined]
        if likes.nnz == 0:
            raise ModelFitError(f"{type(self).__name__}: no like to learn from")
        weights = sp.csr_matrix(self._weights(likes), dtype=np.float32)
        weights.setdiag(0.0)  # an item never recommends itself (and is seen anyway)
        weights.eliminate_zeros()
        weights.sort_indices()
        self.W_data_ = weights.data
        self.W_indices_ = weights.indices.astype(np.int64)
        self.W_indptr_ = weights.indptr.astype(np.int64)

    @property
    def weights_(self) -> sp.csr_matrix:
        """W as a CSR matrix (a view of the saved arrays)."""
        n = self.n_items
        return sp.csr_matrix((self.W_data_, self.W_indices_, self.W_indptr_), shape=(n, n))

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        likes = like_matrix(self.seen_[users], self.config.like_threshold)  # type: ignore[attr-defined]
        return np.asarray((likes @ self.weights_).toarray(), dtype=np.float32)

    def _fold_in(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        liked = items[values >= self.config.like_threshold]  # type: ignore[attr-defined]
        x = sp.csr_matrix((np.ones(liked.size, np.float32), (np.zeros(liked.size, np.int64),
                                                             liked)), shape=(1, self.n_items))
        return np.asarray((x @ self.weights_).toarray()[0], dtype=np.float32)
