"""EASE (Steck, WWW 2019): the closed-form item-item model on the like matrix.

Used by the evaluation as a peer and by the two-stage model as a stage-one source (on the
most liked items when the catalog is too large for a dense items x items matrix).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from reco.config import ConfigBase, check_int, check_range
from reco.exceptions import ArtifactError, ConfigError, ModelFitError
from reco.models.base import Recommender
from reco.models.mf.als import resolve_threads

log = logging.getLogger(__name__)

#: EASE holds dense items x items matrices; above this many liked items it refuses to fit
#: unless ``EASEConfig.max_items`` raises the cap (30k items take ~7 GB per float64 copy).
EASE_MAX_ITEMS = 30_000


#: Up to this many users, scores are summed row by row (see EASERecommender._few_scores).
_FEW_USERS = 8
#: From this many users on, a sparse B is multiplied as a dense copy (kept while it has at
#: most _DENSE_CELLS cells, 64 MB of float32): the sparse x sparse product's output is
#: nearly dense there, and building it cost 0.51 s per 2,048 users of a 3,000-item B
#: where the sparse x dense product took 0.36 s.
_MANY_USERS = 256
_DENSE_CELLS = 1 << 24


@dataclass(frozen=True)
class EASEConfig(ConfigBase):
    """EASE on the binary like matrix.

    Parameters
    ----------
    lam
        The L2 penalty lambda added to the Gram matrix's diagonal.
    like_threshold
        A rating at or above it is a like (an entry 1 of X).
    max_items
        The most liked items EASE may model; None means :data:`EASE_MAX_ITEMS`. Memory
        grows as 16 * n_items^2 bytes at the peak (the Gram matrix and its inverse).
        Above it the fit refuses, unless ``top_items`` is set.
    top_items
        Model only the ``top_items`` most liked items (ties to the lower index); the
        others score 0. None: every liked item. This is how a catalog of 87k movies keeps
        a dense ``top_items``-square solve (the long tail has too few likes for an
        item-item weight to be learned anyway).
    neighbours
        Keep, per modelled item, only its ``neighbours`` largest weights by magnitude
        (a sparse ``B``): the stored model shrinks from ``4 n^2`` bytes to about
        ``8 n neighbours`` and a user's scores are a sparse sum. None: dense ``B``.
    """

    lam: float = 300.0
    like_threshold: float = 3.5
    max_items: int | None = None
    top_items: int | None = None
    neighbours: int | None = None

    def __post_init__(self) -> None:
        check_range("EASEConfig", "lam", self.lam, 0.0)
        if self.lam <= 0:
            raise ConfigError(f"EASEConfig.lam must be > 0, got {self.lam!r}")
        check_range("EASEConfig", "like_threshold", self.like_threshold, 0.0, 10.0)
        for name in ("max_items", "top_items", "neighbours"):
            if getattr(self, name) is not None:
                check_int("EASEConfig", name, getattr(self, name), 1)


def _like_matrix(ratings: sp.csr_matrix, threshold: float) -> sp.csr_matrix:
    likes = (ratings >= threshold).astype(np.float64)
    likes.eliminate_zeros()
    return sp.csr_matrix(likes)


#: The co-like counts are split over threads only while each thread's dense part of the
#: gram stays small (this many items: 100 MB of float32 each).
_THREADED_GRAM_ITEMS = 5000


def _gram(likes: sp.csr_matrix) -> np.ndarray:
    """``X^T X`` of a 0/1 likes matrix (users x items), float64: co-like counts.

    In float32 while a count cannot pass 2^24 (fewer users than that), where every sum is
    exact and the sparse product costs less; and in row blocks of equal likes on a thread
    per core, whose parts add up to the same integers (the sparse product runs outside
    the GIL). At 32M ratings the solve (mostly this gram) took 4.4 and 6.2 s in the two
    windows against 8.0 and 10.3 s before (docs/BENCHMARKS.md, 2026-12-08).
    """
    x = likes.astype(np.float32 if likes.shape[0] < 2**24 else np.float64)
    n = x.shape[1]
    workers = min(resolve_threads(None), 4) if n <= _THREADED_GRAM_ITEMS else 1
    if workers == 1 or x.nnz < 1_000_000:
        return np.asarray((x.T @ x).toarray(), dtype=np.float64)
    bounds = np.r_[0, np.searchsorted(x.indptr, np.linspace(0, x.nnz, workers + 1)[1:-1]),
                   x.shape[0]]

    def part(i: int) -> np.ndarray:
        block = x[bounds[i]:bounds[i + 1]]
        return np.asarray((block.T @ block).toarray())

    gram = np.zeros((n, n), dtype=np.float64)
    with ThreadPoolExecutor(workers) as pool:
        for counts in pool.map(part, range(workers)):
            gram += counts
    return gram


_MIRROR_ROWS = 256


def _spd_inverse(gram: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite matrix, in place of ``gram``.

    Through its Cholesky factor (LAPACK ``potrf`` then ``potri``): half the work of a
    general inverse (1.2 s against 2.0 s for 3,000 items on this machine's 2 cores), the
    same values to rounding. ``X^T X + lambda I`` with ``lambda > 0`` is positive definite;
    a factorisation that still fails (rounding, on a matrix far too large for EASE
    anyway) is an error that names the way out, not a silent general inverse.
    """
    factor, info = scipy.linalg.lapack.dpotrf(gram, lower=True, overwrite_a=True, clean=False)
    if info == 0:
        inverse, info = scipy.linalg.lapack.dpotri(factor, lower=True, overwrite_c=True)
    if info != 0:
        raise ModelFitError(f"EASE: the regularised Gram matrix is not positive definite "
                            f"(LAPACK info {info}); raise EASEConfig.lam")
    # potri writes the lower triangle only; mirror it a band of rows at a time (slices,
    # no index arrays: 0.34 s at 3,000 items through triu_indices)
    n = inverse.shape[0]
    for start in range(0, n, _MIRROR_ROWS):
        stop = min(start + _MIRROR_ROWS, n)
        inverse[start:stop, stop:] = inverse[stop:, start:stop].T
        block = inverse[start:stop, start:stop]
        upper = np.triu_indices(stop - start, 1)
        block[upper] = block.T[upper]
    return np.asarray(inverse)


def _prune(weights: np.ndarray, keep: int) -> sp.csr_matrix:
    """``weights`` with only each row's ``keep`` largest-magnitude entries (float32 CSR)."""
    n = weights.shape[0]
    keep = min(keep, weights.shape[1])
    if keep >= weights.shape[1]:
        return sp.csr_matrix(weights.astype(np.float32))
    cols = np.argpartition(-np.abs(weights), keep - 1, axis=1)[:, :keep]
    cols.sort(axis=1)
    data = np.take_along_axis(weights, cols, axis=1).astype(np.float32)
    indptr = np.arange(0, n * keep + 1, keep, dtype=np.int64)
    pruned = sp.csr_matrix((data.ravel(), cols.ravel(), indptr), shape=weights.shape)
    pruned.eliminate_zeros()
    return pruned


class EASERecommender(Recommender):
    """Embarrassingly Shallow Autoencoder (Steck, WWW 2019), closed form.

    With X the users x items like matrix (1 where rating >= threshold)::

        G = X^T X + lambda I,   P = G^-1,   B_ij = -P_ij / P_jj,   B_jj = 0
        score(u, j) = sum_i X_ui B_ij

    which minimises ||X - X B||^2 + lambda ||B||^2 subject to diag(B) = 0. Only items with
    at least one like are modelled (the others form a block of G that gives them B = 0,
    so their score is exactly 0 either way), at most ``top_items`` of them; ``active_``
    holds their indices and ``B_`` their weights (float32; dense, or a CSR whose row ``i``
    holds source item ``i``'s weights when ``neighbours`` is set).
    """

    name = "ease"
    config_class = EASEConfig
    config: EASEConfig
    state_arrays = ("active",)

    @classmethod
    def with_lambda(cls, lam: float, **config: Any) -> EASERecommender:
        """An unfitted EASE with penalty ``lam`` (e.g. chosen by :mod:`reco.ranking.tuning`)."""
        return cls(EASEConfig(lam=float(lam), **config))

    def _fit(self, matrix: sp.csr_matrix, **context: Any) -> None:
        self.__dict__.pop("_dense_B", None)  # the dense copy of a previous fit's B
        likes = _like_matrix(matrix, self.config.like_threshold)
        counts = np.diff(likes.tocsc().indptr)
        active = np.flatnonzero(counts)
        top = self.config.top_items
        if top is not None and active.size > top:
            # the most liked first, ties to the lower index; kept in index order
            order = np.lexsort((active, -counts[active]))
            active = np.sort(active[order[:top]])
        limit = self.config.max_items or EASE_MAX_ITEMS
        if active.size > limit:
            raise ModelFitError(
                f"EASE would need a dense {active.size:,} x {active.size:,} matrix "
                f"(~{16 * active.size**2 / 1e9:.1f} GB at the peak) but max_items is {limit:,}; "
                "set EASEConfig(max_items=...) higher, or top_items, to allow it"
            )
        if active.size == 0:
            raise ModelFitError(f"no rating >= {self.config.like_threshold}: EASE has nothing "
                                "to learn from")
        started = time.perf_counter()
        x = likes[:, active]
        # a sparse product costs the sum over users of their likes squared; a sparse x
        # dense one costs every like times every modelled item
        gram = _gram(x)
        gram[np.diag_indices_from(gram)] += self.config.lam
        p = _spd_inverse(gram)
        del gram
        p /= -np.diag(p)  # column j divided by -P_jj
        np.fill_diagonal(p, 0.0)
        self.active_ = active.astype(np.int64)
        self.B_: np.ndarray | sp.csr_matrix = (
            p.astype(np.float32) if self.config.neighbours is None
            else _prune(p, self.config.neighbours))
        log.info("EASE: %d liked items, lambda %g, solved in %.2fs", active.size,
                 self.config.lam, time.perf_counter() - started)

    # ------------------------------------------------------------ persistence
    def _state(self) -> dict[str, np.ndarray]:
        if sp.issparse(self.B_):
            b = sp.csr_matrix(self.B_)
            return {"active": self.active_, "B_data": b.data, "B_indices": b.indices,
                    "B_indptr": b.indptr}
        return {"active": self.active_, "B": np.asarray(self.B_)}

    def _load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.__dict__.pop("_dense_B", None)
        active = arrays["active"]
        n = active.size
        if active.ndim != 1 or (n and (int(active.min()) < 0
                                       or int(active.max()) >= len(self.item_map_))):
            raise ArtifactError("EASE: active item indices out of the item map")
        if "B" in arrays:
            b = arrays["B"]
            if b.shape != (n, n):
                raise ArtifactError(f"EASE: B has shape {b.shape}, expected {(n, n)}")
            self.B_ = b
        elif {"B_data", "B_indices", "B_indptr"} <= arrays.keys():
            try:
                self.B_ = sp.csr_matrix(
                    (arrays["B_data"], arrays["B_indices"], arrays["B_indptr"]), shape=(n, n))
                self.B_.check_format(full_check=True)
            except (ValueError, TypeError):
                raise ArtifactError("EASE: B is not a valid sparse matrix") from None
        else:
            raise ArtifactError("EASE: the weights B are missing")
        self.active_ = active

    # ------------------------------------------------------------ scoring
    def active_scores(self, likes: sp.csr_matrix) -> np.ndarray:
        """Scores over the modelled items (``active_`` order) of users given as a
        users x ``len(active_)`` like matrix (float32, dense)."""
        if likes.shape[0] <= _FEW_USERS and sp.issparse(self.B_):
            return self._few_scores(sp.csr_matrix(likes))
        weights = self.B_
        if likes.shape[0] >= _MANY_USERS and sp.issparse(weights) and \
                weights.shape[0] * weights.shape[1] <= _DENSE_CELLS:
            weights = self.__dict__.get("_dense_B")
            if weights is None:
                weights = self.__dict__["_dense_B"] = cast(sp.csr_matrix, self.B_).toarray()
        out = likes.astype(np.float32) @ weights
        return np.asarray(out.toarray() if sp.issparse(out) else out, dtype=np.float32)

    def _few_scores(self, likes: sp.csr_matrix) -> np.ndarray:
        """:meth:`active_scores` of a few users (a request) as a sum of the liked rows of
        the sparse ``B``, one bincount per user: a sparse product's setup costs more than
        the arithmetic at this size."""
        weights = cast(sp.csr_matrix, self.B_)  # active_scores sends only a sparse B here
        out = np.zeros((likes.shape[0], weights.shape[1]), dtype=np.float32)
        for row in range(likes.shape[0]):
            part = slice(likes.indptr[row], likes.indptr[row + 1])
            liked, values = likes.indices[part], likes.data[part]
            if liked.size == 0:
                continue
            starts = weights.indptr[liked]
            lengths = weights.indptr[liked + 1] - starts
            flat = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(
                int(lengths.sum()))
            out[row] = np.bincount(weights.indices[flat], minlength=weights.shape[1],
                                   weights=weights.data[flat] * np.repeat(values, lengths))
        return out

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        likes = _like_matrix(self.seen_[users], self.config.like_threshold)
        scores = np.zeros((len(users), self.n_items), dtype=np.float32)
        scores[:, self.active_] = self.active_scores(likes[:, self.active_])
        return scores

    def _fold_in(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        x = np.zeros(self.n_items, dtype=np.float32)
        x[items[values >= self.config.like_threshold]] = 1.0
        scores = np.zeros(self.n_items, dtype=np.float32)
        scores[self.active_] = self.active_scores(sp.csr_matrix(x[self.active_][None, :]))[0]
        return scores
