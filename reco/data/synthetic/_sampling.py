"""Sampling distinct (user, movie) pairs for the synthetic generator, fully vectorised.

Pairs are drawn by inverse CDF on the movies' popularity, deduplicated by sorting, and
each user's deficit is redrawn a few times; the heaviest users are finally filled by a
strided walk over their allowed movies. 32M pairs take about ten seconds.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

_CHUNK = 4_000_000  # rows per vectorised block: bounds the temporaries at 32M ratings
_RESAMPLE_ROUNDS = 3


def water_fill(weights: np.ndarray, room: np.ndarray, total: int) -> np.ndarray:
    """Integers ``0 <= x <= room`` summing to ``total``, proportional to ``weights`` when free."""
    share = np.zeros(len(weights))
    free = room > 0
    while free.any():  # each pass caps at least one user, or ends
        left = total - share[~free].sum()
        share[free] = left * weights[free] / weights[free].sum()
        over = free & (share > room)
        if not over.any():
            break
        share[over] = room[over]
        free &= ~over
    add = np.minimum(np.floor(share).astype(np.int64), room)
    # the rounding remainder goes to the largest fractional parts that still have room
    frac = np.where(add < room, share - add, -1.0)
    add[np.argsort(-frac, kind="stable")[: total - int(add.sum())]] += 1
    return add


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    # np.unique in NumPy 2.4 hashes int64 and is ~100x slower than sorting at 32M keys
    keys = np.sort(keys)
    return keys[np.concatenate(([True], keys[1:] != keys[:-1]))] if len(keys) else keys


def _isin_sorted(values: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    idx = np.minimum(np.searchsorted(sorted_keys, values), len(sorted_keys) - 1)
    return sorted_keys[idx] == values


def _first_per_group(keys: np.ndarray, group: np.ndarray, quota: np.ndarray) -> np.ndarray:
    """Keep the first ``quota[g]`` of each run of equal ``group`` (runs are contiguous)."""
    start = np.searchsorted(group, group, side="left")
    return keys[np.arange(len(keys)) - start < quota[group]]


def sample_pairs(
    rng: np.random.Generator, counts: np.ndarray, allowed: np.ndarray, cdf: np.ndarray,
    order: np.ndarray, chosen: np.ndarray | None = None,
) -> np.ndarray:
    """Distinct ``user * n_movies + movie`` keys, sorted, ``counts[u]`` per user.

    Movies are indexed by release ``order``; user u may only draw from the first
    ``allowed[u]`` of them, by inverse CDF on the popularity weights (``cdf``).
    ``chosen``: keys already chosen (sorted, distinct, at most ``counts[u]`` per user, e.g.
    by :func:`~reco.data.synthetic._choice.choose_by_taste`); only the rest is drawn.
    """
    n_users, n_movies = len(counts), len(order)
    top = cdf[allowed - 1]

    def draw(per_user: np.ndarray) -> np.ndarray:
        users = np.repeat(np.arange(n_users, dtype=np.int64), per_user)
        for s in range(0, len(users), _CHUNK):
            u = users[s : s + _CHUNK]
            pos = np.searchsorted(cdf, rng.random(len(u)) * top[u], side="right")
            users[s : s + _CHUNK] = u * n_movies + order[np.minimum(pos, allowed[u] - 1)]
        return users

    keys = _sorted_unique(draw(counts)) if chosen is None else chosen
    have = np.bincount(keys // n_movies, minlength=n_users)
    for r in range(_RESAMPLE_ROUNDS):  # redraw each user's deficit, oversampling more each time
        need = counts - have
        if not need.any():
            break
        new = _sorted_unique(draw(need * (r + 2)))
        new = rng.permutation(new[~_isin_sorted(new, keys)])  # shuffled: no bias to low ids
        new = new[np.argsort(new // n_movies, kind="stable")]
        new = _first_per_group(new, new // n_movies, need)
        have += np.bincount(new // n_movies, minlength=n_users)
        keys = np.sort(np.concatenate([keys, new]), kind="stable")  # merges two sorted runs
    need = counts - have
    if need.any():
        # Popular movies are used up for the heaviest users: walk each one's allowed movies
        # with a prime stride from a random start (distinct, since counts <= allowed) and take
        # the first unrated ones. A window of counts[u] holds at most have[u] rated movies.
        users = np.flatnonzero(need)
        width = counts[users]
        u = np.repeat(users, width)
        j = np.arange(len(u)) - np.repeat(np.cumsum(width) - width, width)
        start = np.repeat(rng.integers(0, allowed[users]), width)
        pos = (start + j * 1_000_003) % allowed[u]
        cand = u * n_movies + order[pos]
        fresh = ~_isin_sorted(cand, keys)
        new = _first_per_group(cand[fresh], u[fresh], need)
        keys = np.sort(np.concatenate([keys, new]), kind="stable")
        logger.info("filled %d ratings of %d heavy users beyond popularity sampling",
                    len(new), len(users))
    return keys
