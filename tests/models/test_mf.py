"""reco.models.mf.svd and .als: SVD and ALS against known answers, and on the real data."""

from __future__ import annotations

import itertools
import logging
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import threadpoolctl

import reco.models.mf._als_solver
import reco.models.mf.als
from reco.columns import MOVIE_ID, RATING, RATINGS_SCHEMA, USER_ID
from reco.data.movielens import load_movielens
from reco.data.split import LIKE_THRESHOLD, per_user_split
from reco.exceptions import ConfigError, ModelFitError
from reco.models.interactions import Interactions
from reco.models.mf import ALSConfig, ALSRecommender, SVDConfig, SVDRecommender, baseline
from tests.recommenders import RECOMMENDER_CASES, block_ratings


def _frame(rows: list[tuple[int, int, float]]) -> pl.DataFrame:
    return pl.DataFrame([(u, m, r, t) for t, (u, m, r) in enumerate(rows)],
                        schema=RATINGS_SCHEMA, orient="row")


def low_rank_ratings(n_users: int = 120, n_items: int = 80, rank: int = 3,
                     density: float = 0.3, noise: float = 0.3,
                     seed: int = 0) -> tuple[pl.DataFrame, np.ndarray]:
    """Ratings ``3.5 + U V^T + noise`` on a random ``density`` of the cells (clipped to
    0.5..5), and the noiseless full matrix."""
    rng = np.random.default_rng(seed)
    truth = 3.5 + rng.normal(0, 0.6, (n_users, rank)) @ rng.normal(0, 0.6, (rank, n_items))
    users, items = np.nonzero(rng.random((n_users, n_items)) < density)
    stars = np.clip(truth[users, items] + rng.normal(0, noise, users.size), 0.5, 5.0)
    frame = pl.DataFrame({USER_ID: users + 1, MOVIE_ID: items + 1, RATING: stars,
                          "timestamp": rng.permutation(users.size)}).cast(RATINGS_SCHEMA)
    return frame, truth


def ndcg_at_10(model, split) -> float:
    """Mean binary-gain NDCG@10 over users with a liked test movie (reco-eval v1)."""
    liked = (split.test.filter(pl.col(RATING) >= LIKE_THRESHOLD)
             .group_by(USER_ID).agg(MOVIE_ID).sort(USER_ID))
    ids, _ = model.recommend_batch(liked[USER_ID].to_numpy(), 10, exclude_seen=True)
    discount = 1.0 / np.log2(np.arange(2, 12))
    total = 0.0
    for row, relevant in zip(ids, liked[MOVIE_ID].to_list()):
        hits = np.isin(row, relevant)
        total += (hits * discount).sum() / discount[: min(len(relevant), 10)].sum()
    return total / len(ids)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# ---------------------------------------------------------------- SVD
@pytest.mark.parametrize("factors", [4, 15])  # ARPACK, and the dense path (2k + 1 >= 20)
def test_svd_reconstructs_a_low_rank_matrix(factors):
    rng = np.random.default_rng(1)
    full = rng.random((30, 4)) @ rng.random((4, 20))  # rank 4, every cell observed
    rows = [(u + 1, i + 1, full[u, i]) for u in range(30) for i in range(20)]
    model = SVDRecommender(SVDConfig(factors=factors, center="none")).fit(_frame(rows))
    users, items = np.meshgrid(np.arange(1, 31), np.arange(1, 21), indexing="ij")
    pred = model.predict(users.ravel(), items.ravel()).reshape(30, 20)
    np.testing.assert_allclose(pred, full, atol=1e-4)
    expected = np.linalg.svd(full, compute_uv=False)[: model.singular_values_.size]
    np.testing.assert_allclose(model.singular_values_, expected, rtol=1e-5, atol=1e-4)


def test_centring_modes_give_the_documented_baselines():
    ratings = _frame([(1, 1, 4.0), (1, 2, 2.0), (2, 1, 5.0), (3, 2, 1.0), (3, 3, 3.0)])
    model = SVDRecommender(SVDConfig(factors=1))
    matrix = model.fit(ratings).seen_
    user, item = baseline(matrix, "user")
    assert user.tolist() == [3.0, 5.0, 2.0] and item.tolist() == [0.0, 0.0, 0.0]
    user, item = baseline(matrix, "item")
    assert user.tolist() == [0.0, 0.0, 0.0] and item.tolist() == [4.5, 1.5, 3.0]
    # mu = 3; b_i = mean(r - mu) = 1.5, -1.5, 0; b_u = mean(r - mu - b_i) = 0, 0.5, -0.25
    user, item = baseline(matrix, "both")
    np.testing.assert_allclose(user, [3.0, 3.5, 2.75])
    np.testing.assert_allclose(item, [1.5, -1.5, 0.0])
    user, item = baseline(matrix, "none")
    assert not user.any() and not item.any()


def test_only_observed_ratings_are_centred():
    # each user rates every movie they saw alike: the user-centred matrix is all 0, so
    # every movie, seen or not, scores the user's mean
    ratings = _frame([(1, 1, 4.0), (1, 2, 4.0), (2, 2, 2.0), (2, 3, 2.0), (3, 1, 3.0)])
    model = SVDRecommender(SVDConfig(factors=1, center="user")).fit(ratings)
    np.testing.assert_allclose(model.score(1, [1, 2, 3]), [4.0] * 3, atol=1e-6)
    np.testing.assert_allclose(model.score(2, [1, 2, 3]), [2.0] * 3, atol=1e-6)


@pytest.mark.parametrize("center", ["user", "item", "both", "none"])
def test_svd_fold_in_of_a_training_user_reproduces_their_scores(center):
    ratings, _ = low_rank_ratings()
    model = SVDRecommender(SVDConfig(factors=5, center=center)).fit(ratings)
    for user in (1, 7, 50):
        mine = ratings.filter(pl.col(USER_ID) == user)
        items = model.item_map_.indices(mine[MOVIE_ID].to_numpy())
        folded = model._fold_in(items, mine[RATING].to_numpy())
        fitted = model._score_users(np.array([model.user_map_.index(user)]))[0]
        np.testing.assert_allclose(folded, fitted, atol=1e-3)


# ---------------------------------------------------------------- ALS
@pytest.mark.parametrize("feedback", ["implicit", "explicit"])
def test_als_loss_decreases_over_iterations(feedback):
    ratings, _ = low_rank_ratings()
    losses = [
        ALSRecommender(ALSConfig(factors=8, iterations=n, regularization=0.1,
                                 feedback=feedback, threads=1)).fit(ratings).training_loss()
        for n in (1, 2, 4, 8)
    ]
    assert all(b <= a * (1 + 1e-6) for a, b in itertools.pairwise(losses)), losses
    assert losses[-1] < 0.9 * losses[0], losses


@pytest.mark.parametrize("feedback", ["implicit", "explicit"])
def test_a_warm_start_continues_from_the_previous_factors(feedback):
    """From a converged fit on the same ratings one sweep stays at its loss, where one
    sweep from noise is far from it; a refit on more ratings (new users and movies
    among them) starts the known ones from the old factors and still converges."""
    ratings, _ = low_rank_ratings(seed=3)
    config = ALSConfig(factors=8, iterations=15, regularization=0.1, feedback=feedback,
                       threads=1)
    done = ALSRecommender(config).fit(ratings)
    again = ALSRecommender(config).fit_interactions(
        Interactions.from_ratings(ratings), warm_start=done, iterations=1)
    cold = ALSRecommender(replace(config, iterations=1)).fit(ratings)
    assert again.training_loss() <= done.training_loss() * 1.01
    assert cold.training_loss() > done.training_loss() * 1.05
    assert np.corrcoef(again._score_users(np.arange(30)).ravel(),
                       done._score_users(np.arange(30)).ravel())[0, 1] > 0.999
    # a part of the ratings warm-starts the refit on all of them
    early = ratings.filter(pl.col(USER_ID) <= 90, pl.col(MOVIE_ID) <= 60)
    part = ALSRecommender(config).fit(early)
    refit = ALSRecommender(config).fit_interactions(
        Interactions.from_ratings(ratings), warm_start=part, iterations=4)
    full_cold = ALSRecommender(replace(config, iterations=4)).fit(ratings)
    assert refit.training_loss() < full_cold.training_loss()
    assert refit.user_factors_.shape == done.user_factors_.shape


def test_a_warm_start_needs_the_same_kind_of_model():
    ratings, _ = low_rank_ratings()
    implicit = ALSRecommender(ALSConfig(factors=4, iterations=2, threads=1)).fit(ratings)
    wider = ALSRecommender(ALSConfig(factors=8, iterations=2, threads=1))
    with pytest.raises(ValueError, match="warm start from a implicit ALS of 4 factors"):
        wider.fit_interactions(Interactions.from_ratings(ratings), warm_start=implicit)
    explicit = ALSRecommender(ALSConfig(factors=4, iterations=2, feedback="explicit",
                                        threads=1))
    with pytest.raises(ValueError, match="this is explicit"):
        explicit.fit_interactions(Interactions.from_ratings(ratings), warm_start=implicit)
    assert not hasattr(explicit, "user_factors_")  # a failed fit leaves nothing learned


@pytest.mark.parametrize("feedback", ["implicit", "explicit"])
def test_cg_and_exact_solvers_agree(feedback):
    ratings, _ = low_rank_ratings()
    models = [ALSRecommender(ALSConfig(factors=6, iterations=10, regularization=1.0,
                                       feedback=feedback, solver=solver, cg_steps=6,
                                       dtype=dtype, threads=1)).fit(ratings)
              for solver, dtype in (("cg", "float32"), ("exact", "float64"))]
    a, b = (m._score_users(np.arange(20)) for m in models)
    assert models[1].user_factors_.dtype == np.float64
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.999


def test_implicit_fold_in_recovers_the_fitted_factors():
    ratings, _ = low_rank_ratings()
    model = ALSRecommender(ALSConfig(factors=8, iterations=15, regularization=1.0,
                                     threads=1)).fit(ratings)
    for user, movies, stars in ratings.group_by(USER_ID).agg(MOVIE_ID, RATING).iter_rows():
        if max(stars) < model.config.like_threshold:
            continue
        vector = model._fold_in_vector(model.item_map_.indices(movies), np.array(stars))
        assert _cosine(vector, model.user_factors_[model.user_map_.index(user)]) > 0.9


def test_explicit_fold_in_recovers_factors_and_bias():
    ratings, _ = low_rank_ratings()
    model = ALSRecommender(ALSConfig(factors=4, feedback="explicit", threads=1)).fit(ratings)
    for user in (1, 2, 3):
        mine = ratings.filter(pl.col(USER_ID) == user)
        vector = model._fold_in_vector(model.item_map_.indices(mine[MOVIE_ID].to_numpy()),
                                       mine[RATING].to_numpy())
        u = model.user_map_.index(user)
        fitted = np.append(model.user_factors_[u], model.user_bias_[u])
        assert _cosine(vector, fitted) > 0.95


def test_a_user_without_likes_is_scored_as_the_average_user():
    ratings = _frame([(1, 1, 5.0), (1, 2, 4.0), (2, 2, 5.0), (2, 3, 4.0), (3, 1, 1.0)])
    model = ALSRecommender(ALSConfig(factors=2, regularization=0.1, threads=1)).fit(ratings)
    mean = model.user_factors_[:2].mean(axis=0)
    np.testing.assert_allclose(model.user_factors_[2], mean, rtol=1e-6)
    np.testing.assert_allclose(model._fold_in_vector(np.array([0]), np.array([1.0])), mean,
                               rtol=1e-6)


def test_implicit_without_any_like_cannot_fit():
    with pytest.raises(ModelFitError, match="like_threshold"):
        ALSRecommender().fit(_frame([(1, 1, 1.0), (2, 1, 2.0)]))


def test_predicted_ratings_beat_the_global_mean():
    ratings, _ = low_rank_ratings(n_users=200, n_items=120, density=0.25, seed=3)
    split = per_user_split(ratings)
    stars = split.test[RATING].to_numpy()
    baseline_rmse = np.sqrt(np.mean((stars - split.train[RATING].mean()) ** 2))
    # explicit ALS fits the observed cells only; the SVD also fits the unobserved zeros,
    # which shrink its predictions towards the baseline
    for model, factor in ((ALSRecommender(ALSConfig(factors=8, feedback="explicit",
                                                    threads=1)), 0.75),
                          (SVDRecommender(SVDConfig(factors=3, center="both")), 0.95)):
        pred = model.fit(split.train).predict(split.test[USER_ID], split.test[MOVIE_ID])
        rmse = np.sqrt(np.mean((pred - stars) ** 2))
        assert rmse < factor * baseline_rmse, (type(model).__name__, rmse, baseline_rmse)


def test_predict_needs_ratings_and_marks_unknown_pairs():
    ratings, _ = low_rank_ratings()
    implicit = ALSRecommender(ALSConfig(factors=2, threads=1)).fit(ratings)
    with pytest.raises(NotImplementedError, match="explicit"):
        implicit.predict([1], [1])
    explicit = ALSRecommender(ALSConfig(factors=2, feedback="explicit", threads=1)).fit(ratings)
    pred = explicit.predict([1, 999_999, 1], [1, 1, 999_999])
    assert np.isfinite(pred[0]) and np.isnan(pred[1:]).all()
    with pytest.raises(ValueError, match="movie ids"):
        explicit.predict([1, 2], [1])


@pytest.mark.parametrize(
    "name", [c.name for c in RECOMMENDER_CASES if c.name not in ("popularity", "hybrid")])
def test_similar_movies_come_from_the_same_block(name):
    model = {c.name: c for c in RECOMMENDER_CASES}[name].fit(block_ratings()[0])
    for movie, group in ((101, range(101, 107)), (204, range(201, 207))):
        ids, _ = model.similar_items(movie, 3)
        assert set(ids.tolist()) <= set(group), (movie, ids)


# ---------------------------------------------------------------- configs and threads
@pytest.mark.parametrize("make,field", [
    (lambda: ALSConfig(factors=0), "ALSConfig.factors"),
    (lambda: ALSConfig(iterations=2.5), "ALSConfig.iterations"),
    (lambda: ALSConfig(regularization=-1.0), "ALSConfig.regularization"),
    (lambda: ALSConfig(alpha="big"), "ALSConfig.alpha"),
    (lambda: ALSConfig(feedback="ratings"), "ALSConfig.feedback"),
    (lambda: ALSConfig(confidence="high"), "ALSConfig.confidence"),
    (lambda: ALSConfig(solver="lu"), "ALSConfig.solver"),
    (lambda: ALSConfig(dtype="float16"), "ALSConfig.dtype"),
    (lambda: ALSConfig(threads=0), "ALSConfig.threads"),
    (lambda: SVDConfig(factors=-3), "SVDConfig.factors"),
    (lambda: SVDConfig(center="median"), "SVDConfig.center"),
    (lambda: SVDConfig(threads=True), "SVDConfig.threads"),
    (lambda: SVDConfig.from_dict({"rank": 3}), "rank"),
])
def test_config_errors_name_the_field(make, field):
    with pytest.raises(ConfigError, match=field):
        make()


def test_regularization_defaults_per_variant():
    # implicit: 0.135 sqrt(likes), 30 on ml-latest-small's 49,447 liked train ratings
    assert ALSConfig().resolve_regularization(49_447) == pytest.approx(30.0, rel=0.01)
    assert ALSConfig(feedback="explicit").resolve_regularization(10**6) == 0.1
    assert ALSConfig(regularization=0.5).resolve_regularization(10**6) == 0.5
    ratings, _ = low_rank_ratings()
    model = ALSRecommender(ALSConfig(factors=2, iterations=1, threads=1)).fit(ratings)
    n_likes = int((ratings[RATING] >= 3.5).sum())
    assert model.regularization_ == pytest.approx(0.135 * np.sqrt(n_likes))


def test_threads_are_honoured(monkeypatch):
    ratings, _ = low_rank_ratings()
    calls, workers, blas_seen = [], [], []
    real_limits = reco.models.mf._als_solver.threadpool_limits
    real_pool = reco.models.mf.als.ThreadPoolExecutor

    @contextmanager
    def recording_limits(limits: int, user_api: str):
        calls.append((limits, user_api))
        with real_limits(limits=limits, user_api=user_api):
            yield

    def recording_pool(n: int):
        workers.append(n)
        return real_pool(n)

    monkeypatch.setattr(reco.models.mf._als_solver, "threadpool_limits", recording_limits)
    monkeypatch.setattr(reco.models.mf.als, "ThreadPoolExecutor", recording_pool)

    def callback(iteration, model):
        blas_seen.extend(p["num_threads"] for p in threadpoolctl.threadpool_info()
                         if p["user_api"] == "blas")

    fitted = [ALSRecommender(ALSConfig(factors=4, iterations=3, threads=n)).fit(
        ratings, callback=callback) for n in (1, 2)]
    assert calls == [(1, "blas"), (1, "blas")]  # BLAS held to 1 thread per worker
    assert workers == [2]  # threads=1 runs inline, threads=2 in a pool of 2
    assert blas_seen and set(blas_seen) == {1}
    np.testing.assert_array_equal(fitted[0].user_factors_, fitted[1].user_factors_)
    calls.clear()
    SVDRecommender(SVDConfig(factors=2, threads=3)).fit(ratings)
    assert calls == [(3, "blas")]


def test_fit_without_threadpoolctl_logs_and_runs(monkeypatch, caplog):
    monkeypatch.setattr(reco.models.mf._als_solver, "threadpool_limits", None)
    with caplog.at_level(logging.DEBUG, logger="reco.models.mf._als_solver"):
        ALSRecommender(ALSConfig(factors=2, iterations=1, threads=1)).fit(low_rank_ratings()[0])
    assert "threadpoolctl is not importable" in caplog.text


# ---------------------------------------------------------------- the real data
@pytest.mark.slow
def test_ndcg_on_ml_latest_small(ml_latest_small: Path):
    # measured with these defaults: ALS 0.128, SVD 0.120 (peers: implicit ALS 0.108,
    # truncated SVD k 20 0.117, EASE 0.133); explicit ALS RMSE 0.871
    split = per_user_split(load_movielens(ml_latest_small).ratings)
    assert ndcg_at_10(ALSRecommender().fit(split.train), split) > 0.115
    assert ndcg_at_10(SVDRecommender().fit(split.train), split) > 0.11
    explicit = ALSRecommender(ALSConfig(feedback="explicit")).fit(split.train)
    pred = explicit.predict(split.test[USER_ID], split.test[MOVIE_ID])
    assert np.sqrt(np.mean((pred - split.test[RATING].to_numpy()) ** 2)) < 0.9
