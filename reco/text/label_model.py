"""Combine labeling-function votes into one probabilistic label per row.

Two combiners: :func:`majority_vote` and :class:`DawidSkeneLabelModel`, a Dawid-Skene
EM over one confusion matrix per LF (binary classes). Votes use the encoding of
:mod:`reco.text.labeling_functions`: 1 family, 0 not family, -1 abstain.

The model, with ``y`` the latent class and ``lambda_j`` the vote of LF ``j``::

    P(y, lambda) = pi_y * prod_j theta_j[y, lambda_j]        (LFs independent given y)

EM alternates the posterior ``q_i(y) ∝ pi_y prod_j theta_j[y, lambda_ij]`` (E) with the
smoothed counts ``theta_j[c, o] = (sum_i q_i(c) [lambda_ij = o] + s) / (sum_i q_i(c) + K s)``
and ``pi_c = (sum_i q_i(c) + s) / (n + 2 s)`` (M); the pseudo-count ``s`` keeps every
probability off 0 and 1. With ``abstain="model"`` the abstain is one of the ``K = 3``
outputs, so an LF that only ever votes one label (most LFs here) is informative through
how often it fires under each class. With ``abstain="ignore"`` (classic DS, abstains
treated as missing at random, ``K = 2``) such an LF carries no information at all: its
two confusion rows are both "always votes v". That is one way the EM collapses, and why
:func:`check_collapse` exists.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from reco.config import ConfigBase, check_choice, check_int, check_range
from reco.exceptions import ConfigError, ModelFitError, NotFittedError

log = logging.getLogger(__name__)

_ABSTAIN, _NOT, _FAMILY = -1, 0, 1
#: Where weak labels can come from (:func:`weak_labels`).
LABEL_SOURCES = ("majority", "em")


@dataclass(frozen=True)
class LabelModelConfig(ConfigBase):
    """Settings of :class:`DawidSkeneLabelModel`.

    ``init``: "majority" (start from the majority-vote posterior) or "accuracy" (every LF
    assumed right with probability ``init_accuracy`` when it votes). ``min_spread`` and
    ``max_flipped`` are the collapse thresholds of :func:`check_collapse`;
    ``on_collapse`` says whether a collapse raises or falls back to majority vote.
    """

    max_iter: int = 200
    tol: float = 1e-7
    smoothing: float = 1.0
    init: str = "majority"
    init_accuracy: float = 0.7
    abstain: str = "model"
    confusion: str = "full"
    min_spread: float = 0.02
    max_flipped: float = 0.5
    on_collapse: str = "fallback"

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_int(name, "max_iter", self.max_iter, 1, 100_000)
        check_range(name, "tol", self.tol, 0.0)
        check_range(name, "smoothing", self.smoothing, 1e-9)
        check_choice(name, "init", self.init, ("majority", "accuracy"))
        check_range(name, "init_accuracy", self.init_accuracy, 0.5, 0.999)
        check_choice(name, "abstain", self.abstain, ("model", "ignore"))
        check_choice(name, "confusion", self.confusion, ("full", "symmetric"))
        if self.confusion == "symmetric" and self.abstain != "ignore":
            raise ConfigError(f"{name}.confusion 'symmetric' needs abstain 'ignore', "
                              f"got abstain {self.abstain!r}")
        check_range(name, "min_spread", self.min_spread, 0.0, 0.5)
        check_range(name, "max_flipped", self.max_flipped, 0.0, 1.0)
        check_choice(name, "on_collapse", self.on_collapse, ("raise", "fallback"))


def _check_votes(votes: np.ndarray) -> np.ndarray:
    votes = np.asarray(votes)
    if votes.ndim != 2 or votes.shape[0] == 0 or votes.shape[1] == 0:
        raise ValueError(f"votes must be a non-empty 2-D matrix, got shape {votes.shape}")
    bad = ~np.isin(votes, (_ABSTAIN, _NOT, _FAMILY))
    if bad.any():
        raise ValueError(f"votes must be -1, 0 or 1, got {votes[bad][0]!r}")
    return votes.astype(np.int8, copy=False)


def majority_vote(votes: np.ndarray) -> np.ndarray:
    """Share of family votes among the non-abstaining LFs of each row.

    Returns
    -------
    numpy.ndarray
        Float64 ``P(family)`` per row: 1 or 0 when the votes agree, 0.5 on a tie, NaN
        for a row no LF votes on.
    """
    votes = _check_votes(votes)
    fired = (votes != _ABSTAIN).sum(axis=1)
    family = (votes == _FAMILY).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(fired > 0, family / np.maximum(fired, 1), np.nan)


def check_collapse(posterior: np.ndarray, votes: np.ndarray, polarity_ok: np.ndarray,
                   config: LabelModelConfig) -> str | None:
    """Why a label-model posterior looks collapsed, or None when it looks sound.

    Collapsed means: near-constant on the covered rows (standard deviation below
    ``min_spread``), or one class for every covered row, or disagreeing with majority
    vote on more than ``max_flipped`` of the rows where the vote is decided, or
    ``polarity_ok`` (per LF: does the model read its votes the way the LF casts them?)
    false for more than ``max_flipped`` of the LFs (a label switch).
    """
    votes = _check_votes(votes)
    covered = (votes != _ABSTAIN).any(axis=1)
    if not covered.any():
        return "no row has a vote"
    post = np.asarray(posterior)[covered]
    if float(post.std()) < config.min_spread:
        return f"near-constant posterior (std {post.std():.4f} < {config.min_spread})"
    hard = post > 0.5
    if hard.all() or not hard.any():
        return f"every covered row in one class ({'family' if hard.all() else 'not family'})"
    mv = majority_vote(votes)[covered]
    decided = mv != 0.5
    if decided.any():
        flipped = float(np.mean(hard[decided] != (mv[decided] > 0.5)))
        if flipped > config.max_flipped:
            return f"disagrees with majority vote on {flipped:.0%} of decided rows"
    bad = 1.0 - float(np.mean(polarity_ok))
    if bad > config.max_flipped:
        return f"reads {bad:.0%} of the LFs against their own votes (label switch)"
    return None


class DawidSkeneLabelModel:
    """Dawid-Skene EM over per-LF confusion matrices (binary; see the module docstring).

    Learned state: ``class_prior_`` (``[P(not family), P(family)]``), ``confusion_``
    (``(n_lfs, 2, K)``: ``P(output | class)``, outputs ``[abstain,] not, family``),
    ``lf_accuracy_`` (``P(correct | LF voted)`` under the model), ``n_iter_``,
    ``log_likelihood_``, ``converged_`` and ``collapsed_`` (None or the reason).
    """

    def __init__(self, config: LabelModelConfig | None = None) -> None:
        self.config = config or LabelModelConfig()

    # -- the two EM steps --------------------------------------------------------------
    def _indicators(self, votes: np.ndarray) -> np.ndarray:
        """One-hot ``(n, n_lfs * K)`` of the outputs (column ``j * K + o``)."""
        outputs = (_ABSTAIN, _NOT, _FAMILY) if self.config.abstain == "model" else (_NOT, _FAMILY)
        onehot = np.stack([votes == o for o in outputs], axis=2)
        return onehot.reshape(votes.shape[0], -1).astype(np.float64)

    def _m_step(self, onehot: np.ndarray, q: np.ndarray, n_lfs: int) -> None:
        s = self.config.smoothing
        counts = (onehot.T @ q).reshape(n_lfs, -1, 2).transpose(0, 2, 1)  # (m, 2, K)
        if self.config.confusion == "symmetric":
            # One accuracy per LF (both diagonal cells tied): the q-weighted share of its
            # votes that agree with the class, i.e. its precision.
            agree = counts[:, 0, 0] + counts[:, 1, 1]
            acc = (agree + s) / (counts.sum(axis=(1, 2)) + 2 * s)
            self.confusion_ = np.stack([np.column_stack([acc, 1 - acc]),
                                        np.column_stack([1 - acc, acc])], axis=1)
        else:
            self.confusion_ = (counts + s) / (counts.sum(axis=2, keepdims=True)
                                              + counts.shape[2] * s)
        self.class_prior_ = (q.sum(axis=0) + s) / (q.shape[0] + 2 * s)

    def _e_step(self, onehot: np.ndarray) -> tuple[np.ndarray, float]:
        log_theta = np.log(self.confusion_).transpose(0, 2, 1).reshape(-1, 2)  # (m*K, 2)
        joint = onehot @ log_theta + np.log(self.class_prior_)
        norm = logsumexp(joint, axis=1, keepdims=True)
        return np.exp(joint - norm), float(norm.sum())

    def _initial_posterior(self, votes: np.ndarray, onehot: np.ndarray) -> np.ndarray:
        if self.config.init == "majority":
            p = np.nan_to_num(majority_vote(votes), nan=0.5)
            return np.column_stack([1.0 - p, p])
        # Every LF right with probability a when it votes, firing as often as observed.
        a = self.config.init_accuracy
        n_out = 3 if self.config.abstain == "model" else 2
        rates = onehot.mean(axis=0).reshape(votes.shape[1], n_out)
        theta = np.empty((votes.shape[1], 2, n_out))
        for c in (0, 1):
            theta[:, c, -2] = rates[:, -2] * 2 * (a if c == 0 else 1 - a)
            theta[:, c, -1] = rates[:, -1] * 2 * (a if c == 1 else 1 - a)
            if n_out == 3:
                theta[:, c, 0] = 1.0 - theta[:, c, 1:].sum(axis=1)
        theta = np.clip(theta, 1e-3, None)
        self.confusion_ = theta / theta.sum(axis=2, keepdims=True)
        self.class_prior_ = np.array([0.5, 0.5])
        return self._e_step(onehot)[0]

    # -- public API --------------------------------------------------------------------
    def fit(self, votes: np.ndarray) -> DawidSkeneLabelModel:
        """Fit the EM on a vote matrix ``(n_rows, n_lfs)``; returns self.

        Raises
        ------
        ModelFitError
            The posterior collapsed (see :func:`check_collapse`) and
            ``config.on_collapse`` is "raise".
        """
        votes = _check_votes(votes)
        onehot = self._indicators(votes)
        q = self._initial_posterior(votes, onehot)
        previous = -np.inf
        self.converged_ = False
        for iteration in range(1, self.config.max_iter + 1):
            self.n_iter_ = iteration
            self._m_step(onehot, q, votes.shape[1])
            q, self.log_likelihood_ = self._e_step(onehot)
            if abs(self.log_likelihood_ - previous) <= self.config.tol * votes.shape[0]:
                self.converged_ = True
                break
            previous = self.log_likelihood_
        self.lf_accuracy_ = self._lf_accuracy()
        self.collapsed_ = check_collapse(q[:, 1], votes, self._polarity_ok(votes), self.config)
        log.info("label model: %d EM iterations (converged %s), P(family) %.3f, collapse: %s",
                 self.n_iter_, self.converged_, self.class_prior_[1], self.collapsed_)
        if self.collapsed_ and self.config.on_collapse == "raise":
            raise ModelFitError(f"label model collapsed: {self.collapsed_}")
        return self

    def _lf_accuracy(self) -> np.ndarray:
        """``P(y = vote | LF voted)`` implied by the fitted prior and confusion matrices."""
        pi = self.class_prior_
        right = pi[0] * self.confusion_[:, 0, -2] + pi[1] * self.confusion_[:, 1, -1]
        voted = (pi[:, None] * self.confusion_[:, :, -2:].sum(axis=2).T).sum(axis=0)
        return right / voted

    def _polarity_ok(self, votes: np.ndarray) -> np.ndarray:
        """Per LF: does its most frequent vote raise the odds of that very class?"""
        family_votes = (votes == _FAMILY).sum(axis=0)
        not_votes = (votes == _NOT).sum(axis=0)
        main = np.where(family_votes >= not_votes, 1, 0)
        ratio = np.log(self.confusion_[:, 1, -1] / self.confusion_[:, 0, -1])  # family vote
        ratio_not = np.log(self.confusion_[:, 0, -2] / self.confusion_[:, 1, -2])  # not vote
        return np.where(main == 1, ratio > 0, ratio_not > 0)

    def predict_proba(self, votes: np.ndarray) -> np.ndarray:
        """``P(family)`` per row; the majority vote instead when the fit collapsed and
        ``on_collapse`` is "fallback" (then NaN for rows without a vote)."""
        if not hasattr(self, "confusion_"):
            raise NotFittedError("DawidSkeneLabelModel.predict_proba called before fit")
        votes = _check_votes(votes)
        if votes.shape[1] != self.confusion_.shape[0]:
            raise ValueError(f"votes have {votes.shape[1]} LFs, "
                             f"the model {self.confusion_.shape[0]}")
        if self.collapsed_:
            return majority_vote(votes)
        return self._e_step(self._indicators(votes))[0][:, 1]


def weak_labels(votes: np.ndarray, source: str = "majority",
                label_config: LabelModelConfig | None = None,
                fit_rows: np.ndarray | None = None) -> np.ndarray:
    """``P(family)`` per row from LF votes, NaN where no LF votes.

    ``source`` is "majority" (:func:`reco.text.label_model.majority_vote`) or "em" (a
    :class:`reco.text.label_model.DawidSkeneLabelModel` fit on ``fit_rows``, all rows by
    default). Rows without a vote stay unlabelled in both, so both train the classifier
    on the same rows.
    """
    check_choice("weak_labels", "source", source, LABEL_SOURCES)
    if source == "majority":
        return majority_vote(votes)
    rows = slice(None) if fit_rows is None else fit_rows
    model = DawidSkeneLabelModel(label_config).fit(votes[rows])
    proba = model.predict_proba(votes)
    return np.where((votes != _ABSTAIN).any(axis=1), proba, np.nan)
