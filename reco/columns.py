"""Column names and canonical schemas, defined once.

Every reader renames the release's own headers (``userId``, ``UserID``...) to these
names, so nothing downstream knows which release the data came from.
"""

from __future__ import annotations

import polars as pl

USER_ID = "user_id"
MOVIE_ID = "movie_id"
RATING = "rating"
TIMESTAMP = "timestamp"
TITLE = "title"
YEAR = "year"
GENRES = "genres"
GENRE = "genre"
TAG = "tag"
IMDB_ID = "imdb_id"
TMDB_ID = "tmdb_id"
GENDER = "gender"
AGE = "age"
OCCUPATION = "occupation"
ZIP_CODE = "zip_code"
# TMDB text columns (reco.data.tmdb reads them; the content model joins them in)
OVERVIEW = "overview"
KEYWORDS = "keywords"

RATINGS_SCHEMA = pl.Schema(
    {USER_ID: pl.Int32, MOVIE_ID: pl.Int32, RATING: pl.Float32, TIMESTAMP: pl.Int64}
)
MOVIES_SCHEMA = pl.Schema(
    {MOVIE_ID: pl.Int32(), TITLE: pl.String(), YEAR: pl.Int32(), GENRES: pl.List(pl.String)}
)
TAGS_SCHEMA = pl.Schema(
    {USER_ID: pl.Int32, MOVIE_ID: pl.Int32, TAG: pl.String, TIMESTAMP: pl.Int64}
)
# imdbId keeps its leading zeros ("0114709"), so it stays a string.
LINKS_SCHEMA = pl.Schema({MOVIE_ID: pl.Int32, IMDB_ID: pl.String, TMDB_ID: pl.Int32})
USERS_SCHEMA = pl.Schema(
    {
        USER_ID: pl.Int32,
        GENDER: pl.String,
        AGE: pl.Int32,
        OCCUPATION: pl.String,
        ZIP_CODE: pl.String,
    }
)

# The genre vocabulary MovieLens uses (ml-20m and later spelling). Older releases say
# "Children's"; readers map it to "Children" so every release shares one vocabulary.
GENRE_VOCABULARY: tuple[str, ...] = (
    "Action",
    "Adventure",
    "Animation",
    "Children",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "IMAX",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
NO_GENRES = "(no genres listed)"

# A title's trailing year in parentheses, "Heat (1995)", or a span, "Friends (1994-2004)",
# "Sherlock (2010- )" (series in ml-latest); group 1 is the (first) year. Kept here, once,
# so the year a reader extracts and the title the text models see never disagree.
TITLE_YEAR_PATTERN = r"\s*\((\d{4})(?:\s*[-–]\s*\d{0,4})?\)\s*$"


def title_year(title: pl.Expr) -> pl.Expr:
    """The year at the end of ``title`` as Int32 (a span gives its first year), else null."""
    return title.str.extract(TITLE_YEAR_PATTERN, 1).cast(pl.Int32, strict=False)


def title_without_year(title: pl.Expr) -> pl.Expr:
    """``title`` without its trailing year or span: ``"Heat (1995)"`` -> ``"Heat"``."""
    return title.str.replace(TITLE_YEAR_PATTERN, "")
