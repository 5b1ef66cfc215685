"""Side tables of the synthetic generator: titles, tags, links and user demographics.

Split from :mod:`reco.data.synthetic` so the rating model stays readable on its own.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from reco.columns import (
    AGE,
    GENDER,
    GENRE_VOCABULARY,
    IMDB_ID,
    LINKS_SCHEMA,
    MOVIE_ID,
    OCCUPATION,
    TAG,
    TAGS_SCHEMA,
    TIMESTAMP,
    TITLE,
    TMDB_ID,
    USER_ID,
    USERS_SCHEMA,
    ZIP_CODE,
)

_DAY = 86_400

# Title words. A few carry Latin-1 letters (é, ü, ö) so encodings get exercised; none holds
# "|" or "::", the separators of the 100k and dat layouts.
_ADJ = ("Silent Broken Last Lost Dark Golden Hidden Wild Secret Crimson Eternal Frozen Burning "
        "Lonely Savage Distant Quiet Midnight Electric Velvet Forgotten Bitter Endless Sweet "
        "Little Big Hollow Restless Sacred Wicked Final Brave Strange Blue Iron Glass").split()
_NOUN = ("River Night Road City Heart Storm Garden Mirror Summer Winter Shadow Kingdom Island "
         "Promise Journey Harbor Dream Fire Moon Empire Stranger Letter Game Witness Border "
         "Machine Angel Ghost Hunter Station Season House Wolf Soldier Song Horizon Legacy "
         "Frontier Tide Café Château Fiancée Rendezvous").split()
_NAME = ("Anna Jack Emma Max Lucy Henry Sofia Leo Clara Oscar Marie Hugo Zoë Ruth José Tom "
         "Jürgen Ines Paul Greta Frank Alice Sam Eva Otto").split()
_FOREIGN = ("La Forêt", "Le Rêve", "L'Été indien", "La Cité perdue", "Le Château", "La Fête",
            "Die Brücke", "Das Mädchen", "Über alles", "Niños", "El Señor", "La Mañana")
_SEQUEL = ("2", "3", "II", "Part II", "Returns")
# (format, columns, share). MovieLens moves a leading article to the end ("River, The"),
# the usual source of commas; a few titles quote a phrase or carry an original title.
_TITLE_PATTERNS = (
    ("The {} {}", ("a", "n"), 0.18), ("{} {}, The", ("a", "n"), 0.08),
    ("{} {}", ("a", "n"), 0.14), ("{} of the {}", ("n", "n2"), 0.10),
    ("{}'s {}", ("nm", "n"), 0.07), ("{}", ("n",), 0.07),
    ("{} {}: {} of {}", ("a", "n", "n2", "nm"), 0.08), ("{} and the {} {}", ("nm", "a", "n"), 0.07),
    ("{}, {} and {}", ("n", "n2", "n3"), 0.05), ("Goodbye, {}", ("nm",), 0.03),
    ('"{} {}" {}', ("a", "n", "n2"), 0.03), ("{} (The {} {})", ("fr", "a", "n"), 0.03),
    ("{} {} {}", ("a", "n", "seq"), 0.07),
)
_TAG_GENERIC = ("atmospheric|funny|classic|visually appealing|twist ending|based on a book|quirky|"
                "great soundtrack|thought-provoking|overrated|slow|cult film|predictable|"
                "beautiful|great dialogue|boring|must see|nonlinear|true story|remake").split("|")
_TAG_GENRE = {
    "Action": "explosions|car chase|martial arts", "Adventure": "treasure hunt|quest",
    "Animation": "pixar|hand-drawn|stop motion", "Children": "family|kids",
    "Comedy": "hilarious|satire", "Crime": "heist|mafia", "Documentary": "informative|interviews",
    "Drama": "tearjerker|character study", "Fantasy": "magic|dragons",
    "Film-Noir": "femme fatale|black and white", "Horror": "gore|scary|zombies",
    "IMAX": "3d|imax", "Musical": "singing|dance", "Mystery": "whodunit|suspense",
    "Romance": "love story|romantic", "Sci-Fi": "space|time travel|aliens|dystopia",
    "Thriller": "tense|psychological", "War": "world war ii|vietnam", "Western": "cowboys|gunfight",
}
# ml-1m codes its users' age and occupation; ml-100k gives ages and occupation names.
_DAT_AGES = ((1, 18, 25, 35, 45, 50, 56), (0.037, 0.183, 0.347, 0.197, 0.091, 0.082, 0.063))
_100K_OCCUPATIONS = ("student other educator administrator engineer programmer librarian writer "
                     "executive scientist artist technician marketing entertainment healthcare "
                     "retired lawyer salesman none doctor homemaker").split()
_100K_OCCUPATION_P = np.array([208, 112, 100, 84, 71, 70, 54, 48, 34, 33, 30, 29, 28, 19, 17, 15,
                               13, 13, 10, 7, 8], dtype=float)


def make_titles(rng: np.random.Generator, n: int) -> pl.Series:
    """Titles without the year, from word lists and :data:`_TITLE_PATTERNS`."""
    words = dict(a=_ADJ, n=_NOUN, n2=_NOUN, n3=_NOUN, nm=_NAME, fr=_FOREIGN, seq=_SEQUEL)
    frame = pl.DataFrame(
        {c: pl.Series(w).gather(rng.integers(0, len(w), n)) for c, w in words.items()}
    ).with_columns(
        p=rng.choice(len(_TITLE_PATTERNS), n, p=[share for _, _, share in _TITLE_PATTERNS])
    )
    title = pl.coalesce(
        pl.when(pl.col("p") == i).then(pl.format(fmt, *cols))
        for i, (fmt, cols, _) in enumerate(_TITLE_PATTERNS)
    )
    return frame.select(title.alias(TITLE)).to_series()


def make_tags(
    rng: np.random.Generator, ratings: pl.DataFrame, genres: np.ndarray, rate: float
) -> pl.DataFrame:
    """Tags on rated pairs, mostly by a few prolific taggers, often naming a movie's genre."""
    n_tags = min(round(rate * ratings.height), ratings.height)
    users = ratings[USER_ID].to_numpy()
    n_users = int(users.max())
    # one user in ten tags (some a lot); the rest almost never
    weight = np.where(rng.random(n_users + 1) < 0.1, rng.lognormal(0, 1.5, n_users + 1), 1e-3)
    # weighted sampling without replacement (Efraimidis-Spirakis): the n smallest Exp/w keys
    race = rng.exponential(size=ratings.height) / weight[users]
    rows = np.sort(np.argpartition(race, n_tags - 1)[:n_tags]) if n_tags else np.empty(0, int)
    picked = ratings[rows]
    movie = picked[MOVIE_ID].to_numpy() - 1
    genre_words = [_TAG_GENRE[g].split("|") for g in GENRE_VOCABULARY]
    vocab = np.array(_TAG_GENERIC + [w for words in genre_words for w in words])
    width = np.array([len(words) for words in genre_words])
    first = len(_TAG_GENERIC) + np.cumsum(width) - width
    # a tag names one of the movie's genres 60% of the time: pick that genre, then a word of it
    genre = np.argmax(np.where(genres[movie], rng.random((len(movie), genres.shape[1])), -1), 1)
    genre_word = first[genre] + (rng.random(len(movie)) * width[genre]).astype(np.int64)
    generic = rng.integers(0, len(_TAG_GENERIC), len(movie))
    use_genre = genres[movie].any(1) & (rng.random(len(movie)) < 0.6)
    stamp = picked[TIMESTAMP].to_numpy()
    # shortly after the rating, the same day (so still inside the user's active period)
    stamp = np.minimum(stamp + rng.integers(0, 3600, len(movie)), stamp // _DAY * _DAY + _DAY - 1)
    return pl.DataFrame(
        {USER_ID: picked[USER_ID], MOVIE_ID: picked[MOVIE_ID],
         TAG: vocab[np.where(use_genre, genre_word, generic)], TIMESTAMP: stamp},
        schema=TAGS_SCHEMA,
    )


def make_links(rng: np.random.Generator, year: np.ndarray) -> pl.DataFrame:
    """Distinct 7-digit imdb ids growing with the year, distinct tmdb ids, a few missing."""
    n = len(year)
    imdb = np.empty(n, np.int64)
    imdb[np.argsort(year, kind="stable")] = np.sort(rng.choice(9_999_999, n, replace=False) + 1)
    tmdb = rng.choice(max(1_000_000, 2 * n), n, replace=False) + 1
    return pl.DataFrame(
        {MOVIE_ID: np.arange(1, n + 1), IMDB_ID: pl.Series(imdb).cast(pl.String).str.zfill(7),
         # links.csv of real releases leaves a few tmdbId empty
         TMDB_ID: pl.Series(tmdb).set(pl.Series(rng.random(n) < 0.002), None)},
        schema=LINKS_SCHEMA,
    )


def make_user_table(rng: np.random.Generator, n: int, layout: str) -> pl.DataFrame:
    """Demographics in the layout's coding: ml-1m age groups and occupation codes, or ml-100k's."""
    gender = np.where(rng.random(n) < 0.71, "M", "F")
    if layout == "dat":
        age = rng.choice(_DAT_AGES[0], n, p=_DAT_AGES[1])
        occupation = rng.integers(0, 21, n).astype(str)
    else:
        age = np.clip(np.rint(rng.normal(33, 12, n)), 7, 73)
        p = _100K_OCCUPATION_P / _100K_OCCUPATION_P.sum()
        occupation = np.asarray(_100K_OCCUPATIONS)[rng.choice(len(p), n, p=p)]
    zip_code = np.char.zfill(rng.integers(1000, 100_000, n).astype(str), 5)
    return pl.DataFrame(
        {USER_ID: np.arange(1, n + 1), GENDER: gender, AGE: age, OCCUPATION: occupation,
         ZIP_CODE: zip_code},
        schema=USERS_SCHEMA,
    )
