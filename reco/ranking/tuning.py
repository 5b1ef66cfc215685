"""Fit-time tuning of stage one on the data it is given (``HybridConfig.tune``).

The two-stage fit already holds an honest validation split inside the training data:
stage one is fitted on each user's earlier ratings (the feature window) and the ranker
learns from the later ones (the label window). Tuning uses the same cut: each value of a
small grid is fitted on the feature window and scored by NDCG@k of that model's own
top-k against the label window's likes, for a sample of label-window users; the best
value is kept for the feature-window stage and for the final refit on all ratings.
Nothing later than the label window exists here, so nothing leaks; the evaluation's
outer test ratings are never part of what ``fit`` is given.

What is tuned is what the data's shape moves most and what costs one model fit per grid
point: the implicit ALS regularisation (as a multiple of its data-scaled default) and the
item-item model's lambda. Tuning runs only when the feature window holds at most
``TuneConfig.max_ratings`` ratings; above it the data-scaled defaults are used and the
manifest says so (an ALS fit at 32M ratings costs minutes, and the defaults were chosen to
scale).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl

from reco._numeric import top_k
from reco.columns import MOVIE_ID, RATING, USER_ID
from reco.config import ConfigBase, check_int, check_range
from reco.exceptions import ConfigError
from reco.models.base import Recommender
from reco.models.interactions import Interactions

log = logging.getLogger(__name__)

_BLOCK = 1024  # users per dense block of scores


@dataclass(frozen=True)
class TuneConfig(ConfigBase):
    """What fit-time tuning tries, and when it runs.

    Parameters
    ----------
    enabled
        Tune at all (on by default: on ml-latest-small it costs a few seconds).
    max_ratings
        Tune only when the feature window holds at most this many ratings.
    max_users
        Label-window users the choice is measured on (a seeded sample above it).
    k
        The cut-off of the NDCG that picks a value.
    cf_regularization_scales
        Multiples of the implicit ALS's data-scaled regularisation to try.
    item_lambdas
        The item-item model's lambdas to try.
    like_rounds
        Choose the like model's boosting rounds by cross-validation over the label
        window's users (:func:`reco.ranking.booster.choose_rounds`); at most the
        ranker config's rounds. Unlike the grids above it runs at every size: its cost is
        bounded by ``like_max_rows``.
    like_folds, like_max_rows
        Its folds, and the rows it uses at most (a seeded sample of users above it).
    min_gain
        A value other than the configured one is chosen only when its NDCG beats the
        configured value's by more than this fraction: one validation split is noisy,
        and a near tie is no reason to move off a default chosen on several releases.
    random_state
        Seed of the user sample.
    """

    enabled: bool = True
    max_ratings: int = 5_000_000
    max_users: int = 3000
    k: int = 10
    cf_regularization_scales: tuple[float, ...] = (0.5, 1.0, 2.0)
    item_lambdas: tuple[float, ...] = (100.0, 300.0, 1000.0)
    like_rounds: bool = True
    like_folds: int = 5
    like_max_rows: int = 60_000
    min_gain: float = 0.01
    random_state: int = 0

    def __post_init__(self) -> None:
        check_int("TuneConfig", "max_ratings", self.max_ratings, 0)
        check_int("TuneConfig", "max_users", self.max_users, 1)
        check_int("TuneConfig", "k", self.k, 1, 1000)
        check_range("TuneConfig", "min_gain", self.min_gain, 0.0, 1.0)
        check_int("TuneConfig", "like_folds", self.like_folds, 2, 20)
        check_int("TuneConfig", "like_max_rows", self.like_max_rows, 100)
        for name in ("cf_regularization_scales", "item_lambdas"):
            values = getattr(self, name)
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
                raise ConfigError(f"TuneConfig.{name} must be a list of numbers, got {values!r}")
            values = tuple(float(v) for v in values)
            if not values or any(not np.isfinite(v) or v <= 0 for v in values):
                raise ConfigError(f"TuneConfig.{name} must hold positive numbers, got "
                                  f"{list(values)}")
            object.__setattr__(self, name, values)  # JSON lists become tuples


def label_ndcg(model: Recommender, interactions: Interactions, users: np.ndarray,
               liked: list[np.ndarray], k: int) -> float:
    """Mean NDCG@k of ``model``'s top-k unseen movies (by its own scores) against each
    user's label-window likes ``liked[i]`` (item indices of ``interactions``); ``users``
    are row indices of ``interactions``."""
    gains = 1.0 / np.log2(np.arange(2, k + 2))
    total = 0.0
    seen = interactions.matrix
    for start in range(0, users.size, _BLOCK):
        rows = users[start:start + _BLOCK]
        scores = np.array(model._score_users(rows), dtype=np.float32)
        block = seen[rows]
        owner = np.repeat(np.arange(rows.size), np.diff(block.indptr))
        scores[owner, block.indices] = -np.inf
        idx, _ = top_k(scores, k)
        for i, top in enumerate(idx):
            relevant = liked[start + i]
            hits = np.isin(top, relevant)
            ideal = gains[:min(relevant.size, k)].sum()
            total += float(gains[hits].sum() / ideal) if ideal > 0 else 0.0
    return total / max(users.size, 1)


@dataclass
class Tuned:
    """The result: the models fitted with the chosen values (reused by the feature-window
    stage), and the report that goes into the manifest."""

    models: dict[str, Recommender]
    report: dict[str, Any]


def _label_users(interactions: Interactions, label_window: pl.DataFrame, threshold: float,
                 config: TuneConfig) -> tuple[np.ndarray, list[np.ndarray]]:
    likes = label_window.filter(pl.col(RATING) >= threshold)
    rows = interactions.user_map.indices(likes[USER_ID].to_numpy(), missing="mask")
    items = interactions.item_map.indices(likes[MOVIE_ID].to_numpy(), missing="mask")
    keep = (rows >= 0) & (items >= 0)
    rows, items = rows[keep], items[keep]
    users = np.unique(rows)
    if users.size > config.max_users:
        rng = np.random.default_rng(config.random_state)
        users = np.sort(rng.choice(users, config.max_users, replace=False))
    order = np.argsort(rows, kind="stable")
    rows, items = rows[order], items[order]
    starts = np.searchsorted(rows, users)
    stops = np.searchsorted(rows, users, side="right")
    return users, [items[a:b] for a, b in zip(starts, stops)]


def tune_stage_one(
    interactions: Interactions,
    label_window: pl.DataFrame,
    threshold: float,
    config: TuneConfig,
    candidates: dict[str, tuple[str, Sequence[Any], Callable[[Any], Recommender], Any]],
) -> Tuned:
    """Fit each model of ``candidates`` once per grid value on ``interactions`` (the
    feature window), keep the value whose model scores best on ``label_window``.

    ``candidates``: name -> (the config field tuned, its grid, value -> unfitted model,
    the configured value). The configured value is kept unless another beats it by more
    than ``config.min_gain`` (relative); among the others, ties go to the earlier one.
    """
    report: dict[str, Any] = {"enabled": config.enabled, "k": config.k}
    models: dict[str, Recommender] = {}
    if not config.enabled:
        report["skipped"] = "switched off (tune.enabled = false)"
        return Tuned(models, report)
    if interactions.matrix.nnz > config.max_ratings:
        report["skipped"] = (f"{interactions.matrix.nnz:,} feature-window ratings > "
                             f"tune.max_ratings {config.max_ratings:,}: the data-scaled "
                             "defaults are used")
        log.info("tuning skipped: %s", report["skipped"])
        return Tuned(models, report)
    users, liked = _label_users(interactions, label_window, threshold, config)
    report["users"] = int(users.size)
    if users.size == 0:
        report["skipped"] = "no label-window like of a known user and movie"
        return Tuned(models, report)
    for name, (field, grid, build, configured) in candidates.items():
        started = time.perf_counter()
        rows, fitted, scores = [], {}, {}
        for value in grid:
            fitted[value] = build(value).fit_interactions(interactions)
            scores[value] = label_ndcg(fitted[value], interactions, users, liked, config.k)
            rows.append({"value": value, f"ndcg@{config.k}": round(scores[value], 5)})
            log.info("tuning %s.%s = %s: label-window NDCG@%d %.4f", name, field, value,
                     config.k, scores[value])
        best = max(grid, key=lambda v: (scores[v], -list(grid).index(v)))
        if configured in scores and scores[best] <= scores[configured] * (1 + config.min_gain):
            best = configured
        models[name] = fitted[best]
        report[name] = {"field": field, "configured": configured, "chosen": best,
                        "grid": rows, "seconds": round(time.perf_counter() - started, 2)}
        log.info("tuned %s.%s = %s in %.1fs", name, field, best,
                 time.perf_counter() - started)
    return Tuned(models, report)


def apply_choices(config: Any, report: dict[str, Any], owners: dict[str, str]) -> Any:
    """``config`` (a HybridConfig) with each tuned field set to its chosen value;
    ``owners``: tuned name -> the HybridConfig field holding that model's config."""
    for name, owner in owners.items():
        chosen = report.get(name)
        if isinstance(chosen, dict) and chosen.get("chosen") is not None:
            part = getattr(config, owner)
            config = replace(config, **{owner: replace(part, **{chosen["field"]:
                                                                chosen["chosen"]})})
    return config
