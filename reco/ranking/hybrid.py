"""reco's full recommender: CF + content + popularity candidates, re-ranked by XGBoost.

How the time windows are cut (no leakage)
-----------------------------------------
``fit(ratings)`` splits the ratings it is given the way ``shared/EVALUATION.md`` splits a
release: for each user with at least 5 ratings, the last ``max(1, rint(0.2 n))`` by
``(timestamp, movie_id)`` form the **label window**; everything earlier is the **feature
window**. Stage-one models (ALS, the explicit rating model, content, popularity) and
the feature tables are fitted on the feature window only; candidates are generated from
them; labels (liked = rating >= 3.5 in the label window) come from the later ratings. So
the ranker learns to predict a user's *next* likes from what was known *before* them,
which is exactly the situation at serving (and evaluation) time.

After the two XGBoost models are trained, stage one is refitted on all the ratings
(feature window + label window) and that is what ``recommend`` uses.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from reco.ranking.candidates import SOURCES, CandidateConfig, Candidates, generate_candidates
from reco.models.mf import ALSConfig, ALSRecommender, SVDConfig, SVDRecommender
from reco.columns import GENRES, MOVIE_ID, RATING, USER_ID, YEAR
from reco.config import ConfigBase, check_choice
from reco.models.content import ContentConfig, ContentRecommender
from reco.features.temporal import RecentItems, TimePopularity
from reco.features.tables import FeatureConfig, build_feature_tables
from reco.models.popularity import PopularityConfig, PopularityRecommender
from reco.ranking.booster import Booster, RankerConfig, fit_booster, predict, sample_rows
from reco.ranking.pair_features import (
    LIKE_FEATURES, RANK_FEATURES, StageOne, build_rows, cf_score_rank, pair_features, to_matrix,
)
from reco.models.base import Recommender
from reco.data.split import per_user_split
from reco.ranking.user_state import UserContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HybridConfig(ConfigBase):
    """Configs of every part of the full recommender (each validated on its own).

    ``rating_model`` picks the explicit rating predictor behind the ``rating_pred``
    features: ``"explicit_als"`` (``rating_als``; on ml-latest-small RMSE 0.871 and the
    like model's ROC-AUC 0.813) or ``"svd"`` (``rating_svd``, centred; RMSE 0.920, AUC
    0.806, about ten times cheaper on 32M ratings).
    """

    cf: ALSConfig = field(default_factory=ALSConfig)
    rating_model: str = "explicit_als"
    # 8 iterations: on ml-latest-small the test RMSE is the same as with 15 (0.8707) at
    # half the cost, which matters at 32M ratings
    rating_als: ALSConfig = field(
        default_factory=lambda: ALSConfig(feedback="explicit", iterations=8))
    rating_svd: SVDConfig = field(default_factory=lambda: SVDConfig(center="both"))
    content: ContentConfig = field(default_factory=ContentConfig)
    candidates: CandidateConfig = field(default_factory=CandidateConfig)
    ranker: RankerConfig = field(default_factory=RankerConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    use_content: bool = True

    def __post_init__(self) -> None:
        check_choice("HybridConfig", "rating_model", self.rating_model, ("explicit_als", "svd"))

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None = None) -> HybridConfig:  # type: ignore[override]
        values = dict(values or {})
        nested = {f.name: f for f in fields(cls)}
        for name, value in list(values.items()):
            spec = nested.get(name)
            if spec is not None and isinstance(value, dict):
                klass = type(spec.default_factory())  # type: ignore[misc]
                values[name] = klass.from_dict(value)
        return super().from_dict(values)  # type: ignore[return-value]


def _liked_pairs(ratings: pl.DataFrame, threshold: float) -> pl.DataFrame:
    return ratings.filter(pl.col(RATING) >= threshold).select(
        USER_ID, MOVIE_ID, pl.lit(1, dtype=pl.Int8).alias("label")
    )


class HybridRecommender(Recommender):
    """The two-stage recommender. ``fit(ratings, movies, tags=, links=, tmdb=)``."""

    name = "reco"
    config_class = HybridConfig
    config: HybridConfig

    def fit(self, ratings: pl.DataFrame, movies: pl.DataFrame | None = None,  # type: ignore[override]
            **context: Any) -> HybridRecommender:
        if movies is None:
            raise ValueError("HybridRecommender.fit needs the movies table")
        return super().fit(ratings, movies, ratings_frame=ratings, **context)

    # ------------------------------------------------------------ fitting
    def _stage_one(self, ratings: pl.DataFrame, movies: pl.DataFrame,
                   context: dict[str, Any]) -> StageOne:
        cfg = self.config
        started = time.perf_counter()
        cf = ALSRecommender(cfg.cf).fit(ratings)
        rating: Recommender = (
            ALSRecommender(cfg.rating_als).fit(ratings) if cfg.rating_model == "explicit_als"
            else SVDRecommender(cfg.rating_svd).fit(ratings)
        )
        content = None
        if cfg.use_content:
            content = ContentRecommender(cfg.content).fit(
                ratings, movies, tags=context.get("tags"), links=context.get("links"),
                tmdb=context.get("tmdb"),
            )
        popular = PopularityRecommender(
            PopularityConfig(like_threshold=cfg.ranker.like_threshold)
        ).fit(ratings)
        tables = build_feature_tables(ratings, movies, cfg.features)
        log.info("stage one on %d ratings in %.1fs", ratings.height, time.perf_counter() - started)
        return StageOne(cf, rating, content, popular, tables, movies.select(MOVIE_ID, GENRES, YEAR),
                        TimePopularity.from_ratings(ratings), RecentItems.from_ratings(ratings),
                        like_threshold=cfg.ranker.like_threshold)

    def _fit(self, matrix: sp.csr_matrix, **context: Any) -> None:
        ratings: pl.DataFrame = context.pop("ratings_frame")
        movies: pl.DataFrame = context.pop("movies")
        cfg = self.config
        window = per_user_split(ratings)
        if window.test.is_empty():
            raise ValueError("too few ratings for a label window: users need >= 5 ratings")
        stage = self._stage_one(window.train, movies, context)
        rng = np.random.default_rng(cfg.ranker.random_state)
        liked = _liked_pairs(window.test, cfg.ranker.like_threshold)
        users = np.sort(liked[USER_ID].unique().to_numpy())
        if users.size > cfg.ranker.max_train_users:
            users = np.sort(rng.choice(users, cfg.ranker.max_train_users, replace=False))
        people = stage.store.known_users(users)
        candidates = generate_candidates(people, stage.store, cfg.candidates)
        labels = candidates.frame(people).join(
            liked, on=[USER_ID, MOVIE_ID], how="left", maintain_order="left"
        )["label"].fill_null(0).to_numpy()
        candidate_recall = float(labels.sum() / max(liked.filter(
            pl.col(USER_ID).is_in(pl.Series(users).implode())).height, 1))
        n_candidate_rows = len(candidates)
        # the CF rank is among all of a user's candidates, so it is taken before sampling
        cf_rank = cf_score_rank(stage, people, candidates.rows, candidates.movie_ids)
        picked = sample_rows(labels, cfg.ranker.max_train_rows, rng)
        labels = labels[picked]
        extra = {f"rank_in_{s}": r[picked] for s, r in candidates.ranks.items()}
        features = pair_features(stage, people, candidates.rows[picked],
                                 candidates.movie_ids[picked], RANK_FEATURES,
                                 extra | {"cf_score_rank": cf_rank[picked]})
        groups = np.bincount(candidates.rows[picked])
        groups = groups[groups > 0]
        ranking = cfg.ranker.objective.startswith("rank:")
        self.ranker_ = fit_booster(
            features, labels, RANK_FEATURES, cfg.ranker,
            cfg.ranker.objective, groups if ranking else None,
        )
        rated = window.test.filter(pl.col(USER_ID).is_in(pl.Series(users).implode()))
        rated = rated[sample_rows(np.zeros(rated.height), cfg.ranker.max_train_rows, rng,
                                  keep_positives=False)]
        like_rows = build_rows(rated.select(USER_ID, MOVIE_ID), stage, LIKE_FEATURES)
        self.like_model_ = fit_booster(
            to_matrix(like_rows, LIKE_FEATURES),
            (rated[RATING].to_numpy() >= cfg.ranker.like_threshold).astype(np.int8),
            LIKE_FEATURES, cfg.ranker, "binary:logistic",
        )
        self.window_ = {
            "feature_window_ratings": window.train.height,
            "label_window_ratings": window.test.height,
            "ranker_users": int(users.size),
            "candidate_rows": n_candidate_rows,
            "ranker_rows": int(labels.size),
            "ranker_positive_rate": float(labels.mean()),
            "like_rows": like_rows.height,
            "candidate_recall": candidate_recall,
        }
        log.info("ranker windows: %s", self.window_)
        self.stage_ = self._stage_one(ratings, movies, context)

    # ------------------------------------------------------------ scoring
    def rank_context(self, context: UserContext) -> tuple[Candidates, np.ndarray]:
        """The candidates of the users in ``context`` and their ranker scores."""
        self._check_fitted()
        stage = self.stage_
        candidates = generate_candidates(context, stage.store, self.config.candidates)
        extra = {f"rank_in_{s}": candidates.ranks[s] for s in SOURCES}
        features = pair_features(stage, context, candidates.rows, candidates.movie_ids,
                                 RANK_FEATURES, extra)
        return candidates, predict(self.ranker_, features, RANK_FEATURES)

    def score_context_pairs(self, context: UserContext, rows: np.ndarray,
                            movie_ids: np.ndarray) -> np.ndarray:
        """Ranker scores of movies that are not candidates (no source rank; CF rank
        among these pairs), e.g. to top up a filtered list."""
        features = pair_features(self.stage_, context, rows, movie_ids, RANK_FEATURES)
        return predict(self.ranker_, features, RANK_FEATURES)

    def new_user_context(self, movie_ids: np.ndarray | list[int], ratings: np.ndarray | list[float],
                         timestamps: np.ndarray | list[int] | None = None) -> UserContext:
        """A person the model never saw, folded in from their ratings (see
        :meth:`FeatureStore.new_user <reco.ranking.stage_arrays.FeatureStore.new_user>`)."""
        self._check_fitted()
        return self.stage_.store.new_user(movie_ids, ratings, timestamps)

    def _dense(self, context: UserContext) -> np.ndarray:
        candidates, scores = self.rank_context(context)
        out = np.full((len(context), len(self.item_map_)), -np.inf, dtype=np.float32)
        out[candidates.rows, self.item_map_.indices(candidates.movie_ids)] = scores
        return out

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self._dense(self.stage_.store.known_users(self.user_map_.ids[users]))

    def predict_like(self, user_ids: np.ndarray, movie_ids: np.ndarray) -> np.ndarray:
        """P(like) for (user, movie) pairs, from the like/dislike model."""
        self._check_fitted()
        pairs = pl.DataFrame({USER_ID: np.asarray(user_ids, dtype=np.int32),
                              MOVIE_ID: np.asarray(movie_ids, dtype=np.int32)})
        rows = build_rows(pairs, self.stage_, LIKE_FEATURES)
        return predict(self.like_model_, to_matrix(rows, LIKE_FEATURES), LIKE_FEATURES)

    def _item_vectors(self) -> np.ndarray:
        return self.stage_.cf._item_vectors()

    def _fold_in(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        # the same two stages as a known user: fold-in vectors, candidates, the ranker
        if len(items) == 0:
            return np.where(np.isin(self.item_map_.ids, self.item_map_.ids), -np.inf, 0.0)
        context = self.new_user_context(self.item_map_.ids[items], values)
        return self._dense(context)[0]

    # ------------------------------------------------------------ persistence
    # The model spans many files (models, boosters, tables), so it is written and read as
    # a directory by reco.artifacts.model_dir (save_model / load_model), which owns that
    # format; the single-file Recommender.save/load do not apply.
    def _state(self) -> dict[str, np.ndarray]:
        raise NotImplementedError(
            "HybridRecommender is saved as a directory: reco.artifacts.model_dir.save_model")

    def _load_state(self, arrays: dict[str, np.ndarray]) -> None:
        raise NotImplementedError(
            "HybridRecommender is loaded from a directory: reco.artifacts.model_dir.load_model")

    @classmethod
    def from_parts(cls, config: HybridConfig, stage: StageOne, ranker: Booster,
                   like_model: Booster, windows: dict[str, Any] | None = None) -> HybridRecommender:
        """A fitted model from its parts (as a loader read them): the stage, the two
        boosters and the training windows; the id maps are the CF model's."""
        model = cls(config)
        model.stage_, model.ranker_, model.like_model_ = stage, ranker, like_model
        model.user_map_, model.item_map_, model.seen_ = (
            stage.cf.user_map_, stage.cf.item_map_, stage.cf.seen_)
        model.window_ = dict(windows or {})
        return model
