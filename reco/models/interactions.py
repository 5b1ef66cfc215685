"""The ratings of one training window as models consume them: two id maps and a CSR.

Mapping ids and building the users x items matrix is the same work for every model of a
window, so it is done once (:meth:`Interactions.from_ratings`) and the object is shared:
the two-stage recommender fits its CF, rating, popularity and content models on one
:class:`Interactions` per window. The content model knows more movies than were rated
(every movie with text); :meth:`Interactions.widen` gives it the same ratings over that
larger item universe without going back to the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp

from reco.columns import MOVIE_ID, RATING, RATINGS_SCHEMA, TIMESTAMP, USER_ID
from reco.exceptions import DataFormatError
from reco.ids import IdMap, rating_matrix
from reco.models.frames import read_ratings

#: A frame with exactly these columns and dtypes is already canonical: used as it is.
CANONICAL = (USER_ID, MOVIE_ID, RATING, TIMESTAMP)


@dataclass(frozen=True)
class Interactions:
    """Users x items ratings of one window, with the maps between ids and indices.

    Attributes
    ----------
    user_map, item_map
        External ids <-> row and column indices of ``matrix``.
    matrix
        float32 CSR, ``matrix[u, i]`` the rating (sorted indices; absent: not rated).
    """

    user_map: IdMap
    item_map: IdMap
    matrix: sp.csr_matrix

    def __post_init__(self) -> None:
        expected = (len(self.user_map), len(self.item_map))
        if self.matrix.shape != expected:
            raise ValueError(f"ratings matrix is {self.matrix.shape}, the id maps give {expected}")

    @classmethod
    def from_ratings(cls, ratings: pl.DataFrame) -> Interactions:
        """Map the users and movies of ratings with integer ids and build their matrix.

        ``ratings``: a Polars or pandas frame with reco's or MovieLens's column names
        (:func:`reco.models.frames.read_ratings`; a wrong one raises
        :class:`~reco.exceptions.DataFormatError` naming the column). String ids are
        mapped by a model's ``fit``, which keeps their labels; here they are refused.
        """
        if not isinstance(ratings, pl.DataFrame) or set(ratings.columns) != set(CANONICAL) \
                or any(ratings.schema[c] != RATINGS_SCHEMA[c] for c in ratings.columns):
            read = read_ratings(ratings)
            if read.users is not None or read.items is not None:
                raise DataFormatError("Interactions.from_ratings takes integer ids; a model's "
                                      "fit() maps string ids (and gives them back)")
            ratings = read.frame
        if ratings.is_empty():
            raise ValueError("cannot fit on an empty ratings frame")
        users = IdMap.from_values(ratings[USER_ID].to_numpy(), "user")
        items = IdMap.from_values(ratings[MOVIE_ID].to_numpy(), "movie")
        return cls(users, items, rating_matrix(ratings, users, items))

    def widen(self, item_ids: np.ndarray) -> Interactions:
        """The same ratings over the item universe ``item_ids`` (same users).

        Ratings of movies outside ``item_ids`` are dropped; movies nobody rated get empty
        columns. Only the column indices are remapped: the frame is not read again.
        """
        items = IdMap.from_values(np.asarray(item_ids), "movie")
        if items == self.item_map:
            return self
        # one lookup per movie, then a gather per rating (at 32M ratings, 7 s of a
        # server's start went to looking every rating's movie up instead)
        mapping = items.indices(self.item_map.ids, missing="mask")
        source = self.matrix
        # a gather from a map of the indices' own width: at 32M ratings 0.18 s, where
        # indexing an int64 map and casting the result took 0.45 s
        columns = mapping.astype(source.indices.dtype).take(source.indices)
        if (mapping >= 0).all():  # every rated movie is in the new universe: same rows
            data, indptr = source.data, source.indptr
        else:
            keep = columns >= 0
            kept_before = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
            data, columns, indptr = source.data[keep], columns[keep], kept_before[source.indptr]
        matrix = sp.csr_matrix((data, columns, indptr), shape=(len(self.user_map), len(items)))
        kept = mapping[mapping >= 0]
        if not (source.has_sorted_indices and (np.diff(kept) > 0).all()):
            matrix.sort_indices()  # both maps are sorted, so this is the rare case
        return Interactions(self.user_map, items, matrix)
