"""reco: a movie recommender engine for every MovieLens release.

The public API is re-exported here; see README.md and docs/ for the guided tour.
"""

import importlib
import os
from typing import Any

# OpenMP threads (XGBoost, scikit-learn) spin while they wait by default. When another
# process holds a core, that spinning slows fits down several times over. Measured with
# `python scripts/train.py` on the embedded default (2 cores): idle machine 7.9 s spinning
# vs 9.8 s sleeping; one core busy 64.7 s spinning vs 11.7 s sleeping. Shared machines are
# the common case, so waiters sleep unless the user says otherwise (OMP_WAIT_POLICY=ACTIVE
# for a dedicated machine). Only effective when reco is imported before OpenMP loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Public names and the module each lives in, imported on first use (PEP 562): a command
# that only reads data or builds features does not pay for scikit-learn, XGBoost and
# the text models (`scripts/build_features.py` on ml-latest-small: 1.5 s -> 0.5 s).
_EXPORTS: dict[str, str] = {
    "read_user_ids": "reco.batch",
    "recommend_for_users": "reco.batch",
    "ALSConfig": "reco.cf",
    "ALSRecommender": "reco.cf",
    "SVDConfig": "reco.cf",
    "SVDRecommender": "reco.cf",
    "ContentConfig": "reco.content",
    "ContentRecommender": "reco.content",
    "DataReport": "reco.dataset",
    "MovieLensData": "reco.dataset",
    "RatingScale": "reco.dataset",
    "ArtifactError": "reco.exceptions",
    "ConfigError": "reco.exceptions",
    "DatasetNotFoundError": "reco.exceptions",
    "DataFormatError": "reco.exceptions",
    "ModelFitError": "reco.exceptions",
    "NotFittedError": "reco.exceptions",
    "RecoError": "reco.exceptions",
    "UnknownIdError": "reco.exceptions",
    "FeatureConfig": "reco.features",
    "FeatureTables": "reco.features",
    "build_feature_tables": "reco.features",
    "HybridConfig": "reco.hybrid",
    "HybridRecommender": "reco.hybrid",
    "IdMap": "reco.ids",
    "PopularityConfig": "reco.popularity",
    "PopularityRecommender": "reco.popularity",
    "Recommender": "reco.recommender",
    "LoadConfig": "reco.movielens",
    "detect_layout": "reco.movielens",
    "load_movielens": "reco.movielens",
    "scan_ratings": "reco.movielens",
    "build_features": "reco.pipeline",
    "Split": "reco.split",
    "global_time_split": "reco.split",
    "per_user_split": "reco.split",
    "SyntheticConfig": "reco.synthetic",
    "default_dataset": "reco.synthetic",
    "generate": "reco.synthetic",
    "write_release": "reco.synthetic",
    "read_tmdb_movies": "reco.tmdb",
    "load_model": "reco.training",
    "train": "reco.training",
    "DownloadError": "reco.fetch",
    "fetch_movielens": "reco.fetch",
    "read_netflix_titles": "reco.netflix",
    "GenreTagger": "reco.genre_tagger",
    "TaggerConfig": "reco.genre_tagger",
    "predict_movielens_genres": "reco.genre_tagger_movielens",
    "DawidSkeneLabelModel": "reco.label_model",
    "LabelModelConfig": "reco.label_model",
    "majority_vote": "reco.label_model",
    "FamilyClassifier": "reco.family",
    "FamilyConfig": "reco.family",
    "fit_family_flag": "reco.family",
    "family_probabilities": "reco.family_movielens",
    "apply_text_models": "reco.text_apply",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'reco' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


__version__ = "0.1.0"

__all__ = [
    "DawidSkeneLabelModel",
    "DownloadError",
    "FamilyClassifier",
    "FamilyConfig",
    "GenreTagger",
    "LabelModelConfig",
    "TaggerConfig",
    "apply_text_models",
    "family_probabilities",
    "fetch_movielens",
    "fit_family_flag",
    "majority_vote",
    "predict_movielens_genres",
    "read_netflix_titles",
    "ALSConfig",
    "ALSRecommender",
    "ContentConfig",
    "ContentRecommender",
    "HybridConfig",
    "HybridRecommender",
    "IdMap",
    "PopularityConfig",
    "PopularityRecommender",
    "Recommender",
    "SVDConfig",
    "SVDRecommender",
    "load_model",
    "read_tmdb_movies",
    "read_user_ids",
    "recommend_for_users",
    "train",
    "ArtifactError",
    "ConfigError",
    "DataFormatError",
    "DataReport",
    "DatasetNotFoundError",
    "FeatureConfig",
    "FeatureTables",
    "LoadConfig",
    "ModelFitError",
    "MovieLensData",
    "NotFittedError",
    "RatingScale",
    "RecoError",
    "Split",
    "SyntheticConfig",
    "UnknownIdError",
    "build_feature_tables",
    "build_features",
    "default_dataset",
    "detect_layout",
    "generate",
    "global_time_split",
    "load_movielens",
    "per_user_split",
    "scan_ratings",
    "write_release",
]
