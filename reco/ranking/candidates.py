"""Stage one of the two-stage recommender: candidate movies per user from several sources.

The sources are the stage's CF model, content model, item-item model (EASE) and
popularity; a user's candidates are the union of each source's top-n movies the user has
not rated, among the movies the ranker can score (those the CF model knows). The rank a
movie had in each source is kept as a feature. Users come as a
:class:`~reco.ranking.user_state.UserContext`, so a person the model never saw (folded in
from a few ratings) gets candidates the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from reco._numeric import MAX_BLOCK_CELLS, top_k
from reco.columns import MOVIE_ID, USER_ID
from reco.config import ConfigBase, check_range
from reco.models.mf.als import blas_threads, resolve_threads
from reco.ranking.retrieval import IndexedVectors, RetrievalConfig
from reco.ranking.schema import SOURCES, rank_column
from reco.ranking.user_state import UserContext

if TYPE_CHECKING:
    from reco.ranking.stage_arrays import FeatureStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CandidateConfig(ConfigBase):
    """How many candidates each source proposes per user."""

    n_cf: int = 150
    n_content: int = 40
    n_popular: int = 40
    n_item: int = 100

    def __post_init__(self) -> None:
        for name in ("n_cf", "n_content", "n_popular", "n_item"):
            check_range("CandidateConfig", name, getattr(self, name), 0, 5000)

    def count(self, source: str) -> int:
        return int(getattr(self, f"n_{source}"))


@dataclass
class Candidates:
    """Candidate pairs: context row, movie id, and each source's rank (NaN: not proposed),
    sorted by row then movie id."""

    rows: np.ndarray
    movie_ids: np.ndarray
    ranks: dict[str, np.ndarray]

    def __len__(self) -> int:
        return int(self.rows.size)

    def frame(self, context: UserContext) -> pl.DataFrame:
        """``user_id, movie_id, rank_in_<source>...`` (ranks as nullable Int32)."""
        columns = {USER_ID: context.ids[self.rows].astype(np.int32),
                   MOVIE_ID: self.movie_ids.astype(np.int32)}
        frame = pl.DataFrame(columns)
        return frame.with_columns(
            pl.Series(rank_column(s), self.ranks[s]).fill_nan(None).cast(pl.Int32)
            for s in SOURCES
        )


Scorer = Callable[[UserContext, np.ndarray], np.ndarray]  # (context, rows) -> scores


def searchable(store: FeatureStore, scan: float) -> dict[str, IndexedVectors]:
    """The sources with an index (:mod:`reco.ranking.retrieval`), laid out for queries
    reading at least ``scan`` of the items; built once per store and ``scan``."""
    key = f"_candidate_indexes_{scan!r}"
    cached = store.__dict__.get(key)
    if cached is None:
        cached = {}
        indexes = store.stage.retrieval or {}
        sources = _sources(store)
        if "cf" in indexes:
            cached["cf"] = IndexedVectors(indexes["cf"], store.cf_items, scan)
        if "content" in indexes and "content" in sources:
            cached["content"] = IndexedVectors(indexes["content"], store.content_emb, scan,
                                               blocked=sources["content"][1])
        store.__dict__[key] = cached
    return cached


def _sources(store: FeatureStore) -> dict[str, tuple[np.ndarray, np.ndarray, Scorer]]:
    """Per source: its item ids, the indices of those the ranker cannot score (not in
    CF's item map), and a scorer of context rows -> dense scores over its items (built
    once per store)."""
    cached = store.__dict__.get("_candidate_sources")
    if cached is None:
        cached = store.__dict__["_candidate_sources"] = _build_sources(store)
    return cached


def _build_sources(store: FeatureStore) -> dict[str, tuple[np.ndarray, np.ndarray, Scorer]]:
    stage = store.stage
    allowed = stage.cf.item_map_

    def blocked(ids: np.ndarray) -> np.ndarray:
        return np.flatnonzero(allowed.indices(ids, missing="mask") < 0)

    out: dict[str, tuple[np.ndarray, np.ndarray, Scorer]] = {}
    cf_ids = stage.cf.item_map_.ids
    out["cf"] = (cf_ids, np.empty(0, np.int64), lambda ctx, rows: ctx.cf[rows] @ store.cf_items.T)
    if store.content is not None:
        ids = store.content.item_map_.ids
        out["content"] = (ids, blocked(ids),
                          lambda ctx, rows: ctx.content[rows] @ store.content_emb.T)
    if store.item is not None:
        ids = store.item_ids
        out["item"] = (ids, blocked(ids), store.item_scores)
    popular = stage.popular
    ids = popular.item_map_.ids
    out["popular"] = (ids, blocked(ids),
                      lambda ctx, rows: np.broadcast_to(popular.scores_, (rows.size, ids.size)))
    return out


def _popular_order(store: FeatureStore) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Popularity's item ids, their allowed indices best first, and each item's rank in
    that order (-1: not allowed); computed once per store."""
    cached = store.__dict__.get("_popular_order")
    if cached is None:
        ids, blocked, scorer = _sources(store)["popular"]
        allowed = np.ones(ids.size, dtype=bool)
        allowed[blocked] = False
        order, _ = store.stage.popular.top_allowed(allowed)
        rank_of = np.full(ids.size, -1, dtype=np.int64)
        rank_of[order] = np.arange(order.size)
        cached = store.__dict__["_popular_order"] = (ids, order, rank_of)
    return cached


def _first_unseen(context: UserContext, item_ids: np.ndarray, order: np.ndarray,
                  n: int, rank_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each user's first ``n`` movies of a fixed ``order`` (indices into ``item_ids``;
    ``rank_of`` its inverse, -1 off the order) that they have not rated: the same as a
    top-n over a score shared by every user, without scoring every movie for every user."""
    pos = np.minimum(np.searchsorted(item_ids, context.seen_movies), item_ids.size - 1)
    ranks = np.where(item_ids[pos] == context.seen_movies, rank_of[pos], -1)
    owner = np.repeat(np.arange(len(context)), np.diff(context.seen_indptr))
    keep = ranks >= 0
    ranks, owner = ranks[keep], owner[keep]
    users, movies = [], []
    for start in range(0, len(context), 2048):
        stop = min(start + 2048, len(context))
        mine = (owner >= start) & (owner < stop)
        # a user can skip at most all of their rated movies before finding n others
        width = min(order.size, n + int(np.bincount(owner[mine] - start).max(initial=0)))
        seen = np.zeros((stop - start, width), dtype=bool)
        near = mine & (ranks < width)
        seen[owner[near] - start, ranks[near]] = True
        free = ~seen
        take = free & (np.cumsum(free, axis=1) <= n)
        r, c = np.nonzero(take)
        users.append(r + start)
        movies.append(item_ids[order[c]])
    if not users:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(users), np.concatenate(movies)


#: Score blocks in flight at once when a context spans several (each up to 128 MB).
MAX_BLOCK_WORKERS = 4


def _top_unseen(context: UserContext, item_ids: np.ndarray, blocked: np.ndarray,
                scorer: Scorer, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Context rows and movie ids of each user's top ``n`` unrated movies, ``blocked``
    (indices into ``item_ids``) left out (best first within a user).

    Users go by blocks of scores; several blocks (a label window's thousands of users)
    run on a thread per core, each with one BLAS thread: the product is BLAS either way,
    but the selection and the masking are single-threaded NumPy, which would otherwise
    leave a core idle (the label window's candidates at 32M ratings: docs/BENCHMARKS.md,
    2026-12-08)."""
    block = max(1, min(2048, MAX_BLOCK_CELLS // max(item_ids.size, 1)))
    starts = range(0, len(context), block)

    def run(start: int) -> tuple[np.ndarray, np.ndarray]:
        rows = np.arange(start, min(start + block, len(context)))
        scores = np.asarray(scorer(context, rows), dtype=np.float32)  # a fresh product
        bad = np.isnan(scores[:, 0])  # a user with no vector: NaN across the row
        if bad.any():
            scores[bad] = -np.inf
        if blocked.size:
            scores[:, blocked] = -np.inf
        lo, hi = context.seen_indptr[rows[0]], context.seen_indptr[rows[-1] + 1]
        owner = np.repeat(np.arange(rows.size), np.diff(context.seen_indptr[rows[0]:rows[-1] + 2]))
        pos = np.searchsorted(item_ids, context.seen_movies[lo:hi])
        pos = np.minimum(pos, item_ids.size - 1)
        hit = item_ids[pos] == context.seen_movies[lo:hi]
        scores[owner[hit], pos[hit]] = -np.inf
        idx, _ = top_k(scores, n)
        return (np.repeat(rows, n),
                np.where(idx >= 0, item_ids[np.maximum(idx, 0)], -1).ravel())

    workers = min(MAX_BLOCK_WORKERS, resolve_threads(None), len(starts))
    if workers > 1:
        with blas_threads(1), ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(run, starts))  # in order: rows stay ascending
    else:
        parts = [run(start) for start in starts]
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    users_all = np.concatenate([p[0] for p in parts])
    movies_all = np.concatenate([p[1] for p in parts])
    keep = movies_all >= 0
    return users_all[keep], movies_all[keep]


def _searched(context: UserContext, item_ids: np.ndarray, index: IndexedVectors,
              vectors: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_top_unseen` through an index: each user's top ``n`` unrated movies among
    the lists their vector probes (a user with no vector gets none, as there)."""
    users, movies = [], []
    for row in range(len(context)):
        query = vectors[row]
        if np.isnan(query[0]):
            continue
        seen = context.seen_movies[context.seen_indptr[row]:context.seen_indptr[row + 1]]
        pos = np.minimum(np.searchsorted(item_ids, seen), item_ids.size - 1)
        found = index.search(np.asarray(query, dtype=np.float32), n,
                             pos[item_ids[pos] == seen])
        users.append(np.full(found.size, row, dtype=np.int64))
        movies.append(item_ids[found])
    if not users:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(users), np.concatenate(movies)


def generate_candidates(context: UserContext, store: FeatureStore, config: CandidateConfig,
                        retrieval: RetrievalConfig | None = None, *,
                        exact: bool | None = None) -> Candidates:
    """Union of the sources' top-n unrated movies for each user of ``context``.

    With ``retrieval`` and a stage that has an index (:mod:`reco.ranking.retrieval`),
    the CF and content sources search it for contexts of at most
    ``retrieval.max_users`` users (a request) and scan every movie otherwise; ``exact``
    forces one way (True: scan; False: the index wherever there is one)."""
    indexes: dict[str, IndexedVectors] = {}
    if retrieval is not None and retrieval.enabled and store.stage.retrieval:
        if exact is None:
            exact = len(context) > retrieval.max_users
        if not exact:
            indexes = searchable(store, retrieval.scan)
    found: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []
    for source, (item_ids, blocked, scorer) in _sources(store).items():
        n = config.count(source)
        if n == 0:
            continue
        if source in indexes:
            vectors = context.cf if source == "cf" else context.content
            rows, movies = _searched(context, item_ids, indexes[source], vectors, n)
        elif source == "popular":
            item_ids, order, rank_of = _popular_order(store)
            rows, movies = _first_unseen(context, item_ids, order, n, rank_of)
        else:
            rows, movies = _top_unseen(context, item_ids, blocked, scorer, n)
        starts = np.r_[0, np.flatnonzero(rows[1:] != rows[:-1]) + 1]
        rank = np.arange(rows.size) - np.repeat(starts, np.diff(np.r_[starts, rows.size])) + 1
        found.append((source, rows, movies, rank.astype(np.float64)))
    if not found:
        raise ValueError("no candidate source: give at least one source with n > 0")
    rows = np.concatenate([f[1] for f in found])
    movies = np.concatenate([f[2] for f in found])
    span = int(movies.max()) + 1 if movies.size else 1
    keys, inverse = np.unique(rows * span + movies, return_inverse=True)
    ranks = {s: np.full(keys.size, np.nan) for s in SOURCES}
    offset = 0
    for source, part_rows, _, rank in found:
        ranks[source][inverse[offset:offset + part_rows.size]] = rank
        offset += part_rows.size
    log.debug("%d candidates for %d users", keys.size, len(context))
    return Candidates(keys // span, keys % span, ranks)


def index_neighbours(store: FeatureStore, retrieval: RetrievalConfig, movie_id: int,
                     n: int) -> np.ndarray | None:
    """Ids of the movies nearest to ``movie_id`` in the stage's retrieval index: the union
    over the content and CF spaces of the ``n`` best inner products with the movie's own
    vector, the movie itself left out, increasing (what ``/similar`` scores on a large
    catalog). None when the stage has no index or retrieval is off."""
    stage = store.stage
    if not stage.retrieval or not retrieval.enabled:
        return None
    indexes = searchable(store, retrieval.scan)
    found = []
    for name, space, vectors in (("content", stage.content, "content_emb"),
                                 ("cf", stage.cf, "cf_items")):
        if name not in indexes or space is None or movie_id not in space.item_map_:
            continue
        row = space.item_map_.index(movie_id)
        query = np.asarray(getattr(store, vectors)[row], dtype=np.float32)
        rows = indexes[name].search(query, n, np.array([row]), blocked=False)
        found.append(space.item_map_.ids[rows])
    return np.unique(np.concatenate(found)) if found else np.empty(0, np.int64)
