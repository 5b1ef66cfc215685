"""The boosters' training rows, one label window at a time, and the fit of both boosters.

A *label window* is a cut of each user's history: the ratings after it give the labels
(liked = rating >= the like threshold), a stage one fitted on the ratings before it gives
the features. :func:`window_rows` turns one window into the ranker's candidate rows and
the like model's rows; :func:`fit_boosters` trains the ranker and the like model on the
rows of every window the fit cut (the label window, then the earlier ones of
``HybridConfig.earlier_windows``; :mod:`reco.ranking.hybrid` cuts them).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from reco.columns import MOVIE_ID, RATING, USER_ID
from reco.ranking.booster import (
    Booster,
    choose_rounds,
    fit_booster,
    like_model_config,
    sample_rows,
)
from reco.ranking.candidates import generate_candidates
from reco.ranking.hybrid_config import HybridConfig
from reco.ranking.pair_features import (
    LIKE_FEATURES,
    RANK_FEATURES,
    StageOne,
    build_rows,
    cf_score_rank,
    pair_features,
    to_matrix,
)

log = logging.getLogger(__name__)


class Steps:
    """Runs the steps of one stage, logging each with its own time (no step hidden in
    another's line) to ``logger`` (the caller's; this module's by default)."""

    def __init__(self, what: str, logger: logging.Logger = log) -> None:
        self.what = what
        self.log = logger

    def __call__(self, name: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        out = func(*args, **kwargs)
        self.log.info("%s: %s in %.2fs", self.what, name, time.perf_counter() - started)
        return out


@dataclass(frozen=True)
class WindowRows:
    """One label window's training rows for both boosters, and what the window held."""

    rank_x: np.ndarray
    rank_y: np.ndarray
    groups: np.ndarray  # the ranker's rows per user, in row order
    like_x: np.ndarray
    like_y: np.ndarray
    like_users: np.ndarray
    users: int
    candidate_rows: int
    positives: int  # liked label-window movies among the candidates
    liked: int  # liked label-window movies of the ranker's users


def liked_pairs(ratings: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """``user_id, movie_id, label`` (1) of the liked ratings."""
    return ratings.filter(pl.col(RATING) >= threshold).select(
        USER_ID, MOVIE_ID, pl.lit(1, dtype=pl.Int8).alias("label")
    )


def window_rows(stage: StageOne, label_window: pl.DataFrame, cfg: HybridConfig,
                rng: np.random.Generator, what: str) -> WindowRows:
    """The boosters' training rows of one label window, with features from the stage
    fitted on the ratings before it (``stage``); ``rng`` samples users and rows."""
    liked = liked_pairs(label_window, cfg.like_threshold)
    users = np.sort(liked[USER_ID].unique().to_numpy())
    if users.size > cfg.ranker.max_train_users:
        users = np.sort(rng.choice(users, cfg.ranker.max_train_users, replace=False))
    step = Steps(what)
    people = step("user contexts", stage.store.known_users, users)
    candidates = step("candidates", generate_candidates, people, stage.store, cfg.candidates)
    labels = candidates.frame(people).join(
        liked, on=[USER_ID, MOVIE_ID], how="left", maintain_order="left"
    )["label"].fill_null(0).to_numpy()
    n_liked = liked.filter(pl.col(USER_ID).is_in(pl.Series(users).implode())).height
    n_candidate_rows = len(candidates)
    # the CF rank is among all of a user's candidates, so it is taken before sampling
    cf_rank = step("CF rank of candidates", cf_score_rank, stage, people, candidates.rows,
                   candidates.movie_ids)
    picked = sample_rows(labels, cfg.ranker.max_train_rows, rng)
    extra = {f"rank_in_{s}": r[picked] for s, r in candidates.ranks.items()}
    features = step("ranker rows", pair_features, stage, people, candidates.rows[picked],
                    candidates.movie_ids[picked], RANK_FEATURES,
                    extra | {"cf_score_rank": cf_rank[picked]})
    groups = np.bincount(candidates.rows[picked])
    rated = label_window.filter(pl.col(USER_ID).is_in(pl.Series(users).implode()))
    rated = rated[sample_rows(np.zeros(rated.height), cfg.ranker.max_train_rows, rng,
                              keep_positives=False)]
    like_rows = step("like rows", build_rows, rated.select(USER_ID, MOVIE_ID), stage,
                     LIKE_FEATURES)
    return WindowRows(
        rank_x=features, rank_y=labels[picked], groups=groups[groups > 0],
        like_x=to_matrix(like_rows, LIKE_FEATURES),
        like_y=(rated[RATING].to_numpy() >= cfg.like_threshold).astype(np.int8),
        like_users=rated[USER_ID].to_numpy(), users=int(users.size),
        candidate_rows=n_candidate_rows, positives=int(labels.sum()), liked=n_liked)


def fit_boosters(windows: list[WindowRows], cfg: HybridConfig,
                 ) -> tuple[Booster, Booster, dict[str, Any]]:
    """The ranker and the like model, trained on the rows of every label window (the
    newest first); and what the windows held (the newest window's figures, and the
    rows of all)."""
    step = Steps("boosters")
    features = np.concatenate([w.rank_x for w in windows])
    labels = np.concatenate([w.rank_y for w in windows])
    groups = np.concatenate([w.groups for w in windows])
    ranking = cfg.ranker.objective.startswith("rank:")
    ranker = step("ranker XGBoost", fit_booster, features, labels, RANK_FEATURES,
                  cfg.ranker, cfg.ranker.objective, groups if ranking else None)
    like_x = np.concatenate([w.like_x for w in windows])
    like_y = np.concatenate([w.like_y for w in windows])
    like_config, like_rounds = like_model_config(cfg.ranker), None
    if cfg.tune.enabled and cfg.tune.like_rounds:
        # folds by user across windows: one person's rows never on both sides
        like_users = np.concatenate([w.like_users for w in windows])
        like_config, like_rounds = step(
            "like model rounds", choose_rounds, like_x, like_y, like_users,
            like_config, "binary:logistic", folds=cfg.tune.like_folds,
            max_rows=cfg.tune.like_max_rows, seed=cfg.tune.random_state)
    like_model = step("like model XGBoost", fit_booster, like_x, like_y, LIKE_FEATURES,
                      like_config, "binary:logistic")
    newest = windows[0]
    trained = {
        "ranker_users": newest.users,
        "candidate_rows": newest.candidate_rows,
        "ranker_rows": int(labels.size),
        "ranker_positive_rate": float(labels.mean()),
        "like_rows": int(like_y.size),
        "candidate_recall": float(newest.positives / max(newest.liked, 1)),
        "like_rounds": like_rounds,
    }
    return ranker, like_model, trained
