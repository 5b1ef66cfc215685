"""The ranker and the like model trained with ``xgboost.spark``.

The same XGBoost parameters as :func:`reco.ranking.booster.fit_booster` (hist trees,
``RankerConfig``'s depth, rounds, eta, subsampling, seed); ``binary:logistic`` (the
default ranker objective and the like model) with ``SparkXGBClassifier``, ``rank:ndcg``
with ``SparkXGBRanker`` grouped by user. Each Spark task trains on its partition of the
rows and the workers agree on every histogram and split (XGBoost's collective), so the
trees are those of one XGBoost on all the rows up to the quantile sketch, which is
merged from the workers' sketches, and the row subsampling, drawn per worker.

The result is a plain ``xgboost.Booster`` given the feature names (``RANK_FEATURES`` or
``LIKE_FEATURES``), which :func:`reco.ranking.booster.save_booster` writes as JSON like
any other.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import xgboost as xgb

from reco.exceptions import ModelFitError
from reco.ranking.booster import RankerConfig

log = logging.getLogger(__name__)


def _common(config: RankerConfig, workers: int) -> dict[str, Any]:
    return {
        "features_col": "features", "label_col": "label", "num_workers": workers,
        "n_estimators": config.n_estimators, "learning_rate": config.learning_rate,
        "max_depth": config.max_depth, "min_child_weight": config.min_child_weight,
        "subsample": config.subsample, "colsample_bytree": config.colsample_bytree,
        "tree_method": "hist", "random_state": config.random_state, "missing": np.nan,
        "verbosity": 0,
    }


def fit_spark_booster(rows: Any, feature_names: tuple[str, ...], config: RankerConfig,
                      objective: str, workers: int) -> xgb.Booster:
    """A booster trained on the Spark frame ``rows`` (``user_id, label, features``)."""
    from xgboost.spark import SparkXGBClassifier, SparkXGBRanker

    started = time.perf_counter()
    counts = rows.groupBy("label").count().collect()
    if len(counts) < 2:
        raise ModelFitError("ranker labels are all one value: nothing to learn from"
                            if counts else "no training rows for the ranker: too little data "
                            "in the label window")
    params = _common(config, workers)
    if objective.startswith("rank:"):
        estimator: Any = SparkXGBRanker(qid_col="user_id", objective=objective,
                                        lambdarank_pair_method="topk",
                                        eval_metric="ndcg@10", **params)
        rows = rows.orderBy("user_id")  # a user's rows together, as groups need
    else:
        # binary:logistic is the classifier's own objective (setting it is refused)
        estimator = SparkXGBClassifier(eval_metric="logloss", **params)
    booster = estimator.fit(rows).get_booster()
    booster.feature_names = list(feature_names)
    log.info("xgboost.spark %s on %d workers: %d rows x %d features in %.1fs", objective,
             workers, sum(int(r["count"]) for r in counts), len(feature_names),
             time.perf_counter() - started)
    return booster
