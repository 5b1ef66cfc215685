"""Value checks of typed MovieLens frames: ids, the rating grid, timestamps and genres.

The readers (:mod:`reco.data._readers`) make sure every cell parses; these checks make
sure the parsed values are plausible for a MovieLens release, and name the line of the
first one that is not. Each check is one vectorised pass, so clean data pays little.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import polars as pl

from reco.columns import GENRE_VOCABULARY, GENRES, MOVIE_ID, RATING, TIMESTAMP, USER_ID
from reco.data._readers import FileSpec, line_of_row, truncation_hint
from reco.data.dataset import DataReport, RatingScale
from reco.exceptions import DataFormatError

log = logging.getLogger(__name__)

#: float32 holds a MovieLens rating to ~1e-7; anything further from the grid is off it.
GRID_TOLERANCE = 1e-4


def _first_bad(frame: pl.DataFrame, bad: pl.Expr) -> int | None:
    """The 0-based row of the first row where ``bad`` holds, or ``None``."""
    if not frame.select(bad.any()).item():
        return None
    return int(frame.select(bad.arg_true().first()).item())


def _fail(message: str, path: Path, spec: FileSpec, frame: pl.DataFrame, row: int,
          field: str) -> DataFormatError:
    line = line_of_row(path, spec, row)
    return DataFormatError(message + truncation_hint(path, line), path=path, line=line,
                           field=field, value=frame[field][row])


def check_ids(frame: pl.DataFrame, path: Path, spec: FileSpec,
              columns: tuple[str, ...] = (USER_ID, MOVIE_ID)) -> None:
    """Ids are positive: MovieLens numbers users and movies from 1, and the API
    rejects anything else, so a 0 would be trained and then never servable."""
    for name in columns:
        row = _first_bad(frame, pl.col(name) < 1)
        if row is not None:
            raise _fail("ids are positive integers (from 1)", path, spec, frame, row, name)


def check_grid(ratings: pl.DataFrame, scale: RatingScale, path: Path, spec: FileSpec,
               policy: str, report: DataReport) -> pl.DataFrame:
    """Ratings lie on the release's grid (``low + k * step``); ``policy`` says what an
    off-grid one does: ``"error"`` (the default) or ``"round"`` to the nearest step."""
    steps = (pl.col(RATING) - scale.low) / scale.step
    off = (steps - steps.round()).abs() > GRID_TOLERANCE
    row = _first_bad(ratings, off)
    if row is None:
        return ratings
    count = int(ratings.select(off.sum()).item())
    message = (f"{count} rating(s) off the {scale.step:g}-step grid {scale.low:g}..{scale.high:g}"
               " of this release")
    if policy == "error":
        raise _fail(message, path, spec, ratings, row, RATING)
    line = line_of_row(path, spec, row)
    report.off_grid_rounded = count
    report.notes.append(f"{path.name}: {message} (first on line {line}): rounded")
    log.warning("%s: %s (first on line %d): rounded to the nearest step", path, message, line)
    rounded = (steps.round() * scale.step + scale.low).clip(scale.low, scale.high)
    return ratings.with_columns(rounded.cast(pl.Float32).alias(RATING))


def timestamp_range(min_timestamp: int, max_ahead: int) -> tuple[int, int]:
    """The accepted Unix-second range: ``min_timestamp`` .. now + ``max_ahead``."""
    return min_timestamp, int(time.time()) + max_ahead


def check_timestamps(frame: pl.DataFrame, path: Path, spec: FileSpec,
                     bounds: tuple[int, int]) -> None:
    """Timestamps are Unix seconds within ``bounds``: milliseconds land far in the
    future, a truncated last line (``96498`` for ``964982703``) far in the past."""
    low, high = bounds
    row = _first_bad(frame, ~pl.col(TIMESTAMP).is_between(low, high))
    if row is None:
        return
    value = int(frame[TIMESTAMP][row])
    hint = ("; milliseconds? MovieLens timestamps are Unix seconds" if value > high
            else "")
    raise _fail(f"timestamp outside {_date(low)} .. {_date(high)}{hint}", path, spec, frame,
                row, TIMESTAMP)


def _date(seconds: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(seconds))


def check_genres(movies: pl.DataFrame, path: Path, policy: str) -> tuple[pl.DataFrame, int]:
    """Genres outside :data:`~reco.columns.GENRE_VOCABULARY` (``Action/Crime``: another
    separator) are an error, or with ``policy`` ``"drop"`` removed, ``"keep"`` kept.

    ``movies`` holds the genre lists and each row's ``_line``; returns the frame and
    how many genre entries were dropped.
    """
    if policy == "keep":
        return movies, 0
    known = pl.element().is_in(list(GENRE_VOCABULARY))
    unknown = movies[GENRES].list.eval(~known).list.any()
    if not unknown.any():
        return movies, 0
    first = movies.filter(unknown).row(0, named=True)
    genre = next(g for g in first[GENRES] if g not in GENRE_VOCABULARY)
    sep = next((c for c in "/,;:" if c in genre), None)
    hint = f" (genres separated by {sep!r}? MovieLens separates them by '|')" if sep else ""
    if policy == "error":
        raise DataFormatError(
            f"genre not in the MovieLens vocabulary {list(GENRE_VOCABULARY)}{hint}",
            path=path, line=int(first["_line"]), field=GENRES, value=genre,
        )
    dropped = int(movies[GENRES].list.eval(~known).list.sum().sum())
    log.warning("%s: dropped %d genre(s) outside the vocabulary (first %r, line %d)", path,
                dropped, genre, int(first["_line"]))
    return movies.with_columns(pl.col(GENRES).list.eval(pl.element().filter(known))), dropped
