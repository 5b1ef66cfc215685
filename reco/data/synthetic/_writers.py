"""Write canonical frames as a MovieLens release, byte for byte in the release's format.

``csv`` is ml-20m/25m/32m/latest (UTF-8, headers, half stars), ``dat`` is ml-1m (``::``
separated, no header, Latin-1 movies and users; plus ml-10m's ``tags.dat``), ``100k`` is
ml-100k (``u.data``, ``u.item``, ``u.genre``, ``u.user``, ``u.occupation``, ``u.info``).
All files use LF line endings.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import polars as pl

from reco.columns import (
    AGE,
    GENDER,
    GENRES,
    IMDB_ID,
    MOVIE_ID,
    NO_GENRES,
    OCCUPATION,
    RATING,
    TAG,
    TIMESTAMP,
    TITLE,
    TMDB_ID,
    USER_ID,
    YEAR,
    ZIP_CODE,
)
from reco.data.dataset import HALF_STAR_SCALE, WHOLE_STAR_SCALE, MovieLensData, RatingScale

logger = logging.getLogger(__name__)

LAYOUTS: tuple[str, ...] = ("csv", "dat", "100k")
#: The rating scale each layout stores.
LAYOUT_SCALES: dict[str, RatingScale] = {
    "csv": HALF_STAR_SCALE,
    "dat": WHOLE_STAR_SCALE,
    "100k": WHOLE_STAR_SCALE,
}
#: ml-100k's genre columns of u.item, in file order ("unknown" = no genre; no IMAX).
GENRES_100K: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)
_CHUNK = 4_000_000  # rows per block of built "::" lines


def _joined_genres(old_spelling: bool) -> pl.Expr:
    genres = pl.col(GENRES)
    if old_spelling:  # ml-1m spells it "Children's"
        genres = genres.list.eval(pl.element().replace("Children", "Children's"))
    return (
        pl.when(pl.col(GENRES).list.len() == 0)
        .then(pl.lit(NO_GENRES))
        .otherwise(genres.list.join("|"))
    )


def _check_no_separator(frame: pl.DataFrame, column: str, sep: str, path: Path) -> None:
    bad = frame.filter(pl.col(column).str.contains(sep, literal=True))
    if bad.height:
        raise ValueError(
            f"{path.name}: {column} {bad[column][0]!r} contains the separator {sep!r}, "
            "which the format cannot quote"
        )


def _write_lines(frame: pl.DataFrame, path: Path, sep: str, encoding: str = "utf-8") -> None:
    """Write ``frame``'s columns joined by ``sep``, one row a line, no header, no quoting."""
    exprs = [pl.col(c).cast(pl.String) for c in frame.columns]
    if encoding == "utf-8":
        # polars writes UTF-8 only; block by block keeps the built strings small at 32M rows
        with path.open("wb") as fh:
            for s in range(0, max(frame.height, 1), _CHUNK):
                block = frame.slice(s, _CHUNK).select(pl.concat_str(exprs, separator=sep))
                block.write_csv(fh, include_header=False, quote_style="never")
        return
    lines = frame.select(pl.concat_str(exprs, separator=sep)).to_series().to_list()
    path.write_bytes("".join(line + "\n" for line in lines).encode(encoding))


def _write_csv(data: MovieLensData, out: Path) -> list[Path]:
    files = []
    ratings = data.ratings.rename(
        {USER_ID: "userId", MOVIE_ID: "movieId", RATING: "rating", TIMESTAMP: "timestamp"}
    )
    files.append(out / "ratings.csv")
    ratings.write_csv(files[-1], float_precision=1)  # "4.0", "3.5" as MovieLens writes them
    movies = data.movies.select(
        pl.col(MOVIE_ID).alias("movieId"),
        pl.col(TITLE).alias("title"),
        _joined_genres(False).alias("genres"),
    )
    files.append(out / "movies.csv")
    movies.write_csv(files[-1])  # quotes titles with commas or quotes, doubling the quotes
    if data.tags is not None and not data.tags.is_empty():  # no header-only file
        files.append(out / "tags.csv")
        data.tags.rename(
            {USER_ID: "userId", MOVIE_ID: "movieId", TAG: "tag", TIMESTAMP: "timestamp"}
        ).write_csv(files[-1])
    if data.links is not None:
        files.append(out / "links.csv")
        data.links.rename(
            {MOVIE_ID: "movieId", IMDB_ID: "imdbId", TMDB_ID: "tmdbId"}
        ).write_csv(files[-1])
    return files


def _write_dat(data: MovieLensData, out: Path) -> list[Path]:
    files = [out / "ratings.dat", out / "movies.dat"]
    ratings = data.ratings.with_columns(pl.col(RATING).cast(pl.Int32))
    _write_lines(ratings.select(USER_ID, MOVIE_ID, RATING, TIMESTAMP), files[0], "::")
    movies = data.movies.select(MOVIE_ID, TITLE, _joined_genres(True).alias(GENRES))
    _check_no_separator(movies, TITLE, "::", files[1])
    _write_lines(movies, files[1], "::", encoding="latin-1")
    if data.users is not None:
        files.append(out / "users.dat")
        users = data.users.select(USER_ID, GENDER, AGE, OCCUPATION, ZIP_CODE)
        _write_lines(users, files[-1], "::", encoding="latin-1")
    if data.tags is not None and not data.tags.is_empty():
        files.append(out / "tags.dat")
        _check_no_separator(data.tags, TAG, "::", files[-1])
        _write_lines(data.tags.select(USER_ID, MOVIE_ID, TAG, TIMESTAMP), files[-1], "::")
    return files


def _write_100k(data: MovieLensData, out: Path) -> list[Path]:
    files = [out / "u.data", out / "u.item", out / "u.genre"]
    data.ratings.select(USER_ID, MOVIE_ID, pl.col(RATING).cast(pl.Int32), TIMESTAMP).write_csv(
        files[0], separator="\t", include_header=False
    )
    genres = pl.col(GENRES).list.set_difference(pl.lit(["IMAX"]))  # no IMAX column in ml-100k
    flags = [(genres.list.len() == 0).cast(pl.Int8).alias("unknown")] + [
        genres.list.contains(g.replace("Children's", "Children")).cast(pl.Int8).alias(g)
        for g in GENRES_100K[1:]
    ]
    items = data.movies.select(
        MOVIE_ID,
        TITLE,
        # only the year is known; ml-100k itself dates many movies 01-Jan-YYYY
        pl.when(pl.col(YEAR).is_null()).then(pl.lit("")).otherwise(
            pl.format("01-Jan-{}", YEAR)).alias("release_date"),
        pl.lit("").alias("video_release_date"),
        pl.format("http://us.imdb.com/M/title-exact?{}", pl.col(TITLE).str.replace_all(" ", "%20"))
        .alias("url"),
        *flags,
    )
    _check_no_separator(items, TITLE, "|", files[1])
    _write_lines(items, files[1], "|", encoding="latin-1")
    files[2].write_text("".join(f"{g}|{i}\n" for i, g in enumerate(GENRES_100K)) + "\n")
    if data.users is not None:
        files.append(out / "u.user")
        users = data.users.select(USER_ID, AGE, GENDER, OCCUPATION, ZIP_CODE)
        _write_lines(users, files[-1], "|", encoding="latin-1")
        files.append(out / "u.occupation")
        names = data.users[OCCUPATION].unique().sort().to_list()
        files[-1].write_text("".join(f"{name}\n" for name in names))
    files.append(out / "u.info")
    files[-1].write_text(
        f"{data.n_users} users\n{data.n_movies} items\n{data.n_ratings} ratings\n"
    )
    return files


def write_release(data: MovieLensData, out_dir: str | Path, layout: str) -> list[Path]:
    """Write ``data`` into ``out_dir`` in the files and format of a MovieLens ``layout``.

    Parameters
    ----------
    data
        Canonical frames, e.g. from :func:`reco.data.synthetic.generate`.
    out_dir
        Created if missing; files of the same name are overwritten.
    layout
        ``"csv"``, ``"dat"`` or ``"100k"``. Tables the layout has but ``data`` lacks are
        skipped; tables the layout lacks (links in dat, tags in 100k...) are not written.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    ValueError
        On an unknown layout, or when ``data.scale`` is not the layout's: half stars are
        not rounded into a whole-star release silently; generate for that layout instead.
        Also when a title holds the layout's unquotable separator (``::`` or ``|``).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {list(LAYOUTS)}, got {layout!r}")
    if data.scale != LAYOUT_SCALES[layout]:
        raise ValueError(
            f"layout {layout!r} stores ratings on {LAYOUT_SCALES[layout]}, but the data is on "
            f"{data.scale}; generate the data for layout {layout!r} instead"
        )
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    writer = {"csv": _write_csv, "dat": _write_dat, "100k": _write_100k}[layout]
    files = writer(data, out)
    logger.info("wrote %s release (%d files) to %s in %.1f s", layout, len(files), out,
                time.perf_counter() - t0)
    return files
