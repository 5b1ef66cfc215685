"""Fit-time tuning (reco.ranking.tuning): the label-window NDCG, the choice, the budget."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from reco.columns import RATINGS_SCHEMA
from reco.exceptions import ConfigError
from reco.models.base import Recommender
from reco.models.ease import EASEConfig, EASERecommender
from reco.models.interactions import Interactions
from reco.ranking.booster import choose_rounds
from reco.ranking.hybrid import HybridRecommender
from reco.ranking.tuning import TuneConfig, apply_choices, label_ndcg, tune_stage_one
from tests.ranking.test_hybrid import SMALL


def _frame(rows: list[tuple[int, int, float]]) -> pl.DataFrame:
    users, movies, values = zip(*rows)
    return pl.DataFrame({"user_id": users, "movie_id": movies, "rating": values,
                         "timestamp": list(range(len(values)))}, schema=RATINGS_SCHEMA)


class Fixed(Recommender):
    """Scores every user the same fixed movie order (a known answer for the NDCG)."""

    name = "fixed"
    config_class = EASEConfig  # any config: it is not read
    state_arrays = ("order",)

    def _fit(self, matrix, **context):
        self.order_ = np.arange(matrix.shape[1], 0, -1, dtype=np.float32)

    def _score_users(self, users):
        return np.tile(self.order_, (len(users), 1))


def test_label_ndcg_is_the_ndcg_of_the_models_own_top_k():
    # the fixed order is 1 > 2 > 3 > 4; user 1 rated movie 1, user 2 movies 2, 3, 4
    interactions = Interactions.from_ratings(_frame([(1, 1, 5.0), (2, 2, 5.0), (2, 3, 5.0),
                                                     (2, 4, 5.0)]))
    model = Fixed().fit_interactions(interactions)
    users = interactions.user_map.indices(np.array([2]))
    # user 2 rated 2, 3, 4: the top 2 unseen is [1] only; liked later: movie 1
    liked = [interactions.item_map.indices(np.array([1]))]
    assert label_ndcg(model, interactions, users, liked, k=2) == pytest.approx(1.0)
    # user 1 saw movie 1: the top unseen are 2, 3; liked later: movie 3 (at rank 2)
    users = interactions.user_map.indices(np.array([1]))
    liked = [interactions.item_map.indices(np.array([3]))]
    assert label_ndcg(model, interactions, users, liked, k=2) == pytest.approx(1 / np.log2(3))


def _two_blocks(n_users: int = 60) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Users like within one of two blocks of 6 movies; the label window holds each
    user's one held-out movie of their block."""
    feature, label = [], []
    for u in range(1, n_users + 1):
        block = list(range(1, 7)) if u % 2 else list(range(7, 13))
        held = block[u % 6]
        feature += [(u, m, 5.0) for m in block if m != held]
        label.append((u, held, 5.0))
    return _frame(feature), _frame(label)


def test_tuning_keeps_the_grid_value_that_scores_best_on_the_label_window():
    feature, label = _two_blocks()
    interactions = Interactions.from_ratings(feature)

    def build(lam: float) -> Recommender:
        # 5.0 builds a model blind to the blocks (one fixed order for everyone)
        return Fixed() if lam == 5.0 else EASERecommender(EASEConfig(lam=lam))

    grid = {"item": ("lam", (5.0, 1.0, 2.0), build, None)}
    tuned = tune_stage_one(interactions, label, 3.5, TuneConfig(k=3), grid)
    report = tuned.report["item"]
    scores = {row["value"]: row["ndcg@3"] for row in report["grid"]}
    # EASE finds each user's held-out movie of their block; 1.0 and 2.0 tie: the earlier
    assert scores[1.0] == scores[2.0] > scores[5.0]
    assert report["chosen"] == 1.0 and tuned.models["item"].config.lam == 1.0
    # the configured value stays unless another beats it by more than min_gain
    kept = tune_stage_one(interactions, label, 3.5, TuneConfig(k=3),
                          {"item": ("lam", (5.0, 1.0, 2.0), build, 2.0)})
    assert kept.report["item"]["chosen"] == 2.0 and kept.models["item"].config.lam == 2.0
    moved = tune_stage_one(interactions, label, 3.5, TuneConfig(k=3),
                           {"item": ("lam", (5.0, 1.0), build, 5.0)})
    assert moved.report["item"]["chosen"] == 1.0  # far better than the configured one
    assert tuned.report["users"] == 60
    config = apply_choices(SMALL, tuned.report, {"item": "item"})
    assert config.item.lam == 1.0 and config.cf == SMALL.cf


def test_tuning_is_skipped_above_its_budget_and_when_switched_off():
    feature, label = _two_blocks()
    interactions = Interactions.from_ratings(feature)
    grid = {"item": ("lam", (1.0,), lambda lam: EASERecommender(EASEConfig(lam=lam)), 1.0)}
    over = tune_stage_one(interactions, label, 3.5, TuneConfig(max_ratings=10), grid)
    assert not over.models and "tune.max_ratings" in over.report["skipped"]
    off = tune_stage_one(interactions, label, 3.5, TuneConfig(enabled=False), grid)
    assert not off.models and "switched off" in off.report["skipped"]


def test_the_fit_records_the_choice_and_saves_it_as_its_config(tmp_path):
    from reco.data.synthetic import SyntheticConfig, generate

    data = generate(SyntheticConfig(n_users=150, n_movies=120, n_ratings=6_000, seed=2))
    model = HybridRecommender(replace(SMALL, tune=TuneConfig())).fit(data.ratings, data.movies)
    tuning = model.window_["tuning"]
    assert tuning["cf"]["chosen"] in TuneConfig().cf_regularization_scales
    assert model.config.cf.regularization_scale == tuning["cf"]["chosen"]
    assert model.config.item.lam == tuning["item"]["chosen"]
    assert model.stage_.item.config.lam == tuning["item"]["chosen"]
    assert model.stage_.cf.config.regularization_scale == tuning["cf"]["chosen"]
    rounds = tuning["like_rounds"]
    assert 1 <= rounds["chosen"] <= SMALL.ranker.n_estimators == rounds["configured"]
    assert model.like_model_.num_boosted_rounds() == rounds["chosen"]
    assert model.ranker_.num_boosted_rounds() == SMALL.ranker.n_estimators  # not the ranker's


def _like_rows(n_users: int, per_user: int, signal: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    x = rng.normal(size=(users.size, 3)).astype(np.float32)
    margin = signal * x[:, 0] + rng.normal(size=users.size)
    return x, (margin > 0).astype(np.int8), users


def test_like_rounds_stop_early_on_noise_and_run_long_on_a_clean_signal():
    config = replace(SMALL.ranker, n_estimators=300, learning_rate=0.05)
    x, y, users = _like_rows(100, 20, signal=0.0)
    noise, report = choose_rounds(x, y, users, config, "binary:logistic", folds=4,
                                  max_rows=10_000)
    assert noise.n_estimators == report["chosen"] < 60  # nothing to learn: stop soon
    assert report["folds"] == 4 and report["rows"] == 2000 and report["metric"] == "logloss"
    x, y, users = _like_rows(100, 20, signal=20.0)
    clean, report = choose_rounds(x, y, users, config, "binary:logistic", folds=4,
                                  max_rows=10_000)
    assert 200 <= clean.n_estimators <= 300  # a sharp threshold takes many small steps
    assert replace(clean, n_estimators=300) == config  # only the rounds change


@pytest.mark.parametrize("signal", [0.3, 1.0])
def test_like_rounds_are_those_xgboost_cv_chooses(signal):
    """The lockstep folds are xgb.cv's computation: where xgb.cv stops early it keeps
    the rounds up to its best mean, and that is the number chosen here. (Without row and
    column sampling: xgb.cv draws every fold's samples from one thread's random engine,
    choose_rounds each fold's from its own thread's, so with sampling the trees differ.)"""
    import xgboost as xgb

    from reco.ranking.booster import _params

    config = replace(SMALL.ranker, n_estimators=400, learning_rate=0.3, subsample=1.0,
                     colsample_bytree=1.0)
    x, y, users = _like_rows(120, 25, signal=signal, seed=3)
    chosen, report = choose_rounds(x, y, users, config, "binary:logistic", folds=4,
                                   max_rows=100_000)
    rng = np.random.default_rng(0)  # choose_rounds's draw of folds (seed 0)
    distinct, owner = np.unique(users, return_inverse=True)
    fold = rng.integers(0, 4, distinct.size)[owner]
    splits = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(4)]
    history = xgb.cv(_params(config, "binary:logistic"), xgb.DMatrix(x, label=y),
                     num_boost_round=400, folds=splits, early_stopping_rounds=40,
                     as_pandas=False)
    assert len(history["test-logloss-mean"]) < 400  # it stopped early, so it truncated
    assert chosen.n_estimators == report["chosen"] == len(history["test-logloss-mean"])
    assert report["validation"] == pytest.approx(history["test-logloss-mean"][-1], abs=1e-6)


def test_like_rounds_are_the_same_whatever_the_threads_and_run_after_run():
    """With row and column sampling, each fold's booster on a thread of its own draws
    the same numbers in every run: 1, 2 or 5 folds at a time give one curve."""
    import reco.ranking.booster as module
    from reco.ranking.booster import _params

    x, y, users = _like_rows(150, 30, signal=0.7, seed=5)
    fold = np.random.default_rng(1).integers(0, 5, 150)[users]
    splits = [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(5)]
    config = replace(SMALL.ranker, n_estimators=60, learning_rate=0.2)
    assert config.subsample < 1 and config.colsample_bytree < 1
    curves = [module._cv_curve({**_params(config, "binary:logistic"), "nthread": threads},
                               x, y, splits, 60, 60)
              for threads in (1, 2, 5, 2)]
    assert all(curve == curves[0] for curve in curves)
    assert curves[0][0] == "logloss" and len(curves[0][1]) == 60


def test_like_rounds_sample_whole_users_above_their_row_budget():
    x, y, users = _like_rows(200, 50, signal=2.0)
    _, report = choose_rounds(x, y, users, replace(SMALL.ranker, n_estimators=20),
                              "binary:logistic", folds=3, max_rows=2000)
    assert report["rows"] % 50 == 0 and 1000 <= report["rows"] <= 3000  # whole users


def test_like_rounds_keep_the_config_when_a_fold_would_hold_one_label():
    x, y, users = _like_rows(3, 10, signal=1.0)
    y[:] = 1
    config = SMALL.ranker
    same, report = choose_rounds(x, y, users, config, "binary:logistic", folds=5,
                                 max_rows=10_000)
    assert same is config and report["chosen"] == config.n_estimators and report["skipped"]


@pytest.mark.parametrize("grid", [[], [0.0], ["x"], "1,2"])
def test_bad_grids_are_refused(grid):
    with pytest.raises((ConfigError, ValueError)):
        TuneConfig(item_lambdas=grid)


def test_min_gain_is_a_fraction():
    with pytest.raises(ConfigError, match="min_gain"):
        TuneConfig(min_gain=-0.1)


@pytest.mark.parametrize("field, value", [("like_folds", 1), ("like_folds", 2.5),
                                          ("like_max_rows", 10)])
def test_bad_like_round_settings_are_refused(field, value):
    with pytest.raises(ConfigError, match=field):
        TuneConfig(**{field: value})


def test_json_lists_become_tuples():
    config = TuneConfig.from_dict({"item_lambdas": [10, 20]})
    assert config.item_lambdas == (10.0, 20.0)
