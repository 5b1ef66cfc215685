"""External ids <-> contiguous indices, mapped once at the edge of every model."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import polars as pl
import scipy.sparse as sp

from reco.columns import MOVIE_ID, RATING, USER_ID
from reco.exceptions import UnknownIdError

#: Above this many values, distinct ids are found by hashing (Polars) rather than sorting.
_HASH_UNIQUE = 100_000
#: Above this many values, :meth:`IdMap.indices` looks them up in a table indexed by the id
#: itself (one gather per value) where the ids' range allows: on 32M ratings a binary
#: search of 87k movie ids took 4.5-5.9 s, the table 0.3 s.
_TABLE_LOOKUP = 1 << 16
#: The table's cells at most: this many times the values looked up, and never above
#: _TABLE_MAX_CELLS (int64, 64 MB; it stays with the map), so sparse or huge id ranges keep
#: the binary search. MovieLens's largest ids (ml-32m) are under 300,000.
_TABLE_CELLS_PER_VALUE = 4
_TABLE_MAX_CELLS = 1 << 23
_INT64 = np.iinfo(np.int64)


class IdMap:
    """A sorted array of external ids; an id's index is its position.

    Parameters
    ----------
    ids
        Distinct external ids (sorted here).
    kind
        What the ids name (``"user"``, ``"movie"``), for error messages.
    """

    def __init__(self, ids: Iterable[int] | np.ndarray, kind: str = "id") -> None:
        array = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids), dtype=np.int64)
        array = np.sort(array)
        if array.size > 1 and (array[1:] == array[:-1]).any():
            raise ValueError(f"{kind} ids must be distinct")
        self.ids = array
        self.kind = kind
        self._table: np.ndarray | None = None

    @classmethod
    def from_values(cls, values: Iterable[int] | np.ndarray, kind: str = "id") -> IdMap:
        """The map of the distinct values in ``values``."""
        array = np.asarray(values if isinstance(values, np.ndarray) else list(values))
        if array.dtype.kind != "i":  # narrower signed ids are widened once distinct: a
            array = array.astype(np.int64)  # copy of 32M of them costs more than the distinct
        if array.size > _HASH_UNIQUE:
            # a hash-based distinct, then a sort of the distinct ids only (np.unique sorts
            # all of them)
            return cls(pl.Series(array).unique().sort().to_numpy(), kind)
        return cls(np.unique(array), kind)

    def __len__(self) -> int:
        return int(self.ids.size)

    def __contains__(self, external: object) -> bool:
        try:
            self.index(int(external))  # type: ignore[call-overload]
        except (UnknownIdError, TypeError, ValueError):
            return False
        return True

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and np.array_equal(self.ids, other.ids)

    def index(self, external: int) -> int:
        """The index of ``external``; :class:`UnknownIdError` when it is not mapped."""
        pos = int(np.searchsorted(self.ids, external))
        if pos >= self.ids.size or self.ids[pos] != external:
            raise UnknownIdError(f"unknown {self.kind} id {external!r}")
        return pos

    def indices(self, externals: np.ndarray | Iterable[int], missing: str = "raise") -> np.ndarray:
        """Indices of many ids. ``missing="raise"`` raises on the first unknown id;
        ``missing="mask"`` returns -1 for unknown ids."""
        values = np.asarray(externals if isinstance(externals, np.ndarray) else list(externals))
        if values.dtype.kind != "i":  # narrower signed ids (a Polars Int32 column) stay as
            values = values.astype(np.int64)  # they are: a copy of 32M ids costs 256 MB
        table = self._lookup_table(values.size)
        if table is not None:
            return self._table_indices(table, values, missing)
        pos = np.searchsorted(self.ids, values)
        pos_clipped = np.minimum(pos, max(self.ids.size - 1, 0))
        known = (pos < self.ids.size) & (self.ids[pos_clipped] == values) if self.ids.size else (
            np.zeros(values.shape, dtype=bool)
        )
        if missing == "raise":
            if not known.all():
                raise UnknownIdError(f"unknown {self.kind} id {int(values[~known][0])!r}")
            return pos.astype(np.int64)
        if missing == "mask":
            return np.where(known, pos, -1).astype(np.int64)
        raise ValueError(f"missing must be 'raise' or 'mask', got {missing!r}")

    def _lookup_table(self, n_values: int) -> np.ndarray | None:
        """``table[id - ids[0]]`` = the id's index (-1: not mapped), built on first use,
        when ``n_values`` lookups are worth the table's cells; None otherwise."""
        if n_values < _TABLE_LOOKUP or self.ids.size == 0:
            return None
        if self._table is not None:
            return self._table
        lo, hi = int(self.ids[0]), int(self.ids[-1])
        span = hi - lo + 1
        if span > min(_TABLE_CELLS_PER_VALUE * n_values, _TABLE_MAX_CELLS) or \
                lo == _INT64.min or hi == _INT64.max:
            return None
        # one -1 cell before and after the range: ids clipped into [lo - 1, hi + 1] land
        # there, so nothing outside the range needs a mask of its own
        table = np.full(span + 2, -1, dtype=np.int64)
        table[self.ids - (lo - 1)] = np.arange(self.ids.size, dtype=np.int64)
        # built whole before it is published: a concurrent reader sees None or the table
        self._table = table
        return table

    def _table_indices(self, table: np.ndarray, values: np.ndarray, missing: str) -> np.ndarray:
        """One int64 array for everything: the ids clipped into ``[lo - 1, hi + 1]`` (an
        offset from an id near the int64 limits would wrap, and the table's -1 cells catch
        the clipped ones), shifted to offsets, then replaced by the table's cells in place.
        At 32M ratings this allocated 0.9 GB in five arrays before, and freshly faulted
        memory is what such a lookup mostly costs (32M ids after a pause: 8.6-10.1 s before,
        2.4-2.7 s now on this machine; docs/BENCHMARKS.md, 2026-12-08)."""
        if missing not in ("raise", "mask"):
            raise ValueError(f"missing must be 'raise' or 'mask', got {missing!r}")
        lo, hi = int(self.ids[0]), int(self.ids[-1])
        found = np.clip(values, lo - 1, hi + 1, dtype=np.int64)
        np.subtract(found, lo - 1, out=found)
        np.take(table, found, out=found, mode="clip")  # each cell read before it is written
        if missing == "raise":
            unknown = found < 0
            if unknown.any():
                raise UnknownIdError(
                    f"unknown {self.kind} id {int(values.ravel()[unknown.argmax()])!r}")
        return found


def last_occurrences(keys: np.ndarray) -> np.ndarray:
    """Positions of the last occurrence of each distinct value in ``keys``, ascending.

    Someone who rates a movie twice meant the second rating: every place that dedupes
    ratings given as arrays keeps these positions.
    """
    keys = np.asarray(keys)
    first_from_end = np.unique(keys[::-1], return_index=True)[1]
    return np.sort(keys.size - 1 - first_from_end)


def rating_matrix(
    ratings: pl.DataFrame, users: IdMap, items: IdMap, values: str | None = RATING
) -> sp.csr_matrix:
    """A users x items CSR matrix of ``values`` (1.0 everywhere when ``values`` is None).

    Rows whose user or movie is not in the maps are skipped. A (user, movie) pair given
    more than once keeps its last value (a sparse matrix would otherwise add them up).
    """
    u = users.indices(ratings[USER_ID].to_numpy(), missing="mask")
    i = items.indices(ratings[MOVIE_ID].to_numpy(), missing="mask")
    keep = (u >= 0) & (i >= 0)
    every = bool(keep.all())  # the usual case: no copies of 32M indices to drop nothing
    rows, cols = (u, i) if every else (u[keep], i[keep])
    if values is None:
        data = np.ones(rows.size, dtype=np.float32)
    else:
        data = ratings[values].to_numpy().astype(np.float32, copy=False)
        data = data if every else data[keep]
    matrix = sp.csr_matrix((data, (rows, cols)), shape=(len(users), len(items)))
    matrix.sum_duplicates()
    if matrix.nnz < rows.size:  # duplicates were summed: rebuild keeping the last of each
        last = last_occurrences(rows * len(items) + cols)
        matrix = sp.csr_matrix((data[last], (rows[last], cols[last])),
                               shape=(len(users), len(items)))
    matrix.sort_indices()
    return matrix
