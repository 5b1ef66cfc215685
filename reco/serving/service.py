"""The serving layer: artifacts loaded once, answers for the API and the page.

Filtering (genres, excluded ids, year range) happens before the top-k cut, so exactly k
items come back whenever k eligible movies exist: when the ranker's candidates run short
after filtering, the best eligible movies by CF score are added and scored by the same
ranker. Unknown users get the most liked eligible movies, marked ``fallback``. A person
the model never saw can send ratings instead (:meth:`RecoService.recommend_ratings`):
they are folded in and ranked by the same two stages, without retraining.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from reco._numeric import top_k
from reco.artifacts.model_dir import load_model, load_titles, served_catalog, title_index
from reco.columns import GENRE, GENRES, MOVIE_ID, TITLE, USER_ID, YEAR
from reco.exceptions import ArtifactError, UnknownIdError
from reco.ranking.explain import explain as explain_row
from reco.ranking.like import like_features, like_probability
from reco.ranking.schema import LIKE_FEATURES
from reco.ranking.search import TitleIndex
from reco.ranking.user_state import UserContext

log = logging.getLogger(__name__)
LIKED = 4.0  # ratings that can explain a recommendation ("because you liked ...")
FAMILY_THRESHOLD = 0.5  # P(family) at or above which family=true keeps a movie
#: titles per space a /similar answer is chosen from on an indexed catalog (at least 4 k)
SIMILAR_POOL = 200
#: What the average user of a fallback "liked", in its explanations.
AVERAGE_LIKED = "what most users liked"
#: A recommended item: model item index, ranker score, reason, and its like-model row
#: when the ranking already computed it (None: computed when answering).
Item = tuple[int, float, str, "np.ndarray | None"]
#: Catalog columns shown with each movie when the artifacts have them (text models).
OPTIONAL_COLUMNS = ("genres_predicted", "family")


@dataclass(frozen=True)
class Filters:
    """What the caller allows: genres (any of), excluded movie ids, a year range."""

    genres: tuple[str, ...] = ()
    exclude: tuple[int, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    family: bool = False


@dataclass
class RecoService:
    """Everything the API answers from, loaded once from an artifact directory."""

    artifacts: Path
    model: Any
    catalog: pl.DataFrame
    manifest: dict[str, Any]
    _search: TitleIndex | None = None
    _genres: list[str] = field(default_factory=list)
    # Catalog as arrays, built once at load: requests then filter with NumPy only.
    _ids: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    _years: np.ndarray = field(default_factory=lambda: np.empty(0))
    _genre_masks: dict[str, np.ndarray] = field(default_factory=dict)
    _family: np.ndarray | None = None
    _columns: dict[str, list[Any]] = field(default_factory=dict)
    _n_ratings: np.ndarray = field(default_factory=lambda: np.empty(0))
    _item_pos: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))

    def _index_catalog(self) -> None:
        catalog = self.catalog
        self._ids = catalog[MOVIE_ID].to_numpy().astype(np.int64)
        self._years = catalog[YEAR].to_numpy(allow_copy=True).astype(float)
        # one explode for every genre, not a list scan per genre (0.3 s at 87k movies)
        exploded = catalog.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
                                  GENRES).explode(GENRES).drop_nulls(GENRES)
        rows, names = exploded["row"].to_numpy(), exploded[GENRES].to_numpy()
        self._genre_masks = {}
        for g in self._genres:
            mask = np.zeros(catalog.height, dtype=bool)
            mask[rows[names == g]] = True
            self._genre_masks[g] = mask
        if "family" in catalog.columns:
            self._family = (catalog["family"].cast(pl.Float64).fill_null(0.0)
                            >= FAMILY_THRESHOLD).to_numpy()
        shown = [c for c in (MOVIE_ID, TITLE, YEAR, GENRES, "n_ratings", "rating_mean")
                 + OPTIONAL_COLUMNS
                 if c in catalog.columns]
        self._columns = {c: catalog[c].to_list() for c in shown}
        self._n_ratings = catalog["n_ratings"].to_numpy()
        if self._search is None:  # a version from before titles.npz
            log.info("the version stores no title index: building it")
            self._search = title_index(catalog)
        # titles in reading order beside the stored one ("Matrix, The (1999)" is kept)
        self._columns["display_title"] = self._search.display
        self._columns["alternate_titles"] = self._search.alternates
        # catalog position of every movie the model ranks (-1: not in the catalog)
        self._item_pos = self._positions(self.model.item_map_.ids)

    def _positions(self, ids: np.ndarray) -> np.ndarray:
        pos = np.minimum(np.searchsorted(self._ids, ids), max(self._ids.size - 1, 0))
        return np.where(self._ids[pos] == ids, pos, -1) if self._ids.size else np.full(ids.size, -1)

    @classmethod
    def load(cls, artifacts: str | Path, *, checksums: bool = True) -> RecoService:
        """Verify and load a version (a store: its current one) and index it for serving;
        ``ArtifactError`` when it fails verification or holds features only.
        ``checksums=False``: see :func:`reco.artifacts.model_dir.load_model`."""
        model, catalog, manifest = load_model(artifacts, checksums=checksums)
        served = served_catalog(catalog, model.stage_)
        service = cls(Path(artifacts), model, served, manifest,
                      load_titles(artifacts, manifest, served))
        service._genres = sorted(catalog[GENRES].explode().drop_nulls().unique().to_list())
        service._index_catalog()
        _ = model.stage_.store  # build the array views now, not on the first request
        service._similar_index()
        service.smoke()  # a version that cannot answer is not served
        log.info("version %s loaded: %d movies, %d users", manifest.get("version"),
                 catalog.height, len(model.user_map_))
        return service

    @property
    def version(self) -> str | None:
        """The version id served (``versions/<id>`` of the store)."""
        return self.manifest.get("version")

    def smoke(self) -> dict[str, Any]:
        """One real recommendation and one similar-titles answer, checked: what /health
        runs. Raises ``ArtifactError`` when the model answers nothing or non-finite scores."""
        users = self.model.user_map_.ids
        user = int(users[0]) if users.size else 0
        answer = self.recommend(user, k=1)
        scores = [item["score"] for item in answer["items"]]
        if len(scores) != 1 or not np.isfinite(scores).all():
            raise ArtifactError(f"the smoke recommendation for user {user} gave {scores}")
        movie = int(self._ids[self._item_pos[0]]) if self._item_pos.size and \
            self._item_pos[0] >= 0 else None
        if movie is not None:
            self.similar(movie, k=1)
        return {"user_id": user, "movie_id": movie}

    # ------------------------------------------------------------ lookups
    @property
    def genres(self) -> list[str]:
        return self._genres

    @property
    def rating_scale(self) -> tuple[float, float]:
        """The lowest and highest rating of the training data (what POST may send)."""
        scale = self.manifest.get("data", {}).get("scale") or {}
        return float(scale.get("low", 0.5)), float(scale.get("high", 5.0))

    @property
    def has_family_flag(self) -> bool:
        return "family" in self.catalog.columns

    def movie(self, movie_id: int) -> dict[str, Any]:
        pos = int(self._positions(np.array([movie_id], dtype=np.int64))[0])
        if pos < 0:
            raise UnknownIdError(f"unknown movie id {movie_id}")
        return self._movie_at(pos)

    def _movie_at(self, pos: int) -> dict[str, Any]:
        out = {name: values[pos] for name, values in self._columns.items()}
        out[GENRES] = list(out[GENRES] or [])
        out["alternate_titles"] = list(out["alternate_titles"])
        if out.get("rating_mean") is not None:  # the training data's average, for the page
            out["rating_mean"] = round(float(out["rating_mean"]), 2)
        if "family" in out and out["family"] is not None:
            out["family"] = round(float(out["family"]), 4)
        return out

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
            "rating_mean": round(stats["rating_mean"], 3),
            "like_rate": round(stats["like_rate"], 3),
            "top_genres": [
                {"genre": g, "n_ratings": n, "rating_mean": round(m, 3)}
                for g, n, m in top.select(GENRE, "n_ratings", "rating_mean").iter_rows()],
        }

    def sample_users(self, limit: int = 20) -> dict[str, Any]:
        """Known (trained) users to pick from, the most active first (ties: lower id), with
        their rating counts, and how many there are: what the page's user picker shows."""
        users = self.model.stage_.tables.users.select(USER_ID, "n_ratings")
        top = users.sort(["n_ratings", USER_ID], descending=[True, False]).head(limit)
        return {"users": [{"user_id": int(u), "n_ratings": int(n)} for u, n in top.iter_rows()],
                "total": users.height}

    def search(self, query: str, limit: int = 20) -> list[dict[str, Any]]:
        """The titles ``query`` means, best first (:mod:`reco.ranking.search`: exact,
        prefix, every word, one typo; a year in the query first; then the most rated)."""
        if self._search is None:
            return []
        return [self._movie_at(int(p)) for p in self._search.search(query, limit).positions]

    # ------------------------------------------------------------ eligibility
    def _eligible(self, filters: Filters, ids: np.ndarray | None = None,
                  positions: np.ndarray | None = None) -> np.ndarray:
        """Mask over ``ids`` (default: the model's items, in ``item_map_`` order);
        ``positions`` are their catalog positions when already known."""
        if ids is None:
            ids, positions = self.model.item_map_.ids, self._item_pos
        known = self._positions(ids) if positions is None else positions
        mask = known >= 0
        pos = np.maximum(known, 0)
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
                  filters: Filters | None = None, explain: bool = False) -> dict[str, Any]:
        """Top ``k`` for a known user; popular titles (``fallback``) for an unknown one.
        ``explain``: each item carries why the like model gave its P(like)."""
        filters = filters or Filters()
        if user_id not in self.model.user_map_:
            context = self.model.average_user_context()
            return self._answer(user_id, k, self._popular(k, filters, context=context),
                                fallback=True, context=context, explain=explain)
        context = self.model.stage_.store.known_users(np.array([user_id]))
        return self._answer(user_id, k, self._ranked(context, k, exclude_seen, filters),
                            fallback=False, context=context, explain=explain)

    def recommend_ratings(self, movie_ids: list[int], ratings: list[float],
                          timestamps: list[int] | None = None, k: int = 10,
                          filters: Filters | None = None, explain: bool = False, *,
                          exclude_seen: bool = True) -> dict[str, Any]:
        """Top ``k`` for a person the model never saw, from their ratings (fold-in, then
        the same candidates and ranker as a known user; nothing is retrained).

        Movies the model does not know are ignored and listed in ``ignored_movie_ids``;
        when none is known, popular titles are served (``fallback``).
        """
        filters = filters or Filters()
        known = self.model.stage_.store.movies.indices(np.asarray(movie_ids, dtype=np.int64),
                                                       missing="mask") >= 0
        ignored = sorted({int(m) for m, ok in zip(movie_ids, known) if not ok})
        if not known.any():
            context = self.model.average_user_context()
            answer = self._answer(None, k, self._popular(k, filters, exclude=movie_ids,
                                                         context=context),
                                  fallback=True, context=context, explain=explain)
        else:
            context = self.model.new_user_context(movie_ids, ratings, timestamps)
            answer = self._answer(None, k, self._ranked(context, k, exclude_seen, filters),
                                  fallback=False, context=context, explain=explain)
        answer["ignored_movie_ids"] = ignored
        return answer

    # ------------------------------------------------------------ stored ratings (issue 16)
    @property
    def rating_step(self) -> float:
        """The grid of the training data's ratings (0.5: half stars)."""
        scale = self.manifest.get("data", {}).get("scale") or {}
        return float(scale.get("step", 0.5))

    @property
    def like_threshold(self) -> float:
        """A rating at or above this is a like: the threshold the like model learned."""
        return float(self.model.config.like_threshold)

    @property
    def max_user_id(self) -> int:
        """The largest user id the model was trained on (-1: none)."""
        ids = self.model.user_map_.ids
        return int(ids.max()) if ids.size else -1

    @property
    def catalogue_size(self) -> int:
        """How many movies the model can recommend."""
        return len(self.model.item_map_)

    def known_movies(self, movie_ids: list[int]) -> list[bool]:
        """Whether each movie is in the catalog (stored ratings of others are refused)."""
        return (self._positions(np.asarray(movie_ids, dtype=np.int64)) >= 0).tolist()

    def training_ratings(self, user_id: int) -> tuple[np.ndarray, np.ndarray]:
        """The movie ids and ratings a trained user has in the model (empty for others):
        one row of the CF model's rating matrix (what ``known_users(...).seen`` holds,
        without building the rest of the user's context)."""
        cf = self.model.stage_.cf
        row = int(cf.user_map_.indices(np.array([user_id], dtype=np.int64), missing="mask")[0])
        if row < 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        seen = cf.seen_[row]
        return cf.item_map_.ids[seen.indices].astype(np.int64), seen.data.astype(np.float32)

    def recommend_stored(self, user_id: int, stored: list[tuple[int, float]], k: int = 10,
                         exclude_seen: bool = True, filters: Filters | None = None,
                         explain: bool = False) -> dict[str, Any]:
        """Top ``k`` for a user with ratings in the feedback store (``stored``: movie and
        rating, oldest first): their training ratings and the stored ones (a stored rating
        replaces the training one of the same movie) are folded in as for
        :meth:`recommend_ratings` and ranked by the same two stages; the user's trained
        vectors are not used, so a stored rating counts at once, without retraining."""
        movies, ratings = self._with_stored(user_id, stored)
        answer = self.recommend_ratings(movies, ratings, None, k, filters, explain,
                                        exclude_seen=exclude_seen)
        answer["user"] = user_id
        answer["stored_ratings"] = len(stored)
        return answer

    def _with_stored(self, user_id: int, stored: list[tuple[int, float]],
                     ) -> tuple[list[int], list[float]]:
        """A user's training ratings with the stored ones after them (a stored rating
        replaces the training one of its movie). No timestamps: training ones are not kept
        per rating, so all are dated at the model's newest rating, and the order (training,
        then stored oldest first) says which are the latest, as for POST /recommend."""
        new_movies = np.array([m for m, _ in stored], dtype=np.int64)
        new_ratings = np.array([r for _, r in stored], dtype=np.float32)
        movies, ratings = self.training_ratings(user_id)
        kept = ~np.isin(movies, new_movies)
        return (np.concatenate([movies[kept], new_movies]).tolist(),
                np.concatenate([ratings[kept], new_ratings]).tolist())

    def _popular(self, k: int, filters: Filters, exclude: list[int] | None = None,
                 context: UserContext | None = None) -> list[Item]:
        """The ``k`` most liked eligible movies, ordered by the ranker for the average
        user (``context``), so their scores are on the scale of every other answer's."""
        eligible = self._eligible(filters)
        if exclude:
            eligible &= ~np.isin(self.model.item_map_.ids, np.asarray(exclude))
        idx, _ = self.model.stage_.popular.top_allowed(eligible, k)
        idx = np.asarray(idx, dtype=np.int64)
        if idx.size == 0:
            return []
        context = context or self.model.average_user_context()
        scores = self.model.score_context_pairs(context, np.zeros(idx.size, np.int64),
                                                self.model.item_map_.ids[idx])
        # best first; a tie keeps the popularity order
        order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
        return [(int(idx[n]), float(scores[n]), "popular with many users", None)
                for n in order]

    def _ranked(self, context: UserContext, k: int, exclude_seen: bool,
                filters: Filters) -> list[Item]:
        model = self.model
        seen, _ = context.seen(0)
        rated = model.item_map_.indices(seen, missing="mask")
        rated = rated[rated >= 0]
        candidates, rows, ranked = model.rank_context_rows(context)
        cand = model.item_map_.indices(candidates.movie_ids)
        # each candidate's like-model row, for its P(like) (the ranker's rows start with it)
        like_rows = dict(zip(cand.tolist(), rows[:, :len(LIKE_FEATURES)]))
        if exclude_seen:
            rated_out = rated
        else:
            # rated movies are never candidates: rank them with the same ranker and let
            # them compete with the candidates, so they show up where they rank
            rated_out = rated[:0]
            extra = rated[~np.isin(rated, cand)]
            if extra.size:
                cand = np.concatenate([cand, extra])
                ranked = np.concatenate([np.asarray(ranked, dtype=np.float32),
                                         model.score_context_pairs(
                                             context, np.zeros(extra.size, np.int64),
                                             model.item_map_.ids[extra])])
        order = np.argsort(cand, kind="stable")  # item order: top_k breaks ties the same way
        cand, ranked = cand[order], np.asarray(ranked, dtype=np.float32)[order]
        ok = self._eligible(filters, model.item_map_.ids[cand], self._item_pos[cand])
        ok &= ~np.isin(cand, rated_out)
        if int(ok.sum()) >= k:  # the usual case: the top k among the ranked candidates
            idx, vals = top_k(ranked[ok][None, :], k)
            idx = np.where(idx >= 0, cand[ok][np.maximum(idx, 0)], -1)
        else:  # too few eligible candidates: top up with the best eligible others
            eligible = self._eligible(filters)
            eligible[rated_out] = False
            scores = np.full(len(model.item_map_), -np.inf, dtype=np.float32)
            scores[cand[ok]] = ranked[ok]
            self._top_up(context, scores, eligible, k - int(ok.sum()))
            idx, vals = top_k(scores[None, :], k)
        picked = [int(i) for i in idx[0] if i >= 0]
        reasons = self._reasons(self._liked(context), picked)
        return [(i, v, reasons[n], like_rows.get(i))
                for n, (i, v) in enumerate(zip(picked, vals[0]))]

    def _top_up(self, context: UserContext, scores: np.ndarray, eligible: np.ndarray,
                short: int) -> None:
        """Score the best eligible non-candidates (by CF) with the ranker."""
        store = self.model.stage_.store
        cf = (store.cf_items @ context.cf[0]).astype(np.float32)
        cf = np.where(eligible & ~np.isfinite(scores), cf, -np.inf)
        idx, _ = top_k(cf[None, :], short)
        extra = idx[0][idx[0] >= 0]
        if extra.size:
            scores[extra] = self.model.score_context_pairs(
                context, np.zeros(extra.size, np.int64), self.model.item_map_.ids[extra])

    def _liked(self, context: UserContext) -> np.ndarray:
        """Item indices of the movies the context's user rated at least ``LIKED``."""
        seen, seen_ratings = context.seen(0)
        liked = self.model.item_map_.indices(seen[seen_ratings >= LIKED], missing="mask")
        return liked[liked >= 0]

    def _nearest_liked(self, liked: np.ndarray, items: list[int]) -> list[str | None]:
        """Per item, the title of the liked movie closest to it in CF space (None: no
        liked movie other than the item itself; a rated movie is not its own reason)."""
        if liked.size == 0 or not items:
            return [None] * len(items)
        unit = self.model.stage_.cf.unit_item_vectors()
        picked = np.asarray(items)
        sims = unit[picked] @ unit[liked].T
        # a rated movie (exclude_seen=false) is not explained by itself
        sims[picked[:, None] == liked[None, :]] = -np.inf
        nearest = liked[np.argmax(sims, axis=1)]
        titles = [self._columns[TITLE][p] if p >= 0 else str(self.model.item_map_.ids[j])
                  for j, p in zip(nearest, self._item_pos[nearest])]
        return [None if np.isneginf(row).all() else title for row, title in zip(sims, titles)]

    def _reasons(self, liked: np.ndarray, items: list[int]) -> list[str]:
        """"Because you liked <title>": the liked movie closest in CF space."""
        if liked.size == 0 or not items:
            return ["recommended for your ratings"] * len(items)
        return ["you liked it" if title is None else f"because you liked {title}"
                for title in self._nearest_liked(liked, items)]

    def _answer(self, user_id: int | None, k: int, items: list[Item],
                fallback: bool, context: UserContext | None = None,
                explain: bool = False) -> dict[str, Any]:
        """The response: each item with its ``score`` (the ranker's, on [0, 1]) and its
        ``like_probability`` (the like model's P(like) for ``context``: the user, the
        folded-in person or, for a fallback, the average user); ``explain`` adds why."""
        model = self.model
        context = context or model.average_user_context()
        indices = [int(item[0]) for item in items]
        features = np.empty((len(items), len(LIKE_FEATURES)), dtype=np.float32)
        missing = [n for n, item in enumerate(items) if item[3] is None]
        for n, item in enumerate(items):
            if item[3] is not None:
                features[n] = item[3]
        if missing:  # rows the ranking did not already compute (fallbacks, top-ups)
            features[missing] = like_features(
                model.stage_, context, np.zeros(len(missing), np.int64),
                model.item_map_.ids[np.asarray(indices, dtype=np.int64)[missing]])
        like = like_probability(model.like_model_, features)
        scores = model.unit_scores(np.array([item[1] for item in items], dtype=np.float64))
        why = self._explanations(context, indices, features) if explain else None
        out = []
        for n, (index, _, reason, _) in enumerate(items):
            movie = self._movie_at(int(self._item_pos[index]))
            movie.update(score=round(float(scores[n]), 6),
                         like_probability=round(float(like[n]), 4), reason=reason)
            if why is not None:
                movie["explanation"] = why[n]
            out.append(movie)
        return {"user": user_id, "k": k, "fallback": fallback, "items": out,
                "model_version": self.version}

    # ------------------------------------------------------------ P(like), and why
    def _explanations(self, context: UserContext, indices: list[int],
                      features: np.ndarray) -> list[list[dict[str, Any]]]:
        """Per item (model item indices, with their like-model rows): the features that
        moved its P(like) most, as phrases with signed contributions (log-odds)."""
        if not indices:
            return []
        contributions = self.model.like_contributions(features)
        nearest: list[str | None] = self._nearest_liked(self._liked(context), indices)
        if context is self.model.average_user_context():
            # a fallback: "you" in the phrases is the average user, who liked no title
            nearest = [AVERAGE_LIKED] * len(indices)
        return [[r.as_dict() for r in explain_row(
                    features[n], contributions[n], LIKE_FEATURES,
                    self._words(int(self._item_pos[index]), nearest[n]),
                    rating_scale=self.rating_scale)]
                for n, index in enumerate(indices)]

    def _words(self, pos: int, liked_title: str | None) -> dict[str, str]:
        """What the phrases name: the movie's genres and the liked title closest to it."""
        words = {}
        genres = self._columns[GENRES][pos] if pos >= 0 else None
        if genres:
            words["genres"] = ", ".join(genres)
        if liked_title is not None:
            words["liked"] = liked_title
        return words

    def like(self, user_id: int, movie_id: int,
             stored: list[tuple[int, float]] | None = None) -> dict[str, Any]:
        """The seed question for one pair: P(like), the predicted rating, whether (and
        how) the user rated the movie, and the features that moved P(like) most.
        ``stored``: the user's ratings in the feedback store (movie, rating; oldest first),
        folded in with their training ones as :meth:`recommend_stored` does, so a person
        the store knows is answered too, and a stored rating counts at once.

        Raises ``UnknownIdError`` for a user neither the model nor the store knows (no
        silent substitution: the average user answers only inside a marked fallback) or
        a movie not in the catalog.
        """
        if user_id not in self.model.user_map_ and not stored:
            raise UnknownIdError(f"unknown user id {user_id}")
        pos = int(self._positions(np.array([movie_id], dtype=np.int64))[0])
        if pos < 0:
            raise UnknownIdError(f"unknown movie id {movie_id}")
        model = self.model
        if stored:
            movies, ratings = self._with_stored(user_id, stored)
            context = model.new_user_context(movies, ratings)
        else:
            context = model.stage_.store.known_users(np.array([user_id]))
        features = like_features(model.stage_, context, np.zeros(1, np.int64),
                                 np.array([movie_id], dtype=np.int64))
        contributions = model.like_contributions(features)
        # the contributions and the bias sum to the like model's log-odds: one pass
        # gives the explanation and P(like)
        margin = float(contributions[0].sum(dtype=np.float64))
        seen, seen_ratings = context.seen(0)
        hit = np.flatnonzero(seen == movie_id)
        index = int(model.item_map_.indices(np.array([movie_id]), missing="mask")[0])
        nearest = self._nearest_liked(self._liked(context), [index])[0] if index >= 0 else None
        predicted = float(features[0, LIKE_FEATURES.index("rating_pred")])
        low, high = self.rating_scale
        return {
            "user_id": user_id, "movie_id": movie_id, "title": self._columns[TITLE][pos],
            "like_probability": round(1.0 / (1.0 + math.exp(-margin)), 4),
            # the rating model's prediction, kept inside the scale ratings are given on
            "predicted_rating": (round(min(max(predicted, low), high), 2)
                                 if math.isfinite(predicted) else None),
            "rated": bool(hit.size),
            "rating": float(seen_ratings[hit[-1]]) if hit.size else None,
            "explanation": [r.as_dict() for r in explain_row(
                features[0], contributions[0], LIKE_FEATURES, self._words(pos, nearest),
                rating_scale=(low, high))],
            "model_version": self.version,
        }

    # ------------------------------------------------------------ similar
    def _similar_index(self) -> tuple[np.ndarray, list[tuple[Any, np.ndarray, np.ndarray]],
                                      np.ndarray]:
        """The movies similar titles come from (content's, else CF's), their catalog
        positions, and per space (content, CF): its unit vectors aligned to those movies
        (zero rows where the space lacks a movie) and which rows it has. Built at load, so
        a request is one matrix-vector product per space."""
        cached = self.__dict__.get("_similar_cache")
        if cached is None:
            stage = self.model.stage_
            models = [m for m in (stage.content, stage.cf) if m is not None]
            ids = models[0].item_map_.ids
            spaces = []
            for model in models:
                rows = model.item_map_.indices(ids, missing="mask")
                unit = model.unit_item_vectors()
                known = rows >= 0
                if known.all() and np.array_equal(rows, np.arange(ids.size)):
                    aligned = unit
                else:
                    aligned = np.zeros((ids.size, unit.shape[1]), dtype=unit.dtype)
                    aligned[known] = unit[rows[known]]
                spaces.append((model, aligned, known))
            cached = self.__dict__["_similar_cache"] = (ids, spaces, self._positions(ids))
        return cached

    def _similar_pool(self, movie_id: int, k: int) -> np.ndarray | None:
        """Positions (in :meth:`_similar_index`'s movies) of the titles nearest to the
        movie in the model's retrieval index, the only ones scored then; None without an
        index (a small catalog: every title is)."""
        near = self.model.index_neighbours(movie_id, max(SIMILAR_POOL, 4 * k))
        if near is None:
            return None
        ids = self._similar_index()[0]
        pos = np.minimum(np.searchsorted(ids, near), ids.size - 1)
        return pos[ids[pos] == near]

    def _similar_scores(self, movie_id: int, filters: Filters,
                        rows: np.ndarray | None) -> np.ndarray:
        """Scores of :meth:`_similar_index`'s movies at ``rows`` (None: all of them),
        -inf for the movie itself and for titles the filters leave out."""
        ids, spaces, positions = self._similar_index()
        # every title: views of the aligned arrays (no copy on the small-catalog path)
        pick: slice | np.ndarray = slice(None) if rows is None else rows
        size = ids.size if rows is None else rows.size
        total = np.zeros(size, dtype=np.float32)
        parts = np.zeros(size, dtype=np.int8)
        for model, aligned, known in spaces:
            if movie_id not in model.item_map_:
                continue
            total += aligned[pick] @ model.unit_item_vectors()[model.item_map_.index(movie_id)]
            parts += known[pick]
        scores = np.where(parts > 0, total / np.maximum(parts, 1), -np.inf)
        mask = self._eligible(filters, ids[pick], positions[pick])
        scores[~mask | (ids[pick] == movie_id)] = -np.inf
        return scores

    def similar(self, movie_id: int, k: int = 10, filters: Filters | None = None) -> dict[str, Any]:
        """Nearest titles: content and CF cosine averaged where both exist; content alone
        for a movie with no ratings (the content model covers every movie)."""
        filters = filters or Filters()
        anchor = self.movie(movie_id)
        positions = self._similar_index()[2]
        pool = self._similar_pool(movie_id, k)
        scores = None if pool is None else self._similar_scores(movie_id, filters, pool)
        if pool is not None and scores is not None and int(np.isfinite(scores).sum()) >= k:
            idx, vals = top_k(scores[None, :], k)
            idx = np.where(idx >= 0, pool[np.maximum(idx, 0)], -1)
        else:  # no index, or too few eligible titles in its pool: every title
            if not any(movie_id in model.item_map_ for model, _, _ in self._similar_index()[1]):
                raise UnknownIdError(f"movie {movie_id} has neither text nor ratings to compare")
            idx, vals = top_k(self._similar_scores(movie_id, filters, None)[None, :], k)
        items = []
        for i, v in zip(idx[0], vals[0]):
            if i >= 0:
                movie = self._movie_at(int(positions[i]))
                movie["score"] = round(float(v), 6)
                items.append(movie)
        return {"movie": anchor, "k": k, "items": items}
