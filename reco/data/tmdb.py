"""Read the Kaggle "TMDB 5000 Movie Dataset" movies file (``tmdb_5000_movies.csv``).

Only what the content model uses is kept: the TMDB id (joined to MovieLens through
``links.csv``'s ``tmdbId``), the title, the overview and the names inside the ``keywords``
and ``genres`` columns, which hold JSON lists such as ``[{"id": 28, "name": "Action"}]``.

Parsing takes one vectorised Polars pass; only when it fails does a Python pass walk the
rows to name the first bad one, so errors say file, line, field and value.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import polars as pl

from reco.columns import KEYWORDS, OVERVIEW, TMDB_ID
from reco.data._readers import read_csv_as_text
from reco.exceptions import DataFormatError

log = logging.getLogger(__name__)

TMDB_TITLE = "tmdb_title"
TMDB_GENRES = "tmdb_genres"

TMDB_SCHEMA = pl.Schema(
    {
        TMDB_ID: pl.Int32(),
        TMDB_TITLE: pl.String(),
        OVERVIEW: pl.String(),
        KEYWORDS: pl.List(pl.String),
        TMDB_GENRES: pl.List(pl.String),
    }
)
#: File column -> canonical column, for the columns read.
TMDB_COLUMNS: dict[str, str] = {
    "id": TMDB_ID,
    "title": TMDB_TITLE,
    "overview": OVERVIEW,
    "keywords": KEYWORDS,
    "genres": TMDB_GENRES,
}
_NAMED_LIST = pl.List(pl.Struct({"id": pl.Int64, "name": pl.String}))
_ROW = "_row"


def read_tmdb_movies(path: str | Path) -> pl.DataFrame:
    """Read ``tmdb_5000_movies.csv`` into ``tmdb_id, tmdb_title, overview, keywords,
    tmdb_genres`` (:data:`TMDB_SCHEMA`).

    Parameters
    ----------
    path
        The Kaggle movies CSV (the other 15 columns are ignored).

    Returns
    -------
    polars.DataFrame
        One row per movie in file order. A missing overview or title is ``""``; an empty
        ``genres`` / ``keywords`` cell is an empty list.

    Raises
    ------
    DataFormatError
        The file is missing or empty, lacks a column, has a non-integer, empty or
        repeated ``id``, or a ``genres`` / ``keywords`` cell that is not a JSON list of
        ``{"name": ...}`` objects. The message names the file, the line (1-based,
        counting the header), the field and the value.
    """
    path = Path(path)
    raw = read_csv_as_text(path, TMDB_COLUMNS)
    frame = (
        raw.select(list(TMDB_COLUMNS))
        .with_row_index(_ROW)
        .filter(~pl.all_horizontal(pl.exclude(_ROW).is_null()))  # blank lines
    )
    ids = _parse_ids(frame, path)
    keywords = _parse_names(frame, "keywords", path)
    genres = _parse_names(frame, "genres", path)
    out = pl.DataFrame(
        {
            TMDB_ID: ids,
            TMDB_TITLE: frame["title"].fill_null("").str.strip_chars(),
            OVERVIEW: frame["overview"].fill_null("").str.strip_chars(),
            KEYWORDS: keywords,
            TMDB_GENRES: genres,
        },
        schema=TMDB_SCHEMA,
    )
    log.info("read %s: %d TMDB movies", path, out.height)
    return out


def _line(path: Path, row: int) -> int:
    """The 1-based line where data row ``row`` (0-based) starts; quoted newlines count."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        start = 1
        for number, _ in enumerate(reader):
            if number == row + 1:  # record 0 is the header
                return start
            start = reader.line_num + 1
    return row + 2


def _error(message: str, path: Path, frame: pl.DataFrame, position: int, field: str,
           value: object) -> DataFormatError:
    row = int(frame[_ROW][position])
    return DataFormatError(message, path=path, line=_line(path, row), field=field, value=value)


def _parse_ids(frame: pl.DataFrame, path: Path) -> pl.Series:
    text = frame["id"].str.strip_chars()
    ids = text.cast(pl.Int32, strict=False)
    bad = (ids.is_null() | text.is_null()).arg_true()
    if bad.len():
        position = int(bad[0])
        value = text[position]
        message = "empty value" if not value else "not an integer"
        raise _error(message, path, frame, position, "id", value or None)
    repeated = ids.is_duplicated().arg_true()
    if repeated.len():
        position = int(repeated[1] if repeated.len() > 1 else repeated[0])
        raise _error("TMDB id listed more than once", path, frame, position, "id",
                     int(ids[position]))
    return ids


def _parse_names(frame: pl.DataFrame, field: str, path: Path) -> pl.Series:
    """The ``name`` values of a JSON column of ``[{"id": .., "name": ..}, ...]`` lists."""
    text = frame[field].fill_null("").str.strip_chars().replace("", "[]")
    try:
        decoded = text.str.json_decode(_NAMED_LIST)
        names = decoded.list.eval(pl.element().struct.field("name"))
        unnamed = names.list.eval(pl.element().is_null().any()).list.first().fill_null(False)
        if not unnamed.any():
            return names.list.eval(pl.element().str.strip_chars())
    except pl.exceptions.PolarsError:
        pass
    raise _diagnose_names(frame, text, field, path)


def _diagnose_names(frame: pl.DataFrame, text: pl.Series, field: str,
                    path: Path) -> DataFormatError:
    """Walk the cells in Python and describe the first one that is not a named list."""
    for position, cell in enumerate(text.to_list()):
        try:
            value = json.loads(cell)
        except json.JSONDecodeError as exc:
            return _error(f"not valid JSON ({exc.msg} at character {exc.pos})", path, frame,
                          position, field, cell)
        if not isinstance(value, list) or not all(
            isinstance(item, dict) and isinstance(item.get("name"), str) for item in value
        ):
            return _error('expected a JSON list of {"id": ..., "name": "..."} objects',
                          path, frame, position, field, cell)
    return DataFormatError("could not decode the JSON column", path=path, field=field)
