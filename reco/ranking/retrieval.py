"""Approximate top-n by inner product over item vectors: an inverted-file (IVF) index.

A request for one user used to score every movie of the catalog in the CF and content
spaces (at 87k movies, 67 MB of float32 read per request) only to keep its 150 and 40
best. The index groups the items' vectors into lists by k-means (built once, when the
model is fitted, and stored with its version); a query scores the lists' centroids, then
only the items of the lists whose centroids score best, until it has read a set share of
the catalog (:attr:`RetrievalConfig.scan`). Items of a list are stored contiguously, so a
query reads a few slices instead of the whole matrix.

This is the inverted-file design of Jégou et al. (2011) with the list probing of FAISS's
``IndexIVFFlat`` by inner product: the lists come from L2 k-means on the raw vectors,
and a query visits them in the order of its inner product with their centroids. Which
answers it misses is measured, not assumed: ``scripts/benchmark.py retrieval`` states
the recall of each source's candidates against the exact scan.

Below :attr:`RetrievalConfig.min_items` items, and for blocks of many users (training,
evaluation), the exact scan is used: a small catalog is read in less time than lists are
probed, and a block of users is one matrix product.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from reco._numeric import csr_gather
from reco.config import ConfigBase, check_int, check_range

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrievalConfig(ConfigBase):
    """When and how candidates come from an index instead of an exact scan.

    ``enabled``: build the index at fit time where the catalog is large enough
    (``min_items``) and use it for contexts of at most ``max_users`` users (a request).
    ``lists``: the number of k-means lists (0: about ``4 * sqrt(items)``). ``scan``: the
    share of the items a query reads at least (lists are taken whole, best centroid first).
    ``iterations``: Lloyd's steps, on a seeded ``sample`` of the items (every item is then
    assigned to its nearest centroid). On the 32M release 6 steps on 40,000 of its 87k
    items built both indexes in 9.9 s against 14.2 s for 12 on all, for the same CF
    candidates and content recall 0.956 against 0.958 (docs/BENCHMARKS.md, "Issue 17 on
    2026-12-08").
    """

    enabled: bool = True
    min_items: int = 20_000
    max_users: int = 8
    lists: int = 0
    scan: float = 0.08
    iterations: int = 6
    sample: int = 40_000
    seed: int = 0

    def __post_init__(self) -> None:
        check_int("RetrievalConfig", "min_items", self.min_items, 1)
        check_int("RetrievalConfig", "max_users", self.max_users, 1, 1 << 20)
        check_int("RetrievalConfig", "lists", self.lists, 0, 1 << 20)
        check_range("RetrievalConfig", "scan", self.scan, 1e-4, 1.0)
        check_int("RetrievalConfig", "iterations", self.iterations, 1, 1000)
        check_int("RetrievalConfig", "sample", self.sample, 1)
        check_int("RetrievalConfig", "seed", self.seed, 0)

    def n_lists(self, n_items: int) -> int:
        if self.lists:
            return max(1, min(self.lists, n_items))
        return max(1, min(n_items, int(round(4 * np.sqrt(n_items)))))


def _assign(vectors: np.ndarray, centroids: np.ndarray, block: int = 16_384) -> np.ndarray:
    """The nearest centroid (L2) of each vector, by blocks."""
    sq = np.einsum("ij,ij->i", centroids, centroids)
    out = np.empty(vectors.shape[0], dtype=np.int64)
    for start in range(0, vectors.shape[0], block):
        part = vectors[start:start + block]
        # |x - c|^2 = |x|^2 - 2 x.c + |c|^2, and |x|^2 is the same for every c
        out[start:start + block] = np.argmin(sq[None, :] - 2.0 * (part @ centroids.T), axis=1)
    return out


def _seeds(vectors: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding (Arthur and Vassilvitskii, 2007): each next seed drawn with
    probability proportional to its squared distance from the seeds so far."""
    n = vectors.shape[0]
    chosen = [int(rng.integers(n))]
    nearest = np.einsum("ij,ij->i", vectors - vectors[chosen[0]], vectors - vectors[chosen[0]])
    for _ in range(1, k):
        total = float(nearest.sum())
        pick = int(rng.choice(n, p=nearest / total)) if total > 0 else int(rng.integers(n))
        chosen.append(pick)
        diff = vectors - vectors[pick]
        np.minimum(nearest, np.einsum("ij,ij->i", diff, diff), out=nearest)
    return vectors[chosen].astype(np.float32)


def kmeans(vectors: np.ndarray, k: int, iterations: int, seed: int) -> np.ndarray:
    """Lloyd's k-means (L2) from k-means++ seeds; an emptied list is restarted at the
    vector farthest from its centroid. Returns the ``k x d`` centroids."""
    rng = np.random.default_rng(seed)
    n = vectors.shape[0]
    # seeded from a subsample: k passes over it, where Lloyd's steps need few
    pool = vectors if n <= 16 * k else vectors[rng.choice(n, size=16 * k, replace=False)]
    centroids = _seeds(pool, k, rng)
    for _ in range(iterations):
        labels = _assign(vectors, centroids)
        members = sp.csr_matrix((np.ones(n, np.float32), (labels, np.arange(n))), shape=(k, n))
        counts = np.asarray(members.sum(axis=1)).ravel()
        sums = np.asarray(members @ vectors)
        filled = counts > 0
        centroids[filled] = (sums[filled] / counts[filled, None]).astype(np.float32)
        empty = np.flatnonzero(~filled)
        if empty.size:
            far = np.linalg.norm(vectors - centroids[labels], axis=1)
            centroids[empty] = vectors[np.argsort(-far)[:empty.size]]
    return centroids


@dataclass
class VectorIndex:
    """Inverted lists over the rows of an ``n x d`` item matrix.

    ``centroids`` is ``lists x d``; ``order`` holds the item rows grouped by list, list
    ``j`` being ``order[offsets[j]:offsets[j + 1]]``.
    """

    centroids: np.ndarray
    order: np.ndarray
    offsets: np.ndarray
    #: the item vectors in list order (``vectors[order]``), when a saved state held them:
    #: a server maps them instead of copying its own (67 MB a worker at 32M ratings)
    grouped: np.ndarray | None = None

    @classmethod
    def build(cls, vectors: np.ndarray, config: RetrievalConfig) -> VectorIndex:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n = vectors.shape[0]
        k = config.n_lists(n)
        rng = np.random.default_rng(config.seed)
        sample = vectors if n <= config.sample else vectors[
            np.sort(rng.choice(n, size=config.sample, replace=False))]
        centroids = kmeans(sample, k, config.iterations, config.seed)
        labels = _assign(vectors, centroids)
        order = np.argsort(labels, kind="stable")
        offsets = np.concatenate([[0], np.cumsum(np.bincount(labels, minlength=k))])
        return cls(centroids, order.astype(np.int64), offsets.astype(np.int64))

    def __len__(self) -> int:
        return int(self.order.size)

    def state(self, prefix: str, vectors: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The arrays to save; with the ``vectors`` it indexes, those in list order too."""
        out = {f"{prefix}_centroids": self.centroids, f"{prefix}_order": self.order,
               f"{prefix}_offsets": self.offsets}
        if vectors is not None:
            out[f"{prefix}_grouped"] = np.ascontiguousarray(
                np.asarray(vectors, dtype=np.float32)[self.order])
        return out

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray], prefix: str, n_items: int,
                   dim: int) -> VectorIndex:
        """The index saved by :meth:`state`, checked against the ``n_items x dim`` matrix
        it indexes (ValueError naming what disagrees)."""
        try:
            centroids = np.asarray(state[f"{prefix}_centroids"], dtype=np.float32)
            order = np.asarray(state[f"{prefix}_order"])
            offsets = np.asarray(state[f"{prefix}_offsets"])
        except KeyError as exc:
            raise ValueError(f"the {prefix} index lacks the array {exc.args[0]!r}") from None
        if centroids.ndim != 2 or centroids.shape[1] != dim or centroids.shape[0] < 1:
            raise ValueError(f"the {prefix} index's centroids are {centroids.shape}, "
                             f"for vectors of {dim} dimensions")
        if not np.isfinite(centroids).all():
            raise ValueError(f"the {prefix} index's centroids are not all finite")
        if order.dtype.kind not in "iu" or offsets.dtype.kind not in "iu":
            raise ValueError(f"the {prefix} index's order and offsets must be integers")
        if order.shape != (n_items,) or np.bincount(order, minlength=n_items).max(
                initial=1) != 1 or (order.size and (order.min() < 0 or order.max() >= n_items)):
            raise ValueError(f"the {prefix} index's order is not a permutation of its "
                             f"{n_items} items")
        if (offsets.shape != (centroids.shape[0] + 1,) or offsets[0] != 0
                or offsets[-1] != n_items or (np.diff(offsets) < 0).any()):
            raise ValueError(f"the {prefix} index's list offsets do not cover its items")
        grouped = state.get(f"{prefix}_grouped")
        if grouped is not None and (grouped.shape != (n_items, dim)
                                    or grouped.dtype != np.float32
                                    or not bool(np.isfinite(grouped).all())):
            raise ValueError(f"the {prefix} index's vectors in list order are "
                             f"{grouped.dtype} {grouped.shape}, expected finite float32 "
                             f"{(n_items, dim)}")
        return cls(centroids, order.astype(np.int64), offsets.astype(np.int64), grouped)


class IndexedVectors:
    """A :class:`VectorIndex` with the item matrix laid out list by list, for queries."""

    def __init__(self, index: VectorIndex, vectors: np.ndarray, scan: float,
                 blocked: np.ndarray | None = None) -> None:
        self.index = index
        self.grouped = (index.grouped if index.grouped is not None else
                        np.ascontiguousarray(np.asarray(vectors, dtype=np.float32)[index.order]))
        self.sizes = np.diff(index.offsets)
        self.min_scan = max(1, int(np.ceil(scan * len(index))))
        #: per grouped position: the item may not be returned (e.g. unknown to the ranker)
        self.blocked = None
        if blocked is not None and blocked.size:
            mask = np.zeros(len(index), dtype=bool)
            mask[blocked] = True
            self.blocked = mask[index.order]
        #: per list, how many of its items may be returned
        lists = np.repeat(np.arange(self.sizes.size), self.sizes)
        self.free = (self.sizes if self.blocked is None else
                     np.bincount(lists[~self.blocked], minlength=self.sizes.size))

    def search(self, query: np.ndarray, n: int, exclude: np.ndarray,
               blocked: bool = True) -> np.ndarray:
        """Item rows of the ``n`` best inner products with ``query`` among the probed
        lists, best first, the item rows ``exclude`` (and, with ``blocked``, those given
        as blocked at construction) left out; fewer than ``n`` only when the catalog runs
        out. Lists are probed until at least the configured share of the items, and
        ``n`` plus the excluded ones among the items it may return, were read."""
        index = self.index
        ranked = np.argsort(-(index.centroids @ query), kind="stable")
        free = self.free if blocked else self.sizes
        enough = max(int(np.searchsorted(np.cumsum(self.sizes[ranked]), self.min_scan)),
                     int(np.searchsorted(np.cumsum(free[ranked]), n + exclude.size)))
        lists = ranked[:enough + 1]
        lists = np.sort(lists)  # in storage order: the reads go forward through memory
        if lists.size == self.sizes.size:
            positions = np.arange(len(index))
        else:
            positions, _ = csr_gather(index.offsets, lists)
        scores = self.grouped[positions] @ query
        if blocked and self.blocked is not None:
            scores[self.blocked[positions]] = -np.inf
        rows = index.order[positions]
        if exclude.size:
            # a mask over the items: O(read + excluded), where isin sorts both
            excluded = np.zeros(len(index), dtype=bool)
            excluded[exclude] = True
            scores[excluded[rows]] = -np.inf
        if n < scores.size:
            top = np.argpartition(-scores, n - 1)[:n]
        else:
            top = np.arange(scores.size)
        # best first; ties on the lower item row, as the exact scan's top_k breaks them
        top = top[np.lexsort((rows[top], -scores[top]))]
        return rows[top[np.isfinite(scores[top])]]


def build_indexes(vectors: Mapping[str, np.ndarray],
                  config: RetrievalConfig) -> dict[str, VectorIndex] | None:
    """An index per named item matrix with at least ``config.min_items`` rows (None when
    retrieval is off or no matrix is that large)."""
    if not config.enabled:
        return None
    out = {name: VectorIndex.build(matrix, config) for name, matrix in vectors.items()
           if matrix.shape[0] >= config.min_items}
    for name, index in out.items():
        log.info("retrieval index of %s: %d items in %d lists", name, len(index),
                 index.centroids.shape[0])
    return out or None


def index_stage(stage: Any, config: RetrievalConfig) -> dict[str, VectorIndex] | None:
    """:func:`build_indexes` of the item vectors a request searches in a fitted
    :class:`~reco.ranking.stage_one.StageOne` (its CF and content models)."""
    vectors = {"cf": np.asarray(stage.cf._item_vectors(), dtype=np.float32)}
    if stage.content is not None:
        vectors["content"] = np.asarray(stage.content.embeddings_, dtype=np.float32)
    return build_indexes(vectors, config)
