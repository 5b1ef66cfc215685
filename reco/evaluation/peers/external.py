"""Peers wrapping optional packages: ``implicit`` ALS and ``scikit-surprise`` SVD.

Neither package is a dependency of reco. The classes always exist (so saved models keep
their names); constructing one without its package raises :class:`PeerUnavailableError`
naming what to install. Both keep only numeric factor arrays, so they save to ``.npz``
like every other recommender (no pickle, unlike Surprise's own ``dump``).
"""

from __future__ import annotations

import functools
import importlib
import logging
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from reco.columns import MOVIE_ID, RATING, USER_ID
from reco.config import ConfigBase, check_int, check_range
from reco.data.split import LIKE_THRESHOLD
from reco.exceptions import RecoError
from reco.models.base import Recommender

log = logging.getLogger(__name__)


class PeerUnavailableError(RecoError, ImportError):
    """A peer's optional package (``implicit``, ``surprise``) is not importable."""


@functools.cache
def _import_error(module: str) -> str | None:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def _require(module: str, pip_name: str, peer: str) -> ModuleType:
    error = _import_error(module)
    if error is not None:
        raise PeerUnavailableError(
            f"{peer} needs the optional package {pip_name!r} (pip install {pip_name}); "
            f"importing {module!r} failed with {error}"
        )
    return importlib.import_module(module)


def implicit_available() -> bool:
    """Whether ``implicit`` imports (so :class:`ImplicitALSPeer` can be built)."""
    return _import_error("implicit.cpu.als") is None


def surprise_available() -> bool:
    """Whether ``surprise`` imports (so :class:`SurpriseSVDPeer` can be built)."""
    return _import_error("surprise") is None


# ---------------------------------------------------------------------------- implicit
@dataclass(frozen=True)
class ImplicitALSConfig(ConfigBase):
    """``implicit.cpu.als.AlternatingLeastSquares`` on the like matrix.

    ``implicit`` scales the matrix by ``alpha``, so a like has confidence ``alpha`` and
    every other pair confidence 1 with preference 0.
    """

    factors: int = 64
    regularization: float = 0.05
    alpha: float = 2.0
    iterations: int = 15
    random_state: int = 0
    num_threads: int = 2
    like_threshold: float = LIKE_THRESHOLD

    def __post_init__(self) -> None:
        for name in ("factors", "iterations", "num_threads"):
            check_int("ImplicitALSConfig", name, getattr(self, name), 1)
        check_range("ImplicitALSConfig", "regularization", self.regularization, 0.0)
        check_range("ImplicitALSConfig", "alpha", self.alpha, 0.0)
        check_range("ImplicitALSConfig", "like_threshold", self.like_threshold, 0.0, 10.0)


class ImplicitALSPeer(Recommender):
    """Hu, Koren and Volinsky's implicit-feedback ALS, as the ``implicit`` package fits it.

    Fitted on the users x items binary like matrix (``implicit`` >= 0.5 takes user_items);
    scores are ``user_factors_[u] @ item_factors_.T``.
    """

    name = "implicit_als"
    config_class = ImplicitALSConfig
    config: ImplicitALSConfig
    state_arrays = ("user_factors", "item_factors")

    def __init__(self, config: ImplicitALSConfig | None = None) -> None:
        self._als = _require("implicit.cpu.als", "implicit", type(self).__name__)
        super().__init__(config)

    def _fit(self, matrix: sp.csr_matrix, **context: Any) -> None:
        from threadpoolctl import threadpool_limits

        likes = sp.csr_matrix((matrix >= self.config.like_threshold).astype(np.float32))
        cfg = self.config
        # implicit's own advice (it warns otherwise): one BLAS thread, since its solver
        # parallelises over users itself
        with threadpool_limits(1, "blas"):
            model = self._als.AlternatingLeastSquares(
                factors=cfg.factors, regularization=cfg.regularization, alpha=cfg.alpha,
                iterations=cfg.iterations, random_state=cfg.random_state,
                num_threads=cfg.num_threads,
            )
            model.fit(likes, show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users] @ self.item_factors_.T

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_


# ---------------------------------------------------------------------------- surprise
@dataclass(frozen=True)
class SurpriseSVDConfig(ConfigBase):
    """Surprise's ``SVD`` (Funk SVD with biases, SGD); the defaults are Surprise's."""

    n_factors: int = 100
    n_epochs: int = 20
    lr_all: float = 0.005
    reg_all: float = 0.02
    init_std_dev: float = 0.1
    random_state: int = 0

    def __post_init__(self) -> None:
        for name in ("n_factors", "n_epochs"):
            check_int("SurpriseSVDConfig", name, getattr(self, name), 1)
        for name in ("lr_all", "reg_all", "init_std_dev"):
            check_range("SurpriseSVDConfig", name, getattr(self, name), 0.0)


class SurpriseSVDPeer(Recommender):
    """Surprise's SVD fitted on the explicit training ratings, ranked by predicted rating.

    The prediction ``mu + b_u + b_i + q_i . p_u`` is computed for every item at once from
    the learned ``bu, bi, pu, qi`` (re-ordered from Surprise's inner ids to reco's
    indices) and clipped to the training rating range, as ``SVD.predict`` does.
    """

    name = "surprise_svd"
    config_class = SurpriseSVDConfig
    config: SurpriseSVDConfig
    state_arrays = (
        "user_factors", "item_factors", "user_bias", "item_bias", "global_mean", "rating_range")

    def __init__(self, config: SurpriseSVDConfig | None = None) -> None:
        self._surprise = _require("surprise", "scikit-surprise", type(self).__name__)
        super().__init__(config)

    def fit(self, ratings: pl.DataFrame, movies: pl.DataFrame | None = None,
            **context: Any) -> SurpriseSVDPeer:
        """Fit on canonical ratings, handing Surprise the rows in the order given.

        Surprise assigns inner ids and runs SGD in row order, so the order changes the
        model; keeping the frame's order (not the CSR's user/movie order) reproduces the
        protocol's reference figures (RMSE 0.889 on ml-latest-small).
        """
        return super().fit(ratings, movies, train_ratings=ratings, **context)

    def _fit(self, matrix: sp.csr_matrix, **context: Any) -> None:
        import pandas as pd

        ratings: pl.DataFrame | None = context.get("train_ratings")
        if ratings is None:  # no frame: the CSR's order
            coo = matrix.tocoo()
            users, items = self.user_map_.ids[coo.row], self.item_map_.ids[coo.col]
            values = coo.data.astype(np.float64)
        else:
            users, items = ratings[USER_ID].to_numpy(), ratings[MOVIE_ID].to_numpy()
            values = ratings[RATING].to_numpy().astype(np.float64)
        frame = pd.DataFrame({"user": users, "item": items, "rating": values})
        scale = (float(values.min()), float(values.max()))
        surprise = self._surprise
        trainset = surprise.Dataset.load_from_df(
            frame, surprise.Reader(rating_scale=scale)
        ).build_full_trainset()
        cfg = self.config
        algo = surprise.SVD(
            n_factors=cfg.n_factors, n_epochs=cfg.n_epochs, lr_all=cfg.lr_all,
            reg_all=cfg.reg_all, init_std_dev=cfg.init_std_dev, random_state=cfg.random_state,
        ).fit(trainset)
        users = np.array([trainset.to_inner_uid(u) for u in self.user_map_.ids])
        items = np.array([trainset.to_inner_iid(i) for i in self.item_map_.ids])
        self.user_factors_ = np.asarray(algo.pu, dtype=np.float64)[users]
        self.item_factors_ = np.asarray(algo.qi, dtype=np.float64)[items]
        self.user_bias_ = np.asarray(algo.bu, dtype=np.float64)[users]
        self.item_bias_ = np.asarray(algo.bi, dtype=np.float64)[items]
        self.global_mean_ = np.array(trainset.global_mean, dtype=np.float64)
        self.rating_range_ = np.array(scale, dtype=np.float64)

    def _estimate(self, users: np.ndarray, items: np.ndarray | None = None) -> np.ndarray:
        """Clipped predictions for ``users`` x ``items`` (all items when None)."""
        cols = slice(None) if items is None else items
        raw = (self.global_mean_ + self.user_bias_[users][:, None] + self.item_bias_[cols][None, :]
               + self.user_factors_[users] @ self.item_factors_[cols].T)
        return np.clip(raw, *self.rating_range_)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self._estimate(users)

    def predict(self, user_ids: np.ndarray, movie_ids: np.ndarray) -> np.ndarray:
        """Predicted ratings of (user, movie) pairs, as ``SVD.predict`` would give them.

        An unknown user or movie contributes no bias and no factors (Surprise's rule),
        so a pair with both unknown gets the training mean.
        """
        self._check_fitted()
        users = self.user_map_.indices(user_ids, missing="mask")
        items = self.item_map_.indices(movie_ids, missing="mask")
        if users.shape != items.shape:
            raise ValueError(f"{users.size} user ids but {items.size} movie ids")
        known_u, known_i = users >= 0, items >= 0
        both = known_u & known_i
        raw = np.full(users.shape, float(self.global_mean_))
        raw[known_u] += self.user_bias_[users[known_u]]
        raw[known_i] += self.item_bias_[items[known_i]]
        raw[both] += np.einsum("ij,ij->i", self.user_factors_[users[both]],
                               self.item_factors_[items[both]])
        return np.clip(raw, *self.rating_range_)

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_
