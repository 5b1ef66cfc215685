"""Content similarity (TF-IDF blocks + truncated SVD) on tiny hand-made catalogues."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from reco.columns import LINKS_SCHEMA, MOVIES_SCHEMA, RATINGS_SCHEMA, TAGS_SCHEMA
from reco.data.tmdb import TMDB_SCHEMA
from reco.exceptions import ArtifactError, ConfigError, NotFittedError, UnknownIdError
from reco.models.base import Recommender
from reco.models.content import ContentConfig, ContentRecommender, movie_texts

SCI_FI = {1, 2, 3, 7}
ROMANCE = {4, 5, 6}
DINOSAURS = {8, 9}
# 1-3 and 7 are space sci-fi (7 is never rated), 4-6 romantic comedies, 8-10 adventures
# that only TMDB overviews tell apart: 8 and 9 have dinosaurs, 10 a mountain.
MOVIES = [
    (1, "Star Voyage (1979)", ["Sci-Fi", "Adventure"]),
    (2, "Galaxy Raiders (1985)", ["Sci-Fi", "Action"]),
    (3, "Planet Escape (1990)", ["Sci-Fi"]),
    (4, "Love in Paris (1995)", ["Romance", "Comedy"]),
    (5, "Wedding Plans (1999)", ["Romance", "Comedy"]),
    (6, "Kiss Me Twice (2001)", ["Romance", "Comedy"]),
    (7, "Comet Frontier (2003)", ["Sci-Fi"]),
    (8, "Isle Nublar (1993)", ["Adventure"]),
    (9, "Lost Valley (1997)", ["Adventure"]),
    (10, "High Ridge (1998)", ["Adventure"]),
]
TAGS = [
    (1, 1, "Space", 0), (2, 1, "aliens", 0), (1, 2, "space", 0), (1, 3, "space aliens", 0),
    (2, 7, "space", 0), (1, 4, "romantic", 0), (2, 5, "romantic", 0), (1, 6, "Romantic", 0),
]
TMDB = [
    (80, "Isle Nublar", "Scientists clone dinosaurs on a remote island park.", ["dinosaurs"], []),
    (90, "Lost Valley", "Explorers find living dinosaurs in a hidden valley.", ["dinosaurs"], []),
    (100, "High Ridge", "Two friends climb a mountain in a winter storm.", ["mountain"], []),
    (200, "Unlinked", "A park of dinosaurs.", ["dinosaurs"], []),
]
# user 1 loves space sci-fi and dislikes romance; user 2 the reverse; user 3 is neutral
RATINGS = [
    (1, 1, 5.0, 0), (1, 2, 4.5, 1), (1, 4, 1.0, 2), (1, 8, 3.0, 3),
    (2, 4, 5.0, 0), (2, 5, 4.5, 1), (2, 1, 1.5, 2), (2, 9, 3.0, 3),
    (3, 3, 3.0, 0), (3, 6, 3.0, 1), (3, 10, 3.5, 2),
]
CONFIG = ContentConfig(dimensions=8)


def movies() -> pl.DataFrame:
    return pl.DataFrame(
        [(m, t, None, g) for m, t, g in MOVIES], schema=MOVIES_SCHEMA, orient="row"
    )


def ratings() -> pl.DataFrame:
    return pl.DataFrame(RATINGS, schema=RATINGS_SCHEMA, orient="row")


def tags() -> pl.DataFrame:
    return pl.DataFrame(TAGS, schema=TAGS_SCHEMA, orient="row")


def links() -> pl.DataFrame:
    rows = [(m, f"{m:07d}", m * 10 if m >= 8 else None) for m, _, _ in MOVIES]
    return pl.DataFrame(rows, schema=LINKS_SCHEMA, orient="row")


def tmdb() -> pl.DataFrame:
    return pl.DataFrame(TMDB, schema=TMDB_SCHEMA, orient="row")


def fit(config: ContentConfig = CONFIG, with_tags: bool = True,
        with_tmdb: bool = True) -> ContentRecommender:
    return ContentRecommender(config).fit(
        ratings(), movies(), tags=tags() if with_tags else None,
        links=links() if with_tmdb else None, tmdb=tmdb() if with_tmdb else None,
    )


@pytest.fixture(scope="module")
def model() -> ContentRecommender:
    return fit()


# ---------------------------------------------------------------- text
def test_movie_texts_strip_the_year_and_tokenise_genres():
    texts = movie_texts(movies(), tags(), links(), tmdb())
    first = texts.row(0, named=True)
    assert first["title"] == "Star Voyage"
    assert first["genres"] == "genre_sci_fi genre_adventure"
    assert first["tags"] == "aliens space"  # lowercased, pooled over users
    assert texts.filter(pl.col("movie_id") == 8)["overview"][0].startswith("Scientists")
    assert texts.filter(pl.col("movie_id") == 8)["keywords"][0] == "dinosaurs"
    assert texts.filter(pl.col("movie_id") == 1)["overview"][0] == ""  # no TMDB id
    assert texts["movie_id"].to_list() == sorted(m for m, _, _ in MOVIES)


# ---------------------------------------------------------------- item similarity
def test_similar_items_of_a_sci_fi_movie_are_sci_fi(model):
    ids, scores = model.similar_items(1, k=3)
    assert set(ids.tolist()) == SCI_FI - {1}
    assert np.all(np.diff(scores) <= 0)
    assert scores[0] <= 1.0 + 1e-6


def test_an_unrated_movie_is_in_the_universe_and_has_neighbours(model):
    assert 7 not in ratings()["movie_id"].to_list()
    assert model.n_items == len(MOVIES)
    ids, _ = model.similar_items(7, k=3)
    assert set(ids.tolist()) == SCI_FI - {7}


def test_tags_change_the_embeddings():
    # without tags the romantic comedies 4, 5, 6 are alike; a tag on 4 and 6 pairs them
    extra = pl.DataFrame([(1, 4, "Paris", 0), (2, 6, "paris", 0)], schema=TAGS_SCHEMA,
                         orient="row")
    untagged = dict(zip(*fit(with_tags=False, with_tmdb=False).similar_items(4, k=2)))
    assert set(untagged) == {5, 6}
    assert untagged[5] == pytest.approx(untagged[6], abs=1e-5)
    tagged = ContentRecommender(CONFIG).fit(ratings(), movies(), tags=extra)
    ids, scores = tagged.similar_items(4, k=2)
    assert ids.tolist() == [6, 5] and scores[0] > scores[1] + 0.1


def test_tmdb_overview_makes_dinosaur_movies_neighbours():
    plain = fit(with_tmdb=False)
    sims = plain.similar_items(8, k=9)
    # without TMDB text, 9 and 10 look the same from 8 (same genre, no shared words)
    score = dict(zip(sims[0].tolist(), sims[1].tolist()))
    assert score[9] == pytest.approx(score[10], abs=1e-5)
    with_tmdb = fit()
    ids, scores = with_tmdb.similar_items(8, k=2)
    assert ids[0] == 9 and scores[0] > scores[1]
    assert with_tmdb.similar_items(9, k=1)[0][0] == 8


def test_zero_weight_drops_a_field():
    no_overview = fit(ContentConfig(dimensions=8, overview_weight=0, keyword_weight=0))
    assert np.allclose(no_overview.embeddings_, fit(with_tmdb=False).embeddings_, atol=1e-5)


def test_dimensions_are_clipped_to_what_the_text_allows(model):
    assert model.embeddings_.dtype == np.float32
    assert model.embeddings_.shape[0] == len(MOVIES)
    assert model.embeddings_.shape[1] <= 8
    big = fit(ContentConfig(dimensions=500))
    assert big.embeddings_.shape[1] <= len(MOVIES)
    norms = np.linalg.norm(big.embeddings_, axis=1)
    assert np.allclose(norms[norms > 0], 1.0, atol=1e-5)


# ---------------------------------------------------------------- user profiles
@pytest.mark.parametrize("profile", ["mean_centered", "liked"])
def test_a_sci_fi_fan_gets_sci_fi(profile):
    model = fit(ContentConfig(dimensions=8, profile=profile))
    ids, scores = model.recommend(1, k=2)
    assert set(ids.tolist()) == {3, 7}  # the unrated space movies; seen ones excluded
    assert np.all(np.diff(scores) <= 0)
    romance_fan, _ = model.recommend(2, k=1)
    assert romance_fan[0] == 6


def test_recommend_new_user_folds_in_ratings(model):
    ids, _ = model.recommend_new_user([2, 5], [5.0, 1.0], k=3)
    assert set(ids.tolist()) == SCI_FI - {2}
    twice, _ = model.recommend_new_user([2, 5, 5], [5.0, 5.0, 1.0], k=3)
    assert np.array_equal(ids, twice)  # the last rating of a movie listed twice wins


def test_a_user_with_only_equal_ratings_scores_zero(model):
    # user 3 rated 3.0, 3.0, 3.5: not flat; a flat user has no mean-centred signal
    flat = ContentRecommender(CONFIG).fit(
        pl.DataFrame([(1, 1, 4.0, 0), (1, 4, 4.0, 1)], schema=RATINGS_SCHEMA, orient="row"),
        movies(),
    )
    assert np.all(flat.score(1, [2, 3, 5]) == 0)


def test_profile_similarity_matches_the_dense_scores(model):
    users = np.array([1, 1, 2, 3, 3, 2, 1])
    items = np.array([3, 7, 6, 1, 10, 4, 1])
    pairs = model.profile_similarity(users, items)
    dense = np.array([model.score(u, [i])[0] for u, i in zip(users, items)])
    assert pairs.dtype == np.float32
    np.testing.assert_allclose(pairs, dense, atol=1e-6)


def test_profile_similarity_marks_unknown_ids_nan(model):
    values = model.profile_similarity([1, 99, 1], [3, 3, 999])
    assert np.isfinite(values[0]) and np.isnan(values[1:]).all()
    with pytest.raises(ValueError, match="equal length"):
        model.profile_similarity([1, 2], [3])


# ---------------------------------------------------------------- reproducibility
def test_same_seed_same_embeddings(model):
    again = fit()
    assert np.array_equal(model.embeddings_, again.embeddings_)
    assert np.array_equal(model.recommend_batch([1, 2, 3], k=4)[0],
                          again.recommend_batch([1, 2, 3], k=4)[0])


def test_save_load_round_trip(model, tmp_path):
    path = model.save(tmp_path / "content.npz")
    loaded = Recommender.load(path)
    assert isinstance(loaded, ContentRecommender)
    assert loaded.config == model.config
    assert np.array_equal(loaded.embeddings_, model.embeddings_)
    assert np.array_equal(loaded.profiles_, model.profiles_)
    for a, b in zip(loaded.recommend_batch([1, 2, 3], k=5), model.recommend_batch([1, 2, 3], k=5)):
        assert np.array_equal(a, b)
    for a, b in zip(loaded.similar_items(8, k=4), model.similar_items(8, k=4)):
        assert np.array_equal(a, b)
    assert np.array_equal(loaded.profile_similarity([1, 2], [3, 6]),
                          model.profile_similarity([1, 2], [3, 6]))
    assert set(np.load(path, allow_pickle=False).files) >= {"m_embeddings", "meta"}


def test_load_rejects_embeddings_of_the_wrong_shape(model, tmp_path):
    path = model.save(tmp_path / "content.npz")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays["m_embeddings"] = arrays["m_embeddings"][:3]
    np.savez(path, **arrays)
    with pytest.raises(ArtifactError, match="embeddings.*has shape"):
        ContentRecommender.load(path)


# ---------------------------------------------------------------- errors and config
def test_unfitted_and_unknown_ids():
    with pytest.raises(NotFittedError):
        ContentRecommender().similar_items(1)
    with pytest.raises(NotFittedError):
        ContentRecommender().profile_similarity([1], [1])
    with pytest.raises(ValueError, match="movies table"):
        ContentRecommender(CONFIG).fit(ratings())
    model = fit()
    with pytest.raises(UnknownIdError):
        model.similar_items(12345)
    with pytest.raises(UnknownIdError):
        model.recommend(12345)


def test_bad_side_tables_are_named():
    with pytest.raises(ValueError, match="tags frame lacks"):
        ContentRecommender(CONFIG).fit(ratings(), movies(), tags=tags().drop("tag"))


@pytest.mark.parametrize(
    "values,field",
    [
        ({"dimensions": 0}, "dimensions"),
        ({"dimensions": 2.5}, "dimensions"),
        ({"min_df": 0}, "min_df"),
        ({"max_features": True}, "max_features"),
        ({"tag_weight": -1.0}, "tag_weight"),
        ({"genre_weight": "high"}, "genre_weight"),
        ({"like_threshold": 11}, "like_threshold"),
        ({"profile": "median"}, "profile"),
        ({"random_state": -1}, "random_state"),
        ({"title_weight": 0, "genre_weight": 0, "tag_weight": 0, "overview_weight": 0,
          "keyword_weight": 0}, "weight"),
        ({"dimension": 8}, "unknown key"),
    ],
)
def test_config_validation(values, field):
    with pytest.raises(ConfigError, match=field):
        ContentConfig.from_dict(values)


def test_config_round_trips_through_a_dict():
    config = ContentConfig(dimensions=16, profile="liked", random_state=None)
    assert ContentConfig.from_dict(config.to_dict()) == config


# ---------------------------------------------------------------- real data


@pytest.mark.slow
def test_real_neighbours(ml_latest_small, tmdb_file):
    from reco.data.movielens import load_movielens
    from reco.data.tmdb import read_tmdb_movies

    data = load_movielens(ml_latest_small)
    model = ContentRecommender().fit(data.ratings, data.movies, tags=data.tags,
                                     links=data.links, tmdb=read_tmdb_movies(tmdb_file))
    assert model.n_items == data.movies.height
    toy_story, _ = model.similar_items(1, k=5)
    assert {3114, 78499} <= set(toy_story.tolist())  # Toy Story 2 and 3
    users = data.ratings["user_id"].to_numpy()[:1000]
    items = data.ratings["movie_id"].to_numpy()[:1000]
    values = model.profile_similarity(users, items)
    assert np.isfinite(values).all() and np.abs(values).max() <= 1.0 + 1e-5
