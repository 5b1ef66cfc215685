"""ItemKNN, RP3beta and SLIM: block structure respected, formulas checked on tiny data."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from reco.evaluation.peers import (
    ItemKNNConfig,
    ItemKNNPeer,
    RP3betaConfig,
    RP3betaPeer,
    SLIMConfig,
    SLIMPeer,
)
from reco.evaluation.peers._item_item import keep_top
from reco.evaluation.peers.slim import neighbour_sets, solve_block
from reco.exceptions import ConfigError, ModelFitError
from tests.evaluation.peer_fixtures import block_ratings, frame, two_blocks

PEERS = [
    pytest.param(lambda: ItemKNNPeer(ItemKNNConfig(neighbours=10, shrink=1.0)), id="itemknn"),
    pytest.param(lambda: RP3betaPeer(RP3betaConfig(alpha=0.5, beta=0.3, neighbours=10)),
                 id="rp3beta"),
    pytest.param(lambda: SLIMPeer(SLIMConfig(alpha=0.01, l1_ratio=0.1, neighbours=10)),
                 id="slim"),
]


@pytest.mark.parametrize("make", PEERS)
def test_recommends_within_the_users_block(make):
    ratings = two_blocks()
    model = make().fit(ratings)
    for user in range(1, 17):
        block = range(1, 5) if user <= 8 else range(5, 9)
        ids, scores = model.recommend(user, k=1)
        assert ids.tolist() and int(ids[0]) in block, user
        assert scores[0] > 0
    weights = model.weights_.toarray()
    assert not weights[:4, 4:].any() and not weights[4:, :4].any()  # no cross-block weight
    assert not np.diag(weights).any()


@pytest.mark.parametrize("make", PEERS)
def test_held_out_block_item_ranks_first_and_fold_in_agrees(make):
    model = make().fit(block_ratings())
    assert model.recommend(13, k=1)[0].tolist() == [3]
    assert model.recommend_new_user([1, 2, 6], [4.0, 4.0, 1.0], k=1)[0].tolist() == [3]


@pytest.mark.parametrize("make", PEERS)
def test_no_like_is_a_fit_error(make):
    with pytest.raises(ModelFitError, match="no like"):
        make().fit(frame([(1, 1, 1.0, 1), (2, 2, 2.0, 2)]))


def _likes(ratings: pl.DataFrame) -> np.ndarray:
    users = ratings["user_id"].max()
    movies = ratings["movie_id"].max()
    x = np.zeros((users, movies))
    for u, m, r in ratings.select("user_id", "movie_id", "rating").iter_rows():
        x[u - 1, m - 1] = float(r >= 3.5)
    return x


def test_itemknn_is_shrunk_cosine():
    ratings = block_ratings()
    model = ItemKNNPeer(ItemKNNConfig(neighbours=100, shrink=2.0)).fit(ratings)
    x = _likes(ratings)
    co = x.T @ x
    norms = np.sqrt(np.diag(co))
    expected = co / (np.outer(norms, norms) + 2.0)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.weights_.toarray(), expected, rtol=1e-5)


def test_rp3beta_is_the_discounted_three_step_walk():
    ratings = block_ratings()
    alpha, beta = 0.7, 0.4
    model = RP3betaPeer(RP3betaConfig(alpha=alpha, beta=beta, neighbours=0)).fit(ratings)
    x = _likes(ratings)
    p_ui = (x / np.maximum(x.sum(1, keepdims=True), 1e-12)) ** alpha
    p_iu = (x.T / x.T.sum(1, keepdims=True)) ** alpha
    expected = (p_iu @ p_ui) / x.sum(0)[None, :] ** beta
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.weights_.toarray(), expected, rtol=1e-5)


def test_keep_top_keeps_the_largest_per_row_or_column():
    w = np.array([[0.0, 3.0, 1.0], [2.0, 0.0, 5.0], [4.0, 0.5, 0.0]], dtype=np.float32)
    rows = keep_top(w, 1, axis=1).toarray()
    np.testing.assert_array_equal(rows, [[0, 3, 0], [0, 0, 5], [4, 0, 0]])
    cols = keep_top(w, 1, axis=0).toarray()
    np.testing.assert_array_equal(cols, [[0, 3, 0], [0, 0, 5], [4, 0, 0]])
    assert keep_top(-w, 2, axis=1).nnz == 0  # only positive weights are kept


def test_slim_solves_scikit_learns_elasticnet_objective():
    from sklearn.linear_model import ElasticNet

    rng = np.random.default_rng(0)
    x = sp.csr_matrix((rng.random((60, 12)) < 0.3).astype(np.float64))
    co = (x.T @ x).toarray()
    config = SLIMConfig(alpha=0.01, l1_ratio=0.1, neighbours=5, max_sweeps=2_000, tol=1e-10)
    sets = neighbour_sets(co, 5)
    for target in (0, 3, 7):
        nb = sets[target][sets[target] >= 0]
        w = solve_block(co[np.ix_(nb, nb)][None], co[nb, target][None], 60, config)[0]
        reference = ElasticNet(alpha=0.01, l1_ratio=0.1, positive=True, fit_intercept=False,
                               tol=1e-12, max_iter=100_000)
        reference.fit(x[:, nb].toarray(), x[:, target].toarray().ravel())
        np.testing.assert_allclose(w, reference.coef_, atol=1e-7)


def test_slim_neighbours_are_the_most_co_liked():
    co = np.array([[5, 3, 0, 1], [3, 4, 2, 0], [0, 2, 2, 0], [1, 0, 0, 1]], dtype=np.float32)
    sets = neighbour_sets(co, 2)
    assert set(sets[0].tolist()) == {1, 3}  # 2 is never co-liked with 0
    assert set(sets[2].tolist()) == {1, -1}  # one co-liked item; the other slot is empty


@pytest.mark.parametrize("bad", [dict(alpha=-1.0), dict(l1_ratio=1.5), dict(neighbours=0)])
def test_slim_config_rejects_bad_values(bad):
    with pytest.raises(ConfigError):
        SLIMConfig(**bad)
