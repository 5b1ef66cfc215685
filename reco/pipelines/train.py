"""Training pipeline: read a release, fit the full recommender, write the artifact dir
(through :func:`reco.artifacts.model_dir.save_model`, which owns its format)."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from reco.artifacts import manifest as art
from reco.artifacts.model_dir import load_model, model_section, save_model
from reco.artifacts.store import DEFAULT_KEEP, ArtifactStore
from reco.columns import GENRES, MOVIE_ID, TITLE, YEAR
from reco.data.dataset import MovieLensData
from reco.data.feedback import open_store
from reco.data.feedback.merge import merge_stored
from reco.data.movielens import LoadConfig
from reco.exceptions import DataFormatError
from reco.pipelines.features import StepTimer, data_section, load_data
from reco.pipelines.text_models import apply_text_models
from reco.ranking.hybrid import HybridConfig, HybridRecommender

log = logging.getLogger(__name__)

# load_model lived here; it is re-exported for `reco.load_model` and older callers
__all__ = ["load_model", "train"]


def train(
    data_dir: str | Path | MovieLensData | None,
    artifacts: str | Path,
    *,
    config: HybridConfig | None = None,
    load_config: LoadConfig | None = None,
    tmdb_path: str | Path | None = None,
    genre_tagger: str | Path | None = None,
    family_model: str | Path | None = None,
    keep: int = DEFAULT_KEEP,
    feedback: str | Path | None = None,
) -> dict[str, Any]:
    """Fit features, CF, content and the ranker on a release; write ``artifacts``.

    Parameters
    ----------
    data_dir
        A MovieLens release (its directory, or a :class:`~reco.data.dataset.MovieLensData`
        already loaded), or ``None`` for the embedded synthetic default. For frames of
        your own, fit :class:`~reco.ranking.hybrid.HybridRecommender` and publish it with
        :func:`~reco.artifacts.model_dir.save_model`.
    artifacts
        The artifact store: the model becomes a new version (``manifest.json``,
        ``cf.npz``, ``rating.npz``, ``content.npz``, ``popular.npz``, ``ranker.json``,
        ``like_model.json``, ``features/*.parquet``, ``catalog.parquet``), made current by
        one atomic rename once it is complete (:mod:`reco.artifacts.store`).
    tmdb_path
        Optional TMDB 5000 movies CSV; linked overviews and keywords enrich content.
    genre_tagger, family_model
        Optional saved text models (:mod:`reco.pipelines.text_models`): predicted genres for movies
        listed without any, and a ``family`` probability in the catalog.
    keep
        Versions to keep in the store (older ones are deleted, never a current one).
    feedback
        A feedback store's URL (:func:`reco.data.feedback.open_store`): its ratings are added
        to the release's (:func:`reco.data.feedback.merge.merge_stored`; the newest timestamp
        wins, new people become users) and the manifest counts them by source.

    Returns
    -------
    dict
        The manifest written, with the new ``version`` id.
    """
    config = config or HybridConfig()
    load_config = load_config or LoadConfig()
    ArtifactStore(artifacts).check_writable()  # an unusable output path is said before the work
    timer = StepTimer()
    if isinstance(data_dir, MovieLensData):
        data = data_dir
    elif data_dir is None or isinstance(data_dir, (str, Path)):
        data = timer.run("load", lambda: load_data(data_dir, load_config))
    else:  # a frame, most likely: say what to do with it
        raise DataFormatError(
            f"train takes a release directory or a MovieLensData, got "
            f"{type(data_dir).__module__}.{type(data_dir).__qualname__}; for frames, "
            "HybridRecommender().fit(ratings, movies) then save_model(...)")
    by_source: dict[str, int] = {"release": data.n_ratings}
    if feedback is not None:
        data, by_source = timer.run("feedback", lambda: _with_feedback(data, feedback))
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
    section = model_section(model)
    manifest: dict[str, Any] = {
        "data": timer.run("fingerprint", lambda: data_section(data)),
        "config": {"load": load_config.to_dict(), "model": config.to_dict()},
        "row_counts": {"ratings": data.n_ratings, "ratings_by_source": by_source,
                       **model.stage_.tables.row_counts()},
        "metrics": {"training_windows": section["windows"]},
        "timings_seconds": dict(timer.seconds),
        "tmdb": None if tmdb_path is None else str(tmdb_path),
        "text_models": text.section,
        # what the fit changed about the configured model (the content text fallback)
        "fit_notes": list(getattr(model, "fit_notes_", [])),
    }
    # the catalog is the movies the model was fitted on (genres after the text models)
    # with their titles and the text models' extra columns
    catalog = text.movies.select(MOVIE_ID, TITLE, YEAR, GENRES).join(
        text.extra, on=MOVIE_ID, how="left", maintain_order="left")
    version = save_model(model, artifacts, catalog=catalog, manifest=manifest, keep=keep)
    log.info("trained in %.1fs; version %s is current in %s", sum(timer.seconds.values()),
             version.name, artifacts)
    return {**art.read_manifest(version), "version": version.name}


def _with_feedback(data: MovieLensData, url: str | Path) -> tuple[MovieLensData, dict[str, int]]:
    """``data`` with the feedback store's ratings added (issue 16), and the counts."""
    store = open_store(url)
    try:
        stored = store.all_ratings()
    finally:
        store.close()
    ratings, counts = merge_stored(data.ratings, data.movies[MOVIE_ID], stored)
    log.info("feedback store: %d stored ratings read; %d used (%d replaced a release rating, "
             "%d new users), %d older than the release's, %d of unknown movies dropped",
             len(stored), counts["feedback"], counts["feedback_replaced_release"],
             counts["feedback_new_users"], counts["feedback_older_than_release"],
             counts["feedback_unknown_movies"])
    return replace(data, ratings=ratings), counts
