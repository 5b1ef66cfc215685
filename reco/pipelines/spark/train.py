"""``scripts/train.py --engine spark``: the two-stage fit on Spark, published as one
version of the artifact store.

:func:`fit_hybrid` is ``HybridRecommender.fit`` with Spark doing the work (module
docstring of :mod:`reco.ranking.hybrid` for the windows; :mod:`.stage_one`, :mod:`.rows`
and :mod:`.boosters` for what runs where); it returns reco's own fitted
:class:`~reco.ranking.hybrid.HybridRecommender` (built with ``from_parts``), so
:func:`train_spark` publishes it with :func:`reco.artifacts.model_dir.save_model`, the
single-machine pipeline's writer, adding ``engine: spark`` and the Spark version to the
manifest. ``scripts/serve.py`` and ``scripts/recommend.py`` read the version unchanged.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from reco.artifacts import manifest as art
from reco.artifacts.model_dir import save_model
from reco.artifacts.store import DEFAULT_KEEP, ArtifactStore
from reco.columns import GENRES, MOVIE_ID, RATING, TITLE, USER_ID, YEAR
from reco.data.movielens import LoadConfig
from reco.data.split import tags_before_label_window
from reco.exceptions import ModelFitError
from reco.pipelines.features import StepTimer
from reco.pipelines.spark.boosters import fit_spark_booster
from reco.pipelines.spark.feedback import merge_feedback
from reco.pipelines.spark.read import read_release
from reco.pipelines.spark.rows import like_job, ranker_job, restrict_stage, write_stage
from reco.pipelines.spark.session import SparkConfig, spark_session
from reco.pipelines.spark.stage_one import fit_stage_one
from reco.pipelines.spark.windows import FEATURE, LABEL, WINDOW, mark_windows
from reco.pipelines.text_models import apply_text_models
from reco.ranking.booster import Booster, like_model_config
from reco.ranking.hybrid import HybridConfig, HybridRecommender, TextInputs, same_text
from reco.ranking.pair_features import LIKE_FEATURES, RANK_FEATURES
from reco.ranking.retrieval import index_stage
from reco.ranking.stage_one import StageOne

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)
ENGINE = "spark"


def _uniform(seed: int, *columns: str) -> Any:
    """A number in [0, 1) per row from a hash of ``columns`` and ``seed``: a sample that
    does not depend on how the rows are partitioned (``rand`` does)."""
    from pyspark.sql import functions as F

    return (F.abs(F.xxhash64(*[F.col(c) for c in columns], F.lit(seed))) % (1 << 30)) / (1 << 30)


def _collect(frame: DataFrame) -> pl.DataFrame:
    table = pl.from_arrow(frame.toArrow())
    assert isinstance(table, pl.DataFrame)
    return table


def fit_boosters(spark: SparkSession, stage: StageOne, label_window: DataFrame,
                 config: HybridConfig, scratch: Path, workers: int | None = None,
                 ) -> tuple[Booster, Booster, dict[str, Any]]:
    """:func:`~reco.ranking.label_windows.fit_boosters` on Spark, for one label window:
    the ranker on the candidate rows of users with a like in ``label_window``, the like
    model on their label-window ratings; both with features from the feature-window
    ``stage``."""
    from pyspark.sql import functions as F

    cfg = config.ranker
    workers = workers or spark.sparkContext.defaultParallelism
    seed = cfg.random_state
    liked = label_window.where(F.col(RATING) >= config.like_threshold).select(USER_ID, MOVIE_ID)
    users = liked.select(USER_ID).distinct()
    if users.count() > cfg.max_train_users:
        users = users.orderBy(_uniform(seed, USER_ID), USER_ID).limit(cfg.max_train_users)
    users = users.cache()
    ranked = users.toArrow().column(USER_ID).to_numpy().astype("int64")
    n_users = int(ranked.size)
    # the row tasks get the stage of these users only: item-side arrays plus at most
    # max_train_users users, so a Python worker's memory does not grow with all users
    name = f"reco-stage-{uuid.uuid4().hex[:12]}"
    shipped = write_stage(restrict_stage(stage, ranked), scratch / name)
    spark.sparkContext.addFile(str(shipped), recursive=True)
    liked = liked.join(users, on=USER_ID, how="left_semi")
    per_user = liked.groupBy(USER_ID).agg(F.collect_list(MOVIE_ID).alias("liked"))
    rows = ranker_job(per_user, name, config.candidates).cache()
    totals = rows.agg(F.count(F.lit(1)).alias("n"), F.sum("label").alias("pos")).first()
    assert totals is not None
    n_rows, n_pos = int(totals["n"]), int(totals["pos"] or 0)
    n_liked = liked.count()
    sampled = rows
    if n_rows > cfg.max_train_rows:  # every positive, negatives sampled (sample_rows)
        n_neg = n_rows - n_pos
        room = max(cfg.max_train_rows - n_pos, min(cfg.max_train_rows, n_neg) // 10)
        sampled = rows.where((F.col("label") == 1)
                             | (_uniform(seed, USER_ID, MOVIE_ID) < min(1.0, room / n_neg)))
    sampled = sampled.cache()
    stats = sampled.agg(F.count(F.lit(1)).alias("n"), F.avg("label").alias("rate")).first()
    assert stats is not None
    ranker = fit_spark_booster(sampled, RANK_FEATURES, cfg, cfg.objective, workers)
    rated = label_window.join(users, on=USER_ID, how="left_semi").select(USER_ID, MOVIE_ID,
                                                                        RATING)
    n_rated = rated.count()
    if n_rated > cfg.max_train_rows:
        rated = rated.where(_uniform(seed + 1, USER_ID, MOVIE_ID) < cfg.max_train_rows / n_rated)
    like = like_job(rated, name, config.like_threshold).cache()
    n_like = like.count()
    like_model = fit_spark_booster(like, LIKE_FEATURES, like_model_config(cfg),
                                   "binary:logistic", workers)
    for frame in (rows, sampled, like, users):
        frame.unpersist()
    windows = {"ranker_users": n_users, "candidate_rows": n_rows, "ranker_rows": int(stats["n"]),
               "ranker_positive_rate": float(stats["rate"]), "like_rows": n_like,
               "candidate_recall": float(n_pos / max(n_liked, 1))}
    return ranker, like_model, windows


def fit_hybrid(spark: SparkSession, ratings: DataFrame, text: TextInputs,
               config: HybridConfig | None = None, workers: int | None = None,
               ) -> HybridRecommender:
    """The two-stage model fitted on Spark ``ratings`` (``user_id, movie_id, rating,
    timestamp``) and the driver-side ``text`` (movies, tags, links), the same steps as
    :meth:`HybridRecommender.fit <reco.ranking.hybrid.HybridRecommender.fit>`."""
    from pyspark.sql import functions as F

    # MLlib's ALS takes no initial factors: the refit on all ratings is cold; and the
    # boosters learn from the one label window (the earlier windows of the single-machine
    # fit stop at earlier_windows_max_ratings, below what needs Spark). The config saved
    # with the version says both
    config = replace(config or HybridConfig(), refit_iterations=None,
                     rating_refit_iterations=None, earlier_windows=0)
    started = time.perf_counter()
    marked = mark_windows(ratings).cache()
    local = _collect(marked)  # the seen matrices and the content profiles are built here
    feature_local = local.filter(pl.col(WINDOW) == FEATURE).drop(WINDOW)
    if local.filter(pl.col(WINDOW) == LABEL).is_empty():
        users = int(local[USER_ID].n_unique()) if local.height else 0
        raise ModelFitError(
            f"too few ratings for a label window: {local.height} rating(s) of {users} "
            "user(s) leave no held-out rating (a user needs >= 5 ratings, and a held-out "
            "movie must be rated in the feature window too)")
    label_period = local.filter(pl.col(WINDOW) != FEATURE).drop(WINDOW)
    feature_text = replace(text, tags=tags_before_label_window(text.tags, label_period))
    feature = marked.where(F.col(WINDOW) == FEATURE).drop(WINDOW)
    label = marked.where(F.col(WINDOW) == LABEL).drop(WINDOW)
    stage, _, embeddings = fit_stage_one(feature, feature_local, feature_text, config)
    with tempfile.TemporaryDirectory(prefix="reco-spark-") as scratch:
        ranker, like_model, trained = fit_boosters(spark, stage, label, config, Path(scratch),
                                                   workers)
    windows = {"feature_window_ratings": feature_local.height,
               "label_window_ratings": local.filter(pl.col(WINDOW) == LABEL).height, **trained}
    log.info("ranker windows: %s", windows)
    final, _, _ = fit_stage_one(ratings, local.drop(WINDOW), text, config,
                                embeddings if same_text(feature_text, text) else None)
    marked.unpersist()
    # the request-time index over the driver's item vectors, as the local engine builds it
    final.retrieval = index_stage(final, config.retrieval)
    model = HybridRecommender.from_parts(config, final, ranker, like_model, windows)
    model.fit_notes_ = [embeddings.fallback] if embeddings is not None and \
        embeddings.fallback else []
    log.info("two-stage fit on Spark in %.1fs", time.perf_counter() - started)
    return model


def train_spark(data_dir: str | Path, artifacts: str | Path, *,
                spark: SparkConfig | None = None, config: HybridConfig | None = None,
                load_config: LoadConfig | None = None, keep: int = DEFAULT_KEEP,
                workers: int | None = None,
                feedback: str | Path | None = None,
                tmdb_path: str | Path | None = None,
                genre_tagger: str | Path | None = None,
                family_model: str | Path | None = None) -> dict[str, Any]:
    """Read the release at ``data_dir`` (local or cluster filesystem) with Spark, fit both
    stages there and publish the model as a new version of ``artifacts``; returns the
    manifest written, with the new ``version`` id. The session is stopped on return.
    ``feedback``: a feedback store's URL whose ratings are added to the release's, as
    the single-machine engine adds them (:mod:`reco.pipelines.spark.feedback`).
    ``tmdb_path``, ``genre_tagger``, ``family_model``: as :func:`reco.pipelines.train.train`'s,
    files on the driver's filesystem (the text models and the content model run there)."""
    config = config or HybridConfig()
    load_config = load_config or LoadConfig()
    ArtifactStore(artifacts).check_writable()  # an unusable output path is said first
    timer = StepTimer()
    started = time.perf_counter()
    with spark_session(spark) as session:
        timer.seconds["spark_session"] = round(time.perf_counter() - started, 4)
        release = timer.run("load", lambda: read_release(session, data_dir, load_config))
        by_source: dict[str, int] | None = None
        if feedback is not None:
            merged, by_source = timer.run("feedback", lambda: merge_feedback(
                session, release.ratings, release.movies, feedback))
            release = replace(release, ratings=merged)
        tmdb = None
        if tmdb_path is not None:
            from reco.data.tmdb import read_tmdb_movies

            tmdb = timer.run("tmdb", lambda: read_tmdb_movies(tmdb_path))
        text = timer.run("text_models", lambda: apply_text_models(
            release.movies, tmdb=tmdb, links=release.links, tags=release.tags,
            genre_tagger=genre_tagger, family_model=family_model))
        inputs = TextInputs(text.movies, release.tags, release.links, tmdb)
        model = timer.run("fit", lambda: fit_hybrid(session, release.ratings, inputs, config,
                                                    workers))
        n_ratings = model.stage_.cf.seen_.nnz
        spark_section = {"version": session.version, "master": session.sparkContext.master,
                         "default_parallelism": session.sparkContext.defaultParallelism}
    windows = model.window_
    manifest: dict[str, Any] = {
        "engine": ENGINE,
        "spark": spark_section,
        # the release's rating scale, as the single-machine loader gives it (serving reads
        # it: what POST /recommend may send)
        "data": {"source": release.source, "layout": release.layout,
                 "fingerprint": release.fingerprint, "scale": release.scale.to_dict(),
                 "report": release.report},
        "config": {"load": load_config.to_dict(), "model": config.to_dict()},
        "row_counts": {"ratings": n_ratings,
                       "ratings_by_source": by_source or {"release": n_ratings},
                       **model.stage_.tables.row_counts()},
        "metrics": {"training_windows": windows},
        "timings_seconds": dict(timer.seconds),
        "tmdb": None if tmdb_path is None else str(tmdb_path),
        "text_models": text.section,
        "fit_notes": list(model.fit_notes_),
    }
    catalog = text.movies.select(MOVIE_ID, TITLE, YEAR, GENRES).join(
        text.extra, on=MOVIE_ID, how="left", maintain_order="left")
    version = save_model(model, artifacts, catalog=catalog, manifest=manifest, keep=keep)
    log.info("trained on Spark in %.1fs; version %s is current in %s",
             sum(timer.seconds.values()), version.name, artifacts)
    return {**art.read_manifest(version), "version": version.name}
