"""The data layer: every release read by one call into one canonical form."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from reco.columns import LINKS_SCHEMA, MOVIES_SCHEMA, RATINGS_SCHEMA, TAGS_SCHEMA, USERS_SCHEMA
from reco.data.dataset import HALF_STAR_SCALE, WHOLE_STAR_SCALE
from reco.data.movielens import LoadConfig, detect_layout, load_movielens, scan_ratings
from reco.exceptions import DatasetNotFoundError, RecoError
from tests import fixtures

LAYOUT_OF = {"ml-100k": "100k", "ml-1m": "dat", "ml-10m": "dat"}


def test_every_release_reads_to_the_same_canonical_frames(any_release):
    name, directory = any_release
    data = load_movielens(directory)
    assert data.layout == LAYOUT_OF.get(name, "csv")
    assert data.ratings.schema == RATINGS_SCHEMA
    assert data.movies.schema == MOVIES_SCHEMA
    assert_frame_equal(data.ratings, fixtures.expected_ratings())
    assert_frame_equal(data.movies, fixtures.expected_movies())


def test_optional_tables_follow_the_release(any_release):
    name, directory = any_release
    data = load_movielens(directory)
    has_tags = name not in ("ml-100k", "ml-1m")
    assert (data.tags is not None) == has_tags
    if data.tags is not None:
        assert data.tags.schema == TAGS_SCHEMA
        assert data.tags["tag"].to_list() == ["pixar", "woody allen"]
    assert (data.links is not None) == (LAYOUT_OF.get(name, "csv") == "csv")
    if data.links is not None:
        assert data.links.schema == LINKS_SCHEMA
        assert data.links.filter(pl.col("movie_id") == 1)["imdb_id"].item() == "0000001"
        assert data.links["tmdb_id"].null_count() == 1  # movie 4 has no TMDB id
    assert (data.users is not None) == (name in ("ml-100k", "ml-1m"))
    if data.users is not None:
        assert data.users.schema == USERS_SCHEMA
        assert data.users.height == 3


def test_rating_scale_per_release(any_release):
    name, directory = any_release
    data = load_movielens(directory)
    whole = name in ("ml-100k", "ml-1m")
    assert data.scale == (WHOLE_STAR_SCALE if whole else HALF_STAR_SCALE)


def test_latin1_titles_and_old_genre_spelling_are_normalised(tmp_path):
    data = load_movielens(fixtures.write_release(tmp_path, "ml-1m"))
    assert data.movies.filter(pl.col("movie_id") == 3)["title"].item() == "Café Society (2016)"
    assert "Children" in data.movies.filter(pl.col("movie_id") == 1)["genres"].item().to_list()


def test_year_from_title_else_null(csv_release):
    movies = load_movielens(csv_release).movies
    assert movies["year"].to_list() == [1995, 1995, 2016, None, 1950]


def test_title_with_comma_survives_csv_quoting(csv_release):
    movies = load_movielens(csv_release).movies
    title = movies.filter(pl.col("movie_id") == 2)["title"].item()
    assert title == "American President, The (1995)"


def test_release_inside_a_parent_directory_is_found(tmp_path):
    fixtures.write_release(tmp_path, "ml-10m")
    assert detect_layout(tmp_path).directory == tmp_path / "ml-10m"


def test_not_a_release_lists_expected_files(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DatasetNotFoundError) as info:
        load_movielens(tmp_path)
    message = str(info.value)
    for expected in ("ratings.csv", "movies.csv", "ratings.dat", "u.data", "u.item", "notes.txt"):
        assert expected in message
    assert isinstance(info.value, RecoError)


def test_missing_directory(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="no such directory"):
        load_movielens(tmp_path / "nope")


def test_scan_ratings_is_lazy_and_typed(csv_release):
    lf = scan_ratings(csv_release)
    assert isinstance(lf, pl.LazyFrame)
    assert lf.collect_schema() == RATINGS_SCHEMA
    assert lf.select(pl.len()).collect().item() == len(fixtures.RATINGS)


def test_blank_lines_are_skipped(tmp_path):
    lines = ["1,1,4.0,1000000100", "", "1,2,3.0,1000000200"]
    data = load_movielens(fixtures.write_ratings_csv(tmp_path / "r", lines))
    assert data.n_ratings == 2


def test_extra_columns_in_a_csv_are_ignored(tmp_path):
    directory = fixtures.write_ratings_csv(
        tmp_path / "r", ["1,1,4.0,1000000100,x", "1,2,3.0,1000000200,y"],
        header="userId,movieId,rating,timestamp,source",
    )
    assert load_movielens(directory).ratings.columns == list(RATINGS_SCHEMA)


# ------------------------------------------------------------------ policies
def test_duplicates_keep_the_latest_rating(tmp_path):
    lines = ["1,1,4.0,1000000100", "1,2,3.0,1000000200", "1,1,2.0,1000000300", "2,1,5.0,1000000100"]
    data = load_movielens(fixtures.write_ratings_csv(tmp_path / "r", lines))
    assert data.n_ratings == 3
    kept = data.ratings.filter((pl.col("user_id") == 1) & (pl.col("movie_id") == 1))
    assert kept["rating"].item() == 2.0
    assert data.report.duplicates_dropped == 1
    assert "lines [2, 4]" in data.report.notes[0]


def test_duplicates_can_be_an_error(tmp_path):
    lines = ["1,1,4.0,1000000100", "1,1,2.0,1000000300"]
    with pytest.raises(RecoError, match=r"line 2.*more than once \(lines \[2, 3\]\)"):
        load_movielens(
            fixtures.write_ratings_csv(tmp_path / "r", lines), LoadConfig(duplicates="error")
        )


def test_unknown_movies_are_dropped_by_default(tmp_path):
    # 1 rating of 101 (under 1 %) is dropped: a stray rating, not the wrong movies file
    lines = [f"{u},1,4.0,1000000100" for u in range(1, 101)] + ["1,99,3.0,1000000200"]
    data = load_movielens(fixtures.write_ratings_csv(tmp_path / "r", lines))
    assert data.n_ratings == 100
    assert data.report.ratings_dropped == 1
    assert data.report.unknown_movie_ratings == 1
    assert data.report.to_dict()["unknown_movie_policy"] == "drop"


def test_dropping_more_than_one_percent_as_unknown_movies_is_an_error(tmp_path):
    lines = ["1,1,4.0,1000000100", "1,99,3.0,1000000200"]
    path = fixtures.write_ratings_csv(tmp_path / "r", lines)
    with pytest.raises(RecoError, match=r"line 3, field 'movie_id', value 99: .*50.0%"):
        load_movielens(path)
    data = load_movielens(path, LoadConfig(max_unknown_share=0.5))
    assert (data.n_ratings, data.report.unknown_movie_ratings) == (1, 1)


def test_unknown_movies_kept_get_a_placeholder(tmp_path):
    lines = ["1,1,4.0,1000000100", "1,99,3.0,1000000200"]
    data = load_movielens(
        fixtures.write_ratings_csv(tmp_path / "r", lines), LoadConfig(unknown_movies="keep")
    )
    assert data.n_ratings == 2
    placeholder = data.movies.filter(pl.col("movie_id") == 99).row(0, named=True)
    assert placeholder == {"movie_id": 99, "title": "Unknown movie 99", "year": None, "genres": []}
    assert data.movies.schema == MOVIES_SCHEMA


def test_unknown_movies_can_be_an_error(tmp_path):
    lines = ["1,1,4.0,1000000100", "1,99,3.0,1000000200"]
    path = fixtures.write_ratings_csv(tmp_path / "r", lines)
    with pytest.raises(RecoError, match=r"ratings.csv, line 3, field 'movie_id', value 99"):
        load_movielens(path, LoadConfig(unknown_movies="error"))


def test_load_config_rejects_unknown_policies():
    with pytest.raises(RecoError, match="duplicates"):
        LoadConfig(duplicates="average")
    with pytest.raises(RecoError, match="unknown key"):
        LoadConfig.from_dict({"dupes": "error"})


# ------------------------------------------------------------------ real data
@pytest.mark.slow
def test_ml_latest_small(ml_latest_small: Path):
    data = load_movielens(ml_latest_small)
    assert (data.n_ratings, data.n_users, data.n_movies) == (100_836, 610, 9_742)
    assert data.tags is not None and data.tags.height == 3_683
    assert data.links is not None and data.links.height == 9_742
    assert data.movies.filter(pl.col("genres").list.len() == 0).height == 34
    assert data.ratings["rating"].min() == 0.5 and data.ratings["rating"].max() == 5.0
    president = data.movies.filter(pl.col("movie_id") == 11)["title"].item()
    assert president == "American President, The (1995)"
