"""reco.evaluation.peers.tuning: the best grid point wins, stages build on each other, and
only the inner split of train is ever fitted or scored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from reco.config import ConfigBase, check_range
from reco.data.split import per_user_split
from reco.evaluation.peers import EASEConfig, EASERecommender, tune
from reco.evaluation.peers.external import implicit_available
from reco.evaluation.peers.tuned import GRID_SIZES, TUNED_PEERS
from reco.evaluation.peers.tuning import stage_points
from reco.models.base import Recommender
from tests.evaluation.peer_fixtures import random_ratings


@dataclass(frozen=True)
class PlantedConfig(ConfigBase):
    """``quality`` 1 ranks by like count (right on the planted data), 0 against it."""

    quality: float = 1.0
    other: float = 0.0  # changes nothing: a second parameter whose ties show the tie rule

    def __post_init__(self) -> None:
        check_range("PlantedConfig", "quality", self.quality, 0.0, 1.0)


class PlantedRecommender(Recommender):
    """Scores = (2 quality - 1) x item like count, so quality 1 is popularity, 0 its reverse."""

    name = "planted"
    config_class = PlantedConfig
    config: PlantedConfig
    state_arrays = ("counts",)

    def _fit(self, matrix: sp.csr_matrix, **context: Any) -> None:
        self.counts_ = np.asarray((matrix >= 3.5).sum(axis=0), dtype=np.float32).ravel()

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        sign = 2.0 * self.config.quality - 1.0
        return np.tile(sign * self.counts_, (len(users), 1))


def _planted(**point: Any) -> Recommender:
    return PlantedRecommender(PlantedConfig(**point))


def _popular_ratings() -> pl.DataFrame:
    """Everyone likes movies 1-5 over time; a few also rate rare movies 6-20."""
    rng = np.random.default_rng(1)
    rows = []
    for user in range(1, 41):
        movies = list(rng.permutation(np.arange(1, 6))) + list(rng.choice(np.arange(6, 21), 3,
                                                                          replace=False))
        rows += [(user, int(m), 4.5 if m <= 5 else 2.0, 100 * user + t)
                 for t, m in enumerate(rng.permutation(movies))]
    return pl.DataFrame(rows, schema={"user_id": pl.Int64, "movie_id": pl.Int64,
                                      "rating": pl.Float64, "timestamp": pl.Int64},
                        orient="row").cast({"user_id": pl.Int32, "movie_id": pl.Int32,
                                            "rating": pl.Float32})


def test_the_planted_best_point_wins_and_the_table_lists_every_point():
    train = per_user_split(_popular_ratings()).train
    result = tune(_planted, {"quality": [0.0, 0.25, 1.0]}, train)
    assert result.params == {"quality": 1.0}
    assert result.table["quality"].to_list() == [0.0, 0.25, 1.0]
    assert result.score == pytest.approx(result.table["ndcg@10"].max())
    assert result.table["ndcg@10"][0] < result.table["ndcg@10"][2]
    assert result.on_edge == ["quality"]  # the best is the grid's largest value
    assert result.to_dict()["n_points"] == 3


def test_stages_search_at_the_best_so_far_and_skip_repeats():
    train = per_user_split(_popular_ratings()).train
    result = tune(_planted, [{"quality": [0.0, 1.0], "other": [0.0]},
                             {"other": [0.0, 1.0, 2.0]}], train)
    # stage 2 runs at quality 1; (quality 1, other 0) was tried in stage 1, not again
    assert result.table.height == 4
    assert result.table.filter(pl.col("stage") == 1)["quality"].to_list() == [1.0, 1.0]
    assert result.params["quality"] == 1.0
    assert result.params["other"] == 0.0  # ties go to the point tried first


def test_stage_points_is_the_product_over_the_base():
    assert stage_points({"a": [1, 2], "b": [3]}, {"c": 0}) == [
        {"c": 0, "a": 1, "b": 3}, {"c": 0, "a": 2, "b": 3}]
    with pytest.raises(ValueError, match="no values"):
        stage_points({"a": []})


def test_tuning_fits_and_scores_only_the_inner_split_of_train(monkeypatch):
    ratings = random_ratings()
    outer = per_user_split(ratings)
    inner = per_user_split(outer.train)
    train_rows = set(outer.train.iter_rows())
    test_pairs = set(outer.test.select("user_id", "movie_id").iter_rows())
    assert set(inner.train.iter_rows()) | set(inner.test.iter_rows()) <= train_rows
    fitted: list[pl.DataFrame] = []
    scored: list[pl.DataFrame] = []
    original_fit = EASERecommender.fit

    def recording_fit(self, frame, *args, **kwargs):
        fitted.append(frame)
        return original_fit(self, frame, *args, **kwargs)

    import reco.evaluation.peers.tuning as tuning

    original_eval = tuning.evaluate_topn

    def recording_eval(model, split, *args, **kwargs):
        scored.append(split.test)
        return original_eval(model, split, *args, **kwargs)

    monkeypatch.setattr(EASERecommender, "fit", recording_fit)
    monkeypatch.setattr(tuning, "evaluate_topn", recording_eval)
    result = tune(lambda **p: EASERecommender(EASEConfig(**p)),
                  {"lam": [5.0, 50.0, 500.0]}, outer.train)
    assert len(fitted) == 3 and len(scored) == 3
    for frame in fitted:
        assert frame.equals(inner.train)
        assert set(frame.select("user_id", "movie_id").iter_rows()).isdisjoint(test_pairs)
    for frame in scored:
        assert frame.equals(inner.test)
        assert set(frame.iter_rows()) <= train_rows  # validation rows are train rows
    assert result.params["lam"] == result.table["lam"][int(np.argmax(result.table["ndcg@10"]))]
    assert set(result.table.columns) >= {"stage", "lam", "ndcg@10", "fit_seconds"}


def test_every_tuned_peer_has_every_grid_size_and_valid_points():
    names = [peer.name for peer in TUNED_PEERS]
    assert len(set(names)) == len(names) == 6
    for peer in TUNED_PEERS:
        for size in GRID_SIZES:
            grid = peer.grid(size)
            if peer.name.startswith("implicit") and not implicit_available():
                continue  # its factory raises PeerUnavailableError (tested in test_peers)
            for point in stage_points(grid[0]):  # every first-stage point builds a model
                assert isinstance(peer.factory(**point), Recommender)


def test_an_empty_grid_is_refused():
    with pytest.raises(ValueError, match="at least one stage"):
        tune(_planted, [], per_user_split(_popular_ratings()).train)
