"""Batched solver of the ALS half-steps; the model itself is :mod:`reco.models.mf.als`.

**Normal equations.** With one side's factors fixed, say the item factors ``Y``, each
user's factor ``x_u`` minimises a weighted ridge loss; setting its gradient to zero gives
one small ``k x k`` linear system per user (then the roles of users and items swap)::

    (G + diag(lambda_u) + F_u^T W_u F_u) x_u = F_u^T t_u

``F_u`` holds the factor rows of the items ``u`` rated, ``W_u`` their weights and ``t_u``
their targets:

* implicit (Hu, Koren & Volinsky 2008): the loss ``sum_i c_ui (p_ui - x_u . y_i)^2 +
  lambda |x_u|^2`` runs over *every* item, so ``(Y^T C_u Y + lambda I) x_u = Y^T C_u p_u``.
  Liked items have preference ``p_ui = 1`` and confidence ``c_ui = 1 + alpha v_ui``
  (``v = 1``, or the rating itself with ``confidence="rating"``); every item the user did
  not like has preference 0 and confidence 1, which is exactly what ``Y^T Y`` adds. Hence
  ``G = Y^T Y`` (once per half-step), ``W_u = C_u - I``, ``t_ui = c_ui`` on liked items
  only and ``lambda_u = lambda``: the unliked entries are never touched, so a half-step's
  cost grows with the number of likes, not with users x items.
* explicit: ``G = 0``, ``W_u = I`` on rated items, ``F`` augmented with a column of ones
  so the last unknown is the bias, ``t_ui = r_ui - mu - b_i``, ``lambda_u = lambda n_u``
  (weighted-lambda regularisation, Zhou et al. 2008).

**Batches.** Rows (users, or items) with similar numbers of entries are grouped
(:class:`Side`) and their factor rows gathered into a padded ``(B, L, k)`` block; padding
slots point at a real entry with weight and target 0, so they add nothing. Every product
is then a batched BLAS call (or an ``einsum`` for very short rows) and nothing loops in
Python per rating or per user. Batches run longest first over a thread pool, with BLAS held
to one thread per worker (:func:`blas_threads`) so the two levels do not oversubscribe.

**Conjugate gradient.** The matrix ``A_u = G + lambda_u I + F_u^T W_u F_u`` is symmetric
and (for ``lambda > 0``) positive definite, so conjugate gradient applies. It needs only
products ``A_u p = G p + lambda_u p + F_u^T (W_u (F_u p))``, ``O(L k)`` per row, and never
forms ``A_u`` (``O(L k^2)``). Warm-started from the previous iteration's factors, a few
steps per half-step suffice (Takacs et al. 2011, the idea behind ``implicit``'s "cg"
solver); the CG state is kept per row, so every row of a batch takes its own step sizes.
``exact=True`` builds and solves every ``k x k`` system instead (``O(nnz k^2)``, for
checking and small data).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from reco.config import check_int
from reco.models.base import Recommender

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
    threadpool_limits = None

log = logging.getLogger(__name__)

#: Padded (row, rated item) slots per batch: ~4 MB of float32 factors at k = 64, small
#: enough to stay in cache across the conjugate gradient steps of one batch.
BATCH_SLOTS = 1 << 14
_TINY = 1e-30
SHORT_ROWS = 8  # batches padded to at most this many entries use einsum, not BLAS


@contextmanager
def blas_threads(limit: int) -> Iterator[None]:
    """Cap BLAS at ``limit`` threads inside the block (no cap without threadpoolctl)."""
    if threadpool_limits is None:
        log.debug("threadpoolctl is not importable; BLAS threads are not limited")
        yield
        return
    with threadpool_limits(limits=limit, user_api="blas"):
        yield


@contextmanager
def _no_pool() -> Iterator[None]:
    yield None


def resolve_threads(threads: int | None) -> int:
    """``threads``, or every CPU this process may run on when it is None."""
    if threads is not None:
        return threads
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def check_threads(owner: str, threads: int | None) -> None:
    """``threads`` is None (every core) or a positive integer."""
    if threads is not None:
        check_int(owner, "threads", threads, 1)


# ---------------------------------------------------------------- batched solver
@dataclass
class Side:
    """One half-step's data: a CSR whose rows are solved, grouped into batches.

    ``weight`` is ``w`` per stored entry (``c - 1``; None for all 1); ``batches`` hold row
    indices sorted by their number of entries, so padding each batch to its longest row
    wastes little.
    """

    indptr: np.ndarray
    indices: np.ndarray
    weight: np.ndarray | None
    counts: np.ndarray
    batches: list[np.ndarray]

    @classmethod
    def from_csr(cls, matrix: sp.csr_matrix, weight: np.ndarray | None,
                 slots: int = BATCH_SLOTS) -> Side:
        counts = np.diff(matrix.indptr).astype(np.int64)
        order = np.argsort(counts, kind="stable")
        order = order[counts[order] > 0]
        sizes = counts[order]
        batches, start = [], 0
        while start < order.size:
            # largest end with (end - start) * sizes[end - 1] <= slots (sizes ascend)
            lo, hi = start + 1, order.size
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if (mid - start) * sizes[mid - 1] <= slots else (lo, mid - 1)
            batches.append(order[start:lo])
            start = lo
        batches.reverse()  # longest rows first: the thread pool's tail is then short
        return cls(matrix.indptr, matrix.indices, weight, counts, batches)


def solve_batch(rows: np.ndarray, side: Side, target: np.ndarray, factors: np.ndarray,
                out: np.ndarray, gram: np.ndarray | None, reg: float, scale_reg: bool,
                cg_steps: int, exact: bool) -> None:
    """Solve ``(gram + lambda_u I + F_u^T W_u F_u) x_u = F_u^T t_u`` for ``rows`` into ``out``.

    ``F_u = factors[items of u]``; ``lambda_u = reg * n_u`` when ``scale_reg`` else ``reg``.
    """
    starts = side.indptr[rows]
    counts = side.counts[rows]
    slots = np.arange(int(counts.max()))
    pad = slots[None, :] >= counts[:, None]
    pos = starts[:, None] + slots[None, :]
    pos[pad] = starts.repeat(pad.sum(1))  # padding points at a real entry, weighted 0 below
    f = np.take(factors, side.indices[pos], axis=0)                  # (B, L, k)
    ft = f.transpose(0, 2, 1)
    if side.weight is None:
        w = (~pad).astype(out.dtype)
    else:
        w = side.weight[pos]
        w[pad] = 0.0
    t = target[pos]
    t[pad] = 0.0
    b = np.matmul(ft, t[..., None])[..., 0]                          # F_u^T t_u
    lam = (reg * counts if scale_reg else np.full(len(rows), reg)).astype(out.dtype)
    if exact:
        a = np.matmul(ft, w[..., None] * f)                          # F_u^T W_u F_u
        if gram is not None:
            a += gram
        a[:, np.arange(a.shape[1]), np.arange(a.shape[1])] += lam[:, None]
        out[rows] = np.linalg.solve(a, b[..., None])[..., 0]
        return
    short = f.shape[1] <= SHORT_ROWS

    def apply(p: np.ndarray) -> np.ndarray:  # A p for every row of the batch
        if short:  # many tiny products: einsum beats one BLAS call per row
            ap = np.einsum("blk,bl->bk", f, w * np.einsum("blk,bk->bl", f, p))
        else:
            ap = np.matmul(ft, w[..., None] * np.matmul(f, p[..., None]))[..., 0]
        ap += lam[:, None] * p
        if gram is not None:
            ap += p @ gram
        return ap

    # Conjugate gradient on each row's system, warm-started from the current factors.
    x = out[rows]
    r = b - apply(x)
    p = r.copy()
    rs = np.einsum("ij,ij->i", r, r)
    for _ in range(cg_steps):
        ap = apply(p)
        pap = np.einsum("ij,ij->i", p, ap)
        step = np.where(pap > _TINY, rs / np.maximum(pap, _TINY), 0.0).astype(x.dtype)
        x += step[:, None] * p
        r -= step[:, None] * ap
        rs_new = np.einsum("ij,ij->i", r, r)
        beta = np.where(rs > _TINY, rs_new / np.maximum(rs, _TINY), 0.0).astype(x.dtype)
        p = r + beta[:, None] * p
        rs = rs_new
    out[rows] = x


def half_step(side: Side, target: np.ndarray, factors: np.ndarray, out: np.ndarray,
              gram: np.ndarray | None, reg: float, scale_reg: bool, cg_steps: int,
              exact: bool, pool: ThreadPoolExecutor | None) -> None:
    """Solve every non-empty row of ``side`` (batches spread over ``pool``)."""

    def run(rows: np.ndarray) -> None:
        solve_batch(rows, side, target, factors, out, gram, reg, scale_reg, cg_steps, exact)

    if pool is None:
        for rows in side.batches:
            run(rows)
    else:
        for _ in pool.map(run, side.batches):
            pass
    out[side.counts == 0] = 0.0


def pair_dots(x: np.ndarray, y: np.ndarray, rows: np.ndarray, cols: np.ndarray,
              chunk: int = 1 << 20) -> np.ndarray:
    """``x[rows[j]] . y[cols[j]]`` for every j, in chunks (no (n, k) temporaries at 32M)."""
    out = np.empty(len(rows), dtype=np.float64)
    for start in range(0, len(rows), chunk):
        sl = slice(start, start + chunk)
        out[sl] = np.einsum("ij,ij->i", x[rows[sl]], y[cols[sl]], dtype=np.float64)
    return out


def predict_known(model: Recommender, user_ids: np.ndarray | list[int],
                  movie_ids: np.ndarray | list[int],
                  predict: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """``predict(user indices, item indices)`` on the known pairs; NaN elsewhere."""
    users = model.user_map_.indices(np.asarray(user_ids), missing="mask")
    items = model.item_map_.indices(np.asarray(movie_ids), missing="mask")
    if users.shape != items.shape:
        raise ValueError(f"{users.size} user ids but {items.size} movie ids")
    out = np.full(users.shape, np.nan, dtype=np.float32)
    known = (users >= 0) & (items >= 0)
    out[known] = predict(users[known], items[known])
    return out


def csr_rows(matrix: sp.csr_matrix) -> np.ndarray:
    return np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
