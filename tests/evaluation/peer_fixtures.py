"""Tiny MovieLens-shaped ratings with known answers, shared by the peer tests."""

from __future__ import annotations

import numpy as np
import polars as pl

from reco.columns import RATINGS_SCHEMA


def frame(rows: list[tuple[int, int, float, int]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=RATINGS_SCHEMA, orient="row")


def block_ratings() -> pl.DataFrame:
    """Users 1-6 like all of movies 1-3, users 7-12 all of movies 4-6; user 13 liked
    movies 1 and 2 (3 is held out) and disliked movie 6."""
    rows = [(u, m, 5.0, 10 * u + m) for u in range(1, 7) for m in (1, 2, 3)]
    rows += [(u, m, 4.5, 10 * u + m) for u in range(7, 13) for m in (4, 5, 6)]
    rows += [(13, 1, 4.0, 500), (13, 2, 4.0, 501), (13, 6, 1.0, 502)]
    return frame(rows)


def two_blocks(n_users: int = 8, block: int = 4) -> pl.DataFrame:
    """Block-diagonal likes: users 1..n like a random 3 of movies 1..block (their block),
    users n+1..2n a random 3 of movies block+1..2 block; nobody crosses blocks."""
    rng = np.random.default_rng(7)
    rows = []
    for user in range(1, 2 * n_users + 1):
        first = 1 if user <= n_users else block + 1
        movies = rng.choice(np.arange(first, first + block), size=3, replace=False)
        rows += [(user, int(m), 4.0, 100 * user + t) for t, m in enumerate(movies)]
    return frame(rows)


def random_ratings(seed: int = 0, n_users: int = 30, n_movies: int = 40,
                   per_user: int = 15) -> pl.DataFrame:
    """Half-star ratings where user u likes movies near 2u (a mild, learnable pattern)."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(1, n_users + 1):
        movies = rng.choice(np.arange(1, n_movies + 1), size=per_user, replace=False)
        for t, movie in enumerate(movies):
            near = abs(int(movie) - (2 * user) % n_movies) < 8
            rating = float(np.clip(np.round(2 * (3.0 + 1.5 * near + rng.normal(0, 0.7))) / 2,
                                   0.5, 5.0))
            rows.append((user, int(movie), rating, 1_000 * user + t))
    return frame(rows)
