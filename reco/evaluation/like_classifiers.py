"""Like/dislike classifiers compared on two feature sets, without leakage.

Training rows are the label window inside the training part (each user's last 20% of
train ratings) with features computed from the ratings before it; test rows are the
protocol's test ratings with features computed from the whole training part. The same
rows go to logistic regression, a random forest and XGBoost, on

* the **seed recipe**: user, movie and user-genre aggregates only;
* **reco's full features**: those plus the CF score, the explicit rating model's
  prediction and its deviation from the user's mean, content similarity, movie age.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import polars as pl
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from reco.columns import MOVIE_ID, RATING, USER_ID
from reco.data.split import (
    LIKE_THRESHOLD,
    Split,
    per_user_split,
    tags_before_label_window,
    test_period,
)
from reco.evaluation.metrics import classification_metrics
from reco.ranking.booster import fit_booster, predict
from reco.ranking.hybrid import HybridRecommender
from reco.ranking.pair_features import build_rows, to_matrix
from reco.ranking.schema import GENRE_COLUMNS, LIKE_FEATURES, MOVIE_COLUMNS, USER_COLUMNS
from reco.ranking.stage_one import StageOne

log = logging.getLogger(__name__)

SEED_FEATURES: tuple[str, ...] = (
    tuple(f"u_{c}" for c in USER_COLUMNS) + tuple(f"m_{c}" for c in MOVIE_COLUMNS) + GENRE_COLUMNS
)


def _xy(pairs: pl.DataFrame, stage: StageOne) -> tuple[pl.DataFrame, np.ndarray]:
    rows = build_rows(pairs.select(USER_ID, MOVIE_ID), stage)
    return rows, (pairs[RATING].to_numpy() >= LIKE_THRESHOLD).astype(np.int8)


def _classifiers(seed: int) -> dict[str, Any]:
    impute = lambda: SimpleImputer(strategy="median", keep_empty_features=True)  # noqa: E731
    return {
        "logistic regression": make_pipeline(impute(), StandardScaler(),
                                             LogisticRegression(max_iter=2000)),
        "random forest": make_pipeline(impute(), RandomForestClassifier(
            n_estimators=300, min_samples_leaf=5, n_jobs=2, random_state=seed)),
    }


def classification_comparison(
    split: Split, hybrid: HybridRecommender, context: dict[str, Any]
) -> list[dict[str, Any]]:
    """ROC-AUC, accuracy and F1 of three classifiers on two feature sets.

    ``hybrid`` is fitted on ``split.train``; its stage one gives the test rows' features.
    ``context`` holds ``movies`` and optionally ``tags``, ``links``, ``tmdb``.
    """
    inner = per_user_split(split.train)
    # the inner stage sees tags up to its own label window, as the hybrid's fit does
    inner_tags = tags_before_label_window(context.get("tags"), test_period(inner, split.train))
    window_stage = hybrid.stage_one(inner.train, context["movies"], tags=inner_tags,
                                    links=context.get("links"), tmdb=context.get("tmdb"))
    train_rows, y_train = _xy(inner.test, window_stage)
    test_rows, y_test = _xy(split.test, hybrid.stage_)
    config = hybrid.config.ranker
    results = []
    for feature_set, columns in (("seed recipe", SEED_FEATURES), ("reco full", LIKE_FEATURES)):
        x_train, x_test = to_matrix(train_rows, columns), to_matrix(test_rows, columns)
        for name, model in _classifiers(config.random_state).items():
            started = time.perf_counter()
            model.fit(x_train, y_train)
            p = model.predict_proba(x_test)[:, 1]
            results.append({"features": feature_set, "classifier": name,
                            "fit_seconds": round(time.perf_counter() - started, 3),
                            **classification_metrics(y_test, p)})
        started = time.perf_counter()
        booster = fit_booster(x_train, y_train, columns, config, "binary:logistic")
        p = predict(booster, x_test, columns)
        results.append({"features": feature_set, "classifier": "XGBoost",
                        "fit_seconds": round(time.perf_counter() - started, 3),
                        **classification_metrics(y_test, p)})
    log.info("classification: %d train rows, %d test rows", len(y_train), len(y_test))
    return results
