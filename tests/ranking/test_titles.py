"""MovieLens titles in reading order, and the one normalisation of search text."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reco.ranking.titles import Title, normalise, parse_title, reading_order, without_article


@pytest.mark.parametrize("stored,expected", [
    ("Matrix, The (1999)", Title("The Matrix", (), 1999)),
    ("Auberge espagnole, L' (2002)", Title("L'Auberge espagnole", (), 2002)),
    ("Godfather, The (1972)", Title("The Godfather", (), 1972)),
    ("Godfather: Part II, The (1974)", Title("The Godfather: Part II", (), 1974)),
    ("Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)",
     Title("Amelie", ("Le Fabuleux destin d'Amélie Poulain",), 2001)),
    ("Seven (a.k.a. Se7en) (1995)", Title("Seven", ("Se7en",), 1995)),
    ("Léon: The Professional (a.k.a. The Professional) (Léon) (1994)",
     Title("Léon: The Professional", ("The Professional", "Léon"), 1994)),
    ("Good, the Bad and the Ugly, The (Buono, il brutto, il cattivo, Il) (1966)",
     Title("The Good, the Bad and the Ugly", ("Il Buono, il brutto, il cattivo",), 1966)),
    ("Boot, Das (Boat, The) (1981)", Title("Das Boot", ("The Boat",), 1981)),
    ("Mariachi, El (1992)", Title("El Mariachi", (), 1992)),
    ("Misérables, Les (1995)", Title("Les Misérables", (), 1995)),
    ("Tin Drum, The (Blechtrommel, Die) (1979)", Title("The Tin Drum", ("Die Blechtrommel",),
                                                       1979)),
    ("Affair of Love, An (Liaison pornographique, Une) (1999)",
     Title("An Affair of Love", ("Une Liaison pornographique",), 1999)),
    ("(500) Days of Summer (2009)", Title("(500) Days of Summer", (), 2009)),
    ("Death Note: Desu nôto (2006–2007)", Title("Death Note: Desu nôto", (), 2006)),
    ("Sherlock (2010- )", Title("Sherlock", (), 2010)),
    ("Babylon 5", Title("Babylon 5", (), None)),
    ("Live Free or Die Hard (2007)", Title("Live Free or Die Hard", (), 2007)),
    ("  Heat (1995) ", Title("Heat", (), 1995)),
    ("", Title("", (), None)),
])
def test_parse_title(stored: str, expected: Title):
    assert parse_title(stored) == expected


def test_reading_order_and_back():
    assert reading_order("Matrix, The") == "The Matrix"
    assert reading_order("Auberge espagnole, L'") == "L'Auberge espagnole"
    assert reading_order("Crouching Tiger, Hidden Dragon") == "Crouching Tiger, Hidden Dragon"
    assert without_article("The Matrix") == "Matrix"
    assert without_article("L'Auberge espagnole") == "Auberge espagnole"
    assert without_article("Theory of Everything") == "Theory of Everything"
    assert without_article("The") == "The"  # a title that is only an article keeps it


@pytest.mark.parametrize("text,expected", [
    ("Amélie", "amelie"),
    ("Star Wars: Episode IV - A New Hope", "star wars episode iv a new hope"),
    ("  MATRIX,   the ", "matrix the"),
    ("Schindler's List", "schindler s list"),
    ("Straße", "strasse"),  # case folding, not lower-casing
    ("ﬁlm №1", "film no1"),  # compatibility forms (NFKD)
    ("İstanbul", "istanbul"),  # the dot folding leaves is a nonspacing mark
    ("ΣΊΣΥΦΟΣ", "σισυφοσ"),  # no final-sigma special case: one spelling for queries
    ("千と千尋の神隠し", "千と千尋の神隠し"),
    ("नमस्ते", "नमसत"),  # virama (Mn) dropped, the vowel sign (Mc) kept
    ("", ""),
])
def test_normalise(text: str, expected: str):
    assert normalise(text) == expected


def _every_code_point() -> str:
    return "".join(chr(c) for c in range(sys.maxunicode + 1)
                   if unicodedata.category(chr(c)) != "Cs")


def test_normalise_is_idempotent_over_every_code_point():
    # the query and the title keys are both normalise(): what a key holds, typed again,
    # gives the same key. Each code point alone (spaces between them block the canonical
    # reordering of marks, so one call checks them all) and in runs (marks after bases).
    everything = _every_code_point()
    alone = " ".join(everything)
    if normalise(normalise(alone)) != normalise(alone):
        bad = [hex(ord(c)) for c in everything if normalise(normalise(c)) != normalise(c)]
        pytest.fail(f"not idempotent on {bad[:20]}")
    for start in range(0, len(everything), 4096):
        run = everything[start:start + 4096]
        assert normalise(normalise(run)) == normalise(run), hex(ord(run[0]))


@given(st.text(max_size=60))
def test_normalise_output_is_words_of_letters_numbers_and_spacing_marks(text: str):
    out = normalise(text)
    assert out == " ".join(out.split())
    assert all(unicodedata.category(c)[0] in "LN" or unicodedata.category(c) in ("Mc", "Me")
               for c in out.replace(" ", ""))
    assert normalise(out) == out
