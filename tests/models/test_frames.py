"""The front door: ``fit`` takes the frames people have (Polars or pandas, MovieLens's own
column names or a mapping, integer or string ids) and says in one message what is wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from reco.data.synthetic import SyntheticConfig, generate
from reco.exceptions import DataFormatError, UnknownIdError
from reco.models.base import Recommender
from reco.models.frames import read_ratings
from reco.models.mf import ALSConfig, ALSRecommender
from reco.models.popularity import PopularityRecommender
from reco.ranking.hybrid import HybridRecommender
from tests.fixtures import expected_ratings
from tests.ranking.test_hybrid import SMALL

ALS = ALSConfig(factors=4, iterations=3, threads=1)


def _movielens_pandas(ratings: pl.DataFrame) -> pd.DataFrame:
    """``ratings`` as ``pd.read_csv("ratings.csv")`` gives them."""
    return pd.DataFrame({"userId": ratings["user_id"].to_numpy().astype(np.int64),
                         "movieId": ratings["movie_id"].to_numpy().astype(np.int64),
                         "rating": ratings["rating"].to_numpy().astype(np.float64),
                         "timestamp": ratings["timestamp"].to_numpy()})


def _same(a: Recommender, b: Recommender, user: object) -> None:
    ids_a, scores_a = a.recommend(user, k=3)
    ids_b, scores_b = b.recommend(user, k=3)
    assert ids_a.tolist() == ids_b.tolist()
    np.testing.assert_allclose(scores_a, scores_b, rtol=1e-5)


def test_pandas_with_movielens_names_fits_as_the_canonical_frame():
    ratings = expected_ratings()
    canonical = ALSRecommender(ALS).fit(ratings)
    _same(canonical, ALSRecommender(ALS).fit(_movielens_pandas(ratings)), 1)
    _same(canonical, ALSRecommender(ALS).fit(ratings.lazy()), 1)
    renamed = ratings.rename({"user_id": "user", "movie_id": "item"})
    _same(canonical, ALSRecommender(ALS).fit(renamed), 1)
    mine = ratings.rename({"user_id": "who", "movie_id": "what", "rating": "stars"})
    _same(canonical, ALSRecommender(ALS).fit(
        mine, columns={"who": "user_id", "what": "movie_id", "stars": "rating"}), 1)


def test_string_ids_go_in_and_come_back_out(tmp_path: Path):
    ratings = expected_ratings()
    named = ratings.with_columns(
        pl.format("user-{}", "user_id").alias("user_id"),
        pl.format("tt{}", "movie_id").alias("movie_id"))
    by_int = ALSRecommender(ALS).fit(ratings)
    by_name = ALSRecommender(ALS).fit(named.to_pandas(use_pyarrow_extension_array=False)
                                      if _has_pyarrow() else named)
    ids, scores = by_name.recommend("user-1", k=3)
    int_ids, int_scores = by_int.recommend(1, k=3)
    assert ids.tolist() == [f"tt{i}" for i in int_ids]
    np.testing.assert_allclose(scores, int_scores, rtol=1e-5)
    similar, _ = by_name.similar_items("tt1", k=2)
    assert similar.tolist() == [f"tt{i}" for i in by_int.similar_items(1, k=2)[0]]
    assert by_name.score("user-1", ["tt2"]).shape == (1,)
    assert np.isnan(by_name.score_pairs(np.array(["user-1", "nobody"]),
                                        np.array(["tt2", "tt2"]))[1])
    batch, _ = by_name.recommend_batch(["user-1", "user-2"], k=5)
    assert batch.dtype.kind == "U" and "" in batch[1]  # padded with "" past what is left
    with pytest.raises(UnknownIdError, match="'nobody'"):
        by_name.recommend("nobody")
    loaded = Recommender.load(by_name.save(tmp_path / "als.npz"))
    _same(by_name, loaded, "user-1")
    # an integer refit forgets the labels
    assert ALSRecommender(ALS).fit(named).fit(ratings).item_labels_ is None


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def test_pandas_string_ids_without_pyarrow():
    frame = pd.DataFrame({"userId": ["a", "a", "b"], "movieId": ["x", "y", "x"],
                          "rating": [4.0, 3.0, 5.0]})
    model = PopularityRecommender().fit(frame)
    assert model.recommend("b", k=1)[0].tolist() == ["y"]


@pytest.mark.parametrize("data,columns,message", [
    ([(1, 1, 4.0)], None, "ratings must be a Polars or pandas DataFrame, got builtins.list"),
    (pl.DataFrame({"customer": [1], "movieId": [1], "rating": [4.0]}), None,
     "no column 'user_id' (nor 'userId', 'UserID', 'userid')"),
    (pl.DataFrame({"userId": [1], "movieId": [1], "rating": ["good"]}), None,
     "column 'rating' must be numeric, got String"),
    (pl.DataFrame({"userId": [1.5], "movieId": [1], "rating": [4.0]}), None,
     "column 'user_id' must hold integer or string ids, got Float64"),
    (pl.DataFrame({"userId": [1], "user": [2], "movieId": [1], "rating": [4.0]}), None,
     "columns ['userId', 'user'] could each be 'user_id'"),
    (pl.DataFrame({"userId": [1], "movieId": [1], "rating": [None]}, schema_overrides={
        "rating": pl.Float64}), None, "column 'rating' has 1 missing"),
    (pl.DataFrame({"userId": [None, 1], "movieId": [1, 1], "rating": [4.0, 3.0]}), None,
     "column 'user_id' has 1 missing ids"),
    (pl.DataFrame({"userId": [-1], "movieId": [1], "rating": [4.0]}), None, "outside"),
    (pl.DataFrame({"u": [1], "movieId": [1], "rating": [4.0]}), {"x": "user_id"},
     "the column mapping names 'x'"),
])
def test_a_wrong_frame_gets_one_message_naming_what_is_expected(data, columns, message):
    with pytest.raises(DataFormatError) as caught:
        PopularityRecommender().fit(data, columns=columns)
    assert message in str(caught.value)


def test_timestamps_are_required_by_the_two_stage_model_and_may_be_datetimes():
    frame = pl.DataFrame({"userId": [1], "movieId": [1], "rating": [4.0]})
    with pytest.raises(DataFormatError, match="no column 'timestamp'"):
        read_ratings(frame, timestamps=True)
    with pytest.raises(DataFormatError, match="'timestamp' must be Unix seconds"):
        read_ratings(frame.with_columns(timestamp=pl.lit("yesterday")))
    dated = frame.with_columns(timestamp=pl.datetime(2001, 9, 9, 1, 46, 40))
    assert read_ratings(dated).frame["timestamp"].to_list() == [1_000_000_000]


def test_the_two_stage_model_takes_movielens_frames_with_string_ids():
    data = generate(SyntheticConfig(n_users=120, n_movies=150, n_ratings=6_000, seed=3))
    ratings = data.ratings.with_columns(pl.format("u{}", "user_id").alias("user_id"),
                                        pl.format("m{}", "movie_id").alias("movie_id"))
    # movies.csv as read: movieId, title, genres joined by "|", the year in the title
    movies = data.movies.select(pl.format("m{}", "movie_id").alias("movieId"), "title",
                                pl.col("genres").list.join("|"))
    model = HybridRecommender(SMALL).fit(
        ratings.rename({"user_id": "userId", "movie_id": "movieId"}), movies)
    user = ratings["user_id"][0]
    ids, scores = model.recommend(user, k=5)
    assert len(ids) == 5 and all(i.startswith("m") for i in ids.tolist())
    assert set(ids.tolist()).isdisjoint(ratings.filter(pl.col("user_id") == user)["movie_id"])
    like = model.predict_like(np.array([user]), np.array([ids[0]]))
    assert 0.0 <= float(like[0]) <= 1.0
    assert all(i.startswith("m") for i in model.similar_items(ids[0], k=3)[0].tolist())


def test_interactions_take_pandas_and_refuse_string_ids_with_a_reason():
    from reco.models.interactions import Interactions

    ratings = expected_ratings()
    same = Interactions.from_ratings(_movielens_pandas(ratings))
    assert (same.matrix != Interactions.from_ratings(ratings).matrix).nnz == 0
    with pytest.raises(DataFormatError, match="fit\\(\\) maps string ids"):
        Interactions.from_ratings(ratings.with_columns(pl.col("user_id").cast(pl.String)))
