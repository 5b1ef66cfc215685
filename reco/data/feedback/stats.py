"""Online evaluation: how the lists served were followed by the ratings people stored.

Definitions (docs/FEEDBACK.md states them for operators), per model version, over the
lists served in a window ``[now - window, now]``:

* **lists**: served lists recorded (a sample: :mod:`reco.data.feedback.sampling`);
* **followed**: lists after which (``received_at > served_at``) the same user stored a
  rating of one of the list's movies; ``follow_rate`` = followed / lists;
* **ratings_following**: distinct (user, movie) stored ratings that followed at least one
  list of the version and rated one of its movies; ``like_rate`` = the share of those at
  or above the like threshold (the one the like model is trained with);
* **hit_rate_at_k**: the share of lists after which the user stored a liked rating of one
  of the list's first ``k`` movies;
* **coverage**: distinct movies served by the version / the catalogue size given.

A person who rates a movie again replaces their stored rating (newest wins), so the store
keeps the last rating of each (user, movie): that is the one counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from reco.data.feedback._base import ServedList, StoredRating


def online_stats(served: Iterable[ServedList], ratings: Iterable[StoredRating], *,
                 like_threshold: float, k: int, catalogue_size: int) -> list[dict[str, Any]]:
    """The figures above, one dict per version (most lists first)."""
    by_user: dict[int, dict[int, StoredRating]] = defaultdict(dict)
    for rating in ratings:
        by_user[rating.user_id][rating.movie_id] = rating
    versions: dict[str, dict[str, Any]] = {}
    for item in served:
        v = versions.setdefault(item.version, {"lists": 0, "followed": 0, "hits": 0,
                                               "movies": set(), "following": {}})
        v["lists"] += 1
        v["movies"].update(item.movie_ids)
        rated = by_user.get(item.user_id, {})
        after = [rated[m] for m in item.movie_ids
                 if m in rated and rated[m].received_at > item.served_at]
        if not after:
            continue
        v["followed"] += 1
        for r in after:
            v["following"][(r.user_id, r.movie_id)] = r.rating >= like_threshold
        top = set(item.movie_ids[:k])
        if any(r.rating >= like_threshold and r.movie_id in top for r in after):
            v["hits"] += 1
    out = []
    for version, v in sorted(versions.items(), key=lambda kv: (-kv[1]["lists"], kv[0])):
        following = v["following"]
        out.append({
            "version": version,
            "lists": v["lists"],
            "followed": v["followed"],
            "follow_rate": _ratio(v["followed"], v["lists"]),
            "ratings_following": len(following),
            "like_rate": _ratio(sum(following.values()), len(following)),
            "hit_rate_at_k": _ratio(v["hits"], v["lists"]),
            "distinct_movies": len(v["movies"]),
            "coverage": _ratio(len(v["movies"]), catalogue_size),
        })
    return out


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
