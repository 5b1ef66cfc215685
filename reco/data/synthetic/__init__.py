"""Seeded generator of MovieLens-shaped data (the embedded default dataset).

Ratings follow a latent-factor model, so collaborative filtering has something to learn::

    r*(u, i) = b_u + b_i + s_u * (taste_std * p_u . q_i + noise * eps),  eps ~ N(0, 1)
    q_i      = sqrt(genre_weight) * A^T g_i / sqrt(|g_i|) + sqrt(1 - genre_weight) * z_i

``g_i`` is movie i's genre indicator, so a user's taste for genre g is real (``p_u . A_g``);
``b_i`` grows with popularity and with genre (film-noir high, horror low). ``r*`` is then cut
into stars at thresholds that give MovieLens's star shares (an ordinal probit: mean ~3.5,
4 the mode). Activity is lognormal (heavy-tailed), popularity Zipf-like.
Each user is active in one period of the span and rates only movies released by its end, at a
preferred hour of day. Which movies a user rates is drawn by popularity alone, unless
``selection_taste`` b > 0: then by popularity x exp(b x standardised taste), so that, as on
MovieLens, users rate what they expect to like (:mod:`._choice`).
Each stage draws from its own child of ``SeedSequence(seed)``: the same
config gives identical frames, and e.g. ``tag_rate`` does not move the ratings.
:func:`generate_with_truth` returns the same frames and the latent draws behind them
(:class:`GroundTruth`), for :mod:`reco.evaluation.oracle`.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np
import polars as pl

from reco.columns import (
    GENRE_VOCABULARY,
    GENRES,
    MOVIE_ID,
    MOVIES_SCHEMA,
    RATING,
    RATINGS_SCHEMA,
    TIMESTAMP,
    TITLE,
    USER_ID,
    YEAR,
)
from reco.config import ConfigBase, check_choice, check_int, check_range
from reco.data.dataset import MovieLensData, RatingScale
from reco.data.synthetic._choice import TasteChoice, choose_by_taste
from reco.data.synthetic._sampling import sample_pairs, water_fill
from reco.data.synthetic._tables import make_links, make_tags, make_titles, make_user_table
from reco.data.synthetic._truth import GroundTruth, taste_scale
from reco.data.synthetic._writers import LAYOUT_SCALES, LAYOUTS, write_release
from reco.exceptions import ConfigError

__all__ = [
    "DEFAULT_CONFIG",
    "LAYOUTS",
    "GroundTruth",
    "LAYOUT_SCALES",
    "SyntheticConfig",
    "default_dataset",
    "generate",
    "generate_with_truth",
    "make_release",
    "write_release",
]

logger = logging.getLogger(__name__)

_CHUNK = 4_000_000  # rows per vectorised block: bounds the temporaries at 32M ratings
_DAY = 86_400
_FIRST_MOVIE_YEAR = 1920
_USER_BIAS_SD, _MOVIE_BIAS_SD, _SPREAD_SIGMA = 0.35, 0.3, 0.25
# Share of each star value, low to high. Whole stars: ml-1m's. Half stars: what a user on the
# half-star scale gives, solved so that mixed 60/40 with whole stars it is ml-latest-small's.
_WHOLE_SHARES = (0.056, 0.108, 0.261, 0.349, 0.226)
_HALF_SHARES = (0.023, 0.009, 0.030, 0.053, 0.092, 0.158, 0.217, 0.211, 0.141, 0.066)
_HALF_STARS_SINCE = int(np.datetime64("2003-03-01", "D").astype(np.int64))  # MovieLens's change
# Share of movies carrying each genre, roughly ml-latest's (Drama, Comedy lead; IMAX rare).
_GENRE_SHARE = {
    "Action": 0.19, "Adventure": 0.14, "Animation": 0.06, "Children": 0.07, "Comedy": 0.39,
    "Crime": 0.12, "Documentary": 0.05, "Drama": 0.45, "Fantasy": 0.08, "Film-Noir": 0.009,
    "Horror": 0.10, "IMAX": 0.016, "Musical": 0.035, "Mystery": 0.06, "Romance": 0.16,
    "Sci-Fi": 0.10, "Thriller": 0.19, "War": 0.04, "Western": 0.017,
}
# Mean-rating shift by genre: film-noir, documentaries and war films rate high, horror low.
_GENRE_BIAS = {"Film-Noir": 0.3, "Documentary": 0.25, "War": 0.2, "Drama": 0.1,
               "Horror": -0.3, "Children": -0.1, "Comedy": -0.05}
# Users' preferred hour of day (UTC): quiet at night, peaking in the evening.
_HOUR_WEIGHTS = np.array([3, 2, 1.5, 1, 1, 1, 1.5, 2, 3, 3.5, 4, 4, 4.5, 4.5, 4.5, 5, 5, 5.5,
                          6, 7, 7.5, 7, 6, 4.5])


@dataclass(frozen=True)
class SyntheticConfig(ConfigBase):
    """What :func:`generate` builds.

    Parameters
    ----------
    n_users, n_movies, n_ratings
        Sizes. Ids are ``1..n_users`` and ``1..n_movies``; every user rates at least
        ``min(min_user_ratings, n_ratings // n_users)`` movies (so ``n_ratings >= n_users``),
        at most ``int(max_user_share * n_movies)``, and ``n_ratings`` is hit exactly.
    layout
        ``"csv"`` (half stars; tags, links), ``"dat"`` (whole stars; tags, users) or
        ``"100k"`` (whole stars; users). Decides the rating scale and the tables built.
    n_factors, taste_std, genre_weight
        Rank of the latent tastes, their share of the rating spread, and the share of a
        movie's factors explained by its genres.
    noise
        Standard deviation of the per-rating noise (the stars are cut from the sum of
        biases, taste and noise at thresholds that keep MovieLens's star shares).
    seed
        Seed of ``numpy.random.default_rng``; everything is drawn from it.
    activity_sigma, popularity_exponent
        Lognormal sigma of user activity and Zipf exponent of movie popularity.
    tag_rate
        Tags per rating (csv and dat layouts only).
    first_rating_year, last_rating_year
        The span of the rating timestamps (movies are released 1920..last_rating_year).
    selection_taste
        How strongly a user's choice of movies follows their taste, b in [0, 10]. At 0
        (the default) movies are drawn by popularity alone and taste only sets the rating.
        At b > 0 a user's movies are drawn without replacement with probability
        proportional to ``popularity_i * exp(b * t_ui)`` among the released ones, where
        ``t_ui = p_u . q_i / sd(p . q)`` is the taste standardised over all pairs, so b means
        the same whatever ``n_factors`` and ``taste_std`` (b = 1: a movie one standard
        deviation more to the user's taste is e ~ 2.7 times as likely to be chosen). The
        draw is approximate, a race within a pool drawn from the user's taste group's
        proposal; its law, what it misses (taste acts a few percent less than b says) and
        its cost (~1.5-1.9x the generation time): :mod:`reco.data.synthetic._choice`.
        Ratings' values are drawn as before, so the movies chosen are liked more often.
    """

    n_users: int = 600
    n_movies: int = 3000
    n_ratings: int = 100_000
    layout: str = "csv"
    n_factors: int = 8
    noise: float = 0.6
    seed: int = 42
    min_user_ratings: int = 20
    max_user_share: float = 0.5
    activity_sigma: float = 1.2
    popularity_exponent: float = 1.0
    genre_weight: float = 0.6
    taste_std: float = 0.7
    tag_rate: float = 0.02
    first_rating_year: int = 1996
    last_rating_year: int = 2023
    selection_taste: float = 0.0

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_int(owner, "n_users", self.n_users, 1, 50_000_000)
        # imdb ids are 7 digits and distinct, so the catalogue stays well below 10M
        check_int(owner, "n_movies", self.n_movies, 1, 5_000_000)
        check_int(owner, "n_ratings", self.n_ratings, self.n_users, 2**31 - 1)
        check_choice(owner, "layout", self.layout, LAYOUTS)
        check_int(owner, "n_factors", self.n_factors, 1, 256)
        check_range(owner, "noise", self.noise, 0.0, 5.0)
        check_int(owner, "seed", self.seed, 0)
        check_int(owner, "min_user_ratings", self.min_user_ratings, 1)
        check_range(owner, "max_user_share", self.max_user_share, 1e-9, 1.0)
        check_range(owner, "activity_sigma", self.activity_sigma, 0.0, 4.0)
        check_range(owner, "popularity_exponent", self.popularity_exponent, 0.0, 3.0)
        check_range(owner, "genre_weight", self.genre_weight, 0.0, 1.0)
        check_range(owner, "taste_std", self.taste_std, 0.0, 5.0)
        check_range(owner, "tag_rate", self.tag_rate, 0.0, 1.0)
        check_int(owner, "first_rating_year", self.first_rating_year, 1970, 2100)
        check_int(owner, "last_rating_year", self.last_rating_year, self.first_rating_year, 2100)
        check_range(owner, "selection_taste", self.selection_taste, 0.0, 10.0)
        if math.isnan(self.selection_taste):  # NaN compares false with both bounds
            raise ConfigError(f"{owner}.selection_taste must be in [0.0, 10.0], got nan")
        cap = self.user_cap
        if self.n_ratings > self.n_users * cap:
            raise ConfigError(
                f"{owner}.n_ratings must be <= n_users * int(max_user_share * n_movies) = "
                f"{self.n_users} * {cap} = {self.n_users * cap}, got {self.n_ratings}"
            )

    @property
    def user_cap(self) -> int:
        """The most ratings one user may have."""
        return max(1, int(self.n_movies * self.max_user_share))

    @property
    def scale(self) -> RatingScale:
        """The rating scale of :attr:`layout`."""
        return LAYOUT_SCALES[self.layout]


#: The embedded default: ml-latest-small sized, half stars, built in a fraction of a second.
DEFAULT_CONFIG = SyntheticConfig()


def _movies(rng: np.random.Generator, cfg: SyntheticConfig) -> dict[str, np.ndarray]:
    n, k = cfg.n_movies, cfg.n_factors
    span = cfg.last_rating_year - _FIRST_MOVIE_YEAR
    # skewed recent: most movies are a few decades old at most, as in MovieLens
    year = cfg.last_rating_year - np.rint(rng.beta(1.2, 3.5, n) * span).astype(np.int64)
    jan1 = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]").astype(np.int64)
    release_day = jan1 + rng.integers(0, 365, n)
    share = np.array([_GENRE_SHARE[g] for g in GENRE_VOCABULARY])
    if cfg.layout != "csv":  # ml-100k and ml-1m predate the IMAX genre
        share[GENRE_VOCABULARY.index("IMAX")] = 0.0
    # 1-3 distinct genres by prevalence: Gumbel top-k on log weights; ~1% have none
    n_genres = rng.choice([0, 1, 2, 3], n, p=[0.01, 0.39, 0.35, 0.25])
    with np.errstate(divide="ignore"):
        key = np.log(share) + rng.gumbel(size=(n, len(share)))
    key[n_genres == 1, GENRE_VOCABULARY.index("IMAX")] = -np.inf  # IMAX always comes with more
    rank = np.argsort(np.argsort(-key, axis=1), axis=1)
    genres: np.ndarray = rank < n_genres[:, None]
    loadings = rng.standard_normal((len(share), k))
    gq = genres @ loadings / np.sqrt(np.maximum(genres.sum(1), 1))[:, None]
    z = rng.standard_normal((n, k))
    w = cfg.genre_weight
    # a movie without genres has nothing for the genre part to explain
    q = np.where((genres.sum(1) > 0)[:, None], np.sqrt(w) * gq + np.sqrt(1 - w) * z, z)
    rank = rng.permutation(n)
    popularity = (rank + 5.0) ** -cfg.popularity_exponent
    # popular movies rate higher: a shift by rank quantile spanning 0.5 stars, centred on the
    # average rating (popularity-weighted), so the mean does not drift with the catalogue size
    shift = 0.5 * (0.5 - rank / n)
    shift -= np.average(shift, weights=popularity)
    gbias = np.array([_GENRE_BIAS.get(g, 0.0) for g in GENRE_VOCABULARY])
    bias = (
        shift + genres @ gbias / np.maximum(genres.sum(1), 1) + rng.normal(0, _MOVIE_BIAS_SD, n)
    )
    return dict(year=year, release_day=release_day, genres=genres, q=q.astype(np.float32),
                bias=bias.astype(np.float32), popularity=popularity)


def _users(
    rng: np.random.Generator, cfg: SyntheticConfig, release_sorted: np.ndarray
) -> dict[str, np.ndarray]:
    n, k = cfg.n_users, cfg.n_factors
    first = np.datetime64(f"{cfg.first_rating_year}-01-01").astype("datetime64[D]").astype(int)
    last = np.datetime64(f"{cfg.last_rating_year}-12-31").astype("datetime64[D]").astype(int)
    activity = rng.lognormal(0.0, cfg.activity_sigma, n)
    # active period: heavier users stay longer (median ~40 days, a long tail of years)
    length = np.exp(np.log(40) + 0.5 * np.log(activity) + rng.normal(0, 1.5, n))
    length = np.minimum(np.rint(length), last - first).astype(np.int64)
    start = first + np.floor(rng.random(n) * (last - first - length + 1)).astype(np.int64)
    floor_ = min(cfg.min_user_ratings, cfg.n_ratings // n, cfg.user_cap)
    # the period must end after enough releases for the minimum number of ratings
    end = np.maximum(start + length, release_sorted[floor_ - 1])
    allowed = np.searchsorted(release_sorted, end, side="right")
    room = np.minimum(cfg.user_cap, allowed) - floor_
    extra = cfg.n_ratings - floor_ * n
    if room.sum() < extra:  # rare: too few releases early on; stretch random users' periods
        gain = cfg.user_cap - floor_ - room
        pick = rng.permutation(n)
        pick = pick[: np.searchsorted(np.cumsum(gain[pick]), extra - room.sum()) + 1]
        end[pick], allowed[pick] = last, len(release_sorted)
        room = np.minimum(cfg.user_cap, allowed) - floor_
    counts = floor_ + water_fill(activity, room, extra)
    # a quarter of users never use half stars; the rest mostly do (about 60% of ratings)
    half = np.where(rng.random(n) < 0.25, 0.0, rng.beta(4.0, 1.0, n))
    return dict(counts=counts, allowed=allowed, start=start, end=end,
                hour=rng.choice(24, n, p=_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum()),
                p=(rng.standard_normal((n, k)) / np.sqrt(k)).astype(np.float32),
                bias=rng.normal(0, _USER_BIAS_SD, n).astype(np.float32),
                spread=rng.lognormal(0, _SPREAD_SIGMA, n).astype(np.float32), half=half)


def _cutpoints(shares: tuple[float, ...], cfg: SyntheticConfig) -> np.ndarray:
    """Ordinal-probit thresholds on r*: below the first is the lowest star, and so on.

    Over the ratings r* is roughly N(0, sd^2) (biases, taste and noise add up; the
    popularity shift is centred), so cutting it at the normal quantiles of the cumulative
    shares reproduces MovieLens's rating distribution whatever the knobs.
    """
    spread2 = np.exp(2 * _SPREAD_SIGMA**2)  # E[s_u^2] of the lognormal spread
    # 0.03: variance of the popularity and genre shifts of b_i
    var = _USER_BIAS_SD**2 + _MOVIE_BIAS_SD**2 + 0.03 + spread2 * (cfg.taste_std**2 + cfg.noise**2)
    normal = NormalDist(0.0, float(np.sqrt(var)))
    return np.array([normal.inv_cdf(p) for p in np.cumsum(shares)[:-1] / sum(shares)])


def _rate(
    rng: np.random.Generator, cfg: SyntheticConfig, keys: np.ndarray,
    u: dict[str, np.ndarray], m: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Ratings and timestamps of the ``keys`` pairs, block by block."""
    n = len(keys)
    ratings, stamps = np.empty(n, np.float32), np.empty(n, np.int64)
    whole, half = _cutpoints(_WHOLE_SHARES, cfg), _cutpoints(_HALF_SHARES, cfg)
    for s in range(0, n, _CHUNK):
        key = keys[s : s + _CHUNK]
        uu, mm = key // cfg.n_movies, key % cfg.n_movies
        dot = np.einsum("ij,ij->i", u["p"][uu], m["q"][mm])
        eps = rng.standard_normal(len(key)).astype(np.float32)
        x = u["bias"][uu] + m["bias"][mm] + u["spread"][uu] * (
            cfg.taste_std * dot + cfg.noise * eps
        )
        # a day between the later of (period start, release) and the period end, at an hour
        # near the user's preferred one
        lo = np.maximum(u["start"][uu], m["release_day"][mm])
        day = lo + np.floor(rng.random(len(key)) * (u["end"][uu] - lo + 1)).astype(np.int64)
        hour = (u["hour"][uu] + np.rint(rng.normal(0, 1.5, len(key))).astype(np.int64)) % 24
        stamps[s : s + _CHUNK] = day * _DAY + hour * 3600 + rng.integers(0, 3600, len(key))
        stars = 1.0 + np.searchsorted(whole, x)
        if cfg.layout == "csv":  # half stars: since 2003, by most users, some of the time
            halves = (rng.random(len(key)) < u["half"][uu]) & (day >= _HALF_STARS_SINCE)
            stars = np.where(halves, 0.5 + 0.5 * np.searchsorted(half, x), stars)
        ratings[s : s + _CHUNK] = stars
    return ratings, stamps


def generate(config: SyntheticConfig) -> MovieLensData:
    """Build a synthetic MovieLens release in canonical form.

    Parameters
    ----------
    config
        Sizes, layout and model knobs; see :class:`SyntheticConfig`.

    Returns
    -------
    MovieLensData
        Frames with the exact schemas of :mod:`reco.columns`, ratings sorted by
        ``(user_id, movie_id)``, ``layout="synthetic"``, the layout's scale; tags for csv and
        dat, links for csv, users for dat and 100k.
    """
    return _generate(config)[0]


def generate_with_truth(config: SyntheticConfig) -> tuple[MovieLensData, GroundTruth]:
    """:func:`generate`'s frames (identical ones) and the latent parameters they were drawn
    from (:class:`GroundTruth`), for measuring what any model could reach on them."""
    data, users, movies = _generate(config)
    n_users, n_movies = config.n_users, config.n_movies
    truth = GroundTruth(
        layout=config.layout, taste_std=config.taste_std, noise=config.noise,
        user_ids=np.arange(1, n_users + 1, dtype=np.int64),
        user_bias=users["bias"], user_spread=users["spread"], user_taste=users["p"],
        user_start=users["start"].astype(np.int64), user_end=users["end"].astype(np.int64),
        user_allowed=users["allowed"].astype(np.int64),
        user_count=users["counts"].astype(np.int64),
        # half stars only exist on the csv layout (_rate ignores ``half`` elsewhere)
        user_half=users["half"] if config.layout == "csv" else np.zeros(n_users),
        movie_ids=np.arange(1, n_movies + 1, dtype=np.int64),
        movie_bias=movies["bias"], movie_taste=movies["q"],
        popularity=movies["popularity"], release_day=movies["release_day"].astype(np.int64),
        whole_cuts=_cutpoints(_WHOLE_SHARES, config), half_cuts=_cutpoints(_HALF_SHARES, config),
        half_stars_since=_HALF_STARS_SINCE, selection_taste=config.selection_taste,
        taste_scale=taste_scale(users["p"], movies["q"]),
    )
    return data, truth


def _generate(config: SyntheticConfig
              ) -> tuple[MovieLensData, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The frames and the users' and movies' latent draws (:func:`generate_with_truth`)."""
    t0 = time.perf_counter()
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(6)]
    movies = _movies(streams[0], config)
    order = np.argsort(movies["release_day"], kind="stable")
    users = _users(streams[1], config, movies["release_day"][order])
    cdf = np.cumsum(movies["popularity"][order])
    cdf /= cdf[-1]
    chosen = None
    if config.selection_taste > 0:  # at 0 the stream is drawn exactly as before the knob
        scale = taste_scale(users["p"], movies["q"])
        choice = TasteChoice(config.selection_taste,
                             (users["p"] / np.float32(scale)).astype(np.float32), movies["q"])
        chosen = choose_by_taste(streams[2], users["counts"], users["allowed"], cdf, order,
                                 choice)
    keys = sample_pairs(streams[2], users["counts"], users["allowed"], cdf, order, chosen)
    logger.info("sampled %d distinct (user, movie) pairs in %.1f s",
                len(keys), time.perf_counter() - t0)
    values, stamps = _rate(streams[3], config, keys, users, movies)
    ratings = pl.DataFrame(
        {USER_ID: (keys // config.n_movies + 1).astype(np.int32),
         MOVIE_ID: (keys % config.n_movies + 1).astype(np.int32),
         RATING: values, TIMESTAMP: stamps},
        schema=RATINGS_SCHEMA,
    )
    del keys, values, stamps
    rows, cols = np.nonzero(movies["genres"])
    genre_lists = (
        pl.DataFrame({"i": rows, GENRES: np.asarray(GENRE_VOCABULARY)[cols]})
        .group_by("i", maintain_order=True)
        .agg(pl.col(GENRES))
    )
    movie_frame = (
        pl.DataFrame({"i": np.arange(config.n_movies), YEAR: movies["year"]})
        .with_columns(make_titles(streams[4], config.n_movies))
        .join(genre_lists, on="i", how="left", maintain_order="left")
        .select(
            (pl.col("i") + 1).alias(MOVIE_ID),
            pl.format("{} ({})", TITLE, YEAR).alias(TITLE),
            YEAR,
            pl.col(GENRES).fill_null(pl.lit([], dtype=pl.List(pl.String))),
        )
        .cast(MOVIES_SCHEMA)
    )
    extras = streams[5]
    data = MovieLensData(
        ratings=ratings,
        movies=movie_frame,
        tags=make_tags(extras, ratings, movies["genres"], config.tag_rate)
        if config.layout != "100k" else None,
        links=make_links(extras, movies["year"]) if config.layout == "csv" else None,
        users=make_user_table(extras, config.n_users, config.layout)
        if config.layout != "csv" else None,
        layout="synthetic",
        source=f"synthetic {config.to_dict()}",
        scale=config.scale,
    )
    logger.info("generated %s in %.1f s", data.summary(), time.perf_counter() - t0)
    return data, users, movies


def default_dataset() -> MovieLensData:
    """The embedded default dataset: ``generate(DEFAULT_CONFIG)`` (a fraction of a second)."""
    return generate(DEFAULT_CONFIG)


def make_release(config: SyntheticConfig, out_dir: str | Path) -> list[Path]:
    """Generate data for ``config`` and write it as a ``config.layout`` release into ``out_dir``."""
    return write_release(generate(config), out_dir, config.layout)
