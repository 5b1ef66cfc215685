"""Train the text models on their own datasets, and apply them to a MovieLens release.

Training: :func:`train_genre_tagger` (Netflix or TMDB 5000) and :func:`train_family_flag`
(Netflix, weak labels). Applying, before the recommender is trained (:func:`apply_text_models`):

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
from reco.data.netflix import read_netflix_titles
from reco.data.tmdb import read_tmdb_movies
from reco.exceptions import ArtifactError
from reco.features.tables import PREDICTED_MARK
from reco.text.family import FamilyClassifier, FamilyConfig, fit_family_flag
from reco.text.genre_tagger import GenreTagger, TaggerConfig
from reco.text.movielens import family_probabilities
from reco.text.tagger_inputs import (
    PREDICTED_GENRES,
    netflix_inputs,
    predict_movielens_genres,
    tmdb_inputs,
    to_movielens_genres,
    with_genres,
)

log = logging.getLogger(__name__)

GENRES_PREDICTED = PREDICTED_MARK
FAMILY = "family"


@dataclass
class TextColumns:
    """The movies with predicted genres filled in, and what the catalog gains."""

    movies: pl.DataFrame
    extra: pl.DataFrame  # movie_id [+ genres_predicted] [+ family]
    section: dict[str, Any] = field(default_factory=dict)


TAGGER_SOURCES = ("netflix", "tmdb")


def train_genre_tagger(data: str | Path, source: str, out: str | Path,
                       movielens_genres: bool = False,
                       config: TaggerConfig | None = None) -> Path:
    """Fit the tagger on every row of ``data`` with a genre; save it into ``out``.

    ``source`` names the file's kind ("netflix" or "tmdb"); ``movielens_genres`` (TMDB
    only) maps the labels to MovieLens names, the tagger :func:`apply_text_models` wants.
    Writes ``genre_tagger_<source or "movielens">.{npz,json}``; returns the npz path.
    """
    if source not in TAGGER_SOURCES:
        raise ValueError(f"source must be one of {list(TAGGER_SOURCES)}, got {source!r}")
    if movielens_genres and source != "tmdb":
        raise ValueError("MovieLens genre names need the TMDB source")
    if source == "netflix":
        inputs, labels = netflix_inputs(read_netflix_titles(data))
    else:
        inputs, labels = tmdb_inputs(read_tmdb_movies(data))
        if movielens_genres:
            labels = [to_movielens_genres(row) for row in labels]
    inputs, labels = with_genres(inputs, labels)
    tagger = GenreTagger(config).fit(labels=labels, **inputs.kwargs())
    path = tagger.save(Path(out) / f"genre_tagger_{'movielens' if movielens_genres else source}")
    log.info("saved %s (%d genres)", path, len(tagger.labels_))
    return path


def train_family_flag(netflix: str | Path, out_dir: str | Path, source: str = "majority",
                      config: FamilyConfig | None = None,
                      titles: pl.DataFrame | None = None) -> dict[str, Any]:
    """Fit the family flag on every Netflix title (weak labels from ``source``) and save
    it into ``out_dir``; returns the training summary stored in ``family.json``.

    ``titles``: the file already read (the evaluation reads it first), else it is read.
    """
    config = config or FamilyConfig()
    titles = read_netflix_titles(netflix) if titles is None else titles
    model = fit_family_flag(titles, source, config)
    training = {**model.training_, "netflix": str(netflix), "seed": config.random_state}
    model.save(out_dir, training)
    log.info("family model saved into %s", out_dir)
    return training


def _tagger_file(path: Path) -> Path:
    if path.is_dir():
        found = (sorted(path.glob("genre_tagger_movielens.npz"))
                 or sorted(path.glob("genre_tagger_*.npz")))
        if not found:
            raise ArtifactError(
                f"{path}: no genre_tagger_*.npz (run scripts/train_genre_tagger.py)")
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
        model = FamilyClassifier.load(family_model)
        scores = family_probabilities(model, movies, tmdb, links, tags)
        extra = extra.join(scores, on=MOVIE_ID, how="left")
        mean = scores.select(pl.col(FAMILY).mean()).item()
        section["family_model"] = {"path": str(family_model),
                                   "mean_probability": float(mean or 0.0),
                                   "flagged": int((scores[FAMILY] >= 0.5).sum())}
        log.info("family flag: %d of %d movies at P >= 0.5", section["family_model"]["flagged"],
                 scores.height)
    return TextColumns(movies, extra, section)
