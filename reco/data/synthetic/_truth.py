"""The synthetic generator's latent parameters, and the like probability they imply.

:func:`reco.data.synthetic.generate_with_truth` returns a :class:`GroundTruth` beside the
frames: what the generator drew for every user and movie before any rating was sampled.
Nothing a model is fitted on contains it; it exists so that an evaluation can say how well
*any* model could do on a synthetic release (:mod:`reco.evaluation.oracle`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """Everything :func:`~reco.data.synthetic.generate` drew, by index (id - 1).

    Ratings follow ``r* = b_u + b_i + s_u * (taste_std * p_u . q_i + noise * eps)``, cut
    into stars at ``whole_cuts`` (or ``half_cuts`` for a half-star rating: csv layout, a
    user's share ``user_half`` of the ratings dated from ``half_stars_since``). User ``u``
    is active on days ``user_start[u] .. user_end[u]`` (days since 1970-01-01) and rates
    ``user_count[u]`` distinct movies drawn by ``popularity`` among the
    ``user_allowed[u]`` released first (every movie with ``release_day <= user_end[u]``);
    each rating's day is uniform on ``max(user_start[u], release_day[i]) .. user_end[u]``.
    With ``selection_taste`` b > 0 the draw is by ``popularity * exp(b t_ui)`` instead
    (:meth:`choice_weights`), t_ui = p_u . q_i / ``taste_scale`` the standardised taste
    (:meth:`standardised_taste`), approximately (the pooled race of ``_choice``).
    """

    layout: str  # the config's: half stars on "csv" only
    taste_std: float  # the config's taste_std and noise
    noise: float
    user_ids: np.ndarray  # int64, 1..n_users: row u is user id u + 1
    user_bias: np.ndarray  # b_u
    user_spread: np.ndarray  # s_u
    user_taste: np.ndarray  # p_u, (n_users, n_factors)
    user_start: np.ndarray  # first active day
    user_end: np.ndarray  # last active day
    user_allowed: np.ndarray  # movies released by user_end (a prefix of the release order)
    user_count: np.ndarray  # ratings drawn
    user_half: np.ndarray  # share of half-star ratings from half_stars_since (csv only)
    movie_ids: np.ndarray  # int64, 1..n_movies
    movie_bias: np.ndarray  # b_i
    movie_taste: np.ndarray  # q_i, (n_movies, n_factors)
    popularity: np.ndarray  # the sampling weight (not normalised)
    release_day: np.ndarray
    whole_cuts: np.ndarray  # 4 thresholds on r*: stars 1..5
    half_cuts: np.ndarray  # 9 thresholds on r*: stars 0.5..5
    half_stars_since: int  # the first day a half star may be given
    selection_taste: float = 0.0  # the config's: b, how strongly choice follows taste
    taste_scale: float = 1.0  # the standard deviation of p_u . q_i over all pairs

    def released(self, users: np.ndarray) -> np.ndarray:
        """(len(users), n_movies) bool: the movies each of the user rows ``users`` may
        rate, those released by the end of its period."""
        return self.release_day[None, :] <= self.user_end[np.asarray(users)][:, None]

    def standardised_taste(self, users: np.ndarray) -> np.ndarray:
        """(len(users), n_movies) float32: t_ui = p_u . q_i / taste_scale of user rows
        ``users`` for every movie."""
        return np.asarray(self.user_taste[np.asarray(users)] @ self.movie_taste.T
                          / np.float32(self.taste_scale))

    def choice_weights(self, users: np.ndarray) -> np.ndarray:
        """(len(users), n_movies) float64: the weight by which each of user rows ``users``
        draws each movie, ``popularity * exp(b t_ui)``, up to a factor per user (b t_ui
        less its row's maximum, so that it cannot overflow); ``popularity`` when b is 0."""
        users = np.asarray(users)
        if self.selection_taste == 0:
            return np.broadcast_to(self.popularity, (len(users), len(self.popularity)))
        taste = self.selection_taste * self.standardised_taste(users).astype(np.float64)
        return self.popularity[None, :] * np.exp(taste - taste.max(axis=1, keepdims=True))

    def like_probability(self, users: np.ndarray, movies: np.ndarray,
                         threshold: float = 3.5, from_day: np.ndarray | None = None
                         ) -> np.ndarray:
        """P(rating >= ``threshold``) of the pairs (user row ``users[j]``, movie row
        ``movies[j]``), as :func:`~reco.data.synthetic._rate` draws the rating.

        r* ~ N(m, sd^2) with m = b_u + b_i + s_u taste_std p_u.q_i and sd = s_u noise, so
        P(stars >= threshold) = Phi((m - c) / sd) for the cut point c above which the star is
        >= ``threshold``. On the csv layout a rating is a half star with probability
        ``user_half[u] * P(day >= half_stars_since)``, the day uniform on
        ``max(start, release, from_day) .. end`` (``from_day``: the rating is known to be no
        earlier, e.g. after a time cut); the result is that mixture, exactly.
        """
        users, movies = np.asarray(users), np.asarray(movies)
        dot = np.einsum("ij,ij->i", self.user_taste[users], self.movie_taste[movies])
        return self._like(users, movies, dot, threshold, from_day)

    def like_matrix(self, users: np.ndarray, threshold: float = 3.5,
                    from_day: np.ndarray | None = None) -> np.ndarray:
        """:meth:`like_probability` of user rows ``users`` for every movie:
        (len(users), n_movies); ``from_day`` is per user."""
        users = np.asarray(users)
        dot = self.user_taste[users] @ self.movie_taste.T
        movies = np.arange(len(self.movie_ids))[None, :]
        day = None if from_day is None else np.asarray(from_day)[:, None]
        return self._like(users[:, None], movies, dot, threshold, day)

    def _like(self, users: np.ndarray, movies: np.ndarray, dot: np.ndarray, threshold: float,
              from_day: np.ndarray | None) -> np.ndarray:
        # float32, as _rate draws r*: ranking every movie for every user stays cheap
        spread = self.user_spread[users].astype(np.float32)
        # in _rate's order of float32 operations, so that with noise 0 the stars are exact
        mean = (self.user_bias[users].astype(np.float32)
                + self.movie_bias[movies].astype(np.float32)
                + spread * (np.float32(self.taste_std) * dot.astype(np.float32)))
        sd = spread * np.float32(self.noise)
        whole = _above(mean, sd, _cut(self.whole_cuts, threshold, 1.0, 1.0))
        if self.layout != "csv":
            return whole
        half = _above(mean, sd, _cut(self.half_cuts, threshold, 0.5, 0.5))
        lo = np.maximum(self.user_start[users], self.release_day[movies])
        if from_day is not None:
            lo = np.maximum(lo, from_day)
        end = self.user_end[users]
        lo = np.minimum(lo, end)  # a cut after the period: keep the last day's odds
        late = np.clip((end - np.maximum(lo, self.half_stars_since) + 1) / (end - lo + 1),
                       0.0, 1.0).astype(np.float32)
        share = self.user_half[users].astype(np.float32) * late
        return np.asarray(whole + share * (half - whole))


def _cut(cuts: np.ndarray, threshold: float, lowest: float, step: float) -> float:
    """The cut point above which a star is >= ``threshold``: star = lowest + step * (number
    of cuts below r*), so it needs more than ceil((threshold - lowest) / step) - 1 cuts."""
    need = math.ceil(round((threshold - lowest) / step, 9))
    if need <= 0:
        return -math.inf
    if need > len(cuts):
        return math.inf
    return float(cuts[need - 1])


def _above(mean: np.ndarray, sd: np.ndarray, cut: float) -> np.ndarray:
    """P(N(mean, sd^2) > cut), a step when sd is 0 (noise 0)."""
    if not np.isfinite(cut):
        return np.full(np.broadcast(mean, sd).shape, float(cut < 0), dtype=mean.dtype)
    if np.all(sd > 0):
        return np.asarray(ndtr((mean - mean.dtype.type(cut)) / sd))
    # noise 0: the star is a step at the cut, compared in float64 as _rate's searchsorted
    # compares float32 r* with the float64 cuts (r* at the cut is not above it)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (mean - mean.dtype.type(cut)) / sd
    step = (mean.astype(np.float64) > cut).astype(mean.dtype)
    return np.asarray(np.where(sd > 0, ndtr(z), step))


def taste_scale(user_taste: np.ndarray, movie_taste: np.ndarray) -> float:
    """The standard deviation of p_u . q_i over every (user, movie) pair, in O(k^2) memory:
    E[(p.q)^2] = trace(C_p C_q) with C the factors' second moments, E[p.q] = mean p . mean q.
    """
    p, q = user_taste.astype(np.float64), movie_taste.astype(np.float64)
    second = float(np.sum((p.T @ p / len(p)) * (q.T @ q / len(q))))
    mean = float(p.mean(axis=0) @ q.mean(axis=0))
    spread = second - mean * mean
    # a degenerate draw (one user and one movie) has no spread: keep t = p.q then
    return math.sqrt(spread) if spread > 1e-12 else 1.0
