"""reco's full recommender: CF + content + popularity candidates, re-ranked by XGBoost.

How the time windows are cut (no leakage)
-----------------------------------------
``fit(ratings, movies, tags=...)`` splits the ratings it is given the way
``shared/EVALUATION.md`` splits a release: for each user with at least 5 ratings, the last
``max(1, rint(0.2 n))`` by ``(timestamp, movie_id)`` form the **label window**; everything
earlier is the **feature window**. Stage-one models (ALS, the explicit rating model,
content, popularity) and the feature tables are fitted on the feature window only;
candidates are generated from them; labels (liked = rating >= ``like_threshold`` in the
label window) come from the later ratings. So the ranker learns to predict a user's
*next* likes from what was known *before* them, which is exactly the situation at
serving (and evaluation) time.

Tags are cut the same way: the feature-window content model sees a user's tags only
from before that user's first label-window rating (all tags of users without a label
window), since a tag applied while rating the label-window movies describes exactly what
the ranker is asked to predict. After the two XGBoost models are trained, stage one is
refitted on all the ratings and all the tags, and that is what ``recommend`` uses.

Work done once
--------------
Each window's ratings are mapped to ids and a CSR once (:class:`Interactions`), shared by
the four stage-one models (the content model widens it to every movie with text). The
content text pipeline (texts, TF-IDF, SVD) depends on the text only, so it runs once per
distinct text: once per fit when no tag falls in a label window, else twice (the two
windows see different tags, so their embeddings legitimately differ).

One like threshold
------------------
``HybridConfig.like_threshold`` is the only one: labels, the like model, popularity, the
feature tables, the fold-in of new users and the CF and content models all use it. A
sub-config that carries its own (``cf``, ``rating_als``, ``content``, ``features``) must
agree with it; :meth:`HybridConfig.with_like_threshold` sets them all at once.

Why it is not a :class:`~reco.models.base.Recommender`
------------------------------------------------------
A single model learns from one window's interactions and saves its arrays to one
``.npz``; this one fits on frames with timestamps (to cut windows), owns four single
models, two boosters and feature tables, and is persisted as a directory by the
artifacts layer. So it inherits only the query contract
(:class:`~reco.models.base.BaseRecommender`: recommend, batch, score, similar items,
fold-in) and has its own typed ``fit``; nothing is smuggled through ``**context`` and
no inherited method raises ``NotImplementedError``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import polars as pl

from reco.columns import GENRES, MOVIE_ID, RATING, USER_ID, YEAR
from reco.data.split import per_user_split, tags_before_label_window, test_period
from reco.exceptions import ModelFitError
from reco.features.tables import build_feature_tables
from reco.features.temporal import RecentItems, TimePopularity
from reco.models.base import BaseRecommender, Recommender
from reco.models.content import (
    ContentRecommender,
    MovieEmbeddings,
    embed_movies,
)
from reco.models.ease import EASERecommender
from reco.models.frames import movie_ids_of, read_keyed, read_movies, read_ratings
from reco.models.interactions import Interactions
from reco.models.mf import ALSRecommender, SVDRecommender
from reco.models.popularity import PopularityConfig, PopularityRecommender
from reco.ranking.booster import Booster, predict
from reco.ranking.candidates import SOURCES, Candidates, generate_candidates, index_neighbours
from reco.ranking.explain import contributions
from reco.ranking.hybrid_config import HybridConfig
from reco.ranking.label_windows import Steps, WindowRows, fit_boosters, window_rows
from reco.ranking.like import average_user, like_features, like_probability, unit_scores
from reco.ranking.pair_features import (
    LIKE_FEATURES,
    RANK_FEATURES,
    StageOne,
    build_rows,
    pair_features,
    to_matrix,
)
from reco.ranking.retrieval import index_stage
from reco.ranking.tuning import Tuned, apply_choices, tune_stage_one
from reco.ranking.user_state import UserContext

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class TextInputs:
    """What the content model reads besides ratings (see :func:`embed_movies`)."""

    movies: pl.DataFrame
    tags: pl.DataFrame | None = None
    links: pl.DataFrame | None = None
    tmdb: pl.DataFrame | None = None


def same_text(cut: TextInputs, whole: TextInputs) -> bool:
    """Whether ``cut`` (``whole`` with tags cut at a label window) holds the same text,
    so the content embeddings of one serve both: no tag was cut."""
    return cut.tags is None or (whole.tags is not None and cut.tags.height == whole.tags.height)


@dataclass(frozen=True)
class _Earlier:
    """The rows of the earlier label windows, and the manifest's account of them."""

    rows: list[WindowRows]
    report: dict[str, Any]


class HybridRecommender(BaseRecommender):
    """The two-stage recommender. ``fit(ratings, movies, tags=, links=, tmdb=)``.

    Learned: ``stage_`` (the stage-one models and tables, fitted on all ratings),
    ``ranker_`` and ``like_model_`` (XGBoost), ``window_`` (what the windows held), and
    ``user_map_`` / ``item_map_`` / ``seen_`` of all the ratings (the CF model's).
    """

    name = "reco"
    config_class = HybridConfig
    config: HybridConfig

    # ------------------------------------------------------------ fitting
    def fit(self, ratings: Any, movies: Any, *, tags: Any = None, links: Any = None,
            tmdb: pl.DataFrame | None = None,
            columns: Mapping[str, str] | None = None) -> HybridRecommender:
        """Fit both stages; see the module docstring for the windows.

        Parameters
        ----------
        ratings
            Ratings with timestamps, a Polars or pandas frame: reco's names (``user_id,
            movie_id, rating, timestamp``), MovieLens's (``userId, movieId``) or another
            alias of :data:`reco.models.frames.ALIASES`; integer or string ids (string
            ids are mapped here and given back by every query). Timestamps: Unix seconds
            or datetimes.
        movies
            ``movie_id, title, year, genres`` (the feature tables and the content text);
            MovieLens's ``movies.csv`` as read (``movieId, title, genres`` joined by
            ``|``, the year in the title) works too.
        tags, links, tmdb
            Optional content text (:func:`reco.models.content.embed_movies`); ``tags``
            needs ``user_id`` and ``timestamp`` to be cut at the label window.
        columns
            The ratings' column names, when they are none of the aliases:
            ``{"uid": "user_id", "iid": "movie_id", "stars": "rating", "t": "timestamp"}``.

        Returns
        -------
        HybridRecommender
            ``self``; nothing learned is assigned unless the whole fit succeeds.

        Raises
        ------
        DataFormatError
            A frame that is not a Polars or pandas frame, or lacks a column, or holds the
            wrong type in one; the message names it.
        """
        if movies is None:
            raise ValueError("HybridRecommender.fit needs the movies table")
        read = read_ratings(ratings, columns, timestamps=True,
                            more_movies=movie_ids_of(movies))
        ratings, movies = read.frame, read_movies(movies, read)
        tags = read_keyed(tags, "tags", [MOVIE_ID], read)
        links = read_keyed(links, "links", [MOVIE_ID], read)
        self._forget()  # a refit that fails must not leave the previous fit in place
        window = Steps("fit", log)("label window split", per_user_split, ratings)
        if window.test.is_empty():
            # bad input (a release too small), not a caller mistake: a RecoError, exit 2
            users = int(ratings[USER_ID].n_unique()) if ratings.height else 0
            raise ModelFitError(
                f"too few ratings for a label window: {ratings.height} rating(s) of {users} "
                "user(s) leave no held-out rating (a user needs >= 5 ratings, and a held-out "
                "movie must be rated in the feature window too)")
        text = TextInputs(movies, tags, links, tmdb)
        # cut at the whole label window, movies unseen in the feature window included
        label_period = test_period(window, ratings)
        feature_text = replace(text, tags=tags_before_label_window(tags, label_period))
        feature_interactions = Steps("feature window", log)(
            "id maps and rating matrix", Interactions.from_ratings, window.train)
        tuned = Steps("feature window", log)("tuning", self._tune, feature_interactions,
                                             window.test)
        config = apply_choices(self.config, tuned.report, {"cf": "cf", "item": "item"})
        stage, _, embeddings = self._stage_one(window.train, feature_text, config=config,
                                               interactions=feature_interactions,
                                               fitted=tuned.models)
        rng = np.random.default_rng(config.ranker.random_state)
        rows = [window_rows(stage, window.test, self.config, rng, "label window")]
        earlier = self._earlier_windows(window.train, feature_text, embeddings, config, rng)
        ranker, like_model, trained = fit_boosters(rows + earlier.rows, self.config)
        like_rounds = trained.pop("like_rounds")
        windows = {"feature_window_ratings": window.train.height,
                   "label_window_ratings": window.test.height, **trained,
                   "earlier_windows": earlier.report,
                   "tuning": {**tuned.report, "like_rounds": like_rounds}}
        log.info("ranker windows: %s", windows)
        # the same text (no tag was cut) gives the same embeddings: reuse them
        reuse = embeddings if same_text(feature_text, text) else None
        final, interactions, _ = self._stage_one(ratings, text, reuse,
                                                 config=config, warm=stage)
        final.retrieval = Steps("final stage", log)("retrieval index", index_stage, final,
                                                config.retrieval)
        # the tuned values are the model's config from here on (saved in the manifest)
        self.config = config
        self.stage_, self.ranker_, self.like_model_ = final, ranker, like_model
        self.window_ = windows
        self.fit_notes_ = [embeddings.fallback] if embeddings is not None and \
            embeddings.fallback else []
        self.user_map_, self.item_map_ = interactions.user_map, interactions.item_map
        self.seen_ = interactions.matrix
        self.user_labels_, self.item_labels_ = read.users, read.items
        return self

    def _earlier_windows(self, ratings: pl.DataFrame, text: TextInputs,
                         embeddings: MovieEmbeddings | None, config: HybridConfig,
                         rng: np.random.Generator) -> _Earlier:
        """The rows of ``config.earlier_windows`` earlier label windows.

        ``ratings`` (the feature window) is cut again the way ``fit`` cut all the ratings:
        each user's last fifth is an earlier label window, and a stage one fitted on what
        precedes it gives that window's features. Its rows teach the boosters the same
        thing as the label window's (a user's next likes from what was known before them)
        about other moments, so they learn from more rows than the last fifth alone gives.
        Nothing in it is later than the label window. Skipped above
        ``config.earlier_windows_max_ratings``, where one window holds rows enough and
        another stage-one fit costs most; a window too small to fit ends the search.
        """
        wanted = config.earlier_windows
        report: dict[str, Any] = {"configured": wanted, "label_window_ratings": []}
        if wanted and ratings.height > config.earlier_windows_max_ratings:
            report["skipped"] = (f"the feature window holds {ratings.height:,} ratings, over "
                                 f"earlier_windows_max_ratings={config.earlier_windows_max_ratings:,}")
            log.info("earlier windows skipped: %s", report["skipped"])
            return _Earlier([], report)
        rows: list[WindowRows] = []
        for n in range(1, wanted + 1):
            step = Steps(f"earlier window {n}", log)
            window = step("label window split", per_user_split, ratings)
            if not (window.test[RATING] >= config.like_threshold).any():
                report["stopped"] = "no like in the next earlier label window"
                break
            window_text = replace(text, tags=tags_before_label_window(
                text.tags, test_period(window, ratings)))
            if not same_text(window_text, text):
                embeddings = None  # other tags, other text: its own embeddings
            try:
                stage, _, embeddings = self._stage_one(window.train, window_text, embeddings,
                                                       config=config)
                rows.append(window_rows(stage, window.test, self.config, rng,
                                        f"earlier window {n}"))
            except ModelFitError as error:  # too little data before it: fewer windows
                report["stopped"] = str(error)
                log.info("earlier window %d not used: %s", n, error)
                break
            report["label_window_ratings"].append(window.test.height)
            ratings, text = window.train, window_text
        report["used"] = len(rows)
        return _Earlier(rows, report)

    def stage_one(self, ratings: pl.DataFrame, movies: pl.DataFrame, *,
                  tags: pl.DataFrame | None = None, links: pl.DataFrame | None = None,
                  tmdb: pl.DataFrame | None = None) -> StageOne:
        """Stage one (models and feature tables) fitted on ``ratings`` with this config."""
        return self._stage_one(ratings, TextInputs(movies, tags, links, tmdb))[0]

    def _tune(self, interactions: Interactions, label_window: pl.DataFrame) -> Tuned:
        """Fit-time tuning on the feature window (:mod:`reco.ranking.tuning`)."""
        cfg = self.config
        grids: dict[str, tuple[str, Any, Any, Any]] = {}
        if cfg.cf.feedback == "implicit" and cfg.cf.regularization is None:
            grids["cf"] = ("regularization_scale", cfg.tune.cf_regularization_scales,
                           lambda s: ALSRecommender(replace(cfg.cf, regularization_scale=s)),
                           cfg.cf.regularization_scale)
        if cfg.use_item:
            grids["item"] = ("lam", cfg.tune.item_lambdas,
                             lambda lam: EASERecommender(replace(cfg.item, lam=lam)),
                             cfg.item.lam)
        return tune_stage_one(interactions, label_window, cfg.like_threshold, cfg.tune, grids)

    def _stage_one(self, ratings: pl.DataFrame, text: TextInputs,
                   embeddings: MovieEmbeddings | None = None, *,
                   config: HybridConfig | None = None,
                   interactions: Interactions | None = None,
                   fitted: Mapping[str, Recommender] | None = None,
                   warm: StageOne | None = None,
                   ) -> tuple[StageOne, Interactions, MovieEmbeddings | None]:
        """Stage one on ``ratings``, its interactions and the content embeddings used
        (``embeddings`` when given: computed from the same text elsewhere). ``config``
        replaces this model's (the tuned values); ``interactions`` are those of
        ``ratings`` when already built; ``fitted`` holds models already fitted on them
        (``"cf"``, ``"item"``: tuning's winners); ``warm``: a stage fitted on part of
        these ratings, whose ALS factors start this one's (``config.refit_iterations``)."""
        cfg = config or self.config
        fitted = fitted or {}
        started = time.perf_counter()
        step = Steps(f"stage one on {ratings.height:,} ratings", log)
        if interactions is None:
            interactions = step("id maps and rating matrix", Interactions.from_ratings, ratings)
        rating_model = (ALSRecommender(cfg.rating_als) if cfg.rating_model == "explicit_als"
                        else SVDRecommender(cfg.rating_svd))
        cf_start: dict[str, Any] = {}
        rating_start: dict[str, Any] = {}
        if warm is not None and cfg.refit_iterations is not None:
            cf_start = {"warm_start": warm.cf,
                        "iterations": min(cfg.refit_iterations, cfg.cf.iterations)}
            if isinstance(rating_model, ALSRecommender) and \
                    isinstance(warm.rating_model, ALSRecommender):
                sweeps = cfg.rating_refit_iterations or cfg.refit_iterations
                rating_start = {"warm_start": warm.rating_model,
                                "iterations": min(sweeps, cfg.rating_als.iterations)}
        cf = fitted.get("cf") or step("implicit ALS", ALSRecommender(cfg.cf).fit_interactions,
                                      interactions, **cf_start)
        rating: Recommender = step("rating model", rating_model.fit_interactions,
                                   interactions, **rating_start)
        content = None
        if cfg.use_content:
            if embeddings is None:
                embeddings = step("content text embeddings", embed_movies, text.movies,
                                  cfg.content, text.tags, text.links, text.tmdb)
            content = step("content profiles",
                           ContentRecommender(cfg.content).fit_embeddings, interactions,
                           embeddings)
        item = (fitted.get("item") or step("EASE item-item",
                                           EASERecommender(cfg.item).fit_interactions,
                                           interactions)
                if cfg.use_item else None)
        popular = step("popularity", PopularityRecommender(
            PopularityConfig(like_threshold=cfg.like_threshold)).fit_interactions, interactions)
        tables = step("feature tables", build_feature_tables, ratings, text.movies, cfg.features)
        time_popularity = step("time popularity", TimePopularity.from_ratings, ratings,
                               interactions.item_map)
        recent = step("recent items", RecentItems.from_ratings, ratings)
        log.info("stage one on %d ratings in %.1fs", ratings.height, time.perf_counter() - started)
        stage = StageOne(cf, rating, content, popular, tables,
                         text.movies.select(MOVIE_ID, GENRES, YEAR), time_popularity, recent,
                         like_threshold=cfg.like_threshold, item=item)
        return stage, interactions, embeddings

    # ------------------------------------------------------------ scoring
    def rank_context(self, context: UserContext) -> tuple[Candidates, np.ndarray]:
        """The candidates of the users in ``context`` and their ranker scores."""
        candidates, _, scores = self.rank_context_rows(context)
        return candidates, scores

    def rank_context_rows(self, context: UserContext,
                          ) -> tuple[Candidates, np.ndarray, np.ndarray]:
        """:meth:`rank_context` with the candidates' feature rows (``RANK_FEATURES``),
        whose first ``len(LIKE_FEATURES)`` columns are the like model's rows of the same
        pairs (the schema puts the like features first), so P(like) of a candidate needs
        no second pass over the features."""
        self._check_fitted()
        stage = self.stage_
        candidates = generate_candidates(context, stage.store, self.config.candidates,
                                         self.config.retrieval)
        extra = {f"rank_in_{s}": candidates.ranks[s] for s in SOURCES}
        features = pair_features(stage, context, candidates.rows, candidates.movie_ids,
                                 RANK_FEATURES, extra)
        return candidates, features, predict(self.ranker_, features, RANK_FEATURES)

    def score_context_pairs(self, context: UserContext, rows: np.ndarray,
                            movie_ids: np.ndarray) -> np.ndarray:
        """Ranker scores of movies that are not candidates (no source rank; CF rank
        among these pairs), e.g. to top up a filtered list or to rank rated movies."""
        features = pair_features(self.stage_, context, rows, movie_ids, RANK_FEATURES)
        return predict(self.ranker_, features, RANK_FEATURES)

    def index_neighbours(self, movie_id: int, n: int) -> np.ndarray | None:
        """Ids of the movies nearest to ``movie_id`` in the retrieval index, increasing
        (:func:`reco.ranking.candidates.index_neighbours`); None without one."""
        self._check_fitted()
        return index_neighbours(self.stage_.store, self.config.retrieval, movie_id, n)

    def new_user_context(self, movie_ids: np.ndarray | list[int], ratings: np.ndarray | list[float],
                         timestamps: np.ndarray | list[int] | None = None) -> UserContext:
        """A person the model never saw, folded in from their ratings (see
        :meth:`FeatureStore.new_user <reco.ranking.stage_arrays.FeatureStore.new_user>`)."""
        self._check_fitted()
        return self.stage_.store.new_user(movie_ids, ratings, timestamps)

    def _dense(self, context: UserContext, with_seen: bool = False) -> np.ndarray:
        """Ranker scores over ``item_map_`` (-inf off the candidates). ``with_seen``: the
        movies each user rated are scored too (they are never candidates), so a list
        that keeps them shows them where the ranker puts them."""
        candidates, scores = self.rank_context(context)
        out = np.full((len(context), len(self.item_map_)), -np.inf, dtype=np.float32)
        out[candidates.rows, self.item_map_.indices(candidates.movie_ids)] = scores
        if with_seen:
            rows = np.repeat(np.arange(len(context)), np.diff(context.seen_indptr))
            items = self.item_map_.indices(context.seen_movies, missing="mask")
            keep = items >= 0
            if keep.any():
                out[rows[keep], items[keep]] = self.score_context_pairs(
                    context, rows[keep], context.seen_movies[keep])
        return out

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self._dense(self.stage_.store.known_users(self.user_map_.ids[users]))

    def _ranking_scores(self, users: np.ndarray, exclude_seen: bool) -> np.ndarray:
        # rated movies are never candidates: with exclude_seen=False they are scored by
        # the ranker and merged with the candidates before the top k
        context = self.stage_.store.known_users(self.user_map_.ids[users])
        scores = self._dense(context, with_seen=not exclude_seen)
        if exclude_seen:
            self._mask_seen(scores, users)
        return scores

    def predict_like(self, user_ids: np.ndarray, movie_ids: np.ndarray) -> np.ndarray:
        """P(like) for (user, movie) pairs, from the like/dislike model."""
        self._check_fitted()
        pairs = pl.DataFrame({USER_ID: self._user_codes(user_ids).astype(np.int32),
                              MOVIE_ID: self._item_codes(movie_ids).astype(np.int32)})
        rows = build_rows(pairs, self.stage_, LIKE_FEATURES)
        return predict(self.like_model_, to_matrix(rows, LIKE_FEATURES), LIKE_FEATURES)

    def like_context_pairs(self, context: UserContext, rows: np.ndarray,
                           movie_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The like model's feature rows of pairs of ``context`` (any user: known, folded
        in, or :meth:`average_user_context`) and their P(like)."""
        self._check_fitted()
        features = like_features(self.stage_, context, rows, movie_ids)
        return features, like_probability(self.like_model_, features)

    def like_contributions(self, features: np.ndarray) -> np.ndarray:
        """Per-feature contributions (log-odds, bias last) of like-model rows; see
        :mod:`reco.ranking.explain`."""
        self._check_fitted()
        return contributions(self.like_model_, features, LIKE_FEATURES)

    def average_user_context(self) -> UserContext:
        """The average user, for answers with no user (:mod:`reco.ranking.like`)."""
        self._check_fitted()
        return average_user(self.stage_.store)

    def unit_scores(self, scores: np.ndarray) -> np.ndarray:
        """Ranker scores on [0, 1] (:func:`reco.ranking.like.unit_scores`)."""
        return unit_scores(scores, self.config.ranker.objective)

    def _item_vectors(self) -> np.ndarray:
        return self.stage_.cf._item_vectors()

    def _fold_in(self, items: np.ndarray, values: np.ndarray) -> np.ndarray:
        # the same two stages as a known user: fold-in vectors, candidates, the ranker
        if len(items) == 0:
            return np.where(np.isin(self.item_map_.ids, self.item_map_.ids), -np.inf, 0.0)
        context = self.new_user_context(self.item_map_.ids[items], values)
        return self._dense(context)[0]

    # ------------------------------------------------------------ persistence
    # The model spans many files (models, boosters, tables), so it is written and read as
    # a directory by reco.artifacts.model_dir (save_model / load_model), which owns that
    # format.
    @classmethod
    def from_parts(cls, config: HybridConfig, stage: StageOne, ranker: Booster,
                   like_model: Booster, windows: dict[str, Any] | None = None) -> HybridRecommender:
        """A fitted model from its parts (as a loader read them): the stage, the two
        boosters and the training windows; the id maps are the CF model's."""
        model = cls(config)
        model.stage_, model.ranker_, model.like_model_ = stage, ranker, like_model
        model.user_map_, model.item_map_, model.seen_ = (
            stage.cf.user_map_, stage.cf.item_map_, stage.cf.seen_)
        model.window_ = dict(windows or {})
        return model
