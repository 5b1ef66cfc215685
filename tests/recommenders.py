"""Every recommender the contract suite (tests/models/test_contract.py) runs against.

Append a :class:`Case` for a new model: ``make()`` returns an unfitted model with small,
fast settings; ``fit_with(model, ratings)`` fits it (the default calls ``fit(ratings)``;
a model that needs a movies table gets one made up from the rated ids, see
:func:`movies_for`). ``datasets`` names the contract datasets the model can fit (the
hybrid needs users with >= 5 ratings for its label window, so not the tiny release). A
model that is not expected to find the held-out movie of the block fixture (it is not
personalised) also goes in ``BLOCK_EXEMPT``.

Persistence differs (single models: one ``.npz``; the hybrid: a directory owned by the
artifacts layer), so the suite goes through :func:`round_trip`, :func:`learned_arrays` and
:func:`break_fit`, the only places that know.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from reco.artifacts.model_dir import load_model, save_model
from reco.columns import MOVIE_ID, RATINGS_SCHEMA, TITLE
from reco.models.base import BaseRecommender, Recommender
from reco.models.content import ContentConfig, ContentRecommender
from reco.models.mf import ALSConfig, ALSRecommender, SVDConfig, SVDRecommender
from reco.models.popularity import PopularityRecommender
from reco.ranking.booster import RankerConfig
from reco.ranking.candidates import CandidateConfig
from reco.ranking.hybrid import HybridConfig, HybridRecommender

MOVIES_SCHEMA = {"movie_id": pl.Int32, "title": pl.String, "year": pl.Int32,
                 "genres": pl.List(pl.String)}
GENRE_OF_HUNDRED = {1: ["Sci-Fi"], 2: ["Romance"], 3: ["Western"]}


def movies_for(ratings: pl.DataFrame) -> pl.DataFrame:
    """A movies table for the rated ids: a movie's title and genre follow its id's
    hundred (the block fixture's groups 101-106 and 201-206 get different genres)."""
    ids = ratings["movie_id"].unique().sort()
    return pl.DataFrame({
        "movie_id": ids,
        "title": [f"Film {i % 7} part {i // 100} (2001)" for i in ids],
        "year": [2001] * len(ids),
        "genres": [GENRE_OF_HUNDRED.get(i // 100, ["Drama", "Comedy"][i % 2 : i % 2 + 1])
                   for i in ids],
    }, schema=MOVIES_SCHEMA)


def _fit_ratings(model: BaseRecommender, ratings: pl.DataFrame) -> BaseRecommender:
    assert isinstance(model, Recommender)
    return model.fit(ratings)


def _fit_with_movies(model: BaseRecommender, ratings: pl.DataFrame) -> BaseRecommender:
    if isinstance(model, HybridRecommender):
        return model.fit(ratings, movies_for(ratings))
    assert isinstance(model, Recommender)
    return model.fit(ratings, movies_for(ratings))


@dataclass(frozen=True)
class Case:
    """One recommender of the contract suite."""

    name: str
    make: Callable[[], BaseRecommender]
    fit_with: Callable[[BaseRecommender, pl.DataFrame], BaseRecommender] = _fit_ratings
    datasets: tuple[str, ...] = ("tiny", "block")

    def fit(self, ratings: pl.DataFrame) -> BaseRecommender:
        return self.fit_with(self.make(), ratings)


#: Tiny and fast: XGBoost may split on a handful of rows (min_child_weight), and every
#: movie of the fixtures is a CF candidate (n_cf), so a full list is the whole catalogue.
TINY_HYBRID = HybridConfig(
    cf=ALSConfig(factors=4, iterations=8, regularization=0.5, threads=1),
    rating_model="svd", rating_svd=SVDConfig(factors=2, center="both", threads=1),
    content=ContentConfig(dimensions=4, min_df=1),
    candidates=CandidateConfig(n_cf=60, n_content=10, n_popular=10),
    ranker=RankerConfig(n_estimators=20, learning_rate=0.3, max_depth=3, min_child_weight=0.01,
                        subsample=1.0, colsample_bytree=1.0, threads=1),
)

RECOMMENDER_CASES: list[Case] = [
    Case("popularity", PopularityRecommender),
    Case("svd", lambda: SVDRecommender(SVDConfig(factors=4, threads=1))),
    # the block fixture is rank 1 once centred: more factors fit its idiosyncratic dislikes
    Case("svd-both", lambda: SVDRecommender(SVDConfig(factors=1, center="both", threads=1))),
    Case("als-implicit", lambda: ALSRecommender(
        ALSConfig(factors=4, iterations=8, regularization=0.5, threads=1))),
    Case("als-explicit", lambda: ALSRecommender(
        ALSConfig(factors=4, iterations=8, feedback="explicit", threads=1))),
    Case("content", lambda: ContentRecommender(ContentConfig(dimensions=4, min_df=1)),
         _fit_with_movies),
    Case("hybrid", lambda: HybridRecommender(TINY_HYBRID), _fit_with_movies, ("block",)),
]

#: Names of models that rank the same movies for everyone, so need not pass the block test.
BLOCK_EXEMPT: set[str] = {"popularity"}


# ---------------------------------------------------------------- persistence, state
def round_trip(model: BaseRecommender, directory: Path) -> BaseRecommender:
    """Save ``model`` under ``directory`` and load it back, the way its kind is stored."""
    if isinstance(model, HybridRecommender):
        # the hybrid is stored as a directory, by the artifacts layer
        # (an unfitted model has no movies: save_model must say NotFittedError first)
        movies = (model.stage_.movies if hasattr(model, "stage_")
                  else pl.DataFrame(schema={MOVIE_ID: pl.Int32}))
        catalog = movies.with_columns(pl.format("movie {}", MOVIE_ID).alias(TITLE))
        save_model(model, directory / "hybrid", catalog=catalog)
        return load_model(directory / "hybrid")[0]
    assert isinstance(model, Recommender)
    return Recommender.load(model.save(directory / "model.npz"))


def learned_arrays(model: BaseRecommender) -> dict[str, np.ndarray]:
    """Everything ``model`` learned, as arrays (to compare two fits)."""
    if isinstance(model, HybridRecommender):
        out: dict[str, np.ndarray] = {}
        for part, sub in model.stage_.sources().items():
            out.update({f"{part}.{k}": v for k, v in learned_arrays(sub).items()})
        for name in ("ranker_", "like_model_"):
            raw = bytes(getattr(model, name).save_raw("json"))
            out[name] = np.frombuffer(raw, dtype=np.uint8)
        return out
    assert isinstance(model, Recommender)
    return model._state()


def break_fit(model: BaseRecommender, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next fit of ``model`` raise RuntimeError late, after learning."""
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("fit broken on purpose")

    if isinstance(model, HybridRecommender):
        # the final stage one, after both boosters are trained: as late as it gets
        original = HybridRecommender._stage_one
        calls = {"n": 0}

        def second_fails(self: HybridRecommender, *args: Any, **kwargs: Any) -> Any:
            calls["n"] += 1
            return original(self, *args, **kwargs) if calls["n"] == 1 else fail()

        monkeypatch.setattr(HybridRecommender, "_stage_one", second_fails)
        return
    original_fit = type(model)._fit

    def fit_then_fail(self: Recommender, *args: Any, **kwargs: Any) -> None:
        original_fit(self, *args, **kwargs)  # every learned array is set by now
        fail()

    monkeypatch.setattr(type(model), "_fit", fit_then_fail)


# ---------------------------------------------------------------- the block fixture
GROUPS = {"A": (range(1, 7), range(101, 107)), "B": (range(11, 17), range(201, 207))}


def block_ratings() -> tuple[pl.DataFrame, dict[int, int]]:
    """Two groups of 6 users x two groups of 6 movies, and each user's held-out movie.

    User ``a`` of a group rates every movie of their group but the ``a``-th (held out)
    with 5 stars (4.5 for odd ``a``), and movies ``a``, ``a + 1`` and ``a + 2`` of the other
    group with 1 star, so the held-out movie competes with three unseen movies of the
    other group. Every movie gets 5 high ratings from its own group and 3 low ones from
    the other. Each user's last two ratings in time are a like and a dislike, so the
    hybrid's label window (the last 2 of 8) holds both.
    """
    rows, held_out, t = [], {}, 1_000_000_000
    for group, (users, movies) in GROUPS.items():
        other = GROUPS["B" if group == "A" else "A"][1]
        for a, user in enumerate(users):
            held_out[user] = movies[a]
            high = 4.5 if a % 2 else 5.0
            liked = [(m, high) for m in movies if m != movies[a]]
            disliked = [(other[(a + d) % len(other)], 1.0) for d in range(3)]
            last = [liked[-1], disliked[-1]] if a % 2 else [disliked[-1], liked[-1]]
            for movie, stars in liked[:-1] + disliked[:-1] + last:
                t += 60
                rows.append((user, movie, stars, t))
    return pl.DataFrame(rows, schema=RATINGS_SCHEMA, orient="row"), held_out


def held_out_release(n_groups: int = 3, users_per_group: int = 8, movies_per_group: int = 8,
                     seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame, dict[int, int]]:
    """Block-structured ratings where each user's *last* rating is held out.

    Group ``g`` has users ``100 g + 1...`` and movies ``100 (g + 1) + 1...`` (genre by the
    hundred, :func:`movies_for`). User ``a`` of a group likes (4.5 or 5) every movie of
    their group and dislikes (1 or 2) three movies of the next group, in a shuffled
    order; their last rating in time, a 5 for their group's movie ``a``, is held out.
    So every held-out movie is liked by the rest of its group, and the only unseen movie
    of the user's own group. Returns (train ratings, movies, held-out movie per user).
    """
    rng = np.random.default_rng(seed)
    rows, held_out, t = [], {}, 1_000_000_000
    test_rows = []
    for g in range(n_groups):
        movies = [100 * (g + 1) + j + 1 for j in range(movies_per_group)]
        other = [100 * ((g + 1) % n_groups + 1) + j + 1 for j in range(movies_per_group)]
        for a in range(users_per_group):
            user = 100 * g + a + 1
            held = movies[a % movies_per_group]
            mine = [(m, 5.0 if (m + a) % 2 else 4.5) for m in movies if m != held]
            mine += [(other[(a + d) % movies_per_group], 1.0 + d % 2) for d in range(3)]
            for i in rng.permutation(len(mine)):
                t += 60
                rows.append((user, mine[i][0], mine[i][1], t))
            t += 60
            test_rows.append((user, held, 5.0, t))
            held_out[user] = held
    train = pl.DataFrame(rows, schema=RATINGS_SCHEMA, orient="row")
    everything = pl.concat([train, pl.DataFrame(test_rows, schema=RATINGS_SCHEMA, orient="row")])
    return train, movies_for(everything), held_out
