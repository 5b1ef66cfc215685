"""The canonical, release-independent form of a MovieLens dataset."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from reco.columns import MOVIE_ID, RATING, USER_ID


@dataclass(frozen=True)
class RatingScale:
    """The rating scale of a release: ``low`` to ``high`` in steps of ``step``."""

    low: float
    high: float
    step: float

    def to_dict(self) -> dict[str, float]:
        return {"low": self.low, "high": self.high, "step": self.step}


#: Half stars from 0.5 (ml-10m, ml-20m and later, ml-latest).
HALF_STAR_SCALE = RatingScale(0.5, 5.0, 0.5)
#: Whole stars from 1 (ml-100k, ml-1m).
WHOLE_STAR_SCALE = RatingScale(1.0, 5.0, 1.0)


@dataclass
class DataReport:
    """What loading found and did about it (written into the manifest)."""

    duplicates_dropped: int = 0
    unknown_movie_ratings: int = 0
    unknown_movie_policy: str = "drop"
    #: ratings read (data lines of the ratings file, blank lines not counted)
    ratings_read: int = 0
    #: ratings moved onto the release's grid (``LoadConfig(off_grid="round")``)
    off_grid_rounded: int = 0
    #: genre entries outside the vocabulary dropped (``LoadConfig(unknown_genres="drop")``)
    unknown_genres_dropped: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ratings_dropped(self) -> int:
        """Ratings read but not kept (duplicates, and unknown movies when dropped)."""
        unknown = self.unknown_movie_ratings if self.unknown_movie_policy == "drop" else 0
        return self.duplicates_dropped + unknown

    def to_dict(self) -> dict[str, Any]:
        return {
            "ratings_read": self.ratings_read,
            "ratings_dropped": self.ratings_dropped,
            "duplicates_dropped": self.duplicates_dropped,
            "unknown_movie_ratings": self.unknown_movie_ratings,
            "unknown_movie_policy": self.unknown_movie_policy,
            "off_grid_rounded": self.off_grid_rounded,
            "unknown_genres_dropped": self.unknown_genres_dropped,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class MovieLensData:
    """Ratings, movies and the optional tables of one release, in canonical form.

    Columns and dtypes are those of :mod:`reco.columns` (``RATINGS_SCHEMA``,
    ``MOVIES_SCHEMA``, ``TAGS_SCHEMA``, ``LINKS_SCHEMA``, ``USERS_SCHEMA``). ``layout`` is
    ``"csv"``, ``"dat"``, ``"100k"`` or ``"synthetic"``; ``source`` is the directory read
    or a description of generated data.
    """

    ratings: pl.DataFrame
    movies: pl.DataFrame
    tags: pl.DataFrame | None = None
    links: pl.DataFrame | None = None
    users: pl.DataFrame | None = None
    layout: str = "csv"
    source: str = ""
    scale: RatingScale = HALF_STAR_SCALE
    files: tuple[str, ...] = ()
    report: DataReport = field(default_factory=DataReport)

    @property
    def n_ratings(self) -> int:
        return self.ratings.height

    @property
    def n_users(self) -> int:
        return int(self.ratings[USER_ID].n_unique())

    @property
    def n_movies(self) -> int:
        return self.movies.height

    def summary(self) -> dict[str, Any]:
        """Row counts and rating range, for logs and the manifest."""
        r = self.ratings[RATING]
        return {
            "layout": self.layout,
            "ratings": self.n_ratings,
            "users": self.n_users,
            "movies": self.n_movies,
            "rated_movies": int(self.ratings[MOVIE_ID].n_unique()),
            "tags": None if self.tags is None else self.tags.height,
            "links": None if self.links is None else self.links.height,
            "rating_min": None if r.is_empty() else float(r.min()),  # type: ignore[arg-type]
            "rating_max": None if r.is_empty() else float(r.max()),  # type: ignore[arg-type]
        }
