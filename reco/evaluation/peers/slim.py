"""SLIM ElasticNet (Ning and Karypis, ICDM 2011) restricted to each item's most co-liked
neighbours, solved by coordinate descent on the Gram matrix, many items at once.

For each target item j, with X the binary users x items like matrix (n users) and N_j the
``neighbours`` items most often liked together with j (j excluded), SLIM solves
scikit-learn's ``ElasticNet(alpha, l1_ratio, positive=True, fit_intercept=False)``
objective::

    min_{w >= 0}  1/(2n) ||X_j - X_{N_j} w||^2 + alpha l1_ratio ||w||_1
                  + alpha (1 - l1_ratio) / 2 ||w||^2

and W[N_j, j] = w. Only the Gram matrix enters: with G = X^T X (co-like counts), the
coordinate update of w_k is::

    w_k = max(0, (G_kj - sum_{l != k} G_kl w_l) / n - alpha l1_ratio)
          / (G_kk / n + alpha (1 - l1_ratio))

The loop runs over the neighbour slots k for a block of 2,048 targets at once (NumPy over
the block). It reaches scikit-learn's solution (tested) in about the same time as one
scikit-learn fit per item (both ~18-25 s for ml-latest-small at 100 neighbours on 2 shared
cores, measured 2026-12-01); it needs no per-item Python loop. The neighbour restriction
is the usual SLIM speed-up (fsSLIM); weights outside N_j are 0.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from reco.config import ConfigBase, check_int, check_range
from reco.data.split import LIKE_THRESHOLD
from reco.evaluation.peers._item_item import ItemItemPeer

log = logging.getLogger(__name__)
_BLOCK = 2048  # targets per block: 2048 x 100 x 100 float32 Gram blocks are ~82 MB


@dataclass(frozen=True)
class SLIMConfig(ConfigBase):
    """scikit-learn's ElasticNet penalty (``alpha``, ``l1_ratio``), the neighbours per
    item, and the coordinate descent's stopping rule (largest change of a weight below
    ``tol`` times the largest weight, or ``max_sweeps`` sweeps)."""

    alpha: float = 0.3
    l1_ratio: float = 0.01
    neighbours: int = 100
    max_sweeps: int = 100
    tol: float = 1e-3
    like_threshold: float = LIKE_THRESHOLD

    def __post_init__(self) -> None:
        check_range("SLIMConfig", "alpha", self.alpha, 0.0)
        check_range("SLIMConfig", "l1_ratio", self.l1_ratio, 0.0, 1.0)
        check_int("SLIMConfig", "neighbours", self.neighbours, 1)
        check_int("SLIMConfig", "max_sweeps", self.max_sweeps, 1)
        check_range("SLIMConfig", "tol", self.tol, 0.0)
        check_range("SLIMConfig", "like_threshold", self.like_threshold, 0.0, 10.0)


def neighbour_sets(co: np.ndarray, n: int) -> np.ndarray:
    """Per target column j, the ``n`` items most co-liked with it (j itself excluded;
    ties at the cut go as :func:`numpy.argpartition` puts them, the same on every run);
    slots without a co-liked item hold -1. Shape (items, n)."""
    counts = co.T.copy()
    np.fill_diagonal(counts, 0.0)
    n = min(n, counts.shape[1] - 1)
    if n < 1:
        return np.full((counts.shape[0], 1), -1, dtype=np.int64)
    order = np.argpartition(-counts, n - 1, axis=1)[:, :n]  # the n largest, unordered
    return np.where(np.take_along_axis(counts, order, axis=1) > 0, order, -1)


def solve_block(gram: np.ndarray, target: np.ndarray, n_users: int, config: SLIMConfig
                ) -> np.ndarray:
    """Coordinate descent for a block of targets: ``gram`` (B, m, m) = G over each target's
    neighbours, ``target`` (B, m) = G between them and the target; returns w (B, m)."""
    l1 = config.alpha * config.l1_ratio * n_users  # the objective times n
    l2 = config.alpha * (1.0 - config.l1_ratio) * n_users
    diag = np.einsum("bkk->bk", gram)
    denom = np.maximum(diag + l2, 1e-12)
    w = np.zeros_like(target)
    gw = np.zeros_like(target)  # gram @ w, kept up to date
    sweeps = 0
    while sweeps < config.max_sweeps:
        sweeps += 1
        largest_step = 0.0
        for k in range(target.shape[1]):
            rho = target[:, k] - gw[:, k] + diag[:, k] * w[:, k]
            new = np.maximum(rho - l1, 0.0) / denom[:, k]
            step = new - w[:, k]
            if np.any(step):
                # gram is symmetric: its row k (contiguous) is its column k
                gw += gram[:, k, :] * step[:, None]
                w[:, k] = new
                largest_step = max(largest_step, float(np.abs(step).max()))
        if largest_step <= config.tol * max(float(w.max(initial=0.0)), 1e-12):
            break
    log.debug("SLIM block of %d targets: %d sweeps", target.shape[0], sweeps)
    return w


class SLIMPeer(ItemItemPeer):
    """SLIM ElasticNet on each item's co-liked neighbours (see the module docstring)."""

    name = "slim"
    config_class = SLIMConfig
    config: SLIMConfig

    def _weights(self, likes: sp.csr_matrix) -> sp.csr_matrix:
        started = time.perf_counter()
        # float32: counts are exact up to 2^24 and the solve does not need more
        co = np.asarray((likes.T @ likes).toarray(), dtype=np.float32)
        n_items = co.shape[0]
        neighbours = neighbour_sets(co, self.config.neighbours)
        rows, cols, vals = [], [], []
        for start in range(0, n_items, _BLOCK):
            nb = neighbours[start : start + _BLOCK]
            safe = np.maximum(nb, 0)
            valid = nb >= 0
            gram = co[safe[:, :, None], safe[:, None, :]] * (valid[:, :, None] & valid[:, None, :])
            targets = np.arange(start, start + nb.shape[0])
            target = co[safe, targets[:, None]] * valid
            w = solve_block(gram, target, likes.shape[0], self.config)
            keep = valid & (w > 0)
            rows.append(nb[keep])
            cols.append(np.broadcast_to(targets[:, None], nb.shape)[keep])
            vals.append(w[keep])
        log.info("SLIM: %d items, alpha %g, l1_ratio %g, %d neighbours: %.1fs", n_items,
                 self.config.alpha, self.config.l1_ratio, self.config.neighbours,
                 time.perf_counter() - started)
        return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(n_items, n_items))
