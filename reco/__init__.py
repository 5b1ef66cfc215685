"""reco: a movie recommender engine for every MovieLens release.

The public API is re-exported here; see README.md and docs/ for the guided tour.
"""

# Imported under private names (TYPE_CHECKING is deleted after its block): ``reco.os``
# or ``reco.Any`` would read as reco's API.
import importlib as _importlib
import os as _os
from typing import TYPE_CHECKING

# OpenMP threads (XGBoost, scikit-learn) spin while they wait by default. When another
# process holds a core, that spinning slows fits down several times over. Measured with
# `python scripts/train.py` on the embedded default (2 cores): idle machine 7.9 s spinning
# vs 9.8 s sleeping; one core busy 64.7 s spinning vs 11.7 s sleeping. Shared machines are
# the common case, so waiters sleep unless the user says otherwise (OMP_WAIT_POLICY=ACTIVE
# for a dedicated machine). Only effective when reco is imported before OpenMP loads.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Public names and the module each lives in, imported on first use (PEP 562): a command
# that only reads data or builds features does not pay for scikit-learn, XGBoost and
# the text models (`scripts/build_features.py` on ml-latest-small: 1.5 s -> 0.5 s).
_EXPORTS: dict[str, str] = {
    "read_user_ids": "reco.pipelines.batch",
    "recommend_for_users": "reco.pipelines.batch",
    "ALSConfig": "reco.models.mf",
    "ALSRecommender": "reco.models.mf",
    "SVDConfig": "reco.models.mf",
    "SVDRecommender": "reco.models.mf",
    "ContentConfig": "reco.models.content",
    "ContentRecommender": "reco.models.content",
    "DataReport": "reco.data.dataset",
    "MovieLensData": "reco.data.dataset",
    "RatingScale": "reco.data.dataset",
    "ArtifactError": "reco.exceptions",
    "ConfigError": "reco.exceptions",
    "DatasetNotFoundError": "reco.exceptions",
    "DataFormatError": "reco.exceptions",
    "ModelFitError": "reco.exceptions",
    "NotFittedError": "reco.exceptions",
    "RecoError": "reco.exceptions",
    "UnknownIdError": "reco.exceptions",
    "FeatureConfig": "reco.features.tables",
    "FeatureTables": "reco.features.tables",
    "build_feature_tables": "reco.features.tables",
    "HybridConfig": "reco.ranking.hybrid",
    "HybridRecommender": "reco.ranking.hybrid",
    "IdMap": "reco.ids",
    "PopularityConfig": "reco.models.popularity",
    "PopularityRecommender": "reco.models.popularity",
    "BaseRecommender": "reco.models.base",
    "Recommender": "reco.models.base",
    "Interactions": "reco.models.interactions",
    "LoadConfig": "reco.data.movielens",
    "detect_layout": "reco.data.movielens",
    "load_movielens": "reco.data.movielens",
    "scan_ratings": "reco.data.movielens",
    "build_features": "reco.pipelines.features",
    "Split": "reco.data.split",
    "global_time_split": "reco.data.split",
    "per_user_split": "reco.data.split",
    "SyntheticConfig": "reco.data.synthetic",
    "default_dataset": "reco.data.synthetic",
    "generate": "reco.data.synthetic",
    "write_release": "reco.data.synthetic",
    "read_tmdb_movies": "reco.data.tmdb",
    "ArtifactStore": "reco.artifacts.store",
    "load_model": "reco.artifacts.model_dir",
    "save_model": "reco.artifacts.model_dir",
    "train": "reco.pipelines.train",
    "DownloadError": "reco.data.fetch",
    "fetch_movielens": "reco.data.fetch",
    "read_netflix_titles": "reco.data.netflix",
    "GenreTagger": "reco.text.genre_tagger",
    "TaggerConfig": "reco.text.genre_tagger",
    "predict_movielens_genres": "reco.text.tagger_inputs",
    "DawidSkeneLabelModel": "reco.text.label_model",
    "LabelModelConfig": "reco.text.label_model",
    "majority_vote": "reco.text.label_model",
    "FamilyClassifier": "reco.text.family",
    "FamilyConfig": "reco.text.family",
    "fit_family_flag": "reco.text.family",
    "family_probabilities": "reco.text.movielens",
    "apply_text_models": "reco.pipelines.text_models",
}

if TYPE_CHECKING:  # what type checkers and IDEs see; nothing is imported at run time
    from reco.artifacts.model_dir import load_model, save_model
    from reco.artifacts.store import ArtifactStore
    from reco.data.dataset import DataReport, MovieLensData, RatingScale
    from reco.data.fetch import DownloadError, fetch_movielens
    from reco.data.movielens import LoadConfig, detect_layout, load_movielens, scan_ratings
    from reco.data.netflix import read_netflix_titles
    from reco.data.split import Split, global_time_split, per_user_split
    from reco.data.synthetic import SyntheticConfig, default_dataset, generate, write_release
    from reco.data.tmdb import read_tmdb_movies
    from reco.exceptions import (
        ArtifactError,
        ConfigError,
        DataFormatError,
        DatasetNotFoundError,
        ModelFitError,
        NotFittedError,
        RecoError,
        UnknownIdError,
    )
    from reco.features.tables import FeatureConfig, FeatureTables, build_feature_tables
    from reco.ids import IdMap
    from reco.models.base import BaseRecommender, Recommender
    from reco.models.content import ContentConfig, ContentRecommender
    from reco.models.interactions import Interactions
    from reco.models.mf import ALSConfig, ALSRecommender, SVDConfig, SVDRecommender
    from reco.models.popularity import PopularityConfig, PopularityRecommender
    from reco.pipelines.batch import read_user_ids, recommend_for_users
    from reco.pipelines.features import build_features
    from reco.pipelines.text_models import apply_text_models
    from reco.pipelines.train import train
    from reco.ranking.hybrid import HybridConfig, HybridRecommender
    from reco.text.family import FamilyClassifier, FamilyConfig, fit_family_flag
    from reco.text.genre_tagger import GenreTagger, TaggerConfig
    from reco.text.label_model import DawidSkeneLabelModel, LabelModelConfig, majority_vote
    from reco.text.movielens import family_probabilities
    from reco.text.tagger_inputs import predict_movielens_genres
del TYPE_CHECKING


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'reco' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    # the public names only: not the module's machinery, nor subpackages a caller imported
    return sorted([*__all__, "__version__"])


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
    "BaseRecommender",
    "Interactions",
    "Recommender",
    "SVDConfig",
    "SVDRecommender",
    "load_model",
    "ArtifactStore",
    "save_model",
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
