"""EASE with a recency-weighted user vector: plain EASE at an infinite half-life, and the
newest likes count most."""

from __future__ import annotations

import numpy as np
import pytest

from reco.evaluation.peers import EASEConfig, EASERecencyConfig, EASERecencyPeer, EASERecommender
from reco.evaluation.peers.ease_recency import recency_weights
from reco.exceptions import ModelFitError
from reco.models.base import Recommender
from reco.models.interactions import Interactions
from tests.evaluation.peer_fixtures import block_ratings, frame, random_ratings


def test_a_huge_half_life_is_plain_ease():
    ratings = random_ratings()
    ease = EASERecommender(EASEConfig(lam=20.0)).fit(ratings)
    recency = EASERecencyPeer(EASERecencyConfig(lam=20.0, half_life=1e12)).fit(ratings)
    np.testing.assert_allclose(recency.B_, ease.B_, rtol=1e-4, atol=1e-6)
    users = np.arange(5)
    np.testing.assert_allclose(recency._score_users(users), ease._score_users(users),
                               rtol=1e-4, atol=1e-6)


def test_weights_halve_every_half_life_likes_newest_first():
    ratings = frame([(1, m, 4.0, 100 + m) for m in range(1, 6)] + [(1, 9, 1.0, 999)])
    w = recency_weights(ratings, half_life=2.0, threshold=3.5).sort("movie_id")
    assert w["movie_id"].to_list() == [1, 2, 3, 4, 5]  # the dislike has no weight
    np.testing.assert_allclose(w["weight"].to_numpy(), [0.25, 0.5**1.5, 0.5, 0.5**0.5, 1.0])


def test_the_newest_like_decides_with_a_short_half_life(tmp_path):
    # user 13 liked movie 1 (block A) long ago and movie 4 (block B) just now
    rows = [(u, m, 5.0, 10 * u + m) for u in range(1, 7) for m in (1, 2, 3)]
    rows += [(u, m, 5.0, 10 * u + m) for u in range(7, 13) for m in (4, 5, 6)]
    rows += [(13, 1, 5.0, 1), (13, 4, 5.0, 10_000)]
    model = EASERecencyPeer(EASERecencyConfig(lam=1.0, half_life=0.5)).fit(frame(rows))
    assert int(model.recommend(13, k=1)[0][0]) in (5, 6)
    loaded = Recommender.load(model.save(tmp_path / "recency.npz"))
    assert loaded.recommend(13, k=2)[0].tolist() == model.recommend(13, k=2)[0].tolist()


def test_fit_needs_timestamps():
    with pytest.raises(ModelFitError, match="timestamps"):
        EASERecencyPeer().fit_interactions(Interactions.from_ratings(block_ratings()))


def test_shared_ease_is_ease_and_reuses_its_solve(monkeypatch):
    import reco.evaluation.peers.ease_recency as module
    from reco.evaluation.peers import SharedEASE

    ratings = random_ratings(seed=4)
    module._RECENT_B.clear()
    shared = SharedEASE(EASEConfig(lam=30.0)).fit(ratings)
    ease = EASERecommender(EASEConfig(lam=30.0)).fit(ratings)
    np.testing.assert_array_equal(shared.active_, ease.active_)
    np.testing.assert_allclose(shared.B_, ease.B_, rtol=1e-4, atol=1e-6)
    monkeypatch.setattr(module.scipy.linalg, "inv", None)  # a second solve would fail
    again = EASERecencyPeer(EASERecencyConfig(lam=30.0, half_life=1e12)).fit(ratings)
    assert again.B_ is shared.B_
