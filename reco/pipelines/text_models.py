"""Apply the text models to a MovieLens release before training.

* The genre tagger (``scripts/train_genre_tagger.py --source tmdb --movielens-genres``)
  gives movies listed without genres predicted ones; they feed the features and the
  content model like real genres, and ``genres_predicted`` marks them in
  ``features/movies.parquet``, the catalog and the API.
* The family-friendly classifier (``scripts/train_family_flag.py``) gives every movie
  ``family`` = P(family-friendly), kept in the catalog; ``/recommend?family=true`` keeps
  movies with P >= 0.5.

Both models are trained on other datasets (TMDB 5000, Netflix titles) and only read here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from reco.columns import GENRES, MOVIE_ID
from reco.exceptions import ArtifactError
from reco.features.tables import PREDICTED_MARK

log = logging.getLogger(__name__)

GENRES_PREDICTED = PREDICTED_MARK
FAMILY = "family"


@dataclass
class TextColumns:
    """The movies with predicted genres filled in, and what the catalog gains."""

    movies: pl.DataFrame
    extra: pl.DataFrame  # movie_id [+ genres_predicted] [+ family]
    section: dict[str, Any] = field(default_factory=dict)


def _tagger_file(path: Path) -> Path:
    if path.is_dir():
        found = sorted(path.glob("genre_tagger_movielens.npz")) or sorted(path.glob("genre_tagger_*.npz"))
        if not found:
            raise ArtifactError(f"{path}: no genre_tagger_*.npz (run scripts/train_genre_tagger.py)")
        return found[0]
    return path


def apply_text_models(movies: pl.DataFrame, *, tmdb: pl.DataFrame | None = None,
                      links: pl.DataFrame | None = None, tags: pl.DataFrame | None = None,
                      genre_tagger: str | Path | None = None,
                      family_model: str | Path | None = None) -> TextColumns:
    """Fill missing genres and score P(family) with the saved text models given.

    Parameters
    ----------
    movies, tmdb, links, tags
        Canonical MovieLens frames and the optional TMDB table (overviews are the best
        text for both models when a movie is linked).
    genre_tagger
        A saved tagger (``.npz`` path or the directory ``train_genre_tagger.py`` wrote).
    family_model
        The directory ``train_family_flag.py --out`` wrote.
    """
    extra = movies.select(MOVIE_ID)
    section: dict[str, Any] = {}
    if genre_tagger is not None:
        from reco.text.genre_tagger import GenreTagger
        from reco.text.tagger_inputs import PREDICTED_GENRES, predict_movielens_genres

        path = _tagger_file(Path(genre_tagger))
        predicted = predict_movielens_genres(GenreTagger.load(path), movies, tmdb, links, tags)
        movies = movies.join(predicted, on=MOVIE_ID, how="left").with_columns(
            (pl.col(PREDICTED_GENRES).list.len().fill_null(0) > 0).alias(GENRES_PREDICTED)
        ).with_columns(
            pl.when(pl.col(GENRES_PREDICTED)).then(pl.col(PREDICTED_GENRES))
            .otherwise(pl.col(GENRES)).alias(GENRES)
        ).drop(PREDICTED_GENRES)
        extra = extra.join(movies.select(MOVIE_ID, GENRES_PREDICTED), on=MOVIE_ID, how="left")
        section["genre_tagger"] = {"path": str(path), "untagged": predicted.height,
                                   "filled": int(movies[GENRES_PREDICTED].sum())}
        log.info("genre tagger: %d of %d untagged movies got predicted genres",
                 section["genre_tagger"]["filled"], predicted.height)
    if family_model is not None:
        from reco.text.family import FamilyClassifier
        from reco.text.movielens import family_probabilities

        scores = family_probabilities(FamilyClassifier.load(family_model), movies, tmdb, links, tags)
        extra = extra.join(scores, on=MOVIE_ID, how="left")
        section["family_model"] = {"path": str(family_model),
                                   "mean_probability": float(scores[FAMILY].mean() or 0.0),
                                   "flagged": int((scores[FAMILY] >= 0.5).sum())}
        log.info("family flag: %d of %d movies at P >= 0.5", section["family_model"]["flagged"],
                 scores.height)
    return TextColumns(movies, extra, section)
