"""The family-friendly classifier, trained on weak labels (MovieLens: :mod:`reco.text.movielens`).

Features: TF-IDF of ``title + description`` (word n-grams), one indicator per Netflix
genre label (``listed_in``) and a few type/duration bins; a logistic regression fit on
the label model's probabilities (see :mod:`reco.text.labeling_functions`,
:mod:`reco.text.label_model`). It never sees the age rating.

Persistence without pickle: ``family.npz`` (vocabulary as a string array, idf, genre
labels, coef, intercept; loaded with ``allow_pickle=False``) and ``family.json``
(format version, config, feature counts). The TF-IDF transform is recomputed here from
the vocabulary and idf, so a loaded model predicts exactly what the fitted one did.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from reco.config import ConfigBase, check_choice, check_int, check_range
from reco.data.netflix import (
    DESCRIPTION,
    DURATION_MINUTES,
    LISTED_IN,
    MOVIE_TYPE,
    NF_TITLE,
    SEASONS,
    SHOW_TYPE,
    TYPE,
)
from reco.exceptions import ArtifactError, ModelFitError, NotFittedError
from reco.text.augment import augment_texts
from reco.text.label_model import LabelModelConfig, weak_labels
from reco.text.labeling_functions import LabelingFunction, apply_lfs

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
NPZ_FILE, JSON_FILE = "family.npz", "family.json"
_TOKEN_PATTERN = r"(?u)\b\w\w+\b"
#: The columns the classifier reads (no age rating among them).
FEATURE_COLUMNS: tuple[str, ...] = (NF_TITLE, DESCRIPTION, LISTED_IN, TYPE, DURATION_MINUTES,
                                    SEASONS)
#: Type and duration bins (a missing duration, as for MovieLens movies, sets no bin).
META_FEATURES: tuple[str, ...] = ("is_movie", "movie_lt30", "movie_30_89", "movie_90_119",
                                  "movie_ge120", "show_1_season", "show_2_seasons",
                                  "show_3plus_seasons")


def netflix_text(frame: pl.DataFrame) -> list[str]:
    """``title + ". " + description`` per row (the TF-IDF input)."""
    return frame.select(pl.concat_str([pl.col(NF_TITLE).fill_null(""),
                                       pl.col(DESCRIPTION).fill_null("")], separator=". ")
                        ).to_series().to_list()


def meta_matrix(frame: pl.DataFrame) -> np.ndarray:
    """The :data:`META_FEATURES` as a float matrix ``(n, 8)``."""
    minutes, seasons = pl.col(DURATION_MINUTES), pl.col(SEASONS)
    movie, show = pl.col(TYPE) == MOVIE_TYPE, pl.col(TYPE) == SHOW_TYPE
    bins = [movie, movie & (minutes < 30), movie & minutes.is_between(30, 89),
            movie & minutes.is_between(90, 119), movie & (minutes >= 120),
            show & (seasons == 1), show & (seasons == 2), show & (seasons >= 3)]
    return frame.select([b.fill_null(False).cast(pl.Float64).alias(n)
                         for b, n in zip(bins, META_FEATURES)]).to_numpy()


@dataclass(frozen=True)
class FamilyConfig(ConfigBase):
    """Settings of :class:`FamilyClassifier`.

    ``label_mode``: "soft" fits each weakly labelled row twice, as family with weight
    ``p`` and as not family with weight ``1 - p`` (the expected log loss under the weak
    label); "hard" fits the rounded label with weight ``|2p - 1|`` (confidence).
    ``augment_copies`` noisy copies of every family-labelled row (the minority class)
    are added (:func:`reco.text.augment.augment_texts`).
    """

    ngram_max: int = 2
    min_df: int = 2
    max_features: int = 50_000
    C: float = 4.0
    genre_weight: float = 1.0
    meta_weight: float = 1.0
    label_mode: str = "soft"
    augment_copies: int = 0
    augment_swap: float = 0.1
    augment_delete: float = 0.1
    random_state: int = 0

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_int(name, "ngram_max", self.ngram_max, 1, 3)
        check_int(name, "min_df", self.min_df, 1)
        check_int(name, "max_features", self.max_features, 10)
        check_range(name, "C", self.C, 1e-6, 1e6)
        check_range(name, "genre_weight", self.genre_weight, 0.0, 100.0)
        check_range(name, "meta_weight", self.meta_weight, 0.0, 100.0)
        check_choice(name, "label_mode", self.label_mode, ("soft", "hard"))
        check_int(name, "augment_copies", self.augment_copies, 0, 10)
        check_range(name, "augment_swap", self.augment_swap, 0.0, 0.9)
        check_range(name, "augment_delete", self.augment_delete, 0.0, 0.9)
        check_int(name, "random_state", self.random_state, 0)


class FamilyClassifier:
    """TF-IDF + genres + duration bins into a logistic regression; ``P(family)``."""

    #: What :func:`fit_family_flag` trained on (source, coverage), saved in ``family.json``.
    training_: dict[str, Any]

    def __init__(self, config: FamilyConfig | None = None) -> None:
        self.config = config or FamilyConfig()

    # -- features ----------------------------------------------------------------------
    def _tfidf(self, texts: list[str]) -> sp.csr_matrix:
        counts = CountVectorizer(vocabulary={t: i for i, t in enumerate(self.vocabulary_)},
                                 ngram_range=(1, self.config.ngram_max),
                                 token_pattern=_TOKEN_PATTERN, dtype=np.float64).transform(texts)
        counts.data = 1.0 + np.log(counts.data)  # sublinear tf
        return normalize(counts @ sp.diags(self.idf_), norm="l2", copy=False).tocsr()

    def _genres(self, frame: pl.DataFrame) -> sp.csr_matrix:
        index = {g: i for i, g in enumerate(self.genres_)}
        rows = frame.select(pl.int_range(pl.len()).alias("r"), pl.col("listed_in")).explode(
            "listed_in").with_columns(
            pl.col("listed_in").replace_strict(index, default=None, return_dtype=pl.Int64)
            .alias("c")).drop_nulls("c")
        data = np.full(rows.height, self.config.genre_weight)
        return sp.csr_matrix((data, (rows["r"].to_numpy(), rows["c"].to_numpy())),
                             shape=(frame.height, len(self.genres_)))

    def _features(self, frame: pl.DataFrame, texts: list[str] | None = None) -> sp.csr_matrix:
        texts = netflix_text(frame) if texts is None else texts
        meta = sp.csr_matrix(meta_matrix(frame) * self.config.meta_weight)
        return sp.hstack([self._tfidf(texts), self._genres(frame), meta], format="csr")

    # -- fit / predict -----------------------------------------------------------------
    def fit(self, titles: pl.DataFrame, family_proba: np.ndarray) -> FamilyClassifier:
        """Fit on weak labels.

        Parameters
        ----------
        titles
            Netflix-shaped titles with :data:`reco.family_text.FEATURE_COLUMNS` (any
            other column, the age rating included, is dropped before use).
        family_proba
            Weak ``P(family)`` per title; NaN rows (no LF voted) are left out.
        """
        frame = _select(titles)
        proba = np.asarray(family_proba, dtype=np.float64)
        if proba.shape != (frame.height,):
            raise ValueError(f"family_proba has shape {proba.shape}, titles {frame.height} rows")
        texts = netflix_text(frame)
        vectorizer = TfidfVectorizer(ngram_range=(1, self.config.ngram_max),
                                     min_df=self.config.min_df,
                                     max_features=self.config.max_features,
                                     token_pattern=_TOKEN_PATTERN, sublinear_tf=True)
        vectorizer.fit(texts)  # vocabulary and idf from every title: no label involved
        terms = vectorizer.get_feature_names_out()
        self.vocabulary_ = np.asarray(terms, dtype=str)
        self.idf_ = vectorizer.idf_.astype(np.float64)
        self.genres_ = np.asarray(sorted(frame["listed_in"].explode().drop_nulls().unique()),
                                  dtype=str)
        keep = np.flatnonzero(np.isfinite(proba))
        frame, proba = frame[keep], np.clip(proba[keep], 0.0, 1.0)
        texts = [texts[i] for i in keep]
        if frame.height == 0:
            raise ModelFitError("no title has a weak label (every LF abstained)")
        X = self._features(frame, texts)
        if self.config.augment_copies:
            X, proba = self._augment(frame, texts, proba, X)
        X, y, weight = _expand_labels(X, proba, self.config.label_mode)
        if len(np.unique(y)) < 2:
            raise ModelFitError(f"weak labels hold one class only ({int(y[0])})")
        model = LogisticRegression(C=self.config.C, max_iter=5000)
        # One BLAS/OpenMP thread: on a shared 2-core machine the default pools contend
        # and the fit ran 40x slower (7.2 s vs 0.16 s measured on an 17k x 18k matrix).
        with threadpool_limits(limits=1):
            model.fit(X, y, sample_weight=weight)
        self.coef_ = model.coef_.ravel().astype(np.float64)
        self.intercept_ = np.asarray(model.intercept_, dtype=np.float64)
        log.info("family classifier: %d weakly labelled titles, %d features, mean label %.3f",
                 len(keep), X.shape[1], float(proba.mean()))
        return self

    def _augment(self, frame: pl.DataFrame, texts: list[str], proba: np.ndarray,
                 X: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
        minority = np.flatnonzero(proba > 0.5)
        if proba.mean() > 0.5:  # family is the majority: augment the other class
            minority = np.flatnonzero(proba < 0.5)
        cfg = self.config
        copies = augment_texts([texts[i] for i in minority], cfg.augment_copies,
                               cfg.augment_swap, cfg.augment_delete, cfg.random_state)
        index = np.tile(minority, cfg.augment_copies)
        extra = self._features(frame[index], copies)
        log.info("augmentation: %d copies of %d minority-class titles", len(copies), len(minority))
        return sp.vstack([X, extra], format="csr"), np.concatenate([proba, proba[index]])

    def decision_function(self, titles: pl.DataFrame) -> np.ndarray:
        """Log-odds of family per title."""
        if not hasattr(self, "coef_"):
            raise NotFittedError("FamilyClassifier used before fit")
        return self._features(_select(titles)) @ self.coef_ + self.intercept_[0]

    def predict_proba(self, titles: pl.DataFrame) -> np.ndarray:
        """``P(family)`` per title (float64)."""
        return 1.0 / (1.0 + np.exp(-self.decision_function(titles)))

    # -- persistence -------------------------------------------------------------------
    def save(self, directory: str | Path, training: dict | None = None) -> Path:
        """Write ``family.npz`` and ``family.json`` into ``directory``; returns it.

        ``training`` (JSON-ready: data, label source, coverage...) is stored in the JSON.
        """
        if not hasattr(self, "coef_"):
            raise NotFittedError("FamilyClassifier.save called before fit")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(directory / NPZ_FILE, vocabulary=self.vocabulary_, idf=self.idf_,
                 genres=self.genres_, meta_features=np.asarray(META_FEATURES, dtype=str),
                 coef=self.coef_, intercept=self.intercept_)
        meta = {"format_version": FORMAT_VERSION, "config": self.config.to_dict(),
                "n_terms": len(self.vocabulary_), "n_genres": len(self.genres_),
                "meta_features": list(META_FEATURES), "training": training or {}}
        (directory / JSON_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> FamilyClassifier:
        """Read a model written by :meth:`save`, checking version and shapes."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / JSON_FILE).read_text(encoding="utf-8"))
            arrays = dict(np.load(directory / NPZ_FILE, allow_pickle=False))
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"{directory}: cannot read the family model: {exc}") from exc
        if meta.get("format_version") != FORMAT_VERSION:
            raise ArtifactError(f"{directory / JSON_FILE}: format_version "
                                f"{meta.get('format_version')!r}, expected {FORMAT_VERSION}")
        if list(arrays["meta_features"]) != list(META_FEATURES):
            raise ArtifactError(f"{directory / NPZ_FILE}: meta features "
                                f"{list(arrays['meta_features'])}, expected {list(META_FEATURES)}")
        model = cls(FamilyConfig.from_dict(meta["config"]))
        model.vocabulary_, model.idf_ = arrays["vocabulary"], arrays["idf"]
        model.genres_, model.coef_ = arrays["genres"], arrays["coef"]
        model.intercept_ = arrays["intercept"]
        expected = len(model.vocabulary_) + len(model.genres_) + len(META_FEATURES)
        if model.coef_.shape != (expected,) or model.idf_.shape != model.vocabulary_.shape:
            raise ArtifactError(f"{directory / NPZ_FILE}: coef has {model.coef_.shape[0]} "
                                f"weights for {expected} features")
        return model


def _select(titles: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in FEATURE_COLUMNS if c not in titles.columns]
    if missing:
        raise ValueError(f"family classifier needs column(s) {missing}; got {titles.columns}")
    return titles.select(FEATURE_COLUMNS)


def _expand_labels(X: sp.csr_matrix, proba: np.ndarray,
                   mode: str) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    if mode == "hard":
        keep = proba != 0.5
        return X[keep], (proba[keep] > 0.5).astype(int), np.abs(2 * proba[keep] - 1)
    y = np.concatenate([np.ones(len(proba), int), np.zeros(len(proba), int)])
    weight = np.concatenate([proba, 1.0 - proba])
    keep = weight > 0
    return sp.vstack([X, X], format="csr")[keep], y[keep], weight[keep]


# -- the whole flag: LFs -> label model -> classifier ---------------------------------
def fit_family_flag(titles: pl.DataFrame, source: str = "majority",
                    config: FamilyConfig | None = None,
                    label_config: LabelModelConfig | None = None,
                    lfs: tuple[LabelingFunction, ...] | None = None) -> FamilyClassifier:
    """LF votes on ``titles``, weak labels from ``source``, then the classifier.

    No step reads the age rating: the LFs see only
    :data:`reco.text.labeling_functions.LF_INPUT_COLUMNS`, the classifier
    :data:`FEATURE_COLUMNS`. ``training_`` on the result records the source and coverage.
    """
    votes = apply_lfs(titles, lfs)
    proba = weak_labels(votes, source, label_config)
    coverage = float(np.isfinite(proba).mean())
    log.info("family flag: %d titles, %.1f%% covered by an LF, weak labels from %s",
             titles.height, 100 * coverage, source)
    model = FamilyClassifier(config).fit(titles, proba)
    model.training_ = {"titles": titles.height, "lf_coverage": coverage, "label_source": source,
                       "weak_family_share": float(np.mean(proba[np.isfinite(proba)] > 0.5))}
    return model
