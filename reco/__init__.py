"""reco: a movie recommender engine for every MovieLens release.

The public API is re-exported here; see README.md and docs/ for the guided tour.
"""

import os

# OpenMP threads (XGBoost, scikit-learn) spin while they wait by default. When another
# process holds a core, that spinning slows fits down several times over. Measured with
# `python scripts/train.py` on the embedded default (2 cores): idle machine 7.9 s spinning
# vs 9.8 s sleeping; one core busy 64.7 s spinning vs 11.7 s sleeping. Shared machines are
# the common case, so waiters sleep unless the user says otherwise (OMP_WAIT_POLICY=ACTIVE
# for a dedicated machine). Only effective when reco is imported before OpenMP loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from reco.batch import read_user_ids, recommend_for_users
from reco.cf import ALSConfig, ALSRecommender, SVDConfig, SVDRecommender
from reco.content import ContentConfig, ContentRecommender
from reco.dataset import DataReport, MovieLensData, RatingScale
from reco.exceptions import (
    ArtifactError,
    ConfigError,
    DatasetNotFoundError,
    DataFormatError,
    ModelFitError,
    NotFittedError,
    RecoError,
    UnknownIdError,
)
from reco.features import FeatureConfig, FeatureTables, build_feature_tables
from reco.hybrid import HybridConfig, HybridRecommender
from reco.ids import IdMap
from reco.popularity import PopularityConfig, PopularityRecommender
from reco.recommender import Recommender
from reco.movielens import LoadConfig, detect_layout, load_movielens, scan_ratings
from reco.pipeline import build_features
from reco.split import Split, global_time_split, per_user_split
from reco.synthetic import SyntheticConfig, default_dataset, generate, write_release
from reco.tmdb import read_tmdb_movies
from reco.training import load_model, train
from reco.fetch import DownloadError, fetch_movielens
from reco.netflix import read_netflix_titles
from reco.genre_tagger import GenreTagger, TaggerConfig
from reco.genre_tagger_movielens import predict_movielens_genres
from reco.label_model import DawidSkeneLabelModel, LabelModelConfig, majority_vote
from reco.family import FamilyClassifier, FamilyConfig, fit_family_flag
from reco.family_movielens import family_probabilities
from reco.text_apply import apply_text_models

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
