"""The two-stage recommender: windows, ranker, P(like), persistence, context features."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from reco.artifacts.manifest import read_manifest
from reco.artifacts.model_dir import load_model, save_model
from reco.columns import RATINGS_SCHEMA
from reco.data.synthetic import SyntheticConfig, generate
from reco.exceptions import ArtifactError, ConfigError, UnknownIdError
from reco.features.temporal import RecentItems, TimePopularity
from reco.models.content import ContentConfig
from reco.models.mf import ALSConfig, ALSRecommender, SVDConfig
from reco.ranking.booster import RankerConfig, sample_rows
from reco.ranking.candidates import CandidateConfig, generate_candidates
from reco.ranking.hybrid import HybridConfig, HybridRecommender
from reco.ranking.pair_features import LIKE_FEATURES, RANK_FEATURES
from reco.ranking.tuning import TuneConfig
from tests.artifact_tools import current, reseal
from tests.reference_rows import recent_similarity

SMALL = HybridConfig(
    cf=ALSConfig(factors=16, iterations=5),
    rating_model="svd", rating_svd=SVDConfig(factors=8, center="both"),
    content=ContentConfig(dimensions=16),
    candidates=CandidateConfig(n_cf=40, n_content=10, n_popular=10),
    ranker=RankerConfig(n_estimators=40, learning_rate=0.2, threads=1),
    # fit-time tuning and the earlier label windows have their own tests
    # (tests/ranking/test_tuning.py, test_earlier_windows.py); the suite's many small fits
    # leave them out
    tune=TuneConfig(enabled=False),
    earlier_windows=0,
)


@pytest.fixture(scope="module")
def data():
    return generate(SyntheticConfig(n_users=250, n_movies=300, n_ratings=15_000, seed=5))


@pytest.fixture(scope="module")
def model(data):
    return HybridRecommender(SMALL).fit(data.ratings, data.movies, tags=data.tags, links=data.links)


def test_recommend_excludes_training_movies_and_orders_scores(model, data):
    user = int(data.ratings["user_id"][0])
    ids, scores = model.recommend(user, k=10)
    seen = set(data.ratings.filter(pl.col("user_id") == user)["movie_id"].to_list())
    assert len(ids) == 10 and not seen & set(ids.tolist())
    assert np.all(np.diff(scores) <= 0)


def test_windows_are_recorded_and_labels_come_later(model):
    windows = model.window_
    assert windows["label_window_ratings"] > 0 and windows["feature_window_ratings"] > 0
    assert 0 < windows["ranker_positive_rate"] < 1
    assert 0 < windows["candidate_recall"] <= 1


def test_predict_like_is_a_probability(model, data):
    users = data.ratings["user_id"].to_numpy()[:200]
    movies = np.roll(data.ratings["movie_id"].to_numpy()[:200], 7)
    p = model.predict_like(users, movies)
    assert p.shape == (200,) and np.all((p >= 0) & (p <= 1))


def test_unknown_user_raises(model):
    with pytest.raises(UnknownIdError):
        model.recommend(10_000_000)


def test_save_load_round_trip_is_identical(model, data, tmp_path):
    save_model(model, tmp_path, catalog=data.movies)
    loaded, _, _ = load_model(tmp_path)
    users = data.ratings["user_id"].unique().to_numpy()[:20]
    a_ids, a_scores = model.recommend_batch(users, 10)
    b_ids, b_scores = loaded.recommend_batch(users, 10)
    assert np.array_equal(a_ids, b_ids) and np.allclose(a_scores, b_scores)
    for path in tmp_path.rglob("*.npz"):
        np.load(path, allow_pickle=False).close()  # every array loads without pickle


def test_load_rejects_another_feature_order(model, data, tmp_path):
    save_model(model, tmp_path, catalog=data.movies)
    manifest = read_manifest(tmp_path)
    manifest["model"]["rank_features"] = list(reversed(manifest["model"]["rank_features"]))
    reseal(current(tmp_path), manifest)
    with pytest.raises(ArtifactError, match="rank_features"):
        load_model(tmp_path)


def test_same_seed_same_recommendations(data):
    users = data.ratings["user_id"].unique().to_numpy()[:15]
    fits = [HybridRecommender(SMALL).fit(data.ratings, data.movies) for _ in range(2)]
    first, second = (fit.recommend_batch(users, 10)[0] for fit in fits)
    assert np.array_equal(first, second)


def test_config_round_trips_through_a_dict():
    assert HybridConfig.from_dict(SMALL.to_dict()) == SMALL
    assert list(RANK_FEATURES[: len(LIKE_FEATURES)]) == list(LIKE_FEATURES)


def test_candidates_union_keeps_each_source_rank(model, data):
    users = data.ratings["user_id"].unique().to_numpy()[:5]
    people = model.stage_.store.known_users(users)
    cands = generate_candidates(people, model.stage_.store, SMALL.candidates).frame(people)
    assert not cands.select("user_id", "movie_id").is_duplicated().any()
    assert cands["rank_in_cf"].drop_nulls().max() <= SMALL.candidates.n_cf
    assert cands["movie_id"].is_in(pl.Series(model.item_map_.ids).implode()).all()
    per_user = cands.group_by("user_id").len()["len"]
    assert (per_user >= SMALL.candidates.n_cf).all()
    # each source's ranks are exactly that source's own top-n of the user's unrated movies
    for user in users:
        mine = cands.filter(pl.col("user_id") == user)
        for source, n in (("cf", SMALL.candidates.n_cf), ("popular", SMALL.candidates.n_popular)):
            expected, _ = model.stage_.sources()[source].recommend(int(user), n)
            got = mine.drop_nulls(f"rank_in_{source}").sort(f"rank_in_{source}")["movie_id"]
            assert got.to_list() == expected.tolist()


def test_sample_rows_keeps_every_positive():
    labels = np.array([0] * 90 + [1] * 10)
    rows = sample_rows(labels, 30, np.random.default_rng(0))
    assert rows.size == 30 and labels[rows].sum() == 10 and np.all(np.diff(rows) > 0)
    assert sample_rows(labels, 500, np.random.default_rng(0)).size == 100


def _ratings(rows):
    return pl.DataFrame(rows, schema=RATINGS_SCHEMA, orient="row")


MONTH = 30 * 86_400


def test_time_popularity_counts_the_months_before_a_time():
    # movie 1: rated in months 0, 1, 5; movie 2: in month 5 only.
    ratings = _ratings([(1, 1, 4.0, 0), (2, 1, 3.0, MONTH), (3, 1, 5.0, 5 * MONTH),
                        (4, 2, 4.0, 5 * MONTH + 10)])
    tp = TimePopularity.from_ratings(ratings)
    share = tp.share(np.array([1, 1, 2, 99]), np.array([MONTH + 5] * 2 + [5 * MONTH] * 2),
                     months=3)
    # up to month 1: movie 1 has 2 of 2 ratings; up to month 5 (months 3-5): movie 2 has 1 of 2
    assert share[0] == pytest.approx(1.0) and share[2] == pytest.approx(0.5)
    assert np.isnan(share[3])
    seen = tp.seen_share(np.array([1, 2]), np.array([MONTH, MONTH]))
    assert seen.tolist() == pytest.approx([2 / 3, 0.0])


def test_recent_items_similarity_uses_the_latest_movies():
    ratings = _ratings([(1, 10, 4.0, 1), (1, 20, 4.0, 2), (1, 30, 4.0, 3)])
    recent = RecentItems.from_ratings(ratings, n=2)  # movies 20 and 30
    from reco.ids import IdMap

    items = IdMap([10, 20, 30, 40])
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])  # unit length
    # the reference the pair features are checked against (tests/ranking/test_pair_features)
    sims = recent_similarity(recent, np.array([1, 1, 2]), np.array([40, 20, 40]), items, vectors)
    assert sims[0] == pytest.approx(0.0) and sims[1] == pytest.approx(1.0)
    assert np.isnan(sims[2])


def test_unfitted_and_bad_k_errors(model):
    from reco.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        HybridRecommender(SMALL).recommend(1)
    with pytest.raises(ValueError, match="k must be"):
        model.recommend(int(model.user_map_.ids[0]), k=0)
    with pytest.raises(ValueError, match="movies table"):
        HybridRecommender(SMALL).fit(pl.DataFrame(schema=RATINGS_SCHEMA), None)  # type: ignore[arg-type]


def test_batch_matches_single(model, data):
    users = data.ratings["user_id"].unique().sort().to_numpy()[:6]
    batch_ids, _ = model.recommend_batch(users, 5)
    for row, user in enumerate(users):
        assert model.recommend(int(user), 5)[0].tolist() == batch_ids[row].tolist()


# ---------------------------------------------------------------- known answers
def test_ranker_puts_each_users_held_out_movie_first():
    from reco.models.popularity import PopularityRecommender
    from tests.recommenders import TINY_HYBRID, held_out_release

    train, movies, held_out = held_out_release()
    users = np.array(sorted(held_out))
    expected = [held_out[u] for u in users]
    model = HybridRecommender(TINY_HYBRID).fit(train, movies)
    top = model.recommend_batch(users, 1)[0][:, 0]
    assert top.tolist() == expected  # rank 1 for every one of the 24 users
    # popularity ranks one list for everyone, so it finds a third at most: the test can fail
    popular = PopularityRecommender().fit(train).recommend_batch(users, 1)[0][:, 0]
    assert np.mean(popular == np.array(expected)) <= 1 / 3


def test_exclude_seen_false_ranks_the_rated_movies_with_the_rest(model, data):
    user = int(data.ratings["user_id"][0])
    rated = set(data.ratings.filter(pl.col("user_id") == user)["movie_id"].to_list())
    ids, scores = model.recommend(user, k=model.n_items, exclude_seen=False)
    assert rated <= set(ids.tolist())  # every rated movie is scored and listed
    assert np.all(np.diff(scores) <= 0) and np.isfinite(scores).all()
    unseen, _ = model.recommend(user, k=model.n_items)
    # the candidates keep their scores; the rated movies are merged in between
    kept = [i for i in ids.tolist() if i not in rated]
    assert kept == unseen.tolist()


# ---------------------------------------------------------------- work done once
def _counting(monkeypatch, owner, name):
    calls = []
    original = getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(name)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_one_ratings_matrix_per_window(monkeypatch, data):
    from reco.models import interactions as module

    built = _counting(monkeypatch, module.Interactions, "__post_init__")
    matrices = _counting(monkeypatch, module, "rating_matrix")
    HybridRecommender(SMALL).fit(data.ratings, data.movies, tags=data.tags, links=data.links)
    # two windows (feature window, all ratings): one matrix from the frame each, and the
    # content model's widened copy of it
    assert len(matrices) == 2
    assert len(built) <= 4


def test_the_refit_on_all_ratings_starts_from_the_feature_windows_factors(monkeypatch):
    data = generate(SyntheticConfig(n_users=80, n_movies=90, n_ratings=3_000, seed=6))
    starts = []
    original = ALSRecommender._start_from

    def recorded(self, warm, x, y):
        starts.append((self.config.feedback, warm))
        return original(self, warm, x, y)

    sweeps = []
    fit = ALSRecommender._fit

    def counted(self, matrix, **context):
        sweeps.append((self.config.feedback, context.get("iterations")))
        return fit(self, matrix, **context)

    monkeypatch.setattr(ALSRecommender, "_start_from", recorded)
    monkeypatch.setattr(ALSRecommender, "_fit", counted)
    config = replace(SMALL, rating_model="explicit_als",
                     rating_als=ALSConfig(feedback="explicit", factors=8, iterations=4),
                     refit_iterations=2, rating_refit_iterations=3)
    model = HybridRecommender(config).fit(data.ratings, data.movies)
    # the feature window's two ALS fits start from noise; the refit's two from them
    assert [feedback for feedback, _ in starts] == ["implicit", "explicit"]
    assert all(warm.seen_.nnz < model.seen_.nnz for _, warm in starts)
    # with their own numbers of sweeps (the window's: their configs' iterations)
    assert sweeps[-2:] == [("implicit", 2), ("explicit", 3)]
    assert [(f, n) for f, n in sweeps[:-2] if f == "explicit"] == [("explicit", None)]
    starts.clear()
    sweeps.clear()
    HybridRecommender(replace(config, rating_refit_iterations=None)).fit(data.ratings,
                                                                         data.movies)
    assert sweeps[-2:] == [("implicit", 2), ("explicit", 2)]  # the rating model's follow
    starts.clear()
    HybridRecommender(replace(config, refit_iterations=None)).fit(data.ratings, data.movies)
    assert starts == []


def test_refit_iterations_are_checked():
    with pytest.raises(ConfigError, match="refit_iterations"):
        replace(SMALL, refit_iterations=0)
    with pytest.raises(ConfigError, match="rating_refit_iterations"):
        replace(SMALL, rating_refit_iterations=0)


def _tagged_release(data):
    """The synthetic release's tags plus one, ``leaky``, that a user applies during
    their label window."""
    from reco.data.split import per_user_split

    window = per_user_split(data.ratings)
    user, movie, _, stamp = window.test.sort("timestamp").row(0)
    leak = pl.DataFrame({"user_id": [user], "movie_id": [movie], "tag": ["leaky"],
                         "timestamp": [stamp + 1]}, schema=data.tags.schema)
    return pl.concat([data.tags, leak])


def spy_embedded_tags(monkeypatch) -> list[set[str]]:
    """The tags each content text embedding of a fit saw, in order."""
    from reco.ranking import hybrid as module

    seen: list[set[str]] = []
    original = module.embed_movies

    def spy(movies, config, tags=None, links=None, tmdb=None):
        seen.append(set(tags["tag"].to_list()) if tags is not None else set())
        return original(movies, config, tags, links, tmdb)

    monkeypatch.setattr(module, "embed_movies", spy)
    return seen


def test_label_window_tags_do_not_reach_the_feature_window(monkeypatch, data):
    tags = _tagged_release(data)
    seen_tags = spy_embedded_tags(monkeypatch)
    HybridRecommender(SMALL).fit(data.ratings, data.movies, tags=tags, links=data.links)
    # feature window first, without the tag; then all ratings, with it: two distinct texts
    assert len(seen_tags) == 2
    assert "leaky" not in seen_tags[0] and "leaky" in seen_tags[1]


def test_tags_are_cut_per_user_at_their_first_label_rating():
    from reco.data.split import tags_before_label_window

    label = _ratings([(1, 10, 4.0, 100), (1, 11, 4.0, 200), (2, 10, 4.0, 50)])
    tags = pl.DataFrame({"user_id": [1, 1, 2, 3], "movie_id": [10, 10, 10, 10],
                         "tag": ["before", "during", "late", "no window"],
                         "timestamp": [99, 100, 60, 10_000]},
                        schema={"user_id": pl.Int32, "movie_id": pl.Int32, "tag": pl.String,
                                "timestamp": pl.Int64})
    kept = tags_before_label_window(tags, label)
    assert kept["tag"].to_list() == ["before", "no window"]
    with pytest.raises(ValueError, match="timestamp"):
        tags_before_label_window(tags.drop("timestamp"), label)


def test_the_text_pipeline_runs_once_when_no_tag_is_cut(monkeypatch, data):
    from reco.ranking import hybrid as module

    calls = _counting(monkeypatch, module, "embed_movies")
    # every tag dated before the first rating, so before every label window
    early = data.tags.with_columns(pl.lit(data.ratings["timestamp"].min() - 1,
                                          dtype=pl.Int64).alias("timestamp"))
    HybridRecommender(SMALL).fit(data.ratings, data.movies, tags=early, links=data.links)
    assert len(calls) == 1


# ---------------------------------------------------------------- one like threshold
def test_one_like_threshold_reaches_every_part(data):
    from reco.exceptions import ConfigError

    config = SMALL.with_like_threshold(4.0)
    assert {config.cf.like_threshold, config.rating_als.like_threshold,
            config.content.like_threshold, config.features.like_threshold} == {4.0}
    model = HybridRecommender(config).fit(data.ratings, data.movies)
    stage = model.stage_
    assert stage.like_threshold == stage.store.like_threshold == 4.0
    assert stage.popular.config.like_threshold == 4.0
    assert stage.cf.config.like_threshold == 4.0
    with pytest.raises(
            ConfigError, match=r"HybridConfig.like_threshold.*HybridConfig.cf.like_threshold"):
        HybridConfig(like_threshold=4.0)
    with pytest.raises(ConfigError, match="content.like_threshold"):
        HybridConfig(content=ContentConfig(like_threshold=3.0))
    assert HybridConfig.from_dict(config.to_dict()) == config
    # a manifest written when the threshold lived in RankerConfig still loads
    legacy = SMALL.to_dict()
    legacy.pop("like_threshold")
    legacy["ranker"]["like_threshold"] = 3.5
    assert HybridConfig.from_dict(legacy) == SMALL


def test_a_failed_fit_leaves_the_hybrid_unfitted(monkeypatch, data):
    from reco.exceptions import NotFittedError
    from reco.ranking import label_windows as module

    def broken(*args, **kwargs):
        raise RuntimeError("no booster today")

    monkeypatch.setattr(module, "fit_booster", broken)
    model = HybridRecommender(SMALL)
    with pytest.raises(RuntimeError):
        model.fit(data.ratings, data.movies)
    with pytest.raises(NotFittedError):
        model.recommend(int(data.ratings["user_id"][0]))
