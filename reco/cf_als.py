"""Alternating least squares: implicit (Hu, Koren & Volinsky 2008) and biased explicit.

Both variants alternate two half-steps. With the item factors ``Y`` fixed, every user's
factor solves a small ridge regression (and then the roles swap)::

    (G + diag(lambda_u) + F_u^T W_u F_u) x_u = F_u^T t_u

``F_u`` holds the factor rows of the items ``u`` rated, ``W_u`` their weights and ``t_u``
their targets:

* implicit: ``G = Y^T Y``, ``W_u = C_u - I`` with confidence ``c_ui = 1 + alpha v_ui`` on
  liked items (``v = 1``, or the rating itself with ``confidence="rating"``), ``t_ui = c_ui``
  (preference 1), ``lambda_u = lambda``. Every item the user did not like has preference 0
  and confidence 1, which is exactly what ``Y^T Y`` adds, so those entries are never touched.
* explicit: ``G = 0``, ``W_u = I`` on rated items, ``F`` augmented with a column of ones
  so the last unknown is the bias, ``t_ui = r_ui - mu - b_i``, ``lambda_u = lambda n_u``
  (weighted-lambda regularisation, Zhou et al. 2008).

The systems are solved in batches of rows with similar numbers of ratings: their factor rows
are gathered into a padded ``(B, L, k)`` block, so every product is a batched BLAS call and
nothing loops in Python per rating or per user. The default solver runs a few conjugate
gradient steps per half-step warm-started from the previous factors (Takacs et al. 2011,
the idea behind ``implicit``'s "cg" solver); ``solver="exact"`` builds and solves every
``k x k`` system instead (``O(nnz k^2)``, for checking and small data).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from reco.config import ConfigBase, check_choice, check_range
from reco.exceptions import ConfigError, ModelFitError
from reco.recommender import Recommender

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
    threadpool_limits = None

log = logging.getLogger(__name__)

#: Padded (row, rated item) slots per batch: ~4 MB of float32 factors at k = 64, small
#: enough to stay in cache across the conjugate gradient steps of one batch.
BATCH_SLOTS = 1 << 14
_TINY = 1e-30
#: Default lambda. Implicit: ``0.135 sqrt(number of likes)``, which is 30 on ml-latest-small
#: (NDCG@10 0.128; 0.107 at implicit's 0.05) and 533 on a 32M-rating synthetic release,
#: whose best lambda is about 300-500 (NDCG@10 0.207 at 300, 0.077 at 30, popularity 0.185).
#: Explicit: 0.1, already scaled by each row's count (ml-latest-small RMSE 0.871).
IMPLICIT_REG_PER_SQRT_LIKE = 0.135
EXPLICIT_REG = 0.1
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
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ConfigError(f"{owner}.threads must be None or a positive integer, got {threads!r}")


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


# ---------------------------------------------------------------- the model
@dataclass(frozen=True)
class ALSConfig(ConfigBase):
    """Alternating least squares.

    Parameters
    ----------
    factors
        Latent dimensions ``k``.
    iterations
        Full sweeps (a user half-step and an item half-step each).
    regularization
        ``lambda``. Implicit: the same ``lambda I`` for every user and item, as ``implicit``
        does; large values shrink the model towards popularity, and larger data wants a
        larger value, so None (the default) uses ``0.135 sqrt(number of likes)``. Explicit:
        ``lambda n_u I`` (scaled by each row's number of ratings); None means 0.1. The
        value used is ``regularization_`` after fit.
    alpha
        Confidence slope: a liked rating ``r`` counts with confidence ``1 + alpha * v``
        where ``v`` is set by ``confidence``.
    like_threshold
        Ratings at or above it are likes (preference 1) in the implicit variant; the rest
        are treated like unrated movies (preference 0, confidence 1).
    feedback
        ``"implicit"`` (Hu/Koren/Volinsky on likes; scores rank, they are no ratings) or
        ``"explicit"`` (``mu + b_u + b_i + x_u . y_i`` fitted on observed ratings only).
    confidence
        Implicit only: ``"like"`` (``v = 1``: every like counts the same) or ``"rating"``
        (``v = r_ui``: a 5-star like counts more than a 3.5).
    solver
        ``"cg"`` (``cg_steps`` conjugate gradient steps per half-step) or ``"exact"``.
    cg_steps
        Conjugate gradient steps per half-step (warm-started, so a few suffice).
    random_state
        Seed of the initial factors.
    dtype
        ``"float32"`` or ``"float64"``.
    threads
        Worker threads (None: every CPU). BLAS is held to one thread per worker.
    """

    factors: int = 64
    iterations: int = 15
    regularization: float | None = None
    alpha: float = 2.0
    like_threshold: float = 3.5
    feedback: str = "implicit"
    confidence: str = "like"
    solver: str = "cg"
    cg_steps: int = 3
    random_state: int = 0
    dtype: str = "float32"
    threads: int | None = None

    def __post_init__(self) -> None:
        owner = "ALSConfig"
        for name in ("factors", "iterations", "cg_steps", "random_state"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{owner}.{name} must be an integer, got {value!r}")
        check_range(owner, "factors", self.factors, 1, 4096)
        check_range(owner, "iterations", self.iterations, 1, 10_000)
        check_range(owner, "cg_steps", self.cg_steps, 1, 1000)
        check_range(owner, "random_state", self.random_state, 0, 2**32 - 1)
        if self.regularization is not None:
            check_range(owner, "regularization", self.regularization, 0.0)
        check_range(owner, "alpha", self.alpha, 0.0)
        check_range(owner, "like_threshold", self.like_threshold, 0.0, 10.0)
        check_choice(owner, "feedback", self.feedback, ("implicit", "explicit"))
        check_choice(owner, "confidence", self.confidence, ("like", "rating"))
        check_choice(owner, "solver", self.solver, ("cg", "exact"))
        check_choice(owner, "dtype", self.dtype, ("float32", "float64"))
        check_threads(owner, self.threads)

    def resolve_regularization(self, n_entries: int) -> float:
        """``regularization``, or the default for ``n_entries`` likes / ratings."""
        if self.regularization is not None:
            return float(self.regularization)
        if self.feedback == "explicit":
            return EXPLICIT_REG
        return IMPLICIT_REG_PER_SQRT_LIKE * float(np.sqrt(n_entries))


class ALSRecommender(Recommender):
    """Matrix factorisation by alternating least squares (see the module docstring).

    Learned: ``user_factors_`` (users x k), ``item_factors_`` (items x k),
    ``regularization_`` (the lambda used) and, explicit only, ``global_mean_``,
    ``user_bias_``, ``item_bias_``.
    """

    name = "als"
    config_class = ALSConfig
    config: ALSConfig

    # ------------------------------------------------------------ fitting
    def _weights(self, values: np.ndarray) -> np.ndarray:
        """Implicit ``w = c - 1 = alpha * v`` of liked ratings ``values``."""
        v = values if self.config.confidence == "rating" else np.ones_like(values)
        return (self.config.alpha * v).astype(self.config.dtype)

    def _likes(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        likes = matrix.copy()
        likes.data = np.where(likes.data >= self.config.like_threshold, likes.data, 0)
        likes.eliminate_zeros()
        return likes

    def _fit(self, matrix: sp.csr_matrix, **context: Any) -> None:
        cfg = self.config
        dtype = np.dtype(cfg.dtype)
        implicit = cfg.feedback == "implicit"
        data = self._likes(matrix) if implicit else matrix
        if data.nnz == 0:
            raise ModelFitError(f"ALS ({cfg.feedback}): no ratings at or above "
                                f"like_threshold={cfg.like_threshold} to learn from")
        started = time.perf_counter()
        self.regularization_ = cfg.resolve_regularization(data.nnz)
        data_t = data.T.tocsr()
        if implicit:
            w_u = self._weights(data.data)
            w_i = self._weights(data_t.data)
            targets = (1.0 + w_u, 1.0 + w_i)  # c_ui * p_ui with p = 1 on likes
        else:
            w_u = w_i = None  # every rated cell weighs 1
            self.global_mean_ = float(data.data.mean())
        users, items = Side.from_csr(data, w_u), Side.from_csr(data_t, w_i)
        k = cfg.factors + (0 if implicit else 1)  # explicit: last column is the bias
        rng = np.random.default_rng(cfg.random_state)
        x = (rng.standard_normal((data.shape[0], k)) * 0.01).astype(dtype)
        y = (rng.standard_normal((data.shape[1], k)) * 0.01).astype(dtype)
        if not implicit:
            x[:, -1] = 0.0
            y[:, -1] = 0.0
        exact = cfg.solver == "exact"
        workers = resolve_threads(cfg.threads)
        callback: Callable[[int, ALSRecommender], None] | None = context.get("callback")
        with blas_threads(1), (ThreadPoolExecutor(workers) if workers > 1 else _no_pool()) as pool:
            for it in range(cfg.iterations):
                tick = time.perf_counter()
                for side, fixed, solved in ((users, y, x), (items, x, y)):
                    if implicit:
                        target = targets[0] if side is users else targets[1]
                        gram = fixed.T @ fixed  # Y^T Y: what every unliked item contributes
                        feats = fixed
                    else:
                        # [y_i, 1] . [x_u, b_u] = r_ui - mu - b_i
                        other = data_t.data if side is items else data.data
                        bias = fixed[side.indices, -1]
                        target = (other - self.global_mean_ - bias).astype(dtype)
                        gram = None
                        feats = fixed.copy()
                        feats[:, -1] = 1.0
                    half_step(side, target, feats, solved, gram, self.regularization_,
                              not implicit, cfg.cg_steps, exact, pool)
                self._store(x, y)
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("ALS iteration %d/%d: %.2fs, loss %.6g", it + 1, cfg.iterations,
                              time.perf_counter() - tick, self.training_loss())
                if callback is not None:
                    callback(it, self)
        self._store(x, y, final=True)
        if implicit:
            # a user with no likes has x = 0 (all scores 0): score them as the average user
            liked = users.counts > 0
            self.user_factors_[~liked] = self.user_factors_[liked].mean(axis=0)
        self._gram = None
        log.info("ALS (%s, %d factors, lambda %g, %d iterations, %s on %d threads): %d users x "
                 "%d items, %d entries in %.2fs", cfg.feedback, cfg.factors, self.regularization_,
                 cfg.iterations, cfg.solver, workers, data.shape[0], data.shape[1], data.nnz,
                 time.perf_counter() - started)

    def _store(self, x: np.ndarray, y: np.ndarray, final: bool = False) -> None:
        if self.config.feedback == "implicit":
            self.user_factors_, self.item_factors_ = x, y
            return
        keep = np.ascontiguousarray if final else (lambda a: a)
        self.user_factors_, self.item_factors_ = keep(x[:, :-1]), keep(y[:, :-1])
        self.user_bias_, self.item_bias_ = keep(x[:, -1]), keep(y[:, -1])

    def training_loss(self) -> float:
        """The objective on the training data, per user x item cell (lower is better).

        Implicit: ``sum_ui c_ui (p_ui - x_u.y_i)^2 + lambda (|X|^2 + |Y|^2)``, with the
        unobserved cells summed in closed form (``sum_u x_u^T Y^T Y x_u``). Explicit:
        ``sum_(u,i) rated (r_ui - rhat_ui)^2 + lambda (sum_u n_u |(x_u, b_u)|^2 + ...)``.
        """
        self._check_fitted()
        cfg = self.config
        x = self.user_factors_.astype(np.float64)
        y = self.item_factors_.astype(np.float64)
        if cfg.feedback == "implicit":
            data = self._likes(self.seen_)
            x[np.diff(data.indptr) == 0] = 0.0  # users without likes: not fitted, see _fit
            s = pair_dots(x, y, csr_rows(data), data.indices)
            c = 1.0 + self._weights(data.data).astype(np.float64)
            loss = np.sum((x @ (y.T @ y)) * x) + np.sum(c * (1 - s) ** 2 - s**2)
            loss += self.regularization_ * (np.sum(x**2) + np.sum(y**2))
        else:
            data = self.seen_
            rows = csr_rows(data)
            pred = self._predict_indices(rows, data.indices)
            n_u, n_i = np.diff(data.indptr), np.bincount(data.indices, minlength=data.shape[1])
            norm_u = np.sum(x**2, axis=1) + self.user_bias_.astype(np.float64) ** 2
            norm_i = np.sum(y**2, axis=1) + self.item_bias_.astype(np.float64) ** 2
            loss = np.sum((data.data - pred) ** 2)
            loss += self.regularization_ * (n_u @ norm_u + n_i @ norm_i)
        return float(loss / (data.shape[0] * data.shape[1]))

    # ------------------------------------------------------------ scoring
    def _score_users(self, users: np.ndarray) -> np.ndarray:
        scores = self.user_factors_[users] @ self.item_factors_.T
        if self.config.feedback == "explicit":
            scores += self.global_mean_ + self.user_bias_[users, None] + self.item_bias_[None]
        return scores

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_

    def _predict_indices(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        dots = pair_dots(self.user_factors_, self.item_factors_, users, items)
        return self.global_mean_ + self.user_bias_[users] + self.item_bias_[items] + dots

    def predict(self, user_ids: np.ndarray | list[int],
                movie_ids: np.ndarray | list[int]) -> np.ndarray:
        """Predicted ratings of (user, movie) pairs (explicit feedback only).

        NaN where the user or the movie is unknown, as in :meth:`score_pairs`.
        """
        self._check_fitted()
        if self.config.feedback != "explicit":
            raise NotImplementedError(
                "implicit ALS scores rank movies, they are not ratings: "
                "use ALSConfig(feedback='explicit') to predict ratings")
        return predict_known(self, user_ids, movie_ids, self._predict_indices)

    def _fold_in_vector(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The user equation solved exactly for one new user (explicit: ``[x_u, b_u]``)."""
        cfg = self.config
        y = self.item_factors_.astype(np.float64)
        values = np.asarray(values, dtype=np.float64)
        if cfg.feedback == "implicit":
            liked = values >= cfg.like_threshold
            if not liked.any():  # nothing liked: the average user, as in fit
                return self.user_factors_.mean(axis=0).astype(np.float64)
            if getattr(self, "_gram", None) is None:  # Y^T Y, cached for the next user
                self._gram = y.T @ y
            f = y[items[liked]]
            w = self._weights(values[liked]).astype(np.float64)
            a = self._gram + f.T @ (w[:, None] * f) + self.regularization_ * np.eye(y.shape[1])
            return np.linalg.solve(a, f.T @ (1.0 + w))
        if len(items) == 0:  # no ratings: the global mean plus item biases
            return np.zeros(y.shape[1] + 1)
        f = np.hstack([y[items], np.ones((len(items), 1))])
        target = values - self.global_mean_ - self.item_bias_[items]
        a = f.T @ f + self.regularization_ * len(items) * np.eye(f.shape[1])
        return np.linalg.solve(a, f.T @ target)

    def _fold_in(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        vector = self._fold_in_vector(items, values)
        if self.config.feedback == "implicit":
            return self.item_factors_ @ vector.astype(self.item_factors_.dtype)
        x, bias = vector[:-1].astype(self.item_factors_.dtype), vector[-1]
        return self.global_mean_ + bias + self.item_bias_ + self.item_factors_ @ x

    # ------------------------------------------------------------ persistence
    def _state(self) -> dict[str, np.ndarray]:
        state = {"user_factors": self.user_factors_, "item_factors": self.item_factors_,
                 "regularization": np.array(self.regularization_)}
        if self.config.feedback == "explicit":
            state.update(user_bias=self.user_bias_, item_bias=self.item_bias_,
                         global_mean=np.array(self.global_mean_))
        return state

    def _load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self._gram = None
        self.regularization_ = float(arrays["regularization"])
        self.user_factors_ = arrays["user_factors"]
        self.item_factors_ = arrays["item_factors"]
        if self.config.feedback == "explicit":
            self.user_bias_ = arrays["user_bias"]
            self.item_bias_ = arrays["item_bias"]
            self.global_mean_ = float(arrays["global_mean"])
