"""Candidates and feature rows on Spark: reco's own row code, run per block of users.

The feature-window stage is written once, in reco's formats (``.npz`` models, Parquet
tables: :func:`write_stage`), shipped to every executor with ``SparkContext.addFile``
(Spark's broadcast of files: the item factors, content embeddings and tables reach each
executor once, whatever the cluster's filesystem), and loaded there once per Python
worker, memory-mapped (:func:`read_stage`). ``mapInArrow`` then hands each task a block
of users; the task runs :func:`reco.ranking.candidates.generate_candidates` (each user's
top-n by blocks of users against the item factors) and
:func:`reco.ranking.pair_features.pair_features` on them. So every row feature has one
definition, the single-machine one, and the rows are the same numbers whichever engine
computed them; what Spark adds is that the users are spread over the cluster.

The CF-score rank is taken over each user's whole candidate list before the negatives
are sampled (all of a user's candidates are in one task), as in
:func:`reco.ranking.label_windows.window_rows`.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import polars as pl

from reco.columns import MOVIE_ID, USER_ID
from reco.features.tables import FeatureTables
from reco.features.temporal import RecentItems, TimePopularity
from reco.ids import IdMap
from reco.models.base import CACHES, Recommender
from reco.npz import load_npz, save_npz
from reco.ranking.candidates import CandidateConfig, generate_candidates
from reco.ranking.pair_features import LIKE_FEATURES, RANK_FEATURES, cf_score_rank, pair_features
from reco.ranking.schema import SOURCES
from reco.ranking.stage_one import StageOne

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)
R = TypeVar("R", bound=Recommender)

#: Users per candidate block inside a task (rows x 34 float32 features stay ~100 MB).
USER_BLOCK = 1024
#: Pairs per like-model block inside a task.
PAIR_BLOCK = 65_536
#: The rows' columns: ids, label, and the features as one array<float> (xgboost.spark's
#: ``features_col``), in ``RANK_FEATURES`` or ``LIKE_FEATURES`` order.
ROW_SCHEMA = "user_id int, movie_id int, label byte, features array<float>"
_TABLES = ("users", "movies", "user_genres")
_STAGES: dict[str, StageOne] = {}  # per Python worker: the stages it has loaded


def _only_users(model: R, rows: np.ndarray) -> R:
    """A shallow copy of a fitted model holding only the users at index ``rows`` (sorted):
    their id map, ratings rows and per-user arrays; items and everything else shared."""
    clone = copy.copy(model)
    clone.__dict__ = {k: v for k, v in model.__dict__.items() if k not in CACHES}
    clone.user_map_ = IdMap(model.user_map_.ids[rows], "user")
    clone.seen_ = model.seen_[rows]
    for name in model.user_arrays:
        value = getattr(model, f"{name}_", None)
        if value is not None:
            setattr(clone, f"{name}_", np.ascontiguousarray(value[rows]))
    return clone


def restrict_stage(stage: StageOne, user_ids: np.ndarray) -> StageOne:
    """``stage`` for the users ``user_ids`` only (those the rows are built for): the same
    rows for them, and a shipped stage that no longer grows with the number of users
    (the ranker's users are at most ``max_train_users``). Item-side arrays are shared."""
    ids = np.unique(np.asarray(user_ids, dtype=np.int64))

    def rows_of(model: Recommender) -> np.ndarray:
        found = model.user_map_.indices(ids, missing="mask")
        return np.sort(found[found >= 0])

    cf_rows = rows_of(stage.cf)
    keep = pl.Series(USER_ID, stage.cf.user_map_.ids[cf_rows]).implode()
    recent = stage.recent
    mine = recent.users.indices(ids, missing="mask")
    mine = np.sort(mine[mine >= 0])
    counts = np.diff(recent.indptr)[mine]
    movies = (np.concatenate([recent.movies[recent.indptr[r]:recent.indptr[r + 1]] for r in mine])
              if mine.size else recent.movies[:0])
    tables = FeatureTables(
        users=stage.tables.users.filter(pl.col(USER_ID).is_in(keep)),
        movies=stage.tables.movies,
        user_genres=stage.tables.user_genres.filter(pl.col(USER_ID).is_in(keep)))
    return StageOne(
        cf=_only_users(stage.cf, cf_rows),
        rating_model=None if stage.rating_model is None else _only_users(
            stage.rating_model, rows_of(stage.rating_model)),
        content=None if stage.content is None else _only_users(stage.content,
                                                               rows_of(stage.content)),
        popular=_only_users(stage.popular, rows_of(stage.popular)), tables=tables,
        movies=stage.movies, time_popularity=stage.time_popularity,
        recent=RecentItems(IdMap(recent.users.ids[mine], "user"),
                           np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), movies),
        like_threshold=stage.like_threshold,
        item=None if stage.item is None else _only_users(stage.item, rows_of(stage.item)))


def write_stage(stage: StageOne, directory: Path) -> Path:
    """``stage`` in reco's formats under ``directory`` (no pickle: ``.npz``, Parquet, JSON)."""
    directory.mkdir(parents=True)
    stage.cf.save(directory / "cf.npz")
    if stage.rating_model is not None:
        stage.rating_model.save(directory / "rating.npz", with_seen=False)
    stage.popular.save(directory / "popular.npz", with_seen=False)
    if stage.content is not None:
        stage.content.save(directory / "content.npz")
    if stage.item is not None:
        stage.item.save(directory / "item.npz", with_seen=False)
    save_npz(directory / "context.npz", **stage.time_popularity.state(), **stage.recent.state())
    for name in _TABLES:
        getattr(stage.tables, name).write_parquet(directory / f"table_{name}.parquet")
    stage.movies.write_parquet(directory / "stage_movies.parquet")
    (directory / "stage.json").write_text(json.dumps({"like_threshold": stage.like_threshold}))
    return directory


def read_stage(directory: Path) -> StageOne:
    """The stage :func:`write_stage` wrote."""
    cf = Recommender.load(directory / "cf.npz")
    rating = (Recommender.load(directory / "rating.npz", seen=cf.seen_)
              if (directory / "rating.npz").is_file() else None)
    content = (Recommender.load(directory / "content.npz")
               if (directory / "content.npz").is_file() else None)
    item = (Recommender.load(directory / "item.npz", seen=cf.seen_)
            if (directory / "item.npz").is_file() else None)
    context = load_npz(directory / "context.npz")
    tables = FeatureTables(**{name: pl.read_parquet(directory / f"table_{name}.parquet")
                              for name in _TABLES})
    meta = json.loads((directory / "stage.json").read_text())
    return StageOne(cf=cf, rating_model=rating, content=content,
                    popular=Recommender.load(directory / "popular.npz", seen=cf.seen_),
                    tables=tables, movies=pl.read_parquet(directory / "stage_movies.parquet"),
                    time_popularity=TimePopularity.from_state(context),
                    recent=RecentItems.from_state(context),
                    like_threshold=float(meta["like_threshold"]), item=item)


def _stage(name: str) -> StageOne:
    """The shipped stage ``name``, loaded once per worker."""
    if name not in _STAGES:
        from pyspark import SparkFiles

        _STAGES.clear()  # one training run's stage at a time
        _STAGES[name] = read_stage(Path(SparkFiles.get(name)))
    return _STAGES[name]


def _batch(users: np.ndarray, movies: np.ndarray, labels: np.ndarray,
           features: np.ndarray) -> pa.RecordBatch:
    import pyarrow as pa

    width = features.shape[1]
    offsets = pa.array(np.arange(features.shape[0] + 1, dtype=np.int32) * width)
    values = pa.array(np.ascontiguousarray(features, dtype=np.float32).ravel())
    return pa.RecordBatch.from_arrays(
        [pa.array(users.astype(np.int32)), pa.array(movies.astype(np.int32)),
         pa.array(labels.astype(np.int8)), pa.ListArray.from_arrays(offsets, values)],
        names=[USER_ID, MOVIE_ID, "label", "features"])


def ranker_rows(stage_name: str, candidates: dict[str, Any],
                batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``(user_id, liked movie ids)`` batches -> every candidate's row and label."""
    stage = _stage(stage_name)
    config = CandidateConfig.from_dict(candidates)
    for batch in batches:
        users = batch.column(USER_ID).to_numpy().astype(np.int64)
        liked = batch.column("liked")
        owners = np.repeat(np.arange(len(users)), np.diff(liked.offsets.to_numpy()))
        liked_movies = liked.flatten().to_numpy().astype(np.int64)
        for start in range(0, len(users), USER_BLOCK):
            block = slice(start, start + USER_BLOCK)
            people = stage.store.known_users(users[block])
            found = generate_candidates(people, stage.store, config)
            mine = (owners >= start) & (owners < start + USER_BLOCK)
            span = int(max(found.movie_ids.max(initial=0), liked_movies.max(initial=0))) + 1
            keys = (owners[mine] - start) * span + liked_movies[mine]
            labels = np.isin(found.rows * span + found.movie_ids, keys)
            extra = {f"rank_in_{s}": found.ranks[s] for s in SOURCES}
            extra["cf_score_rank"] = cf_score_rank(stage, people, found.rows, found.movie_ids)
            features = pair_features(stage, people, found.rows, found.movie_ids,
                                     RANK_FEATURES, extra)
            yield _batch(people.ids[found.rows], found.movie_ids, labels, features)


def like_rows(stage_name: str, like_threshold: float,
              batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """``(user_id, movie_id, rating)`` batches -> the like model's rows and labels."""
    stage = _stage(stage_name)
    for batch in batches:
        users_all = batch.column(USER_ID).to_numpy().astype(np.int64)
        movies_all = batch.column(MOVIE_ID).to_numpy().astype(np.int64)
        ratings_all = batch.column("rating").to_numpy()
        for start in range(0, len(users_all), PAIR_BLOCK):
            block = slice(start, start + PAIR_BLOCK)
            distinct, inverse = np.unique(users_all[block], return_inverse=True)
            context = stage.store.known_users(distinct)
            features = pair_features(stage, context, inverse, movies_all[block], LIKE_FEATURES)
            yield _batch(users_all[block], movies_all[block],
                         ratings_all[block] >= like_threshold, features)


def ranker_job(per_user: Any, stage_name: str, candidates: CandidateConfig) -> Any:
    """The Spark frame of every candidate row of ``per_user`` (``user_id, liked``)."""
    return per_user.mapInArrow(partial(ranker_rows, stage_name, candidates.to_dict()),
                               ROW_SCHEMA)


def like_job(rated: Any, stage_name: str, like_threshold: float) -> Any:
    """The Spark frame of the like model's rows of ``rated`` (``user_id, movie_id, rating``)."""
    return rated.mapInArrow(partial(like_rows, stage_name, like_threshold), ROW_SCHEMA)
