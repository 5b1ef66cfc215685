"""A corpus of malformed releases in all three layouts, run through both scripts.

Every case is a tiny release written into ``tmp_path`` from a table of edits to one clean
base release. The promise checked on each (docs/DATA.md, "Bad input"): exit 2 with ONE
log line naming the file, the line, the field and the value; or exit 0 with the manifest's
row counts equal to what the files hold minus what the documented policy dropped (and
the report counting it). Never a traceback: ``main`` must return, not raise.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from reco.artifacts.manifest import read_manifest
from scripts import build_features
from scripts import train as train_script

T0 = 1_000_000_000
DAY = 86_400
TITLES = [
    "Toy Story (1995)", "Toy Story 2 (1999)", "Story of Us, The (1999)", "Heat (1995)",
    "Heat Wave (1990)", "Night Heat (1988)", "Café Night (2001)", "Night Story (2003)",
    "Blue Wave (1996)", "Blue Night (1997)", "Red Heat (1988)", "Red Story (1998)",
    "Green Mile, The (1999)", "Green Wave (2000)", "Toy Soldiers (1991)", "Soldier Blue (1970)",
]
GENRES = ["Animation|Comedy", "Animation|Children", "Drama|Romance", "Action|Crime",
          "Drama", "Crime|Thriller", "Comedy|Drama", "Drama|Mystery",
          "Romance", "Drama|Romance", "Action", "Drama|Thriller", "Drama|Fantasy", "Comedy",
          "Action|War", "War|Western"]
#: (user, movie, stars, timestamp): 12 users, 16 movies, every user with >= 5 ratings
BASE = [(u, m, float((u * m + u) % 5 + 1), T0 + u * DAY + ((7 * m + 5 * u) % 16) * 60)
        for u in range(1, 13) for m in range(1, 17) if (u + m) % 3]
N = len(BASE)
U_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
            "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
            "Romance", "Sci-Fi", "Thriller", "War", "Western")

#: layout -> (ratings file, movies file, data line of BASE[0], separator)
LAYOUTS = {
    "csv": ("ratings.csv", "movies.csv", 2, ","),
    "dat": ("ratings.dat", "movies.dat", 1, "::"),  # ml-1m: users.dat, whole stars
    "100k": ("u.data", "u.item", 1, "\t"),
}


def _rating_line(layout: str, u: object, m: object, r: object, t: object) -> str:
    sep = LAYOUTS[layout][3]
    if layout != "csv" and isinstance(r, float):
        r = int(r)
    return sep.join(str(x) for x in (u, m, r, t))


def _movie_line(layout: str, m: object, title: str, genres: str) -> str:
    if layout == "csv":
        return f'{m},"{title}",{genres}' if "," in title else f"{m},{title},{genres}"
    if layout == "dat":
        return f"{m}::{title}::{genres}"
    names = {g.replace("Children", "Children's") for g in genres.split("|")}
    flags = ["1" if g in names else "0" for g in U_GENRES]
    if genres == "(no genres listed)":
        flags[0] = "1"
    return "|".join([str(m), title, "01-Jan-1995", "", f"http://imdb/{m}"] + flags)


def base_files(layout: str) -> dict[str, list[str]]:
    """The clean release as lines per file (written with a newline after each)."""
    ratings = [_rating_line(layout, *row) for row in BASE]
    movies = [_movie_line(layout, m + 1, t, g) for m, (t, g) in enumerate(zip(TITLES, GENRES))]
    if layout == "csv":
        return {"ratings.csv": ["userId,movieId,rating,timestamp"] + ratings,
                "movies.csv": ["movieId,title,genres"] + movies,
                "tags.csv": ["userId,movieId,tag,timestamp", f"1,1,pixar,{T0 + 5}",
                             f"2,4,heist,{T0 + DAY}"]}
    if layout == "dat":
        return {"ratings.dat": ratings, "movies.dat": movies,
                "users.dat": [f"{u}::F::25::10::480{u:02d}" for u in range(1, 13)]}
    return {"u.data": ratings, "u.item": movies,
            "u.user": [f"{u}|24|M|writer|857{u:02d}" for u in range(1, 13)]}


Edit = Callable[[dict[str, list[str]]], None]


@dataclass(frozen=True)
class Case:
    id: str
    layout: str
    edits: tuple[Edit, ...] = ()
    code: int = 2
    file: str = ""  # the file the message names ("" : the ratings file)
    line: int | None = None
    field: str | None = None
    value: object = None
    fragments: tuple[str, ...] = ()
    ratings: int = N  # accepted: ratings the manifest holds
    report: dict[str, object] = dataclasses.field(default_factory=dict)  # accepted: report entries
    load_config: str = "{}"
    raw: dict[str, bytes] = dataclasses.field(default_factory=dict)  # files written as these bytes
    eol: str = "\n"
    no_final_newline: str = ""  # file written without its last newline


def _set(file: str, index: int, text: str) -> Edit:
    def edit(files: dict[str, list[str]]) -> None:
        files[file][index] = text
    return edit


def _add(file: str, text: str) -> Edit:
    def edit(files: dict[str, list[str]]) -> None:
        files[file].append(text)
    return edit


def _keep(file: str, n: int) -> Edit:
    def edit(files: dict[str, list[str]]) -> None:
        files[file][:] = files[file][:n]
    return edit


def _map(file: str, func: Callable[[str], str]) -> Edit:
    def edit(files: dict[str, list[str]]) -> None:
        files[file][:] = [func(x) for x in files[file]]
    return edit


def _ratings_cases(layout: str) -> list[Case]:
    """The ratings-file defects, with the line each is placed on (the 4th data row)."""
    rfile, _, first, sep = LAYOUTS[layout]
    i = first - 1 + 3  # index in the file's lines of BASE[3]
    line = i + 1
    u, m, r, t = BASE[3]
    row = partial_row = lambda **kw: _rating_line(  # noqa: E731
        layout, kw.get("u", u), kw.get("m", m), kw.get("r", r), kw.get("t", t))
    del partial_row
    whole = layout != "csv"
    grid_value = "3.5" if whole else "3.25"
    cases = [
        Case(f"{layout}-off-grid", layout, (_set(rfile, i, row(r=grid_value)),),
             line=line, field="rating", value=float(grid_value), fragments=("grid",)),
        Case(f"{layout}-x999", layout, (_set(rfile, i, row(r="3.999")),),
             line=line, field="rating", value=3.999, fragments=("grid",)),
        Case(f"{layout}-out-of-scale", layout, (_set(rfile, i, row(r="6")),),
             line=line, field="rating", value=6.0, fragments=("scale",)),
        Case(f"{layout}-zero-rating", layout, (_set(rfile, i, row(r="0")),),
             line=line, field="rating", value=0.0),
        Case(f"{layout}-nan-rating", layout, (_set(rfile, i, row(r="nan")),),
             line=line, field="rating", value="nan"),
        Case(f"{layout}-word-rating", layout, (_set(rfile, i, row(r="good")),),
             line=line, field="rating", value="good"),
        Case(f"{layout}-plus-rating", layout, (_set(rfile, i, row(r="+4")),),
             line=line, field="rating", value="+4"),
        Case(f"{layout}-fifth-field", layout, (_set(rfile, i, row() + sep + "9"),),
             line=line, fragments=("expected 4 fields", "found 5")),
        Case(f"{layout}-three-fields", layout, (_set(rfile, i, sep.join([str(u), str(m), "4"])),),
             line=line, fragments=("found 3",)),
        Case(f"{layout}-empty-field", layout, (_set(rfile, i, row(r="")),),
             line=line, field="rating", fragments=("empty",)),
        Case(f"{layout}-ms-timestamp", layout, (_set(rfile, i, row(t=t * 1000)),),
             line=line, field="timestamp", value=t * 1000, fragments=("milliseconds",)),
        Case(f"{layout}-negative-timestamp", layout, (_set(rfile, i, row(t=-t)),),
             line=line, field="timestamp", value=str(-t), fragments=("negative",)),
        Case(f"{layout}-1970-timestamp", layout, (_set(rfile, i, row(t=96498)),),
             line=line, field="timestamp", value=96498, fragments=("1990-01-01",)),
        Case(f"{layout}-truncated-last-line", layout,
             (_add(rfile, _rating_line(layout, 6, 8, 4.0, 96498)),),
             no_final_newline=rfile, line=len(BASE) + first, field="timestamp",
             value=96498, fragments=("truncated",)),
        Case(f"{layout}-truncated-mid-field", layout, (_add(rfile, sep.join(["6", "8", "4"])),),
             no_final_newline=rfile, line=len(BASE) + first, fragments=("found 3", "truncated")),
        Case(f"{layout}-negative-user", layout, (_set(rfile, i, row(u=-u)),),
             line=line, field="user_id", value=str(-u), fragments=("negative",)),
        Case(f"{layout}-zero-movie", layout, (_set(rfile, i, row(m=0)),),
             line=line, field="movie_id", value=0, fragments=("positive",)),
        Case(f"{layout}-plus-user", layout, (_set(rfile, i, row(u=f"+{u}")),),
             line=line, field="user_id", value=f"+{u}", fragments=("ASCII digits",)),
        Case(f"{layout}-space-movie", layout, (_set(rfile, i, row(m=f" {m}")),),
             line=line, field="movie_id", value=f" {m}", fragments=("ASCII digits",)),
        Case(f"{layout}-int32-overflow", layout, (_set(rfile, i, row(u=2**31)),),
             line=line, field="user_id", value=str(2**31), fragments=("2147483647",)),
        Case(f"{layout}-int64-overflow-ts", layout, (_set(rfile, i, row(t=2**63)),),
             line=line, field="timestamp", value=str(2**63)),
        Case(f"{layout}-hex-id", layout, (_set(rfile, i, row(m="0x1")),),
             line=line, field="movie_id", value="0x1"),
        Case(f"{layout}-float-id", layout, (_set(rfile, i, row(m="1.0")),),
             line=line, field="movie_id", value="1.0"),
        Case(f"{layout}-wrong-separator", layout,
             (_map(rfile, lambda x: x.replace(sep, ";")),), line=1,
             fragments=("separated",)),
        # accepted, by documented policies
        Case(f"{layout}-duplicate", layout, (_add(rfile, row(r=1.0, t=t + 5)),), code=0,
             ratings=N, report={"duplicates_dropped": 1, "ratings_read": N + 1}),
        Case(f"{layout}-blank-line", layout, (_set(rfile, i, row() + "\n"),), code=0,
             ratings=N),
        Case(f"{layout}-no-final-newline", layout, (), no_final_newline=rfile, code=0),
        Case(f"{layout}-crlf", layout, (), eol="\r\n", code=0),
        Case(f"{layout}-most-movies-missing", layout,
             (_map(rfile, lambda x: x if x.startswith("userId") else _remap(layout, x)),),
             line=first + BASE.index(next(b for b in BASE if b[1] != 1)), field="movie_id",
             fragments=("absent from the movies file", "max_unknown_share")),
        Case(f"{layout}-two-unknown-movies", layout,
             (_add(rfile, _rating_line(layout, 1, 99, 4.0, T0 + 9)),
              _add(rfile, _rating_line(layout, 2, 98, 4.0, T0 + 9))),
             line=first + N, field="movie_id", value=99, fragments=(f"{2 / (N + 2):.1%}",)),
        Case(f"{layout}-one-unknown-movie-allowed", layout,
             (_add(rfile, _rating_line(layout, 1, 99, 4.0, T0 + 9)),), code=0,
             load_config='{"max_unknown_share": 0.05}',
             report={"unknown_movie_ratings": 1, "ratings_dropped": 1, "ratings_read": N + 1}),
        Case(f"{layout}-off-grid-rounded", layout, (_set(rfile, i, row(r="3.999")),), code=0,
             load_config='{"off_grid": "round"}', report={"off_grid_rounded": 1}),
        Case(f"{layout}-empty-file", layout, raw={rfile: b""}, fragments=("empty",)),
    ]
    return cases


def _remap(layout: str, line: str) -> str:
    """Point a rating at movie 100 + id unless it is of movie 1 (unknown movies)."""
    sep = LAYOUTS[layout][3]
    parts = line.split(sep)
    if parts[1] != "1":
        parts[1] = str(100 + int(parts[1]))
    return sep.join(parts)


def _movies_cases(layout: str) -> list[Case]:
    _, mfile, _, _ = LAYOUTS[layout]
    head = 1 if layout == "csv" else 0
    i = head + 2  # movie 3
    line = i + 1
    cases = [
        Case(f"{layout}-movies-plus-id", layout,
             (_set(mfile, i, _movie_line(layout, "+3", TITLES[2], GENRES[2])),),
             file=mfile, line=line, field="movie_id", value="+3"),
        Case(f"{layout}-movies-zero-id", layout,
             (_set(mfile, i, _movie_line(layout, 0, TITLES[2], GENRES[2])),),
             file=mfile, line=line, field="movie_id", value=0),
        Case(f"{layout}-movies-duplicate-id", layout,
             (_set(mfile, i, _movie_line(layout, 2, TITLES[2], GENRES[2])),),
             file=mfile, line=line, field="movie_id", value=2),
        Case(f"{layout}-movies-big-id", layout,
             (_set(mfile, i, _movie_line(layout, 2**31, TITLES[2], GENRES[2])),),
             file=mfile, line=line, field="movie_id", value=str(2**31)),
        Case(f"{layout}-movies-empty-title", layout,
             (_set(mfile, i, _movie_line(layout, 3, "", GENRES[2])),),
             file=mfile, line=line, field="title"),
        Case(f"{layout}-movies-extra-field", layout,
             (_set(mfile, i, _movie_line(layout, 3, "Heat", GENRES[2])
                   + {"csv": ",x", "dat": "::x", "100k": "|0"}[layout]),),
             file=mfile, line=line, fragments=("fields",)),
        Case(f"{layout}-movies-latin1-byte", layout,
             raw={mfile: "\n".join(base_files(layout)[mfile]).replace(
                 "Toy Story 2", "Toy Story 2 \udce9", 1).encode("utf-8", "surrogateescape")
                 + b"\n"},
             file=mfile, line=head + 2, fragments=("0xe9", "mixed encodings")),
        Case(f"{layout}-movies-latin1-file", layout,
             raw={mfile: ("\n".join(base_files(layout)[mfile]) + "\n").encode("latin-1")},
             code=0),
        Case(f"{layout}-movies-empty-file", layout, raw={mfile: b""}, file=mfile,
             fragments=("empty",)),
        Case(f"{layout}-no-genres", layout,
             (_map(mfile, lambda x: _no_genres(layout, x)),), code=0),
    ]
    if layout != "100k":
        cases += [
            Case(f"{layout}-movies-short-row", layout,
                 (_set(mfile, i, {"csv": "3,Heat", "dat": "3::Heat"}[layout]),),
                 file=mfile, line=line, fragments=("found 2",)),
            Case(f"{layout}-genres-slash", layout,
                 (_set(mfile, i, _movie_line(layout, 3, TITLES[2], "Action/Crime")),),
                 file=mfile, line=line, field="genres", value="Action/Crime",
                 fragments=("'/'",)),
            Case(f"{layout}-genres-comma", layout,
                 (_set(mfile, i, _movie_line(layout, 3, "Story", '"Action,Crime"'
                                             if layout == "csv" else "Action,Crime")),),
                 file=mfile, line=line, field="genres", value="Action,Crime"),
            Case(f"{layout}-genres-slash-dropped", layout,
                 (_set(mfile, i, _movie_line(layout, 3, TITLES[2], "Action/Crime")),),
                 code=0, load_config='{"unknown_genres": "drop"}',
                 report={"unknown_genres_dropped": 1}),
        ]
    if layout == "100k":
        cases.append(Case("100k-genre-flag-2", layout,
                          (_set(mfile, i, _movie_line(layout, 3, TITLES[2], GENRES[2])[:-1]
                                + "2"),),
                          file=mfile, line=line, field="Western", value="2"))
    return cases


def _no_genres(layout: str, line: str) -> str:
    if layout == "csv":
        return line if line.startswith("movieId") else line.rsplit(",", 1)[0] + \
            ",(no genres listed)"
    if layout == "dat":
        return line.rsplit("::", 1)[0] + "::(no genres listed)"
    parts = line.split("|")
    return "|".join(parts[:5] + ["1"] + ["0"] * 18)


CSV_ONLY = [
    Case("csv-movies-unbalanced-quote", "csv",
         (_set("movies.csv", 3, '3,"Story of Us, The (1999),Drama|Romance'),),
         file="movies.csv", line=4, fragments=("unbalanced quote",)),
    Case("csv-header-semicolons", "csv",
         (_map("ratings.csv", lambda x: x.replace(",", ";")),), line=1,
         fragments=("';'-separated",)),
    Case("csv-header-missing-column", "csv",
         (_set("ratings.csv", 0, "userId,movieId,rating,time"),), line=1, field="timestamp"),
    Case("csv-header-only", "csv", (_keep("ratings.csv", 1),), fragments=("no data rows",)),
    Case("csv-tags-ms-timestamp", "csv", (_add("tags.csv", f"3,2,fun,{T0 * 1000}"),),
         file="tags.csv", line=4, field="timestamp", value=T0 * 1000),
    Case("csv-tags-negative-user", "csv", (_add("tags.csv", f"-3,2,fun,{T0}"),),
         file="tags.csv", line=4, field="user_id", value="-3"),
    Case("csv-movies-latin1-quote-runaway", "csv",
         (_set("movies.csv", 8, '8,"Night Story (2003),Drama'),),
         file="movies.csv", line=9, fragments=("unbalanced quote",)),
    Case("csv-extra-column", "csv",
         (_map("ratings.csv", lambda x: x + (",source" if x.startswith("userId") else ",web")),),
         code=0),
]

CASES = [c for layout in LAYOUTS for c in _ratings_cases(layout) + _movies_cases(layout)]
CASES += CSV_ONLY
#: cases the training script also runs (it takes a second or two each)
TRAIN_CASES = {"csv-no-genres", "dat-no-genres", "100k-no-genres", "csv-duplicate",
               "dat-movies-latin1-file", "100k-off-grid", "csv-movies-unbalanced-quote"}


def write_case(root: Path, case: Case) -> Path:
    directory = root / case.id
    directory.mkdir(parents=True)
    files = base_files(case.layout)
    for edit in case.edits:
        edit(files)
    for name, lines in files.items():
        text = case.eol.join(lines) + ("" if name == case.no_final_newline else case.eol)
        (directory / name).write_bytes(text.encode("utf-8"))
    for name, data in case.raw.items():
        (directory / name).write_bytes(data)
    return directory


def _check_outcome(case: Case, code: int, records: list[logging.LogRecord],
                   out: Path) -> None:
    assert not [r for r in records if r.exc_info and r.levelno >= logging.INFO], \
        "a traceback was logged"
    errors = [r.getMessage() for r in records if r.levelno >= logging.ERROR]
    if case.code == 2:
        assert code == 2, f"expected exit 2, got {code}; log: {errors}"
        assert len(errors) == 1, errors
        message = errors[0]
        assert "\n" not in message
        assert (case.file or LAYOUTS[case.layout][0]) in message, message
        if case.line is not None:
            assert f"line {case.line}," in message or f"line {case.line}:" in message, message
        if case.field is not None:
            assert f"field {case.field!r}" in message, message
        if case.value is not None:
            assert f"value {case.value!r}" in message, message
        for fragment in case.fragments:
            assert fragment in message, message
        return
    assert code == 0, f"expected exit 0, got {code}; log: {errors}"
    manifest = read_manifest(out)
    report = manifest["data"]["report"]
    assert manifest["row_counts"]["ratings"] == report["ratings_read"] - report["ratings_dropped"]
    assert manifest["row_counts"]["ratings"] == case.ratings
    for key, value in case.report.items():
        assert report[key] == value, (key, report)
    for key in ("duplicates_dropped", "off_grid_rounded", "unknown_genres_dropped",
                "unknown_movie_ratings"):
        if key not in case.report:
            assert report[key] == 0, (key, report)  # nothing changed without being counted


def test_the_corpus_is_big_enough():
    assert len(CASES) >= 80
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_build_features(case, tmp_path, caplog):
    data = write_case(tmp_path, case)
    out = tmp_path / "store"
    with caplog.at_level(logging.INFO):
        code = build_features.main(["--data", str(data), "--artifacts", str(out),
                                    "--load-config", case.load_config])
    _check_outcome(case, code, caplog.records, out)


_TRAIN = [c for c in CASES if c.id in TRAIN_CASES]


def test_content_falls_back_to_titles(caplog):
    import polars as pl

    from reco.models.content import ContentConfig, embed_movies

    # no genres, and no title word shared by two movies: min_df=2 keeps nothing
    titles = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel"]
    movies = pl.DataFrame({"movie_id": list(range(1, 9)), "title": titles,
                           "genres": [[] for _ in titles]},
                          schema={"movie_id": pl.Int32, "title": pl.String,
                                  "genres": pl.List(pl.String)})
    with caplog.at_level(logging.INFO):
        embeddings = embed_movies(movies, ContentConfig(dimensions=4))
    assert embeddings.fallback is not None and "fell back" in embeddings.fallback
    assert embeddings.vectors.shape == (8, 4)
    assert sum("fell back" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.parametrize("case", _TRAIN, ids=lambda c: c.id)
def test_train(case, tmp_path, caplog):
    data = write_case(tmp_path, case)
    out = tmp_path / "store"
    with caplog.at_level(logging.INFO):
        code = train_script.main(["--data", str(data), "--artifacts", str(out)])
    _check_outcome(case, code, caplog.records, out)
    if case.code == 0 and "no-genres" in case.id:  # trained and served without any genre
        from reco.serving import RecoService

        service = RecoService.load(out)
        assert service.genres == [] and service.smoke()["user_id"] >= 0


def test_too_few_ratings_for_a_label_window_is_exit_2(tmp_path, caplog):
    case = Case("csv-tiny", "csv", (_keep("ratings.csv", 4),), code=0, ratings=3)
    data = write_case(tmp_path, case)
    with caplog.at_level(logging.INFO):
        code = train_script.main(["--data", str(data), "--artifacts", str(tmp_path / "s")])
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert code == 2 and len(errors) == 1 and "label window" in errors[0]


def test_an_unreadable_file_is_exit_2(tmp_path, caplog, monkeypatch):
    data = write_case(tmp_path, Case("csv-unreadable", "csv"))
    real = Path.read_bytes

    def deny(self: Path) -> bytes:
        if self.name == "movies.csv":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", deny)
    with caplog.at_level(logging.INFO):
        code = build_features.main(["--data", str(data), "--artifacts", str(tmp_path / "s")])
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert code == 2 and len(errors) == 1
    assert "movies.csv" in errors[0] and "Permission denied" in errors[0]
