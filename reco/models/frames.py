"""The library's front door: the frames people have, made canonical once, at ``fit``.

``fit`` takes a Polars or pandas frame (or a Polars LazyFrame), with reco's column names
(``user_id, movie_id, rating, timestamp``), MovieLens's own (``userId, movieId``), the
usual aliases (``user``, ``item_id``, ``item``...) or an explicit ``columns`` mapping
(``{"their name": "user_id"}``); ids may be integers or strings. Whatever is wrong gets
one :class:`~reco.exceptions.DataFormatError` naming the column and what it must hold,
before any model sees the data.

String ids are mapped here, at the edge, to the integers 1..n in sorted order
(:class:`Labels`); a model fitted on them keeps the labels, takes them in its queries and
gives them back in its answers (:class:`~reco.models.base.BaseRecommender`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from reco.columns import (
    GENRES,
    MOVIE_ID,
    NO_GENRES,
    RATING,
    TIMESTAMP,
    TITLE,
    USER_ID,
    YEAR,
    title_year,
)
from reco.exceptions import DataFormatError, UnknownIdError

#: Names accepted for each canonical column, in the order they are looked for.
ALIASES: dict[str, tuple[str, ...]] = {
    USER_ID: (USER_ID, "userId", "UserID", "userid", "user", "uid"),
    MOVIE_ID: (MOVIE_ID, "movieId", "MovieID", "movieid", "item_id", "itemId", "item",
               "movie", "iid"),
    RATING: (RATING, "Rating", "score"),
    TIMESTAMP: (TIMESTAMP, "Timestamp", "time", "datetime"),
}
_INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class Labels:
    """String ids <-> the integers reco uses for them (``codes[i]`` is ``labels[i]``'s,
    1-based, in sorted order, so :class:`~reco.ids.IdMap`'s order is the labels')."""

    labels: np.ndarray  # sorted distinct strings (numpy unicode: saved without pickle)
    kind: str

    def codes(self, values: np.ndarray | Sequence[Any], missing: str = "raise") -> np.ndarray:
        """The integer ids of string ids; unknown: :class:`UnknownIdError`, or -1 with
        ``missing="mask"``."""
        array = np.asarray(values, dtype=str) if len(values) else np.empty(0, dtype=str)
        pos = np.searchsorted(self.labels, array)
        clipped = np.minimum(pos, max(self.labels.size - 1, 0))
        known = (self.labels[clipped] == array) if self.labels.size else \
            np.zeros(array.shape, dtype=bool)
        if missing == "raise" and not known.all():
            raise UnknownIdError(f"unknown {self.kind} id {str(array[~known][0])!r}")
        return np.where(known, pos + 1, -1).astype(np.int64)

    def of(self, codes: np.ndarray) -> np.ndarray:
        """The string ids of integer ids (from 1; the caller keeps -1 padding out)."""
        return self.labels[np.asarray(codes, dtype=np.int64) - 1]


def to_polars(data: object, what: str) -> pl.DataFrame:
    """``data`` as a Polars frame: Polars as it is, a LazyFrame collected, pandas converted
    column by column (no pyarrow needed); anything else a :class:`DataFormatError`."""
    if isinstance(data, pl.LazyFrame):
        return data.collect()
    if isinstance(data, pl.DataFrame):
        return data
    if type(data).__module__.split(".")[0] == "pandas" and hasattr(data, "columns"):
        return _from_pandas(data)
    raise DataFormatError(f"{what} must be a Polars or pandas DataFrame, got "
                          f"{type(data).__module__}.{type(data).__qualname__}")


def _from_pandas(frame: Any) -> pl.DataFrame:
    try:
        return pl.from_pandas(frame)
    except ImportError:  # pyarrow absent: numpy-backed columns convert without it
        pass
    columns = {}
    for name in frame.columns:
        column = frame[name]
        values = column.to_numpy()
        if values.dtype == object or column.isna().any():
            values = column.astype(object).where(column.notna(), None).to_numpy()
        columns[str(name)] = pl.Series(str(name), values, strict=False)
    return pl.DataFrame(columns)


def canonical_columns(frame: pl.DataFrame, what: str, required: Sequence[str],
                      optional: Sequence[str] = (),
                      columns: Mapping[str, str] | None = None) -> pl.DataFrame:
    """``frame`` with reco's column names: ``columns`` maps the caller's names to reco's,
    else :data:`ALIASES` are looked for. Other columns are kept as they are."""
    if columns:
        unknown = [c for c in columns if c not in frame.columns]
        if unknown:
            raise DataFormatError(f"{what}: the column mapping names {unknown[0]!r}, which the "
                                  f"frame does not have (it has {frame.columns})")
        frame = frame.rename(dict(columns))
    renames: dict[str, str] = {}
    for target in (*required, *optional):
        if target in frame.columns:
            continue
        found = [a for a in ALIASES.get(target, (target,)) if a in frame.columns
                 and a not in renames]
        if len(found) > 1:
            raise DataFormatError(f"{what}: columns {found} could each be {target!r}; "
                                  f"pass columns={{{found[0]!r}: {target!r}}}")
        if found:
            renames[found[0]] = target
        elif target in required:
            names = ", ".join(repr(a) for a in ALIASES.get(target, (target,))[1:4])
            raise DataFormatError(
                f"{what}: no column {target!r} (nor {names}); the frame has {frame.columns}. "
                f"Name it so or pass columns={{'your name': {target!r}}}")
    return frame.rename(renames)


def _integer_ids(frame: pl.DataFrame, what: str, name: str) -> pl.DataFrame:
    column = frame[name]
    if column.null_count():
        raise DataFormatError(f"{what}: column {name!r} has {column.null_count()} missing ids")
    if column.dtype.is_integer():
        ids = column.to_numpy()
        if ids.size and (int(ids.min()) < 0 or int(ids.max()) > _INT32_MAX):
            raise DataFormatError(f"{what}: column {name!r} holds integer ids outside "
                                  f"0..{_INT32_MAX}; pass them as strings to have them mapped")
        return frame.with_columns(pl.col(name).cast(pl.Int32))
    raise DataFormatError(f"{what}: column {name!r} must hold integer or string ids, got "
                          f"{column.dtype}")


def string_labels(column: pl.Series, kind: str) -> Labels | None:
    """The :class:`Labels` of a string id column; ``None`` for integer ids."""
    if column.dtype not in (pl.String, pl.Categorical, pl.Enum):
        return None
    values = column.cast(pl.String).drop_nulls().unique().sort().to_numpy().astype(str)
    return Labels(values, kind)


def encode(frame: pl.DataFrame, name: str, labels: Labels | None, what: str) -> pl.DataFrame:
    """``frame`` with column ``name`` as Int32 ids: through ``labels`` for string ids
    (every id must be one of them), checked integers otherwise."""
    column = frame[name]
    if labels is None:
        if column.dtype in (pl.String, pl.Categorical, pl.Enum):
            raise DataFormatError(f"{what}: column {name!r} holds string ids, the ratings "
                                  "integer ones; give both the same kind")
        return _integer_ids(frame, what, name)
    if column.dtype not in (pl.String, pl.Categorical, pl.Enum):
        if column.dtype.is_integer():
            column = column.cast(pl.String)
        else:
            raise DataFormatError(f"{what}: column {name!r} must hold string ids like the "
                                  f"ratings', got {column.dtype}")
    if column.null_count():
        raise DataFormatError(f"{what}: column {name!r} has {column.null_count()} missing ids")
    codes = labels.codes(column.cast(pl.String).to_numpy().astype(str), missing="mask")
    return frame.with_columns(pl.Series(name, codes, dtype=pl.Int32))


def _rating(frame: pl.DataFrame, what: str) -> pl.DataFrame:
    column = frame[RATING]
    if not column.dtype.is_numeric() or column.dtype == pl.Boolean:
        raise DataFormatError(f"{what}: column 'rating' must be numeric, got {column.dtype}")
    ratings = column.cast(pl.Float32)
    bad = ratings.is_null() | ratings.is_nan() | ratings.is_infinite()
    if bad.any():
        raise DataFormatError(f"{what}: column 'rating' has {int(bad.sum())} missing or "
                              "non-finite values")
    return frame.with_columns(ratings)


def _timestamp(frame: pl.DataFrame, what: str) -> pl.DataFrame:
    column = frame[TIMESTAMP]
    if column.dtype == pl.Datetime or column.dtype == pl.Date:
        seconds = column.cast(pl.Datetime("us")).dt.epoch("s")
    elif column.dtype.is_integer():
        seconds = column.cast(pl.Int64)
    else:
        raise DataFormatError(f"{what}: column 'timestamp' must be Unix seconds (integers) or "
                              f"datetimes, got {column.dtype}")
    if seconds.null_count():
        raise DataFormatError(f"{what}: column 'timestamp' has {seconds.null_count()} missing "
                              "values")
    return frame.with_columns(seconds.alias(TIMESTAMP))


@dataclass(frozen=True)
class Ratings:
    """Canonical ratings and, for string ids, the labels they were mapped with."""

    frame: pl.DataFrame
    users: Labels | None = None
    items: Labels | None = None


def read_ratings(data: object, columns: Mapping[str, str] | None = None, *,
                 timestamps: bool = False, what: str = "ratings",
                 more_movies: pl.Series | None = None) -> Ratings:
    """``data`` as canonical ratings (``user_id`` and ``movie_id`` Int32, ``rating``
    Float32, ``timestamp`` Int64 seconds when there is one; ``timestamps``: required).
    ``more_movies``: movie ids of the movies table, labelled too when ids are strings."""
    frame = to_polars(data, what)
    required = (USER_ID, MOVIE_ID, RATING) + ((TIMESTAMP,) if timestamps else ())
    frame = canonical_columns(frame, what, required, () if timestamps else (TIMESTAMP,),
                              columns)
    if frame.is_empty():
        raise DataFormatError(f"{what}: the frame is empty (no rows)")
    users = string_labels(frame[USER_ID], "user")
    movie_column = frame[MOVIE_ID]
    if more_movies is not None and movie_column.dtype in (pl.String, pl.Categorical, pl.Enum):
        movie_column = pl.concat([movie_column.cast(pl.String),
                                  more_movies.cast(pl.String).drop_nulls()])
    items = string_labels(movie_column, "movie")
    frame = encode(frame, USER_ID, users, what)
    frame = encode(frame, MOVIE_ID, items, what)
    frame = _rating(frame, what)
    if TIMESTAMP in frame.columns:
        frame = _timestamp(frame, what)
    return Ratings(frame.select([c for c in (USER_ID, MOVIE_ID, RATING, TIMESTAMP)
                                 if c in frame.columns]), users, items)


def read_keyed(data: object | None, what: str, required: Sequence[str],
               ratings: Ratings) -> pl.DataFrame | None:
    """A frame keyed by movie (and user) ids, such as movies or tags, made canonical like
    ``ratings``: the same names, the same id mapping; with string ids, rows of ids the
    ratings (and movies) do not have are dropped (they have no code)."""
    if data is None:
        return None
    frame = canonical_columns(to_polars(data, what), what, required)
    if MOVIE_ID in frame.columns:
        frame = encode(frame, MOVIE_ID, ratings.items, what)
        if ratings.items is not None:
            frame = frame.filter(pl.col(MOVIE_ID) >= 0)
    if USER_ID in frame.columns:
        frame = encode(frame, USER_ID, ratings.users, what)
        if ratings.users is not None:
            frame = frame.filter(pl.col(USER_ID) >= 0)
    return frame


def read_movies(data: object, ratings: Ratings) -> pl.DataFrame:
    """A movies table made canonical (``movie_id, title, year, genres``): MovieLens's
    ``movies.csv`` as read (``movieId, title, genres`` with genres joined by ``|``) works
    as well as reco's own frame; the year comes from the title when there is no column."""
    frame = read_keyed(data, "movies", [MOVIE_ID, TITLE], ratings)
    assert frame is not None
    if GENRES not in frame.columns:
        frame = frame.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias(GENRES))
    elif frame[GENRES].dtype == pl.String:
        genres = pl.col(GENRES).fill_null("").str.split("|").list.eval(
            pl.element().filter((pl.element() != "") & (pl.element() != NO_GENRES)))
        frame = frame.with_columns(genres.alias(GENRES))
    elif not isinstance(frame[GENRES].dtype, pl.List):
        raise DataFormatError(f"movies: column 'genres' must be a list of strings or a "
                              f"'|'-joined string, got {frame[GENRES].dtype}")
    if YEAR not in frame.columns:
        frame = frame.with_columns(title_year(pl.col(TITLE)).alias(YEAR))
    if frame[TITLE].dtype != pl.String:
        raise DataFormatError(f"movies: column 'title' must hold strings, got "
                              f"{frame[TITLE].dtype}")
    return frame.with_columns(pl.col(YEAR).cast(pl.Int32, strict=False),
                              pl.col(GENRES).cast(pl.List(pl.String)))


def movie_ids_of(data: object | None) -> pl.Series | None:
    """The movie id column of a movies frame as given (to label string ids with)."""
    if data is None:
        return None
    frame = canonical_columns(to_polars(data, "movies"), "movies", [MOVIE_ID])
    return frame[MOVIE_ID]
