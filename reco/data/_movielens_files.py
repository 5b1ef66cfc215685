"""Per-file readers of the three MovieLens layouts, each returning a canonical frame."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from reco.columns import (
    AGE,
    GENDER,
    GENRES,
    IMDB_ID,
    LINKS_SCHEMA,
    MOVIE_ID,
    MOVIES_SCHEMA,
    NO_GENRES,
    OCCUPATION,
    RATING,
    TAG,
    TAGS_SCHEMA,
    TIMESTAMP,
    TITLE,
    TMDB_ID,
    USER_ID,
    USERS_SCHEMA,
    YEAR,
    ZIP_CODE,
    title_year,
)
from reco.data._checks import check_genres
from reco.data._readers import (
    FileSpec,
    cast_located,
    check_not_empty,
    check_separator,
    collect_checked,
    detect_encoding,
    read_header_csv,
    read_split_text,
    scan_delimited,
)
from reco.exceptions import DataFormatError

_I32, _I64, _F32, _STR = pl.Int32(), pl.Int64(), pl.Float32(), pl.String()
_RATING_COLUMNS = ((USER_ID, _I32), (MOVIE_ID, _I32), (RATING, _F32), (TIMESTAMP, _I64))
_TAG_COLUMNS = ((USER_ID, _I32), (MOVIE_ID, _I32), (TAG, _STR), (TIMESTAMP, _I64))
_MOVIE_COLUMNS = ((MOVIE_ID, _I32), (TITLE, _STR), (GENRES, _STR))

SPECS: dict[str, FileSpec] = {
    "ratings.csv": FileSpec(",", _RATING_COLUMNS, ("userId", "movieId", "rating", "timestamp")),
    "movies.csv": FileSpec(",", _MOVIE_COLUMNS, ("movieId", "title", "genres")),
    "tags.csv": FileSpec(",", _TAG_COLUMNS, ("userId", "movieId", "tag", "timestamp")),
    "links.csv": FileSpec(
        ",", ((MOVIE_ID, _I32), (IMDB_ID, _STR), (TMDB_ID, _I32)), ("movieId", "imdbId", "tmdbId")
    ),
    "ratings.dat": FileSpec("::", _RATING_COLUMNS),
    "movies.dat": FileSpec("::", _MOVIE_COLUMNS),
    "tags.dat": FileSpec("::", _TAG_COLUMNS),
    "users.dat": FileSpec(
        "::", ((USER_ID, _I32), (GENDER, _STR), (AGE, _I32), (OCCUPATION, _STR), (ZIP_CODE, _STR))
    ),
    "u.data": FileSpec("\t", _RATING_COLUMNS),
    "u.user": FileSpec(
        "|", ((USER_ID, _I32), (AGE, _I32), (GENDER, _STR), (OCCUPATION, _STR), (ZIP_CODE, _STR))
    ),
}
#: ml-100k's u.item genre flags, in file order ("Children's" becomes "Children").
U_ITEM_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)
SPECS["u.item"] = FileSpec(
    "|",
    ((MOVIE_ID, _I32), (TITLE, _STR), ("release_date", _STR), ("video_release_date", _STR),
     ("imdb_url", _STR)) + tuple((f"g_{g}", _STR) for g in U_ITEM_GENRES),
)
_RATINGS_FILE = {"csv": "ratings.csv", "dat": "ratings.dat", "100k": "u.data"}


def ratings_spec(layout: str) -> FileSpec:
    return SPECS[_RATINGS_FILE[layout]]


def tag_spec(layout: str) -> FileSpec:
    return SPECS["tags.dat" if layout == "dat" else "tags.csv"]


def scan_ratings(path: Path, layout: str) -> pl.LazyFrame:
    """Lazy typed scan of a ratings file in canonical columns (checks only line 1)."""
    spec = ratings_spec(layout)
    check_not_empty(path)
    if spec.header is None:
        check_separator(path, spec)
    return scan_delimited(path, spec)


def read_ratings(path: Path, layout: str) -> pl.DataFrame:
    """Read and type-check a ratings file; errors name the first bad line."""
    return collect_checked(scan_ratings(path, layout), path, ratings_spec(layout))


def _read_small(path: Path, spec: FileSpec) -> pl.DataFrame:
    """Read a small file as strings with each row's line number in ``_line``."""
    check_not_empty(path)
    encoding = detect_encoding(path)
    if spec.header is None:
        check_separator(path, spec, encoding)
        frame = read_split_text(path, spec, encoding)
    else:
        frame = read_header_csv(path, spec)
    return frame


def _require(frame: pl.DataFrame, path: Path, names: list[str]) -> None:
    for name in names:
        empty = frame.filter(pl.col(name).is_null() | (pl.col(name).str.strip_chars() == ""))
        if empty.height:
            raise DataFormatError(
                "empty value", path=path, line=int(empty["_line"][0]), field=name
            )


def _check_unique_ids(frame: pl.DataFrame, path: Path) -> None:
    dup = frame.filter(pl.col(MOVIE_ID).is_duplicated())
    if dup.height:
        raise DataFormatError(
            f"movie id listed more than once (lines {dup['_line'].head(2).to_list()})",
            path=path, line=int(dup["_line"][1]), field=MOVIE_ID, value=int(dup[MOVIE_ID][0]),
        )


def _genre_list(column: str) -> pl.Expr:
    genres = pl.col(column).fill_null("").str.split("|")
    genres = genres.list.eval(pl.element().str.strip_chars().replace("Children's", "Children"))
    return genres.list.eval(
        pl.element().filter((pl.element() != "") & (pl.element() != NO_GENRES))
    )


def _check_positive(frame: pl.DataFrame, path: Path, names: list[str]) -> None:
    for name in names:
        bad = frame.filter(pl.col(name) < 1)
        if bad.height:
            raise DataFormatError("ids are positive integers (from 1)", path=path,
                                  line=int(bad["_line"][0]), field=name, value=bad[name][0])


def read_movies(path: Path, layout: str, unknown_genres: str = "error"
                ) -> tuple[pl.DataFrame, int]:
    """Movies as ``movie_id, title, year, genres`` (a list; empty when none listed), and
    the number of genre entries dropped by the ``unknown_genres`` policy
    (:func:`reco.data._checks.check_genres`)."""
    if layout == "100k":
        return _read_u_item(path), 0
    spec = SPECS["movies.dat" if layout == "dat" else "movies.csv"]
    frame = _read_small(path, spec)
    _require(frame, path, [MOVIE_ID, TITLE])
    frame = cast_located(frame, path, spec)
    _check_positive(frame, path, [MOVIE_ID])
    _check_unique_ids(frame, path)
    frame = frame.with_columns(_genre_list(GENRES).alias(GENRES))
    frame, dropped = check_genres(frame, path, unknown_genres)
    return frame.select(
        pl.col(MOVIE_ID),
        pl.col(TITLE).str.strip_chars(),
        title_year(pl.col(TITLE)).alias(YEAR),
        pl.col(GENRES),
    ).cast(MOVIES_SCHEMA), dropped


def _read_u_item(path: Path) -> pl.DataFrame:
    spec = SPECS["u.item"]
    frame = _read_small(path, spec)
    _require(frame, path, [MOVIE_ID, TITLE])
    flags = [f"g_{g}" for g in U_ITEM_GENRES]
    for flag in flags:
        bad = frame.filter(~pl.col(flag).is_in(["0", "1"]))
        if bad.height:
            raise DataFormatError(
                "genre flag must be 0 or 1", path=path, line=int(bad["_line"][0]),
                field=flag[2:], value=bad[flag][0],
            )
    frame = cast_located(frame, path, spec)
    _check_positive(frame, path, [MOVIE_ID])
    _check_unique_ids(frame, path)
    genres = pl.concat_list(
        [pl.when(pl.col(f) == "1").then(pl.lit(f[2:])) for f in flags[1:]]
    ).list.drop_nulls()
    release_year = pl.col("release_date").str.extract(r"(\d{4})\s*$", 1).cast(pl.Int32)
    return frame.select(
        pl.col(MOVIE_ID),
        pl.col(TITLE).str.strip_chars(),
        pl.coalesce(title_year(pl.col(TITLE)), release_year).alias(YEAR),
        genres.alias(GENRES),
    ).cast(MOVIES_SCHEMA)


def read_tags(path: Path, layout: str) -> pl.DataFrame:
    """Tags as ``user_id, movie_id, tag, timestamp``."""
    spec = SPECS["tags.dat" if layout == "dat" else "tags.csv"]
    frame = _read_small(path, spec)
    _require(frame, path, [USER_ID, MOVIE_ID, TIMESTAMP])
    frame = cast_located(frame, path, spec)
    _check_positive(frame, path, [USER_ID, MOVIE_ID])
    return frame.select(
        pl.col(USER_ID), pl.col(MOVIE_ID), pl.col(TAG).fill_null("").str.strip_chars(),
        pl.col(TIMESTAMP),
    ).cast(TAGS_SCHEMA)


def read_links(path: Path) -> pl.DataFrame:
    """Links as ``movie_id, imdb_id, tmdb_id`` (``tmdb_id`` null where the release has none)."""
    spec = SPECS["links.csv"]
    frame = _read_small(path, spec)
    _require(frame, path, [MOVIE_ID])
    frame = cast_located(frame, path, spec)
    return frame.select(list(LINKS_SCHEMA)).cast(LINKS_SCHEMA)


def read_users(path: Path, layout: str) -> pl.DataFrame:
    """Demographics (ml-100k ``u.user``, ml-1m ``users.dat``) in canonical columns."""
    spec = SPECS["users.dat" if layout == "dat" else "u.user"]
    frame = _read_small(path, spec)
    _require(frame, path, [USER_ID])
    frame = cast_located(frame, path, spec)
    return frame.select(list(USERS_SCHEMA)).cast(USERS_SCHEMA)
