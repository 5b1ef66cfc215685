"""The TMDB 5000 movies reader: a hand-written file, each bad input, the real file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from reco.data.tmdb import TMDB_SCHEMA, read_tmdb_movies
from reco.exceptions import DataFormatError

HEADER = ["budget", "genres", "id", "keywords", "overview", "title", "vote_count"]


def _named(*names: str) -> str:
    return json.dumps([{"id": i, "name": n} for i, n in enumerate(names, start=1)])


def _rows() -> list[list[str]]:
    return [
        ["1000", _named("Science Fiction", "Adventure"), "11", _named("space", "alien"),
         "A farm boy joins a rebellion.", "Star Wars", "10"],
        ["0", _named("Drama"), "12", "[]", "", "Quiet Film", "3"],
        ["5", _named("Comedy"), "13", _named("dog"), "Line one.\nLine two, quoted.", "Dog Day",
         "1"],
        ["7", "[]", "14", _named("island", "dinosaur"), "  Dinosaurs roam.  ", "  Isle  ", "8"],
    ]


def _write(path: Path, rows: list[list[str]], header: list[str] | None = None) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER if header is None else header)
        writer.writerows(rows)
    return path


def _with(column: str, row: int, value: str) -> list[list[str]]:
    rows = _rows()
    rows[row][HEADER.index(column)] = value
    return rows


def test_reads_a_hand_written_file(tmp_path):
    frame = read_tmdb_movies(_write(tmp_path / "tmdb.csv", _rows()))
    assert frame.schema == TMDB_SCHEMA
    assert frame["tmdb_id"].to_list() == [11, 12, 13, 14]
    assert frame["tmdb_title"].to_list() == ["Star Wars", "Quiet Film", "Dog Day", "Isle"]
    assert frame["overview"].to_list()[:2] == ["A farm boy joins a rebellion.", ""]
    assert frame["overview"][3] == "Dinosaurs roam."
    assert frame["keywords"].to_list() == [["space", "alien"], [], ["dog"], ["island", "dinosaur"]]
    assert frame["tmdb_genres"].to_list() == [
        ["Science Fiction", "Adventure"], ["Drama"], ["Comedy"], [],
    ]


def test_empty_json_cells_are_empty_lists(tmp_path):
    frame = read_tmdb_movies(_write(tmp_path / "tmdb.csv", _with("keywords", 0, "")))
    assert frame["keywords"][0].to_list() == []


def test_missing_file(tmp_path):
    with pytest.raises(DataFormatError, match="file not found") as info:
        read_tmdb_movies(tmp_path / "absent.csv")
    assert info.value.path == tmp_path / "absent.csv"


def test_missing_column(tmp_path):
    header = [c if c != "keywords" else "tags" for c in HEADER]
    with pytest.raises(DataFormatError, match="missing column") as info:
        read_tmdb_movies(_write(tmp_path / "tmdb.csv", _rows(), header))
    assert (info.value.line, info.value.field) == (1, "keywords")


@pytest.mark.parametrize("column", ["genres", "keywords"])
def test_unparsable_json_names_line_field_and_value(tmp_path, column):
    path = _write(tmp_path / "tmdb.csv", _with(column, 1, '[{"id": 1, "name": "Drama"'))
    with pytest.raises(DataFormatError, match="not valid JSON") as info:
        read_tmdb_movies(path)
    error = info.value
    assert (error.line, error.field, error.value) == (3, column, '[{"id": 1, "name": "Drama"')
    assert str(path) in str(error) and "line 3" in str(error)


@pytest.mark.parametrize("value", ['{"id": 1, "name": "Drama"}', "[1, 2]", '[{"id": 1}]'])
def test_json_that_is_not_a_list_of_names(tmp_path, value):
    with pytest.raises(DataFormatError, match="expected a JSON list") as info:
        read_tmdb_movies(_write(tmp_path / "tmdb.csv", _with("genres", 0, value)))
    assert (info.value.line, info.value.field) == (2, "genres")


def test_line_numbers_count_quoted_newlines(tmp_path):
    # row 2 holds an overview spanning two lines, so row 3 starts on line 6, not 5
    path = _write(tmp_path / "tmdb.csv", _with("genres", 3, "not json"))
    with pytest.raises(DataFormatError) as info:
        read_tmdb_movies(path)
    assert info.value.line == 6


@pytest.mark.parametrize("value,message", [("abc", "not an integer"), ("1.5", "not an integer"),
                                           ("", "empty value")])
def test_non_integer_id(tmp_path, value, message):
    with pytest.raises(DataFormatError, match=message) as info:
        read_tmdb_movies(_write(tmp_path / "tmdb.csv", _with("id", 1, value)))
    assert (info.value.line, info.value.field) == (3, "id")
    if value:
        assert info.value.value == value


def test_repeated_id(tmp_path):
    with pytest.raises(DataFormatError, match="more than once") as info:
        read_tmdb_movies(_write(tmp_path / "tmdb.csv", _with("id", 1, "11")))
    assert (info.value.line, info.value.value) == (3, 11)


def test_empty_file(tmp_path):
    path = tmp_path / "tmdb.csv"
    path.write_text("")
    with pytest.raises(DataFormatError, match="empty"):
        read_tmdb_movies(path)


@pytest.mark.slow
def test_real_file(tmdb_file):
    frame = read_tmdb_movies(tmdb_file)
    assert frame.height == 4803
    assert frame["tmdb_id"].n_unique() == 4803
    assert frame.null_count().sum_horizontal().item() == 0
    assert (frame["overview"] == "").sum() == 4  # three missing overviews, one blank
    assert (frame["keywords"].list.len() == 0).sum() == 412
    avatar = frame.filter(pl.col("tmdb_id") == 19995).row(0, named=True)
    assert avatar["tmdb_title"] == "Avatar"
    assert "space war" in avatar["keywords"] and "Science Fiction" in avatar["tmdb_genres"]
