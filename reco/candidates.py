"""Stage one of the two-stage recommender: candidate movies per user from several sources.

Each source is a fitted :class:`~reco.recommender.Recommender` (CF, content, popularity);
a user's candidates are the union of each source's top-n unseen movies, restricted to the
movies the ranker can score. The rank a movie had in each source is kept as a feature.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import polars as pl

from reco.columns import MOVIE_ID, USER_ID
from reco.config import ConfigBase, check_range
from reco.ids import IdMap
from reco.recommender import Recommender

log = logging.getLogger(__name__)

SOURCES = ("cf", "content", "popular")


@dataclass(frozen=True)
class CandidateConfig(ConfigBase):
    """How many candidates each source proposes per user."""

    n_cf: int = 150
    n_content: int = 40
    n_popular: int = 40

    def __post_init__(self) -> None:
        for name in ("n_cf", "n_content", "n_popular"):
            check_range("CandidateConfig", name, getattr(self, name), 0, 5000)

    def count(self, source: str) -> int:
        return int(getattr(self, f"n_{source}"))


def rank_column(source: str) -> str:
    return f"rank_in_{source}"


def _source_frame(
    model: Recommender, source: str, users: np.ndarray, n: int, allowed: IdMap | None
) -> pl.DataFrame:
    known = users[np.isin(users, model.user_map_.ids)]
    # Ask for more when the source covers movies the ranker cannot score (content).
    ask = n if allowed is None or len(model.item_map_) <= len(allowed) else 2 * n
    ids, _ = model.recommend_batch(known, ask, exclude_seen=True)
    ranks = np.broadcast_to(np.arange(1, ask + 1, dtype=np.int32), ids.shape)
    frame = pl.DataFrame(
        {
            USER_ID: np.repeat(known, ask).astype(np.int32),
            MOVIE_ID: ids.ravel().astype(np.int32),
            rank_column(source): ranks.ravel(),
        }
    ).filter(pl.col(MOVIE_ID) >= 0)
    if allowed is not None:
        frame = frame.filter(pl.col(MOVIE_ID).is_in(pl.Series(allowed.ids).implode()))
        # re-rank among the allowed movies and keep the best n
        frame = frame.with_columns(
            pl.col(rank_column(source)).rank("ordinal").over(USER_ID).cast(pl.Int32)
        ).filter(pl.col(rank_column(source)) <= n)
    return frame


def generate_candidates(
    user_ids: np.ndarray,
    sources: dict[str, Recommender],
    config: CandidateConfig,
    allowed: IdMap | None = None,
) -> pl.DataFrame:
    """Union of the sources' top-n unseen movies for each user.

    Returns
    -------
    pl.DataFrame
        ``user_id, movie_id`` and one ``rank_in_<source>`` column per source (1 = the
        source's best; null when that source did not propose the movie), sorted by
        user and movie.
    """
    users = np.asarray(user_ids, dtype=np.int64)
    frames = []
    for source in SOURCES:
        model, n = sources.get(source), config.count(source)
        if model is None or n == 0:
            continue
        frames.append(_source_frame(model, source, users, n, allowed))
    if not frames:
        raise ValueError("no candidate source: give at least one model with n > 0")
    ranks = [rank_column(s) for s in SOURCES]
    merged = pl.concat(frames, how="diagonal_relaxed")
    for name in ranks:
        if name not in merged.columns:
            merged = merged.with_columns(pl.lit(None, dtype=pl.Int32).alias(name))
    candidates = merged.group_by(USER_ID, MOVIE_ID).agg(pl.col(r).min() for r in ranks)
    log.debug("%d candidates for %d users", candidates.height, users.size)
    return candidates.sort(USER_ID, MOVIE_ID)
