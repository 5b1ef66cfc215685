"""EASE (reco.models.ease): the closed form, the most-liked cut, the sparse weights, files."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from reco.columns import RATINGS_SCHEMA
from reco.exceptions import ArtifactError, ConfigError, ModelFitError
from reco.models.base import Recommender
from reco.models.ease import EASEConfig, EASERecommender, _gram, _prune, _spd_inverse


def _ratings(pairs: list[tuple[int, int, float]]) -> pl.DataFrame:
    users, movies, values = zip(*pairs)
    return pl.DataFrame({"user_id": users, "movie_id": movies, "rating": values,
                         "timestamp": list(range(len(values)))}, schema=RATINGS_SCHEMA)


def _blocks() -> pl.DataFrame:
    """Users 1-20 like movies 1-4 (each misses one), users 21-40 like movies 5-8; movie 9
    is liked by everybody in block one, so it is the most liked movie."""
    rows = []
    for u in range(1, 41):
        block = range(1, 5) if u <= 20 else range(5, 9)
        for m in block:
            if m != block[0] + u % 4:
                rows.append((u, m, 5.0))
        if u <= 20:
            rows.append((u, 9, 4.0))
    rows.append((41, 10, 1.0))  # a movie nobody likes
    return _ratings(rows)


def test_weights_are_the_closed_form():
    ratings = _blocks()
    model = EASERecommender(EASEConfig(lam=2.0)).fit(ratings)
    x = (model.seen_ >= 3.5).toarray()[:, model.active_].astype(float)
    p = np.linalg.inv(x.T @ x + 2.0 * np.eye(x.shape[1]))
    expected = -p / np.diag(p)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.B_, expected, atol=1e-5)
    assert 10 not in model.item_map_.ids[model.active_]  # never liked: not modelled


def test_a_held_out_movie_of_the_block_ranks_first():
    model = EASERecommender(EASEConfig(lam=1.0)).fit(_blocks())
    for user in (1, 22):
        top, _ = model.recommend(user, k=1)
        block = set(range(1, 5)) if user <= 20 else set(range(5, 9))
        assert set(top.tolist()) <= block


def test_top_items_keeps_the_most_liked_and_scores_the_rest_zero():
    model = EASERecommender(EASEConfig(lam=1.0, top_items=3)).fit(_blocks())
    kept = set(model.item_map_.ids[model.active_].tolist())
    assert len(kept) == 3 and 9 in kept  # movie 9: 20 likes, the most
    others = [m for m in model.item_map_.ids.tolist() if m not in kept]
    assert np.all(model.score(1, others) == 0)


def test_too_many_items_refuses_unless_top_items_cuts_them():
    with pytest.raises(Exception, match="top_items"):
        EASERecommender(EASEConfig(max_items=4)).fit(_blocks())
    assert EASERecommender(EASEConfig(max_items=4, top_items=4)).fit(_blocks()).active_.size == 4


def test_prune_keeps_each_rows_largest_magnitudes():
    weights = np.array([[0.0, 3.0, -5.0, 1.0], [2.0, 0.0, 0.5, -0.1], [1.0, 1.0, 0.0, 9.0],
                        [-4.0, 0.2, 0.3, 0.0]])
    pruned = _prune(weights, 2).toarray()
    expected = np.array([[0, 3, -5, 0], [2, 0, 0.5, 0], [1, 0, 0, 9], [-4, 0, 0.3, 0]])
    # row 2 ties 1.0 and 1.0: either one is kept
    assert np.count_nonzero(pruned, axis=1).tolist() == [2, 2, 2, 2]
    np.testing.assert_allclose(pruned[[0, 1, 3]], expected[[0, 1, 3]])
    assert pruned[2, 3] == 9


def test_sparse_model_scores_like_its_dense_weights_and_round_trips(tmp_path):
    ratings = _blocks()
    sparse = EASERecommender(EASEConfig(lam=1.0, neighbours=3)).fit(ratings)
    assert sp.issparse(sparse.B_) and sparse.B_.getnnz(axis=1).max() <= 3
    dense = sparse.B_.toarray()
    likes = (sparse.seen_ >= 3.5).toarray()[:, sparse.active_].astype(np.float32)
    np.testing.assert_allclose(sparse.active_scores(sp.csr_matrix(likes)), likes @ dense,
                               rtol=1e-6)
    # a request's few users take the row-by-row sum: the same scores, weights included
    for rows in ([0], [1, 4, 2], list(range(min(8, likes.shape[0])))):
        few = sp.csr_matrix(likes[rows] * np.linspace(0.5, 2.0, likes.shape[1], dtype=np.float32))
        np.testing.assert_allclose(sparse.active_scores(few), few.toarray() @ dense, rtol=1e-5,
                                   atol=1e-7)
    nobody = sp.csr_matrix((2, likes.shape[1]), dtype=np.float32)
    assert not sparse.active_scores(nobody).any()
    # many users take a dense copy of B: the same scores, and a refit drops the copy
    many = sp.csr_matrix(np.tile(likes, (300 // likes.shape[0] + 1, 1))[:300])
    np.testing.assert_allclose(sparse.active_scores(many), many.toarray() @ dense, rtol=1e-5,
                               atol=1e-7)
    assert "_dense_B" in sparse.__dict__
    sparse.fit(ratings.filter(pl.col("user_id") != ratings["user_id"][0]))
    assert "_dense_B" not in sparse.__dict__
    path = sparse.save(tmp_path / "ease.npz")
    loaded = Recommender.load(path)
    assert isinstance(loaded, EASERecommender) and sp.issparse(loaded.B_)
    movies = sparse.item_map_.ids
    np.testing.assert_allclose(loaded.score(3, movies), sparse.score(3, movies))
    dense_model = EASERecommender(EASEConfig(lam=1.0)).fit(ratings)
    np.testing.assert_allclose(Recommender.load(dense_model.save(tmp_path / "d.npz")).B_,
                               dense_model.B_)


def test_a_file_with_broken_weights_is_refused(tmp_path):
    model = EASERecommender(EASEConfig(lam=1.0, neighbours=2)).fit(_blocks())
    path = model.save(tmp_path / "ease.npz")
    with np.load(path) as npz:
        arrays = dict(npz)
    arrays["m_B_indices"] = arrays["m_B_indices"] + 100  # columns past the matrix
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ArtifactError, match="not a valid sparse matrix"):
        Recommender.load(tmp_path / "bad.npz")
    del arrays["m_B_indices"], arrays["m_B_data"], arrays["m_B_indptr"]
    np.savez(tmp_path / "none.npz", **arrays)
    with pytest.raises(ArtifactError, match="weights B are missing"):
        Recommender.load(tmp_path / "none.npz")


@pytest.mark.parametrize("field", ["top_items", "neighbours", "max_items"])
def test_config_rejects_non_positive_counts(field):
    with pytest.raises(ConfigError, match=field):
        EASEConfig(**{field: 0})


def test_a_fresh_process_loads_an_ease_file(tmp_path):
    """Loading finds the class by importing reco's model modules (a Spark worker or a
    server that never imported reco.models.ease must still read item.npz)."""
    import subprocess
    import sys

    path = EASERecommender(EASEConfig(lam=1.0, neighbours=2)).fit(_blocks()).save(
        tmp_path / "ease.npz")
    code = ("import sys; from reco.models.base import Recommender; "
            "m = Recommender.load(sys.argv[1]); print(type(m).__name__)")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "EASERecommender"


@pytest.mark.parametrize("threads", [1, 3])
def test_the_gram_is_the_exact_co_like_counts(monkeypatch, threads):
    """float32 products in row blocks on threads give X^T X's integers exactly."""
    import reco.models.ease as module

    monkeypatch.setattr(module, "resolve_threads", lambda _: threads)
    pools = []
    real_pool = module.ThreadPoolExecutor
    monkeypatch.setattr(module, "ThreadPoolExecutor", lambda n: pools.append(n) or real_pool(n))
    rng = np.random.default_rng(0)
    n_users, n_items, n = 40_000, 300, 2_000_000
    x = sp.csr_matrix((np.ones(n), (rng.integers(0, n_users, n), rng.zipf(1.3, n) % n_items)),
                      shape=(n_users, n_items))
    x.data[:] = 1.0  # duplicates summed above: back to 0/1 likes
    assert x.nnz > 1_000_000
    dense = x.toarray()
    gram = _gram(x)
    assert pools == ([threads] if threads > 1 else [])
    assert gram.dtype == np.float64
    np.testing.assert_array_equal(gram, dense.T @ dense)


@pytest.mark.parametrize("n", [1, 2, 255, 256, 257, 700])
def test_the_cholesky_inverse_is_the_inverse(n):
    """potrf + potri, the lower triangle mirrored band by band (bands of 256 rows: sizes
    on either side of one), equal to a general inverse to rounding and exactly symmetric."""
    rng = np.random.default_rng(n)
    x = (rng.random((3 * n, n)) < 0.1).astype(np.float64)
    gram = x.T @ x + 30.0 * np.eye(n)
    expected = np.linalg.inv(gram)
    inverse = _spd_inverse(gram.copy())
    np.testing.assert_array_equal(inverse, inverse.T)
    np.testing.assert_allclose(inverse, expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max())
    np.testing.assert_allclose(inverse @ gram, np.eye(n), atol=1e-9)


def test_a_gram_that_is_not_positive_definite_is_a_clear_error():
    with pytest.raises(ModelFitError, match="not positive definite.*EASEConfig.lam"):
        _spd_inverse(np.array([[1.0, 2.0], [2.0, 1.0]]))
