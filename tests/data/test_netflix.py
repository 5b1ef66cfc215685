"""The Netflix titles reader: a hand-written file, each bad input, the real file."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from reco.data.netflix import NETFLIX_COLUMNS, read_netflix_titles
from reco.exceptions import DataFormatError


def _row(show_id: str, **values: str) -> list[str]:
    base = {"show_id": show_id, "type": "Movie", "title": "T", "director": "", "cast": "",
            "country": "", "date_added": "", "release_year": "2020", "rating": "PG",
            "duration": "90 min", "listed_in": "Comedies, Dramas", "description": "d"}
    base.update(values)
    return [base[c] for c in NETFLIX_COLUMNS]


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(NETFLIX_COLUMNS)
        writer.writerows(rows)
    return path


def test_reads_lists_durations_and_the_shifted_rating(tmp_path: Path) -> None:
    path = _write(tmp_path / "n.csv", [
        _row("s1"),
        _row("s2", type="TV Show", duration="3 Seasons", listed_in="Kids' TV", rating="TV-Y"),
        _row("s3", rating="74 min", duration=""),
        _row("s4", type="TV Show", duration="1 Season", listed_in="", description=""),
    ])
    frame = read_netflix_titles(path)
    assert frame["listed_in"].to_list() == [
        ["Comedies", "Dramas"], ["Kids' TV"], ["Comedies", "Dramas"], []]
    assert frame["duration_minutes"].to_list() == [90, None, 74, None]
    assert frame["seasons"].to_list() == [None, 3, None, 1]
    assert frame["rating"].to_list() == ["PG", "TV-Y", None, "PG"]
    assert frame["description"].to_list()[-1] == ""


@pytest.mark.parametrize(("values", "field", "line"), [
    ({"type": "Film"}, "type", 3),
    ({"release_year": "twenty"}, "release_year", 3),
    ({"duration": "90 minutes"}, "duration", 3),
    ({"show_id": "s1"}, "show_id", 3),
])
def test_bad_values_name_line_and_field(tmp_path: Path, values: dict[str, str], field: str,
                                        line: int) -> None:
    path = _write(tmp_path / "n.csv", [_row("s1"), _row(values.pop("show_id", "s2"), **values)])
    with pytest.raises(DataFormatError) as info:
        read_netflix_titles(path)
    assert (info.value.line, info.value.field) == (line, field)
    assert str(path) in str(info.value)


def test_missing_column_and_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "n.csv"
    path.write_text("show_id,title\ns1,T\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="missing column"):
        read_netflix_titles(path)
    path.write_text("", encoding="utf-8")
    with pytest.raises(DataFormatError):
        read_netflix_titles(path)


def test_real_file(netflix_file: Path) -> None:
    frame = read_netflix_titles(netflix_file)
    assert frame.height == 8807
    assert frame["rating"].null_count() == 7  # 4 empty + 3 that held a duration
    assert frame["duration"].null_count() == 0
    assert frame["listed_in"].list.len().min() >= 1
