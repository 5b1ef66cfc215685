"""Tiny hand-made MovieLens releases in every layout, with known contents.

The same seven ratings of five movies by three users are written in the format of each
of the eight releases, with each release's quirks (CRLF line endings, latin-1, the
"Children's" spelling, extra files), so every reader must produce the same frames.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from reco.columns import MOVIES_SCHEMA, RATINGS_SCHEMA

# Midnight UTC plus ten hours: hour-of-day features are known by construction.
T0 = 999_993_600 + 10 * 3600
DAY = 86_400

MOVIES = [
    (1, "Toy Story (1995)", ["Adventure", "Animation", "Children", "Comedy"]),
    (2, "American President, The (1995)", ["Comedy", "Drama", "Romance"]),
    (3, "Café Society (2016)", ["Drama"]),
    (4, "Untitled", []),
    (5, "Never Rated (1950)", ["Western"]),
]
RATINGS = [
    (1, 1, 4.0, T0),
    (1, 2, 3.0, T0 + 3600),
    (1, 3, 5.0, T0 + 3660),
    (2, 1, 2.0, T0 + DAY),
    (2, 3, 4.0, T0 + DAY + 60),
    (3, 2, 5.0, T0 + 2 * DAY),
    (3, 4, 1.0, T0 + 2 * DAY + 60),
]
TAGS = [(1, 1, "pixar", T0 + 10), (2, 3, "woody allen", T0 + DAY + 90)]
USERS_DAT = ["1::F::1::10::48067", "2::M::56::16::70072", "3::M::25::15::55117"]
U_USER = ["1|24|M|technician|85711", "2|53|F|other|94043", "3|23|M|writer|32067"]

RELEASES = (
    "ml-100k", "ml-1m", "ml-10m", "ml-20m", "ml-25m", "ml-32m", "ml-latest", "ml-latest-small",
)
U_ITEM_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)


def expected_ratings() -> pl.DataFrame:
    return pl.DataFrame(RATINGS, schema=RATINGS_SCHEMA, orient="row")


def expected_movies() -> pl.DataFrame:
    years = [1995, 1995, 2016, None, 1950]
    rows = [(m, t, y, g) for (m, t, g), y in zip(MOVIES, years)]
    return pl.DataFrame(rows, schema=MOVIES_SCHEMA, orient="row")


def _write(path: Path, lines: list[str], *, encoding: str = "utf-8", eol: str = "\n") -> None:
    path.write_bytes((eol.join(lines) + eol).encode(encoding))


def _csv_title(title: str) -> str:
    return f'"{title}"' if "," in title or '"' in title else title


def _genres(genres: list[str], *, old_spelling: bool = False) -> str:
    if not genres:
        return "(no genres listed)"
    if old_spelling:
        genres = ["Children's" if g == "Children" else g for g in genres]
    return "|".join(genres)


def _rating(value: float, integer: bool) -> str:
    return str(int(value)) if integer else f"{value:.1f}"


def write_csv_release(directory: Path, *, eol: str = "\n", extras: tuple[str, ...] = ()) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    _write(directory / "ratings.csv", ["userId,movieId,rating,timestamp"]
           + [f"{u},{m},{_rating(r, False)},{t}" for u, m, r, t in RATINGS], eol=eol)
    _write(directory / "movies.csv", ["movieId,title,genres"]
           + [f"{m},{_csv_title(t)},{_genres(g)}" for m, t, g in MOVIES], eol=eol)
    _write(directory / "tags.csv", ["userId,movieId,tag,timestamp"]
           + [f"{u},{m},{tag},{t}" for u, m, tag, t in TAGS], eol=eol)
    _write(directory / "links.csv", ["movieId,imdbId,tmdbId"]
           + [f"{m},{m:07d},{'' if m == 4 else m * 10}" for m, _, _ in MOVIES], eol=eol)
    for name in extras:
        _write(directory / name, ["tagId,tag", "1,007"] if "genome" in name else ["x"])
    return directory


def write_dat_release(directory: Path, *, ml1m: bool) -> Path:
    """ml-1m: latin-1, whole stars, users.dat, "Children's"; ml-10m: UTF-8, tags.dat."""
    directory.mkdir(parents=True, exist_ok=True)
    encoding = "latin-1" if ml1m else "utf-8"
    _write(directory / "ratings.dat",
           [f"{u}::{m}::{_rating(r, ml1m)}::{t}" for u, m, r, t in RATINGS])
    _write(directory / "movies.dat",
           [f"{m}::{t}::{_genres(g, old_spelling=ml1m)}" for m, t, g in MOVIES],
           encoding=encoding)
    if ml1m:
        _write(directory / "users.dat", USERS_DAT, encoding=encoding)
    else:
        _write(directory / "tags.dat", [f"{u}::{m}::{tag}::{t}" for u, m, tag, t in TAGS])
    return directory


def write_100k_release(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    _write(directory / "u.data", [f"{u}\t{m}\t{int(r)}\t{t}" for u, m, r, t in RATINGS])
    items = []
    for m, title, genres in MOVIES:
        old = {"Children's" if g == "Children" else g for g in genres}
        flags = ["1" if (g in old or (g == "unknown" and not genres)) else "0"
                 for g in U_ITEM_GENRES]
        date = "" if m == 4 else "01-Jan-1995"
        items.append("|".join([str(m), title, date, "", f"http://imdb/{m}"] + flags))
    _write(directory / "u.item", items, encoding="latin-1")
    _write(directory / "u.user", U_USER)
    _write(directory / "u.genre", [f"{g}|{i}" for i, g in enumerate(U_ITEM_GENRES)])
    return directory


def write_release(root: Path, name: str) -> Path:
    """Write the tiny dataset as release ``name`` under ``root``; return its directory."""
    directory = root / name
    if name == "ml-100k":
        return write_100k_release(directory)
    if name in ("ml-1m", "ml-10m"):
        return write_dat_release(directory, ml1m=name == "ml-1m")
    extras = {
        "ml-20m": ("genome-scores.csv", "genome-tags.csv", "README.txt"),
        "ml-25m": ("genome-scores.csv", "genome-tags.csv", "README.txt"),
        "ml-32m": ("checksums.txt", "README.txt"),
        "ml-latest": ("genome-scores.csv", "genome-tags.csv", "README.txt"),
    }.get(name, ("README.txt",))
    eol = "\r\n" if name == "ml-latest-small" else "\n"
    return write_csv_release(directory, eol=eol, extras=extras)


def write_ratings_csv(directory: Path, lines: list[str], header: str | None = None) -> Path:
    """A csv release whose ratings.csv holds ``lines`` (movies as in the tiny dataset)."""
    write_csv_release(directory)
    head = "userId,movieId,rating,timestamp" if header is None else header
    _write(directory / "ratings.csv", [head] + lines)
    return directory
