"""Read the Kaggle "Netflix Movies and TV Shows" file (``netflix_titles.csv``).

Used by the text models (genre tagger, family-friendly flag). Every column is kept;
``listed_in`` becomes a list of genre labels, ``duration`` is split into minutes (movies)
and seasons (TV shows), and the age ``rating`` is kept as found (it is the *gold* of the
family flag, which its labeling functions must never read).

Errors name the file, the line (1-based, counting the header), the field and the value.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import polars as pl

from reco.data._readers import read_csv_as_text
from reco.exceptions import DataFormatError

log = logging.getLogger(__name__)

SHOW_ID = "show_id"
TYPE = "type"
NF_TITLE = "title"
DESCRIPTION = "description"
LISTED_IN = "listed_in"
AGE_RATING = "rating"
DURATION = "duration"
DURATION_MINUTES = "duration_minutes"
SEASONS = "seasons"
RELEASE_YEAR = "release_year"
MOVIE_TYPE, SHOW_TYPE = "Movie", "TV Show"

NETFLIX_COLUMNS = (
    SHOW_ID, TYPE, NF_TITLE, "director", "cast", "country", "date_added", RELEASE_YEAR,
    AGE_RATING, DURATION, LISTED_IN, DESCRIPTION,
)
_DURATION = re.compile(r"^(\d+) (min|Seasons?)$")
_ROW = "_line"


def _fail(raw: pl.DataFrame, bad: pl.Series, path: Path, field: str, why: str) -> None:
    if bad.any():
        row = raw.filter(bad).row(0, named=True)
        raise DataFormatError(why, path=path, line=row[_ROW], field=field, value=row[field])


def read_netflix_titles(path: str | Path) -> pl.DataFrame:
    """Read ``netflix_titles.csv``.

    Returns
    -------
    polars.DataFrame
        One row per title in file order: the file's columns as strings except
        ``release_year`` (Int32) and ``listed_in`` (list of labels, in file order), plus
        ``duration_minutes`` (Int32, movies) and ``seasons`` (Int32, TV shows); a missing
        duration is null. Empty text cells are ``""``; an empty ``rating`` is null. A
        duration found in the ``rating`` column (three rows of the published file) is
        moved back to ``duration``, leaving ``rating`` null.

    Raises
    ------
    DataFormatError
        Missing or empty file, a missing column, an empty or repeated ``show_id``, a
        ``type`` other than Movie / TV Show, a non-integer ``release_year`` or a
        ``duration`` that is neither ``N min`` nor ``N Season(s)``.
    """
    path = Path(path)
    raw = read_csv_as_text(path, NETFLIX_COLUMNS)
    if raw.is_empty():
        raise DataFormatError("header but no rows", path=path, line=1)
    raw = raw.select(NETFLIX_COLUMNS).with_row_index(_ROW, offset=2)
    # A few rows of the published file carry the duration in the rating column ("74 min")
    # and leave duration empty: move it back rather than invent a rating.
    in_rating = raw[AGE_RATING].str.contains(_DURATION.pattern).fill_null(False)
    shifted = raw[DURATION].is_null() & in_rating
    if shifted.any():
        log.info("%s: %d row(s) had the duration in the rating column; moved back",
                 path, int(shifted.sum()))
        raw = raw.with_columns(
            pl.when(shifted).then(pl.col(AGE_RATING)).otherwise(pl.col(DURATION)).alias(DURATION),
            pl.when(shifted).then(None).otherwise(pl.col(AGE_RATING)).alias(AGE_RATING),
        )
    _fail(raw, raw[SHOW_ID].is_null(), path, SHOW_ID, "empty show_id")
    _fail(raw, ~raw[SHOW_ID].is_first_distinct(), path, SHOW_ID, "repeated show_id")
    _fail(raw, ~raw[TYPE].is_in([MOVIE_TYPE, SHOW_TYPE]).fill_null(False), path, TYPE,
          f"type must be {MOVIE_TYPE!r} or {SHOW_TYPE!r}")
    year = raw[RELEASE_YEAR].str.strip_chars().cast(pl.Int32, strict=False)
    _fail(raw, year.is_null(), path, RELEASE_YEAR, "not an integer year")
    parts = raw[DURATION].str.strip_chars().str.extract_groups(_DURATION.pattern)
    _fail(raw, raw[DURATION].is_not_null() & parts.struct.field("1").is_null(), path, DURATION,
          "duration must be 'N min' or 'N Season(s)'")
    amount = parts.struct.field("1").cast(pl.Int32)
    unit = parts.struct.field("2")
    text = [c for c in NETFLIX_COLUMNS if c not in (RELEASE_YEAR, AGE_RATING, DURATION)]
    frame = raw.with_columns(
        pl.col(c).fill_null("") for c in text
    ).with_columns(
        year.alias(RELEASE_YEAR),
        pl.when(unit == "min").then(amount).otherwise(None).alias(DURATION_MINUTES),
        pl.when(unit.str.starts_with("Season")).then(amount).otherwise(None).alias(SEASONS),
        pl.col(LISTED_IN).str.split(",").list.eval(pl.element().str.strip_chars())
        .list.eval(pl.element().filter(pl.element() != "")).alias(LISTED_IN),
    ).drop(_ROW)
    log.info("read %d Netflix titles from %s", frame.height, path)
    return frame
