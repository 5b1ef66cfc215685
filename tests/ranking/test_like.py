"""P(like) for any context: the average user of a cold start, and one score scale."""

from __future__ import annotations

import numpy as np
import pytest

from reco.artifacts.model_dir import load_model
from reco.ranking.like import average_user, unit_scores
from reco.ranking.schema import LIKE_FEATURES


@pytest.fixture(scope="module")
def model(trained):  # the session's artifacts (tests/conftest.py), read only
    return load_model(trained)[0]


def test_the_average_user_averages_every_user_side_input(model):
    store = model.stage_.store
    avg = model.average_user_context()
    assert avg is average_user(store)  # built once per store
    np.testing.assert_allclose(avg.stats[0], np.nanmean(store.user_stats, axis=0), rtol=1e-6)
    np.testing.assert_allclose(avg.cf[0], model.stage_.cf.user_factors_.mean(axis=0),
                               rtol=1e-4, atol=1e-6)
    assert avg.last_timestamp[0] == store.now and avg.seen(0)[0].size == 0
    # CF and the rating model are linear in the user's vector: the average user's
    # feature is the known users' average of that feature, movie by movie
    users = model.user_map_.ids
    movies = model.item_map_.ids[:5]
    known = store.known_users(users)
    rows = np.repeat(np.arange(users.size), movies.size)
    each, _ = model.like_context_pairs(known, rows, np.tile(movies, users.size))
    mine, p = model.like_context_pairs(avg, np.zeros(movies.size, np.int64), movies)
    for name in ("cf_score", "rating_pred"):
        j = LIKE_FEATURES.index(name)
        np.testing.assert_allclose(mine[:, j], each[:, j].reshape(users.size, -1).mean(axis=0),
                                   rtol=1e-3, atol=1e-4)
    assert ((p >= 0) & (p <= 1)).all()


def test_like_probability_matches_predict_like_and_its_contributions(model):
    users = model.user_map_.ids[:3]
    movies = model.item_map_.ids[[0, 5, 9]]
    context = model.stage_.store.known_users(users)
    features, p = model.like_context_pairs(context, np.arange(3), movies)
    np.testing.assert_allclose(p, model.predict_like(users, movies), atol=1e-6)
    logit = np.log(p / (1 - p))
    np.testing.assert_allclose(model.like_contributions(features).sum(axis=1), logit,
                               atol=1e-4)


def test_scores_on_one_unit_scale():
    raw = np.array([-3.0, 0.0, 0.25, 4.0])
    np.testing.assert_array_equal(unit_scores(np.array([0.0, 0.3, 1.0]), "binary:logistic"),
                                  [0.0, 0.3, 1.0])
    squashed = unit_scores(raw, "rank:ndcg")
    assert ((squashed > 0) & (squashed < 1)).all() and squashed[1] == 0.5
    assert (np.diff(squashed) > 0).all()  # the ranker's order is kept


def test_the_rankers_rows_start_with_the_like_models(model):
    # serving takes a candidate's like-model row from the ranker's row of the same pair
    context = model.stage_.store.known_users(model.user_map_.ids[:2])
    candidates, rows, scores = model.rank_context_rows(context)
    like, _ = model.like_context_pairs(context, candidates.rows, candidates.movie_ids)
    np.testing.assert_array_equal(rows[:, :len(LIKE_FEATURES)], like)
    np.testing.assert_array_equal(scores, model.rank_context(context)[1])
