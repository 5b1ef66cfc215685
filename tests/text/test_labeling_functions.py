"""Labeling functions: known votes on hand-made rows, no rating read, the LF table."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from reco.data.netflix import AGE_RATING
from reco.text.labeling_functions import (
    ABSTAIN,
    FAMILY,
    GENRE,
    LF_INPUT_COLUMNS,
    NOT_FAMILY,
    apply_lfs,
    default_lfs,
    lf_input,
    lf_summary,
)

NAMES = [lf.name for lf in default_lfs()]


def _titles(rows: list[dict]) -> pl.DataFrame:
    base = {"show_id": "s", "type": "Movie", "title": "T", "description": "",
            "listed_in": [], "duration_minutes": 95, "seasons": None, "rating": "TV-MA"}
    frame = [{**base, "show_id": f"s{i}", **row} for i, row in enumerate(rows)]
    return pl.DataFrame(frame, schema_overrides={"duration_minutes": pl.Int32,
                                                 "seasons": pl.Int32})


def _votes(row: dict) -> dict[str, int]:
    """The non-abstaining votes of one row, by LF name."""
    votes = apply_lfs(_titles([row]))[0]
    return {name: int(v) for name, v in zip(NAMES, votes) if v != ABSTAIN}


@pytest.mark.parametrize(("row", "expected"), [
    ({"listed_in": ["Kids' TV"], "type": "TV Show", "duration_minutes": None, "seasons": 2,
      "description": "A curious puppy and his pals learn about shapes."},
     {"genre_kids": FAMILY, "kw_whimsy": FAMILY, "kw_gentle": FAMILY}),
    ({"listed_in": ["Horror Movies", "International Movies"], "duration_minutes": 104,
      "description": "A serial killer stalks a haunted village."},
     {"genre_horror": NOT_FAMILY, "genre_international": NOT_FAMILY, "kw_violence": NOT_FAMILY,
      "kw_horror": NOT_FAMILY, "long_dark_movie": NOT_FAMILY}),
    ({"listed_in": ["Stand-Up Comedy"], "duration_minutes": 60,
      "description": "The comedian riffs on sex, marriage and raising kids."},
     {"genre_standup": NOT_FAMILY, "kw_sex": NOT_FAMILY, "kw_standup": NOT_FAMILY}),
    ({"listed_in": ["Children & Family Movies", "Comedies"], "duration_minutes": 22,
      "description": "Animated friends throw a party for the kids."},
     {"genre_kids": FAMILY, "kw_kids": FAMILY, "kw_whimsy": FAMILY, "short_movie": FAMILY}),
    # A kid word next to a dark word is not a family vote.
    ({"listed_in": ["Documentaries"],
      "description": "Parents of missing children hunt a murderer."},
     {"kw_violence": NOT_FAMILY}),
    ({"listed_in": ["Comedies"], "description": "Two neighbours argue about a fence."}, {}),
])
def test_known_votes_on_hand_made_rows(row: dict, expected: dict[str, int]) -> None:
    assert _votes(row) == expected


def test_dramas_vote_only_outside_the_kids_genres() -> None:
    assert _votes({"listed_in": ["Dramas"]}) == {"genre_drama": NOT_FAMILY}
    assert _votes({"listed_in": ["Dramas", "Children & Family Movies"]}) == {"genre_kids": FAMILY}


def test_no_lf_reads_the_rating() -> None:
    for lf in default_lfs():
        assert AGE_RATING not in lf.expr.meta.root_names(), lf.name
    assert AGE_RATING not in LF_INPUT_COLUMNS
    rows = [{"listed_in": ["Kids' TV"], "description": "kids"}, {"listed_in": ["Thrillers"]}]
    titles = _titles(rows)
    assert AGE_RATING not in lf_input(titles).columns
    # Any rating, or none at all, gives the same votes.
    flipped = titles.with_columns(pl.lit("G").alias(AGE_RATING))
    np.testing.assert_array_equal(apply_lfs(titles), apply_lfs(flipped))
    np.testing.assert_array_equal(apply_lfs(titles), apply_lfs(titles.drop(AGE_RATING)))


def test_missing_column_is_named() -> None:
    with pytest.raises(ValueError, match="description"):
        apply_lfs(_titles([{}]).drop("description"))


def test_genre_group_is_tagged() -> None:
    groups = {lf.name: lf.group for lf in default_lfs()}
    assert groups["genre_kids"] == GENRE and groups["kw_kids"] != GENRE


def test_lf_summary_counts() -> None:
    votes = np.array([[1, -1, 0],
                      [1, 1, -1],
                      [-1, -1, 0],
                      [0, -1, -1]])
    gold = np.array([1, 0, -1, 0])
    table = lf_summary(votes, ["a", "b", "c"], gold)
    rows = {r["lf"]: r for r in table.iter_rows(named=True)}
    assert rows["a"]["polarity"] == "0,1" and rows["c"]["polarity"] == "0"
    assert rows["a"]["coverage"] == pytest.approx(0.75)
    assert rows["a"]["overlaps"] == pytest.approx(0.5)   # rows 0 and 1
    assert rows["a"]["conflicts"] == pytest.approx(0.25)  # row 0 (c says 0)
    assert rows["b"]["conflicts"] == 0.0
    assert rows["a"]["gold_covered"] == 3
    assert rows["a"]["emp_accuracy"] == pytest.approx(2 / 3)  # right on rows 0 and 3
    assert rows["c"]["gold_covered"] == 1 and rows["c"]["emp_accuracy"] == 0.0
    assert lf_summary(votes, ["a", "b", "c"]).columns[-1] == "conflicts"
    with pytest.raises(ValueError, match="3 LF names"):
        lf_summary(votes[:, :2], ["a", "b", "c"])
