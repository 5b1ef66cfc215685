"""XGBoost models of the second stage: a candidate ranker and a like/dislike model.

Both are plain ``xgboost.Booster`` objects saved in XGBoost's JSON format (never pickle),
with their feature names inside, so loading can check the feature order.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import xgboost as xgb

from reco.config import ConfigBase, check_choice, check_int, check_range
from reco.exceptions import ArtifactError, ModelFitError
from reco.progress import Progress

log = logging.getLogger(__name__)

#: The type of both second-stage models (so callers need not import xgboost to name it).
Booster = xgb.Booster


@dataclass(frozen=True)
class RankerConfig(ConfigBase):
    """Second-stage settings.

    Parameters
    ----------
    objective
        ``"binary:logistic"`` (pointwise: P(liked in the label window)) or
        ``"rank:ndcg"`` (listwise, grouped by user) for the candidate ranker.
    max_train_users
        Users sampled for the ranker's training rows, so its cost stays bounded on big
        releases (every user when there are fewer).
    max_train_rows
        Cap on each model's training rows: the ranker keeps every positive and a uniform
        sample of the negatives; the like model a uniform sample of its rows.
    n_estimators, learning_rate, max_depth, min_child_weight, subsample, colsample_bytree
        XGBoost's hist-tree parameters (shared by both models).
    like_max_depth
        The like model's tree depth (None: ``max_depth``). Deeper than the ranker's: with
        6 the like AUC rose on ml-latest-small and on every release of the generality
        suite, by 0.0001-0.004 (docs/MODELS.md, step 5).
    threads
        XGBoost threads (None: every core).
    """

    objective: str = "binary:logistic"
    max_train_users: int = 20_000
    max_train_rows: int = 250_000
    n_estimators: int = 600
    learning_rate: float = 0.03
    max_depth: int = 4
    min_child_weight: float = 5.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    random_state: int = 0
    threads: int | None = None
    like_max_depth: int | None = 6

    def __post_init__(self) -> None:
        name = "RankerConfig"
        if self.like_max_depth is not None:
            check_int(name, "like_max_depth", self.like_max_depth, 1, 20)
        check_choice(name, "objective", self.objective, ("binary:logistic", "rank:ndcg"))
        check_int(name, "max_train_users", self.max_train_users, 1)
        check_int(name, "max_train_rows", self.max_train_rows, 100)
        check_int(name, "n_estimators", self.n_estimators, 1, 100_000)
        check_range(name, "learning_rate", self.learning_rate, 1e-6, 1.0)
        check_int(name, "max_depth", self.max_depth, 1, 20)
        check_range(name, "min_child_weight", self.min_child_weight, 0.0)
        check_range(name, "subsample", self.subsample, 0.05, 1.0)
        check_range(name, "colsample_bytree", self.colsample_bytree, 0.05, 1.0)
        if self.threads is not None:
            check_int(name, "threads", self.threads, 1, 1024)


def like_model_config(config: RankerConfig) -> RankerConfig:
    """``config`` as the like model trains with it (its own tree depth)."""
    if config.like_max_depth is None or config.like_max_depth == config.max_depth:
        return config
    return replace(config, max_depth=config.like_max_depth)


def sample_rows(labels: np.ndarray, cap: int, rng: np.random.Generator,
                keep_positives: bool = True) -> np.ndarray:
    """Sorted row indices: all rows when at most ``cap``; else every positive (when
    ``keep_positives``) plus a uniform sample of the rest, ``cap`` rows in all."""
    n = labels.size
    if n <= cap:
        return np.arange(n)
    if not keep_positives:
        return np.sort(rng.choice(n, cap, replace=False))
    positives = np.flatnonzero(labels > 0)
    negatives = np.flatnonzero(labels <= 0)
    room = max(cap - positives.size, min(cap, negatives.size) // 10)
    picked = rng.choice(negatives, min(room, negatives.size), replace=False)
    return np.sort(np.concatenate([positives, picked]))


def _params(config: RankerConfig, objective: str) -> dict[str, object]:
    params: dict[str, object] = {
        "objective": objective,
        "eta": config.learning_rate,
        "max_depth": config.max_depth,
        "min_child_weight": config.min_child_weight,
        "subsample": config.subsample,
        "colsample_bytree": config.colsample_bytree,
        "tree_method": "hist",
        "seed": config.random_state,
        "nthread": config.threads or os.cpu_count() or 1,
        "eval_metric": "ndcg@10" if objective.startswith("rank:") else "logloss",
    }
    if objective.startswith("rank:"):
        params["lambdarank_pair_method"] = "topk"
    return params


class _RoundProgress(xgb.callback.TrainingCallback):
    """Boosting rounds in the log (reco.progress): quiet unless training takes a while."""

    def __init__(self, objective: str, rounds: int) -> None:
        super().__init__()
        self.progress = Progress(f"XGBoost {objective}", rounds, "rounds")

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        self.progress.advance()
        return False  # never stop early


def fit_booster(
    features: np.ndarray,
    labels: np.ndarray,
    feature_names: tuple[str, ...],
    config: RankerConfig,
    objective: str,
    groups: np.ndarray | None = None,
) -> xgb.Booster:
    """Train one booster. ``groups`` (rows per user, in row order) is needed for ranking."""
    if features.shape[0] == 0:
        raise ModelFitError("no training rows for the ranker: too little data in the label window")
    if len(np.unique(labels)) < 2:
        raise ModelFitError(f"ranker labels are all {labels[0]!r}: nothing to learn from")
    # quantised once up front: the same trees as a DMatrix under "hist" (tested), a little
    # cheaper to train on
    matrix = xgb.QuantileDMatrix(features, label=labels, feature_names=list(feature_names),
                                 missing=np.nan)
    if groups is not None:
        matrix.set_group(groups)
    booster = xgb.train(_params(config, objective), matrix, num_boost_round=config.n_estimators,
                        callbacks=[_RoundProgress(objective, config.n_estimators)])
    log.info("trained %s on %d rows x %d features", objective, *features.shape)
    return booster


def choose_rounds(features: np.ndarray, labels: np.ndarray, users: np.ndarray,
                  config: RankerConfig, objective: str, *, folds: int, max_rows: int,
                  seed: int = 0) -> tuple[RankerConfig, dict[str, Any]]:
    """``config`` with the boosting rounds chosen by k-fold cross-validation over users.

    Each fold holds out whole users (one person's rows are never on both sides); XGBoost
    grows up to ``config.n_estimators`` rounds and stops once the folds' mean validation
    loss has not improved for a tenth of them (at least 20). The rounds of the best mean
    are kept, so the result never exceeds the configured rounds. Above ``max_rows`` rows
    a seeded sample of users stands in for all (the choice's cost stays bounded). Returns
    the config to train with and the report of the choice (for the manifest).
    """
    started = time.perf_counter()
    users = np.asarray(users)
    distinct, owner = np.unique(users, return_inverse=True)
    rng = np.random.default_rng(seed)
    keep = np.ones(labels.size, dtype=bool)
    if labels.size > max_rows and distinct.size > 1:
        share = max_rows / labels.size
        chosen = rng.random(distinct.size) < share
        keep = chosen[owner]
    fold_of_user = rng.integers(0, folds, distinct.size)
    fold = fold_of_user[owner[keep]]
    x, y = features[keep], labels[keep]
    splits = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(folds)]
    report: dict[str, Any] = {"configured": config.n_estimators, "folds": folds,
                              "rows": int(y.size)}
    if min(min(t.size, v.size) for t, v in splits) == 0 or np.unique(y).size < 2 or any(
            np.unique(y[v]).size < 2 or np.unique(y[t]).size < 2 for t, v in splits):
        report.update(chosen=config.n_estimators, skipped="too few users or one label in a fold")
        return config, report
    patience = max(20, config.n_estimators // 10)
    metric, curve = _cv_curve(_params(config, objective), x, y, splits, config.n_estimators,
                              patience)
    rounds = int(np.argmin(curve)) + 1  # the first round of the best mean
    report.update(chosen=rounds, metric=metric, validation=round(float(curve[rounds - 1]), 6),
                  seconds=round(time.perf_counter() - started, 2))
    log.info("%s rounds by %d-fold CV over users on %d rows: %d of %d (%s %.5f) in %.1fs",
             objective, folds, y.size, rounds, config.n_estimators, report["metric"],
             report["validation"], report["seconds"])
    return replace(config, n_estimators=rounds), report


def _cv_curve(params: dict[str, object], x: np.ndarray, y: np.ndarray,
              splits: list[tuple[np.ndarray, np.ndarray]], rounds: int,
              patience: int) -> tuple[str, list[float]]:
    """The folds' mean validation metric after each round, grown in lockstep until it
    has not improved for ``patience`` rounds: what ``xgb.cv`` computes, without its
    training-set metric every round, and each fold's training rows quantised once
    (``QuantileDMatrix``, the same trees as a DMatrix under ``hist``).

    Each fold's booster runs on one XGBoost thread, always the same thread of its own
    (a one-worker pool), with up to ``params["nthread"]`` folds at a time. XGBoost's
    random engine (row and column sampling) is per thread, so a fold that always runs
    on its own thread draws the same numbers whatever the others do: the curve is the
    same run after run and whatever the thread count. One thread per small booster is
    also where the time goes down: at 57,000 rows the five folds took 23.6 s one after
    another on 2 threads each, and 2-4 times less side by side (docs/BENCHMARKS.md).
    """
    concurrent = max(1, int(cast(int, params.get("nthread") or 1)))
    params = {**params, "nthread": 1}
    folds = []
    for train, valid in splits:
        dtrain = xgb.QuantileDMatrix(x[train], label=y[train], missing=np.nan)
        dvalid = xgb.DMatrix(x[valid], label=y[valid], missing=np.nan)
        folds.append((xgb.Booster(params, [dtrain, dvalid]), dtrain, dvalid))

    def grow(fold: tuple[xgb.Booster, xgb.DMatrix, xgb.DMatrix], round_: int) -> str:
        booster, dtrain, dvalid = fold
        booster.update(dtrain, round_)
        return booster.eval_set([(dvalid, "valid")], round_)

    lanes = [ThreadPoolExecutor(1) for _ in folds]
    name, curve, best, since = "", [], np.inf, 0
    try:
        for round_ in range(rounds):
            texts: list[str] = []
            for first in range(0, len(folds), concurrent):
                group = range(first, min(first + concurrent, len(folds)))
                texts += [f.result() for f in
                          [lanes[i].submit(grow, folds[i], round_) for i in group]]
            values = []
            for text in texts:
                # "[i]\tvalid-logloss:0.69" parsed as xgb.cv does, so ties compare alike
                name, _, value = text.split()[1].partition(":")
                values.append(float(value))
            curve.append(float(np.mean(values)))
            best, since = (curve[-1], 0) if curve[-1] < best else (best, since + 1)
            if since >= patience:
                break
    finally:
        for lane in lanes:
            lane.shutdown()
    return name.removeprefix("valid-"), curve


def predict(
    booster: xgb.Booster, features: np.ndarray, feature_names: tuple[str, ...]
) -> np.ndarray:
    """Scores of feature rows whose columns are ``feature_names``, in order.

    ``inplace_predict`` skips building a DMatrix (a sizeable share of a request); the
    column order is checked here instead, against the names the booster was trained on.
    """
    if booster.feature_names is not None and tuple(booster.feature_names) != tuple(feature_names):
        raise ValueError(f"features {list(feature_names)} differ from the booster's "
                         f"{booster.feature_names}")
    if features.shape[0] == 0:
        return np.empty(0, dtype=np.float32)
    scores = booster.inplace_predict(np.ascontiguousarray(features, dtype=np.float32),
                                     missing=np.nan, validate_features=False)
    return np.asarray(scores, dtype=np.float32)


def save_booster(booster: xgb.Booster, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(path))  # .json suffix: XGBoost's JSON format
    return path


def load_booster(path: str | Path, feature_names: tuple[str, ...]) -> xgb.Booster:
    """Load a JSON booster and check it was trained on ``feature_names``, in order."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: missing booster model")
    booster = xgb.Booster()
    try:
        booster.load_model(str(path))
    except xgb.core.XGBoostError as exc:
        # the library's text stays in the chain (the log) only: it spans many lines and
        # carries its build paths, a backtrace and addresses, and the message may reach
        # an API response
        raise ArtifactError(f"{path}: not a readable booster model (JSON)") from exc
    names = tuple(booster.feature_names or ())
    if names != tuple(feature_names):
        # the file's own names are not repeated: they are whatever text its author chose
        # (lines, paths), and the message may reach an API response
        at = next((i for i, (a, b) in enumerate(zip(names, feature_names)) if a != b),
                  min(len(names), len(feature_names)))
        expected = repr(feature_names[at]) if at < len(feature_names) else "nothing more"
        raise ArtifactError(
            f"{path}: trained on {len(names)} features, not the {len(feature_names)} this "
            f"reco computes in its order (feature {at} should be {expected}); train again "
            "with this reco"
        )
    return booster


def importance(booster: xgb.Booster) -> dict[str, float]:
    """Total gain per feature (features never split on are absent)."""
    scores = booster.get_score(importance_type="total_gain")
    # the stubs allow lists (gblinear's per-class weights); a tree booster's gain is one float
    return {k: float(cast(float, v)) for k, v in scores.items()}
