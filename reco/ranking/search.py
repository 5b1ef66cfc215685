"""Title search over a token index built once: the film people mean, first.

Every movie has several *keys*, each a :func:`~reco.ranking.titles.normalise`-d form of
one of its names: the title in reading order ("the matrix"), as stored ("matrix the"),
without its article ("matrix"), the same for each alternate title, and the whole stored
title without its year. A query is normalised by the same function and matched in tiers:

0. **exact**: the query is one of the movie's keys;
1. **prefix**: a key starts with the query (someone still typing);
2. **every word**: every query word is a word of the movie's names (the last one may be
   the start of a word);
3. to 5. the same three with **one typo**: a query word of at least
   :data:`TYPO_MIN_LENGTH` letters may be one edit (insertion, deletion, substitution,
   adjacent swap) away from a title's word ("shawshenk"); the query so corrected is then
   matched as exact (3), prefix (4) or every word (5).

A four-digit query word between :data:`YEAR_RANGE` is also read as a year: it matches a
movie of that year (so "amelie 2001" is exact for "Amelie (2001)") and those movies come
first; "2001 a space odyssey" still matches the word. Within a tier the most rated movies
come first, then the lowest id.

No query loops over titles: keys are a sorted list (bisection finds the exact and prefix
ranges), words a sorted vocabulary with a CSR of the movies holding each word (a prefix is
a contiguous range of it), and typos a table of each word's one-letter deletions
(SymSpell: two words are one edit apart when deleting at most one letter from each gives
the same string). The per-query work is NumPy over arrays of one entry per movie. Only
when no word matches at all (a query that is the middle of a Japanese title, written
without spaces) are the keys searched as substrings, by Polars.
"""

from __future__ import annotations

import bisect
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from reco.columns import TITLE_YEAR_PATTERN
from reco.ranking.titles import normalise, reading_order, split_title, without_article

log = logging.getLogger(__name__)
#: Query words at least this long may carry one typo ("shawshenk").
TYPO_MIN_LENGTH = 5
#: Four-digit words in this range are also read as a release year.
YEAR_RANGE = (1870, 2100)
#: At most this many corrections of one query word are tried.
MAX_CORRECTIONS = 20
#: The tiers, best first: exact, prefix, every word; then the same with one typo
#: (corrected exact, corrected prefix, every word with a typo). NO_MATCH: not a hit.
EXACT, PREFIX, WORDS, TYPO_EXACT, TYPO_PREFIX, TYPO_WORDS, NO_MATCH = range(7)
_YEAR = re.compile(TITLE_YEAR_PATTERN)
_LAST = "\U0010ffff"  # sorts after every character: [q, q + _LAST) is the prefix range


def title_keys(stored: str) -> list[str]:
    """The normalised keys of one stored title (see the module docstring)."""
    main, alternates, _ = split_title(stored)
    names = [(name, reading_order(name)) for name in (main, *alternates)]
    return sorted(key for key, _ in _weighed_keys(stored, names))


def _weighed_keys(stored: str, names: list[tuple[str, str]]) -> list[tuple[str, bool]]:
    """The keys of ``stored`` (``names``: its main title and alternates, each as stored
    and in reading order), each with whether it is only a name without its article
    ("matrix" for "The Matrix"): a weaker exact match than a name as written, so "wild
    winter" shows "Wild Winter" before "The Wild Winter"."""
    # the whole stored text without its year: the main title with its alternates
    written = {_YEAR.sub("", stored.strip())}
    bare = set()
    for name, ordered in names:
        written.update((name, ordered))
        bare.add(without_article(ordered))
    strong = {normalise(form) for form in written}
    weak = {normalise(form) for form in bare} - strong
    return [(key, False) for key in strong if key] + [(key, True) for key in weak if key]


@dataclass(frozen=True)
class SearchHit:
    """Catalogue positions of the matches, best first, and the tier of each."""

    positions: np.ndarray
    tiers: np.ndarray


class TitleIndex:
    """The search index of a catalogue: build once (:meth:`build`), query many times.

    Positions are indices into the titles given to :meth:`build` (catalogue rows). The
    index also holds each title as people read it (:attr:`display`, :attr:`alternates`),
    parsed in the same pass as its keys. :meth:`state` and :meth:`from_state` turn it into
    plain arrays and back, so a version stores it (``titles.npz``) and a server loads it
    instead of parsing the catalogue at every start.
    """

    def __init__(self, keys: list[str], key_rows: np.ndarray, key_weak: np.ndarray,
                 vocabulary: list[str], postings_ptr: np.ndarray, postings: np.ndarray,
                 variants: list[str], variant_ptr: np.ndarray, variant_tokens: np.ndarray,
                 years: np.ndarray, popularity: np.ndarray, display: list[str],
                 alternates: list[list[str]]) -> None:
        self._keys = keys
        self._key_rows = key_rows
        self._key_weak = key_weak
        self._vocabulary = vocabulary
        self._ptr = postings_ptr
        self._postings = postings
        # SymSpell's table as sorted arrays: the one-letter deletions of the vocabulary's
        # words, each with the words it comes from (variant_tokens[variant_ptr[i]:...])
        self._variants = variants
        self._variant_ptr = variant_ptr
        self._variant_tokens = variant_tokens
        self._years = years
        self._popularity = popularity
        self.display = display
        self.alternates = alternates
        self._n = int(years.size)
        # each movie's place by popularity (most rated first, then lowest position): one
        # integer that breaks every tie, so the best `limit` need no full sort per query
        order = np.lexsort((np.arange(self._n), -popularity))
        self._rank = np.empty(self._n, dtype=np.int64)
        self._rank[order] = np.arange(self._n)
        self._joined: pl.Series | None = None

    def __len__(self) -> int:
        return self._n

    @classmethod
    def build(cls, titles: Sequence[str | None], years: np.ndarray | Sequence[float | None],
              popularity: np.ndarray | Sequence[float]) -> TitleIndex:
        """The index of ``titles`` (stored MovieLens titles), their release ``years``
        (NaN or None when unknown) and ``popularity`` (higher first, e.g. rating counts)."""
        started = time.perf_counter()
        years_arr = np.array([np.nan if y is None else y for y in years], dtype=np.float64) \
            if not isinstance(years, np.ndarray) else years.astype(np.float64)
        pop = np.asarray(popularity, dtype=np.float64)
        if not (len(titles) == years_arr.size == pop.size):
            raise ValueError(f"{len(titles)} titles, {years_arr.size} years, "
                             f"{pop.size} popularity values")
        pairs: list[tuple[str, int, bool]] = []
        words: dict[str, list[int]] = {}
        display: list[str] = []
        alternates: list[list[str]] = []
        for row, stored in enumerate(titles):
            main, alts, _ = split_title(stored or "")
            names = [(name, reading_order(name)) for name in (main, *alts)]
            display.append(names[0][1])
            alternates.append([ordered for _, ordered in names[1:]])
            keys = _weighed_keys(stored or "", names)
            pairs.extend((key, row, weak) for key, weak in keys)
            for word in {w for key, _ in keys for w in key.split()}:
                words.setdefault(word, []).append(row)
        pairs.sort()
        vocabulary = sorted(words)
        postings_ptr, postings = _csr([words[w] for w in vocabulary])
        deletions: dict[str, list[int]] = {}
        for token_id, word in enumerate(vocabulary):
            if len(word) >= TYPO_MIN_LENGTH - 1 and not word.isdigit():
                for variant in _deletes(word):
                    deletions.setdefault(variant, []).append(token_id)
        variants = sorted(deletions)
        variant_ptr, variant_tokens = _csr([deletions[v] for v in variants])
        index = cls([k for k, _, _ in pairs], np.array([r for _, r, _ in pairs], dtype=np.int32),
                    np.array([w for _, _, w in pairs], dtype=bool),
                    vocabulary, postings_ptr, postings, variants, variant_ptr, variant_tokens,
                    years_arr, pop, display, alternates)
        log.info("search index: %d titles, %d keys, %d words built in %.2fs", len(titles),
                 len(pairs), len(vocabulary), time.perf_counter() - started)
        return index

    # ------------------------------------------------------------ as arrays
    def state(self) -> dict[str, np.ndarray]:
        """The index as plain arrays (strings as UTF-8 bytes with character offsets), for
        :func:`reco.npz.save_npz`; :meth:`from_state` reads them back."""
        flat_alternates = [a for names in self.alternates for a in names]
        out = {"key_rows": self._key_rows, "key_weak": self._key_weak,
               "postings_ptr": self._ptr, "postings": self._postings,
               "variant_ptr": self._variant_ptr, "variant_tokens": self._variant_tokens,
               "years": self._years, "popularity": self._popularity,
               "alternate_ptr": _offsets([len(names) for names in self.alternates])}
        for name, strings in (("keys", self._keys), ("vocabulary", self._vocabulary),
                              ("variants", self._variants), ("display", self.display),
                              ("alternates", flat_alternates)):
            out[f"{name}_utf8"], out[f"{name}_ptr"] = _pack(strings)
        return out

    @classmethod
    def from_state(cls, state: Mapping[str, np.ndarray]) -> TitleIndex:
        """The index :meth:`state` wrote. ``ValueError`` naming the array when one is
        missing, of the wrong kind, or does not fit the others (offsets out of range,
        keys out of order)."""
        started = time.perf_counter()
        missing = sorted(set(_STATE_KINDS) - set(state))
        if missing:
            raise ValueError(f"title index lacks {missing}")
        for name, kinds in _STATE_KINDS.items():
            value = state[name]
            if value.ndim != 1 or value.dtype.kind not in kinds:
                raise ValueError(f"title index: {name} is not a vector of kind {kinds}")
        n = int(state["years"].size)
        strings = {name: _unpack(state[f"{name}_utf8"], state[f"{name}_ptr"], name)
                   for name in ("keys", "vocabulary", "variants", "display", "alternates")}
        keys, vocabulary, variants = strings["keys"], strings["vocabulary"], strings["variants"]
        for name, values in (("keys", keys), ("vocabulary", vocabulary), ("variants", variants)):
            if any(a > b for a, b in zip(values, values[1:])):
                raise ValueError(f"title index: {name} are not sorted")
        _check_csr("postings", state["postings_ptr"], state["postings"], len(vocabulary), n)
        _check_csr("variant_tokens", state["variant_ptr"], state["variant_tokens"],
                   len(variants), len(vocabulary))
        _check_csr("alternates", state["alternate_ptr"], np.zeros(0, np.int64), n, 1,
                   total=len(strings["alternates"]))
        key_rows = np.asarray(state["key_rows"])
        if key_rows.size != len(keys) or state["key_weak"].size != len(keys) or (
                key_rows.size and (key_rows.min() < 0 or key_rows.max() >= n)):
            raise ValueError("title index: key_rows do not fit the keys and titles")
        if state["popularity"].size != n or len(strings["display"]) != n:
            raise ValueError("title index: years, popularity and display differ in length")
        flat, ptr = strings["alternates"], state["alternate_ptr"].tolist()
        index = cls(keys, key_rows, np.asarray(state["key_weak"], dtype=bool), vocabulary,
                    np.asarray(state["postings_ptr"]), np.asarray(state["postings"]),
                    variants, np.asarray(state["variant_ptr"]),
                    np.asarray(state["variant_tokens"]),
                    np.asarray(state["years"], dtype=np.float64),
                    np.asarray(state["popularity"], dtype=np.float64), strings["display"],
                    [flat[a:b] for a, b in zip(ptr[:-1], ptr[1:])])
        log.info("search index: %d titles, %d keys, %d words loaded in %.2fs", n, len(keys),
                 len(vocabulary), time.perf_counter() - started)
        return index

    # ------------------------------------------------------------ lookups
    def _key_range(self, key: str, prefix: bool) -> slice:
        lo = bisect.bisect_left(self._keys, key)
        hi = bisect.bisect_left(self._keys, key + _LAST) if prefix else \
            bisect.bisect_right(self._keys, key)
        return slice(lo, hi)

    def _word_mask(self, word: str, prefix: bool) -> np.ndarray:
        lo = bisect.bisect_left(self._vocabulary, word)
        hi = bisect.bisect_left(self._vocabulary, word + _LAST) if prefix else \
            bisect.bisect_right(self._vocabulary, word)
        mask = np.zeros(self._n, dtype=bool)
        mask[self._postings[self._ptr[lo]:self._ptr[hi]]] = True
        return mask

    def _typo_words(self, word: str) -> list[int]:
        """Vocabulary words one edit from ``word`` (not ``word`` itself)."""
        tokens: set[int] = set()
        for variant in (word, *_deletes(word)):
            at = bisect.bisect_left(self._variants, variant)
            if at < len(self._variants) and self._variants[at] == variant:
                lo, hi = self._variant_ptr[at], self._variant_ptr[at + 1]
                tokens.update(self._variant_tokens[lo:hi].tolist())
            pos = bisect.bisect_left(self._vocabulary, variant)
            if variant != word and pos < len(self._vocabulary) and \
                    self._vocabulary[pos] == variant:
                tokens.add(pos)  # the query has one letter too many
        return sorted(t for t in tokens if self._vocabulary[t] != word)[:MAX_CORRECTIONS]

    def _mask_of(self, tokens: list[int]) -> np.ndarray:
        mask = np.zeros(self._n, dtype=bool)
        for token in tokens:
            mask[self._postings[self._ptr[token]:self._ptr[token + 1]]] = True
        return mask

    def _substring(self, key: str) -> np.ndarray:
        if self._joined is None:
            self._joined = pl.Series(self._keys, dtype=pl.String)
        found = self._joined.str.contains(key, literal=True).to_numpy()
        return np.unique(self._key_rows[found])

    def _mark_keys(self, tier: np.ndarray, strong: np.ndarray, words: list[str],
                   year: int | None, of_year: np.ndarray, exact: int) -> None:
        """Lower ``tier`` to ``exact`` where a key is ``words``, to ``exact + 1`` where a
        key starts with them; with a year in them, also where the key is the words
        without it and the movie is of that year ("amelie 2001"). ``strong``: the movies
        matched exactly by a name as written, not only by the name without its article."""
        key = " ".join(words)
        rest = " ".join(w for w in words if w != str(year)) if year is not None else ""
        for prefix, value in ((True, exact + 1), (False, exact)):
            for text, of_that_year in ((key, False), (rest, True)):
                if not text:
                    continue
                span = self._key_range(text, prefix)
                rows, weak = self._key_rows[span], self._key_weak[span]
                if of_that_year:
                    keep = of_year[rows]
                    rows, weak = rows[keep], weak[keep]
                tier[rows] = np.minimum(tier[rows], value)
                if not prefix:
                    strong[rows[~weak]] = True

    # ------------------------------------------------------------ the query
    def search(self, query: str, limit: int = 20) -> SearchHit:
        """The best ``limit`` matches of ``query`` (see the module docstring)."""
        key = normalise(query)
        words = key.split()
        if not words or limit < 1:
            return SearchHit(np.empty(0, np.int64), np.empty(0, np.int8))
        year = next((int(w) for w in reversed(words) if len(w) == 4 and w.isdigit()
                     and YEAR_RANGE[0] <= int(w) <= YEAR_RANGE[1]), None)
        of_year = self._years == year if year is not None else np.zeros(self._n, dtype=bool)
        strict = np.zeros(self._n, dtype=np.int16)
        loose = np.zeros(self._n, dtype=np.int16)
        corrections: list[tuple[int, str]] = []
        for i, word in enumerate(words):
            mask = self._word_mask(word, prefix=i == len(words) - 1)
            if year is not None and word == str(year):
                mask |= of_year
            strict += mask
            if len(word) >= TYPO_MIN_LENGTH and not word.isdigit():
                typos = self._typo_words(word)
                corrections.extend((i, self._vocabulary[t]) for t in typos)
                mask |= self._mask_of(typos)
            loose += mask
        tier = np.full(self._n, NO_MATCH, dtype=np.int8)
        strong = np.zeros(self._n, dtype=bool)
        tier[loose == len(words)] = TYPO_WORDS
        # a corrected query that is a title or the start of one: "matrx" is The Matrix
        for i, fixed in corrections:
            fixed_words = words[:i] + [fixed] + words[i + 1:]
            self._mark_keys(tier, strong, fixed_words, year, of_year, TYPO_EXACT)
        tier[strict == len(words)] = WORDS
        self._mark_keys(tier, strong, words, year, of_year, EXACT)
        positions = np.flatnonzero(tier < NO_MATCH)
        if positions.size == 0 and len(key) >= 2:
            positions = self._substring(key)
            tier[positions] = TYPO_WORDS
        if positions.size == 0:
            return SearchHit(np.empty(0, np.int64), np.empty(0, np.int8))
        # order: that year's films first, then tier, a name as written before one without
        # its article, then popularity; as one integer per hit, of which only the best
        # `limit` are sorted ("the" matches most of a catalogue)
        group = ((~of_year[positions]).astype(np.int64) * (NO_MATCH + 1)
                 + tier[positions]) * 2 + (~strong[positions])
        order_key = group * self._n + self._rank[positions]
        if order_key.size > limit:
            keep = np.argpartition(order_key, limit - 1)[:limit]
            positions, order_key = positions[keep], order_key[keep]
        best = positions[np.argsort(order_key)]
        return SearchHit(best.astype(np.int64), tier[best])


#: What :meth:`TitleIndex.from_state` needs, with the dtype kinds it accepts.
_STATE_KINDS: dict[str, str] = {
    "key_rows": "iu", "key_weak": "b", "postings_ptr": "iu", "postings": "iu",
    "variant_ptr": "iu", "variant_tokens": "iu", "years": "f", "popularity": "fiu",
    "alternate_ptr": "iu",
    **{f"{name}_{part}": ("u" if part == "utf8" else "iu")
       for name in ("keys", "vocabulary", "variants", "display", "alternates")
       for part in ("utf8", "ptr")},
}


def _offsets(lengths: Sequence[int]) -> np.ndarray:
    ptr = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(np.asarray(lengths, dtype=np.int64), out=ptr[1:])
    return ptr


def _csr(lists: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    ptr = _offsets([len(values) for values in lists])
    flat = np.fromiter((v for values in lists for v in values), dtype=np.int32,
                       count=int(ptr[-1]))
    return ptr, flat


def _pack(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``strings`` as one UTF-8 buffer and the offsets of each in characters: decoding
    the buffer once and slicing it is ten times faster than decoding each string."""
    data = np.frombuffer("".join(strings).encode("utf-8"), dtype=np.uint8)
    return data, _offsets([len(s) for s in strings])


def _unpack(data: np.ndarray, ptr: np.ndarray, name: str) -> list[str]:
    try:
        text = data.tobytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"title index: {name} are not UTF-8") from None
    bounds = ptr.tolist()
    if not bounds or bounds[0] != 0 or bounds[-1] != len(text) or any(
            a > b for a, b in zip(bounds, bounds[1:])):
        raise ValueError(f"title index: {name}' offsets do not fit their text")
    return [text[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _check_csr(name: str, ptr: np.ndarray, values: np.ndarray, rows: int, bound: int,
               total: int | None = None) -> None:
    """``ptr`` is the offsets of ``rows`` lists into ``values`` (or into ``total``
    entries), each value in ``[0, bound)``."""
    end = int(values.size) if total is None else total
    if ptr.size != rows + 1 or (ptr.size and (ptr[0] != 0 or ptr[-1] != end)) or bool(
            np.any(np.diff(ptr) < 0)):
        raise ValueError(f"title index: {name}' offsets do not fit")
    if values.size and (values.min() < 0 or values.max() >= bound):
        raise ValueError(f"title index: {name} point outside their table")


def _deletes(word: str) -> set[str]:
    """``word`` with one letter deleted, every way."""
    return {word[:i] + word[i + 1:] for i in range(len(word))}


__all__ = ["SearchHit", "TitleIndex", "title_keys"]
