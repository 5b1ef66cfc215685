"""The generator oracle: a ceiling estimate of top-N ranking on a synthetic release.

On a release made by :mod:`reco.data.synthetic` the relevant items of the protocol (a user's
liked test movies) come from two draws the generator makes: *which* movies a user rates (by
a choice weight w_ui among the movies released by the end of the user's active period, each
dated uniformly between its release or the period's start and the period's end) and *how*
(the rating value, from the user's and the movie's latent parameters, given which). The
choice weight is the movie's popularity, or with the config's ``selection_taste`` b > 0
popularity x exp(b t_ui), t_ui the standardised taste
(:meth:`~reco.data.synthetic.GroundTruth.choice_weights`); the two draws are then no longer
independent (a user chooses what they like), but given the choice the rating is drawn as
before, so the score below is still the product of the two probabilities.
:class:`OracleRecommender` is handed those parameters
(:class:`~reco.data.synthetic.GroundTruth`) and ranks by the probability that a candidate is
relevant. It is not a model and not a peer: no model could know the parameters, so its NDCG
is an estimate of the best any model can reach on the release, the ceiling the evaluation's
ratios should be read against.

Two modes (:class:`OracleConfig`):

``"simple"``
    score(u, i) = w_ui * P(like | truth), 0 for a movie released after the user's
    period (it cannot be rated); the user's training ratings are ignored.
``"timed"`` (default)
    P(i in u's test part | u's training part, truth) * P(like | truth, dated after the cut).
    The user's ratings are a w-weighted draw without replacement of
    ``n_u = user_count[u]`` movies among the released ones; by occupancy, movie i is among
    them with pi_i = 1 - exp(-lambda_u w_ui), lambda_u solving sum_i pi_i = n_u. A drawn
    movie is dated after the split's cut t_u (the user's last training rating on the
    per-user split, the time cut on the global one) with g_i = P(day_i >= t_u), the day
    uniform on [max(start_u, release_i), end_u]. Given that i is not in train, it is in
    test with odds o_i = pi_i g_i / (1 - pi_i); the test part has exactly
    ``m_u = n_u - |train_u|`` movies, so (conditional Bernoulli, Hajek's approximation)
    P(i in test) = theta_u o_i / (1 + theta_u o_i) with theta_u making them sum to m_u.

What it ignores: the sampler's exact without-replacement law (the resample rounds and the
heaviest users' strided fill are modelled as plain occupancy; with b > 0 the generator only
approximates the w-weighted law, by a race within a pool drawn from its taste group's
proposal, :mod:`reco.data.synthetic._choice`, which draws the movies far more to a user's
taste than to its group's a little less often than the law says: the oracle, modelling the
law, overrates those slightly; on 1,000 users x 1,500 movies at b = 1 the occupancy's
expected count of rated movies over the actual one is 0.98-1.02 in every tenth of the users'
tastes), the conditional Bernoulli's exact marginals, the hour within the day, the per-user
split's tie-break on movie id, and the protocol's coupling of a user's hits through IDCG (it
ranks by marginal probabilities, which maximises expected DCG, not exactly expected NDCG).
So it is an estimate of the ceiling, not a bound: a cleverer use of the truth could score a
little higher.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp

from reco.columns import TIMESTAMP, USER_ID
from reco.config import ConfigBase, check_choice, check_range
from reco.data.split import LIKE_THRESHOLD, Split
from reco.data.synthetic import GroundTruth
from reco.ids import IdMap, rating_matrix
from reco.models.base import BaseRecommender

log = logging.getLogger(__name__)

ORACLE = "generator oracle (ceiling estimate)"
MODES = ("simple", "timed")
_DAY = 86_400
_NEWTON_STEPS = 60
_TOLERANCE = 1e-6  # relative error of the solved sums (in expected movies)
_MAX_EXPONENT = 30.0  # odds exp(30): a movie drawn for certain, and no float32 overflow
_WEIGHT_BINS = 512  # log-spaced popularity bins of the occupancy rates
_RATE_BLOCK_CELLS = 1 << 22  # users x movies per block of per-user occupancy rates


@dataclass(frozen=True)
class OracleConfig(ConfigBase):
    """How :class:`OracleRecommender` scores: ``mode`` (module docstring) and what a like is."""

    mode: str = "timed"
    like_threshold: float = LIKE_THRESHOLD

    def __post_init__(self) -> None:
        check_choice("OracleConfig", "mode", self.mode, MODES)
        check_range("OracleConfig", "like_threshold", self.like_threshold, 0.0, 10.0)


class OracleRecommender(BaseRecommender):
    """Ranks by the generator's own probabilities (a ceiling estimate, not a model).

    ``fit(train, kind)`` reads only the training ratings' (user, movie, timestamp): which
    movies each user has (they are not candidates, and not in test), and the time after
    which the user's test ratings fall. Users and items are every user and movie of the
    truth, so every train movie can be scored.
    """

    name = "generator_oracle"
    config_class = OracleConfig
    config: OracleConfig

    def __init__(self, truth: GroundTruth, config: OracleConfig | None = None) -> None:
        super().__init__(config)
        self.truth = truth

    def fit(self, train: pl.DataFrame, kind: str = "per_user") -> OracleRecommender:
        """Learn the split's cut per user from ``train`` (``kind``: the :class:`Split`'s,
        ``"per_user"`` or ``"global_time"``); returns self."""
        check_choice("OracleRecommender.fit", "kind", kind, ("per_user", "global_time"))
        truth = self.truth
        users, items = IdMap(truth.user_ids, "user"), IdMap(truth.movie_ids, "movie")
        seen = rating_matrix(train, users, items, values=None)
        cut = np.full(len(users), -np.inf)
        if train.height:
            if kind == "global_time":
                # train is every rating before the cut, so the next second is the best guess
                cut[:] = float(train.select(pl.col(TIMESTAMP).max()).item()) + 1.0
            else:  # test is each user's ratings after the last training one
                last = train.group_by(USER_ID).agg(pl.col(TIMESTAMP).max())
                rows = users.indices(last[USER_ID].to_numpy())
                cut[rows] = last[TIMESTAMP].to_numpy().astype(np.float64)
        self.cut_day_ = cut / _DAY
        self.remaining_ = np.maximum(truth.user_count - np.diff(seen.indptr), 0)
        self.draw_rate_ = (_occupancy_rates(truth) if truth.selection_taste == 0
                           else _choice_rates(truth))
        self.user_map_, self.seen_, self.item_map_ = users, sp.csr_matrix(seen), items
        return self

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        self._check_fitted()
        truth, threshold = self.truth, self.config.like_threshold
        released = truth.released(users)
        if self.config.mode == "simple":
            like = truth.like_matrix(users, threshold)
            return np.where(released, truth.choice_weights(users) * like, 0.0)
        cut = self.cut_day_[users]
        like = truth.like_matrix(users, threshold, from_day=np.floor(cut))
        weight = None if truth.selection_taste == 0 else truth.choice_weights(users)
        return _test_probability(truth, users, cut, self.draw_rate_[users],
                                 self.remaining_[users], self.seen_[users], released,
                                 weight) * like


def _occupancy_rates(truth: GroundTruth) -> np.ndarray:
    """lambda_u per user: sum over the released movies of 1 - exp(-lambda w_i) = n_u
    (inf when the user rates every released movie).

    The released movies are a prefix of the release order, so the sum is taken over
    ``_WEIGHT_BINS`` log-spaced popularity bins (a user's count in a bin is a search in the
    bin's sorted release positions): users x bins instead of users x movies. A weight is
    within half a bin of its bin's (0.8% on synthetic-1m), which moves lambda less.
    """
    order = np.argsort(truth.release_day, kind="stable")
    log_w = np.log(truth.popularity[order])
    edges = np.linspace(log_w.min(), log_w.max(), _WEIGHT_BINS + 1)
    which = np.clip(np.searchsorted(edges, log_w, side="right") - 1, 0, _WEIGHT_BINS - 1)
    weight = np.exp((edges[:-1] + edges[1:]) / 2 - log_w.max())  # relative: no underflow
    used = np.unique(which)  # the top bins hold few movies; most are empty
    weight = weight[used]
    counts = np.stack([np.searchsorted(np.flatnonzero(which == b), truth.user_allowed)
                       for b in used], axis=1).astype(np.float64)
    rates = _solve_concave(np.broadcast_to(weight, counts.shape), truth.user_count,
                           _occupancy, counts)
    return rates / np.exp(log_w.max())


def _choice_rates(truth: GroundTruth) -> np.ndarray:
    """lambda_u per user as :func:`_occupancy_rates`, for weights that differ by user
    (``selection_taste`` > 0): no shared bins, so users x movies, a block of users at a time.
    Each user's weights are :meth:`~GroundTruth.choice_weights`'s, whose per-user factor
    :func:`_test_probability` sees again (the same rows give the same factor)."""
    n_users, n_movies = len(truth.user_ids), len(truth.movie_ids)
    step = max(1, _RATE_BLOCK_CELLS // max(n_movies, 1))
    rates = np.empty(n_users)
    for start in range(0, n_users, step):
        users = np.arange(start, min(start + step, n_users))
        weight = np.where(truth.released(users), truth.choice_weights(users), 0.0)
        rates[users] = _solve_concave(weight, truth.user_count[users], _occupancy)
    return rates


def _occupancy(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P(drawn) = 1 - exp(-z) for z = lambda w, and its derivative in z."""
    drawn = np.exp(-z)
    return 1.0 - drawn, drawn


def _inclusion(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """P(included) = z / (1 + z) for z = theta * odds, and its derivative in z."""
    return z / (1.0 + z), 1.0 / (1.0 + z) ** 2


def _test_probability(truth: GroundTruth, users: np.ndarray, cut: np.ndarray,
                      rate: np.ndarray, remaining: np.ndarray, seen: sp.csr_matrix,
                      released: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """P(movie i is among user u's test ratings | u's training ratings, truth), float32.

    ``weight``: the users' choice weights (len(users), n_movies), on the scale ``rate`` was
    solved on; None: popularity (``selection_taste`` 0)."""
    f32 = np.float32
    # a rating's day is uniform on [lo, end]; in continuous days it is in [lo, end + 1)
    end = (truth.user_end[users] + 1).astype(f32)[:, None]
    lo = np.maximum(truth.user_start[users].astype(f32)[:, None],
                    truth.release_day.astype(f32)[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):  # the unreleased: masked below
        after = np.clip((end - np.maximum(lo, cut.astype(f32)[:, None])) / (end - lo), 0, 1)
    if weight is None:
        exponent = np.minimum(rate.astype(f32)[:, None] * truth.popularity.astype(f32)[None, :],
                              f32(_MAX_EXPONENT))
    else:  # in float64: exp(b t) spans far more than float32 does; inf * 0 is not drawn
        with np.errstate(invalid="ignore"):
            z = rate[:, None] * weight
        exponent = np.minimum(np.where(weight > 0, z, 0.0), _MAX_EXPONENT).astype(f32)
    # odds of "drawn and dated after the cut" against "not drawn": pi g / (1 - pi)
    odds = np.where(released, np.expm1(exponent) * after, f32(0))
    rows = np.repeat(np.arange(len(users)), np.diff(seen.indptr))
    odds[rows, seen.indices] = 0  # in train, so not in test
    theta = _solve_concave(odds, remaining, _inclusion)
    with np.errstate(invalid="ignore"):  # inf * 0 where the user's test takes everything
        scaled = theta.astype(f32)[:, None] * odds
        p = np.where(np.isinf(scaled), f32(1), scaled / (1 + scaled))
    return np.asarray(np.where(odds > 0, p, f32(0)))


def _solve_concave(values: np.ndarray, target: np.ndarray,
                   phi: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
                   multiplicity: np.ndarray | None = None) -> np.ndarray:
    """x >= 0 per row with sum_i c_i phi(x v_i) = target, for phi increasing and concave,
    phi(0) = 0, phi(inf) = 1 (``phi`` returns phi and phi'; c: ``multiplicity``, of
    ``values``'s shape, 1 when None); inf when the target is the row's count of positive
    values, 0 when it is 0.

    Newton from x = 0: the row's sum is concave in x, so each tangent meets the target
    at or below the root and the iterates rise to it monotonically, without overshoot.
    """
    target = np.asarray(target, dtype=np.float64)
    weight = np.ones_like(values) if multiplicity is None else multiplicity
    n_positive = ((values > 0) * weight).sum(axis=1, dtype=np.float64)
    x = np.zeros(len(target))
    x[target >= n_positive] = np.inf
    todo = np.flatnonzero((target > 0) & (target < n_positive))
    for _ in range(_NEWTON_STEPS):
        if todo.size == 0:
            break
        v, c = values[todo], weight[todo]
        level, slope = phi(x[todo, None].astype(v.dtype) * v)
        gap = target[todo] - (c * level).sum(axis=1, dtype=np.float64)
        x[todo] += gap / (c * v * slope).sum(axis=1, dtype=np.float64)
        todo = todo[gap > _TOLERANCE * target[todo]]
    if todo.size:
        log.debug("oracle: %d rows not converged after %d Newton steps", todo.size,
                  _NEWTON_STEPS)
    return x


def oracle_method(truth: GroundTruth, config: OracleConfig | None = None
                  ) -> Callable[[Split], BaseRecommender]:
    """A :class:`~reco.evaluation.protocol.Method` ``fit``: the oracle fitted on a split."""
    def fit(split: Split) -> BaseRecommender:
        return OracleRecommender(truth, config).fit(split.train, split.kind)
    return fit

