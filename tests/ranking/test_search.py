"""Title search: a tiny catalogue with known answers, every script typed exactly, and the
cases of issue 15 on ml-latest-small."""

from __future__ import annotations

import sys
import unicodedata
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reco.columns import title_year
from reco.ranking.search import TitleIndex, title_keys
from reco.ranking.titles import normalise, parse_title

# (stored title, rating count): the counts decide ties, so the intended answers below
# are not simply the most rated title
CATALOGUE = [
    ("Matrix, The (1999)", 300),
    ("Matrix Reloaded, The (2003)", 400),
    ("Matrix Revolutions, The (2003)", 100),
    ("Godfather, The (1972)", 200),
    ("Godfather: Part II, The (1974)", 150),
    ("The Godfather Trilogy: 1972-1990 (1992)", 900),
    ("Shawshank Redemption, The (1994)", 50),
    ("Star Wars: Episode IV - A New Hope (1977)", 250),
    ("Star Wars: Episode I - The Phantom Menace (1999)", 260),
    ("Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)", 120),
    ("Amelie Goes Home (1999)", 500),
    ("Auberge espagnole, L' (2002)", 30),
    ("2001: A Space Odyssey (1968)", 110),
    ("Seven (a.k.a. Se7en) (1995)", 90),
    ("Spirited Away (Sen to Chihiro no kamikakushi) (2001)", 80),
    ("ต้มยำกุ้ง (2005)", 5),
    ("千と千尋の神隠し (2001)", 4),
    ("Babylon 5", 10),
    ("Theory of Everything, The (2014)", 70),
]
TITLES = [t for t, _ in CATALOGUE]


@pytest.fixture(scope="module")
def index() -> TitleIndex:
    return _index(TITLES, [n for _, n in CATALOGUE])


def _index(titles: list[str], counts: list[int] | np.ndarray) -> TitleIndex:
    years = pl.DataFrame({"title": titles}, schema={"title": pl.String}).select(
        title_year(pl.col("title")).cast(pl.Float64)).to_series().to_numpy()
    return TitleIndex.build(titles, years, np.asarray(counts))


def _found(index: TitleIndex, query: str, limit: int = 5) -> list[str]:
    return [TITLES[p] for p in index.search(query, limit).positions]


@pytest.mark.parametrize("query,first", [
    ("the matrix", "Matrix, The (1999)"),
    ("The Matrix", "Matrix, The (1999)"),
    ("matrix the", "Matrix, The (1999)"),
    ("matrix", "Matrix, The (1999)"),  # exact beats the more rated prefix match
    ("Matrix, The (1999)", "Matrix, The (1999)"),  # the stored title, pasted
    ("matrix 2003", "Matrix Reloaded, The (2003)"),  # the year first, then the most rated
    ("The Godfather", "Godfather, The (1972)"),  # not the (more rated) trilogy
    ("godfather 1972", "Godfather, The (1972)"),
    ("godfather part ii", "Godfather: Part II, The (1974)"),
    ("the shawshank", "Shawshank Redemption, The (1994)"),
    ("shawshenk", "Shawshank Redemption, The (1994)"),  # one typo in a long word
    ("shawshank redemtion", "Shawshank Redemption, The (1994)"),
    ("star wars episode iv", "Star Wars: Episode IV - A New Hope (1977)"),
    ("star wars: episode iv", "Star Wars: Episode IV - A New Hope (1977)"),
    ("amelie 2001", "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)"),
    ("amélie", "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)"),
    ("AMELIE", "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)"),
    ("fabuleux destin", "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)"),
    ("le fabuleux destin d'amelie poulain",
     "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)"),
    ("l'auberge espagnole", "Auberge espagnole, L' (2002)"),
    ("auberge espagnole", "Auberge espagnole, L' (2002)"),
    ("2001 a space odyssey", "2001: A Space Odyssey (1968)"),  # 2001 is a word here
    ("se7en", "Seven (a.k.a. Se7en) (1995)"),
    ("sen to chihiro", "Spirited Away (Sen to Chihiro no kamikakushi) (2001)"),
    ("ต้มยำกุ้ง", "ต้มยำกุ้ง (2005)"),
    ("千と千尋の神隠し", "千と千尋の神隠し (2001)"),
    ("千と千尋", "千と千尋の神隠し (2001)"),  # a prefix, still typing
    ("神隠し", "千と千尋の神隠し (2001)"),  # the middle of a title written without spaces
    ("babylon", "Babylon 5"),
    ("theory of everything", "Theory of Everything, The (2014)"),
])
def test_the_intended_film_comes_first(index: TitleIndex, query: str, first: str):
    assert _found(index, query)[0] == first


def test_tiers_order_exact_prefix_words_typo(index: TitleIndex):
    hit = index.search("the matrix", 10)
    assert [TITLES[p] for p in hit.positions] == [
        "Matrix, The (1999)", "Matrix Reloaded, The (2003)", "Matrix Revolutions, The (2003)"]
    assert hit.tiers.tolist() == [0, 1, 1]
    assert index.search("shawshenk", 10).tiers.tolist() == [4]  # corrected: a prefix
    assert index.search("shawshank redemtion", 10).tiers.tolist() == [3]  # corrected: exact
    assert index.search("redemption shawshank", 10).tiers.tolist() == [2]


def test_a_year_puts_that_years_films_first(index: TitleIndex):
    assert _found(index, "amelie")[:2] == ["Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)",
                                           "Amelie Goes Home (1999)"]
    assert _found(index, "amelie 1999")[0] == "Amelie Goes Home (1999)"


def test_short_words_get_no_typo_tolerance(index: TitleIndex):
    assert _found(index, "sevn") == []  # 4 letters: "seven" would be one insertion away
    assert _found(index, "matrx")[0] == "Matrix, The (1999)"  # 5 letters: tolerated
    assert _found(index, "matriz")[0] == "Matrix, The (1999)"  # one substitution
    assert _found(index, "amleie")[0].startswith("Amelie (")  # one adjacent swap


def test_nothing_and_limits(index: TitleIndex):
    assert _found(index, "") == [] and _found(index, "  ,;! ") == []
    assert _found(index, "zzzzzz qqqq") == []
    assert len(index.search("the", 2).positions) == 2
    assert index.search("the", 0).positions.size == 0


_FUZZ_INDEX = _index(TITLES, [n for _, n in CATALOGUE])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.integers(1, 30))
def test_any_query_answers_distinct_rows_within_the_limit(query: str, limit: int):
    hit = _FUZZ_INDEX.search(query, limit)
    assert hit.positions.size == hit.tiers.size <= limit
    assert len(set(hit.positions.tolist())) == hit.positions.size
    assert ((hit.positions >= 0) & (hit.positions < len(TITLES))).all()


def test_keys_cover_every_spelling():
    assert title_keys("Matrix, The (1999)") == ["matrix", "matrix the", "the matrix"]
    assert "l auberge espagnole" in title_keys("Auberge espagnole, L' (2002)")


def _code_point_titles(step: int) -> list[str]:
    """Titles of 24 consecutive code points each, every ``step``-th run, over every
    assigned code point but surrogates, private use and the title syntax's own
    parentheses (a title "(...)" would read as an alternate)."""
    points = [chr(c) for c in range(sys.maxunicode + 1)
              if unicodedata.category(chr(c)) not in ("Cs", "Co", "Cn") and chr(c) not in "()"]
    runs = ["".join(points[i:i + 24]) for i in range(0, len(points), 24)][::step]
    return [t for t in runs if normalise(t)]


def _check_typed_exactly(titles: list[str]) -> None:
    index = TitleIndex.build(titles, np.full(len(titles), np.nan), np.zeros(len(titles)))
    missed = []
    for row, title in enumerate(titles):
        hit = index.search(title, 50)
        exact = hit.positions[hit.tiers == 0]
        if row not in exact:
            missed.append(title)
    assert not missed, [m.encode("unicode_escape") for m in missed[:5]]


def test_a_title_typed_exactly_is_found_in_a_sample_of_every_script():
    # the query goes through the function the titles went through: whatever the script
    _check_typed_exactly(_code_point_titles(step=37))


@pytest.mark.slow
def test_a_title_typed_exactly_is_found_over_every_code_point():
    _check_typed_exactly(_code_point_titles(step=1))


# ---------------------------------------------------------------- the real catalogue
REAL_CASES = [
    ("the matrix", "Matrix, The (1999)"),
    ("The Godfather", "Godfather, The (1972)"),
    ("the shawshank", "Shawshank Redemption, The (1994)"),
    ("shawshenk", "Shawshank Redemption, The (1994)"),
    ("star wars episode iv", "Star Wars: Episode IV - A New Hope (1977)"),
    ("amelie 2001", "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)"),
    ("amélie", "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)"),
    ("godfather 1972", "Godfather, The (1972)"),
    ("matrix the", "Matrix, The (1999)"),
    ("matrix", "Matrix, The (1999)"),
    ("godfather part ii", "Godfather: Part II, The (1974)"),
    ("l'auberge espagnole", "Spanish Apartment, The (L'auberge espagnole) (2002)"),
    ("se7en", "Seven (a.k.a. Se7en) (1995)"),
    ("leon the professional", "Léon: The Professional (a.k.a. The Professional) (Léon) (1994)"),
    ("schindlers list", "Schindler's List (1993)"),
    ("2001 a space odyssey", "2001: A Space Odyssey (1968)"),
    ("the good the bad and the ugly",
     "Good, the Bad and the Ugly, The (Buono, il brutto, il cattivo, Il) (1966)"),
    ("das boot", "Boot, Das (Boat, The) (1981)"),
    ("terminator 2", "Terminator 2: Judgment Day (1991)"),
    ("pulp fiction", "Pulp Fiction (1994)"),
    ("forest gump", "Forrest Gump (1994)"),
]


@pytest.mark.slow
@pytest.mark.parametrize("query,first", REAL_CASES)
def test_the_intended_film_comes_first_on_ml_latest_small(ml_latest_small: Path, query: str,
                                                          first: str):
    titles, index = _real_index(ml_latest_small)
    assert titles[int(index.search(query, 5).positions[0])] == first


_REAL: dict[Path, tuple[list[str], TitleIndex]] = {}


def _real_index(release: Path) -> tuple[list[str], TitleIndex]:
    if release not in _REAL:
        movies = pl.read_csv(release / "movies.csv").sort("movieId")
        counts = pl.read_csv(release / "ratings.csv").group_by("movieId").len()
        movies = movies.join(counts, on="movieId", how="left").with_columns(
            pl.col("len").fill_null(0))
        titles = movies["title"].to_list()
        _REAL[release] = titles, _index(titles, movies["len"].to_numpy())
    return _REAL[release]


# ---------------------------------------------------------------- stored and loaded
def test_the_stored_index_answers_as_the_built_one(index: TitleIndex):
    loaded = TitleIndex.from_state(index.state())
    assert loaded.display == index.display and loaded.alternates == index.alternates
    for query in ["matrix", "the godfather", "shawshenk", "amelie 2001", "se7en", "千と",
                  "star wars episode", "matrx", "l auberge", "xq", "ต้มยำ", "2001"]:
        built, again = index.search(query, 10), loaded.search(query, 10)
        assert built.positions.tolist() == again.positions.tolist(), query
        assert built.tiers.tolist() == again.tiers.tolist(), query


def test_display_titles_are_the_parsed_ones(index: TitleIndex):
    parsed = [parse_title(t) for t, _ in CATALOGUE]
    assert index.display == [t.display for t in parsed]
    assert index.alternates == [list(t.alternates) for t in parsed]
    assert index.display[0] == "The Matrix"
    assert index.alternates[9] == ["Le Fabuleux destin d'Amélie Poulain"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=12),
       st.text(max_size=12), st.integers(1, 8))
def test_any_catalogue_round_trips(titles: list[str], query: str, limit: int):
    built = _index(titles, list(range(len(titles))))
    loaded = TitleIndex.from_state(built.state())
    assert loaded.display == built.display and loaded.alternates == built.alternates
    assert built.search(query, limit).positions.tolist() == \
        loaded.search(query, limit).positions.tolist()


def _without(state: dict[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    return {k: v for k, v in state.items() if k != name}


@pytest.mark.parametrize("change,message", [
    (lambda s: _without(s, "postings"), "lacks"),
    (lambda s: {**s, "postings": s["postings"] + 10_000}, "outside"),
    (lambda s: {**s, "key_rows": s["key_rows"][:-1]}, "key_rows"),
    (lambda s: {**s, "keys_utf8": np.full(s["keys_utf8"].size, 0xFF, np.uint8)}, "UTF-8"),
    (lambda s: {**s, "keys_ptr": s["keys_ptr"][::-1].copy()}, "offsets"),
    (lambda s: {**s, "vocabulary_ptr": np.r_[0, s["vocabulary_ptr"][1:][::-1]]}, "offsets"),
    (lambda s: {**s, "variant_tokens": s["variant_tokens"][:-1]}, "variant_tokens"),
    (lambda s: {**s, "years": np.zeros(s["years"].size, np.int64)}, "years"),
    (lambda s: {**s, "popularity": s["popularity"][:3]}, "length"),
    (lambda s: {**s, "alternate_ptr": s["alternate_ptr"][:-1]}, "alternates"),
])
def test_a_damaged_index_is_refused_by_name(index: TitleIndex, change, message: str):
    with pytest.raises(ValueError, match=message):
        TitleIndex.from_state(change(index.state()))


def test_keys_out_of_order_are_refused(index: TitleIndex):
    state = index.state()
    keys = sorted(index._keys, reverse=True)
    state["keys_utf8"] = np.frombuffer("".join(keys).encode(), np.uint8)
    state["keys_ptr"] = np.r_[0, np.cumsum([len(k) for k in keys])].astype(np.int64)
    with pytest.raises(ValueError, match="keys are not sorted"):
        TitleIndex.from_state(state)
