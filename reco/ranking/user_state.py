"""What the feature rows need to know about a batch of users, known or new.

A :class:`UserContext` holds, for ``n`` users, every per-user input of
:mod:`reco.ranking.pair_features`: the user-table features, the user-genre preferences as a
dense ``(n, genres, 3)`` block, the stage-one vectors (CF factors, rating-model factors
and bias, content profile) and the mean vectors of their latest movies. Known users are
gathered from the fitted arrays (:meth:`FeatureStore.known_users
<reco.ranking.stage_arrays.FeatureStore.known_users>`); a person the model never saw gets the
same quantities computed from a handful of ratings (fold-in), so the ranker scores both
the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The id a person the model never saw carries in a context.
NEW_USER = -1
#: How many of a user's latest movies the "recent" vectors average (as RecentItems).
RECENT_N = 10
#: The user-genre preference columns, in the order of the context's last axis.
PREF_COLUMNS = ("like_rate", "deviation", "share")


@dataclass
class UserContext:
    """Per-user inputs of the feature rows for ``n`` users (row ``i`` = ``ids[i]``).

    Unknown quantities are NaN (a user absent from the feature tables, a model that is
    not part of the stage); XGBoost reads them as missing.
    """

    ids: np.ndarray  # (n,) int64 external ids, NEW_USER for a folded-in person
    known: np.ndarray  # (n,) bool: the user has a feature-table row (or fold-in ratings)
    stats: np.ndarray  # (n, len(USER_COLUMNS)) float64
    last_timestamp: np.ndarray  # (n,) int64, 0 when unknown
    genre_prefs: np.ndarray  # (n, n_genres, 3) float32, NaN where the genre is unrated
    cf: np.ndarray  # (n, k) float32
    rating: np.ndarray  # (n, k_rating) float32
    rating_bias: np.ndarray  # (n,) float64
    content: np.ndarray  # (n, d) float32 unit profiles (zero: no signal)
    recent_cf: np.ndarray  # (n, k) float32 unit mean of the latest movies' CF vectors
    recent_content: np.ndarray  # (n, d) float32, the same in content space
    seen_indptr: np.ndarray  # (n + 1,) int64: CSR of the movies each user rated
    seen_movies: np.ndarray  # movie ids
    seen_ratings: np.ndarray  # their ratings
    # CSR of each user's latest RECENT_N movies (any rating); None: none known
    recent_indptr: np.ndarray | None = None
    recent_movies: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.ids.size)

    def seen(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Movie ids and ratings of user ``row``."""
        part = slice(self.seen_indptr[row], self.seen_indptr[row + 1])
        return self.seen_movies[part], self.seen_ratings[part]


def unit_mean(vectors: np.ndarray, owners: np.ndarray, n: int) -> np.ndarray:
    """Per owner, the unit-length mean of ``vectors`` (a zero row when there is none)."""
    out = np.zeros((n, vectors.shape[1]), dtype=np.float64)
    if owners.size:
        # rows grouped by owner, each group summed in its given order (the sums np.add.at
        # gives, without its per-element loop: 0.15 ms for a request's ten movies)
        values = np.asarray(vectors, dtype=np.float64)
        grouped = np.asarray(owners)
        if np.any(grouped[1:] < grouped[:-1]):  # usually already grouped (a CSR's owners)
            order = np.argsort(grouped, kind="stable")
            grouped, values = grouped[order], values[order]
        starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
        out[grouped[starts]] = np.add.reduceat(values, starts, axis=0)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out.astype(np.float32)


def rows_or_nan(matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``matrix[rows]`` as float, with NaN rows where ``rows`` is -1."""
    out = np.asarray(matrix[np.maximum(rows, 0)], dtype=np.result_type(matrix.dtype, np.float32))
    out[rows < 0] = np.nan
    return out

