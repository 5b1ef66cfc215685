"""Multi-label metrics and decision-threshold tuning on binary indicator matrices.

Every function takes ``(n_samples, n_labels)`` 0/1 (or bool) arrays. F1 follows
scikit-learn's default convention: a label (or sample) with no true and no predicted
positive scores 0, so figures compare directly with ``sklearn.metrics.f1_score``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np

#: Decision thresholds searched by the tuners (probabilities).
DEFAULT_GRID = np.round(np.arange(0.02, 0.951, 0.01), 2)


def _check(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true).astype(bool)
    p = np.asarray(y_pred).astype(bool)
    if t.ndim != 2 or t.shape != p.shape:
        raise ValueError(f"y_true {t.shape} and y_pred {p.shape} must be equal 2-d shapes")
    return t, p


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """2TP / (2TP + FP + FN), 0 where the denominator is 0."""
    tp, fp, fn = (np.asarray(x, dtype=np.float64) for x in (tp, fp, fn))
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(denom), where=denom > 0)


def per_label_f1(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F1 of each label and its support (number of true positives in ``y_true``)."""
    t, p = _check(y_true, y_pred)
    tp = (t & p).sum(0)
    return _f1(tp, (~t & p).sum(0), (t & ~p).sum(0)), t.sum(0)


def f1_macro(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted mean of the per-label F1."""
    return float(per_label_f1(y_true, y_pred)[0].mean())


def f1_micro(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """F1 of the pooled (sample, label) decisions."""
    t, p = _check(y_true, y_pred)
    return float(_f1((t & p).sum(), (~t & p).sum(), (t & ~p).sum()))


def f1_samples(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean over samples of each sample's F1 between its true and predicted sets."""
    t, p = _check(y_true, y_pred)
    return float(_f1((t & p).sum(1), (~t & p).sum(1), (t & ~p).sum(1)).mean())


def jaccard_samples(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean over samples of |T & P| / |T | P| (0 when both sets are empty)."""
    t, p = _check(y_true, y_pred)
    inter = (t & p).sum(1).astype(np.float64)
    union = (t | p).sum(1).astype(np.float64)
    return float(np.divide(inter, union, out=np.zeros_like(inter), where=union > 0).mean())


def hamming_loss(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of (sample, label) cells predicted wrongly."""
    t, p = _check(y_true, y_pred)
    return float((t != p).mean())


def exact_match(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Share of samples whose predicted set equals the true set (subset accuracy)."""
    t, p = _check(y_true, y_pred)
    return float((t == p).all(1).mean())


def at_least_one_rate(y_pred: np.ndarray) -> float:
    """Share of samples given at least one label."""
    return float(np.asarray(y_pred).astype(bool).any(1).mean())


def summary(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """The headline metrics in one dict (keys as in the reports)."""
    return {
        "f1_macro": f1_macro(y_true, y_pred),
        "f1_micro": f1_micro(y_true, y_pred),
        "f1_samples": f1_samples(y_true, y_pred),
        "jaccard_samples": jaccard_samples(y_true, y_pred),
        "hamming_loss": hamming_loss(y_true, y_pred),
        "exact_match": exact_match(y_true, y_pred),
        "at_least_one": at_least_one_rate(y_pred),
    }


def confused_pairs(y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str],
                   top: int = 10) -> list[tuple[str, str, int]]:
    """The most frequent substitutions: label A predicted instead of label B.

    A sample counts for ``(A, B)`` when A is predicted but not true while B is true but
    not predicted. Returns ``(predicted A, true B, count)`` sorted by count (ties by name).
    """
    t, p = _check(y_true, y_pred)
    if len(labels) != t.shape[1]:
        raise ValueError(f"{len(labels)} labels for {t.shape[1]} columns")
    false_pos = (p & ~t).astype(np.int64)
    false_neg = (t & ~p).astype(np.int64)
    counts = false_pos.T @ false_neg  # counts[a, b]: samples with A wrongly in, B wrongly out
    np.fill_diagonal(counts, 0)  # cannot happen (a cell is not both); kept explicit
    pairs = [(labels[a], labels[b], int(counts[a, b]))
             for a, b in zip(*np.nonzero(counts))]
    pairs.sort(key=lambda x: (-x[2], x[0], x[1]))
    return pairs[:top]


def f1_by_frequency_bucket(
    y_true: np.ndarray, y_pred: np.ndarray, label_share: np.ndarray,
    edges: Sequence[float] = (0.0, 0.02, 0.05, 0.15, 1.0),
) -> list[dict[str, float]]:
    """Mean per-label F1 within buckets of label frequency.

    Parameters
    ----------
    label_share
        Each label's frequency (share of training samples carrying it): buckets are
        ``[edges[i], edges[i+1])``, the last one closed.

    Returns
    -------
    list of dict
        ``low, high, n_labels, f1_mean`` per non-empty bucket.
    """
    f1, _ = per_label_f1(y_true, y_pred)
    share = np.asarray(label_share, dtype=np.float64)
    if share.shape != f1.shape:
        raise ValueError(f"label_share has shape {share.shape}, expected {f1.shape}")
    out = []
    for i, (low, high) in enumerate(pairwise(edges)):
        last = i == len(edges) - 2
        inside = (share >= low) & ((share <= high) if last else (share < high))
        if inside.any():
            out.append({"low": float(low), "high": float(high), "n_labels": int(inside.sum()),
                        "f1_mean": float(f1[inside].mean())})
    return out


def apply_thresholds(proba: np.ndarray, thresholds: np.ndarray | float,
                     at_least_one: bool = True) -> np.ndarray:
    """Boolean predictions ``proba >= thresholds``; with ``at_least_one`` a row where no
    label passes gets its most probable label (the argmax)."""
    proba = np.asarray(proba, dtype=np.float64)
    pred = proba >= np.asarray(thresholds, dtype=np.float64)
    if at_least_one and proba.shape[1] > 0:
        empty = ~pred.any(1)
        pred[np.nonzero(empty)[0], proba[empty].argmax(1)] = True
    return pred


def _middle_of_best(scores: np.ndarray) -> int:
    tied = np.flatnonzero(scores >= scores.max() - 1e-12)
    return int(tied[len(tied) // 2])


def best_threshold(y_true: np.ndarray, scores: np.ndarray,
                   grid: np.ndarray = DEFAULT_GRID) -> tuple[float, float]:
    """The threshold of ``grid`` that maximises one label's F1, and that F1.

    Ties go to the middle of the tied thresholds (the upper middle for an even count):
    on separable scores the lowest tied cut hugs the negatives, the middle generalises.
    A label without any positive gets the highest grid value (it should almost never fire).
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    if not y.any():
        return float(grid[-1]), 0.0
    pred = s[:, None] >= np.asarray(grid)[None, :]  # (n, n_grid)
    tp = (pred & y[:, None]).sum(0)
    f1 = _f1(tp, pred.sum(0) - tp, y.sum() - tp)
    best = _middle_of_best(f1)
    return float(grid[best]), float(f1[best])


def tune_per_label_thresholds(y_true: np.ndarray, proba: np.ndarray,
                              grid: np.ndarray = DEFAULT_GRID) -> np.ndarray:
    """Per label, the grid threshold with the best F1 on (out-of-fold) probabilities."""
    t, _ = _check(y_true, proba > 0)
    return np.array([best_threshold(t[:, j], proba[:, j], grid)[0] for j in range(t.shape[1])])


def tune_global_threshold(y_true: np.ndarray, proba: np.ndarray,
                          grid: np.ndarray = DEFAULT_GRID,
                          at_least_one: bool = True) -> tuple[float, float]:
    """One threshold for every label maximising micro F1 (after the at-least-one rule).

    Returns the threshold and its micro F1; ties go to the middle tied threshold.
    """
    scores = np.array([f1_micro(y_true, apply_thresholds(proba, g, at_least_one)) for g in grid])
    best = _middle_of_best(scores)
    return float(grid[best]), float(scores[best])
