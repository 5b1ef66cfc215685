"""Every recommender the contract suite (tests/test_contract.py) runs against.

Append ``(name, factory)`` for a new model: ``factory()`` returns an unfitted model with
small, fast settings. A model that is not expected to find the held-out movie of the block
fixture (it is not personalised) also goes in ``BLOCK_EXEMPT``.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from reco.models.mf import ALSConfig, ALSRecommender, SVDConfig, SVDRecommender
from reco.columns import RATINGS_SCHEMA
from reco.models.content import ContentConfig, ContentRecommender
from reco.models.popularity import PopularityRecommender
from reco.models.base import Recommender


class ContentFromRatings(ContentRecommender):
    """The content model with a movies table made up from the rated ids, so the suite can
    call ``fit(ratings)``: a movie's title and genre follow its id's hundred (the block
    fixture's groups 101-106 and 201-206 get different genres)."""

    def fit(self, ratings: pl.DataFrame, movies: pl.DataFrame | None = None,  # type: ignore[override]
            **context: object) -> ContentFromRatings:
        ids = ratings["movie_id"].unique().sort()
        genre = {1: ["Sci-Fi"], 2: ["Romance"]}
        movies = pl.DataFrame({
            "movie_id": ids,
            "title": [f"Film {i % 7} part {i // 100} (2001)" for i in ids],
            "year": [2001] * len(ids),
            "genres": [genre.get(i // 100, ["Drama", "Comedy"][i % 2 : i % 2 + 1]) for i in ids],
        }, schema={"movie_id": pl.Int32, "title": pl.String, "year": pl.Int32,
                   "genres": pl.List(pl.String)})
        return super().fit(ratings, movies)  # type: ignore[return-value]

RECOMMENDER_FACTORIES: list[tuple[str, Callable[[], Recommender]]] = [
    ("popularity", PopularityRecommender),
    ("svd", lambda: SVDRecommender(SVDConfig(factors=4, threads=1))),
    # the block fixture is rank 1 once centred: more factors fit its idiosyncratic dislikes
    ("svd-both", lambda: SVDRecommender(SVDConfig(factors=1, center="both", threads=1))),
    ("als-implicit", lambda: ALSRecommender(
        ALSConfig(factors=4, iterations=8, regularization=0.5, threads=1))),
    ("als-explicit", lambda: ALSRecommender(
        ALSConfig(factors=4, iterations=8, feedback="explicit", threads=1))),
    ("content", lambda: ContentFromRatings(ContentConfig(dimensions=4, min_df=1))),
]
# HybridRecommender saves to a directory and needs a label window (users with >= 5
# ratings), so its contract checks live in tests/test_hybrid.py.

#: Names of models that rank the same movies for everyone, so need not pass the block test.
BLOCK_EXEMPT: set[str] = {"popularity"}


# ---------------------------------------------------------------- the block fixture
GROUPS = {"A": (range(1, 7), range(101, 107)), "B": (range(11, 17), range(201, 207))}


def block_ratings() -> tuple[pl.DataFrame, dict[int, int]]:
    """Two groups of 6 users x two groups of 6 movies, and each user's held-out movie.

    User ``a`` of a group rates every movie of their group but the ``a``-th (held out)
    with 5 stars (4.5 for odd ``a``), and movies ``a`` and ``a + 1`` of the other group with
    1 star, so the held-out movie competes with four unseen movies of the other group.
    Every movie gets 5 high ratings from its own group and 2 low ones from the other.
    """
    rows, held_out, t = [], {}, 1_000_000_000
    for group, (users, movies) in GROUPS.items():
        other = GROUPS["B" if group == "A" else "A"][1]
        for a, user in enumerate(users):
            held_out[user] = movies[a]
            high = 4.5 if a % 2 else 5.0
            rated = [(m, high) for m in movies if m != movies[a]]
            rated += [(other[a], 1.0), (other[(a + 1) % len(other)], 1.0)]
            for movie, stars in rated:
                t += 60
                rows.append((user, movie, stars, t))
    return pl.DataFrame(rows, schema=RATINGS_SCHEMA, orient="row"), held_out
