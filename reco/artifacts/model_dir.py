"""The trained two-stage model as an artifact directory: :func:`save_model`, :func:`load_model`.

Layout (format :data:`~reco.artifacts.manifest.FORMAT_VERSION`)::

    ARTIFACTS/
      manifest.json                 written last: a directory with a manifest is complete
      features/*.parquet            the stage's feature tables (reco.artifacts.manifest)
      catalog.parquet               movie_id, title, year, genres [+ genres_predicted, family]
      cf.npz                        implicit ALS, with the training ratings matrix
      rating.npz, popular.npz       share cf.npz's matrix (same ratings, same id maps)
      content.npz                   when the config uses content
      context.npz                   time popularity and recent items
      ranker.json, like_model.json  XGBoost's JSON format

The movies table stage one reads (movie_id, genres, year: the genres after the text
models filled the missing ones) is the catalog's projection, so it is stored once, in
the catalog: :func:`save_model` checks the two agree and :func:`load_model` takes the
projection back. Directories of format 1, which held it apart as ``stage_movies.parquet``,
are refused by :func:`~reco.artifacts.manifest.read_manifest` with an
:class:`~reco.exceptions.ArtifactError` saying to train again.

Per-model files keep their own format (:meth:`reco.models.base.Recommender.save`); this
module owns which files make the directory and the manifest that lists them.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from reco.artifacts import manifest as art
from reco.columns import GENRES, MOVIE_ID, TITLE, YEAR
from reco.exceptions import ArtifactError, ConfigError
from reco.features.temporal import RecentItems, TimePopularity
from reco.models.base import Recommender
from reco.npz import load_npz, save_npz
from reco.ranking.booster import load_booster, save_booster
from reco.ranking.hybrid import HybridConfig, HybridRecommender
from reco.ranking.schema import LIKE_FEATURES, RANK_FEATURES
from reco.ranking.stage_one import StageOne

log = logging.getLogger(__name__)
T = TypeVar("T")

CF, RATING, POPULAR, CONTENT = "cf.npz", "rating.npz", "popular.npz", "content.npz"
CONTEXT = "context.npz"
RANKER, LIKE_MODEL = "ranker.json", "like_model.json"
#: Format 1 kept stage one's movies apart; they are the catalog's projection now.
LEGACY_STAGE_MOVIES = "stage_movies.parquet"
#: The columns of the catalog stage one reads, in the order StageOne.movies has them.
STAGE_MOVIE_COLUMNS = (MOVIE_ID, GENRES, YEAR)
CATALOG_COLUMNS = (MOVIE_ID, TITLE, YEAR, GENRES)


def model_section(model: HybridRecommender) -> dict[str, Any]:
    """The manifest's ``model`` entry: class, config, feature order, training windows."""
    return {
        "class": type(model).__name__,
        "config": model.config.to_dict(),
        "rank_features": list(RANK_FEATURES),
        "like_features": list(LIKE_FEATURES),
        "windows": getattr(model, "window_", {}),
    }


def _check_catalog(catalog: pl.DataFrame, stage: StageOne) -> None:
    missing = [c for c in CATALOG_COLUMNS if c not in catalog.columns]
    if missing:
        raise ValueError(f"the catalog lacks columns {missing}; it needs {list(CATALOG_COLUMNS)}")
    if not catalog[MOVIE_ID].is_unique().all():
        raise ValueError("the catalog lists a movie id twice")
    # what load_model will hand stage one must be what it was fitted on, or the genre
    # features (and so the answers) of the loaded model would differ
    ours = catalog.select(STAGE_MOVIE_COLUMNS).sort(MOVIE_ID)
    fitted = stage.movies.select(STAGE_MOVIE_COLUMNS).sort(MOVIE_ID)
    if ours.schema != fitted.schema or not ours.equals(fitted):
        raise ValueError(
            "the catalog's movie_id, genres and year differ from the movies stage one was "
            "fitted on: build the catalog from the movies table given to fit (after the "
            "text models)")


def save_model(model: HybridRecommender, directory: str | Path, *, catalog: pl.DataFrame,
               manifest: Mapping[str, Any] | None = None) -> Path:
    """Write a fitted model, its catalog and the manifest into ``directory``.

    Parameters
    ----------
    model
        A fitted :class:`~reco.ranking.hybrid.HybridRecommender`.
    directory
        Created if needed; files of the layout above are replaced.
    catalog
        What serving shows: ``movie_id, title, year, genres`` and optional extra columns
        (``genres_predicted``, ``family``). Its ``movie_id, genres, year`` must be the
        movies the model was fitted on (checked), as they are not stored elsewhere.
    manifest
        Sections the caller adds to the manifest (data, config, metrics, ...). This
        function sets ``format_version``, ``created_at``, ``libraries``, ``platform``,
        ``model``, ``features`` and ``catalog``, and adds the seconds the files took as
        ``timings_seconds["save"]``.

    Returns
    -------
    pathlib.Path
        ``directory``.

    Raises
    ------
    NotFittedError
        The model is not fitted.
    ValueError
        The catalog lacks a column or disagrees with the fitted movies.
    """
    model._check_fitted()
    stage = model.stage_
    _check_catalog(catalog, stage)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # a manifest says the directory is complete: none while files are being replaced, and
    # no file of an earlier layout left to be mistaken for part of this model
    for stale in (art.MANIFEST, LEGACY_STAGE_MOVIES, CONTENT):
        (directory / stale).unlink(missing_ok=True)
    started = time.perf_counter()
    # the rating and popularity models share the CF model's ratings matrix (same ratings,
    # same id maps): it is stored once, in cf.npz
    stage.cf.save(directory / CF)
    stage.rating_model.save(directory / RATING, with_seen=False)  # type: ignore[union-attr]
    stage.popular.save(directory / POPULAR, with_seen=False)
    if stage.content is not None:
        stage.content.save(directory / CONTENT)
    save_npz(directory / CONTEXT, **stage.time_popularity.state(), **stage.recent.state())
    save_booster(model.ranker_, directory / RANKER)
    save_booster(model.like_model_, directory / LIKE_MODEL)
    art.write_feature_tables(directory, stage.tables)
    art.write_table(directory, art.CATALOG, catalog)
    seconds = time.perf_counter() - started
    out = art.new_manifest()
    out.update(manifest or {})
    out["model"] = model_section(model)
    out["features"] = art.features_section(stage.tables)
    out[art.CATALOG] = art.table_section(catalog, art.CATALOG)
    out["timings_seconds"] = {**out.get("timings_seconds", {}), "save": round(seconds, 4)}
    art.write_manifest(directory, out)
    log.info("model saved to %s in %.2fs", directory, seconds)
    return directory


def _relative(directory: Path, read: Callable[[], T]) -> T:
    """Run ``read``, naming files relative to ``directory`` in any ArtifactError: the
    message may reach an API response, where an absolute path is a leak."""
    try:
        return read()
    except ArtifactError as exc:
        # the readers below name ``directory / file``: keep the file, drop the directory
        message = str(exc).replace(f"{directory}{os.sep}", "")
        raise ArtifactError(message) from exc


def _require(directory: Path, names: list[str]) -> None:
    missing = [name for name in names if not (directory / name).is_file()]
    if missing:
        raise ArtifactError(f"{', '.join(missing)}: missing from the artifact directory; "
                            "train again (scripts/train.py)")


def load_model(directory: str | Path) -> tuple[HybridRecommender, pl.DataFrame, dict[str, Any]]:
    """Load the model, the catalog and the manifest :func:`save_model` wrote.

    The feature order recorded in the manifest is checked against this reco's.

    Raises
    ------
    ArtifactError
        No manifest, another format version (format 1, with its stage_movies.parquet,
        included: train again), features only (no model), another feature order, or a
        file missing or unreadable; the message names the file relative to ``directory``.
    """
    directory = Path(directory)
    manifest = _relative(directory, lambda: art.read_manifest(directory))
    section = art.model_manifest(manifest)
    for key, expected in (("rank_features", RANK_FEATURES), ("like_features", LIKE_FEATURES)):
        if tuple(section.get(key, ())) != expected:
            raise ArtifactError(f"{art.MANIFEST}: {key} differ from this reco's "
                                f"{list(expected)}; train again with this reco")
    try:
        config = HybridConfig.from_dict(section.get("config", {}))
    except ConfigError as exc:  # written by another reco version: not the caller's mistake
        raise ArtifactError(f"{art.MANIFEST}: model config: {exc}") from exc
    _require(directory, [CF, RATING, POPULAR, CONTEXT, RANKER, LIKE_MODEL]
             + ([CONTENT] if config.use_content else []))
    return _relative(directory, lambda: _load(directory, manifest, section, config))


def _load(directory: Path, manifest: dict[str, Any], section: dict[str, Any],
          config: HybridConfig) -> tuple[HybridRecommender, pl.DataFrame, dict[str, Any]]:
    catalog = art.read_table(directory, art.CATALOG, manifest)
    cf = Recommender.load(directory / CF)
    context = load_npz(directory / CONTEXT)
    stage = StageOne(
        cf=cf, rating_model=Recommender.load(directory / RATING, seen=cf.seen_),
        content=Recommender.load(directory / CONTENT) if config.use_content else None,
        popular=Recommender.load(directory / POPULAR, seen=cf.seen_),
        tables=art.read_feature_tables(directory, manifest),
        movies=catalog.select(STAGE_MOVIE_COLUMNS),
        time_popularity=TimePopularity.from_state(context),
        recent=RecentItems.from_state(context),
        like_threshold=config.like_threshold,
    )
    model = HybridRecommender.from_parts(
        config, stage, load_booster(directory / RANKER, RANK_FEATURES),
        load_booster(directory / LIKE_MODEL, LIKE_FEATURES), section.get("windows", {}))
    return model, catalog, manifest
