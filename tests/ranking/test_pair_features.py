"""Feature rows: the array path equals the plain-Polars reference; fold-in equals a known
user rebuilt from their ratings; ranks within users."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from reco.columns import MOVIE_ID, RATING, TIMESTAMP, USER_ID
from reco.data.synthetic import SyntheticConfig, generate
from reco.ranking.hybrid import HybridRecommender
from reco.ranking.pair_features import RANK_FEATURES, build_rows, rank_within, to_matrix
from reco.ranking.user_state import NEW_USER
from tests.ranking.test_hybrid import SMALL
from tests.reference_rows import reference_rows


@pytest.fixture(scope="module")
def data():
    return generate(SyntheticConfig(n_users=150, n_movies=300, n_ratings=15_000, seed=3))


@pytest.fixture(scope="module")
def model(data):
    return HybridRecommender(SMALL).fit(data.ratings, data.movies)


def _pairs(model, data) -> pl.DataFrame:
    stage = model.stage_
    users = data.ratings[USER_ID].unique().sort().to_numpy()[:8]
    people = stage.store.known_users(users)
    from reco.ranking.candidates import generate_candidates

    cands = generate_candidates(people, stage.store, SMALL.candidates).frame(people)
    rng = np.random.default_rng(0)
    # plus arbitrary pairs: rated movies, unrated ones, an unknown movie and an unknown user
    odd = pl.DataFrame({
        USER_ID: np.r_[rng.choice(users, 40), [999_999, users[0]]].astype(np.int32),
        MOVIE_ID: np.r_[rng.choice(data.movies[MOVIE_ID].to_numpy(), 40), [1, 987_654]]
        .astype(np.int32),
    })
    return pl.concat([cands, odd], how="diagonal_relaxed")


def test_array_rows_equal_the_polars_reference(model, data):
    pairs = _pairs(model, data)
    got = to_matrix(build_rows(pairs, model.stage_), RANK_FEATURES)
    want = to_matrix(reference_rows(pairs, model.stage_), RANK_FEATURES)
    for j, name in enumerate(RANK_FEATURES):
        if name == "cf_score_rank":  # the reference ranks NaN scores first: checked below
            continue
        np.testing.assert_allclose(got[:, j], want[:, j], rtol=2e-5, atol=2e-6, equal_nan=True,
                                   err_msg=name)


def test_cf_rank_among_candidates_equals_the_reference(model, data):
    pairs = _pairs(model, data).drop_nulls("rank_in_cf")  # candidates only: no NaN scores
    got = build_rows(pairs, model.stage_)["cf_score_rank"].to_numpy()
    assert np.array_equal(got, reference_rows(pairs, model.stage_)["cf_score_rank"].to_numpy())


def test_fold_in_matches_the_same_user_seen_in_training(model, data):
    store = model.stage_.store
    user = int(data.ratings[USER_ID][0])
    mine = data.ratings.filter(pl.col(USER_ID) == user)
    known = store.known_users(np.array([user]))
    new = store.new_user(mine[MOVIE_ID].to_numpy(), mine[RATING].to_numpy(),
                         mine[TIMESTAMP].to_numpy())
    assert new.ids[0] == NEW_USER
    np.testing.assert_allclose(new.stats, known.stats, rtol=1e-6)
    np.testing.assert_allclose(new.genre_prefs, known.genre_prefs, rtol=1e-5, equal_nan=True)
    assert new.last_timestamp[0] == known.last_timestamp[0]
    np.testing.assert_allclose(new.content, known.content, atol=1e-5)
    np.testing.assert_allclose(new.recent_cf, known.recent_cf, atol=1e-5)
    np.testing.assert_allclose(new.recent_content, known.recent_content, atol=1e-5)
    # the fold-in solves the user equation against the final item factors: close to, not
    # exactly, the fitted vector (which came from the previous half-step)
    for a, b in ((new.cf[0], known.cf[0]), (new.rating[0], known.rating[0])):
        assert a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) > 0.95
    assert sorted(new.seen_movies.tolist()) == sorted(known.seen_movies.tolist())


def test_new_user_is_ranked_by_the_ranker_and_excludes_rated(model, data):
    movies = data.ratings[MOVIE_ID].unique().sort().to_numpy()[:6]
    context = model.new_user_context(movies, [5, 5, 4, 1, 2, 5])
    candidates, scores = model.rank_context(context)
    assert len(candidates) > SMALL.candidates.n_cf // 2
    assert not np.isin(candidates.movie_ids, movies).any()
    assert np.isfinite(scores).all()
    ids, top = model.recommend_new_user(movies, [5, 5, 4, 1, 2, 5], k=10)
    assert ids.size == 10 and np.all(np.diff(top) <= 0) and not np.isin(ids, movies).any()


def test_new_user_errors_name_the_problem(model):
    with pytest.raises(ValueError, match="2 movie ids, 1 ratings"):
        model.new_user_context([1, 2], [4.0])
    with pytest.raises(ValueError, match="none of the rated movies"):
        model.new_user_context([987_654], [4.0])


def test_rank_within_groups_ties_and_nan():
    groups = np.array([0, 0, 0, 1, 1, 0])
    scores = np.array([0.5, 0.9, np.nan, 0.1, 0.1, 0.5])
    assert rank_within(groups, scores).tolist() == [2, 1, 4, 1, 2, 3]


def test_rows_in_one_block_equal_rows_in_many(model, data, monkeypatch):
    """A request's rows come from one block (its CF ranks from that block's scores);
    training's from many blocks (the ranks from a pass of their own): the same values."""
    import reco.ranking.pair_features as pf

    pairs = _pairs(model, data)
    one = to_matrix(build_rows(pairs, model.stage_), RANK_FEATURES)
    monkeypatch.setattr(pf, "CHUNK", 7)
    many = to_matrix(build_rows(pairs, model.stage_), RANK_FEATURES)
    rank = RANK_FEATURES.index("cf_score_rank")
    assert np.array_equal(one[:, rank], many[:, rank])
    # sums over a block's users (item-item scores, neighbours) may round differently
    np.testing.assert_allclose(one, many, rtol=1e-5, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize("recent", [False, True])
def test_item_likes_are_each_users_liked_or_recent_modelled_movies(model, data, recent):
    store = model.stage_.store
    users = data.ratings[USER_ID].unique().sort().to_numpy()[:12]
    context = store.known_users(np.r_[users, [999_999]])  # and one unknown user
    rows = np.arange(len(context))
    got = store.item_likes(context, rows, recent=recent).toarray()
    want = np.zeros_like(got)
    ids = list(store.item_ids)
    for row in rows:
        if recent:
            part = slice(context.recent_indptr[row], context.recent_indptr[row + 1])
            movies = context.recent_movies[part]
        else:
            movies, ratings = context.seen(int(row))
            movies = movies[ratings >= store.like_threshold]
        for movie in movies:
            if movie in ids:
                want[row, ids.index(movie)] += 1.0
    assert np.array_equal(got, want) and want.sum() > 0
