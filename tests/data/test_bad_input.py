"""Bad input gets an error naming the file, the line, the field and the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from reco.data.movielens import load_movielens
from reco.exceptions import DataFormatError, RecoError
from tests import fixtures


def _error(directory: Path) -> DataFormatError:
    with pytest.raises(DataFormatError) as info:
        load_movielens(directory)
    return info.value


def test_non_numeric_rating_names_file_line_field_value(tmp_path):
    lines = ["1,1,4.0,100", "1,2,abc,200", "1,3,3.0,300"]
    err = _error(fixtures.write_ratings_csv(tmp_path / "r", lines))
    assert (err.path.name, err.line, err.field, err.value) == ("ratings.csv", 3, "rating", "abc")
    assert "ratings.csv, line 3, field 'rating', value 'abc'" in str(err)


def test_non_numeric_rating_deep_in_a_file(tmp_path):
    lines = [f"{u},{m},4.0,{u * 1000 + m}" for u in range(1, 40) for m in range(1, 5)]
    lines[120] = "31,1,four,31001"
    err = _error(fixtures.write_ratings_csv(tmp_path / "r", lines))
    assert (err.line, err.field, err.value) == (122, "rating", "four")


@pytest.mark.parametrize("release, name, line, text, field, value", [
    ("ml-1m", "ratings.dat", 2, "1::x2::3::978300760", "movie_id", "x2"),
    ("ml-100k", "u.data", 5, "2\t3\tgood\t978300760", "rating", "good"),
    ("ml-10m", "movies.dat", 3, "three::Café Society (2016)::Drama", "movie_id", "three"),
])
def test_a_bad_cell_is_located(tmp_path, release, name, line, text, field, value):
    directory = fixtures.write_release(tmp_path, release)
    path = directory / name
    lines = path.read_text().splitlines()
    lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n")
    err = _error(directory)
    assert (err.path.name, err.line, err.field, err.value) == (name, line, field, value)


@pytest.mark.parametrize("value", ["7.0", "0.0", "-1.0", "5.5"])
def test_out_of_range_rating(tmp_path, value):
    lines = ["1,1,4.0,100", "1,2,3.0,200", f"2,1,{value},300"]
    err = _error(fixtures.write_ratings_csv(tmp_path / "r", lines))
    assert (err.line, err.field, err.value) == (4, "rating", float(value))
    assert "0.5..5" in str(err)


def test_half_star_is_out_of_range_on_a_whole_star_release(tmp_path):
    directory = fixtures.write_release(tmp_path, "ml-1m")
    path = directory / "ratings.dat"
    path.write_text(path.read_text() + "3::1::0.5::978300999\n")
    err = _error(directory)
    assert (err.line, err.field, err.value) == (len(fixtures.RATINGS) + 1, "rating", 0.5)


def test_not_a_number_rating_is_rejected(tmp_path):
    err = _error(fixtures.write_ratings_csv(tmp_path / "r", ["1,1,nan,100"]))
    assert (err.line, err.field) == (2, "rating")


def test_empty_field(tmp_path):
    err = _error(fixtures.write_ratings_csv(tmp_path / "r", ["1,1,4.0,100", "1,2,,200"]))
    assert (err.line, err.field) == (3, "rating")
    assert "empty value" in str(err)


def test_too_many_fields(tmp_path):
    err = _error(fixtures.write_ratings_csv(tmp_path / "r", ["1,1,4.0,100", "1,2,3.0,200,9"]))
    assert err.line == 3
    assert "expected 4 fields" in str(err)


def test_missing_column(tmp_path):
    directory = fixtures.write_ratings_csv(
        tmp_path / "r", ["1,1,4.0", "1,2,3.0"], header="userId,movieId,rating"
    )
    err = _error(directory)
    assert (err.line, err.field) == (1, "timestamp")
    assert "missing column(s) ['timestamp']" in str(err)


def test_missing_column_in_movies(tmp_path):
    directory = fixtures.write_release(tmp_path, "ml-25m")
    (directory / "movies.csv").write_text("movieId,title\n1,Toy Story (1995)\n")
    err = _error(directory)
    assert (err.path.name, err.field) == ("movies.csv", "genres")


def test_wrong_separator_in_csv(tmp_path):
    directory = fixtures.write_ratings_csv(
        tmp_path / "r", ["1;1;4.0;100"], header="userId;movieId;rating;timestamp"
    )
    err = _error(directory)
    assert err.line == 1
    assert "';'-separated" in str(err)


def test_wrong_separator_in_dat(tmp_path):
    directory = fixtures.write_release(tmp_path, "ml-10m")
    (directory / "ratings.dat").write_text("1,1,4.0,100\n")
    err = _error(directory)
    assert (err.path.name, err.line) == ("ratings.dat", 1)
    assert "'::'" in str(err) and "','-separated" in str(err)


def test_single_colon_line_in_dat(tmp_path):
    directory = fixtures.write_release(tmp_path, "ml-10m")
    path = directory / "ratings.dat"
    path.write_text(path.read_text() + "3:1::4.0::978300999\n")
    err = _error(directory)
    assert err.line == len(fixtures.RATINGS) + 1


def test_empty_file(tmp_path):
    directory = fixtures.write_release(tmp_path, "ml-latest-small")
    (directory / "ratings.csv").write_bytes(b"")
    err = _error(directory)
    assert err.path.name == "ratings.csv"
    assert "empty" in str(err)


def test_header_only_file(tmp_path):
    err = _error(fixtures.write_ratings_csv(tmp_path / "r", []))
    assert "no data rows" in str(err)


def test_empty_movies_file(tmp_path):
    directory = fixtures.write_release(tmp_path, "ml-1m")
    (directory / "movies.dat").write_bytes(b"")
    err = _error(directory)
    assert err.path.name == "movies.dat"


def test_duplicate_movie_id_in_movies(tmp_path):
    directory = fixtures.write_release(tmp_path, "ml-25m")
    path = directory / "movies.csv"
    path.write_text(path.read_text() + "2,Another (2001),Drama\n")
    err = _error(directory)
    assert (err.field, err.value) == ("movie_id", 2)
    assert "more than once" in str(err)


def test_bad_genre_flag_in_u_item(tmp_path):
    directory = fixtures.write_release(tmp_path, "ml-100k")
    path = directory / "u.item"
    lines = path.read_bytes().decode("latin-1").splitlines()
    lines[0] = lines[0][:-1] + "x"
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    err = _error(directory)
    assert (err.path.name, err.line, err.field, err.value) == ("u.item", 1, "Western", "x")


def test_bad_timestamp_in_tags(tmp_path):
    directory = fixtures.write_release(tmp_path, "ml-latest")
    (directory / "tags.csv").write_text("userId,movieId,tag,timestamp\n1,1,funny,yesterday\n")
    err = _error(directory)
    assert (err.path.name, err.line, err.field, err.value) == (
        "tags.csv", 2, "timestamp", "yesterday",
    )


def test_errors_share_one_base_class(tmp_path):
    with pytest.raises(RecoError):
        load_movielens(fixtures.write_ratings_csv(tmp_path / "r", ["1,1,x,1"]))
