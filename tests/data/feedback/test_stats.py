"""Online figures on hand-made served lists and ratings with known answers."""

from __future__ import annotations

import pytest

from reco.data.feedback import ServedList, StoredRating
from reco.data.feedback.stats import online_stats


def _r(user: int, movie: int, rating: float, received: float) -> StoredRating:
    return StoredRating(user, movie, rating, 0, received)


def test_known_answers():
    served = [ServedList(1, "a", (10, 11, 12), 100.0),   # followed: 10 liked (top 2), 12 not
              ServedList(2, "a", (10, 13), 100.0),       # 13 rated before it was served
              ServedList(3, "a", (14,), 100.0),          # never followed
              ServedList(1, "b", (20, 21), 50.0)]        # 21 liked, outside k=1
    ratings = [_r(1, 10, 4.0, 150.0), _r(1, 12, 2.0, 160.0), _r(2, 13, 5.0, 90.0),
               _r(1, 21, 5.0, 60.0), _r(9, 14, 5.0, 200.0)]
    a, b = online_stats(served, ratings, like_threshold=3.5, k=2, catalogue_size=100)
    assert a == {"version": "a", "lists": 3, "followed": 1, "follow_rate": 0.3333,
                 "ratings_following": 2, "like_rate": 0.5, "hit_rate_at_k": 0.3333,
                 "distinct_movies": 5, "coverage": 0.05}
    assert b["followed"] == 1 and b["like_rate"] == 1.0
    assert online_stats(served[3:], ratings, like_threshold=3.5, k=1,
                        catalogue_size=100)[0]["hit_rate_at_k"] == 0.0


def test_the_same_rating_after_two_lists_counts_once():
    served = [ServedList(1, "a", (10,), 1.0), ServedList(1, "a", (10,), 2.0)]
    [a] = online_stats(served, [_r(1, 10, 1.0, 3.0)], like_threshold=3.5, k=10,
                       catalogue_size=10)
    assert a["followed"] == 2 and a["ratings_following"] == 1 and a["like_rate"] == 0.0


def test_nothing_served_gives_no_versions_and_ratios_are_none_not_nan():
    assert online_stats([], [], like_threshold=3.5, k=10, catalogue_size=10) == []
    [a] = online_stats([ServedList(1, "a", (1,), 1.0)], [], like_threshold=3.5, k=1,
                       catalogue_size=0)
    assert a["like_rate"] is None and a["coverage"] is None


@pytest.mark.parametrize("threshold", [3.5, 4.0])
def test_the_like_threshold_is_inclusive(threshold):
    [a] = online_stats([ServedList(1, "a", (1,), 1.0)], [_r(1, 1, threshold, 2.0)],
                       like_threshold=threshold, k=1, catalogue_size=1)
    assert a["like_rate"] == 1.0 and a["hit_rate_at_k"] == 1.0
