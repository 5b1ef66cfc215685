"""Alternating least squares: implicit (Hu, Koren & Volinsky 2008) and biased explicit.

Both variants alternate two half-steps: with the item factors ``Y`` fixed, every user's
factor solves a small ridge regression, then the roles swap. Implicit ALS fits preference 1
with confidence ``1 + alpha v`` on liked items and preference 0 with confidence 1 on every
other item; explicit ALS fits ``mu + b_u + b_i + x_u . y_i`` to the observed ratings only,
with weighted-lambda regularisation (Zhou et al. 2008). :mod:`reco.models.mf._als_solver`
writes both as one system ``(G + diag(lambda_u) + F_u^T W_u F_u) x_u = F_u^T t_u`` (its
docstring gives ``G``, ``W``, ``t`` and ``lambda`` of each variant) and solves it in
batches: by default a few conjugate gradient steps per half-step warm-started from the
previous factors;
``solver="exact"`` builds and solves every ``k x k`` system instead.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from reco.config import ConfigBase, check_choice, check_int, check_range
from reco.exceptions import ModelFitError
from reco.models.base import Recommender

# reco.models.mf.svd imports the thread and pair helpers from here too
from reco.models.mf._als_solver import (
    Side,
    _no_pool,
    blas_threads,
    check_threads,
    csr_rows,
    half_step,
    pair_dots,
    predict_known,
    resolve_threads,
)
from reco.progress import Progress

log = logging.getLogger(__name__)

#: Default lambda. Implicit: ``0.135 sqrt(number of likes)``, which is 30 on ml-latest-small
#: (NDCG@10 0.128; 0.107 at implicit's 0.05) and 533 on a 32M-rating synthetic release,
#: whose best lambda is about 300-500 (NDCG@10 0.207 at 300, 0.077 at 30, popularity 0.185).
#: Explicit: 0.1, already scaled by each row's count (ml-latest-small RMSE 0.871).
IMPLICIT_REG_PER_SQRT_LIKE = 0.135
EXPLICIT_REG = 0.1


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
    regularization_scale
        Implicit, ``regularization`` None: the multiple of the data-scaled default used
        (what fit-time tuning, :mod:`reco.ranking.tuning`, chooses).
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
    regularization_scale: float = 1.0
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
        check_int(owner, "factors", self.factors, 1, 4096)
        check_int(owner, "iterations", self.iterations, 1, 10_000)
        check_int(owner, "cg_steps", self.cg_steps, 1, 1000)
        check_int(owner, "random_state", self.random_state, 0, 2**32 - 1)
        if self.regularization is not None:
            check_range(owner, "regularization", self.regularization, 0.0)
        check_range(owner, "regularization_scale", self.regularization_scale, 0.0)
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
        return (self.regularization_scale * IMPLICIT_REG_PER_SQRT_LIKE
                * float(np.sqrt(n_entries)))


class ALSRecommender(Recommender):
    """Matrix factorisation by alternating least squares (see the module docstring).

    Learned: ``user_factors_`` (users x k), ``item_factors_`` (items x k),
    ``regularization_`` (the lambda used) and, explicit only, ``global_mean_``,
    ``user_bias_``, ``item_bias_``.
    """

    name = "als"
    config_class = ALSConfig
    user_arrays = ("user_factors", "user_bias")
    item_arrays = ("item_factors", "item_bias")
    factor_arrays = ("user_factors", "item_factors")
    config: ALSConfig
    _gram: np.ndarray | None  # Y^T Y for fold-in, cached after the first new user

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
        w_u: np.ndarray | None
        w_i: np.ndarray | None
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
        warm: ALSRecommender | None = context.get("warm_start")
        iterations = int(context.get("iterations") or cfg.iterations)
        if warm is not None:
            self._start_from(warm, x, y)
        exact = cfg.solver == "exact"
        workers = resolve_threads(cfg.threads)
        callback: Callable[[int, ALSRecommender], None] | None = context.get("callback")
        progress = Progress(f"ALS ({cfg.feedback})", iterations, "iterations")
        with blas_threads(1), (ThreadPoolExecutor(workers) if workers > 1 else _no_pool()) as pool:
            for it in range(iterations):
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
                    log.debug("ALS iteration %d/%d: %.2fs, loss %.6g", it + 1, iterations,
                              time.perf_counter() - tick, self.training_loss())
                if callback is not None:
                    callback(it, self)
                progress.advance()
        self._store(x, y, final=True)
        if implicit:
            # a user with no likes has x = 0 (all scores 0): score them as the average user
            liked = users.counts > 0
            self.user_factors_[~liked] = self.user_factors_[liked].mean(axis=0)
        self._gram = None
        log.info("ALS (%s, %d factors, lambda %g, %d iterations%s, %s on %d threads): %d users "
                 "x %d items, %d entries in %.2fs", cfg.feedback, cfg.factors,
                 self.regularization_, iterations, " from a previous fit" if warm else "",
                 cfg.solver, workers, data.shape[0], data.shape[1], data.nnz,
                 time.perf_counter() - started)

    def _start_from(self, warm: ALSRecommender, x: np.ndarray, y: np.ndarray) -> None:
        """Put ``warm``'s factors (and biases) into the initial ``x`` and ``y`` for the
        users and items it knows, by id; the others keep their random start. Iterations
        from there converge in fewer sweeps than from noise (a refit on more ratings of
        mostly the same people and movies)."""
        cfg = self.config
        if warm.config.feedback != cfg.feedback or warm.config.factors != cfg.factors:
            raise ValueError(f"warm start from a {warm.config.feedback} ALS of "
                             f"{warm.config.factors} factors; this is {cfg.feedback} with "
                             f"{cfg.factors}")
        warm._check_fitted()
        explicit = cfg.feedback == "explicit"
        for start, ours, theirs, factors, bias in (
                (x, self.user_map_, warm.user_map_, warm.user_factors_,
                 getattr(warm, "user_bias_", None)),
                (y, self.item_map_, warm.item_map_, warm.item_factors_,
                 getattr(warm, "item_bias_", None))):
            rows = theirs.indices(ours.ids, missing="mask")
            known = rows >= 0
            start[known, :cfg.factors] = factors[rows[known]]
            if explicit and bias is not None:
                start[known, -1] = bias[rows[known]]

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
        self._check_explicit()
        return predict_known(self, user_ids, movie_ids, self._predict_indices)

    def _fold_in_vector(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The user equation solved exactly for one new user (explicit: ``[x_u, b_u]``)."""
        cfg = self.config
        y = self.item_factors_
        values = np.asarray(values, dtype=np.float64)
        if cfg.feedback == "implicit":
            liked = values >= cfg.like_threshold
            if not liked.any():  # nothing liked: the average user, as in fit
                return self.user_factors_.mean(axis=0).astype(np.float64)
            if getattr(self, "_gram", None) is None:  # Y^T Y, cached for the next user
                y64 = y.astype(np.float64)
                self._gram = y64.T @ y64
            f = y[items[liked]].astype(np.float64)
            w = self._weights(values[liked]).astype(np.float64)
            a = self._gram + f.T @ (w[:, None] * f) + self.regularization_ * np.eye(y.shape[1])
            return np.linalg.solve(a, f.T @ (1.0 + w))
        if len(items) == 0:  # no ratings: the global mean plus item biases
            return np.zeros(y.shape[1] + 1)
        f = np.hstack([y[items].astype(np.float64), np.ones((len(items), 1))])
        target = values - self.global_mean_ - self.item_bias_[items]
        a = f.T @ f + self.regularization_ * len(items) * np.eye(f.shape[1])
        return np.linalg.solve(a, f.T @ target)

    def rating_terms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
        """``(X, b_user, Y, b_item, mu)`` with ``rating = mu + b_u + b_i + x_u . y_i``."""
        self._check_explicit()
        return (self.user_factors_, self.user_bias_, self.item_factors_, self.item_bias_,
                self.global_mean_)

    def fold_in_rating_terms(self, items: np.ndarray,
                             values: np.ndarray) -> tuple[np.ndarray, float]:
        """``(x_u, b_u)`` of a new user from ratings of item indices ``items``."""
        self._check_explicit()
        vector = self._fold_in_vector(items, values)
        return vector[:-1].astype(self.item_factors_.dtype), float(vector[-1])

    def _check_explicit(self) -> None:
        self._check_fitted()
        if self.config.feedback != "explicit":
            raise NotImplementedError(
                "implicit ALS scores rank movies, they are not ratings: "
                "use ALSConfig(feedback='explicit') to predict ratings")

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
