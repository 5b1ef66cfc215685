"""The family-friendly classifier applied to MovieLens movies.

MovieLens has no Netflix descriptions: a movie becomes a Netflix-shaped row from its TMDB
overview when ``links.csv`` maps it to TMDB, else its tags, with its genres mapped to
the Netflix labels the classifier knows (:func:`movielens_titles`);
:func:`family_probabilities` scores those rows.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from reco.columns import GENRES, MOVIE_ID, TAG, TITLE, TMDB_ID, title_without_year
from reco.data.netflix import (
    DESCRIPTION,
    DURATION_MINUTES,
    LISTED_IN,
    MOVIE_TYPE,
    NF_TITLE,
    SEASONS,
    TYPE,
)
from reco.data.tmdb import OVERVIEW
from reco.text.family import FamilyClassifier

#: MovieLens genre -> the Netflix ``listed_in`` labels the classifier knows. Netflix has
#: no plain "Animation" or "Crime" movie label: Animation becomes the word "animated" in
#: the text (as in Netflix descriptions), Crime and Mystery map to "Thrillers".
ML_TO_NETFLIX_GENRES: dict[str, tuple[str, ...]] = {
    "Action": ("Action & Adventure",), "Adventure": ("Action & Adventure",),
    "Children": ("Children & Family Movies",), "Comedy": ("Comedies",),
    "Crime": ("Thrillers",), "Documentary": ("Documentaries",), "Drama": ("Dramas",),
    "Fantasy": ("Sci-Fi & Fantasy",), "Film-Noir": ("Classic Movies",),
    "Horror": ("Horror Movies",), "Musical": ("Music & Musicals",), "Mystery": ("Thrillers",),
    "Romance": ("Romantic Movies",), "Sci-Fi": ("Sci-Fi & Fantasy",),
    "Thriller": ("Thrillers",), "War": ("Dramas",), "Western": ("Action & Adventure",),
}


def movielens_titles(movies: pl.DataFrame, tmdb: pl.DataFrame | None = None,
                     links: pl.DataFrame | None = None,
                     tags: pl.DataFrame | None = None) -> pl.DataFrame:
    """MovieLens movies as Netflix-shaped rows (``movie_id`` + :data:`FEATURE_COLUMNS`).

    The description is the TMDB overview when ``links`` maps the movie to a ``tmdb``
    row with one, else the movie's distinct tags joined by commas; "animated" is
    prepended for the Animation genre. Genres map through :data:`ML_TO_NETFLIX_GENRES`.
    Type is Movie; the duration is unknown (no duration bin is set).
    """
    out = movies.select(
        MOVIE_ID,
        title_without_year(pl.col(TITLE)).alias(NF_TITLE),
        pl.col(GENRES).list.eval(pl.element().replace_strict(
            {k: list(v) for k, v in ML_TO_NETFLIX_GENRES.items()}, default=[],
            return_dtype=pl.List(pl.String))).list.eval(pl.element().explode())
        .list.unique(maintain_order=True).alias(LISTED_IN),
        pl.col(GENRES).list.contains("Animation").alias("_animated"),
    ).with_columns(pl.lit("").alias("_overview"), pl.lit("").alias("_tags"))
    if tmdb is not None and links is not None:
        overview = links.select(MOVIE_ID, TMDB_ID).drop_nulls().unique(MOVIE_ID).join(
            tmdb.select(TMDB_ID, OVERVIEW).unique(TMDB_ID), on=TMDB_ID).drop(TMDB_ID)
        out = out.drop("_overview").join(overview.rename({OVERVIEW: "_overview"}),
                                         on=MOVIE_ID, how="left")
    if tags is not None:
        joined = tags.group_by(MOVIE_ID).agg(
            pl.col(TAG).unique(maintain_order=True).str.join(", ").alias("_tags"))
        out = out.drop("_tags").join(joined, on=MOVIE_ID, how="left")
    overview_text = pl.col("_overview").fill_null("")
    tag_text = pl.col("_tags").fill_null("")
    text = pl.when(overview_text != "").then(overview_text).otherwise(tag_text)
    return out.select(
        MOVIE_ID, NF_TITLE,
        pl.when(pl.col("_animated")).then(pl.concat_str([pl.lit("animated."), text],
                                                        separator=" "))
        .otherwise(text).alias(DESCRIPTION),
        LISTED_IN, pl.lit(MOVIE_TYPE).alias(TYPE),
        pl.lit(None, pl.Int32).alias(DURATION_MINUTES), pl.lit(None, pl.Int32).alias(SEASONS))


def family_probabilities(model: FamilyClassifier, movies: pl.DataFrame,
                         tmdb: pl.DataFrame | None = None, links: pl.DataFrame | None = None,
                         tags: pl.DataFrame | None = None) -> pl.DataFrame:
    """``movie_id, family`` (Float32 ``P(family)``) for MovieLens ``movies``.

    Parameters
    ----------
    model
        A fitted (or loaded) :class:`FamilyClassifier`.
    movies, tmdb, links, tags
        Canonical MovieLens frames and the TMDB table of :func:`reco.data.tmdb.read_tmdb_movies`;
        see :func:`movielens_titles` for how they become text.
    """
    rows = movielens_titles(movies, tmdb, links, tags)
    proba = model.predict_proba(rows) if rows.height else np.empty(0)
    return pl.DataFrame({MOVIE_ID: rows[MOVIE_ID],
                         "family": pl.Series(proba, dtype=pl.Float32)})
