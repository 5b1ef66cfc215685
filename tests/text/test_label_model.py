"""Label model: known LF accuracies recovered, at least as good as majority vote, collapse."""

from __future__ import annotations

import numpy as np
import pytest

from reco.exceptions import ConfigError, ModelFitError, NotFittedError
from reco.text.label_model import (
    DawidSkeneLabelModel,
    LabelModelConfig,
    check_collapse,
    majority_vote,
)

ACCURACIES = (0.9, 0.8, 0.6, 0.85, 0.7)
COVERAGES = (0.5, 0.6, 0.8, 0.3, 0.4)


def _synthetic(n: int = 10_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """True labels (30 % family) and LFs voting right with the given accuracies. At 10,000
    titles the sparsest LF still votes ~3,000 times: its accuracy has a standard error
    of ~0.007, so the 0.03 tolerance below is over 4 of them."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int8)
    votes = np.full((n, len(ACCURACIES)), -1, dtype=np.int8)
    for j, (acc, cov) in enumerate(zip(ACCURACIES, COVERAGES)):
        fires = rng.random(n) < cov
        right = rng.random(n) < acc
        votes[fires, j] = np.where(right, y, 1 - y)[fires]
    return y, votes


def _unipolar(y: np.ndarray, seed: int = 1) -> np.ndarray:
    """LFs that only ever vote one label: (label, precision, recall on that label)."""
    rng = np.random.default_rng(seed)
    specs = [(1, 0.9, 0.5), (0, 0.9, 0.5), (1, 0.7, 0.4), (0, 0.8, 0.3), (1, 0.8, 0.3),
             (0, 0.95, 0.4)]
    votes = np.full((len(y), len(specs)), -1, dtype=np.int8)
    share = np.array([np.mean(y == 0), np.mean(y == 1)])
    for j, (label, precision, recall) in enumerate(specs):
        other_rate = recall * share[label] * (1 - precision) / precision / share[1 - label]
        fires = rng.random(len(y)) < np.where(y == label, recall, other_rate)
        votes[fires, j] = label
    return votes


@pytest.mark.parametrize("init", ["majority", "accuracy"])
@pytest.mark.parametrize("abstain", ["model", "ignore"])
def test_recovers_known_accuracies_and_beats_majority_vote(init: str, abstain: str) -> None:
    y, votes = _synthetic()
    model = DawidSkeneLabelModel(LabelModelConfig(init=init, abstain=abstain)).fit(votes)
    assert model.collapsed_ is None and model.converged_
    np.testing.assert_allclose(model.lf_accuracy_, ACCURACIES, atol=0.03)
    assert model.class_prior_[1] == pytest.approx(0.3, abs=0.02)
    covered = (votes != -1).any(axis=1)
    em = model.predict_proba(votes)[covered] > 0.5
    mv = majority_vote(votes)[covered] > 0.5
    assert np.mean(em == y[covered]) >= np.mean(mv == y[covered])


def test_unipolar_lfs_are_read_through_their_abstains() -> None:
    y, _ = _synthetic()
    votes = _unipolar(y)
    model = DawidSkeneLabelModel(LabelModelConfig(abstain="model")).fit(votes)
    assert model.collapsed_ is None
    fired = votes != -1
    empirical = [np.mean(votes[fired[:, j], j] == y[fired[:, j]]) for j in range(votes.shape[1])]
    # One-sided LFs identify the model less sharply than the two-sided ones above.
    np.testing.assert_allclose(model.lf_accuracy_, empirical, atol=0.05)


@pytest.mark.parametrize("kwargs", [
    {"abstain": "ignore"},
    {"abstain": "ignore", "confusion": "symmetric"},
])
def test_collapse_is_detected(kwargs: dict) -> None:
    # With abstains ignored, LFs that only vote one label carry no information (full
    # confusion) or admit the one-class solution (symmetric): the EM collapses.
    y, _ = _synthetic()
    votes = _unipolar(y)
    fallback = DawidSkeneLabelModel(LabelModelConfig(**kwargs)).fit(votes)
    assert fallback.collapsed_ is not None
    np.testing.assert_array_equal(fallback.predict_proba(votes), majority_vote(votes))
    with pytest.raises(ModelFitError, match="collapsed"):
        DawidSkeneLabelModel(LabelModelConfig(on_collapse="raise", **kwargs)).fit(votes)


def test_check_collapse_catches_a_label_switch() -> None:
    y, votes = _synthetic(n=2_000)
    config = LabelModelConfig()
    good = DawidSkeneLabelModel(config).fit(votes)
    ok = np.ones(votes.shape[1], dtype=bool)
    posterior = good.predict_proba(votes)
    assert check_collapse(posterior, votes, ok, config) is None
    assert "majority vote" in check_collapse(1.0 - posterior, votes, ok, config)
    assert "label switch" in check_collapse(posterior, votes, ~ok, config)
    assert "near-constant" in check_collapse(np.full(len(y), 0.3), votes, ok, config)


def test_majority_vote_ties_and_uncovered() -> None:
    votes = np.array([[1, 1, -1], [1, 0, -1], [-1, -1, -1], [0, 0, 1]])
    np.testing.assert_allclose(majority_vote(votes), [1.0, 0.5, np.nan, 1 / 3])


def test_errors_name_the_bad_value() -> None:
    with pytest.raises(ValueError, match="2"):
        majority_vote(np.array([[2, 0]]))
    with pytest.raises(ConfigError, match="init"):
        LabelModelConfig(init="random")
    with pytest.raises(ConfigError, match="symmetric"):
        LabelModelConfig(confusion="symmetric", abstain="model")
    with pytest.raises(NotFittedError):
        DawidSkeneLabelModel().predict_proba(np.zeros((2, 2), dtype=np.int8))
    model = DawidSkeneLabelModel().fit(_synthetic(n=500)[1])
    with pytest.raises(ValueError, match="5"):
        model.predict_proba(np.zeros((2, 3), dtype=np.int8))
