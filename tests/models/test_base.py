"""The model bases: id mapping, seen masking, score_pairs, persistence, interactions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pytest

from reco.columns import RATINGS_SCHEMA
from reco.config import ConfigBase
from reco.exceptions import ArtifactError, NotFittedError, UnknownIdError
from reco.ids import IdMap
from reco.models.base import Recommender
from reco.models.popularity import PopularityRecommender


@dataclass(frozen=True)
class _FakeConfig(ConfigBase):
    pass


class FakeRecommender(Recommender):
    """score(user u, item i) = 1000 * u_index + i_index: every score is known."""

    config_class = _FakeConfig

    def _fit(self, matrix: Any, **context: Any) -> None:
        self.fitted_ = np.array([1])

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return 1000.0 * users[:, None] + np.arange(self.n_items)[None, :]

    def _state(self) -> dict[str, np.ndarray]:
        return {"fitted": self.fitted_}

    def _load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.fitted_ = arrays["fitted"]


RATINGS = pl.DataFrame(
    [(10, 100, 4.0, 1), (10, 300, 2.0, 2), (20, 200, 5.0, 3), (30, 100, 3.0, 4),
     (30, 400, 1.0, 5)],
    schema=RATINGS_SCHEMA, orient="row",
)


def test_id_map_round_trip_and_unknown_ids():
    ids = IdMap([30, 10, 20], "user")
    assert ids.index(20) == 1 and ids.ids[ids.indices([30, 10])].tolist() == [30, 10]
    assert ids.indices([10, 99], missing="mask").tolist() == [0, -1]
    assert 10 in ids and 99 not in ids and "x" not in ids
    with pytest.raises(UnknownIdError, match="unknown user id 99"):
        ids.index(99)
    with pytest.raises(UnknownIdError):
        ids.indices([99])
    with pytest.raises(ValueError, match="distinct"):
        IdMap([1, 1])


@pytest.mark.parametrize("ids", [
    np.array([5, 7, 8, 1000, 70_000]),                       # a table of the whole range
    np.array([-3, 0, 2**40]),                                # a range too wide: binary search
    np.array([2**63 - 10, 2**63 - 2]),                       # near the int64 limits
    np.array([-2**63, -2**63 + 4, -2**63 + 9]),
])
def test_id_map_many_lookups_agree_with_a_binary_search(ids):
    """Above 65,536 values the lookup may go through a table indexed by the id; the
    answers (known, unknown, ids at and beyond the int64 limits) must be the same."""
    rng = np.random.default_rng(0)
    extremes = np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max, -1, 0, 6, 999])
    values = np.concatenate([rng.choice(ids, 70_000), extremes,
                             rng.integers(-100, 80_000, 10_000)])
    id_map = IdMap(ids, "movie")
    got = id_map.indices(values, missing="mask")
    pos = np.searchsorted(np.sort(ids), values).clip(0, ids.size - 1)
    expected = np.where(np.sort(ids)[pos] == values, pos, -1)
    assert got.dtype == np.int64 and got.tolist() == expected.tolist()
    assert id_map.indices(values.reshape(-1, 2), missing="mask").tolist() == \
        expected.reshape(-1, 2).tolist()
    known = values[expected >= 0]
    assert id_map.indices(known).tolist() == expected[expected >= 0].tolist()
    first_unknown = int(values[np.argmax(expected < 0)])
    with pytest.raises(UnknownIdError, match=f"unknown movie id {first_unknown}$"):
        id_map.indices(values)


@pytest.mark.parametrize("ids", [np.array([5, 7, 8, 1000, 70_000]),   # the table
                                 np.array([-3, 0, 2**40]),                # binary search
                                 np.array([2**63 - 10, 2**63 - 2])])      # bounds past int32
def test_narrower_ids_are_looked_up_as_they_are(ids):
    """A Polars Int32 column's ids are not widened first; the answers are the int64 ones."""
    values = np.random.default_rng(1).integers(-50, 80_000, 70_000).astype(np.int32)
    id_map = IdMap(ids, "movie")
    got = id_map.indices(values, missing="mask")
    assert got.dtype == np.int64
    assert got.tolist() == id_map.indices(values.astype(np.int64), missing="mask").tolist()
    for many in (values, values[:1000]):  # a hashed distinct and np.unique's
        narrow = IdMap.from_values(many)
        assert narrow == IdMap.from_values(many.astype(np.int64))
        assert narrow.ids.dtype == np.int64


def test_recommend_excludes_seen_and_maps_ids():
    model = FakeRecommender().fit(RATINGS)
    ids, scores = model.recommend(10, k=4)
    assert ids.tolist() == [400, 200]  # 100 and 300 were rated by user 10
    assert model.recommend(10, k=2, exclude_seen=False)[0].tolist() == [400, 300]
    assert np.all(np.diff(scores) <= 0)


def test_score_pairs_matches_score_per_pair():
    model = FakeRecommender().fit(RATINGS)
    users = np.array([30, 10, 99, 20, 10, 30])
    movies = np.array([100, 400, 100, 300, 999, 200])
    got = model.score_pairs(users, movies, batch_size=1)
    assert got[[0, 1, 3, 5]].tolist() == [2000.0, 3.0, 1002.0, 2001.0]
    assert np.isnan(got[[2, 4]]).all()


def test_errors_unfitted_unknown_and_bad_k(tmp_path):
    with pytest.raises(NotFittedError):
        FakeRecommender().recommend(10)
    model = FakeRecommender().fit(RATINGS)
    with pytest.raises(UnknownIdError):
        model.recommend(99)
    with pytest.raises(UnknownIdError):
        model.score(10, [999])
    with pytest.raises(ValueError, match="k must be"):
        model.recommend(10, k=0)
    with pytest.raises(ValueError, match="empty"):
        FakeRecommender().fit(RATINGS.clear())


def test_save_load_round_trip_without_pickle(tmp_path):
    model = PopularityRecommender().fit(RATINGS)
    path = model.save(tmp_path / "pop.npz")
    with np.load(path, allow_pickle=False) as npz:  # loads: nothing pickled inside
        assert "meta" in npz.files
    loaded = Recommender.load(path)
    assert isinstance(loaded, PopularityRecommender)
    assert loaded.recommend(30, 3)[0].tolist() == model.recommend(30, 3)[0].tolist()
    with pytest.raises(ArtifactError, match="not a FakeRecommender"):
        FakeRecommender.load(path)
    with pytest.raises(ArtifactError, match="no such model file"):
        Recommender.load(tmp_path / "missing.npz")


def test_fold_in_excludes_the_rated_movies():
    model = PopularityRecommender().fit(RATINGS)
    ids, _ = model.recommend_new_user([100, 12345], [5.0, 4.0], k=5)
    assert 100 not in ids.tolist() and len(ids) == 3


def test_popularity_top_allowed_skips_disallowed_and_breaks_ties_by_index():
    model = PopularityRecommender().fit(RATINGS)  # likes, then ratings: 100 > 200 > 300 = 400
    assert model.item_map_.ids.tolist() == [100, 200, 300, 400]
    idx, scores = model.top_allowed(np.array([False, True, True, True]))
    assert idx.tolist() == [1, 2, 3] and scores[0] > scores[1] == scores[2]
    assert model.top_allowed(np.array([False, True, True, True]), k=2)[0].tolist() == [1, 2]
    assert model.top_allowed(np.zeros(4, dtype=bool))[0].size == 0


def test_similar_items_of_a_zero_vector_is_empty():
    class Zero(FakeRecommender):
        def _item_vectors(self) -> np.ndarray:
            vectors = np.ones((self.n_items, 2))
            vectors[0] = 0.0
            return vectors

    model = Zero().fit(RATINGS)
    ids, scores = model.similar_items(100, k=3)
    assert ids.size == 0 and scores.size == 0
    assert model.similar_items(200, k=2)[0].size == 2


def test_save_adds_the_npz_suffix_and_returns_the_real_path(tmp_path):
    model = PopularityRecommender().fit(RATINGS)
    path = model.save(tmp_path / "model")
    assert path.name == "model.npz" and Recommender.load(path).n_items == model.n_items


def test_config_of_another_model_is_rejected():
    with pytest.raises(TypeError, match="takes a PopularityConfig"):
        PopularityRecommender(_FakeConfig())


def test_duplicate_ratings_keep_the_last_value():
    from reco.ids import rating_matrix

    again = RATINGS.head(1).with_columns(pl.lit(1.5, pl.Float32).alias("rating"))
    dup = pl.concat([RATINGS, again])
    users, items = IdMap([10, 20, 30]), IdMap([100, 200, 300, 400])
    matrix = rating_matrix(dup, users, items)
    assert matrix[0, 0] == 1.5 and matrix.nnz == RATINGS.height


# ---------------------------------------------------------------- interactions
def test_interactions_map_once_and_widen_without_the_frame():
    from reco.models.interactions import Interactions

    frame = pl.DataFrame([(7, 30, 4.0, 1), (7, 10, 2.0, 2), (9, 30, 5.0, 3)],
                         schema=RATINGS_SCHEMA, orient="row")
    base = Interactions.from_ratings(frame)
    assert base.user_map.ids.tolist() == [7, 9] and base.item_map.ids.tolist() == [10, 30]
    assert base.matrix.toarray().tolist() == [[2.0, 4.0], [0.0, 5.0]]
    assert base.widen(np.array([30, 10])) is base  # same universe: nothing rebuilt
    # movie 10 leaves the universe (its rating is dropped), 20 and 40 join unrated
    wide = base.widen(np.array([40, 30, 20]))
    assert wide.user_map is base.user_map and wide.item_map.ids.tolist() == [20, 30, 40]
    assert wide.matrix.toarray().tolist() == [[0.0, 4.0, 0.0], [0.0, 5.0, 0.0]]
    with pytest.raises(ValueError, match="empty"):
        Interactions.from_ratings(frame.clear())
    with pytest.raises(ValueError, match="id maps"):
        Interactions(base.user_map, wide.item_map, base.matrix)


def test_models_fitted_on_one_interactions_share_its_maps():
    from reco.models.interactions import Interactions
    from reco.models.mf import ALSConfig, ALSRecommender

    frame = pl.DataFrame([(1, 1, 4.0, 1), (1, 2, 5.0, 2), (2, 2, 4.0, 3), (2, 3, 1.0, 4)],
                         schema=RATINGS_SCHEMA, orient="row")
    shared = Interactions.from_ratings(frame)
    cf = ALSRecommender(ALSConfig(factors=2, iterations=2, threads=1)).fit_interactions(shared)
    popular = PopularityRecommender().fit_interactions(shared)
    assert cf.item_map_ is popular.item_map_ is shared.item_map
    assert cf.seen_ is popular.seen_ is shared.matrix
    alone = PopularityRecommender().fit(frame)
    np.testing.assert_array_equal(popular.recommend(1, 3)[0], alone.recommend(1, 3)[0])


def test_last_occurrences_keeps_the_latest_position_of_each_key():
    from reco.ids import last_occurrences

    assert last_occurrences(np.array([5, 3, 5, 7, 3])).tolist() == [2, 3, 4]
    assert last_occurrences(np.array([], dtype=np.int64)).tolist() == []
