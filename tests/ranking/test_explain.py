"""Contributions into phrases: the table covers the schema, and tiny boosters whose answer
is known (one stump; one feature that decides the label) are explained by that feature."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xgboost as xgb

from reco.ranking.explain import PHRASES, contributions, explain, phrase
from reco.ranking.schema import LIKE_FEATURES, RANK_FEATURES

NAMES = LIKE_FEATURES


def test_every_schema_feature_has_a_phrase_and_no_phrase_is_orphaned():
    assert set(RANK_FEATURES) >= set(LIKE_FEATURES)
    assert set(PHRASES) == set(RANK_FEATURES)


@pytest.mark.parametrize("feature", RANK_FEATURES)
def test_every_phrase_fills_for_any_value_and_direction(feature):
    for value in (0.0, 0.37, -1.25, 2014.0, float("nan")):
        for contribution in (0.4, -0.4):
            words = phrase(feature, None if math.isnan(value) else value, contribution)
            assert words and "{" not in words and "nan" not in words.lower()
            named = phrase(feature, value, contribution, {"genres": "Comedy", "liked": "Fargo"})
            assert "{" not in named


def test_phrases_say_the_value_and_its_side():
    words = {"genres": "Comedy"}
    assert phrase("ug_deviation", 0.6, 0.3, words) == "you rate Comedy 0.6 above your average"
    assert phrase("ug_deviation", -0.6, -0.3, words) == "you rate Comedy 0.6 below your average"
    assert phrase("ug_deviation", None, 0.1, words) == "your taste for Comedy: not known"
    assert phrase("u_like_rate", 0.862, 0.2) == "you like 86% of what you rate"
    assert phrase("cf_score", 0.5, 1.0, {"liked": "Fargo"}) == "liked by people who liked Fargo"
    assert phrase("cf_score", -0.1, -1.0, {"liked": "Fargo"}) == \
        "not what people who liked Fargo tend to like"
    assert phrase("cf_score", 0.5, 1.0) == "liked by people who liked what you liked"
    assert phrase("content_sim", 0.4, 0.2) == "close to movies you rated highly"
    # a predicted rating is shown inside the scale, as the pair route's predicted_rating
    assert phrase("rating_pred", 5.12, 1.0) == "we expect you to rate it 5.0 stars"
    assert phrase("rating_pred", 5.12, 1.0, rating_scale=(1.0, 10.0)) == \
        "we expect you to rate it 5.1 stars"


def _frame(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=(n, len(NAMES))).astype(np.float32)


def test_a_stump_is_explained_by_its_one_feature_with_the_exact_contribution():
    # One depth-1 tree on ug_deviation, two pure halves of equal size, base score 0.5, eta 1,
    # no regularisation: one Newton step gives the leaves -G/H = +-0.5 n / (0.25 n) = +-2
    # in log-odds; TreeSHAP gives that feature leaf - mean(leaves) = +-2, the bias 0 and
    # every other feature exactly 0.
    rng = np.random.default_rng(0)
    x = _frame(2000, rng)
    j = NAMES.index("ug_deviation")
    x[:, j] = np.r_[np.full(1000, -0.6), np.full(1000, 0.6)]
    y = (x[:, j] > 0).astype(np.int8)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 1, "eta": 1.0,
                         "base_score": 0.5, "lambda": 0.0, "min_child_weight": 0.0,
                         "nthread": 1},
                        xgb.DMatrix(x, label=y, feature_names=list(NAMES)), num_boost_round=1)
    rows = np.zeros((2, len(NAMES)), dtype=np.float32)
    rows[:, j] = [0.6, -0.6]
    found = contributions(booster, rows, NAMES)
    assert found.shape == (2, len(NAMES) + 1)
    leaves = booster.predict(xgb.DMatrix(rows, feature_names=list(NAMES)), output_margin=True)
    np.testing.assert_allclose(found.sum(axis=1), leaves, atol=1e-5)  # exact split
    others = np.delete(found[:, :-1], j, axis=1)
    assert not others.any()
    np.testing.assert_allclose(found[:, j], [2.0, -2.0], atol=1e-4)
    np.testing.assert_allclose(found[:, -1], 0.0, atol=1e-4)
    up = explain(rows[0], found[0], NAMES, {"genres": "Comedy"})
    assert [r.feature for r in up] == ["ug_deviation"]  # zero contributions are left out
    assert up[0].contribution > 0 and up[0].value == pytest.approx(0.6)
    assert up[0].text == "you rate Comedy 0.6 above your average"
    down = explain(rows[1], found[1], NAMES, {"genres": "Comedy"})
    assert down[0].contribution < 0 and down[0].text == "you rate Comedy 0.6 below your average"


def test_the_feature_that_decides_the_label_leads_the_explanation():
    rng = np.random.default_rng(1)
    x = _frame(3000, rng)
    cf = NAMES.index("cf_score")
    weak = NAMES.index("m_popularity")
    y = ((x[:, cf] + 0.1 * x[:, weak]) > 0).astype(np.int8)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "eta": 0.3,
                         "nthread": 1, "seed": 0},
                        xgb.DMatrix(x, label=y, feature_names=list(NAMES)), num_boost_round=30)
    rows = np.zeros((2, len(NAMES)), dtype=np.float32)
    rows[:, cf] = [2.0, -2.0]
    rows[1, NAMES.index("u_rating_std")] = np.nan  # a missing value is fine
    found = contributions(booster, rows, NAMES)
    margins = booster.predict(xgb.DMatrix(rows, feature_names=list(NAMES), missing=np.nan),
                              output_margin=True)
    np.testing.assert_allclose(found.sum(axis=1), margins, atol=1e-4)
    words = {"liked": "Fargo"}
    up, down = (explain(rows[i], found[i], NAMES, words, top=3) for i in (0, 1))
    assert up[0].feature == down[0].feature == "cf_score"
    assert up[0].text == "liked by people who liked Fargo" and up[0].contribution > 1
    assert down[0].text == "not what people who liked Fargo tend to like"
    assert down[0].contribution < -1
    sizes = [abs(r.contribution) for r in up]
    assert sizes == sorted(sizes, reverse=True) and len(up) <= 3
    listed = up[0].as_dict()
    assert set(listed) == {"feature", "text", "contribution", "value"}
    assert listed["value"] == 2.0


def test_names_that_differ_from_the_boosters_are_refused():
    rng = np.random.default_rng(2)
    x = _frame(200, rng)
    booster = xgb.train({"objective": "binary:logistic", "nthread": 1},
                        xgb.DMatrix(x, label=(x[:, 0] > 0), feature_names=list(NAMES)),
                        num_boost_round=2)
    with pytest.raises(ValueError, match="differ"):
        contributions(booster, x[:2], tuple(reversed(NAMES)))
    assert contributions(booster, x[:0], NAMES).shape == (0, len(NAMES) + 1)
