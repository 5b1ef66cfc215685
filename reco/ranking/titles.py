"""MovieLens titles as people read and type them.

MovieLens stores a title the way a library card does: the leading article moved to the
end ("Matrix, The (1999)", "Auberge espagnole, L' (2002)"), alternate titles in
parentheses ("Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)", "Seven (a.k.a.
Se7en) (1995)") and the year, a span or nothing at the end. :func:`parse_title` turns
that into the title in reading order, its alternates and the year; the stored title is
kept by the caller for reference.

:func:`normalise` is the one normalisation of text for search: the query and every title
go through this same function, so whatever a title holds, typing it exactly finds it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from reco.columns import TITLE_YEAR_PATTERN

#: Articles MovieLens moves to the end of a title, by language: English; French, Italian
#: and Spanish; German; Dutch and the Scandinavian languages; Portuguese. Only when one
#: follows the last ", " of a title (or an alternate) is it moved back, so "Live Free or
#: Die" keeps its "Die". The elided ones ("L'") join the next word without a space.
ARTICLES: tuple[str, ...] = (
    "The", "A", "An",
    "Les", "Le", "La", "L'", "Un", "Une", "Il", "Lo", "Gli", "I", "Una", "Uno", "Un'",
    "El", "Los", "Las",
    "Der", "Die", "Das", "Ein", "Eine",
    "De", "Het", "Den", "Det",
    "O", "Os",
)
_YEAR = re.compile(TITLE_YEAR_PATTERN)
_INVERTED = re.compile(r"^(?P<rest>.+), (?P<article>" + "|".join(
    re.escape(a) for a in sorted(ARTICLES, key=len, reverse=True)) + r")$")
_BY_LENGTH = sorted(ARTICLES, key=len, reverse=True)
_LEADING = re.compile(
    "^(?:" + "|".join(re.escape(a) for a in _BY_LENGTH if a.endswith("'")) + r")(?=\S)"
    "|^(?:" + "|".join(re.escape(a) for a in _BY_LENGTH if not a.endswith("'")) + r") (?=\S)")
# the main title, then any number of parenthesised alternates at its end; "(500) Days of
# Summer" keeps its leading parentheses since the main part must not be empty
_ALTERNATES = re.compile(r"^(?P<main>.+?)(?P<alts>(?:\s*\([^()]*\))*)$", re.DOTALL)
_ALTERNATE = re.compile(r"\(([^()]*)\)")
_AKA = re.compile(r"^(?:a\.k\.a\.|aka)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Title:
    """One stored title, parsed.

    Attributes
    ----------
    display
        The main title in reading order, without the year: "The Matrix".
    alternates
        Alternate titles in reading order: ("Le Fabuleux destin d'Amélie Poulain",).
    year
        The year at the end of the stored title (a span's first year), else ``None``.
    """

    display: str
    alternates: tuple[str, ...]
    year: int | None


def reading_order(name: str) -> str:
    """``name`` with a trailing article moved to the front: "Matrix, The" -> "The Matrix",
    "Auberge espagnole, L'" -> "L'Auberge espagnole"."""
    match = _INVERTED.match(name.strip())
    if match is None:
        return name.strip()
    article, rest = match["article"], match["rest"]
    return f"{article}{rest}" if article.endswith("'") else f"{article} {rest}"


def without_article(name: str) -> str:
    """``name`` (in reading order) without a leading article: "The Matrix" -> "Matrix"."""
    return _LEADING.sub("", name, count=1)


def split_title(stored: str) -> tuple[str, list[str], int | None]:
    """The parts of a stored title as MovieLens spells them: the main title, the
    alternates (without "a.k.a."), both still inverted, and the year (else ``None``)."""
    text = stored.strip()
    year_match = _YEAR.search(text)
    year = int(year_match.group(1)) if year_match else None
    if year_match:
        text = text[:year_match.start()].rstrip()
    parts = _ALTERNATES.match(text)
    main, alts = (parts["main"], parts["alts"]) if parts else (text, "")
    alternates = [a for a in (_AKA.sub("", alt.strip()) for alt in _ALTERNATE.findall(alts))
                  if a]
    return main.strip(), alternates, year


def parse_title(stored: str) -> Title:
    """The display title, alternates and year of a MovieLens title."""
    main, alternates, year = split_title(stored)
    return Title(reading_order(main), tuple(reading_order(a) for a in alternates), year)


class _SearchCharacters(dict[int, int | str | None]):
    """What :func:`normalise` does with each code point, decided the first time one is
    seen (``str.translate`` asks this mapping): nonspacing marks (the accents NFKD split
    off) are dropped; letters, numbers and spacing or enclosing marks (the vowel signs of
    Devanagari or Thai are marks, and words without them would be other words) are kept;
    everything else (punctuation, symbols, spaces, controls, unassigned) becomes a space.
    Filling lazily avoids classifying all 1.1 million code points at import."""

    def __missing__(self, code: int) -> int | str | None:
        category = unicodedata.category(chr(code))
        value: int | str | None
        if category == "Mn":
            value = None
        elif category[0] in "LN" or category in ("Mc", "Me"):
            value = code
        else:
            value = " "
        self[code] = value
        return value


_CHARACTERS = _SearchCharacters()


def normalise(text: str) -> str:
    """The search form of ``text``, the same for queries and titles.

    NFKD (compatibility forms to their letters, accents split off), case folding (a
    second NFKD, since folding can yield decomposable letters), nonspacing marks dropped,
    punctuation and symbols to spaces, runs of spaces to one: "Amélie" -> "amelie",
    "Star Wars: Episode IV - A New Hope" -> "star wars episode iv a new hope". Idempotent.
    """
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return " ".join(folded.translate(_CHARACTERS).split())
