"""The serving layer: artifacts loaded once, answers for the API and the page.

Filtering (genres, excluded ids, year range) happens before the top-k cut, so exactly k
items come back whenever k eligible movies exist: when the ranker's candidates run short
after filtering, the best eligible movies by CF score are added and scored by the same
ranker. Unknown users get the most liked eligible movies, marked ``fallback``.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from reco.columns import GENRE, GENRES, MOVIE_ID, TITLE, USER_ID, YEAR
from reco.exceptions import UnknownIdError
from reco.ranker import predict
from reco.ranking_features import RANK_FEATURES, build_rows, to_matrix
from reco.recommender import top_k
from reco.training import load_model

log = logging.getLogger(__name__)
LIKED = 4.0  # ratings that can explain a recommendation ("because you liked ...")


@dataclass(frozen=True)
class Filters:
    """What the caller allows: genres (any of), excluded movie ids, a year range."""

    genres: tuple[str, ...] = ()
    exclude: tuple[int, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    family: bool = False


def normalise(text: str) -> str:
    """Lower-case and strip accents, so "Amelie" finds "Amélie"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@dataclass
class RecoService:
    """Everything the API answers from, loaded once from an artifact directory."""

    artifacts: Path
    model: Any
    catalog: pl.DataFrame
    manifest: dict[str, Any]
    _search_keys: list[str] = field(default_factory=list)
    _genres: list[str] = field(default_factory=list)
    # Catalog as arrays, built once at load: requests then filter with NumPy only.
    _ids: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    _years: np.ndarray = field(default_factory=lambda: np.empty(0))
    _genre_masks: dict[str, np.ndarray] = field(default_factory=dict)
    _family: np.ndarray | None = None
    _json: dict[int, dict[str, Any]] = field(default_factory=dict)

    def _index_catalog(self) -> None:
        catalog = self.catalog
        self._ids = catalog[MOVIE_ID].to_numpy().astype(np.int64)
        self._years = catalog[YEAR].to_numpy(allow_copy=True).astype(float)
        genres = catalog[GENRES].to_list()
        self._genre_masks = {g: np.array([g in (gs or []) for gs in genres]) for g in self._genres}
        if "family" in catalog.columns:
            self._family = catalog["family"].fill_null(False).to_numpy()
        self._json = {int(r[MOVIE_ID]): self._movie_json(r) for r in catalog.iter_rows(named=True)}

    @classmethod
    def load(cls, artifacts: str | Path) -> RecoService:
        model, catalog, manifest = load_model(artifacts)
        catalog = catalog.sort(MOVIE_ID)
        service = cls(Path(artifacts), model, catalog, manifest)
        service._search_keys = [normalise(t) for t in catalog[TITLE].to_list()]
        counts = model.stage_.tables.movies.select(MOVIE_ID, "n_ratings")
        service.catalog = catalog.join(counts, on=MOVIE_ID, how="left").with_columns(
            pl.col("n_ratings").fill_null(0))
        service._genres = sorted({g for gs in catalog[GENRES].to_list() for g in gs})
        service._index_catalog()
        log.info("serving %d movies, %d users from %s", catalog.height,
                 len(model.user_map_), artifacts)
        return service

    # ------------------------------------------------------------ lookups
    @property
    def genres(self) -> list[str]:
        return self._genres

    @property
    def has_family_flag(self) -> bool:
        return "family" in self.catalog.columns

    def movie(self, movie_id: int) -> dict[str, Any]:
        found = self._json.get(int(movie_id))
        if found is None:
            raise UnknownIdError(f"unknown movie id {movie_id}")
        return dict(found)

    @staticmethod
    def _movie_json(row: dict[str, Any]) -> dict[str, Any]:
        return {"movie_id": row[MOVIE_ID], "title": row[TITLE], "year": row[YEAR],
                "genres": list(row[GENRES] or []), "n_ratings": row.get("n_ratings", 0)}

    def user(self, user_id: int) -> dict[str, Any]:
        tables = self.model.stage_.tables
        row = tables.users.filter(pl.col(USER_ID) == user_id)
        if row.is_empty():
            raise UnknownIdError(f"unknown user id {user_id}")
        stats = row.row(0, named=True)
        top = (tables.user_genres.filter(pl.col(USER_ID) == user_id)
               .sort(["n_ratings", "rating_mean"], descending=True).head(5))
        return {
            "user_id": user_id, "n_ratings": stats["n_ratings"],
            "rating_mean": round(stats["rating_mean"], 3), "like_rate": round(stats["like_rate"], 3),
            "top_genres": [{"genre": g, "n_ratings": n, "rating_mean": round(m, 3)}
                           for g, n, m in top.select(GENRE, "n_ratings", "rating_mean").iter_rows()],
        }

    def search(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        """Titles containing ``query`` (case and accent insensitive), prefix matches first,
        then the most rated."""
        needle = normalise(query.strip())
        if not needle:
            return []
        hits = [(not key.startswith(needle), i) for i, key in enumerate(self._search_keys)
                if needle in key]
        if not hits:
            return []
        rows = self.catalog[[i for _, i in hits]].with_columns(
            pl.Series("_later", [later for later, _ in hits]))
        rows = rows.sort(["_later", "n_ratings", MOVIE_ID], descending=[False, True, False])
        return [self._movie_json(r) for r in rows.head(limit).iter_rows(named=True)]

    # ------------------------------------------------------------ eligibility
    def _eligible(self, filters: Filters, ids: np.ndarray | None = None) -> np.ndarray:
        """Mask over ``ids`` (default: the model's items, in ``item_map_`` order)."""
        ids = self.model.item_map_.ids if ids is None else ids
        pos = np.minimum(np.searchsorted(self._ids, ids), max(self._ids.size - 1, 0))
        known = self._ids[pos] == ids
        mask = known.copy()
        if filters.genres:
            mask &= np.any([self._genre_masks[g][pos] for g in filters.genres], axis=0)
        if filters.exclude:
            mask &= ~np.isin(ids, np.asarray(filters.exclude))
        if filters.year_min is not None:
            mask &= self._years[pos] >= filters.year_min
        if filters.year_max is not None:
            mask &= self._years[pos] <= filters.year_max
        if filters.family and self._family is not None:
            mask &= self._family[pos]
        return mask

    # ------------------------------------------------------------ recommend
    def recommend(self, user_id: int, k: int = 10, exclude_seen: bool = True,
                  filters: Filters | None = None) -> dict[str, Any]:
        filters = filters or Filters()
        eligible = self._eligible(filters)
        model = self.model
        if user_id not in model.user_map_:
            popular = model.stage_.popular
            scores = np.where(eligible, popular.scores_, -np.inf)
            idx, vals = top_k(scores[None, :], k)
            items = [(i, v, "popular with many users") for i, v in zip(idx[0], vals[0]) if i >= 0]
            return self._answer(user_id, k, items, fallback=True)
        user = model.user_map_.index(user_id)
        scores = model._score_users(np.array([user]))[0].copy()
        if exclude_seen:
            seen = model.seen_[user].indices
            eligible = eligible.copy()
            eligible[seen] = False
        scores[~eligible] = -np.inf
        short = k - int(np.isfinite(scores).sum())
        if short > 0:
            self._top_up(user_id, scores, eligible, short)
        idx, vals = top_k(scores[None, :], k)
        picked = [int(i) for i in idx[0] if i >= 0]
        reasons = self._reasons(user, picked)
        items = [(i, v, reasons[n]) for n, (i, v) in enumerate(zip(picked, vals[0]))]
        return self._answer(user_id, k, items, fallback=False)

    def _top_up(self, user_id: int, scores: np.ndarray, eligible: np.ndarray, short: int) -> None:
        """Score the best eligible non-candidates (by CF) with the ranker."""
        model = self.model
        cf = model.stage_.cf._score_users(np.array([model.stage_.cf.user_map_.index(user_id)]))[0]
        cf = np.where(eligible & ~np.isfinite(scores), cf, -np.inf)
        idx, _ = top_k(cf[None, :], short)
        extra = idx[0][idx[0] >= 0]
        if extra.size == 0:
            return
        pairs = pl.DataFrame({USER_ID: np.full(extra.size, user_id, dtype=np.int32),
                              MOVIE_ID: model.item_map_.ids[extra].astype(np.int32)})
        rows = build_rows(pairs, model.stage_)
        scores[extra] = predict(model.ranker_, to_matrix(rows, RANK_FEATURES), RANK_FEATURES)

    def _reasons(self, user: int, items: list[int]) -> list[str]:
        """"Because you liked <title>": the liked movie closest in CF space; else genre."""
        model = self.model
        row = model.seen_[user]
        liked = row.indices[row.data >= LIKED]
        if liked.size == 0 or not items:
            return ["recommended for your ratings"] * len(items)
        unit = model.stage_.cf.unit_item_vectors()
        nearest = liked[np.argmax(unit[items] @ unit[liked].T, axis=1)]
        titles = [self._json.get(int(model.item_map_.ids[j]), {}).get(TITLE, str(j))
                  for j in nearest]
        return [f"because you liked {title}" for title in titles]

    def _answer(self, user_id: int, k: int, items: list[tuple[int, float, str]],
                fallback: bool) -> dict[str, Any]:
        ids = self.model.item_map_.ids
        out = []
        for index, score, reason in items:
            movie = self.movie(int(ids[index]))
            movie.update(score=round(float(score), 6), reason=reason)
            out.append(movie)
        return {"user": user_id, "k": k, "fallback": fallback, "items": out,
                "model_version": self.manifest.get("created_at")}

    # ------------------------------------------------------------ similar
    def similar(self, movie_id: int, k: int = 10, filters: Filters | None = None) -> dict[str, Any]:
        """Nearest titles: content and CF cosine averaged where both exist; content alone
        for a movie with no ratings (the content model covers every movie)."""
        filters = filters or Filters()
        anchor = self.movie(movie_id)
        stage = self.model.stage_
        content, cf = stage.content, stage.cf
        ids = content.item_map_.ids if content is not None else cf.item_map_.ids
        total = np.zeros(ids.size)
        parts = np.zeros(ids.size)
        for part in (content, cf):
            if part is None or movie_id not in part.item_map_:
                continue
            unit = part.unit_item_vectors()
            sims = unit @ unit[part.item_map_.index(movie_id)]
            rows = part.item_map_.indices(ids, missing="mask")
            known = rows >= 0
            total[known] += sims[rows[known]]
            parts[known] += 1
        if not parts.any():
            raise UnknownIdError(f"movie {movie_id} has neither text nor ratings to compare")
        scores = np.where(parts > 0, total / np.maximum(parts, 1), -np.inf)
        mask = self._eligible(filters, ids)
        scores[~mask | (ids == movie_id)] = -np.inf
        idx, vals = top_k(scores[None, :], k)
        items = []
        for i, v in zip(idx[0], vals[0]):
            if i >= 0:
                movie = self.movie(int(ids[i]))
                movie["score"] = round(float(v), 6)
                items.append(movie)
        return {"movie": anchor, "k": k, "items": items}
