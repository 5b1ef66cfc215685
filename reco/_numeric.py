"""Small numeric helpers shared by every layer: the deterministic top-k of score rows, the
gather of a few CSR rows and a sparse x dense product over row blocks on threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

#: Cells of one dense (users x items) score block: about 128 MB of float32, whatever the
#: catalogue size, so batch scoring is bounded in memory.
MAX_BLOCK_CELLS = 1 << 25


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` best scores per row, best first.

    Ties break on the lower index, also at the k-th place, so results are deterministic.
    ``-inf`` marks excluded items; rows with fewer than ``k`` finite scores are padded
    with index -1, score -inf.
    """
    scores = np.atleast_2d(scores)
    n_rows, n_items = scores.shape
    k_eff = min(k, n_items)
    if k_eff <= 0:
        return np.full((n_rows, k), -1, np.int64), np.full((n_rows, k), -np.inf, np.float32)
    if n_rows > 1 and n_items >= PREFILTER_MIN_ITEMS and k_eff * PREFILTER_RATIO <= n_items \
            and scores.dtype.kind == "f":  # its padding is -inf
        return _prefiltered_top(scores, k, k_eff)
    return _exact_top(scores, k, k_eff)


def _exact_top(scores: np.ndarray, k: int, k_eff: int) -> tuple[np.ndarray, np.ndarray]:
    n_rows, n_items = scores.shape
    if k_eff < n_items:
        # The k-th best value per row; take everything above it, then the lowest-index
        # items equal to it until k are taken (argpartition alone picks ties arbitrarily).
        if n_rows == 1:  # the serving case: one argpartition, exact unless ties cross k
            part = np.argpartition(-scores[0], k_eff - 1)[:k_eff]
            kth = scores[0, part].min()
            if np.count_nonzero(scores[0] >= kth) == k_eff:
                return _sorted_top(scores, part[None, :], k, k_eff)
        cut = n_items - k_eff
        kth = np.partition(scores, cut, axis=1)[:, cut : cut + 1]
        chosen = scores >= kth
        excess = chosen.sum(axis=1) > k_eff
        if excess.any():  # more ties at the k-th value than room: keep the lowest indices
            rows = np.flatnonzero(excess)
            sub = scores[rows]
            above = sub > kth[rows]
            tied = sub == kth[rows]
            room = k_eff - above.sum(axis=1, keepdims=True)
            chosen[rows] = above | (tied & (np.cumsum(tied, axis=1) <= room))
        part = np.nonzero(chosen)[1].reshape(n_rows, k_eff)
    else:
        part = np.tile(np.arange(n_items), (n_rows, 1))
    return _sorted_top(scores, part, k, k_eff)


#: Rows of at least this many items, k at most 1/PREFILTER_RATIO of them: select among
#: the scores above a threshold from a sample (:func:`_prefiltered_top`).
PREFILTER_MIN_ITEMS = 16384
PREFILTER_RATIO = 64
_SAMPLE = 1024


def _prefiltered_top(scores: np.ndarray, k: int, k_eff: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`top_k` of many long rows, the same answer at a fraction of the partitions.

    A strided sample of each row gives a threshold that about ``8 k`` of its scores
    reach; one comparison pass keeps those, and the exact selection runs on them alone.
    Every score at or above a row's k-th best reaches the threshold whenever at least
    ``k`` do (the threshold is then at most the k-th best), so ties and order are exactly
    :func:`top_k`'s. Rows where fewer than ``k`` or far too many reach it
    take the full selection (rare: the sample would have to miss by a factor of 8).
    A NaN never reaches a threshold (the full selection fails on one).
    """
    n_rows, n_items = scores.shape
    step = max(1, n_items // _SAMPLE)
    sample = scores[:, ::step]
    # the sample's j-th best, j sized so that about 8 k of the whole row reach it
    j = min(sample.shape[1], max(1, int(np.ceil(8 * k_eff * sample.shape[1] / n_items))))
    thresholds = -np.partition(-sample, j - 1, axis=1)[:, j - 1:j]
    # flat positions of the reaching scores: a 1-D nonzero is several times faster than
    # a 2-D one, and it leaves them row after row, columns ascending
    flat = np.flatnonzero(scores >= thresholds)
    r, c = np.divmod(flat, n_items)
    counts = np.bincount(r, minlength=n_rows)
    ok = (counts >= k_eff) & (counts <= 64 * k_eff) & np.isfinite(thresholds[:, 0])
    idx = np.empty((n_rows, k), np.int64)
    vals = np.empty((n_rows, k), np.float32)
    rows = np.flatnonzero(ok)
    if rows.size:
        if rows.size < n_rows:
            keep = ok[r]
            r, c = r[keep], c[keep]
        width = int(counts[rows].max())
        sub_row = np.cumsum(ok) - 1  # a kept row's place among the kept
        r_sub = sub_row[r]
        slot = np.arange(r.size) - np.repeat(np.cumsum(counts[rows]) - counts[rows],
                                             counts[rows])
        sub = np.full((rows.size, width), -np.inf, dtype=scores.dtype)
        sub[r_sub, slot] = scores[r, c]
        cols = np.zeros((rows.size, width), np.int64)
        cols[r_sub, slot] = c
        # columns keep their order within a row, so "lower index first" is unchanged
        sub_idx, sub_vals = _exact_top(sub, k, min(k, width))
        idx[rows] = np.where(sub_idx >= 0, np.take_along_axis(cols, np.maximum(sub_idx, 0),
                                                              axis=1), -1)
        vals[rows] = sub_vals
    rest = np.flatnonzero(~ok)
    if rest.size:
        rest_idx, rest_vals = _exact_top(scores[rest], k, k_eff)
        idx[rest], vals[rest] = rest_idx, rest_vals
    return idx, vals


def _sorted_top(scores: np.ndarray, part: np.ndarray, k: int,
                k_eff: int) -> tuple[np.ndarray, np.ndarray]:
    """Order the chosen columns ``part`` best first (lower index on ties); pad to k."""
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    idx = np.take_along_axis(part, order, axis=1).astype(np.int64)
    vals = np.take_along_axis(vals, order, axis=1).astype(np.float32)
    idx[~np.isfinite(vals)] = -1
    vals[~np.isfinite(vals)] = -np.inf
    if k_eff < k:
        pad = k - k_eff
        idx = np.pad(idx, ((0, 0), (0, pad)), constant_values=-1)
        vals = np.pad(vals, ((0, 0), (0, pad)), constant_values=-np.inf)
    return idx, vals


def csr_gather(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The entries of CSR ``rows`` (-1: an empty row): their positions in the CSR's
    ``indices`` / ``data``, row after row, and each row's length. For a handful of rows
    this is a few small array operations where ``matrix[rows]`` builds a whole new sparse
    matrix (about ten times longer for one row)."""
    rows = np.asarray(rows, dtype=np.int64)
    safe = np.maximum(rows, 0)
    starts = np.asarray(indptr[safe], dtype=np.int64)
    lengths = np.where(rows >= 0, np.asarray(indptr[safe + 1], dtype=np.int64) - starts, 0)
    flat = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(
        int(lengths.sum()), dtype=np.int64)
    return flat, lengths


#: Stored entries per row block of :func:`sparse_dense`, and the fewest worth a thread.
PRODUCT_BLOCK_ENTRIES = 1 << 21


def sparse_dense(matrix: sp.csr_matrix, dense: np.ndarray, workers: int) -> np.ndarray:
    """``matrix @ dense`` as a dense array, its row blocks on ``workers`` threads.

    SciPy's CSR x dense product runs on one core and releases the GIL, so blocks of rows
    (views of the CSR arrays, nothing copied) computed on threads give every output row
    exactly the value of the single product, at a fraction of its time on several cores
    (25.6M ratings times 128 dimensions: 4.4-4.8 s alone, 2.2-3.0 s on 2 threads).
    """
    if matrix.format != "csr":
        raise TypeError(f"sparse_dense needs a CSR matrix, got {matrix.format}")
    n_rows = matrix.shape[0]
    dtype = np.result_type(matrix.dtype, dense.dtype)
    blocks = min(n_rows, matrix.nnz // PRODUCT_BLOCK_ENTRIES)
    if workers <= 1 or blocks <= 1:
        return np.asarray(matrix @ dense, dtype=dtype)
    dense = np.asarray(dense, dtype=dtype)
    out = np.empty((n_rows, dense.shape[1]), dtype=dtype)
    indptr = matrix.indptr
    # rows split so that each block holds about the same number of entries
    bounds = np.unique(np.searchsorted(indptr, np.linspace(0, matrix.nnz, blocks + 1),
                                       side="left").clip(0, n_rows))
    bounds[0], bounds[-1] = 0, n_rows

    def part(i: int) -> None:
        start, stop = int(bounds[i]), int(bounds[i + 1])
        first, last = int(indptr[start]), int(indptr[stop])
        block = sp.csr_matrix((matrix.data[first:last], matrix.indices[first:last],
                               indptr[start:stop + 1] - first),
                              shape=(stop - start, matrix.shape[1]))
        out[start:stop] = block @ dense

    with ThreadPoolExecutor(min(workers, bounds.size - 1)) as pool:
        for _ in pool.map(part, range(bounds.size - 1)):
            pass
    return out
