"""Text models applied at training time: predicted genres and the family flag reach the
features, the catalog and the API (family=true filters)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from api import create_app
from reco.data.movielens import load_movielens
from reco.data.synthetic import SyntheticConfig, make_release
from reco.pipelines import train as training
from reco.pipelines.text_models import apply_text_models, train_genre_tagger
from reco.text.family import FamilyClassifier, FamilyConfig
from reco.text.genre_tagger import GenreTagger, TaggerConfig
from scripts import train_genre_tagger as train_genre_tagger_script
from tests.artifact_tools import current
from tests.ranking.test_hybrid import SMALL
from tests.text.test_family import _titles
from tests.text.test_genre_tagger import FAST, MARKERS, _corpus, write_tmdb_csv

UNTAGGED = (1, 2, 3)


@pytest.fixture(scope="module")
def text_models(tmp_path_factory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("text")
    texts, labels = _corpus()
    tagger = GenreTagger(FAST).fit(texts, labels).save(out / "genre_tagger_movielens")
    titles = _titles()
    family = FamilyClassifier(FamilyConfig(min_df=1)).fit(
        titles, np.where(np.arange(titles.height) % 2 == 0, 0.9, 0.1))
    family.save(out / "family")
    return tagger, out / "family"


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("release")
    make_release(SyntheticConfig(n_users=150, n_movies=200, n_ratings=9_000, seed=5), path)
    movies = pl.read_csv(path / "movies.csv", infer_schema=False)
    movies = movies.with_columns(
        pl.when(pl.col("movieId").cast(pl.Int32).is_in(UNTAGGED))
        .then(pl.lit("(no genres listed)")).otherwise(pl.col("genres")).alias("genres"),
        pl.when(pl.col("movieId") == "1").then(pl.lit("The ghost house (1990)"))
        .otherwise(pl.col("title")).alias("title"))
    movies.write_csv(path / "movies.csv")
    return path


def test_untagged_movies_get_predicted_genres_and_all_a_family_probability(release, text_models):
    data = load_movielens(release)
    text = apply_text_models(data.movies, tags=data.tags, genre_tagger=text_models[0],
                             family_model=text_models[1])
    marked = text.movies.filter(pl.col("genres_predicted"))
    untagged = data.movies.filter(pl.col("genres").list.len() == 0)["movie_id"].sort().to_list()
    assert set(UNTAGGED) <= set(untagged) and sorted(marked["movie_id"].to_list()) == untagged
    assert (marked["genres"].list.len() >= 1).all()  # the at-least-one rule
    ghost = marked.filter(pl.col("movie_id") == 1)["genres"].to_list()[0]
    assert "Horror" in ghost and set(ghost) <= set(MARKERS)
    family = text.extra["family"].to_numpy()
    assert family.shape == (data.movies.height,) and np.all((family >= 0) & (family <= 1))
    assert text.section["genre_tagger"]["filled"] == len(untagged)


def test_no_models_change_nothing(release):
    data = load_movielens(release)
    text = apply_text_models(data.movies)
    assert text.movies.equals(data.movies) and text.extra.columns == ["movie_id"]


def test_training_carries_the_columns_to_features_catalog_and_api(release, text_models, tmp_path):
    manifest = training.train(release, tmp_path, config=SMALL, genre_tagger=text_models[0],
                              family_model=text_models[1])
    assert manifest["text_models"]["family_model"]["flagged"] >= 0
    features = pl.read_parquet(current(tmp_path) / "features" / "movies.parquet")
    assert set(UNTAGGED) <= set(features.filter(pl.col("genres_predicted"))["movie_id"].to_list())
    client = create_app({"ARTIFACTS": str(tmp_path), "TESTING": True}).test_client()
    movie = client.get("/movies/1").get_json()
    assert movie["genres_predicted"] is True and 0.0 <= movie["family"] <= 1.0
    user = int(pl.read_parquet(current(tmp_path) / "features" / "users.parquet")["user_id"][0])
    body = client.get(f"/recommend/{user}?k=5&family=true").get_json()
    assert body["items"] and all(item["family"] >= 0.5 for item in body["items"])
    similar = client.get("/similar/1?k=5&family=true").get_json()
    assert all(item["family"] >= 0.5 for item in similar["items"])


def test_train_genre_tagger_saves_a_movielens_named_tagger(tmp_path):
    data = write_tmdb_csv(tmp_path / "tmdb.csv")
    config = TaggerConfig(char_ngram_max=0, min_label_count=2, c=100.0)
    path = train_genre_tagger(data, "tmdb", tmp_path / "out", movielens_genres=True,
                              config=config)
    assert path == tmp_path / "out" / "genre_tagger_movielens.npz"
    assert GenreTagger.load(path).labels_ == ("Comedy", "Horror", "Sci-Fi")  # MovieLens names
    with pytest.raises(ValueError, match="TMDB"):
        train_genre_tagger(data, "netflix", tmp_path, movielens_genres=True)


def test_train_genre_tagger_script(tmp_path):
    data = write_tmdb_csv(tmp_path / "tmdb.csv")
    args = ["--data", str(data), "--source", "tmdb", "--out", str(tmp_path / "out"),
            "--config", json.dumps({"char_ngram_max": 0, "min_label_count": 2})]
    assert train_genre_tagger_script.main(args) == 0
    assert (tmp_path / "out" / "genre_tagger_tmdb.json").is_file()
    with pytest.raises(SystemExit):
        train_genre_tagger_script.main([*args, "--movielens-genres", "--source", "netflix"])
