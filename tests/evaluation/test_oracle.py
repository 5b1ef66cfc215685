"""reco.evaluation.oracle: the generator oracle's probabilities match what the generator
draws, it ranks as the maths says, and the protocol scores it like any method."""

from __future__ import annotations

import dataclasses
from statistics import NormalDist

import numpy as np
import polars as pl
import pytest

from reco.data.split import global_time_split, per_user_split
from reco.data.synthetic import SyntheticConfig, generate_with_truth
from reco.evaluation import oracle as oracle_module
from reco.evaluation.metrics import evaluate_topn
from reco.evaluation.oracle import ORACLE, OracleConfig, OracleRecommender, oracle_method
from reco.evaluation.protocol import Method, evaluate_methods
from reco.exceptions import ConfigError, NotFittedError
from reco.models.popularity import PopularityRecommender

# 1996-2023: ratings before and after MovieLens's half stars (2003-03-01) both occur
MID = SyntheticConfig(n_users=1_000, n_movies=1_500, n_ratings=100_000, seed=8)
TINY = dict(n_users=300, n_movies=400, n_ratings=15_000, first_rating_year=2015)


@pytest.fixture(scope="module")
def mid():
    return generate_with_truth(MID)


@pytest.fixture(scope="module")
def taste():
    """MID, but users choose movies by popularity x exp(1.0 x taste)."""
    return generate_with_truth(dataclasses.replace(MID, selection_taste=1.0))


@pytest.fixture(scope="module")
def recent():
    """Three years only, so that the global time split ranks a few hundred users."""
    return generate_with_truth(SyntheticConfig(n_users=2_000, n_movies=1_500,
                                               n_ratings=100_000, seed=1,
                                               first_rating_year=2021))


def _pairs(data):
    r = data.ratings
    return (r["user_id"].to_numpy() - 1, r["movie_id"].to_numpy() - 1,
            r["rating"].to_numpy() >= 3.5)


def _z(liked: np.ndarray, p: np.ndarray) -> float:
    """Standardised gap between the like count and its expectation under ``p``."""
    return float((liked.sum() - p.sum()) / np.sqrt((p * (1 - p)).sum()))


# ---------------------------------------------------------------- P(like)
def test_like_probability_matches_the_generated_like_rate(mid):
    data, truth = mid
    users, movies, liked = _pairs(data)
    p = truth.like_probability(users, movies)
    assert abs(_z(liked, p)) < 4
    # calibrated across the range, not only on average
    bins = np.digitize(p, [0.1, 0.3, 0.5, 0.7, 0.9])
    for b in range(6):
        sel = bins == b
        assert abs(_z(liked[sel], p[sel])) < 4, b
    # the test can fail: leaving out half stars (3.5 is a like, 3 is not) is far off
    whole_only = dataclasses.replace(truth, user_half=np.zeros_like(truth.user_half))
    assert abs(_z(liked, whole_only.like_probability(users, movies))) > 8


@pytest.mark.parametrize("layout", ["dat", "csv"])
def test_without_noise_the_like_is_known_exactly(layout):
    data, truth = generate_with_truth(SyntheticConfig(layout=layout, noise=0.0, seed=3, **TINY))
    users, movies, liked = _pairs(data)
    p = truth.like_probability(users, movies)
    if layout == "dat":
        np.testing.assert_array_equal(p, liked)
    else:  # whether a rating is a half star is still random: only 0 and 1 are sure
        assert (liked[p == 0] == 0).all() and (liked[p == 1] == 1).all()
        assert ((p > 0) & (p < 1)).any()


def test_like_matrix_is_like_probability_for_every_movie(mid):
    _, truth = mid
    users = np.array([0, 5, 17])
    matrix = truth.like_matrix(users, from_day=np.array([10_000, 12_000, 19_000]))
    movies = np.arange(MID.n_movies)
    for row, (u, day) in enumerate(zip(users, (10_000, 12_000, 19_000), strict=True)):
        pairs = truth.like_probability(np.full(movies.size, u), movies,
                                       from_day=np.full(movies.size, day))
        np.testing.assert_allclose(matrix[row], pairs, rtol=1e-5, atol=1e-6)


def test_choosing_by_taste_leaves_the_rating_law_alone(mid, taste):
    # the chosen movies are liked more often, and exactly as like_probability says
    data, truth = taste
    users, movies, liked = _pairs(data)
    p = truth.like_probability(users, movies)
    assert abs(_z(liked, p)) < 4
    assert liked.mean() > _pairs(mid[0])[2].mean() + 0.05


def test_choice_weights_are_popularity_times_exp_of_the_standardised_taste(mid, taste):
    users = np.array([0, 3, 99])
    _, truth = taste
    every = truth.standardised_taste(np.arange(MID.n_users))
    assert truth.taste_scale == pytest.approx(
        float(np.std(truth.user_taste @ truth.movie_taste.T)), rel=1e-4)
    assert every.std() == pytest.approx(1.0, rel=1e-4)
    ratio = truth.choice_weights(users) / (truth.popularity * np.exp(1.0 * every[users]))
    # the same law: a constant per user (each row is scaled so that it cannot overflow)
    np.testing.assert_allclose(ratio / ratio[:, :1], 1.0, rtol=1e-5)
    _, plain = mid
    np.testing.assert_array_equal(plain.choice_weights(users),
                                  np.broadcast_to(plain.popularity, (3, MID.n_movies)))


# ---------------------------------------------------------------- ranking
def _ndcg(model, split) -> float:
    return float(evaluate_topn(model, split)["ndcg@10"])


def _oracle_and_popularity(config: SyntheticConfig) -> tuple[float, float]:
    data, truth = generate_with_truth(config)
    split = per_user_split(data.ratings)
    return (_ndcg(OracleRecommender(truth).fit(split.train), split),
            _ndcg(PopularityRecommender().fit(split.train), split))


def test_with_strong_tastes_the_oracle_ranks_far_better_than_popularity():
    strong, strong_pop = _oracle_and_popularity(
        SyntheticConfig(taste_std=2.5, noise=0.2, seed=1, **TINY))
    flat, flat_pop = _oracle_and_popularity(SyntheticConfig(taste_std=0.0, seed=1, **TINY))
    assert strong > 1.2 * strong_pop
    # without tastes it knows only popularity, biases and dates: a smaller lead
    assert flat_pop < flat < 1.15 * flat_pop
    assert strong / strong_pop > flat / flat_pop + 0.1


def test_when_choice_follows_taste_the_oracle_leads_popularity_by_more():
    base = SyntheticConfig(seed=1, **TINY)
    plain, plain_pop = _oracle_and_popularity(base)
    chosen, chosen_pop = _oracle_and_popularity(dataclasses.replace(base, selection_taste=1.5))
    # measured: 1.19 by popularity alone, 2.7 when choice follows taste
    assert chosen / chosen_pop > plain / plain_pop + 0.5
    assert chosen > plain  # the movies a user rates next are the ones it would like


def test_simple_mode_weighs_by_the_choice_weight(taste):
    data, truth = taste
    split = per_user_split(data.ratings)
    model = OracleRecommender(truth, OracleConfig(mode="simple")).fit(split.train)
    users = np.arange(5)
    expected = np.where(truth.released(users),
                        truth.choice_weights(users) * truth.like_matrix(users), 0.0)
    np.testing.assert_allclose(model._score_users(users), expected, rtol=1e-6)


def test_without_tastes_the_oracle_ranks_by_popularity_and_biases_alone():
    data, truth = generate_with_truth(SyntheticConfig(taste_std=0.0, layout="dat", seed=2,
                                                      **TINY))
    split = per_user_split(data.ratings)
    model = OracleRecommender(truth, OracleConfig(mode="simple")).fit(split.train)
    users = np.arange(20)
    scores = model._score_users(users)
    # the tastes carry nothing: shuffled, the scores are the same
    rng = np.random.default_rng(0)
    shuffled = dataclasses.replace(truth, user_taste=rng.permutation(truth.user_taste),
                                   movie_taste=rng.permutation(truth.movie_taste))
    again = OracleRecommender(shuffled, OracleConfig(mode="simple")).fit(split.train)
    np.testing.assert_array_equal(again._score_users(users), scores)
    # and the ranking is popularity x Phi((b_u + b_i - cut) / (s_u noise)), by hand
    cut = float(truth.whole_cuts[2])  # 4 stars and up
    normal = NormalDist()
    for u in users:
        released = truth.release_day <= truth.user_end[u]
        expected = np.array([
            truth.popularity[i] * normal.cdf(
                (float(truth.user_bias[u]) + float(truth.movie_bias[i]) - cut)
                / (float(truth.user_spread[u]) * truth.noise))
            for i in np.flatnonzero(released)])
        order = np.argsort(-scores[u][released], kind="stable")
        np.testing.assert_allclose(scores[u][released], expected, rtol=1e-4)
        assert (np.diff(expected[order]) <= 1e-12).all()  # sorted by the hand formula
        assert (scores[u][~released] == 0).all()  # unreleased: never rated


@pytest.mark.parametrize("which", ["per_user", "global_time", "taste"])
def test_test_probability_is_calibrated(which, mid, recent, taste):
    data, truth = {"per_user": mid, "global_time": recent, "taste": taste}[which]
    split = (global_time_split if which == "global_time" else per_user_split)(data.ratings)
    model = OracleRecommender(truth).fit(split.train, split.kind)
    users = np.unique(split.test["user_id"].to_numpy()) - 1
    # with selection_taste the weights are popularity x exp(b taste), per user
    weight = truth.choice_weights(users) if which == "taste" else None
    p = oracle_module._test_probability(
        truth, users, model.cut_day_[users], model.draw_rate_[users],
        model.remaining_[users], model.seen_[users], truth.released(users), weight)
    # each user's test part (before the protocol drops movies nobody rated in train)
    held = data.ratings.join(split.train, on=["user_id", "movie_id"], how="anti").filter(
        pl.col("user_id").is_in(users + 1))
    actual = np.zeros(p.shape, dtype=bool)
    rows = np.searchsorted(users, held["user_id"].to_numpy() - 1)
    actual[rows, held["movie_id"].to_numpy() - 1] = True
    np.testing.assert_allclose(p.sum(axis=1), actual.sum(axis=1), rtol=1e-3)
    assert (p[model.seen_[users].toarray() > 0] == 0).all()
    bins = np.digitize(p, [1e-3, 1e-2, 0.1, 0.5])
    for b in range(1, 5):
        sel = bins == b
        assert abs(_z(actual[sel], p[sel].astype(np.float64))) < 5, b


def test_time_helps_on_the_global_split(recent):
    data, truth = recent
    split = global_time_split(data.ratings)
    assert split.summary()["ranked_users"] > 200
    timed = _ndcg(OracleRecommender(truth).fit(split.train, split.kind), split)
    simple = _ndcg(OracleRecommender(truth, OracleConfig(mode="simple")).fit(
        split.train, split.kind), split)
    assert timed > simple


# ---------------------------------------------------------------- solver
def test_solve_concave_known_answers():
    values = np.array([[2.0, 2.0, 2.0, 2.0], [1.0, 1.0, 0.0, 0.0], [1.0, 3.0, 0.0, 0.0]])
    target = np.array([3.0, 2.0, 0.0])
    # occupancy: 4 (1 - exp(-2x)) = 3 -> x = ln(4) / 2; every positive value wanted: inf
    x = oracle_module._solve_concave(values, target, oracle_module._occupancy)
    assert x[0] == pytest.approx(np.log(4) / 2, rel=1e-6)
    assert x[1] == np.inf and x[2] == 0.0
    # inclusion with multiplicities: 4 copies of odds 1: 4 x / (1 + x) = 1 -> x = 1/3
    one = oracle_module._solve_concave(np.ones((1, 1)), np.array([1.0]),
                                       oracle_module._inclusion, np.array([[4.0]]))
    assert one[0] == pytest.approx(1 / 3, rel=1e-6)


# ---------------------------------------------------------------- contract
def test_the_protocol_scores_it_like_any_method(mid):
    data, truth = mid
    split = per_user_split(data.ratings)
    rows, fitted = evaluate_methods(data, split, [Method(ORACLE, "oracle",
                                                         oracle_method(truth))])
    assert rows[0]["method"] == ORACLE and 0 < rows[0]["ndcg@10"] <= 1
    model = fitted[ORACLE]
    ids, scores = model.recommend_batch(split.test["user_id"].unique().to_numpy()[:50], k=10)
    assert (np.diff(scores, axis=1) <= 0).all()
    seen = split.train.select("user_id", "movie_id")
    recs = pl.DataFrame({"user_id": np.repeat(split.test["user_id"].unique().to_numpy()[:50],
                                              10), "movie_id": ids.ravel()})
    assert recs.join(seen, on=["user_id", "movie_id"]).height == 0
    released = truth.release_day[ids.ravel() - 1] <= truth.user_end[recs["user_id"] - 1]
    assert released.all()


def test_errors(mid):
    _, truth = mid
    with pytest.raises(NotFittedError):
        OracleRecommender(truth).recommend(1)
    with pytest.raises(ConfigError, match="mode"):
        OracleConfig(mode="psychic")
    with pytest.raises(ConfigError, match="kind"):
        OracleRecommender(truth).fit(pl.DataFrame(), kind="random")
