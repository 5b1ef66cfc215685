"""Multi-label metrics and threshold tuning: hand-computed values, sklearn agreement."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from reco.text import multilabel as mm

# 3 samples x 3 labels (A, B, C).
TRUE = np.array([[1, 1, 0],
                 [0, 1, 0],
                 [1, 0, 1]])
PRED = np.array([[1, 0, 0],
                 [0, 1, 1],
                 [1, 0, 0]])
# Per label: A tp2 fp0 fn0 -> 1; B tp1 fp0 fn1 -> 2/3; C tp0 fp1 fn1 -> 0.
# Pooled: tp3 fp1 fn2 -> 6/9. Samples: 2/3, 2/3, 2/3. Jaccard: 1/2, 1/2, 1/2.


def test_hand_computed_values() -> None:
    f1, support = mm.per_label_f1(TRUE, PRED)
    np.testing.assert_allclose(f1, [1.0, 2 / 3, 0.0])
    assert support.tolist() == [2, 2, 1]
    assert mm.f1_macro(TRUE, PRED) == pytest.approx((1 + 2 / 3) / 3)
    assert mm.f1_micro(TRUE, PRED) == pytest.approx(6 / 9)
    assert mm.f1_samples(TRUE, PRED) == pytest.approx(2 / 3)
    assert mm.jaccard_samples(TRUE, PRED) == pytest.approx(0.5)
    assert mm.hamming_loss(TRUE, PRED) == pytest.approx(3 / 9)
    assert mm.exact_match(TRUE, PRED) == 0.0
    assert mm.at_least_one_rate(np.array([[0, 0], [1, 0]])) == 0.5


def test_agrees_with_sklearn_on_random_matrices() -> None:
    rng = np.random.default_rng(0)
    t = rng.random((60, 7)) < 0.3
    p = rng.random((60, 7)) < 0.3
    t[0] = p[0] = False  # an empty row on both sides: sklearn's zero_division=0 convention
    for ours, avg in [(mm.f1_macro, "macro"), (mm.f1_micro, "micro"), (mm.f1_samples, "samples")]:
        assert ours(t, p) == pytest.approx(skm.f1_score(t, p, average=avg, zero_division=0))
    assert mm.jaccard_samples(t, p) == pytest.approx(
        skm.jaccard_score(t, p, average="samples", zero_division=0))
    assert mm.hamming_loss(t, p) == pytest.approx(skm.hamming_loss(t, p))
    assert mm.exact_match(t, p) == pytest.approx(skm.accuracy_score(t, p))


def test_shape_mismatch_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"\(3, 3\).*\(3, 2\)"):
        mm.f1_micro(TRUE, PRED[:, :2])


def test_confused_pairs_counts_substitutions() -> None:
    true = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [1, 0, 1]])
    pred = np.array([[0, 1, 0], [0, 1, 0], [1, 0, 0], [1, 1, 0]])
    pairs = mm.confused_pairs(true, pred, ["A", "B", "C"])
    # B for A twice, A for B once, B for C once (row 4: B wrongly in, C wrongly out).
    assert pairs == [("B", "A", 2), ("A", "B", 1), ("B", "C", 1)]
    assert mm.confused_pairs(true, pred, ["A", "B", "C"], top=1) == [("B", "A", 2)]


def test_frequency_buckets() -> None:
    out = mm.f1_by_frequency_bucket(TRUE, PRED, np.array([0.5, 0.01, 0.2]),
                                    edges=(0.0, 0.05, 0.3, 1.0))
    # B (F1 2/3) is rare, C (F1 0) in the middle, A (F1 1) frequent; 1.0 is inclusive.
    assert out == [
        {"low": 0.0, "high": 0.05, "n_labels": 1, "f1_mean": pytest.approx(2 / 3)},
        {"low": 0.05, "high": 0.3, "n_labels": 1, "f1_mean": 0.0},
        {"low": 0.3, "high": 1.0, "n_labels": 1, "f1_mean": 1.0},
    ]
    assert mm.f1_by_frequency_bucket(TRUE, PRED, np.array([1.0, 1.0, 1.0]))[0]["n_labels"] == 3


def test_at_least_one_rule_takes_the_argmax() -> None:
    proba = np.array([[0.1, 0.3, 0.2], [0.9, 0.1, 0.6]])
    assert mm.apply_thresholds(proba, 0.5, at_least_one=False).tolist() == [
        [False, False, False], [True, False, True]]
    assert mm.apply_thresholds(proba, 0.5).tolist() == [
        [False, True, False], [True, False, True]]


def test_best_threshold_on_a_constructed_case() -> None:
    # Positives score 0.6-0.9, negatives 0.1-0.4 except one at 0.7: every cut in (0.4, 0.6]
    # keeps 4 tp and 1 fp (F1 8/9); higher cuts lose positives. The 20 tied grid values
    # 0.41..0.60 give their upper middle, 0.51.
    scores = np.array([0.6, 0.7, 0.8, 0.9, 0.1, 0.2, 0.3, 0.4, 0.7])
    truth = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0])
    threshold, f1 = mm.best_threshold(truth, scores)
    assert threshold == pytest.approx(0.51)
    assert f1 == pytest.approx(8 / 9)
    assert mm.best_threshold(np.zeros(3), np.array([0.1, 0.5, 0.9]))[0] == mm.DEFAULT_GRID[-1]


def test_per_label_and_global_tuning() -> None:
    truth = np.array([[1, 0], [1, 0], [0, 1], [0, 0]])
    proba = np.array([[0.3, 0.1], [0.35, 0.2], [0.1, 0.8], [0.2, 0.7]])
    per_label = mm.tune_per_label_thresholds(truth, proba)
    # Label 0: any cut in (0.2, 0.3] is perfect (0.21..0.30, middle 0.26); label 1:
    # (0.7, 0.8] (0.71..0.80, middle 0.76).
    assert per_label.tolist() == pytest.approx([0.26, 0.76])
    threshold, micro = mm.tune_global_threshold(truth, proba)
    # One cut cannot separate both labels: (0.3, 0.35] with the rule gives tp 3, fp 1.
    assert micro == pytest.approx(mm.f1_micro(truth, mm.apply_thresholds(proba, threshold)))
    assert micro < 1.0
    grid_scores = [mm.f1_micro(truth, mm.apply_thresholds(proba, g)) for g in mm.DEFAULT_GRID]
    assert micro == pytest.approx(max(grid_scores))
