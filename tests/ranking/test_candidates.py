"""reco.ranking.candidates: the same candidates whether users come in one block of
scores, in many, or in many spread over threads."""

from __future__ import annotations

import numpy as np
import pytest

from reco.columns import USER_ID
from reco.data.synthetic import SyntheticConfig, generate
from reco.ranking import candidates as module
from reco.ranking.candidates import generate_candidates
from reco.ranking.hybrid import HybridRecommender
from tests.ranking.test_hybrid import SMALL


@pytest.fixture(scope="module")
def fitted():
    data = generate(SyntheticConfig(n_users=150, n_movies=300, n_ratings=15_000, seed=3))
    return HybridRecommender(SMALL).fit(data.ratings, data.movies), data


def _all_candidates(model, data):
    people = model.stage_.store.known_users(data.ratings[USER_ID].unique().sort().to_numpy())
    return generate_candidates(people, model.stage_.store, SMALL.candidates, exact=True)


@pytest.mark.parametrize("workers", [1, 3])
def test_blocks_and_threads_give_the_one_blocks_candidates(fitted, monkeypatch, workers):
    model, data = fitted
    whole = _all_candidates(model, data)
    monkeypatch.setattr(module, "MAX_BLOCK_CELLS", 300 * 7)  # 7 users a block: 22 blocks
    monkeypatch.setattr(module, "MAX_BLOCK_WORKERS", workers)
    monkeypatch.setattr(module, "resolve_threads", lambda threads: 4)
    pools = []
    real_pool = module.ThreadPoolExecutor

    def counted(n):
        pools.append(n)
        return real_pool(n)

    monkeypatch.setattr(module, "ThreadPoolExecutor", counted)
    blocked = _all_candidates(model, data)
    assert pools == ([workers] * 3 if workers > 1 else [])  # cf, content, item sources
    np.testing.assert_array_equal(blocked.rows, whole.rows)
    np.testing.assert_array_equal(blocked.movie_ids, whole.movie_ids)
    for source, ranks in whole.ranks.items():
        np.testing.assert_array_equal(blocked.ranks[source], ranks)
    assert len(whole) > 150 * 20
