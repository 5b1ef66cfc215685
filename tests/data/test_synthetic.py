"""Tests of reco.data.synthetic: shape, determinism, learnable structure and the release writers."""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import reco.data.synthetic as synthetic
from reco.columns import (
    GENRE_VOCABULARY,
    LINKS_SCHEMA,
    MOVIES_SCHEMA,
    NO_GENRES,
    RATINGS_SCHEMA,
    TAGS_SCHEMA,
    USERS_SCHEMA,
)
from reco.data.dataset import HALF_STAR_SCALE, WHOLE_STAR_SCALE
from reco.data.synthetic import (
    DEFAULT_CONFIG,
    SyntheticConfig,
    _choice,
    default_dataset,
    generate,
    generate_with_truth,
    write_release,
)
from reco.data.synthetic._writers import GENRES_100K
from reco.exceptions import ConfigError
from scripts import make_synthetic

TABLES = ("ratings", "movies", "tags", "links", "users")
SMALL = dict(n_users=60, n_movies=200, n_ratings=3000)


@pytest.fixture(scope="module")
def default():
    return default_dataset()


@pytest.fixture(scope="module", params=["csv", "dat", "100k"])
def small(request):
    """``(layout, data)``: small data of each layout."""
    return request.param, generate(SyntheticConfig(layout=request.param, **SMALL))


def assert_same_data(a, b) -> None:
    for name in TABLES:
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert_frame_equal(x, y)


# --- determinism --------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["csv", "dat", "100k"])
def test_same_config_gives_identical_frames(layout):
    config = SyntheticConfig(layout=layout, seed=7, **SMALL)
    assert_same_data(generate(config), generate(config))


def test_other_seed_gives_other_data():
    a = generate(SyntheticConfig(seed=1, **SMALL))
    b = generate(SyntheticConfig(seed=2, **SMALL))
    assert not a.ratings.equals(b.ratings)
    assert not a.movies.equals(b.movies)


def test_default_dataset_is_the_default_config(default):
    assert (default.n_ratings, default.n_movies) == (100_000, 3000)
    assert default.ratings["user_id"].n_unique() == 600
    assert default.scale == HALF_STAR_SCALE
    assert_frame_equal(default.ratings, generate(DEFAULT_CONFIG).ratings)


# --- ground truth -------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["csv", "dat", "100k"])
def test_building_the_truth_leaves_the_frames_unchanged(layout):
    config = SyntheticConfig(layout=layout, seed=7, **SMALL)
    plain = generate(config)
    with_truth, _ = generate_with_truth(config)
    assert_same_data(plain, with_truth)
    assert (plain.source, plain.scale) == (with_truth.source, with_truth.scale)
    assert_same_data(generate(config), plain)  # and generate after it is unchanged too


def test_truth_matches_the_frames():
    config = SyntheticConfig(n_users=200, n_movies=500, n_ratings=12_000, n_factors=5, seed=4)
    data, truth = generate_with_truth(config)
    assert (truth.layout, truth.taste_std, truth.noise) == ("csv", 0.7, 0.6)
    assert truth.user_ids.tolist() == list(range(1, 201))
    assert truth.movie_ids.tolist() == data.movies["movie_id"].to_list()
    assert truth.user_taste.shape == (200, 5) and truth.movie_taste.shape == (500, 5)
    for name in ("user_bias", "user_spread", "user_start", "user_end", "user_allowed",
                 "user_count", "user_half"):
        assert getattr(truth, name).shape == (200,), name
    for name in ("movie_bias", "popularity", "release_day"):
        assert getattr(truth, name).shape == (500,), name
    r = data.ratings
    u, m = r["user_id"].to_numpy() - 1, r["movie_id"].to_numpy() - 1
    np.testing.assert_array_equal(np.bincount(u, minlength=200), truth.user_count)
    # user_allowed counts the movies released by the period's end
    np.testing.assert_array_equal(truth.released(np.arange(200)).sum(axis=1),
                                  truth.user_allowed)
    day = r["timestamp"].to_numpy() // 86_400
    assert (day >= np.maximum(truth.user_start[u], truth.release_day[m])).all()
    assert (day <= truth.user_end[u]).all()
    year = truth.release_day.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970
    np.testing.assert_array_equal(year, data.movies["year"].to_numpy())
    assert (np.diff(truth.whole_cuts) > 0).all() and truth.whole_cuts.size == 4
    assert (np.diff(truth.half_cuts) > 0).all() and truth.half_cuts.size == 9
    assert (truth.user_spread > 0).all() and (truth.popularity > 0).all()
    # half stars are a csv thing
    assert (generate_with_truth(SyntheticConfig(layout="dat", **SMALL))[1].user_half == 0).all()


def test_truth_explains_the_ratings():
    # no noise, whole stars: every rating is the cut of b_u + b_i + s_u taste_std p_u.q_i
    config = SyntheticConfig(layout="dat", noise=0.0, seed=2, **SMALL)
    data, truth = generate_with_truth(config)
    r = data.ratings
    u, m = r["user_id"].to_numpy() - 1, r["movie_id"].to_numpy() - 1
    dot = np.einsum("ij,ij->i", truth.user_taste[u], truth.movie_taste[m])
    latent = truth.user_bias[u] + truth.movie_bias[m] + truth.user_spread[u] * (
        np.float32(config.taste_std) * dot)
    np.testing.assert_array_equal(1.0 + np.searchsorted(truth.whole_cuts, latent),
                                  r["rating"].to_numpy())


# --- shape --------------------------------------------------------------------------------


def test_exact_count_distinct_pairs_and_ids(small):
    _, data = small
    r = data.ratings
    assert r.height == SMALL["n_ratings"]
    assert r.select("user_id", "movie_id").is_duplicated().sum() == 0
    assert r["user_id"].min() == 1 and r["user_id"].max() == SMALL["n_users"]
    assert r["user_id"].n_unique() == SMALL["n_users"]
    assert r["movie_id"].min() >= 1 and r["movie_id"].max() <= SMALL["n_movies"]
    assert data.movies["movie_id"].to_list() == list(range(1, SMALL["n_movies"] + 1))
    # MovieLens order: by user, then movie
    assert r.equals(r.sort("user_id", "movie_id"))


def test_every_user_has_the_minimum_and_at_most_the_cap(small):
    counts = small[1].ratings.group_by("user_id").len()["len"]
    assert counts.min() >= 20
    assert counts.max() <= SMALL["n_movies"] // 2


@pytest.mark.parametrize(
    "sizes",
    [dict(n_users=3, n_movies=2, n_ratings=3),  # one rating each, the cap binds
     dict(n_users=5, n_movies=10, n_ratings=25),  # everyone at the cap
     dict(n_users=50, n_movies=400, n_ratings=300)],  # minimum clipped to 6
)
def test_extreme_sizes_are_exact(sizes):
    data = generate(SyntheticConfig(**sizes))
    r = data.ratings
    assert r.height == sizes["n_ratings"]
    assert r.select("user_id", "movie_id").is_duplicated().sum() == 0
    assert r["user_id"].n_unique() == sizes["n_users"]


def test_small_blocks_give_a_valid_result(monkeypatch, tmp_path):
    # the block loops (sampling, rating, "::" lines) must not depend on one block holding all
    monkeypatch.setattr(synthetic, "_CHUNK", 997)
    monkeypatch.setattr("reco.data.synthetic._writers._CHUNK", 997)
    data = generate(SyntheticConfig(layout="dat", **SMALL))
    assert data.ratings.height == SMALL["n_ratings"]
    assert data.ratings.select("user_id", "movie_id").is_duplicated().sum() == 0
    write_release(data, tmp_path, "dat")
    assert len((tmp_path / "ratings.dat").read_text().splitlines()) == SMALL["n_ratings"]


def test_schemas_are_canonical_and_tables_follow_the_layout(small):
    layout, data = small
    assert data.ratings.schema == RATINGS_SCHEMA
    assert data.movies.schema == MOVIES_SCHEMA
    expected = {
        "csv": {"tags": TAGS_SCHEMA, "links": LINKS_SCHEMA, "users": None},
        "dat": {"tags": TAGS_SCHEMA, "links": None, "users": USERS_SCHEMA},
        "100k": {"tags": None, "links": None, "users": USERS_SCHEMA},
    }[layout]
    for name, schema in expected.items():
        frame = getattr(data, name)
        assert (frame is None) == (schema is None), name
        if frame is not None:
            assert frame.schema == schema, name
    assert data.layout == "synthetic"


@pytest.mark.parametrize(
    "layout, scale, values",
    [("csv", HALF_STAR_SCALE, set(np.arange(1, 11) / 2)),
     ("dat", WHOLE_STAR_SCALE, {1.0, 2.0, 3.0, 4.0, 5.0}),
     ("100k", WHOLE_STAR_SCALE, {1.0, 2.0, 3.0, 4.0, 5.0})],
)
def test_ratings_are_on_the_layout_scale(layout, scale, values):
    data = generate(SyntheticConfig(layout=layout, n_users=200, n_movies=600, n_ratings=20_000))
    assert data.scale == scale
    assert set(data.ratings["rating"].unique().to_list()) == values


def test_rating_distribution_is_realistic(default):
    r = default.ratings["rating"]
    assert 3.3 < r.mean() < 3.8
    assert r.mode().to_list() == [4.0]
    whole = (r == r.round()).mean()
    assert 0.55 < whole < 0.9  # half stars are used, but less than whole ones


def test_activity_is_heavy_tailed_and_popularity_skewed(default):
    users = default.ratings.group_by("user_id").len()["len"]
    assert users.max() > 8 * users.median()
    assert users.mean() > 1.3 * users.median()
    movies = default.ratings.group_by("movie_id").len()["len"].sort(descending=True)
    top_tenth = movies.head(len(movies) // 10).sum()
    assert top_tenth > 0.3 * default.n_ratings
    # popular movies are somewhat better rated
    means = default.ratings.group_by("movie_id").agg(pl.len(), pl.col("rating").mean())
    assert np.corrcoef(np.log(means["len"]), means["rating"])[0, 1] > 0.05


def test_genres(default):
    genres = default.movies["genres"]
    assert genres.list.len().max() <= 3
    assert 0.0 < (genres.list.len() == 0).mean() < 0.03
    counts = genres.explode().drop_nulls().value_counts(sort=True)
    assert set(counts["genres"]) <= set(GENRE_VOCABULARY)
    assert set(counts["genres"].head(2)) == {"Drama", "Comedy"}
    share = dict(zip(counts["genres"], counts["count"] / default.n_movies, strict=True))
    assert share["IMAX"] < 0.03
    assert genres.list.eval(pl.element().sort()).equals(genres)  # alphabetical, as MovieLens


def test_whole_star_layouts_have_no_imax(small):
    layout, data = small
    if layout != "csv":  # ml-100k and ml-1m have no IMAX genre
        assert not data.movies["genres"].list.contains("IMAX").any()


def test_titles(default):
    m = default.movies
    assert (m["title"].str.extract(r" \((\d{4})\)$").cast(pl.Int32) == m["year"]).all()
    assert m["year"].min() >= 1920 and m["year"].max() <= 2023
    assert m["year"].median() > 1990  # skewed recent
    titles = m["title"]
    assert titles.str.contains(",").sum() > 30
    assert titles.str.contains('"').sum() > 5
    assert titles.str.contains("[éüöñ]").sum() > 5
    for title in titles:
        title.encode("latin-1")  # 100k and dat write Latin-1
    assert not titles.str.contains("::|\\|").any()


def test_timestamps(default):
    r = default.ratings.join(default.movies.select("movie_id", "year"), on="movie_id")
    when = pl.from_epoch("timestamp")
    years = r.select(when.dt.year()).to_series()
    assert years.min() >= 1996 and years.max() <= 2023
    assert (years >= r["year"]).all()  # nobody rates a movie before its release year
    hours = r.group_by("user_id", when.dt.hour().alias("hour")).len()
    top = hours.group_by("user_id").agg(pl.col("len").max() / pl.col("len").sum())["len"]
    assert top.median() > 3 / 24  # a user's favourite hour is far above a uniform 1/24
    early = r.filter(pl.col("timestamp") < 1_046_476_800)["rating"]  # before 2003-03-01
    assert early.len() > 0 and (early == early.round()).all()  # MovieLens had no half stars
    span = r.group_by("user_id").agg(pl.col("timestamp").max() - pl.col("timestamp").min())
    assert span["timestamp"].median() < 365 * 86_400  # users are active in a period


def test_side_tables():
    data = generate(SyntheticConfig(**SMALL))
    rated = data.ratings.select("user_id", "movie_id")
    tags = data.tags
    assert 0 < tags.height <= 0.05 * data.n_ratings
    assert tags.join(rated, on=["user_id", "movie_id"], how="anti").height == 0
    links = data.links
    assert links["imdb_id"].str.contains(r"^\d{7}$").all()
    assert links["imdb_id"].n_unique() == links.height
    assert links["movie_id"].equals(data.movies["movie_id"])
    for layout, ages in (("dat", {1, 18, 25, 35, 45, 50, 56}), ("100k", set(range(7, 74)))):
        users = generate(SyntheticConfig(layout=layout, **SMALL)).users
        assert users.height == SMALL["n_users"]
        assert set(users["gender"]) <= {"M", "F"}
        assert set(users["age"]) <= ages
        assert users["zip_code"].str.contains(r"^\d{5}$").all()


# --- learnable structure --------------------------------------------------------------------


@pytest.fixture(scope="module")
def learn_split():
    data = generate(SyntheticConfig(n_users=300, n_movies=400, n_ratings=30_000, seed=3))
    r = data.ratings
    u, m = r["user_id"].to_numpy() - 1, r["movie_id"].to_numpy() - 1
    y = r["rating"].to_numpy().astype(float)
    test = np.random.default_rng(0).random(len(y)) < 0.2
    return data, u, m, y, test


def test_low_rank_model_beats_movie_means(learn_split):
    _, u, m, y, test = learn_split
    train = ~test
    n_users, n_movies = u.max() + 1, 400
    mu = y[train].mean()
    movie_bias = np.bincount(m[train], y[train] - mu, n_movies) / (
        np.bincount(m[train], None, n_movies) + 5
    )
    resid = y[train] - mu - movie_bias[m[train]]
    user_bias = np.bincount(u[train], resid, n_users) / (np.bincount(u[train], None, n_users) + 5)
    observed = np.zeros((n_users, n_movies), bool)
    observed[u[train], m[train]] = True
    target = np.zeros((n_users, n_movies))
    target[u[train], m[train]] = resid - user_bias[u[train]]
    fill = target.copy()
    for _ in range(10):  # hard-impute: rank-8 SVD, keep the known cells, repeat
        left, s, right = np.linalg.svd(fill, full_matrices=False)
        low = (left[:, :8] * s[:8]) @ right[:8]
        fill = np.where(observed, target, low)
    base = mu + movie_bias[m[test]]
    pred = base + user_bias[u[test]] + low[u[test], m[test]]
    rmse_movie = np.sqrt(np.mean((y[test] - base) ** 2))
    rmse_svd = np.sqrt(np.mean((y[test] - pred) ** 2))
    assert rmse_svd < 0.92 * rmse_movie


def test_user_genre_preferences_are_real(learn_split):
    # a user's genre taste measured on one half of the ratings predicts it on the other half
    data, _, _, _, test = learn_split
    r = data.ratings.with_columns(half=pl.Series(test)).join(
        data.movies.select("movie_id", "genres"), on="movie_id"
    )
    r = r.with_columns(pl.col("rating") - pl.col("rating").mean().over("user_id"))
    prefs = (
        r.explode("genres")
        .group_by("user_id", "genres", "half")
        .agg(pl.col("rating").mean(), pl.len())
        .filter(pl.col("len") >= 5)
        .pivot(on="half", index=["user_id", "genres"], values="rating")
        .drop_nulls()
    )
    assert np.corrcoef(prefs["true"], prefs["false"])[0, 1] > 0.2


# --- choice follows taste (selection_taste) -----------------------------------------------

TASTE = dict(n_users=300, n_movies=400, n_ratings=15_000, seed=6)


def _ratings_digest(data) -> str:
    digest = hashlib.sha256()
    for column in data.ratings.columns:
        digest.update(data.ratings[column].to_numpy().tobytes())
    return digest.hexdigest()


def _rated_taste(config: SyntheticConfig) -> tuple[np.ndarray, np.ndarray, object]:
    """The standardised taste and the movie row of every rating, and the truth."""
    data, truth = generate_with_truth(config)
    u, m = data.ratings["user_id"].to_numpy() - 1, data.ratings["movie_id"].to_numpy() - 1
    taste = np.einsum("ij,ij->i", truth.user_taste[u], truth.movie_taste[m])
    return taste / truth.taste_scale, m, truth


@pytest.mark.parametrize("layout, digest", [
    ("csv", "a9cf29b70cef8bcc2634ae1f107104c058e01d4cf7e7859d81c2dff3ec415df7"),
    ("dat", "45cc3a3b07c24a86a90e3067734a8b555f3968e1dfa16740cf32d936c8e599b8")])
def test_selection_taste_zero_changes_nothing(layout, digest, monkeypatch):
    # the digests are of the generator before the knob existed: at 0 it draws exactly as then
    monkeypatch.setattr(synthetic, "choose_by_taste", lambda *a: pytest.fail("taste path"))
    absent = generate(SyntheticConfig(layout=layout, seed=7, **SMALL))
    zero = generate(SyntheticConfig.from_dict(
        {"layout": layout, "seed": 7, "selection_taste": 0, **SMALL}))
    assert_same_data(absent, zero)
    assert _ratings_digest(absent) == digest


def test_selection_taste_raises_the_taste_of_rated_movies_monotonically():
    means = []
    for b in (0.0, 0.5, 1.0, 2.0):
        taste, _, truth = _rated_taste(SyntheticConfig(selection_taste=b, **TASTE))
        means.append(taste.mean())
        if b == 0:  # by popularity alone: the released movies' mean taste, about 0
            released = truth.released(np.arange(TASTE["n_users"]))
            everything = truth.standardised_taste(np.arange(TASTE["n_users"]))
            assert abs(taste.mean() - everything[released].mean()) < 0.05
    assert np.all(np.diff(means) > 0.15), means
    assert 0.4 < means[2] < 0.9  # b = 1: ~0.6 on these sizes, well short of b (exclusion)


def test_selection_taste_keeps_counts_and_popularity():
    plain = generate(SyntheticConfig(**TASTE)).ratings
    taste, movies, truth = _rated_taste(SyntheticConfig(selection_taste=1.0, **TASTE))
    data = generate(SyntheticConfig(selection_taste=1.0, **TASTE))
    r = data.ratings
    assert r.height == TASTE["n_ratings"]
    assert r.select("user_id", "movie_id").is_duplicated().sum() == 0
    assert r.equals(r.sort("user_id", "movie_id"))
    # each user has the same count as without the knob (activity is drawn before choice)
    assert r.group_by("user_id").len().sort("user_id").equals(
        plain.group_by("user_id").len().sort("user_id"))
    # popularity still matters: the most popular tenth of the movies gets nearly as large a
    # share of the ratings as by popularity alone (3 times its tenth)
    top = truth.popularity >= np.quantile(truth.popularity, 0.9)
    alone = top[plain["movie_id"].to_numpy() - 1].mean()
    assert top[movies].mean() > max(0.2, 0.75 * alone)
    assert_same_data(data, generate(SyntheticConfig(selection_taste=1.0, **TASTE)))  # seeded


def _exact_choice(rng, counts, allowed, cdf, order, choice):
    """The law the pooled race approximates, exactly: each user's top counts[u] of
    log popularity + b t + Gumbel over its released movies (users x movies)."""
    n_movies = len(order)
    popularity = np.empty(n_movies)
    popularity[order] = np.diff(cdf, prepend=0.0)
    released = np.empty(n_movies, np.int64)
    released[order] = np.arange(n_movies)
    key = (np.log(popularity) + choice.strength * (choice.user_factors @ choice.movie_factors.T)
           + rng.gumbel(size=(len(counts), n_movies)))
    key[released[None, :] >= allowed[:, None]] = -np.inf
    best = np.argsort(-key, axis=1)
    return np.sort(np.concatenate([u * n_movies + best[u, :c] for u, c in enumerate(counts)]))


@pytest.mark.parametrize("b, n_factors", [(1.0, 8), (2.0, 8), (1.0, 16)])
def test_the_pooled_race_is_close_to_the_exact_law(b, n_factors, monkeypatch):
    # 5,000 users: about 20 a taste group, so the residual taste is as on large releases
    config = SyntheticConfig(n_users=5_000, n_movies=1_000, n_ratings=150_000, seed=6,
                             selection_taste=b, n_factors=n_factors)
    pooled, pooled_movies, truth = _rated_taste(config)
    monkeypatch.setattr(synthetic, "choose_by_taste", _exact_choice)
    exact, exact_movies, _ = _rated_taste(config)
    # the pool misses some movies far more to a user's taste than to its group's centre
    # (measured: 0.72 / 0.72, 1.14 / 1.21, 0.66 / 0.68)
    assert exact.mean() * 0.9 < pooled.mean() < exact.mean() * 1.02
    log_w = np.log(truth.popularity)
    assert log_w[pooled_movies].mean() == pytest.approx(log_w[exact_movies].mean(), abs=0.05)


@pytest.mark.parametrize(
    "sizes",
    [dict(n_users=3, n_movies=2, n_ratings=3), dict(n_users=5, n_movies=10, n_ratings=25),
     dict(n_users=50, n_movies=400, n_ratings=300), dict(n_users=40, n_movies=60, n_ratings=1_100)],
)
def test_selection_taste_extreme_sizes_are_exact(sizes):
    # heavy users of small catalogues: pools fall short, larger pools and the top-up fill them
    r = generate(SyntheticConfig(selection_taste=3.0, **sizes)).ratings
    assert r.height == sizes["n_ratings"]
    assert r.select("user_id", "movie_id").is_duplicated().sum() == 0
    assert r["user_id"].n_unique() == sizes["n_users"]


def test_selection_taste_small_blocks_give_a_valid_result(monkeypatch):
    monkeypatch.setattr(_choice, "_CHUNK", 997)
    monkeypatch.setattr(_choice, "_GROUPS", 7)
    r = generate(SyntheticConfig(selection_taste=1.0, **TASTE)).ratings
    assert r.height == TASTE["n_ratings"]
    assert r.select("user_id", "movie_id").is_duplicated().sum() == 0


# --- config validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "values, match",
    [({"layout": "parquet"}, "layout"), ({"n_users": -1}, "n_users"),
     ({"n_ratings": 0}, "n_ratings"), ({"n_movies": 0}, "n_movies"),
     ({"n_users": 2.5}, "integer"), ({"noise": -0.1}, "noise"),
     ({"genre_weight": 1.5}, "genre_weight"),
     ({"n_users": 10, "n_movies": 10, "n_ratings": 60}, "n_ratings"),
     ({"n_users": 100, "n_ratings": 50}, "n_ratings"),
     ({"first_rating_year": 2010, "last_rating_year": 2000}, "last_rating_year"),
     ({"selection_taste": -0.1}, "selection_taste"), ({"selection_taste": 10.5}, "selection_taste"),
     ({"selection_taste": float("nan")}, "selection_taste"),
     ({"selection_taste": "1"}, "selection_taste")],
)
def test_bad_config_raises(values, match):
    with pytest.raises(ConfigError, match=match):
        SyntheticConfig(**values)


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ConfigError, match="n_userz"):
        SyntheticConfig.from_dict({"n_userz": 10})
    assert SyntheticConfig.from_dict(DEFAULT_CONFIG.to_dict()) == DEFAULT_CONFIG


# --- writers --------------------------------------------------------------------------------


def test_write_csv(tmp_path):
    data = generate(SyntheticConfig(**SMALL))
    files = write_release(data, tmp_path / "out", "csv")
    assert [f.name for f in files] == ["ratings.csv", "movies.csv", "tags.csv", "links.csv"]
    heads = [f.read_bytes().split(b"\n", 1)[0] for f in files]
    assert heads == [b"userId,movieId,rating,timestamp", b"movieId,title,genres",
                     b"userId,movieId,tag,timestamp", b"movieId,imdbId,tmdbId"]
    assert b"\r" not in files[0].read_bytes()
    r = data.ratings.row(0)
    first = files[0].read_text().splitlines()[1]
    assert first == f"{r[0]},{r[1]},{r[2]:.1f},{r[3]}"
    ratings = pl.read_csv(files[0])
    assert ratings["rating"].cast(pl.Float32).equals(data.ratings["rating"])
    movies = pl.read_csv(files[1], infer_schema=False)
    assert movies["title"].to_list() == data.movies["title"].to_list()  # quoting round-trips
    expected = data.movies["genres"].list.join("|").replace("", NO_GENRES)
    assert movies["genres"].to_list() == expected.to_list()
    text = files[1].read_text(encoding="utf-8")
    comma = data.movies.filter(pl.col("title").str.contains(","))["title"][0]
    assert f'"{comma}"' in text
    quoted = data.movies.filter(pl.col("title").str.contains('"'))
    if quoted.height:
        assert '"' + quoted["title"][0].replace('"', '""') + '"' in text
    links = pl.read_csv(files[3], infer_schema=False)
    assert links["imdbId"].to_list() == data.links["imdb_id"].to_list()


def test_write_dat(tmp_path):
    data = generate(SyntheticConfig(layout="dat", **SMALL))
    files = write_release(data, tmp_path, "dat")
    assert [f.name for f in files] == ["ratings.dat", "movies.dat", "users.dat", "tags.dat"]
    u, m, rating, ts = data.ratings.row(0)
    assert files[0].read_text().splitlines()[0] == f"{u}::{m}::{int(rating)}::{ts}"
    lines = files[1].read_bytes().decode("latin-1").splitlines()
    assert len(lines) == data.n_movies
    movie_id, title, genres = lines[0].split("::")
    row = data.movies.row(0, named=True)
    assert (int(movie_id), title) == (row["movie_id"], row["title"])
    assert genres == ("|".join(row["genres"]) or NO_GENRES).replace("Children", "Children's")
    users = files[2].read_text(encoding="latin-1").splitlines()
    assert users[0] == "::".join(str(v) for v in data.users.row(0))
    tag = data.tags.row(0)
    assert files[3].read_text().splitlines()[0] == "::".join(str(v) for v in tag)


def test_write_100k(tmp_path):
    data = generate(SyntheticConfig(layout="100k", **SMALL))
    files = write_release(data, tmp_path, "100k")
    names = [f.name for f in files]
    assert names[:4] == ["u.data", "u.item", "u.genre", "u.user"]
    u, m, rating, ts = data.ratings.row(0)
    assert files[0].read_text().splitlines()[0] == f"{u}\t{m}\t{int(rating)}\t{ts}"
    items = files[1].read_bytes().decode("latin-1").splitlines()
    fields = items[0].split("|")
    row = data.movies.row(0, named=True)
    assert len(fields) == 5 + 19
    assert fields[:4] == [str(row["movie_id"]), row["title"], f"01-Jan-{row['year']}", ""]
    flagged = {GENRES_100K[i] for i, f in enumerate(fields[5:]) if f == "1"}
    canonical = {g.replace("Children", "Children's") for g in row["genres"]} or {"unknown"}
    assert flagged == canonical
    assert all(sum(map(int, line.split("|")[5:])) >= 1 for line in items)
    genre_lines = files[2].read_text().splitlines()
    assert genre_lines[0] == "unknown|0" and genre_lines[18] == "Western|18"
    user = data.users.row(0, named=True)
    expected = f"{user['user_id']}|{user['age']}|{user['gender']}|{user['occupation']}|"
    assert files[3].read_text().splitlines()[0] == expected + user["zip_code"]


def test_write_release_refuses_a_scale_mismatch(tmp_path):
    half = generate(SyntheticConfig(**SMALL))
    for layout in ("dat", "100k"):
        with pytest.raises(ValueError, match=r"scale|stars|RatingScale"):
            write_release(half, tmp_path, layout)
    with pytest.raises(ValueError, match="layout"):
        write_release(half, tmp_path, "xlsx")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("layout", ["csv", "dat", "100k"])
def test_written_release_reads_back_identical(layout, tmp_path):
    movielens = pytest.importorskip("reco.data.movielens")
    data = generate(SyntheticConfig(layout=layout, **SMALL))
    write_release(data, tmp_path, layout)
    back = movielens.load_movielens(tmp_path)
    assert back.scale == data.scale
    for name in TABLES:
        ours, theirs = getattr(data, name), getattr(back, name)
        if ours is not None:
            assert_frame_equal(theirs, ours, check_row_order=False)


# --- script ---------------------------------------------------------------------------------


def test_script_writes_a_release(tmp_path):
    script = make_synthetic
    argv = ["--users", "30", "--movies", "80", "--ratings", "900", "--layout", "100k",
            "--out", str(tmp_path), "--seed", "5"]
    assert script.main(argv) == 0
    assert (tmp_path / "u.data").read_text().count("\n") == 900
    assert (tmp_path / "u.item").exists() and (tmp_path / "u.user").exists()


def test_script_reports_a_bad_config(tmp_path, caplog):
    script = make_synthetic
    argv = ["--users", "10", "--movies", "10", "--ratings", "1000", "--out", str(tmp_path)]
    assert script.main(argv) == 2
    assert "n_ratings" in caplog.text
    small = ["--users", "30", "--movies", "80", "--ratings", "900", "--out", str(tmp_path)]
    assert script.main([*small, "--config", '{"noise": 9.0}']) == 2
    assert "noise" in caplog.text
    assert script.main([*small, "--config", '{"tag_rate": 0.0}']) == 0
    assert not (tmp_path / "tags.csv").exists()  # no tags: no (header-only) file
    for bad in ("-1", "11", "nan"):
        caplog.clear()
        assert script.main([*small, "--selection-taste", bad]) == 2
        errors = [r for r in caplog.records if r.levelname == "ERROR"]
        assert len(errors) == 1 and "selection_taste" in errors[0].getMessage()
    with pytest.raises(SystemExit) as exit_:  # not a number: argparse's usage error
        script.main([*small, "--selection-taste", "much"])
    assert exit_.value.code == 2


def test_script_selection_taste(tmp_path):
    from reco.data.movielens import load_movielens

    small = ["--users", "30", "--movies", "80", "--ratings", "900", "--seed", "5"]
    assert make_synthetic.main([*small, "--out", str(tmp_path / "b0")]) == 0
    assert make_synthetic.main([*small, "--out", str(tmp_path / "b2"),
                                "--selection-taste", "2"]) == 0
    # the flag wins over --config's value, which is used when the flag is absent
    assert make_synthetic.main([*small, "--out", str(tmp_path / "cfg"), "--config",
                                '{"selection_taste": 2.0}']) == 0
    plain, taste, cfg = (load_movielens(tmp_path / d).ratings for d in ("b0", "b2", "cfg"))
    assert not plain.equals(taste) and cfg.equals(taste)
    expected = generate(SyntheticConfig(n_users=30, n_movies=80, n_ratings=900, seed=5,
                                        selection_taste=2.0)).ratings
    assert taste.select("user_id", "movie_id").equals(expected.select("user_id", "movie_id"))

@pytest.mark.parametrize("layout", ["csv", "dat"])
def test_a_release_without_tags_writes_no_tags_file_and_reads_back(tmp_path, layout):
    from reco.data.movielens import load_movielens

    data = synthetic.generate(synthetic.SyntheticConfig(n_users=40, n_movies=30,
                                                        n_ratings=600, seed=1, tag_rate=0.0,
                                                        layout=layout))
    write_release(data, tmp_path, layout)
    assert not list(tmp_path.glob("tags.*"))  # a header-only file would be refused
    assert load_movielens(tmp_path).ratings.height == 600
