"""The protocol's peers: known answers on tiny data, the shared contract, the real figures."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import reco.evaluation.peers.external as external
import reco.models.ease as ease_module
from reco.data.movielens import load_movielens
from reco.data.split import per_user_split
from reco.evaluation import peers
from reco.evaluation.metrics import evaluate_topn
from reco.evaluation.peers import (
    EASEConfig,
    EASERecencyConfig,
    EASERecencyPeer,
    EASERecommender,
    ItemKNNConfig,
    ItemKNNPeer,
    RP3betaConfig,
    RP3betaPeer,
    SLIMConfig,
    SLIMPeer,
    TruncatedSVDConfig,
    TruncatedSVDPeer,
    peer_factories,
)
from reco.evaluation.peers.external import (
    ImplicitALSConfig,
    ImplicitALSPeer,
    PeerUnavailableError,
    SurpriseSVDConfig,
    SurpriseSVDPeer,
    implicit_available,
    surprise_available,
)
from reco.exceptions import ModelFitError
from reco.models.base import Recommender
from reco.models.popularity import PopularityRecommender
from tests.evaluation.peer_fixtures import block_ratings as _block_ratings
from tests.evaluation.peer_fixtures import frame as _frame
from tests.evaluation.peer_fixtures import random_ratings as _random_ratings


def _needs(available: bool, pip_name: str, module: str) -> pytest.MarkDecorator:
    reason = f"optional package {pip_name!r} does not import: {external._import_error(module)}"
    return pytest.mark.skipif(not available, reason=reason)


needs_implicit = _needs(implicit_available(), "implicit", "implicit.cpu.als")
needs_surprise = _needs(surprise_available(), "scikit-surprise", "surprise")


# ---------------------------------------------------------------- EASE
def test_ease_matches_the_closed_form_and_ranks_the_held_out_block_item_first():
    ratings = _block_ratings()
    model = EASERecommender(EASEConfig(lam=1.0)).fit(ratings)
    assert model.recommend(13, k=1)[0].tolist() == [3]
    # the closed form, written out: X likes (>= 3.5), G = X^T X + lam I, B = -P / diag(P)
    users, movies = np.arange(1, 14), np.arange(1, 7)
    x = np.zeros((13, 6))
    for u, m, r in ratings.select("user_id", "movie_id", "rating").iter_rows():
        x[u - 1, m - 1] = float(r >= 3.5)
    p = np.linalg.inv(x.T @ x + 1.0 * np.eye(6))
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0.0)
    got = np.vstack([model.score(int(u), movies) for u in users])
    np.testing.assert_allclose(got, x @ b, rtol=1e-5, atol=1e-6)


def test_ease_fold_in_matches_a_fitted_user():
    model = EASERecommender().fit(_block_ratings())
    ids, _ = model.recommend_new_user([1, 2, 6], [4.0, 4.0, 1.0], k=3)
    assert ids[0] == 3 and 6 not in ids.tolist()


def test_ease_refuses_too_many_items(monkeypatch):
    ratings = _block_ratings()  # 6 liked movies
    with pytest.raises(ModelFitError, match=r"6 x 6 matrix .* max_items is 5"):
        EASERecommender(EASEConfig(max_items=5)).fit(ratings)
    monkeypatch.setattr(ease_module, "EASE_MAX_ITEMS", 4)  # the default cap, when max_items is None
    with pytest.raises(ModelFitError, match="EASEConfig\\(max_items=...\\)"):
        EASERecommender().fit(ratings)
    assert EASERecommender(EASEConfig(max_items=6)).fit(ratings).B_.shape == (6, 6)


def test_ease_models_only_liked_items():
    ratings = _block_ratings().vstack(_frame([(1, 7, 1.0, 999)]))  # movie 7: never liked
    model = EASERecommender().fit(ratings)
    assert 6 not in model.active_.tolist()  # index 6 is movie 7
    assert model.score(13, [7])[0] == 0.0


# ---------------------------------------------------------------- truncated SVD
def test_truncated_svd_reconstructs_a_rank_two_matrix():
    rng = np.random.default_rng(3)
    dense = rng.uniform(0.5, 1.5, (9, 2)) @ rng.uniform(0.5, 2.0, (2, 7))  # rank 2, all > 0
    rows = [(u + 1, m + 1, float(dense[u, m]), u * 10 + m) for u in range(9) for m in range(7)]
    model = TruncatedSVDPeer(TruncatedSVDConfig(n_components=2)).fit(_frame(rows))
    got = np.vstack([model.score(u + 1, np.arange(1, 8)) for u in range(9)])
    np.testing.assert_allclose(got, dense, rtol=1e-4)
    with pytest.raises(ModelFitError, match="n_components 20"):
        TruncatedSVDPeer().fit(_frame(rows))


# ---------------------------------------------------------------- optional packages
@needs_implicit
def test_implicit_als_ranks_the_held_out_block_item_first():
    model = ImplicitALSPeer(ImplicitALSConfig(factors=4, iterations=10)).fit(_block_ratings())
    assert model.recommend(13, k=1)[0].tolist() == [3]
    assert model.user_factors_.shape == (13, 4) and model.item_factors_.shape == (6, 4)


@needs_surprise
def test_surprise_peer_predicts_exactly_as_surprise_does():
    import pandas as pd
    import surprise

    ratings = _random_ratings(seed=1)
    model = SurpriseSVDPeer(SurpriseSVDConfig(n_factors=5, n_epochs=5)).fit(ratings)
    frame = pd.DataFrame({"u": ratings["user_id"].to_numpy(), "i": ratings["movie_id"].to_numpy(),
                          "r": ratings["rating"].to_numpy().astype(float)})
    trainset = surprise.Dataset.load_from_df(
        frame, surprise.Reader(rating_scale=(float(frame.r.min()), float(frame.r.max())))
    ).build_full_trainset()
    algo = surprise.SVD(n_factors=5, n_epochs=5, random_state=0).fit(trainset)
    users, movies = [3, 7, 30, 12345, 3], [5, 40, 2, 5, 99999]  # unknown ids included
    expected = [algo.predict(u, m).est for u, m in zip(users, movies)]
    np.testing.assert_allclose(model.predict(np.array(users), np.array(movies)), expected,
                               rtol=1e-10)
    scores = model._score_users(np.array([2]))[0]  # user 3, every movie at once
    expected_row = [algo.predict(3, int(m)).est for m in model.item_map_.ids]
    np.testing.assert_allclose(scores, expected_row, rtol=1e-10)


def test_missing_packages_give_a_clear_error(monkeypatch):
    monkeypatch.setattr(external, "_import_error",
                        lambda module: f"ModuleNotFoundError: No module named {module!r}")
    with pytest.raises(PeerUnavailableError, match="pip install implicit"):
        ImplicitALSPeer()
    with pytest.raises(PeerUnavailableError, match="pip install scikit-surprise"):
        SurpriseSVDPeer()
    assert isinstance(PeerUnavailableError("x"), ImportError)
    assert len(peer_factories(available_only=True)) == 3
    assert len(peer_factories(available_only=False)) == 5


# ---------------------------------------------------------------- the shared contract
def _peers() -> list[pytest.param]:
    return [
        pytest.param(lambda: PopularityRecommender(), id="popularity"),
        pytest.param(lambda: EASERecommender(EASEConfig(lam=10.0)), id="ease"),
        pytest.param(lambda: TruncatedSVDPeer(TruncatedSVDConfig(n_components=5)), id="svd"),
        pytest.param(lambda: EASERecencyPeer(EASERecencyConfig(lam=10.0, half_life=3.0)),
                     id="ease_recency"),
        pytest.param(lambda: ItemKNNPeer(ItemKNNConfig(neighbours=5, shrink=2.0)), id="itemknn"),
        pytest.param(lambda: RP3betaPeer(RP3betaConfig(neighbours=5)), id="rp3beta"),
        pytest.param(lambda: SLIMPeer(SLIMConfig(alpha=0.01, neighbours=5)), id="slim"),
        pytest.param(lambda: ImplicitALSPeer(ImplicitALSConfig(factors=8, iterations=5)),
                     id="implicit_als", marks=needs_implicit),
        pytest.param(lambda: SurpriseSVDPeer(SurpriseSVDConfig(n_factors=8, n_epochs=5)),
                     id="surprise_svd", marks=needs_surprise),
    ]


@pytest.mark.parametrize("make", _peers())
def test_peer_contract(make, tmp_path):
    ratings = _random_ratings()
    model = make().fit(ratings)
    users = ratings["user_id"].unique().sort().to_numpy()
    ids, scores = model.recommend_batch(users, k=5)
    for user, row, row_scores in zip(users, ids, scores):
        rated = set(ratings.filter(pl.col("user_id") == user)["movie_id"].to_list())
        assert rated.isdisjoint(row.tolist())
        assert np.all(np.diff(row_scores) <= 0)
    again = make().fit(ratings).recommend_batch(users, k=5)
    np.testing.assert_array_equal(again[0], ids)  # same seed, same output
    loaded = Recommender.load(model.save(tmp_path / "peer.npz"))
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.recommend_batch(users, k=5)[0], ids)
    split = per_user_split(ratings)
    result = evaluate_topn(make().fit(split.train), split)
    assert 0.0 <= result["ndcg@10"] <= 1.0 and result["n_users"] > 0


def test_peer_factories_build_unfitted_models():
    factories = peer_factories()
    assert set(factories) <= set(peers.PEER_NAMES.values())
    assert "EASE (lambda 300, on likes)" in factories
    for factory in factories.values():
        model = factory()
        assert isinstance(model, Recommender) and not hasattr(model, "item_map_")


# ---------------------------------------------------------------- real data
@pytest.mark.slow
def test_reference_figures_on_ml_latest_small(ml_latest_small):
    split = per_user_split(load_movielens(ml_latest_small).ratings)
    popularity = evaluate_topn(PopularityRecommender().fit(split.train), split)
    assert popularity["n_users"] == 594 and popularity["n_candidates"] == 8239
    assert popularity["ndcg@10"] == pytest.approx(0.083, abs=0.002)
    assert popularity["recall@10"] == pytest.approx(0.048, abs=0.002)
    assert popularity["hit_rate@10"] == pytest.approx(0.343, abs=0.005)
    ease = evaluate_topn(EASERecommender().fit(split.train), split)
    assert ease["ndcg@10"] == pytest.approx(0.133, abs=0.005)
    assert ease["hit_rate@10"] == pytest.approx(0.535, abs=0.01)
