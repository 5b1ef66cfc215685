"""The stage-one tables and models as arrays, for fast feature rows and candidates.

Built once per fitted stage (:meth:`StageOne.store <reco.ranking.stage_one.StageOne.store>`):
the movie side (feature-table columns, a genre indicator matrix, each model's row of every
movie) and the user side (feature-table columns, dense user-genre preferences). A request
then costs gathers and row-wise dot products instead of table joins, and a person the
model never saw is folded in from their ratings (:meth:`FeatureStore.new_user`) into the
same :class:`~reco.ranking.user_state.UserContext` a known user gets.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np
import polars as pl
import scipy.sparse as sp

from reco._numeric import csr_gather
from reco.columns import GENRE, GENRES, MOVIE_ID, USER_ID, YEAR
from reco.features.tables import FeatureTables
from reco.features.temporal import RecentItems
from reco.ids import IdMap, last_occurrences
from reco.ranking.schema import MOVIE_COLUMNS, USER_COLUMNS
from reco.ranking.user_state import (
    NEW_USER,
    PREF_COLUMNS,
    RECENT_N,
    UserContext,
    rows_or_nan,
    unit_mean,
)

log = logging.getLogger(__name__)

SECONDS_PER_DAY = 86_400
#: Contexts of at most this many users (a request) keep their item-item scores.
_CACHED_USERS = 8


class Stage(Protocol):
    """What the store reads of a fitted stage (:class:`~reco.ranking.stage_one.StageOne`).

    A protocol rather than the class itself: ``StageOne.store`` builds a ``FeatureStore``,
    so naming ``StageOne`` here, even for types only, would make the two modules import
    each other.
    """

    # the models are duck-typed (ALS factors, rating terms, content profiles), as below
    cf: Any
    rating_model: Any
    content: Any
    popular: Any
    item: Any
    retrieval: Any  # name -> reco.ranking.retrieval.VectorIndex, or None
    tables: FeatureTables
    movies: pl.DataFrame
    recent: RecentItems


def _adopt_unit_vectors(model: Any, unit: np.ndarray, name: str) -> None:
    """Give ``model`` saved unit item vectors as its computed ones (checked against its
    item vectors' shape: the rest of a request relies on it)."""
    shape = np.shape(model._item_vectors())
    if unit.shape != shape or unit.dtype != np.float32 or not bool(np.isfinite(unit).all()):
        raise ValueError(f"{name} is {unit.dtype} {unit.shape}, expected finite float32 "
                         f"{shape}")
    model.__dict__["_unit_vectors"] = unit


class FeatureStore:
    """Array views of a fitted :class:`~reco.ranking.stage_one.StageOne`.

    ``stage.cf`` must expose ``user_factors_`` (implicit ALS); ``stage.rating_model``,
    when present, ``rating_terms()`` and ``fold_in_rating_terms()``.
    """

    #: The arrays :meth:`state` saves: what the feature tables give (the rest is read off
    #: the stage's models at load, as views).
    STATE = ("movie_ids", "movie_stats", "movie_year", "genres", "movie_genres", "user_ids",
             "user_stats", "user_last", "user_prefs")
    #: Saved too when there: the CF and content models' unit item vectors, which a load
    #: would otherwise compute (each worker's own copy: 67 MB and 0.2 s at 32M ratings).
    UNIT_VECTORS = ("cf_unit", "content_unit")

    def __init__(self, stage: Stage, like_threshold: float,
                 state: Mapping[str, np.ndarray] | None = None) -> None:
        """``state``: arrays :meth:`state` saved, used instead of the stage's tables (a
        server then reads none of them at start: the user-genre table is 3.5 million
        rows at 32M ratings); ``ValueError`` naming what does not fit."""
        self.stage = stage
        self.like_threshold = like_threshold
        if state is None:
            self._from_tables(stage)
        else:
            self._from_state(state)
            for name, model in zip(self.UNIT_VECTORS, (stage.cf, stage.content)):
                if name in state and model is not None:
                    _adopt_unit_vectors(model, state[name], name)
        self.genre_index = {g: i for i, g in enumerate(self.genres)}
        #: the model's "now": a new person without timestamps rates at this time
        self.now = int(self.user_last.max()) if self.user_last.size else 0
        self._from_models(stage)

    def state(self) -> dict[str, np.ndarray]:
        """The arrays built from the feature tables (:attr:`STATE`), for ``store.npz``."""
        return {"movie_ids": self.movies.ids, "movie_stats": self.movie_stats,
                "movie_year": self.movie_year,
                "genres": np.array(self.genres, dtype=str) if self.genres else
                np.empty(0, dtype="<U1"), "movie_genres": self.movie_genres,
                "user_ids": self.users.ids, "user_stats": self.user_stats,
                "user_last": self.user_last, "user_prefs": self.user_prefs,
                "cf_unit": self.cf_unit,
                **({"content_unit": self.content_unit} if self.content is not None else {})}

    def _from_state(self, state: Mapping[str, np.ndarray]) -> None:
        missing = [name for name in self.STATE if name not in state]
        if missing:
            raise ValueError(f"lacks the arrays {missing}")
        movies, users = np.asarray(state["movie_ids"]), np.asarray(state["user_ids"])
        for name, ids in (("movie_ids", movies), ("user_ids", users)):
            if ids.ndim != 1 or ids.dtype.kind not in "iu" or (
                    ids.size > 1 and not bool(np.all(ids[1:] > ids[:-1]))):
                raise ValueError(f"{name} are not distinct integers in increasing order")
        genres = np.asarray(state["genres"])
        if genres.ndim != 1 or genres.dtype.kind != "U" or np.unique(genres).size != genres.size:
            raise ValueError("genres are not distinct names")
        n_movies, n_users, n_genres = movies.size, users.size, genres.size
        shapes = {"movie_stats": ((n_movies, len(MOVIE_COLUMNS)), "f"),
                  "movie_year": ((n_movies,), "f"), "movie_genres": ((n_movies, n_genres), "b"),
                  "user_stats": ((n_users, len(USER_COLUMNS)), "f"),
                  "user_last": ((n_users,), "iu"), "user_prefs": ((n_users, n_genres, 3), "f")}
        for name, (shape, kinds) in shapes.items():
            array = state[name]
            if array.shape != shape or array.dtype.kind not in kinds:
                raise ValueError(f"{name} is {array.dtype} {array.shape}, expected {shape} "
                                 f"of kind {kinds!r}")
        self.movies, self.users = IdMap(movies, "movie"), IdMap(users, "user")
        self.genres = tuple(str(g) for g in genres)
        self.movie_stats, self.movie_year = state["movie_stats"], state["movie_year"]
        self.movie_genres = state["movie_genres"]
        self.user_stats, self.user_last = state["user_stats"], state["user_last"]
        self.user_prefs = state["user_prefs"]

    def _from_tables(self, stage: Stage) -> None:
        tables = stage.tables
        movies = tables.movies.sort(MOVIE_ID)
        self.movies = IdMap(movies[MOVIE_ID].to_numpy(), "movie")
        self.movie_stats = movies.select(
            pl.col(c).cast(pl.Float64) for c in MOVIE_COLUMNS).to_numpy()
        self.movie_year = movies[YEAR].cast(pl.Float64).to_numpy()
        genre_lists = stage.movies.select(MOVIE_ID, GENRES)
        exploded = genre_lists.explode(GENRES).drop_nulls(GENRES)
        # (unique in Polars: a Python set over 87k lists was 0.2 s of every server start)
        names = set(tables.user_genres[GENRE].unique().to_list())
        names |= set(exploded[GENRES].unique().to_list())
        self.genres = tuple(sorted(names))
        self.genre_index = {g: i for i, g in enumerate(self.genres)}  # for _genre_codes
        self.movie_genres = np.zeros((len(self.movies), len(self.genres)), dtype=bool)
        rows = self.movies.indices(exploded[MOVIE_ID].to_numpy(), missing="mask")
        cols = self._genre_codes(exploded[GENRES])
        self.movie_genres[rows[rows >= 0], cols[rows >= 0]] = True

        users = tables.users.sort(USER_ID)
        self.users = IdMap(users[USER_ID].to_numpy(), "user")
        self.user_stats = users.select(pl.col(c).cast(pl.Float64) for c in USER_COLUMNS).to_numpy()
        self.user_last = users["last_timestamp"].fill_null(0).to_numpy().astype(np.int64)
        self.user_prefs = np.full((len(self.users), len(self.genres), 3), np.nan, dtype=np.float32)
        prefs = tables.user_genres
        u = self.users.indices(prefs[USER_ID].to_numpy(), missing="mask")
        g = self._genre_codes(prefs[GENRE])
        for slot, column in enumerate(PREF_COLUMNS):
            values = prefs[column].cast(pl.Float64).to_numpy()
            self.user_prefs[u[u >= 0], g[u >= 0], slot] = values[u >= 0]

    def _from_models(self, stage: Stage) -> None:
        cf = stage.cf
        self.cf_rows = cf.item_map_.indices(self.movies.ids, missing="mask")
        self.cf_items = np.asarray(cf._item_vectors(), dtype=np.float32)
        self.cf_unit = cf.unit_item_vectors()
        self.rating = stage.rating_model if hasattr(stage.rating_model, "rating_terms") else None
        if self.rating is not None:
            self.rating_rows = self.rating.item_map_.indices(self.movies.ids, missing="mask")
            _, _, self.rating_items, self.rating_item_bias, self.rating_mean = (
                self.rating.rating_terms())
        self.content = stage.content if hasattr(stage.content, "profiles_") else None
        if self.content is not None:
            self.content_rows = self.content.item_map_.indices(self.movies.ids, missing="mask")
            self.content_emb = self.content.embeddings_
            self.content_unit = self.content.unit_item_vectors()
        self.item = stage.item if hasattr(stage.item, "active_scores") else None
        if self.item is not None:
            #: the item-item model's modelled movies (ids, increasing), its score columns
            self.item_ids = self.item.item_map_.ids[self.item.active_]
            self.item_rows = IdMap(self.item_ids, "movie").indices(self.movies.ids,
                                                                  missing="mask")

    def item_likes(self, context: UserContext, rows: np.ndarray,
                   recent: bool = False) -> sp.csr_matrix:
        """The likes of context ``rows`` over the item-item model's movies (a
        ``len(rows) x len(item_ids)`` 0/1 CSR): what its scores are computed from.
        ``recent``: the user's latest movies instead, whatever their rating (what they
        are watching now, the recency signal of the item-item score)."""
        ids = self.item_ids
        if recent:
            indptr, movies_of = context.recent_indptr, context.recent_movies
            if indptr is None or movies_of is None:
                return sp.csr_matrix((rows.size, ids.size), dtype=np.float32)
        else:
            indptr, movies_of = context.seen_indptr, context.seen_movies
        flat, lengths = csr_gather(indptr, rows)
        owner = np.repeat(np.arange(rows.size), lengths)
        movies = movies_of[flat]
        pos = np.minimum(np.searchsorted(ids, movies), max(ids.size - 1, 0))
        keep = (ids.size > 0) & (ids[pos] == movies)
        if not recent:
            keep &= context.seen_ratings[flat] >= self.like_threshold
        # owners are grouped already: the CSR is written directly (building it from
        # (row, column) pairs sorted and summed them again: 0.3 ms of a request)
        indptr = np.zeros(rows.size + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner[keep], minlength=rows.size), out=indptr[1:])
        return sp.csr_matrix((np.ones(int(keep.sum()), np.float32), pos[keep], indptr),
                             shape=(rows.size, ids.size))

    def item_scores(self, context: UserContext, rows: np.ndarray,
                    recent: bool = False) -> np.ndarray:
        """The item-item model's scores of context ``rows`` over ``item_ids`` (dense);
        ``recent`` as in :meth:`item_likes`."""
        if len(context) > _CACHED_USERS:
            return self.item.active_scores(  # type: ignore[union-attr]
                self.item_likes(context, rows, recent))
        # a request asks twice (its candidates, then their rows): scored once, kept on the
        # context, handed out as copies (the candidate source masks what it gets)
        key = f"_item_scores_{int(recent)}_{np.asarray(rows, dtype=np.int64).tobytes().hex()}"
        cached = context.__dict__.get(key)
        if cached is None:
            cached = self.item.active_scores(  # type: ignore[union-attr]
                self.item_likes(context, rows, recent))
            context.__dict__[key] = cached
        return cached.copy()

    def _genre_codes(self, names: pl.Series) -> np.ndarray:
        # (an int array even when no movie has a genre: an empty float array is no index)
        return names.replace_strict(self.genre_index, return_dtype=pl.Int64).to_numpy() \
            .astype(np.int64, copy=False)

    # ------------------------------------------------------------ known users
    def known_users(self, user_ids: np.ndarray) -> UserContext:
        """Gather the context of users by external id (NaN rows for unknown ones)."""
        ids = np.asarray(user_ids, dtype=np.int64)
        rows = self.users.indices(ids, missing="mask")
        cf = self.stage.cf
        cf_rows = cf.user_map_.indices(ids, missing="mask")
        n = ids.size
        rating = np.full((n, 1), np.nan, np.float32)
        rating_bias = np.full(n, np.nan)
        if self.rating is not None:
            r_rows = self.rating.user_map_.indices(ids, missing="mask")
            vectors, bias, _, _, _ = self.rating.rating_terms()
            rating, rating_bias = rows_or_nan(vectors, r_rows), rows_or_nan(bias, r_rows)
        content = np.full((n, 1), np.nan, np.float32)
        if self.content is not None:
            content = rows_or_nan(self.content.profiles_,
                                  self.content.user_map_.indices(ids, missing="mask"))
        seen, counts = csr_gather(cf.seen_.indptr, cf_rows)
        recent_cf, recent_content, recent_indptr, recent_movies = self._recent_known(ids)
        return UserContext(
            ids=ids, known=rows >= 0, stats=rows_or_nan(self.user_stats, rows),
            last_timestamp=np.where(rows >= 0, self.user_last[np.maximum(rows, 0)], 0),
            genre_prefs=rows_or_nan(self.user_prefs, rows),
            cf=rows_or_nan(cf.user_factors_, cf_rows), rating=rating, rating_bias=rating_bias,
            content=content, recent_cf=recent_cf, recent_content=recent_content,
            seen_indptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            seen_movies=cf.item_map_.ids[cf.seen_.indices[seen]],
            seen_ratings=cf.seen_.data[seen].astype(np.float32),
            recent_indptr=recent_indptr, recent_movies=recent_movies,
        )

    def _recent_known(self, ids: np.ndarray,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The recent CF and content vectors of users, and their recent movies (CSR)."""
        recent = self.stage.recent
        rows = recent.users.indices(ids, missing="mask")
        flat, lengths = csr_gather(recent.indptr, rows)
        owner = np.repeat(np.arange(ids.size), lengths)
        movies = recent.movies[flat]
        out = self._recent_vectors(movies, owner, ids.size)
        for vectors in out:
            vectors[rows < 0] = np.nan
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return out[0], out[1], indptr, movies

    def _recent_vectors(self, movies: np.ndarray, owner: np.ndarray,
                        n: int) -> tuple[np.ndarray, np.ndarray]:
        """Unit mean vectors, in CF and content space, of each owner's recent movies."""
        spaces = [(self.stage.cf.item_map_, self.cf_unit)]
        if self.content is not None:
            spaces.append((self.content.item_map_, self.content_unit))
        out = []
        for item_map, unit in spaces:
            rows = item_map.indices(movies, missing="mask")
            keep = rows >= 0
            out.append(unit_mean(unit[rows[keep]], owner[keep], n))
        if self.content is None:
            out.append(np.full((n, 1), np.nan, np.float32))
        return out[0], out[1]

    # ------------------------------------------------------------ new people
    def new_user(self, movie_ids: np.ndarray | list[int], ratings: np.ndarray | list[float],
                 timestamps: np.ndarray | list[int] | None = None) -> UserContext:
        """Fold in a person the model never saw from their ratings.

        Movies unknown to the stage are ignored; a movie rated twice keeps the later
        rating (as the loader does). Without timestamps every rating is dated at the
        model's newest rating (:attr:`now`) and the list order says which are the latest.
        The features are those a training user with these ratings would have (same
        definitions as :mod:`reco.features.tables`); the CF and rating-model vectors solve the
        fitted models' user equations; the content profile is the one ``fit`` builds.

        Raises
        ------
        ValueError
            Lengths differ, or no rated movie is known to the model.
        """
        movies = np.asarray(movie_ids, dtype=np.int64)
        values = np.asarray(ratings, dtype=np.float64)
        stamps = (np.full(movies.shape, self.now, dtype=np.int64) if timestamps is None
                  else np.asarray(timestamps, dtype=np.int64))
        if not movies.shape == values.shape == stamps.shape or movies.ndim != 1:
            raise ValueError(f"{movies.size} movie ids, {values.size} ratings and "
                             f"{stamps.size} timestamps: give one of each per rating")
        keep = last_occurrences(movies)
        keep = keep[self.movies.indices(movies[keep], missing="mask") >= 0]
        if keep.size == 0:
            raise ValueError("none of the rated movies is known to the model")
        # latest last: by time, then (with timestamps) movie id as in RecentItems, else list order
        order = np.lexsort((movies[keep], stamps[keep])) if timestamps is not None else (
            np.argsort(stamps[keep], kind="stable"))
        movies, values, stamps = movies[keep][order], values[keep][order], stamps[keep][order]
        stats, prefs = self._new_user_stats(movies, values, stamps)
        one = np.zeros(movies.size, dtype=np.int64)
        recent = slice(max(0, movies.size - RECENT_N), None)
        recent_cf, recent_content = self._recent_vectors(movies[recent], one[recent], 1)
        return UserContext(
            ids=np.array([NEW_USER]), known=np.array([True]), stats=stats[None],
            last_timestamp=np.array([stamps.max()]), genre_prefs=prefs[None],
            cf=self._fold_cf(movies, values)[None], **self._fold_rating(movies, values),
            content=self._fold_content(movies, values)[None], recent_cf=recent_cf,
            recent_content=recent_content, seen_indptr=np.array([0, movies.size]),
            seen_movies=movies, seen_ratings=values.astype(np.float32),
            recent_indptr=np.array([0, movies[recent].size]), recent_movies=movies[recent],
        )

    def _new_user_stats(self, movies: np.ndarray, values: np.ndarray,
                        stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = values.size
        liked = values >= self.like_threshold
        mean = values.mean()
        genres = self.movie_genres[self.movies.indices(movies)]
        per_genre = genres.sum(axis=0)
        rated = per_genre > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            prefs = np.stack([
                (genres & liked[:, None]).sum(axis=0) / per_genre,
                (genres * values[:, None]).sum(axis=0) / per_genre - mean,
                per_genre / n,
            ], axis=1)
        prefs[~rated] = np.nan
        std = values.std(ddof=1) if n > 1 else np.nan
        stats = np.array([n, mean, std, liked.mean(),
                          (stamps.max() - stamps.min()) / SECONDS_PER_DAY, rated.sum()])
        return stats, prefs.astype(np.float32)

    def _fold_cf(self, movies: np.ndarray, values: np.ndarray) -> np.ndarray:
        cf = self.stage.cf
        rows = cf.item_map_.indices(movies, missing="mask")
        return cf._fold_in_vector(rows[rows >= 0], values[rows >= 0]).astype(np.float32)

    def _fold_rating(self, movies: np.ndarray, values: np.ndarray) -> dict[str, np.ndarray]:
        if self.rating is None:
            return {"rating": np.full((1, 1), np.nan, np.float32),
                    "rating_bias": np.full(1, np.nan)}
        rows = self.rating.item_map_.indices(movies, missing="mask")
        vector, bias = self.rating.fold_in_rating_terms(rows[rows >= 0], values[rows >= 0])
        return {"rating": vector[None].astype(np.float32), "rating_bias": np.array([bias])}

    def _fold_content(self, movies: np.ndarray, values: np.ndarray) -> np.ndarray:
        if self.content is None:
            return np.full(1, np.nan, np.float32)
        rows = self.content.item_map_.indices(movies, missing="mask")
        return self.content.fold_in_profile(rows[rows >= 0], values[rows >= 0])
