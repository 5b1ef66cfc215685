"""Inputs of the genre tagger for each source, and predicted genres for MovieLens.

* :func:`netflix_inputs` / :func:`tmdb_inputs` turn the readers' frames
  (:func:`reco.data.netflix.read_netflix_titles`, :func:`reco.data.tmdb.read_tmdb_movies`) into
  :class:`TaggerInputs` and gold labels. Netflix's ``rating`` column is never read.
* :data:`TMDB_TO_MOVIELENS` maps TMDB genre names to MovieLens names; the tagger used for
  MovieLens is trained on TMDB 5000 with mapped labels (:func:`to_movielens_genres`).
* :func:`predict_movielens_genres` tags the MovieLens movies whose genre list is empty.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from reco.columns import (
    GENRE_VOCABULARY,
    GENRES,
    MOVIE_ID,
    TAG,
    TITLE,
    TMDB_ID,
    title_without_year,
)
from reco.data.tmdb import OVERVIEW, TMDB_GENRES, TMDB_TITLE
from reco.text.genre_tagger import GenreTagger

log = logging.getLogger(__name__)

PREDICTED_GENRES = "predicted_genres"

#: TMDB genre -> MovieLens genre where the names differ. Measured on ml-latest-small
#: movies linked to TMDB 5000 (3,537): 92% of MovieLens "Children" are TMDB "Family" (and
#: 63% of "Family" are "Children"); 66% of "Musical" are TMDB "Music" (59% the other way);
#: 82% of TMDB "Science Fiction" are "Sci-Fi". Identical names map to themselves; the rest
#: (History, Foreign, TV Movie) MovieLens lacks, so to_movielens_genres drops them.
TMDB_TO_MOVIELENS: dict[str, str] = {
    "Science Fiction": "Sci-Fi",
    "Family": "Children",
    "Music": "Musical",
}


@dataclass(frozen=True)
class TaggerInputs:
    """What :meth:`GenreTagger.fit` / ``predict`` take besides labels, kept aligned."""

    texts: list[str]
    tokens: list[str] | None = None
    meta: np.ndarray | None = None
    groups: list[str] | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index: Sequence[int] | np.ndarray) -> TaggerInputs:
        """The rows ``index`` of every field."""
        idx = np.asarray(index, dtype=np.int64)
        pick = lambda v: None if v is None else [v[i] for i in idx]  # noqa: E731
        return TaggerInputs(pick(self.texts) or [], pick(self.tokens),
                            None if self.meta is None else self.meta[idx], pick(self.groups))

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``fit`` / ``predict_proba`` / ``predict``."""
        return {"texts": self.texts, "meta": self.meta, "tokens": self.tokens,
                "groups": self.groups}


def with_genres(inputs: TaggerInputs,
                labels: list[list[str]]) -> tuple[TaggerInputs, list[list[str]]]:
    """The titles that have at least one genre (the others teach and score nothing;
    TMDB 5000 has 28), inputs and labels kept aligned."""
    keep = [i for i, row in enumerate(labels) if row]
    if len(keep) < len(labels):
        log.info("%d of %d titles have genres; the others are left out", len(keep), len(labels))
    return inputs.subset(keep), [labels[i] for i in keep]


def _tags(prefix: str, cell: str) -> list[str]:
    """``"United States, India"`` -> ``["country=united_states", "country=india"]``."""
    return [f"{prefix}={part.strip().lower().replace(' ', '_')}"
            for part in cell.split(",") if part.strip()]


def _bucket(value: int | None, edges: Sequence[int], name: str) -> list[str]:
    if value is None:
        return []
    return [f"{name}<={next((e for e in edges if value <= e), 'max')}"]


def netflix_inputs(frame: pl.DataFrame) -> tuple[TaggerInputs, list[list[str]]]:
    """Inputs and ``listed_in`` labels of Netflix titles.

    Text: ``title. description``. Tokens: type, countries, director, cast, 5-year release
    bucket, duration/season bucket. Meta: ``[is_tv_show, is_movie]``. Group: the type, so
    TV-only genres never go to movies and vice versa. The age ``rating`` is not read.
    """
    texts, tokens = [], []
    for row in frame.select("title", "description", "type", "country", "director", "cast",
                            "release_year", "duration_minutes", "seasons").iter_rows(named=True):
        texts.append(f"{row['title']}. {row['description']}")
        tags = [f"type={row['type'].replace(' ', '_').lower()}",
                f"year<={row['release_year'] // 5 * 5 + 4}"]
        tags += _tags("country", row["country"]) + _tags("director", row["director"])
        tags += _tags("cast", row["cast"])
        tags += _bucket(row["duration_minutes"], (30, 60, 90, 120, 150), "minutes")
        tags += _bucket(row["seasons"], (1, 2, 4), "seasons")
        tokens.append(" ".join(tags))
    show = (frame["type"] == "TV Show").to_numpy().astype(np.float64)
    inputs = TaggerInputs(texts, tokens, np.column_stack([show, 1.0 - show]),
                          frame["type"].to_list())
    return inputs, frame["listed_in"].to_list()


def tmdb_inputs(frame: pl.DataFrame) -> tuple[TaggerInputs, list[list[str]]]:
    """Inputs (``title. overview`` only: no keywords) and ``tmdb_genres`` labels."""
    texts = [f"{t}. {o}" for t, o in zip(frame[TMDB_TITLE].to_list(), frame[OVERVIEW].to_list())]
    return TaggerInputs(texts), frame[TMDB_GENRES].to_list()


def to_movielens_genres(genres: Sequence[str]) -> list[str]:
    """Map TMDB genre names to MovieLens names, dropping those MovieLens lacks."""
    out = []
    for g in genres:
        mapped = TMDB_TO_MOVIELENS.get(g, g)
        if mapped in GENRE_VOCABULARY and mapped not in out:
            out.append(mapped)
    return out


def predict_movielens_genres(tagger: GenreTagger, movies: pl.DataFrame,
                             tmdb: pl.DataFrame | None = None,
                             links: pl.DataFrame | None = None,
                             tags: pl.DataFrame | None = None) -> pl.DataFrame:
    """Predicted genres of the MovieLens movies whose ``genres`` list is empty.

    Parameters
    ----------
    tagger
        A tagger trained on TMDB text (title + overview), ideally with MovieLens labels
        (``scripts/train_genre_tagger.py --source tmdb --movielens-genres``); predicted
        TMDB names are mapped with :func:`to_movielens_genres` either way.
    movies
        ``movie_id, title, genres`` (canonical MovieLens frame).
    tmdb, links
        ``read_tmdb_movies`` frame and MovieLens links (``movie_id, tmdb_id``): a linked
        movie with a non-empty overview is tagged from ``title. overview``.
    tags
        MovieLens tags (``movie_id, tag``): otherwise the text is the title (year removed)
        followed by the movie's tags.

    Returns
    -------
    polars.DataFrame
        ``movie_id`` (Int32), ``predicted_genres`` (list of str, MovieLens names; may be
        empty only if every predicted genre has no MovieLens name), one row per untagged
        movie, in ``movies`` order.
    """
    empty = movies.filter(pl.col(GENRES).list.len() == 0).select(MOVIE_ID, TITLE)
    schema = pl.Schema({MOVIE_ID: pl.Int32(), PREDICTED_GENRES: pl.List(pl.String)})
    if empty.is_empty():
        return pl.DataFrame(schema=schema)
    frame = empty.with_columns(title_without_year(pl.col(TITLE)),
                               pl.lit(None, dtype=pl.String).alias(OVERVIEW),
                               pl.lit(None, dtype=pl.String).alias(TAG))
    if tmdb is not None and links is not None:
        overview = (links.select(MOVIE_ID, TMDB_ID).drop_nulls()
                    .join(tmdb.select(TMDB_ID, OVERVIEW).filter(pl.col(OVERVIEW) != ""),
                          on=TMDB_ID).unique(MOVIE_ID, keep="first").drop(TMDB_ID))
        frame = frame.drop(OVERVIEW).join(overview, on=MOVIE_ID, how="left")
    if tags is not None:
        joined = tags.group_by(MOVIE_ID).agg(pl.col(TAG).str.join(" "))
        frame = frame.drop(TAG).join(joined, on=MOVIE_ID, how="left")
    frame = frame.with_columns(
        pl.when(pl.col(OVERVIEW).is_not_null())
        .then(pl.col(TITLE) + ". " + pl.col(OVERVIEW))
        .otherwise(pl.col(TITLE) + ". " + pl.col(TAG).fill_null(""))
        .alias("_text"))
    n_overview = int(frame[OVERVIEW].is_not_null().sum())
    log.info("predicting genres of %d untagged movies (%d from a TMDB overview)",
             frame.height, n_overview)
    predicted = [to_movielens_genres(g) for g in tagger.predict(frame["_text"].to_list())]
    order = empty.select(MOVIE_ID).with_row_index("_order")
    out = pl.DataFrame({MOVIE_ID: frame[MOVIE_ID], PREDICTED_GENRES: predicted}, schema=schema)
    return order.join(out, on=MOVIE_ID).sort("_order").drop("_order")
