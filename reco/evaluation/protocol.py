"""reco against its peers on one split, in one run (``docs/EVALUATION.md``, reco-eval v1).

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
    per_user_split,
    tags_before_label_window,
    test_period,
)
from reco.evaluation.metrics import classification_metrics, evaluate_topn, rating_metrics
from reco.evaluation.peers import TuneResult, peer_factories, tune
from reco.evaluation.peers.tuned import TunedPeer, tuned_peers
from reco.models.base import BaseRecommender, Recommender
from reco.models.content import ContentRecommender
from reco.models.mf import ALSRecommender, SVDRecommender
from reco.progress import Progress
from reco.ranking.booster import importance
from reco.ranking.hybrid import HybridConfig, HybridRecommender

log = logging.getLogger(__name__)
MIN_USERS_FOR_GLOBAL_SPLIT = 1_000
RECO_FULL = "reco full (two-stage + XGBoost)"
TUNED_PEER = "tuned peer"


@dataclass(frozen=True)
class Method:
    """One line of the comparison: a name, a kind and how to build and fit it."""

    name: str
    kind: str  # "tuned peer", "peer" (untuned reference) or "reco"
    fit: Callable[[Split], BaseRecommender]
    predicts_ratings: bool = False  # RMSE/MAE are reported only for rating predictors


class Tuner:
    """Tunes the tuned peers on each split's inner split and keeps what they chose, per
    split kind (``per_user``, ``global_time``), for the report."""

    def __init__(self, grid_size: str, k: int = 10) -> None:
        self.grid_size, self.k = grid_size, k
        self.results: dict[str, dict[str, TuneResult]] = {}
        self._inner: dict[str, tuple[pl.DataFrame, Split]] = {}

    def _inner_split(self, split: Split) -> Split:
        cached = self._inner.get(split.kind)
        if cached is None or cached[0] is not split.train:  # one inner split per outer one
            cached = (split.train, per_user_split(split.train))
            self._inner[split.kind] = cached
        return cached[1]

    def grid(self, peer: TunedPeer, kind: str) -> list[dict[str, Any]]:
        """``peer``'s grid, its inherited parameter set from the peer it follows."""
        stages = [dict(stage) for stage in peer.grid(self.grid_size)]
        if peer.inherit is not None:
            source, param = peer.inherit
            chosen = self.results.get(kind, {}).get(source)
            if chosen is not None and param in chosen.params:
                stages[0][param] = [chosen.params[param]]
        return stages

    def fitter(self, peer: TunedPeer) -> Callable[[Split], BaseRecommender]:
        def fit(split: Split) -> BaseRecommender:
            result = tune(peer.factory, self.grid(peer, split.kind), split.train, k=self.k,
                          inner=self._inner_split(split), name=peer.name)
            self.results.setdefault(split.kind, {})[peer.name] = result
            log.info("%s: chose %s on the inner split (inner NDCG@%d %.4f, %d points, %.0fs)",
                     peer.name, result.params, self.k, result.score, result.table.height,
                     result.seconds)
            return peer.factory(**result.params).fit(split.train)
        return fit

    def report(self, kind: str) -> dict[str, Any]:
        return {name: r.to_dict() for name, r in self.results.get(kind, {}).items()}


def _methods(data: MovieLensData, tmdb: pl.DataFrame | None, config: HybridConfig,
             include_hybrid: bool, tuner: Tuner) -> list[Method]:
    def seen_tags(split: Split) -> pl.DataFrame | None:
        return tags_seen_in_train(data.tags, split, data.ratings)

    peers, _ = tuned_peers()
    methods = [Method(peer.name, TUNED_PEER, tuner.fitter(peer)) for peer in peers]
    # the untuned reference peers stay: they anchor the history of the figures
    for name, factory in peer_factories(available_only=True).items():
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
        methods.append(Method(RECO_FULL, "reco",
                              lambda s: HybridRecommender(config).fit(
                                  s.train, data.movies, tags=seen_tags(s),
                                  links=data.links, tmdb=tmdb)))
    return methods


def headline_ratio(rows: list[dict[str, Any]], k: int = 10) -> dict[str, Any] | None:
    """reco full's NDCG@k over the best tuned peer's (None without both)."""
    metric = f"ndcg@{k}"
    tuned = [r for r in rows if r["kind"] == TUNED_PEER]
    full = next((r for r in rows if r["method"] == RECO_FULL), None)
    if not tuned or full is None:
        return None
    best = max(tuned, key=lambda r: r[metric])
    return {"best_tuned_peer": best["method"], "best_tuned_peer_ndcg": best[metric],
            "reco_full_ndcg": full[metric],
            "ratio": full[metric] / best[metric] if best[metric] > 0 else float("nan")}


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
    return tags_before_label_window(tags, test_period(split, ratings))


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
                   include_hybrid: bool = True, grid_size: str = "full",
                   classifiers: bool = True) -> dict[str, Any]:
    """The whole comparison on ``data``; see the module docstring.

    ``grid_size``: the tuned peers' grids (:mod:`reco.evaluation.peers.tuned`);
    ``classifiers``: also fit the like/dislike classifier comparison (minutes of random
    forests on large releases; the generality suite leaves it out).
    """
    from reco.evaluation.like_classifiers import classification_comparison

    config = config or HybridConfig()
    split = per_user_split(data.ratings)
    _, skipped = tuned_peers()
    for name, reason in skipped.items():
        log.warning("tuned peer %s skipped: %s", name, reason)
    report: dict[str, Any] = {"protocol": PROTOCOL, "data": data.summary(),
                              "split": split.summary(), "k": k, "config": config.to_dict(),
                              "grid_size": grid_size, "skipped_peers": skipped}
    tuner = Tuner(grid_size, k)
    methods = _methods(data, tmdb, config, include_hybrid, tuner)
    started = time.perf_counter()
    rows, fitted = evaluate_methods(data, split, methods, k)
    report["topn"] = rows
    report["tuning"] = tuner.report(split.kind)
    report["ratio"] = headline_ratio(rows, k)
    hybrid = fitted.get(RECO_FULL)
    if isinstance(hybrid, HybridRecommender):
        test = split.test
        p_like = hybrid.predict_like(test[USER_ID].to_numpy(), test[MOVIE_ID].to_numpy())
        report["reco_like_model"] = classification_metrics(
            (test[RATING].to_numpy() >= LIKE_THRESHOLD).astype(int), p_like)
        report["importance"] = {"ranker": importance(hybrid.ranker_),
                                "like_model": importance(hybrid.like_model_)}
        report["windows"] = hybrid.window_
        if classifiers:
            tags = tags_seen_in_train(data.tags, split, data.ratings)
            context = {"movies": data.movies, "tags": tags, "links": data.links, "tmdb": tmdb}
            report["classification"] = classification_comparison(split, hybrid, context)
    del fitted
    report["seconds"] = {"per_user": round(time.perf_counter() - started, 1)}
    ranked_users = split.summary()["ranked_users"]
    strict = global_time_split(data.ratings)
    strict_users = strict.summary()["ranked_users"]
    if int(strict_users) >= MIN_USERS_FOR_GLOBAL_SPLIT:
        started = time.perf_counter()
        strict_rows, _ = evaluate_methods(data, strict, methods, k)
        report["global_time_split"] = {"split": strict.summary(), "topn": strict_rows,
                                       "tuning": tuner.report(strict.kind),
                                       "ratio": headline_ratio(strict_rows, k)}
        report["seconds"]["global_time"] = round(time.perf_counter() - started, 1)
    else:
        report["global_time_split"] = {
            "skipped": f"ranks {strict_users} users (< {MIN_USERS_FOR_GLOBAL_SPLIT}); "
                       f"the per-user split ranks {ranked_users}",
        }
    return report


def evaluate_release(data_dir: str | Path | None, out: str | Path, *,
                     tmdb_path: str | Path | None = None, k: int = 10,
                     include_hybrid: bool = True, fast: bool = False,
                     grid_size: str | None = None, command: str = "") -> dict[str, Path]:
    """:func:`run_evaluation` on a release (the embedded default when ``data_dir`` is None)
    and its report into ``out``; returns the files written by name.

    ``fast``: :func:`fast_config` and the ``"smoke"`` grids, a smoke run, not a benchmark.
    ``grid_size``: the tuned peers' grids (default ``"full"``, ``"smoke"`` when ``fast``).
    ``command``: the command line, quoted in the Markdown so the run can be repeated.
    """
    from reco.data.tmdb import read_tmdb_movies
    from reco.evaluation.report import charts_available, write_report
    from reco.pipelines.features import load_data

    charts_available()
    data = load_data(data_dir)
    tmdb = None if tmdb_path is None else read_tmdb_movies(tmdb_path)
    extra: dict[str, Any] = {"config": fast_config()} if fast else {}
    grid_size = grid_size or ("smoke" if fast else "full")
    report = run_evaluation(data, tmdb=tmdb, k=k, include_hybrid=include_hybrid,
                            grid_size=grid_size, **extra)
    paths = write_report(report, out, command)
    for name, path in paths.items():
        log.info("%s: %s", name, path)
    return paths
