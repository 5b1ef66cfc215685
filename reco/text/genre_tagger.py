"""Multi-label genre tagger: TF-IDF (word + char n-grams) + metadata into one-vs-rest
logistic regressions, with decision thresholds tuned on out-of-fold probabilities.

Inputs per title: free ``texts`` (title + description), optional ``tokens`` (a
whitespace-separated string of categorical tags such as ``type=movie country=india``),
optional dense ``meta`` columns and optional ``groups`` (one category per title, e.g. the
Netflix type): a (group, genre) pair never seen in training is masked to probability 0,
which keeps "TV Dramas" off movies. :func:`reco.text.tagger_inputs.netflix_inputs`
and ``tmdb_inputs`` build these from the readers' frames.

Thresholds come from K-fold out-of-fold probabilities of the *training* data only: one per
genre maximising that genre's F1 (``"per_label"``, favours macro F1) and one shared
threshold maximising micro F1 (``"global"``). A title where no genre passes gets its most
probable genre (the at-least-one rule). Saved as ``.npz`` (no pickle) + ``.json``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

from reco.config import ConfigBase, check_choice, check_int, check_range
from reco.exceptions import ArtifactError, NotFittedError
from reco.progress import Progress
from reco.text import multilabel as mm
from reco.text.tfidf import BlockFeatures, TfidfParams

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
THRESHOLD_MODES = ("per_label", "global")


@dataclass(frozen=True)
class TaggerConfig(ConfigBase):
    """Settings of :class:`GenreTagger`.

    Parameters
    ----------
    word_ngram_max, word_min_df
        Word n-grams 1..``word_ngram_max`` seen in at least ``word_min_df`` titles.
    char_ngram_min, char_ngram_max, char_min_df
        ``char_wb`` n-grams; ``char_ngram_max=0`` turns the block off.
    char_weight, token_weight
        Scale of the char and token blocks relative to the word block (each block is
        l2-normalised per title, so these set their share of the norm).
    c
        Inverse L2 strength of each logistic regression.
    class_weight
        ``"balanced"`` reweights positives per genre, ``"none"`` does not.
    n_folds
        Folds of the out-of-fold probabilities used to tune the thresholds.
    min_label_count
        Genres with fewer training titles are dropped (logged).
    threshold_mode
        Default of :meth:`GenreTagger.predict`: ``"per_label"`` or ``"global"``.
    at_least_one
        Give every title its most probable genre when none passes its threshold.
    random_state
        Seed of the folds and of liblinear's coordinate order.
    """

    word_ngram_max: int = 2
    word_min_df: int = 1
    char_ngram_min: int = 2
    char_ngram_max: int = 5
    char_min_df: int = 3
    char_weight: float = 1.0
    token_weight: float = 0.7
    c: float = 4.0
    class_weight: str = "balanced"
    n_folds: int = 3
    min_label_count: int = 3
    threshold_mode: str = "per_label"
    at_least_one: bool = True
    random_state: int = 0

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_int(name, "word_ngram_max", self.word_ngram_max, 1, 3)
        check_int(name, "word_min_df", self.word_min_df, 1)
        check_int(name, "char_ngram_min", self.char_ngram_min, 1)
        if self.char_ngram_max:
            check_int(name, "char_ngram_max", self.char_ngram_max, self.char_ngram_min, 8)
        check_int(name, "char_min_df", self.char_min_df, 1)
        check_range(name, "char_weight", self.char_weight, 0.0)
        check_range(name, "token_weight", self.token_weight, 0.0)
        check_range(name, "c", self.c, 1e-6)
        check_choice(name, "class_weight", self.class_weight, ("balanced", "none"))
        check_int(name, "n_folds", self.n_folds, 2, 10)
        check_int(name, "min_label_count", self.min_label_count, 1)
        check_choice(name, "threshold_mode", self.threshold_mode, THRESHOLD_MODES)
        check_int(name, "random_state", self.random_state, 0)


def _as_list(values: Sequence[str] | None, n: int, what: str) -> list[str] | None:
    if values is None:
        return None
    values = [str(v) for v in values]
    if len(values) != n:
        raise ValueError(f"{what} has {len(values)} entries but texts has {n}")
    return values


def _pick(values: list[str] | None, rows: np.ndarray) -> list[str] | None:
    """The ``rows`` of an optional column (a fold's share)."""
    return None if values is None else [values[i] for i in rows]


def _fit_features(cfg: TaggerConfig, texts: list[str], tokens: list[str] | None,
                  n_meta: int) -> BlockFeatures:
    specs = {"word": ("text", TfidfParams(ngram_max=cfg.word_ngram_max,
                                          min_df=cfg.word_min_df), 1.0)}
    if cfg.char_ngram_max and cfg.char_weight > 0:
        specs["char"] = ("text", TfidfParams(analyzer="char_wb", ngram_min=cfg.char_ngram_min,
                                             ngram_max=cfg.char_ngram_max,
                                             min_df=cfg.char_min_df), cfg.char_weight)
    if tokens is not None and cfg.token_weight > 0:
        # Tokens are pre-built tags ("country=india"): split on whitespace, keep case.
        specs["tokens"] = ("tokens", TfidfParams(token_pattern=r"\S+", lowercase=False,
                                                 min_df=2), cfg.token_weight)
    return BlockFeatures.fit(specs, {"text": texts, "tokens": tokens}, n_meta)


class GenreTagger:
    """Predict a title's set of genres from its text (see the module docstring).

    Parameters
    ----------
    config
        A :class:`TaggerConfig`; defaults when ``None``.

    Attributes
    ----------
    labels_ : tuple of str
        Genre names, the columns of :meth:`predict_proba`.
    thresholds_ : ndarray
        Per-genre thresholds tuned on out-of-fold probabilities.
    global_threshold_ : float
        The one threshold tuned for micro F1 on the same probabilities.
    coef_, intercept_ : ndarray
        One row / value per genre (float32 coefficients, as saved).
    """

    def __init__(self, config: TaggerConfig | None = None) -> None:
        self.config = config or TaggerConfig()

    # -- fitting ---------------------------------------------------------------------
    def fit(self, texts: Sequence[str], labels: Sequence[Sequence[str]],
            meta: np.ndarray | None = None, *, tokens: Sequence[str] | None = None,
            groups: Sequence[str] | None = None) -> GenreTagger:
        """Fit the features, the per-genre models and both threshold settings.

        Parameters
        ----------
        texts
            Free text per title.
        labels
            The genres of each title (titles without any still count as negatives).
        meta
            Optional ``(n, k)`` dense numeric columns (scaled by the caller, ~[0, 1]).
        tokens
            Optional whitespace-separated categorical tags per title.
        groups
            Optional category per title; unseen (group, genre) pairs are masked.

        Raises
        ------
        ValueError
            Empty corpus, lengths that differ, or no genre with ``min_label_count`` titles.
        """
        start = time.perf_counter()
        cfg = self.config
        texts = [str(t) for t in texts]
        n = len(texts)
        if n == 0:
            raise ValueError("cannot fit a genre tagger on 0 texts")
        if len(labels) != n:
            raise ValueError(f"labels has {len(labels)} entries but texts has {n}")
        tokens_l = _as_list(tokens, n, "tokens")
        groups_l = _as_list(groups, n, "groups")
        meta_a = None if meta is None else np.asarray(meta, dtype=np.float64)
        if meta_a is not None and (meta_a.ndim != 2 or meta_a.shape[0] != n):
            raise ValueError(f"meta must have shape ({n}, k), got {meta_a.shape}")
        names = sorted({str(g) for row in labels for g in row})
        sets = [set(map(str, row)) for row in labels]
        y_all = np.array([[g in row for g in names] for row in sets], dtype=bool)
        counts = y_all.sum(0) if names else np.zeros(0, dtype=int)
        keep = counts >= cfg.min_label_count
        if not keep.any():
            raise ValueError(f"no genre has {cfg.min_label_count}+ titles (counts: "
                             f"{dict(zip(names, counts.tolist()))})")
        dropped = [g for g, k in zip(names, keep) if not k]
        if dropped:
            log.warning("dropping genre(s) with < %d titles: %s", cfg.min_label_count, dropped)
        self.labels_ = tuple(g for g, k in zip(names, keep) if k)
        y = y_all[:, keep]
        self.label_counts_ = y.sum(0)
        self.n_train_ = n
        self._fit_groups(groups_l, y)
        folds = min(self.config.n_folds, len(texts))
        progress = Progress("genre tagger", (folds + 1) * y.shape[1], "genre fits")
        oof = self._out_of_fold(texts, tokens_l, meta_a, groups_l, y, progress)
        self.thresholds_ = mm.tune_per_label_thresholds(y, oof)
        self.global_threshold_, micro = mm.tune_global_threshold(
            y, oof, at_least_one=cfg.at_least_one)
        self.features_, self.coef_, self.intercept_ = self._fit_linear(texts, tokens_l, meta_a, y,
                                                                       progress)
        log.info("genre tagger: %d titles, %d genres, %d features, global threshold %.2f "
                 "(out-of-fold micro F1 %.3f), %.1f s", n, len(self.labels_),
                 self.coef_.shape[1], self.global_threshold_, micro, time.perf_counter() - start)
        return self

    def _fit_groups(self, groups: list[str] | None, y: np.ndarray) -> None:
        if groups is None:
            self.group_names_: tuple[str, ...] = ()
            self.group_allowed_ = np.ones((0, y.shape[1]), dtype=bool)
            return
        self.group_names_ = tuple(sorted(set(groups)))
        g = np.array(groups)
        self.group_allowed_ = np.array([y[g == name].any(0) for name in self.group_names_])

    def _fit_linear(self, texts: list[str], tokens: list[str] | None, meta: np.ndarray | None,
                    y: np.ndarray, progress: Progress | None = None,
                    ) -> tuple[BlockFeatures, np.ndarray, np.ndarray]:
        cfg = self.config
        features = _fit_features(cfg, texts, tokens, 0 if meta is None else meta.shape[1])
        x = features.transform({"text": texts, "tokens": tokens}, meta)
        coef = np.zeros((y.shape[1], x.shape[1]), dtype=np.float32)
        intercept = np.full(y.shape[1], -30.0)  # a genre absent from this fold never fires
        for j in range(y.shape[1]):
            if progress is not None:
                progress.advance()
            if not y[:, j].any() or y[:, j].all():  # constant: nothing to learn
                intercept[j] = 30.0 if y[:, j].all() else -30.0
                continue
            # liblinear's dual solver: fast when titles are fewer than features.
            model = LogisticRegression(
                C=cfg.c, solver="liblinear", dual=True, max_iter=1000,
                class_weight=None if cfg.class_weight == "none" else "balanced",
                random_state=cfg.random_state,
            ).fit(x, y[:, j])
            coef[j] = model.coef_[0]
            intercept[j] = model.intercept_[0]
        return features, coef, intercept

    def _out_of_fold(self, texts: list[str], tokens: list[str] | None, meta: np.ndarray | None,
                     groups: list[str] | None, y: np.ndarray,
                     progress: Progress | None = None) -> np.ndarray:
        cfg = self.config
        oof = np.zeros(y.shape)
        folds = KFold(min(cfg.n_folds, len(texts)), shuffle=True, random_state=cfg.random_state)
        for train, valid in folds.split(texts):
            feats, coef, intercept = self._fit_linear(
                [texts[i] for i in train], _pick(tokens, train),
                None if meta is None else meta[train], y[train], progress)
            x = feats.transform({"text": [texts[i] for i in valid],
                                 "tokens": _pick(tokens, valid)},
                                None if meta is None else meta[valid])
            # The group mask comes from the whole training set: it only shapes thresholds.
            oof[valid] = self._proba(x, coef, intercept, _pick(groups, valid))
        return oof

    # -- predicting ------------------------------------------------------------------
    def _proba(self, x: sp.csr_matrix, coef: np.ndarray, intercept: np.ndarray,
               groups: list[str] | None) -> np.ndarray:
        proba = expit(x @ coef.T.astype(np.float64) + intercept)
        if groups is not None and self.group_names_:
            index = {g: i for i, g in enumerate(self.group_names_)}
            for i, g in enumerate(groups):
                if g in index:  # an unseen group is not masked
                    proba[i] *= self.group_allowed_[index[g]]
        return proba

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("GenreTagger is not fitted: call fit() or GenreTagger.load()")

    def predict_proba(self, texts: Sequence[str], meta: np.ndarray | None = None, *,
                      tokens: Sequence[str] | None = None,
                      groups: Sequence[str] | None = None) -> np.ndarray:
        """``(n, n_genres)`` probabilities, columns in :attr:`labels_` order."""
        self._check_fitted()
        texts = [str(t) for t in texts]
        tokens_l = _as_list(tokens, len(texts), "tokens")
        meta_a = None if meta is None else np.asarray(meta, dtype=np.float64)
        x = self.features_.transform({"text": texts, "tokens": tokens_l}, meta_a)
        return self._proba(x, self.coef_, self.intercept_, _as_list(groups, len(texts), "groups"))

    def decide(self, proba: np.ndarray, mode: str | None = None) -> np.ndarray:
        """Boolean decisions from probabilities with ``mode``'s thresholds (and the rule)."""
        self._check_fitted()
        mode = mode or self.config.threshold_mode
        check_choice("GenreTagger.predict", "mode", mode, THRESHOLD_MODES)
        thresholds = self.thresholds_ if mode == "per_label" else self.global_threshold_
        return mm.apply_thresholds(proba, thresholds, self.config.at_least_one)

    def predict(self, texts: Sequence[str], meta: np.ndarray | None = None, *,
                tokens: Sequence[str] | None = None, groups: Sequence[str] | None = None,
                mode: str | None = None) -> list[list[str]]:
        """The predicted genres of each title (in :attr:`labels_` order)."""
        decisions = self.decide(self.predict_proba(texts, meta, tokens=tokens, groups=groups),
                                mode)
        return [[self.labels_[j] for j in np.flatnonzero(row)] for row in decisions]

    # -- persistence -----------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write ``<path>.npz`` (arrays) and ``<path>.json`` (manifest); return the npz path."""
        self._check_fitted()
        npz = Path(path).with_suffix(".npz")
        npz.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"labels": np.array(self.labels_, dtype=str), "coef": self.coef_,
                  "intercept": self.intercept_, "thresholds": self.thresholds_,
                  "global_threshold": np.array(self.global_threshold_),
                  "label_counts": self.label_counts_,
                  "group_names": np.array(self.group_names_, dtype=str),
                  "group_allowed": self.group_allowed_}
        arrays.update(self.features_.to_arrays())
        np.savez_compressed(npz, **arrays)
        manifest = {"format_version": FORMAT_VERSION, "kind": "genre_tagger",
                    "config": self.config.to_dict(), "labels": list(self.labels_),
                    "blocks": list(self.features_.blocks), "n_features": self.coef_.shape[1],
                    "n_train": self.n_train_, "arrays": npz.name}
        npz.with_suffix(".json").write_text(json.dumps(manifest, indent=2) + "\n")
        return npz

    @classmethod
    def load(cls, path: str | Path) -> GenreTagger:
        """Read a tagger written by :meth:`save` (``allow_pickle=False``)."""
        npz = Path(path).with_suffix(".npz")
        try:
            manifest = json.loads(npz.with_suffix(".json").read_text())
            arrays = dict(np.load(npz, allow_pickle=False))
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"cannot read genre tagger {npz}: {exc}") from exc
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ArtifactError(f"{npz}: format version {manifest.get('format_version')!r}, "
                                f"expected {FORMAT_VERSION}")
        tagger = cls(TaggerConfig.from_dict(manifest["config"]))
        tagger.labels_ = tuple(arrays["labels"].tolist())
        if list(tagger.labels_) != manifest["labels"]:
            raise ArtifactError(f"{npz}: labels differ from the manifest's")
        tagger.features_ = BlockFeatures.from_arrays(arrays)
        if tagger.features_.n_features != arrays["coef"].shape[1]:
            raise ArtifactError(f"{npz}: {tagger.features_.n_features} features but "
                                f"coefficients for {arrays['coef'].shape[1]}")
        tagger.coef_, tagger.intercept_ = arrays["coef"], arrays["intercept"]
        tagger.thresholds_ = arrays["thresholds"]
        tagger.global_threshold_ = float(arrays["global_threshold"])
        tagger.label_counts_ = arrays["label_counts"]
        tagger.group_names_ = tuple(arrays["group_names"].tolist())
        tagger.group_allowed_ = arrays["group_allowed"]
        tagger.n_train_ = manifest["n_train"]
        return tagger
