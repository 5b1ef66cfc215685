"""reco against its peers on one split, in one run (``shared/EVALUATION.md``, reco-eval v1).

:func:`run_evaluation` fits every method on the same training part, measures top-N
ranking, rating prediction and like/dislike classification on the same test part, and
returns one report (JSON-ready). :mod:`reco.evaluation.report` renders it as Markdown and PNG.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from reco.columns import MOVIE_ID, RATING, TIMESTAMP, USER_ID
from reco.data.dataset import MovieLensData
from reco.data.split import (
    LIKE_THRESHOLD,
    PROTOCOL,
    Split,
    global_time_split,
    held_out,
    per_user_split,
    tags_before_label_window,
)
from reco.evaluation.metrics import classification_metrics, evaluate_topn, rating_metrics
from reco.evaluation.peers import (
    EASE_LAMBDA_GRID,
    EASERecommender,
    peer_factories,
    tune_ease_lambda,
)
from reco.models.base import BaseRecommender, Recommender
from reco.models.content import ContentRecommender
from reco.models.mf import ALSRecommender, SVDRecommender
from reco.progress import Progress
from reco.ranking.booster import importance
from reco.ranking.hybrid import HybridConfig, HybridRecommender

log = logging.getLogger(__name__)
MIN_USERS_FOR_GLOBAL_SPLIT = 1_000


@dataclass(frozen=True)
class Method:
    """One line of the comparison: a name, a kind and how to build and fit it."""

    name: str
    kind: str  # "peer" or "reco"
    fit: Callable[[Split], BaseRecommender]
    predicts_ratings: bool = False  # RMSE/MAE are reported only for rating predictors


def _methods(data: MovieLensData, tmdb: pl.DataFrame | None, config: HybridConfig,
             include_hybrid: bool, ease_grid: tuple[float, ...]) -> list[Method]:
    def fit_ease(split: Split) -> Recommender:
        lam, table = tune_ease_lambda(split.train, grid=ease_grid)
        log.info("EASE lambda tuned on an inner split of train: %s (%s)", lam, table)
        return EASERecommender.with_lambda(lam).fit(split.train)

    def seen_tags(split: Split) -> pl.DataFrame | None:
        return tags_seen_in_train(data.tags, split, data.ratings)

    methods = [Method("EASE (lambda tuned on train)", "peer", fit_ease)]
    for name, factory in peer_factories(available_only=True).items():
        if "EASE" not in name:
            methods.append(Method(name, "peer", _fit_on_train(factory),
                                  predicts_ratings=name.startswith("Surprise")))
    methods += [
        Method("reco CF (implicit ALS)", "reco",
               lambda s: ALSRecommender(config.cf).fit(s.train)),
        Method("reco SVD (truncated, k 16)", "reco", lambda s: SVDRecommender().fit(s.train)),
        Method("reco rating model: explicit ALS (default; predicts ratings, not a ranker)",
               "reco", lambda s: ALSRecommender(config.rating_als).fit(s.train), True),
        Method("reco rating model: centred SVD (option; predicts ratings, not a ranker)",
               "reco", lambda s: SVDRecommender(config.rating_svd).fit(s.train), True),
        Method("reco content", "reco", lambda s: ContentRecommender(config.content).fit(
            s.train, data.movies, tags=seen_tags(s), links=data.links, tmdb=tmdb)),
    ]
    if include_hybrid:
        methods.append(Method("reco full (two-stage + XGBoost)", "reco",
                              lambda s: HybridRecommender(config).fit(
                                  s.train, data.movies, tags=seen_tags(s),
                                  links=data.links, tmdb=tmdb)))
    return methods


def _fit_on_train(factory: Callable[[], Recommender]) -> Callable[[Split], BaseRecommender]:
    return lambda split: factory().fit(split.train)


def tags_seen_in_train(tags: pl.DataFrame | None, split: Split,
                       ratings: pl.DataFrame) -> pl.DataFrame | None:
    """The tags a model fitted on ``split.train`` (of ``ratings``) may see: none applied
    after the ratings it is judged on. Per-user split: each user's tags dated before the
    first of that user's ratings outside train (the protocol drops test rows of unseen
    movies, but they were rated then); all tags of a user with none. Global split: tags
    dated no later than the last training rating, for everyone."""
    if tags is None or tags.is_empty():
        return tags
    if split.kind == "global_time":
        last = split.train[TIMESTAMP].max()
        return tags if last is None else tags.filter(pl.col(TIMESTAMP) <= last)
    return tags_before_label_window(tags, held_out(ratings, split.train))


def _rating_rows(model: BaseRecommender, test: pl.DataFrame) -> dict[str, float] | None:
    predict = getattr(model, "predict", None)
    if predict is None:
        return None
    try:
        pred = np.asarray(predict(test[USER_ID].to_numpy(), test[MOVIE_ID].to_numpy()))
    except (NotImplementedError, ValueError, TypeError):
        return None
    return rating_metrics(test[RATING].to_numpy(), pred)


def evaluate_methods(data: MovieLensData, split: Split, methods: list[Method],
                     k: int = 10) -> tuple[list[dict[str, Any]], dict[str, BaseRecommender]]:
    rows, fitted = [], {}
    progress = Progress("evaluation", len(methods), "methods", every=0.0)
    for method in methods:
        log.info("fitting %s ...", method.name)
        started = time.perf_counter()
        model = method.fit(split)
        fit_seconds = time.perf_counter() - started
        topn = evaluate_topn(model, split, k=k, like_threshold=LIKE_THRESHOLD)
        row: dict[str, Any] = {"method": method.name, "kind": method.kind,
                               "fit_seconds": round(fit_seconds, 3), **topn}
        rating = _rating_rows(model, split.test) if method.predicts_ratings else None
        if rating is not None:
            row.update(rating)
        progress.advance()
        rows.append(row)
        fitted[method.name] = model
        log.info("%s: NDCG@%d %.4f (fit %.1fs)", method.name, k, topn[f"ndcg@{k}"], fit_seconds)
    return rows, fitted


def fast_config() -> HybridConfig:
    """A cheaper configuration for smoke runs (``scripts/evaluate.py --fast``)."""
    from reco.models.content import ContentConfig
    from reco.models.mf import ALSConfig, SVDConfig
    from reco.ranking.booster import RankerConfig
    from reco.ranking.candidates import CandidateConfig

    return HybridConfig(
        cf=ALSConfig(factors=16, iterations=5), rating_model="svd",
        rating_svd=SVDConfig(factors=8, center="both"),
        content=ContentConfig(dimensions=16),
        candidates=CandidateConfig(n_cf=40, n_content=10, n_popular=10),
        ranker=RankerConfig(n_estimators=40, learning_rate=0.2),
    )


def run_evaluation(data: MovieLensData, *, tmdb: pl.DataFrame | None = None,
                   config: HybridConfig | None = None, k: int = 10,
                   include_hybrid: bool = True,
                   ease_grid: tuple[float, ...] = EASE_LAMBDA_GRID) -> dict[str, Any]:
    """The whole comparison on ``data``; see the module docstring."""
    from reco.evaluation.like_classifiers import classification_comparison

    config = config or HybridConfig()
    split = per_user_split(data.ratings)
    report: dict[str, Any] = {"protocol": PROTOCOL, "data": data.summary(),
                              "split": split.summary(), "k": k, "config": config.to_dict(),
                              "ease_grid": list(ease_grid)}
    methods = _methods(data, tmdb, config, include_hybrid, ease_grid)
    rows, fitted = evaluate_methods(data, split, methods, k)
    report["topn"] = rows
    hybrid = fitted.get("reco full (two-stage + XGBoost)")
    if isinstance(hybrid, HybridRecommender):
        test = split.test
        p_like = hybrid.predict_like(test[USER_ID].to_numpy(), test[MOVIE_ID].to_numpy())
        report["reco_like_model"] = classification_metrics(
            (test[RATING].to_numpy() >= LIKE_THRESHOLD).astype(int), p_like)
        report["importance"] = {"ranker": importance(hybrid.ranker_),
                                "like_model": importance(hybrid.like_model_)}
        report["windows"] = hybrid.window_
        tags = tags_seen_in_train(data.tags, split, data.ratings)
        context = {"movies": data.movies, "tags": tags, "links": data.links, "tmdb": tmdb}
        report["classification"] = classification_comparison(split, hybrid, context)
    ranked_users = split.summary()["ranked_users"]
    strict = global_time_split(data.ratings)
    strict_users = strict.summary()["ranked_users"]
    if int(strict_users) >= MIN_USERS_FOR_GLOBAL_SPLIT:
        strict_rows, _ = evaluate_methods(data, strict, methods, k)
        report["global_time_split"] = {"split": strict.summary(), "topn": strict_rows}
    else:
        report["global_time_split"] = {
            "skipped": f"ranks {strict_users} users (< {MIN_USERS_FOR_GLOBAL_SPLIT}); "
                       f"the per-user split ranks {ranked_users}",
        }
    return report


#: The two-point EASE grid of a ``fast`` run (the full grid is :data:`EASE_LAMBDA_GRID`).
FAST_EASE_GRID = (100.0, 300.0)


def evaluate_release(data_dir: str | Path | None, out: str | Path, *,
                     tmdb_path: str | Path | None = None, k: int = 10,
                     include_hybrid: bool = True, fast: bool = False,
                     command: str = "") -> dict[str, Path]:
    """:func:`run_evaluation` on a release (the embedded default when ``data_dir`` is None)
    and its report into ``out``; returns the files written by name.

    ``fast``: :func:`fast_config` and :data:`FAST_EASE_GRID`, a smoke run, not a benchmark.
    ``command``: the command line, quoted in the Markdown so the run can be repeated.
    """
    from reco.data.tmdb import read_tmdb_movies
    from reco.evaluation.report import charts_available, write_report
    from reco.pipelines.features import load_data

    charts_available()
    data = load_data(data_dir)
    tmdb = None if tmdb_path is None else read_tmdb_movies(tmdb_path)
    extra: dict[str, Any] = {"config": fast_config(), "ease_grid": FAST_EASE_GRID} if fast else {}
    report = run_evaluation(data, tmdb=tmdb, k=k, include_hybrid=include_hybrid, **extra)
    paths = write_report(report, out, command)
    for name, path in paths.items():
        log.info("%s: %s", name, path)
    return paths
