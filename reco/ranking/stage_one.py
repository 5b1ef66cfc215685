"""The fitted first stage: the models and tables every feature row is computed from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from reco.features.tables import FeatureTables
from reco.features.temporal import RecentItems, TimePopularity
from reco.models.base import Recommender
from reco.ranking.retrieval import VectorIndex
from reco.ranking.stage_arrays import FeatureStore


@dataclass
class StageOne:
    """The fitted stage-one models and feature tables the rows are computed from."""

    cf: Recommender
    rating_model: Recommender | None
    content: Recommender | None
    popular: Recommender
    tables: FeatureTables
    movies: pl.DataFrame  # movie_id, genres, year
    time_popularity: TimePopularity
    recent: RecentItems
    like_threshold: float  # the hybrid's one threshold (HybridConfig.like_threshold)
    item: Recommender | None = None  # the item-item model (EASE on the most liked movies)
    #: indexes of the CF and content item vectors for requests (reco.ranking.retrieval)
    retrieval: dict[str, VectorIndex] | None = None
    #: the store's table arrays as a version saved them (None: built from ``tables``)
    store_state: Mapping[str, np.ndarray] | None = field(default=None, repr=False)
    _store: FeatureStore | None = field(default=None, repr=False)

    def sources(self) -> dict[str, Recommender]:
        found = {"cf": self.cf, "content": self.content, "popular": self.popular,
                 "item": self.item}
        return {name: model for name, model in found.items() if model is not None}

    @property
    def store(self) -> FeatureStore:
        """The array views of this stage, built on first use."""
        if self._store is None:
            self._store = FeatureStore(self, self.like_threshold, self.store_state)
        return self._store
