"""Training pipeline: read a release, fit the full recommender, write the artifact dir."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import polars as pl

from reco.artifacts import manifest as art
from reco.columns import GENRES, MOVIE_ID, TITLE, YEAR
from reco.exceptions import ArtifactError
from reco.ranking.hybrid import HybridConfig, HybridRecommender
from reco.data.movielens import LoadConfig
from reco.pipelines.features import StepTimer, data_section, features_section, load_data
from reco.pipelines.text_models import apply_text_models

log = logging.getLogger(__name__)

CATALOG = "catalog.parquet"


def train(
    data_dir: str | Path | None,
    artifacts: str | Path,
    *,
    config: HybridConfig | None = None,
    load_config: LoadConfig | None = None,
    tmdb_path: str | Path | None = None,
    genre_tagger: str | Path | None = None,
    family_model: str | Path | None = None,
) -> dict[str, Any]:
    """Fit features, CF, content and the ranker on a release; write ``artifacts``.

    Parameters
    ----------
    data_dir
        A MovieLens release, or ``None`` for the embedded synthetic default.
    artifacts
        Output directory: ``manifest.json``, ``cf.npz``, ``rating.npz``, ``content.npz``,
        ``popular.npz``, ``ranker.json``, ``like_model.json``, ``features/*.parquet``,
        ``catalog.parquet`` (titles, years, genres for serving).
    tmdb_path
        Optional TMDB 5000 movies CSV; linked overviews and keywords enrich content.
    genre_tagger, family_model
        Optional saved text models (:mod:`reco.pipelines.text_models`): predicted genres for movies
        listed without any, and a ``family`` probability in the catalog.

    Returns
    -------
    dict
        The manifest written.
    """
    config = config or HybridConfig()
    load_config = load_config or LoadConfig()
    timer = StepTimer()
    data = timer.run("load", lambda: load_data(data_dir, load_config))
    tmdb = None
    if tmdb_path is not None:
        from reco.data.tmdb import read_tmdb_movies

        tmdb = timer.run("tmdb", lambda: read_tmdb_movies(tmdb_path))
    text = timer.run("text_models", lambda: apply_text_models(
        data.movies, tmdb=tmdb, links=data.links, tags=data.tags,
        genre_tagger=genre_tagger, family_model=family_model))
    model = timer.run(
        "fit",
        lambda: HybridRecommender(config).fit(
            data.ratings, text.movies, tags=data.tags, links=data.links, tmdb=tmdb
        ),
    )
    artifacts = Path(artifacts)
    timer.run("save", lambda: model.save(artifacts))
    text.movies.select(MOVIE_ID, TITLE, YEAR, GENRES).join(
        text.extra, on=MOVIE_ID, how="left").write_parquet(artifacts / CATALOG)
    manifest = art.new_manifest()
    manifest["data"] = timer.run("fingerprint", lambda: data_section(data))
    manifest["config"] = {"load": load_config.to_dict(), "model": config.to_dict()}
    manifest["model"] = model.model_section()
    manifest["features"] = features_section(model.stage_.tables)
    manifest["row_counts"] = {"ratings": data.n_ratings, **model.stage_.tables.row_counts()}
    manifest["metrics"] = {"training_windows": model.model_section()["windows"]}
    manifest["timings_seconds"] = dict(timer.seconds)
    manifest["tmdb"] = None if tmdb_path is None else str(tmdb_path)
    manifest["text_models"] = text.section
    art.write_manifest(artifacts, manifest)
    log.info("trained in %.1fs; artifacts in %s", sum(timer.seconds.values()), artifacts)
    return manifest


def load_model(artifacts: str | Path) -> tuple[HybridRecommender, pl.DataFrame, dict[str, Any]]:
    """Load the fitted recommender, the catalog and the manifest from ``artifacts``."""
    manifest = art.read_manifest(artifacts)
    if "model" not in manifest:
        raise ArtifactError(
            f"{artifacts}: holds features only; run scripts/train.py to fit the models"
        )
    model = HybridRecommender.load(artifacts, manifest["model"])
    catalog = pl.read_parquet(Path(artifacts) / CATALOG)
    return model, catalog, manifest
