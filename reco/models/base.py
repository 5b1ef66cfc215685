"""The small base classes every reco recommender shares.

:class:`BaseRecommender` is the query contract: it maps ids at the edge, excludes seen
items, cuts the top k, finds similar items and folds in new users. A subclass supplies
``_score_users`` (dense scores of every item for a batch of users) and may supply
``_item_vectors`` (for :meth:`~BaseRecommender.similar_items`) and ``_fold_in`` (scores for
a user the model has never seen). The two-stage recommender
(:class:`reco.ranking.hybrid.HybridRecommender`) is one: it is fitted on frames with
timestamps and persisted as a directory, so it shares the queries and nothing else.

:class:`Recommender` is a *single* model: it learns from one window's
:class:`~reco.models.interactions.Interactions` (``_fit``) and saves its learned arrays
(``_state`` / ``_load_state``) to one ``.npz`` without pickle. ``fit(ratings)`` builds
the interactions from a frame; a caller fitting several models on the same ratings
builds them once and calls :meth:`Recommender.fit_interactions` on each.
"""
from __future__ import annotations

import importlib
import json
import logging
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np
import polars as pl
import scipy.sparse as sp

from reco._numeric import MAX_BLOCK_CELLS, top_k
from reco.columns import MOVIE_ID
from reco.config import ConfigBase, check_int
from reco.exceptions import ArtifactError, ConfigError, NotFittedError
from reco.ids import IdMap, last_occurrences
from reco.models.frames import Labels, movie_ids_of, read_movies, read_ratings
from reco.models.interactions import Interactions
from reco.npz import load_npz, save_npz

log = logging.getLogger(__name__)
R = TypeVar("R", bound="Recommender")
MODEL_FORMAT = 1
#: Attributes derived from the learned arrays on first use; dropped by a refit.
CACHES = ("_unit_vectors", "_us")
REGISTRY: dict[str, type[Recommender]] = {}
#: reco's model modules, imported by :meth:`Recommender.load` for a class not registered yet
MODEL_MODULES = ("reco.models.popularity", "reco.models.mf", "reco.models.ease",
                 "reco.models.content")


def _registered(name: str) -> type[Recommender] | None:
    """The model class called ``name``, importing reco's model modules one by one until it
    is registered: loading an ALS file does not pay for the content model's scikit-learn."""
    for module in MODEL_MODULES:
        if name in REGISTRY:
            break
        importlib.import_module(module)
    return REGISTRY.get(name)


def _learned(attribute: str) -> bool:
    """Learned state by the naming rule: ``name_`` (not dunder), or a derived cache."""
    return (attribute.endswith("_") and not attribute.startswith("__")) or attribute in CACHES


#: Ratings matrices that passed :func:`_check_seen`, by id: a version's models share one
#: (cf.npz's), and checking 32M ratings again for each of them cost 0.07 s a model.
_CHECKED: weakref.WeakValueDictionary[int, sp.csr_matrix] = weakref.WeakValueDictionary()


def _check_seen(path: Path, seen: sp.csr_matrix) -> None:
    """A CSR matrix whose row pointers and column indices are in range (SciPy's own check
    leaves them to the first product, where they read out of bounds)."""
    if _CHECKED.get(id(seen)) is seen:
        return
    indptr, indices = seen.indptr, seen.indices
    ok = (indptr.size == seen.shape[0] + 1 and int(indptr[0]) == 0
          and int(indptr[-1]) == indices.size == seen.data.size
          and bool(np.all(indptr[1:] >= indptr[:-1]))
          and (indices.size == 0 or (int(indices.min()) >= 0
                                     and int(indices.max()) < seen.shape[1])))
    if not ok:
        raise ArtifactError(f"{path}: the ratings matrix's row pointers or movie indices "
                            "are out of range")
    if seen.data.dtype.kind == "f" and not np.isfinite(seen.data).all():
        raise ArtifactError(f"{path}: the ratings matrix holds NaN or infinite values")
    _CHECKED[id(seen)] = seen


def _check_shared_seen(path: Path, seen: sp.csr_matrix, shape: tuple[int, int]) -> None:
    if seen.shape != shape:
        raise ArtifactError(f"{path}: the shared ratings matrix is {seen.shape}, the model "
                            f"has {shape[0]} users x {shape[1]} movies")
    _check_seen(path, seen)


def _deferred_seen(path: Path, build: Callable[[IdMap], sp.csr_matrix], items: IdMap,
                   shape: tuple[int, int]) -> Callable[[], sp.csr_matrix]:
    def seen() -> sp.csr_matrix:
        matrix = build(items)
        _check_shared_seen(path, matrix, shape)
        return matrix
    return seen


def _id_map(path: Path, ids: np.ndarray, kind: str) -> IdMap:
    """The id map of saved ids, which :meth:`Recommender.save` writes distinct, integer
    and increasing: ids in another order would be sorted by ``IdMap`` and so silently
    take other users' or movies' rows."""
    if (ids.ndim != 1 or ids.dtype.kind not in "iu"
            or (ids.size > 1 and not bool(np.all(ids[1:] > ids[:-1])))):
        raise ArtifactError(f"{path}: {kind} ids are not distinct integers in increasing "
                            "order, as reco saves them")
    return IdMap(ids, kind)


def _check_state(path: Path, model: Recommender, state: dict[str, np.ndarray]) -> None:
    """Every learned array is there, finite, and has a row per user or per item where the
    model says so: a wrong array fails here, by name, not as a wrong answer later."""
    rows = {**dict.fromkeys(model.user_arrays, len(model.user_map_)),
            **dict.fromkeys(model.item_arrays, len(model.item_map_))}
    for name in model.state_arrays:
        if name not in state:
            raise ArtifactError(f"{path}: array {name!r} is missing")
    for name, array in state.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ArtifactError(f"{path}: array {name!r} holds NaN or infinite values")
        if name in rows and (array.ndim == 0 or array.shape[0] != rows[name]):
            what = "items" if name in model.item_arrays else "users"
            raise ArtifactError(f"{path}: array {name!r} has shape {array.shape}, the model "
                                f"has {rows[name]} {what}")
    # the columns too: factors whose widths disagree load fine and fail (or broadcast into
    # nonsense) at the first product, on a request
    columns = {state[n].shape[1] for n in model.factor_arrays if n in state
               and state[n].ndim == 2}
    for name in rows:
        if name not in state:
            continue
        ndim = 2 if name in model.factor_arrays else 1
        if state[name].ndim != ndim or len(columns) > 1:
            raise ArtifactError(f"{path}: array {name!r} has shape {state[name].shape}; the "
                                "model's per-user and per-item arrays do not fit together")
    for name in model.factor_vectors:
        if name in state and (state[name].ndim != 1 or {state[name].size} != columns):
            raise ArtifactError(f"{path}: array {name!r} has shape {state[name].shape}, the "
                                f"factors have {sorted(columns)} columns")


def _check_k(k: object, method: str) -> None:
    """A bad ``k`` is the caller's mistake, not a config's: a plain ValueError."""
    try:
        check_int(method, "k", k, 1)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


class BaseRecommender(ABC):
    """The queries every recommender answers: ``recommend``, ``recommend_batch``,
    ``score``, ``score_pairs``, ``similar_items``, ``recommend_new_user``.

    Learned state ends in ``_``: ``user_map_`` and ``item_map_`` (:class:`~reco.ids.IdMap`)
    and ``seen_``, the users x items CSR of training ratings. A model is fitted once it
    has ``item_map_``; a fit that fails must not leave one behind.
    """

    name: ClassVar[str] = "recommender"
    config_class: ClassVar[type[ConfigBase]]
    user_map_: IdMap
    item_map_: IdMap
    seen_: sp.csr_matrix
    #: For a model fitted on string ids, the labels they were mapped with: its queries
    #: take those strings and its answers give them back (None: integer ids).
    user_labels_: Labels | None = None
    item_labels_: Labels | None = None

    def __init__(self, config: ConfigBase | None = None) -> None:
        if config is not None and not isinstance(config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} takes a {self.config_class.__name__}, "
                f"got {type(config).__name__}"
            )
        self.config = config if config is not None else self.config_class()

    if not TYPE_CHECKING:  # (mypy would take every missing attribute for Any)
        def __getattr__(self, name: str) -> Any:
            # a model loaded with its ratings matrix deferred (Recommender.load(seen=a
            # function)) builds it on first use
            if name == "seen_":
                pending = self.__dict__.pop("_pending_seen", None)
                if pending is not None:
                    self.__dict__["seen_"] = pending()
                    return self.__dict__["seen_"]
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # ------------------------------------------------------------ to implement
    @abstractmethod
    def _score_users(self, users: np.ndarray) -> np.ndarray:
        """Dense float scores, shape (len(users), n_items), higher is better."""

    def _item_vectors(self) -> np.ndarray:
        """Item vectors whose cosine similarity defines :meth:`similar_items`."""
        raise NotImplementedError(f"{type(self).__name__} has no item similarity")

    def unit_item_vectors(self) -> np.ndarray:
        """``_item_vectors`` scaled to unit length, computed once per fit (serving hot path)."""
        cached = self.__dict__.get("_unit_vectors")
        if cached is None:
            vectors = np.asarray(self._item_vectors(), dtype=np.float32)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            cached = vectors / np.maximum(norms, 1e-12)
            self.__dict__["_unit_vectors"] = cached
        return cached

    def _fold_in(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Scores of every item for a new user who rated ``items`` with ``values``."""
        raise NotImplementedError(f"{type(self).__name__} cannot fold in new users")

    def _ranking_scores(self, users: np.ndarray, exclude_seen: bool) -> np.ndarray:
        """Writable float32 scores of every item for ``users``, the seen ones at -inf when
        ``exclude_seen``: what :meth:`recommend_batch` cuts the top k from. A model that
        scores only some items (a candidate stage) overrides this to score the seen ones
        too when they are wanted."""
        scores = np.asarray(self._score_users(users), dtype=np.float32).copy()
        if exclude_seen:
            self._mask_seen(scores, users)
        return scores

    def _forget(self) -> None:
        """Drop every learned attribute (``..._``) and derived cache: unfitted again."""
        for attribute in [a for a in self.__dict__ if _learned(a)]:
            del self.__dict__[attribute]

    # ------------------------------------------------------------ queries
    def _check_fitted(self) -> None:
        if not hasattr(self, "item_map_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    # ids at the edge: string ids (when fitted on them) <-> the integers of the id maps
    def _user_codes(self, user_ids: Any, missing: str = "raise") -> np.ndarray:
        ids = np.atleast_1d(np.asarray(user_ids))
        return ids if self.user_labels_ is None else self.user_labels_.codes(ids, missing)

    def _item_codes(self, movie_ids: Any, missing: str = "raise") -> np.ndarray:
        ids = np.atleast_1d(np.asarray(movie_ids))
        return ids if self.item_labels_ is None else self.item_labels_.codes(ids, missing)

    def _item_out(self, codes: np.ndarray) -> np.ndarray:
        """Movie ids as the caller gave them (``codes`` >= 0; padding stays -1 or "")."""
        if self.item_labels_ is None:
            return codes
        out = np.full(codes.shape, "", dtype=self.item_labels_.labels.dtype)
        valid = codes >= 0
        out[valid] = self.item_labels_.of(codes[valid])
        return out

    @property
    def n_items(self) -> int:
        self._check_fitted()
        return len(self.item_map_)

    def score(self, user_id: int, movie_ids: np.ndarray | list[int]) -> np.ndarray:
        """Scores of ``movie_ids`` for a known user (:class:`UnknownIdError` otherwise)."""
        self._check_fitted()
        user = self.user_map_.index(int(self._user_codes([user_id])[0]))
        items = self.item_map_.indices(self._item_codes(movie_ids))
        return self._score_users(np.array([user]))[0, items].astype(np.float32)

    def score_pairs(
        self, user_ids: np.ndarray, movie_ids: np.ndarray, batch_size: int = 1024
    ) -> np.ndarray:
        """Scores of many (user, movie) pairs at once; NaN where either id is unknown.

        Users are scored in batches (one dense row per distinct user), so this costs
        one ``_score_users`` pass per batch, not one call per pair.
        """
        self._check_fitted()
        users = self.user_map_.indices(self._user_codes(user_ids, "mask"), missing="mask")
        items = self.item_map_.indices(self._item_codes(movie_ids, "mask"), missing="mask")
        out = np.full(users.shape, np.nan, dtype=np.float32)
        ok = (users >= 0) & (items >= 0)
        if not ok.any():
            return out
        distinct, inverse = np.unique(users[ok], return_inverse=True)
        rows_ok = np.flatnonzero(ok)
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(0, distinct.size + 1, batch_size))
        bounds = np.append(bounds, order.size) if bounds[-1] != order.size else bounds
        for b in range(len(bounds) - 1):
            sel = order[bounds[b] : bounds[b + 1]]
            if sel.size == 0:
                continue
            first = b * batch_size
            block = np.asarray(self._score_users(distinct[first : first + batch_size]))
            out[rows_ok[sel]] = block[inverse[sel] - first, items[ok][sel]]
        return out

    def recommend(
        self, user_id: int, k: int = 10, exclude_seen: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best movie ids for ``user_id`` and their scores, best first."""
        ids, scores = self._recommend_codes(self._user_codes([user_id]), k, exclude_seen)
        keep = ids[0] >= 0
        return self._item_out(ids[0][keep]), scores[0][keep]

    def recommend_batch(
        self, user_ids: np.ndarray | list[int], k: int = 10, exclude_seen: bool = True,
        batch_size: int = 2048,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` movie ids and scores for many known users: arrays (n, k), padded
        with id -1 (``""`` for string ids) and score -inf when fewer than ``k`` movies
        are left."""
        self._check_fitted()
        ids, scores = self._recommend_codes(self._user_codes(user_ids), k, exclude_seen,
                                            batch_size)
        return self._item_out(ids), scores

    def _recommend_codes(self, user_ids: np.ndarray, k: int, exclude_seen: bool,
                         batch_size: int = 2048) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        _check_k(k, "recommend_batch")
        users = self.user_map_.indices(user_ids)
        out_ids = np.full((len(users), k), -1, dtype=np.int64)
        out_scores = np.full((len(users), k), -np.inf, dtype=np.float32)
        # Bound the dense block (about 128 MB of float32) whatever the catalogue size.
        batch_size = max(1, min(batch_size, MAX_BLOCK_CELLS // max(self.n_items, 1)))
        for start in range(0, len(users), batch_size):
            chunk = users[start : start + batch_size]
            scores = self._ranking_scores(chunk, exclude_seen)
            idx, vals = top_k(scores, k)
            ext = np.where(idx >= 0, self.item_map_.ids[np.maximum(idx, 0)], -1)
            out_ids[start : start + len(chunk)] = ext
            out_scores[start : start + len(chunk)] = vals
        return out_ids, out_scores

    def _mask_seen(self, scores: np.ndarray, users: np.ndarray) -> None:
        rows = self.seen_[users]
        scores[np.repeat(np.arange(len(users)), np.diff(rows.indptr)), rows.indices] = -np.inf

    def similar_items(self, movie_id: int, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` movies most similar to ``movie_id`` (itself excluded), by cosine."""
        self._check_fitted()
        _check_k(k, "similar_items")
        item = self.item_map_.index(int(self._item_codes([movie_id])[0]))
        vectors = self._item_vectors()
        norms = np.linalg.norm(vectors, axis=1)
        if norms[item] == 0:  # nothing to compare (a movie with no text, no ratings)
            return np.empty(0, np.int64), np.empty(0, np.float32)
        norms[norms == 0] = 1.0
        sims = (vectors @ vectors[item]) / (norms * norms[item])
        sims[item] = -np.inf
        idx, vals = top_k(sims[None, :], k)
        keep = idx[0] >= 0
        return self._item_out(self.item_map_.ids[idx[0][keep]]), vals[0][keep]

    def recommend_new_user(
        self, movie_ids: list[int] | np.ndarray, ratings: list[float] | np.ndarray, k: int = 10
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` for someone the model never saw, from a handful of ratings (fold-in).

        Unknown movie ids among the ratings are ignored; rated movies are excluded.
        """
        self._check_fitted()
        _check_k(k, "recommend_new_user")
        items = self.item_map_.indices(self._item_codes(movie_ids, "mask"), missing="mask")
        values = np.asarray(ratings, dtype=np.float32)
        if items.shape != values.shape:
            raise ValueError(f"{items.size} movie ids but {values.size} ratings")
        last = last_occurrences(items)  # a movie rated twice keeps its last rating
        items, values = items[last], values[last]
        known = items >= 0
        scores = np.asarray(self._fold_in(items[known], values[known]), dtype=np.float32).copy()
        scores[items[known]] = -np.inf
        idx, vals = top_k(scores[None, :], k)
        keep = idx[0] >= 0
        return self._item_out(self.item_map_.ids[idx[0][keep]]), vals[0][keep]


class Recommender(BaseRecommender):
    """A single model: fitted on one window's :class:`Interactions`, saved as one ``.npz``.

    Subclasses implement ``_fit`` (learn from ``self.seen_``, the users x items CSR) and
    name their learned arrays in ``state_arrays`` (``"scores"`` saves ``self.scores_``), or
    override ``_state`` / ``_load_state`` when loading needs more than restoring them.
    """

    state_arrays: ClassVar[tuple[str, ...]] = ()
    #: Learned arrays with a row per user / per item (checked at load): 1-D, except the
    #: ``factor_arrays``, 2-D with one column count; ``factor_vectors`` have one entry per
    #: factor column.
    user_arrays: ClassVar[tuple[str, ...]] = ()
    item_arrays: ClassVar[tuple[str, ...]] = ()
    factor_arrays: ClassVar[tuple[str, ...]] = ()
    factor_vectors: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        REGISTRY[cls.__name__] = cls

    @abstractmethod
    def _fit(self, matrix: sp.csr_matrix, **context: Any) -> None:
        """Learn from the users x items CSR of ratings (``self.seen_``)."""

    def _state(self) -> dict[str, np.ndarray]:
        """The learned arrays (saved to npz): ``name -> self.name_`` for ``state_arrays``."""
        if not self.state_arrays:  # saving nothing would load as an unusable model
            raise NotImplementedError(f"{type(self).__name__} names no state_arrays")
        return {name: getattr(self, f"{name}_") for name in self.state_arrays}

    def _load_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what ``_state`` returned."""
        for name in self.state_arrays:
            setattr(self, f"{name}_", arrays[name])

    def _item_ids(self, ratings: pl.DataFrame, movies: pl.DataFrame | None) -> np.ndarray:
        """The item universe: movies rated in training (content models widen it)."""
        return ratings[MOVIE_ID].unique().to_numpy()

    # ------------------------------------------------------------ fitting
    def fit(self: R, ratings: Any, movies: Any = None, *,
            columns: Mapping[str, str] | None = None, **context: Any) -> R:
        """Fit on ratings: a Polars or pandas frame with ``user_id, movie_id, rating``
        (MovieLens's ``userId, movieId`` and the aliases of
        :data:`reco.models.frames.ALIASES` are recognised; ``columns`` maps other names,
        ``{"uid": "user_id"}``); integer or string ids (string ids: the model's queries
        take and give the same strings). A frame that does not fit raises
        :class:`~reco.exceptions.DataFormatError` naming the column.

        Builds the window's :class:`Interactions` (over :meth:`_item_ids`) and calls
        :meth:`fit_interactions`; ``movies`` and ``context`` go to ``_fit``.
        """
        read = read_ratings(ratings, columns, more_movies=movie_ids_of(movies))
        movies_frame = None if movies is None else read_movies(movies, read)
        frame = read.frame
        interactions = Interactions.from_ratings(frame)
        interactions = interactions.widen(self._item_ids(frame, movies_frame))
        fitted = self.fit_interactions(interactions, movies=movies_frame, **context)
        fitted.user_labels_, fitted.item_labels_ = read.users, read.items
        return fitted

    def fit_interactions(self: R, interactions: Interactions, **context: Any) -> R:
        """Fit on ratings already mapped (shared by the models of one window)."""
        return self._learn(interactions, lambda: self._fit(interactions.matrix, **context))

    def _learn(self: R, interactions: Interactions, step: Callable[[], None]) -> R:
        """Set the window's maps and matrix, run ``step`` (the learning), return self.

        If ``step`` raises, every learned attribute (``..._``, and the caches) is removed
        again, previous fit included: a failed fit leaves an unfitted model, never one
        whose maps pass :meth:`_check_fitted` with half-learned or stale arrays.
        """
        before = dict(self.__dict__)
        for labels in ("user_labels_", "item_labels_"):  # fit() sets them again if any
            self.__dict__.pop(labels, None)
        for cache in CACHES:  # a refit invalidates derived arrays
            self.__dict__.pop(cache, None)
        self.user_map_ = interactions.user_map
        self.item_map_ = interactions.item_map
        self.seen_ = interactions.matrix
        try:
            step()
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update({k: v for k, v in before.items() if not _learned(k)})
            raise
        return self

    # ------------------------------------------------------------ persistence
    def save(self, path: str | Path, with_seen: bool = True) -> Path:
        """Write the fitted model to ``path`` (``.npz``; no pickle).

        ``with_seen=False`` leaves out the training ratings matrix: when several models
        share one (same ratings, same id maps), it is stored once and handed to
        :meth:`load` as ``seen``.
        """
        self._check_fitted()
        arrays = {f"m_{key}": value for key, value in self._state().items()}
        meta = {"format": MODEL_FORMAT, "class": type(self).__name__,
                "config": self.config.to_dict()}
        path = Path(path)
        if path.suffix != ".npz":  # keep the .npz suffix (np.load and tools expect it)
            path = path.with_name(path.name + ".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        if with_seen:
            arrays.update(seen_indptr=self.seen_.indptr, seen_indices=self.seen_.indices,
                          seen_data=self.seen_.data)
        # string ids as numpy unicode arrays (fixed width: no pickle needed to read them)
        for name, labels in (("user_labels", self.user_labels_),
                             ("item_labels", self.item_labels_)):
            if labels is not None:
                arrays[name] = np.asarray(labels.labels, dtype=str)
        save_npz(path, meta=np.array(json.dumps(meta)), user_ids=self.user_map_.ids,
                 item_ids=self.item_map_.ids, **arrays)
        return path

    @classmethod
    def load(cls: type[R], path: str | Path,
             seen: sp.csr_matrix | Callable[[IdMap], sp.csr_matrix] | None = None) -> R:
        """Load a model written by :meth:`save` (checks format and class).

        ``seen``: the training ratings matrix, for a file saved ``with_seen=False``; or a
        function of the model's movie map that builds it, called (and its result checked)
        only when ``seen_`` is first read: a server whose requests never read it does not
        pay for it (the content model's copy of the ratings over its own movies: 1.5 s and
        100 MB of each worker at 32M ratings).
        """
        path = Path(path)
        if not path.is_file():
            raise ArtifactError(f"{path}: no such model file")
        arrays = load_npz(path)  # read-only views of the file, shared by processes
        try:
            meta = json.loads(str(arrays.pop("meta")))
            if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
                raise ValueError("not an object with a config")
            model_ids = (arrays.pop("user_ids"), arrays.pop("item_ids"))
        except (KeyError, ValueError, RecursionError):
            raise ArtifactError(f"{path}: no model metadata and id maps (not a model file "
                                "saved by reco)") from None
        if meta.get("format") != MODEL_FORMAT:
            raise ArtifactError(
                f"{path}: model format {meta.get('format')!r}, expected {MODEL_FORMAT}")
        name = meta.get("class")
        klass = _registered(name) if isinstance(name, str) else None
        if klass is None or not issubclass(klass, cls):
            raise ArtifactError(f"{path}: holds a {str(name)[:80]!r}, not a {cls.__name__}")
        try:
            model = klass(klass.config_class.from_dict(meta["config"]))
        except (ConfigError, TypeError, ValueError) as exc:  # written by another reco
            message = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            raise ArtifactError(f"{path}: model config: {message}") from None
        model.user_map_ = _id_map(path, model_ids[0], "user")
        model.item_map_ = _id_map(path, model_ids[1], "movie")
        shape = (len(model.user_map_), len(model.item_map_))
        if "seen_indptr" in arrays:
            try:
                seen = sp.csr_matrix(
                    (arrays.pop("seen_data"), arrays.pop("seen_indices"),
                     arrays.pop("seen_indptr")), shape=shape)
            except (KeyError, ValueError, TypeError):
                raise ArtifactError(f"{path}: the ratings matrix is not a valid CSR matrix "
                                    f"of {shape[0]} users x {shape[1]} movies") from None
        elif seen is None:
            raise ArtifactError(f"{path}: saved without its ratings matrix; pass seen=")
        if callable(seen):
            model.__dict__["_pending_seen"] = _deferred_seen(path, seen, model.item_map_,
                                                              shape)
        else:
            _check_shared_seen(path, seen, shape)
            model.seen_ = seen
        for name, kind, ids in (("user_labels", "user", model.user_map_.ids),
                                ("item_labels", "movie", model.item_map_.ids)):
            if name in arrays:
                labels = np.asarray(arrays.pop(name))
                # the codes are 1..n, one per label, in the labels' sorted order
                if labels.dtype.kind != "U" or labels.ndim != 1 or (
                        labels.size > 1 and not bool(np.all(labels[1:] > labels[:-1]))) or (
                        ids.size and (int(ids.min()) < 1 or int(ids.max()) > labels.size)):
                    raise ArtifactError(f"{path}: {name} are not the sorted distinct strings "
                                        f"the {kind} ids were mapped from")
                setattr(model, f"{name}_", Labels(labels, kind))
        state = {k[2:]: v for k, v in arrays.items() if k.startswith("m_")}
        _check_state(path, model, state)
        model._load_state(state)
        return model
