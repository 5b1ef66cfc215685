"""Detect and read every MovieLens release into one canonical form.

Three on-disk layouts cover all releases:

========  =============================================  ==================================
layout    releases                                       files
========  =============================================  ==================================
``csv``   ml-20m, ml-25m, ml-32m, ml-latest(-small)      ratings.csv, movies.csv [, tags.csv,
                                                         links.csv]
``dat``   ml-1m, ml-10m                                  ratings.dat, movies.dat [, tags.dat,
                                                         users.dat]
``100k``  ml-100k                                        u.data, u.item [, u.user]
========  =============================================  ==================================

:func:`load_movielens` returns a :class:`~reco.data.dataset.MovieLensData` whose frames use the
schemas of :mod:`reco.columns` whatever the release. Policies for duplicate ratings and
ratings of movies missing from the movies file are set by :class:`LoadConfig`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from reco.columns import MOVIE_ID, RATING, TIMESTAMP, USER_ID
from reco.config import ConfigBase, check_choice, check_int, check_range
from reco.data import _checks
from reco.data import _movielens_files as mf
from reco.data._readers import line_of_row
from reco.data.dataset import (
    HALF_STAR_SCALE,
    WHOLE_STAR_SCALE,
    DataReport,
    MovieLensData,
    RatingScale,
)
from reco.exceptions import DataFormatError, DatasetNotFoundError

log = logging.getLogger(__name__)

#: Files that identify each layout (the first two are required).
LAYOUT_FILES: dict[str, tuple[str, ...]] = {
    "csv": ("ratings.csv", "movies.csv", "tags.csv", "links.csv"),
    "dat": ("ratings.dat", "movies.dat", "tags.dat", "users.dat"),
    "100k": ("u.data", "u.item", "u.user"),
}
LAYOUT_RELEASES: dict[str, str] = {
    "csv": "ml-20m, ml-25m, ml-32m, ml-latest, ml-latest-small",
    "dat": "ml-1m, ml-10m",
    "100k": "ml-100k",
}


@dataclass(frozen=True)
class LoadConfig(ConfigBase):
    """What loading does with questionable but readable data.

    Parameters
    ----------
    duplicates
        ``"keep_last"`` keeps, for a (user, movie) pair rated more than once, the rating
        with the latest timestamp (the later line on a tie) and logs how many were
        dropped; ``"error"`` raises :class:`~reco.exceptions.DataFormatError`.
    unknown_movies
        Ratings of movies absent from the movies file: ``"drop"`` them (logged and
        counted in the report), ``"keep"`` them and add a placeholder movie
        ("Unknown movie <id>", no year, no genres), or ``"error"``.
    max_unknown_share
        With ``unknown_movies="drop"``, dropping more than this share of the ratings is
        an error: a movies file that misses 95 % of the rated movies is the wrong file,
        not a few stray ratings. 1.0 allows any share.
    off_grid
        A rating off the release's grid (3.25 on half stars, 3.5 on ml-1m's whole
        stars, 3.999): ``"error"``, or ``"round"`` to the nearest step (counted, logged).
    unknown_genres
        A genre outside :data:`reco.columns.GENRE_VOCABULARY` (``Action/Crime``):
        ``"error"``, ``"drop"`` it from the movie's list (counted, logged), or ``"keep"``.
    min_timestamp, max_timestamp_ahead
        Timestamps must lie in ``min_timestamp .. now + max_timestamp_ahead`` (Unix
        seconds; default 1990-01-01 .. now + 1 day). MovieLens began in 1997.
    """

    duplicates: str = "keep_last"
    unknown_movies: str = "drop"
    max_unknown_share: float = 0.01
    off_grid: str = "error"
    unknown_genres: str = "error"
    min_timestamp: int = 631_152_000
    max_timestamp_ahead: int = 86_400

    def __post_init__(self) -> None:
        check_choice("LoadConfig", "duplicates", self.duplicates, ("keep_last", "error"))
        check_choice(
            "LoadConfig", "unknown_movies", self.unknown_movies, ("drop", "keep", "error")
        )
        check_range("LoadConfig", "max_unknown_share", self.max_unknown_share, 0.0, 1.0)
        check_choice("LoadConfig", "off_grid", self.off_grid, ("error", "round"))
        check_choice("LoadConfig", "unknown_genres", self.unknown_genres,
                     ("error", "drop", "keep"))
        check_int("LoadConfig", "min_timestamp", self.min_timestamp, 0)
        check_int("LoadConfig", "max_timestamp_ahead", self.max_timestamp_ahead, 0)


@dataclass(frozen=True)
class Layout:
    """A detected release: its layout name, directory and the files present."""

    name: str
    directory: Path
    files: tuple[str, ...]

    def path(self, filename: str) -> Path:
        return self.directory / filename

    def has(self, filename: str) -> bool:
        return filename in self.files


def _match_layout(directory: Path) -> Layout | None:
    for name, files in LAYOUT_FILES.items():
        if all((directory / f).is_file() for f in files[:2]):
            present = tuple(f for f in files if (directory / f).is_file())
            return Layout(name, directory, present)
    return None


def detect_layout(path: str | Path) -> Layout:
    """Find which MovieLens layout ``path`` holds.

    A directory holding exactly one release folder (the parent of an unzipped
    release, such as ``data/`` with ``ml-25m/`` inside) is accepted too.

    Raises
    ------
    DatasetNotFoundError
        ``path`` is missing or holds no release; the message lists the files expected.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise DatasetNotFoundError(f"{directory}: no such directory")
    layout = _match_layout(directory)
    if layout is not None:
        return layout
    nested = [_match_layout(child) for child in sorted(directory.iterdir()) if child.is_dir()]
    found = [layout for layout in nested if layout is not None]
    if len(found) == 1:
        log.info("using the release found in %s", found[0].directory)
        return found[0]
    expected = "; ".join(
        f"{' + '.join(files[:2])} ({LAYOUT_RELEASES[name]})"
        for name, files in LAYOUT_FILES.items()
    )
    present = sorted(p.name for p in directory.iterdir())[:12]
    extra = f"; several releases inside: {[str(f.directory) for f in found]}" if found else ""
    raise DatasetNotFoundError(
        f"{directory} is not a MovieLens release: expected {expected}; "
        f"found {present or 'an empty directory'}{extra}"
    )


def rating_scale(layout: Layout) -> RatingScale:
    """Whole stars for ml-100k and ml-1m (it ships users.dat), half stars otherwise."""
    if layout.name == "100k" or (layout.name == "dat" and layout.has("users.dat")):
        return WHOLE_STAR_SCALE
    return HALF_STAR_SCALE


def load_movielens(path: str | Path, config: LoadConfig | None = None) -> MovieLensData:
    """Read a MovieLens release into canonical, validated frames.

    Parameters
    ----------
    path
        The release directory (or a directory holding exactly one release).
    config
        Policies for duplicates and unknown movies; defaults to :class:`LoadConfig()`.

    Raises
    ------
    DatasetNotFoundError
        ``path`` is no MovieLens release.
    DataFormatError
        A file is malformed; the message names the file, line, field and value.
    """
    config = config or LoadConfig()
    layout = detect_layout(path)
    try:
        return _load(layout, config)
    except OSError as exc:  # unreadable (permissions, a directory named like a file, I/O)
        where = exc.filename or layout.directory
        raise DataFormatError(f"cannot read: {exc.strerror or exc}", path=where) from exc


def _load(layout: Layout, config: LoadConfig) -> MovieLensData:
    started = time.perf_counter()
    scale = rating_scale(layout)
    ratings_file, movies_file = LAYOUT_FILES[layout.name][:2]
    ratings_path = layout.path(ratings_file)
    spec = mf.ratings_spec(layout.name)
    ratings = mf.read_ratings(ratings_path, layout.name)
    _checks.check_ids(ratings, ratings_path, spec)
    check_scale(ratings, scale, ratings_path, layout.name)
    bounds = _checks.timestamp_range(config.min_timestamp, config.max_timestamp_ahead)
    _checks.check_timestamps(ratings, ratings_path, spec, bounds)
    report = DataReport(unknown_movie_policy=config.unknown_movies, ratings_read=ratings.height)
    ratings = _checks.check_grid(ratings, scale, ratings_path, spec, config.off_grid, report)
    movies, report.unknown_genres_dropped = mf.read_movies(
        layout.path(movies_file), layout.name, config.unknown_genres)
    if report.unknown_genres_dropped:
        report.notes.append(f"{movies_file}: dropped {report.unknown_genres_dropped} genre(s) "
                            "outside the vocabulary")
    ratings = apply_duplicate_policy(ratings, config, layout.path(ratings_file), layout.name,
                                     report)
    ratings, movies = apply_unknown_movie_policy(
        ratings, movies, config, layout.path(ratings_file), layout.name, report
    )
    tags = links = users = None
    tags_file = {"csv": "tags.csv", "dat": "tags.dat"}.get(layout.name)
    if tags_file and layout.has(tags_file):
        tags = mf.read_tags(layout.path(tags_file), layout.name)
        # tags have no ratings-file row order to map back to: the lines are in _line only
        # inside the reader, so check on the frame and locate by its row (header = line 1)
        _checks.check_timestamps(tags, layout.path(tags_file), mf.tag_spec(layout.name), bounds)
    if layout.has("links.csv"):
        links = mf.read_links(layout.path("links.csv"))
    users_file = {"dat": "users.dat", "100k": "u.user"}.get(layout.name)
    if users_file and layout.has(users_file):
        users = mf.read_users(layout.path(users_file), layout.name)
    data = MovieLensData(
        ratings=ratings, movies=movies, tags=tags, links=links, users=users,
        layout=layout.name, source=str(layout.directory), scale=scale,
        files=tuple(str(layout.path(f)) for f in layout.files), report=report,
    )
    log.info(
        "read %s (%s layout): %d ratings, %d users, %d movies in %.2fs",
        layout.directory, layout.name, data.n_ratings, data.n_users, data.n_movies,
        time.perf_counter() - started,
    )
    return data


def scan_ratings(path: str | Path) -> pl.LazyFrame:
    """A lazy, typed scan of a release's ratings (no validation; for streaming work)."""
    layout = detect_layout(path)
    return mf.scan_ratings(layout.path(LAYOUT_FILES[layout.name][0]), layout.name)


def check_scale(ratings: pl.DataFrame, scale: RatingScale, path: Path, layout: str) -> None:
    """Reject the first rating outside the release's scale, naming its line."""
    outside = ~pl.col(RATING).is_between(scale.low, scale.high)
    if not ratings.select(outside.any()).item():
        return
    row = int(ratings.select(outside.arg_true().first()).item())
    raise DataFormatError(
        f"rating outside this release's scale {scale.low:g}..{scale.high:g}",
        path=path, line=line_of_row(path, mf.ratings_spec(layout), row), field=RATING,
        value=float(ratings[RATING][row]),
    )


def _pair_key(ratings: pl.DataFrame) -> pl.Expr:
    width = int(ratings.select(pl.col(MOVIE_ID).max()).item() or 0) + 1
    return pl.col(USER_ID).cast(pl.Int64) * width + pl.col(MOVIE_ID).cast(pl.Int64)


def apply_duplicate_policy(
    ratings: pl.DataFrame, config: LoadConfig, path: Path, layout: str, report: DataReport
) -> pl.DataFrame:
    """Handle (user, movie) pairs rated more than once, per ``config.duplicates``."""
    key = _pair_key(ratings)
    if ratings.select(key.n_unique()).item() == ratings.height:
        return ratings
    dup_rows = ratings.select(key.is_duplicated().arg_true()).to_series()
    first = ratings.row(int(dup_rows[0]), named=True)
    spec = mf.ratings_spec(layout)
    lines = [line_of_row(path, spec, int(r)) for r in dup_rows[:2]]
    where = f"user {first[USER_ID]} rated movie {first[MOVIE_ID]} more than once (lines {lines})"
    if config.duplicates == "error":
        raise DataFormatError(where, path=path, line=lines[0], field=MOVIE_ID)
    deduped = (
        ratings.with_row_index("_row")
        .sort([TIMESTAMP, "_row"])
        .unique(subset=[USER_ID, MOVIE_ID], keep="last")
        .sort("_row")
        .drop("_row")
    )
    dropped = ratings.height - deduped.height
    report.duplicates_dropped = dropped
    report.notes.append(f"{path.name}: kept the latest of duplicate ratings; {where}")
    log.warning("%s: dropped %d duplicate rating(s), keeping the latest; %s", path, dropped, where)
    return deduped


def apply_unknown_movie_policy(
    ratings: pl.DataFrame,
    movies: pl.DataFrame,
    config: LoadConfig,
    path: Path,
    layout: str,
    report: DataReport,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Handle ratings of movies absent from the movies file, per ``config.unknown_movies``."""
    unknown = ~pl.col(MOVIE_ID).is_in(movies[MOVIE_ID].implode())
    count = int(ratings.select(unknown.sum()).item())
    if not count:
        return ratings, movies
    row = int(ratings.select(unknown.arg_true().first()).item())
    movie = int(ratings[MOVIE_ID][row])
    line = line_of_row(path, mf.ratings_spec(layout), row)
    report.unknown_movie_ratings = count
    share = count / ratings.height
    message = (f"{count} rating(s) ({share:.1%}) of movies absent from the movies file "
               f"(first: movie {movie})")
    if config.unknown_movies == "error":
        raise DataFormatError(message, path=path, line=line, field=MOVIE_ID, value=movie)
    if config.unknown_movies == "drop" and share > config.max_unknown_share:
        raise DataFormatError(
            f"{message}: more than max_unknown_share {config.max_unknown_share:.0%} would be "
            "dropped; is it the right movies file? (LoadConfig max_unknown_share or "
            "unknown_movies='keep' to load anyway)",
            path=path, line=line, field=MOVIE_ID, value=movie)
    report.notes.append(f"{path.name}: {message}; policy {config.unknown_movies}")
    log.warning("%s: %s, line %d; policy %r", path, message, line, config.unknown_movies)
    if config.unknown_movies == "drop":
        return ratings.filter(~unknown), movies
    missing = ratings.filter(unknown).select(pl.col(MOVIE_ID).unique().sort())
    placeholders = missing.with_columns(
        pl.format("Unknown movie {}", pl.col(MOVIE_ID)).alias("title"),
        pl.lit(None, dtype=pl.Int32).alias("year"),
        pl.lit([], dtype=pl.List(pl.String)).alias("genres"),
    )
    return ratings, pl.concat([movies, placeholders.select(movies.columns)])
