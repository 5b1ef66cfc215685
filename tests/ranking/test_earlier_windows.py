"""The earlier label windows: more rows for the boosters, nothing from a later window in an
earlier one's features, skipped on large data, stopped when too small."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from reco.columns import MOVIE_ID, TIMESTAMP, USER_ID
from reco.data.split import per_user_split
from reco.data.synthetic import SyntheticConfig, generate
from reco.exceptions import ConfigError
from reco.ranking.hybrid import HybridRecommender
from tests.ranking.test_hybrid import SMALL, spy_embedded_tags

ONE = replace(SMALL, earlier_windows=1)


@pytest.fixture(scope="module")
def data():
    return generate(SyntheticConfig(n_users=200, n_movies=250, n_ratings=12_000, seed=11))


@pytest.fixture(scope="module")
def plain(data):
    """The same fit with the label window alone."""
    return HybridRecommender(SMALL).fit(data.ratings, data.movies)


def _spy_stage_one(monkeypatch) -> list[pl.DataFrame]:
    """The ratings of every stage-one fit, in order."""
    seen: list[pl.DataFrame] = []
    original = HybridRecommender._stage_one

    def spy(self, ratings, *args, **kwargs):
        seen.append(ratings)
        return original(self, ratings, *args, **kwargs)

    monkeypatch.setattr(HybridRecommender, "_stage_one", spy)
    return seen


def _keys(frame: pl.DataFrame) -> set[tuple[int, int]]:
    return set(zip(frame[USER_ID].to_list(), frame[MOVIE_ID].to_list()))


def test_the_boosters_learn_from_both_windows(data, plain):
    one = HybridRecommender(ONE).fit(data.ratings, data.movies)
    none = plain
    report = one.window_["earlier_windows"]
    assert report["used"] == 1 and report["configured"] == 1
    # the earlier label window is the last fifth of each user's feature window
    inner = per_user_split(per_user_split(data.ratings).train)
    assert report["label_window_ratings"] == [inner.test.height]
    assert one.window_["ranker_rows"] > none.window_["ranker_rows"]
    assert one.window_["like_rows"] > none.window_["like_rows"]
    # the newest window's figures are the same fit's as without the earlier one
    for key in ("feature_window_ratings", "label_window_ratings", "ranker_users",
                "candidate_rows", "candidate_recall"):
        assert one.window_[key] == none.window_[key], key
    assert none.window_["earlier_windows"] == {"configured": 0, "label_window_ratings": [],
                                               "used": 0}


def test_an_earlier_window_sees_nothing_of_a_later_one(monkeypatch, data):
    seen = _spy_stage_one(monkeypatch)
    HybridRecommender(ONE).fit(data.ratings, data.movies)
    feature, earlier, everything = seen
    assert everything.height == data.ratings.height
    label = _keys(data.ratings) - _keys(feature)
    earlier_label = _keys(feature) - _keys(earlier)
    assert earlier_label and not earlier_label & label
    assert _keys(earlier) < _keys(feature)
    # per user, every rating the earlier stage saw precedes that user's earlier label window
    last_seen = earlier.group_by(USER_ID).agg(pl.col(TIMESTAMP).max().alias("seen"))
    first_label = (feature.join(earlier, on=[USER_ID, MOVIE_ID], how="anti")
                   .group_by(USER_ID).agg(pl.col(TIMESTAMP).min().alias("label")))
    both = last_seen.join(first_label, on=USER_ID)
    assert both.height > 0 and (both["seen"] <= both["label"]).all()


def test_an_earlier_windows_tags_are_cut_at_it(monkeypatch, data):
    inner = per_user_split(per_user_split(data.ratings).train)
    user, movie, _, stamp = inner.test.sort(TIMESTAMP).row(0)
    # a tag applied while rating the earlier label window (so inside the feature window)
    during = pl.DataFrame({USER_ID: [user], MOVIE_ID: [movie], "tag": ["during"],
                           TIMESTAMP: [stamp + 1]}, schema=data.tags.schema)
    tags = pl.concat([data.tags, during])
    texts = spy_embedded_tags(monkeypatch)
    HybridRecommender(ONE).fit(data.ratings, data.movies, tags=tags, links=data.links)
    # feature window (the tag is in), earlier window (cut), all ratings (in)
    assert [("during" in text) for text in texts] == [True, False, True]


def test_skipped_above_the_ratings_cap_and_then_the_same_model(data, plain):
    capped = replace(ONE, earlier_windows_max_ratings=100)
    skipped = HybridRecommender(capped).fit(data.ratings, data.movies)
    report = skipped.window_["earlier_windows"]
    assert "earlier_windows_max_ratings=100" in report["skipped"] and "used" not in report
    assert skipped.window_["ranker_rows"] == plain.window_["ranker_rows"]
    users = np.unique(data.ratings[USER_ID].to_numpy())[:20]
    assert np.array_equal(skipped.recommend_batch(users, k=5)[0],
                          plain.recommend_batch(users, k=5)[0])


def test_a_window_too_small_ends_the_search(data):
    # each user's first twelve ratings: windows of 2 (the label window), then 2, 2, 1
    # and 1 as the rest shrinks to 10, 8, 6, 5 and 4 ratings, where a user is too small
    # to give one (under five ratings)
    twelve = (data.ratings.sort(USER_ID, TIMESTAMP, MOVIE_ID)
              .group_by(USER_ID, maintain_order=True).head(12))
    model = HybridRecommender(replace(SMALL, earlier_windows=10)).fit(twelve, data.movies)
    report = model.window_["earlier_windows"]
    assert report["used"] == 4 and len(report["label_window_ratings"]) == 4
    assert report["stopped"] == "no like in the next earlier label window"


@pytest.mark.parametrize("field, value", [("earlier_windows", -1), ("earlier_windows", 11),
                                          ("earlier_windows", 1.5),
                                          ("earlier_windows_max_ratings", -5)])
def test_settings_are_checked(field, value):
    with pytest.raises(ConfigError, match=field):
        replace(SMALL, **{field: value})
