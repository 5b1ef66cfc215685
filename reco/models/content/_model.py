"""Content similarity: per-field TF-IDF blocks, truncated SVD, cosine.

:mod:`reco.models.content._text` stacks one weighted TF-IDF block per text field of each movie, so
the inner product of two movies is ``sum_f w_f cos_f(i, j)``. A truncated SVD (rank
``dimensions``) of that matrix gives dense vectors, L2-normalised into ``embeddings_``, so
``embeddings_ @ embeddings_.T`` is the cosine similarity of the SVD approximation.

A user's profile is a vector in the same space, built from the user's ratings ``r_ui``:

* ``"mean_centered"``: ``p_u = sum_i (r_ui - mean_u) e_i`` -- liked-above-average movies
  pull towards, disliked ones push away;
* ``"liked"``: the mean of ``e_i`` over the movies rated ``>= like_threshold``.

Profiles are L2-normalised, so a score ``p_u . e_j`` is a cosine in [-1, 1]. Ratings only
shape profiles; the embeddings depend on the text alone, which is why every movie of the
movies table (rated or not) is in the item universe.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from reco._numeric import sparse_dense
from reco.columns import MOVIE_ID
from reco.exceptions import ArtifactError, ModelFitError
from reco.ids import last_occurrences
from reco.models.base import Recommender
from reco.models.content._config import ContentConfig
from reco.models.content._text import MovieEmbeddings, embed_movies, normalize_rows
from reco.models.interactions import Interactions
from reco.models.mf.als import resolve_threads

log = logging.getLogger(__name__)

_PAIR_CHUNK = 131_072  # pairs per block in profile_similarity: bounds the gathered rows


# ---------------------------------------------------------------- the model
class ContentRecommender(Recommender):
    """Recommends movies whose text resembles what the user rated well.

    The item universe is every movie of the movies table, so a movie nobody rated still
    has neighbours (:meth:`similar_items`) and can be recommended. State: ``embeddings_``
    (float32, movies x d, unit rows, aligned with ``item_map_``); the vectorisers are not
    kept. ``profiles_`` (users x d, unit or zero rows) is derived from ``seen_``.
    """

    name = "content"
    config_class = ContentConfig
    user_arrays = ("profiles",)
    item_arrays = ("embeddings",)
    factor_arrays = ("profiles", "embeddings")
    config: ContentConfig

    def fit(  # type: ignore[override]
        self,
        ratings: pl.DataFrame,
        movies: pl.DataFrame | None = None,
        tags: pl.DataFrame | None = None,
        links: pl.DataFrame | None = None,
        tmdb: pl.DataFrame | None = None,
    ) -> ContentRecommender:
        """Fit on canonical ratings and the movies table.

        Parameters
        ----------
        ratings
            ``user_id, movie_id, rating``: only the user profiles depend on them.
        movies
            ``movie_id, title, genres``; required, it defines the item universe.
        tags
            ``movie_id, tag`` (every user's tags, pooled per movie); optional.
        links, tmdb
            ``movie_id, tmdb_id`` and :func:`reco.data.tmdb.read_tmdb_movies`'s frame; TMDB
            overview and keywords are used for the linked movies when both are given.

        Returns
        -------
        ContentRecommender
            ``self``, fitted.
        """
        return super().fit(ratings, movies, tags=tags, links=links, tmdb=tmdb)

    def _item_ids(self, ratings: pl.DataFrame, movies: pl.DataFrame | None) -> np.ndarray:
        if movies is None:
            raise ValueError("ContentRecommender.fit needs the movies table")
        ids = movies[MOVIE_ID].unique()
        unknown = ratings.filter(~pl.col(MOVIE_ID).is_in(ids.implode())).height
        if unknown:
            log.warning("content: %d rating(s) of movies absent from the movies table are "
                        "ignored", unknown)
        return ids.to_numpy()

    def _fit(self, matrix: sp.csr_matrix, **context: Any) -> None:
        embeddings = embed_movies(context["movies"], self.config, context.get("tags"),
                                  context.get("links"), context.get("tmdb"))
        self._set_embeddings(embeddings)

    def fit_embeddings(self, interactions: Interactions,
                       embeddings: MovieEmbeddings) -> ContentRecommender:
        """Fit on ratings already mapped and text already embedded (:func:`embed_movies`).

        The text pipeline is the costly part and does not depend on ratings, so a caller
        fitting several windows on the same text embeds it once and passes it here; only
        the profiles are learned. ``interactions`` is widened to the embedded movies.
        """
        wide = interactions.widen(embeddings.movie_ids)
        dropped = interactions.matrix.nnz - wide.matrix.nnz
        if dropped:
            log.warning("content: %d rating(s) of movies without text are ignored", dropped)
        return self._learn(wide, lambda: self._set_embeddings(embeddings))

    def _set_embeddings(self, embeddings: MovieEmbeddings) -> None:
        if not np.array_equal(embeddings.movie_ids, self.item_map_.ids):
            raise ModelFitError("movie embeddings are not aligned with the item map")
        self.embeddings_ = embeddings.vectors
        self.profiles_ = self._profiles(self.seen_)

    # ------------------------------------------------------------ profiles
    def _profile_weights(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        """Per-rating weights of the profile sum: ``r - mean_u`` or ``[r >= like]``."""
        # float64: a centred profile is a sum of terms of both signs
        weights = matrix.astype(np.float64, copy=True)
        if self.config.profile == "liked":
            weights.data = (weights.data >= self.config.like_threshold).astype(np.float64)
        else:
            counts = np.diff(weights.indptr)
            sums = np.asarray(weights.sum(axis=1)).ravel()
            weights.data -= np.repeat(sums / np.maximum(counts, 1), counts)
        weights.eliminate_zeros()
        return weights

    def _profiles(self, matrix: sp.csr_matrix) -> np.ndarray:
        """Unit-norm profiles (zero when the user has no signal), one row per matrix row."""
        raw = sparse_dense(self._profile_weights(matrix), self.embeddings_,
                           resolve_threads(None))
        return normalize_rows(raw).astype(np.float32)

    # ------------------------------------------------------------ base-class hooks
    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self.profiles_[users] @ self.embeddings_.T

    def _item_vectors(self) -> np.ndarray:
        return self.embeddings_

    def _fold_in(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        return self.embeddings_ @ self.fold_in_profile(items, values)

    def fold_in_profile(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        """The unit profile ``fit`` would build for a user with these ratings (item
        indices); a movie listed twice counts once, with its last rating."""
        items = np.asarray(items, dtype=np.int64)
        values = np.asarray(values, dtype=np.float32)
        last = last_occurrences(items)
        row = sp.csr_matrix(
            (values[last], (np.zeros(last.size, np.int64), items[last])), shape=(1, self.n_items)
        )
        weights = self._profile_weights(row)
        # gather the rated rows: a sparse @ dense product would upcast every embedding
        raw = weights.data @ self.embeddings_[weights.indices].astype(np.float64)
        return normalize_rows(raw[None, :])[0].astype(np.float32)

    def _state(self) -> dict[str, np.ndarray]:
        # profiles are saved too: recomputing them at load is a 32M-entry sparse product
        return {"embeddings": self.embeddings_, "profiles": self.profiles_}

    def _load_state(self, arrays: dict[str, np.ndarray]) -> None:
        embeddings = arrays.get("embeddings")
        if embeddings is None or embeddings.ndim != 2 or embeddings.shape[0] != self.n_items:
            shape = None if embeddings is None else embeddings.shape
            raise ArtifactError(
                f"content embeddings of shape {shape} do not match {self.n_items} movies"
            )
        self.embeddings_ = embeddings.astype(np.float32, copy=False)
        profiles = arrays.get("profiles")
        # the users' count from the id map: reading seen_ here would build a deferred
        # ratings matrix that a server never needs (Recommender.load)
        if profiles is None or profiles.shape != (len(self.user_map_), embeddings.shape[1]):
            profiles = self._profiles(self.seen_)
        self.profiles_ = profiles.astype(np.float32, copy=False)

    # ------------------------------------------------------------ pair scores
    def profile_similarity(
        self,
        user_ids: np.ndarray | list[int],
        movie_ids: np.ndarray | list[int],
    ) -> np.ndarray:
        """Content similarity ``p_u . e_i`` of each (user, movie) pair.

        Parameters
        ----------
        user_ids, movie_ids
            Equal-length sequences of external ids; pair ``k`` is
            ``(user_ids[k], movie_ids[k])``.

        Returns
        -------
        numpy.ndarray
            float32, one value per pair: the same as :meth:`score` (cosine in [-1, 1],
            0 for a user with no usable ratings), and NaN for a user or movie the model
            does not know, which tree models read as "missing".
        """
        self._check_fitted()
        users = self.user_map_.indices(np.asarray(user_ids), missing="mask")
        items = self.item_map_.indices(np.asarray(movie_ids), missing="mask")
        if users.shape != items.shape or users.ndim != 1:
            raise ValueError(
                f"user_ids and movie_ids must be 1-d and of equal length, got shapes "
                f"{users.shape} and {items.shape}"
            )
        out = np.full(users.size, np.nan, dtype=np.float32)
        known = np.flatnonzero((users >= 0) & (items >= 0))
        for start in range(0, known.size, _PAIR_CHUNK):
            rows = known[start : start + _PAIR_CHUNK]
            u, i = users[rows], items[rows]
            out[rows] = np.einsum("ij,ij->i", self.profiles_[u], self.embeddings_[i])
        return out
