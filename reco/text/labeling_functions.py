"""Labeling functions (LFs) for the family-friendly flag, over Netflix titles.

Each LF is a Polars expression that casts one vote per title: :data:`FAMILY` (1),
:data:`NOT_FAMILY` (0) or :data:`ABSTAIN` (-1). They read genres (``listed_in``), words in
the title and description, the type and the duration, and **never** the age ``rating``,
which is the gold the flag is evaluated against: :func:`lf_input` builds the frame the
LFs see from :data:`LF_INPUT_COLUMNS` only, so a rating cannot leak in even by mistake.

:func:`lf_summary` is the LF analysis table (coverage, overlaps, conflicts and, given
gold, the empirical accuracy of each LF on the gold rows it covers).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import polars as pl

from reco.data.netflix import (
    DESCRIPTION,
    DURATION_MINUTES,
    LISTED_IN,
    MOVIE_TYPE,
    NF_TITLE,
    SEASONS,
    SHOW_ID,
    TYPE,
)

log = logging.getLogger(__name__)

#: Vote encoding (also the label encoding of the gold and of the label model).
FAMILY, NOT_FAMILY, ABSTAIN = 1, 0, -1
#: LF groups; "genre" LFs are the ones the no-genre ablation removes.
GENRE, KEYWORD, META = "genre", "keyword", "meta"
#: The only columns an LF may read (the age rating is deliberately absent).
LF_INPUT_COLUMNS: tuple[str, ...] = (
    SHOW_ID, TYPE, NF_TITLE, DESCRIPTION, LISTED_IN, DURATION_MINUTES, SEASONS,
)
_TEXT = "_lf_text"

KIDS_GENRES = ("Kids' TV", "Children & Family Movies")
HORROR_GENRES = ("Horror Movies", "TV Horror")
CRIME_GENRES = ("Thrillers", "TV Thrillers", "Crime TV Shows", "TV Mysteries")
STANDUP_GENRES = ("Stand-Up Comedy", "Stand-Up Comedy & Talk Shows")
DRAMA_GENRES = ("Dramas", "TV Dramas", "Romantic TV Shows", "Independent Movies",
                "LGBTQ Movies", "Cult Movies")
INTERNATIONAL_GENRES = ("International Movies", "International TV Shows",
                        "Spanish-Language TV Shows")
WHOLESOME_GENRES = ("Faith & Spirituality", "Classic Movies")

# Word lists: stems are spelled out (no stemming) so that a regex word boundary is enough.
KIDS_WORDS = ("kid", "kids", "children", "child's", "preschool", "preschoolers", "toddler",
              "toddlers", "little ones", "youngsters", "young viewers", "family-friendly",
              "tots", "playtime", "nursery")
WHIMSY_WORDS = ("princess", "princesses", "fairy", "fairies", "unicorn", "unicorns", "puppy",
                "puppies", "pup", "pups", "kitten", "kittens", "dinosaur", "dinosaurs", "pony",
                "ponies", "mermaid", "mermaids", "adventure-loving", "animated", "cartoon",
                "lego", "barbie", "sing-along", "elves", "fun-loving", "furry", "critters",
                "toys", "pals", "playful", "silly", "mischievous")
GENTLE_WORDS = ("heartwarming", "wholesome", "adventures", "christmas", "holiday", "learns",
                "learn", "lessons", "curious", "explore", "wonders", "wildlife", "animals",
                "nature", "zoo", "baking", "competition", "game show", "singers")
VIOLENCE_WORDS = ("murder", "murders", "murdered", "murderer", "killer", "killers", "kill",
                  "kills", "killing", "killed", "drug", "drugs", "cartel", "gang", "gangs",
                  "gangster", "gangsters", "violent", "violence", "bloody", "rape", "raped",
                  "assault", "hitman", "mafia", "mob", "heist", "corrupt", "revenge",
                  "prison", "torture", "narco", "cocaine", "brutal", "crime", "criminal")
SEX_WORDS = ("sex", "sexual", "sexy", "sexuality", "erotic", "affair", "seduce", "seduces",
             "seductive", "stripper", "porn", "lust", "prostitute", "escort", "lovers",
             "infidelity", "steamy", "naked", "nude", "sensual", "one-night stand")
HORROR_WORDS = ("demon", "demons", "demonic", "haunted", "haunting", "possessed",
                "possession", "terror", "terrifying", "zombie", "zombies", "slasher", "gore",
                "exorcism", "sinister", "creepy", "nightmare", "nightmares", "evil spirit",
                "occult", "psychopath", "serial killer")
STANDUP_WORDS = ("comedian", "comedians", "stand-up", "comic", "comedy special")
ADULT_LIFE_WORDS = ("addiction", "addict", "alcohol", "alcoholic", "drunk", "divorce",
                    "abuse", "abusive", "suicide", "terrorist", "terrorists", "war crimes",
                    "trafficking", "dark secrets", "jihad", "politician", "corruption")


def words_pattern(words: tuple[str, ...]) -> str:
    """Case-insensitive regex matching any of ``words`` as whole words."""
    escaped = "|".join(re.escape(w) for w in words)
    return rf"(?i)\b(?:{escaped})\b"


def _genre_any(genres: tuple[str, ...]) -> pl.Expr:
    return pl.col(LISTED_IN).list.eval(pl.element().is_in(genres)).list.any().fill_null(False)


def _text_has(words: tuple[str, ...]) -> pl.Expr:
    return pl.col(_TEXT).str.contains(words_pattern(words))


def _fires(condition: pl.Expr, vote: int) -> pl.Expr:
    return (pl.when(condition.fill_null(False)).then(pl.lit(vote, pl.Int8))
            .otherwise(pl.lit(ABSTAIN, pl.Int8)))


# eq=False: comparing two pl.Expr builds an expression, not a bool.
@dataclass(frozen=True, eq=False)
class LabelingFunction:
    """One LF: a name, its group and the Polars expression casting its Int8 votes."""

    name: str
    group: str
    expr: pl.Expr

    def __post_init__(self) -> None:
        if self.group not in (GENRE, KEYWORD, META):
            raise ValueError(f"LF {self.name!r}: unknown group {self.group!r}")


def default_lfs() -> tuple[LabelingFunction, ...]:
    """The LFs used by the family flag, in a fixed order (the vote matrix columns)."""
    kids = _genre_any(KIDS_GENRES)
    movie = pl.col(TYPE) == MOVIE_TYPE
    minutes = pl.col(DURATION_MINUTES)
    kid_text = _text_has(KIDS_WORDS) | _text_has(WHIMSY_WORDS)
    dark_text = _text_has(VIOLENCE_WORDS) | _text_has(SEX_WORDS) | _text_has(HORROR_WORDS)
    standup_text = _text_has(STANDUP_WORDS)
    adult_text = standup_text | _text_has(ADULT_LIFE_WORDS)
    return (
        LabelingFunction("genre_kids", GENRE, _fires(kids, FAMILY)),
        LabelingFunction("genre_wholesome", GENRE, _fires(_genre_any(WHOLESOME_GENRES), FAMILY)),
        LabelingFunction("genre_horror", GENRE, _fires(_genre_any(HORROR_GENRES), NOT_FAMILY)),
        LabelingFunction("genre_crime_thriller", GENRE,
                         _fires(_genre_any(CRIME_GENRES), NOT_FAMILY)),
        LabelingFunction("genre_standup", GENRE, _fires(_genre_any(STANDUP_GENRES), NOT_FAMILY)),
        # Dramas and international titles are not adult by nature, but on Netflix they
        # mostly are; outside the kids genres they are a (noisy) "not family" hint.
        LabelingFunction("genre_drama", GENRE,
                         _fires(_genre_any(DRAMA_GENRES) & ~kids, NOT_FAMILY)),
        LabelingFunction("genre_international", GENRE,
                         _fires(_genre_any(INTERNATIONAL_GENRES) & ~kids, NOT_FAMILY)),
        # Kid words also describe adult stories about children ("raising kids", "missing
        # children"), so they only count when no dark or stand-up word is there.
        LabelingFunction("kw_kids", KEYWORD,
                         _fires(_text_has(KIDS_WORDS) & ~dark_text & ~standup_text, FAMILY)),
        LabelingFunction("kw_whimsy", KEYWORD,
                         _fires(_text_has(WHIMSY_WORDS) & ~dark_text & ~standup_text, FAMILY)),
        LabelingFunction("kw_gentle", KEYWORD,
                         _fires(_text_has(GENTLE_WORDS) & ~dark_text & ~adult_text, FAMILY)),
        LabelingFunction("kw_violence", KEYWORD, _fires(_text_has(VIOLENCE_WORDS), NOT_FAMILY)),
        LabelingFunction("kw_sex", KEYWORD, _fires(_text_has(SEX_WORDS), NOT_FAMILY)),
        LabelingFunction("kw_horror", KEYWORD, _fires(_text_has(HORROR_WORDS), NOT_FAMILY)),
        LabelingFunction("kw_standup", KEYWORD, _fires(_text_has(STANDUP_WORDS), NOT_FAMILY)),
        LabelingFunction("kw_adult_life", KEYWORD,
                         _fires(_text_has(ADULT_LIFE_WORDS), NOT_FAMILY)),
        # Short films without a dark or adult word are mostly children's specials; long
        # films with a dark word and no kid word are mostly for adults.
        LabelingFunction("short_movie", META,
                         _fires(movie & (minutes < 30) & ~dark_text & ~adult_text, FAMILY)),
        LabelingFunction("long_dark_movie", META,
                         _fires(movie & (minutes >= 100) & dark_text & ~kid_text, NOT_FAMILY)),
    )


def lf_input(titles: pl.DataFrame) -> pl.DataFrame:
    """The frame the LFs see: :data:`LF_INPUT_COLUMNS` of ``titles`` and nothing else.

    Raises
    ------
    ValueError
        A column of :data:`LF_INPUT_COLUMNS` is missing (named in the message).
    """
    missing = [c for c in LF_INPUT_COLUMNS if c not in titles.columns]
    if missing:
        raise ValueError(f"labeling functions need column(s) {missing}; got {titles.columns}")
    return titles.select(LF_INPUT_COLUMNS)


def apply_lfs(titles: pl.DataFrame,
              lfs: tuple[LabelingFunction, ...] | None = None) -> np.ndarray:
    """Votes of every LF on every title.

    Parameters
    ----------
    titles
        Netflix titles (as read by :func:`reco.data.netflix.read_netflix_titles`); only
        :data:`LF_INPUT_COLUMNS` are passed on to the LFs.
    lfs
        The LFs to apply; :func:`default_lfs` when None.

    Returns
    -------
    numpy.ndarray
        Int8 matrix ``(n_titles, n_lfs)`` of :data:`FAMILY`, :data:`NOT_FAMILY` or
        :data:`ABSTAIN`, columns in the order of ``lfs``.
    """
    lfs = default_lfs() if lfs is None else lfs
    if not lfs:
        raise ValueError("apply_lfs needs at least one labeling function, got none")
    frame = lf_input(titles).with_columns(
        pl.concat_str([pl.col(NF_TITLE).fill_null(""), pl.col(DESCRIPTION).fill_null("")],
                      separator=" ").alias(_TEXT))
    votes = frame.select([lf.expr.alias(lf.name) for lf in lfs]).to_numpy()
    return np.ascontiguousarray(votes, dtype=np.int8)


def lf_summary(votes: np.ndarray, names: list[str] | tuple[str, ...],
               gold: np.ndarray | None = None) -> pl.DataFrame:
    """Snorkel-style LF analysis (own code): one row per LF.

    Columns: ``lf``, ``polarity`` (the labels it casts), ``coverage`` (share of rows it
    votes on), ``overlaps`` (share of rows where it and another LF vote), ``conflicts``
    (share where another LF votes a different label), and with ``gold`` (labels
    :data:`FAMILY` / :data:`NOT_FAMILY`, :data:`ABSTAIN` for rows outside the gold)
    ``gold_covered`` and ``emp_accuracy`` on the gold rows it covers (null when none).
    """
    votes = np.asarray(votes)
    if votes.ndim != 2 or votes.shape[1] != len(names):
        raise ValueError(f"votes of shape {votes.shape} do not match {len(names)} LF names")
    fired = votes != ABSTAIN
    n_fired = fired.sum(axis=1, keepdims=True)
    n_family = (votes == FAMILY).sum(axis=1, keepdims=True)
    # Another LF disagrees with LF j on row i when some other vote differs from v_ij.
    others_family = n_family - (votes == FAMILY)
    others_not = (n_fired - n_family) - (votes == NOT_FAMILY)
    disagree = np.where(votes == FAMILY, others_not > 0, others_family > 0) & fired
    table = {
        "lf": list(names),
        "polarity": [",".join(str(v) for v in sorted(set(col[col != ABSTAIN].tolist())))
                     for col in votes.T],
        "coverage": fired.mean(axis=0),
        "overlaps": (fired & (n_fired > 1)).mean(axis=0),
        "conflicts": disagree.mean(axis=0),
    }
    if gold is not None:
        gold = np.asarray(gold)
        in_gold = (gold != ABSTAIN)[:, None] & fired
        correct = (votes == gold[:, None]) & in_gold
        covered = in_gold.sum(axis=0)
        table["gold_covered"] = covered
        table["emp_accuracy"] = [float(c / n) if n else None
                                 for c, n in zip(correct.sum(axis=0), covered)]
    return pl.DataFrame(table)
