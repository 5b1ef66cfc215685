"""The boosters' training: a quantised matrix (QuantileDMatrix) grows the same trees as
the plain DMatrix XGBoost's ``hist`` method quantises itself, with missing values."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from reco.ranking.booster import RankerConfig, _params, fit_booster


@pytest.mark.parametrize("objective", ["binary:logistic", "rank:ndcg"])
def test_boosters_train_as_on_a_plain_dmatrix(objective):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3000, 6)).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = np.nan
    y = (np.nan_to_num(x[:, 0]) + 0.5 * np.nan_to_num(x[:, 3]) + rng.normal(size=3000) > 0)
    y = y.astype(np.int8)
    groups = np.full(100, 30) if objective.startswith("rank:") else None
    config = RankerConfig(n_estimators=40, threads=2)
    names = tuple(f"f{i}" for i in range(6))
    ours = fit_booster(x, y, names, config, objective, groups)
    plain = xgb.DMatrix(x, label=y, feature_names=list(names), missing=np.nan)
    if groups is not None:
        plain.set_group(groups)
    theirs = xgb.train(_params(config, objective), plain, num_boost_round=40)
    assert np.array_equal(ours.inplace_predict(x), theirs.inplace_predict(x))


def _depths(booster: xgb.Booster) -> set[int]:
    """The depth each tree of ``booster`` reached (its dump, one tab per level)."""
    return {max(line.count("\t") for line in tree.splitlines()) for tree in
            booster.get_dump()}


def test_the_like_model_grows_its_own_depth_and_the_ranker_keeps_its():
    from dataclasses import replace

    from reco.data.synthetic import SyntheticConfig, generate
    from reco.ranking.booster import like_model_config
    from reco.ranking.hybrid import HybridRecommender
    from tests.ranking.test_hybrid import SMALL

    assert RankerConfig().max_depth == 4 and RankerConfig().like_max_depth == 6
    plain = RankerConfig(like_max_depth=None)
    assert like_model_config(plain) is plain
    assert like_model_config(RankerConfig()) == replace(RankerConfig(), max_depth=6)
    data = generate(SyntheticConfig(n_users=250, n_movies=300, n_ratings=15_000, seed=5))
    config = replace(SMALL, ranker=replace(SMALL.ranker, max_depth=2, like_max_depth=5))
    model = HybridRecommender(config).fit(data.ratings, data.movies, tags=data.tags)
    assert max(_depths(model.ranker_)) == 2
    assert 2 < max(_depths(model.like_model_)) <= 5
