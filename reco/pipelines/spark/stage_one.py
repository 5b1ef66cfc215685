"""Stage one on Spark: MLlib ALS (implicit and explicit), popularity and the time context,
built into reco's own model objects on the driver.

What runs where
---------------
* **Spark**: the implicit CF model (MLlib ``ALS(implicitPrefs=True)``), the explicit
  rating model (MLlib ``ALS`` on the ratings minus baseline biases computed with Spark),
  like and rating counts per movie (popularity), monthly counts per movie (time
  popularity), each user's ten latest movies, and the feature tables (:mod:`.features`).
* **Driver**: the window's ratings matrix (:class:`~reco.models.interactions.Interactions`:
  the artifact stores it in ``cf.npz`` as the "seen" matrix, so the driver holds it
  whatever the engine), and the content model (TF-IDF + truncated SVD of the movie texts:
  tens of thousands of short texts, seconds on one core, fitted by reco's own
  :class:`~reco.models.content.ContentRecommender`); the EASE item-item model
  (:class:`~reco.models.ease.EASERecommender`: a sparse Gram matrix of the seen matrix the
  driver holds anyway, then a dense solve of ``top_items`` (3,000) squared, whatever the
  number of ratings). The SVD rating model (``rating_model="svd"``), when configured, is
  reco's on the driver too. The Spark engine does not run fit-time tuning
  (:mod:`reco.ranking.tuning`, the like model's rounds included): it uses the configured
  values, as the single-machine engine does above ``tune.max_ratings``.

The implicit model's confidence, matched to reco's
--------------------------------------------------
reco (``ALSConfig``, ``confidence="like"``) fits preference 1 with confidence
``1 + alpha`` on every like (rating >= ``like_threshold``) and preference 0 with
confidence 1 on every other cell, disliked ratings included. MLlib maps an input value
``r`` to preference ``r > 0`` and confidence ``1 + alpha |r|``; so it is given the likes
only, each with value 1 (``confidence="rating"``: the rating itself), and the same
``alpha``: the same ``c_ui`` and ``p_ui`` on every cell.

The regularisation cannot be matched exactly: reco uses one ``lambda`` for every user and
item (``0.135 sqrt(likes)`` by default), MLlib scales it by each row's count
(``regParam n_u``, ALS-WR). ``regParam = lambda / (likes per user)`` gives the average
user reco's ``lambda``; heavy users get more, light users and items less. The model's
``regularization_`` (used to fold in new users) is reco's ``lambda``.

The explicit model is reco's ``mu + b_u + b_i + x_u . y_i`` with ALS-WR regularisation
``lambda n_u`` (the same scaling as MLlib's): ``mu`` and the biases come from two
alternating passes of regularised means with Spark, then MLlib fits the factors to the
residuals ``r - mu - b_u - b_i``. reco fits biases and factors jointly, so the two
differ by that (RMSE in ``docs/SCALING.md``).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from reco.columns import GENRES, MOVIE_ID, RATING, TIMESTAMP, USER_ID, YEAR
from reco.features.temporal import SECONDS_PER_MONTH, RecentItems, TimePopularity
from reco.ids import IdMap
from reco.models.base import Recommender
from reco.models.content import ContentRecommender, MovieEmbeddings, embed_movies
from reco.models.ease import EASERecommender
from reco.models.interactions import Interactions
from reco.models.mf import ALSConfig, ALSRecommender, SVDRecommender
from reco.models.popularity import PopularityConfig, PopularityRecommender
from reco.pipelines.spark.features import collect_tables, feature_frames, movies_frame
from reco.ranking.hybrid import HybridConfig, TextInputs
from reco.ranking.stage_one import StageOne

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)
RECENT_N = 10  # RecentItems.from_ratings's default: the latest movies per user


def _factors(frame: DataFrame, ids: IdMap, k: int) -> tuple[np.ndarray, np.ndarray]:
    """MLlib's ``(id, features)`` factors as a float32 matrix in ``ids``' order (zero rows
    for ids MLlib did not see) and the mask of the rows it did."""
    table = frame.toArrow()
    found = table.column("id").to_numpy().astype(np.int64)
    flat = table.column("features").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    vectors = np.asarray(flat, dtype=np.float32).reshape(len(found), k)
    rows = ids.indices(found, missing="mask")
    keep = rows >= 0
    out = np.zeros((len(ids), k), dtype=np.float32)
    out[rows[keep]] = vectors[keep]
    seen = np.zeros(len(ids), dtype=bool)
    seen[rows[keep]] = True
    return out, seen


def _blocks(ratings: DataFrame) -> int:
    # two blocks per core: enough tasks to keep every core busy, few enough for small data
    return max(2, 2 * ratings.sparkSession.sparkContext.defaultParallelism)


def _fitted(model: Recommender, interactions: Interactions, **state: Any) -> Recommender:
    """``model`` with the window's maps and matrix and the learned ``state`` (name_ = value),
    as ``fit_interactions`` leaves it."""
    model.user_map_, model.item_map_ = interactions.user_map, interactions.item_map
    model.seen_ = interactions.matrix
    for name, value in state.items():
        setattr(model, f"{name}_", value)
    return model


def implicit_als(ratings: DataFrame, interactions: Interactions,
                 config: ALSConfig) -> ALSRecommender:
    """reco's implicit ALS (module docstring) fitted by MLlib on ``ratings``."""
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    started = time.perf_counter()
    value = F.col(RATING).cast("float") if config.confidence == "rating" else F.lit(1.0)
    likes = (ratings.where(F.col(RATING) >= config.like_threshold)
             .select(USER_ID, MOVIE_ID, value.alias(RATING)).cache())
    n_likes = likes.count()
    n_users = max(likes.select(USER_ID).distinct().count(), 1)
    lam = config.resolve_regularization(n_likes)
    als = ALS(rank=config.factors, maxIter=config.iterations, regParam=lam * n_users / n_likes,
              alpha=config.alpha, implicitPrefs=True, userCol=USER_ID, itemCol=MOVIE_ID,
              ratingCol=RATING, seed=config.random_state, nonnegative=False,
              numUserBlocks=_blocks(ratings), numItemBlocks=_blocks(ratings))
    fitted = als.fit(likes)
    x, liked = _factors(fitted.userFactors, interactions.user_map, config.factors)
    y, _ = _factors(fitted.itemFactors, interactions.item_map, config.factors)
    likes.unpersist()
    # a user with no likes scores as the average user, as reco's ALS does
    if liked.any():
        x[~liked] = x[liked].mean(axis=0)
    model = ALSRecommender(config)
    model._gram = None
    log.info("MLlib ALS (implicit, %d factors, lambda %g, regParam %g, %d iterations): "
             "%d likes in %.1fs", config.factors, lam, lam * n_users / n_likes,
             config.iterations, n_likes, time.perf_counter() - started)
    return _fitted(model, interactions, user_factors=x, item_factors=y,  # type: ignore[return-value]
                   regularization=lam)


def _biases(ratings: DataFrame, lam: float) -> tuple[float, DataFrame, DataFrame]:
    """``mu``, per-user and per-movie biases: two alternating passes of means of the
    residual shrunk by ALS-WR's ``lambda n`` (``b = sum(res) / (n (1 + lambda))``)."""
    from pyspark.sql import functions as F

    row = ratings.agg(F.avg(F.col(RATING).cast("double")).alias("mu")).first()
    assert row is not None
    mu = float(row["mu"])
    shrink = 1.0 + lam
    res = F.col(RATING).cast("double") - mu
    item = ratings.groupBy(MOVIE_ID).agg((F.avg(res) / shrink).alias("b_i"))
    user = None
    for _ in range(2):
        user = (ratings.join(item, on=MOVIE_ID).groupBy(USER_ID)
                .agg((F.avg(res - F.col("b_i")) / shrink).alias("b_u")).cache())
        item = (ratings.join(user, on=USER_ID).groupBy(MOVIE_ID)
                .agg((F.avg(res - F.col("b_u")) / shrink).alias("b_i")).cache())
    assert user is not None
    return mu, user, item


def _bias_vector(frame: DataFrame, column: str, key: str, ids: IdMap) -> np.ndarray:
    table = frame.toArrow()
    out = np.zeros(len(ids), dtype=np.float32)
    rows = ids.indices(table.column(key).to_numpy().astype(np.int64), missing="mask")
    keep = rows >= 0
    out[rows[keep]] = table.column(column).to_numpy()[keep]
    return out


def explicit_als(ratings: DataFrame, interactions: Interactions,
                 config: ALSConfig) -> ALSRecommender:
    """reco's biased explicit ALS (module docstring): biases with Spark, factors by MLlib."""
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    started = time.perf_counter()
    lam = config.resolve_regularization(interactions.matrix.nnz)
    mu, user, item = _biases(ratings, lam)
    residual = (ratings.join(user, on=USER_ID).join(item, on=MOVIE_ID)
                .select(USER_ID, MOVIE_ID, (F.col(RATING) - mu - F.col("b_u") - F.col("b_i"))
                        .cast("float").alias(RATING)))
    als = ALS(rank=config.factors, maxIter=config.iterations, regParam=lam,
              implicitPrefs=False, userCol=USER_ID, itemCol=MOVIE_ID, ratingCol=RATING,
              seed=config.random_state, nonnegative=False,
              numUserBlocks=_blocks(ratings), numItemBlocks=_blocks(ratings))
    fitted = als.fit(residual)
    x, _ = _factors(fitted.userFactors, interactions.user_map, config.factors)
    y, _ = _factors(fitted.itemFactors, interactions.item_map, config.factors)
    b_u = _bias_vector(user, "b_u", USER_ID, interactions.user_map)
    b_i = _bias_vector(item, "b_i", MOVIE_ID, interactions.item_map)
    user.unpersist()
    item.unpersist()
    model = ALSRecommender(config)
    model._gram = None
    log.info("MLlib ALS (explicit on bias residuals, %d factors, lambda %g, %d iterations) "
             "in %.1fs", config.factors, lam, config.iterations, time.perf_counter() - started)
    return _fitted(model, interactions, user_factors=x, item_factors=y,  # type: ignore[return-value]
                   user_bias=b_u, item_bias=b_i, global_mean=mu, regularization=lam)


def popularity(ratings: DataFrame, interactions: Interactions,
               like_threshold: float) -> PopularityRecommender:
    """reco's popularity scores (likes first, ties by ratings) from Spark counts."""
    from pyspark.sql import functions as F

    table = ratings.groupBy(MOVIE_ID).agg(
        F.sum((F.col(RATING) >= like_threshold).cast("long")).alias("likes"),
        F.count(F.lit(1)).alias("n")).toArrow()
    ids = interactions.item_map
    rows = ids.indices(table.column(MOVIE_ID).to_numpy().astype(np.int64))
    likes = np.zeros(len(ids))
    counts = np.zeros(len(ids))
    likes[rows] = table.column("likes").to_numpy()
    counts[rows] = table.column("n").to_numpy()
    scores = (likes * (len(interactions.user_map) + 1.0) + counts).astype(np.float64)
    model = PopularityRecommender(PopularityConfig(like_threshold=like_threshold))
    return _fitted(model, interactions, scores=scores)  # type: ignore[return-value]


def time_popularity(ratings: DataFrame) -> TimePopularity:
    """:meth:`TimePopularity.from_ratings` from Spark's monthly counts per movie."""
    from pyspark.sql import functions as F

    month = F.floor(F.col(TIMESTAMP) / SECONDS_PER_MONTH).cast("long").alias("month")
    table = ratings.groupBy(MOVIE_ID, month).agg(F.count(F.lit(1)).alias("n")).toArrow()
    movie = table.column(MOVIE_ID).to_numpy().astype(np.int64)
    months = table.column("month").to_numpy().astype(np.int64)
    movies = IdMap.from_values(movie, "movie")
    first = int(months.min())
    counts = np.zeros((len(movies), int(months.max()) - first + 2), dtype=np.int32)
    counts[movies.indices(movie), months - first + 1] = table.column("n").to_numpy()
    cum = np.cumsum(counts, axis=1, dtype=np.int32)
    return TimePopularity(movies, first, cum, cum.sum(axis=0, dtype=np.int64))


def recent_items(ratings: DataFrame, n: int = RECENT_N) -> RecentItems:
    """:meth:`RecentItems.from_ratings`: each user's last ``n`` movies by (time, id)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    latest = Window.partitionBy(USER_ID).orderBy(F.col(TIMESTAMP).desc(), F.col(MOVIE_ID).desc())
    table = (ratings.withColumn("_r", F.row_number().over(latest)).where(F.col("_r") <= n)
             .select(USER_ID, MOVIE_ID, TIMESTAMP).toArrow())
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    frame = frame.sort(USER_ID, TIMESTAMP, MOVIE_ID)
    users = IdMap.from_values(frame[USER_ID].to_numpy(), "user")
    counts = np.bincount(users.indices(frame[USER_ID].to_numpy()), minlength=len(users))
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return RecentItems(users, indptr, frame[MOVIE_ID].to_numpy().astype(np.int64))


def fit_stage_one(ratings: DataFrame, local: pl.DataFrame, text: TextInputs,
                  config: HybridConfig, embeddings: MovieEmbeddings | None = None,
                  ) -> tuple[StageOne, Interactions, MovieEmbeddings | None]:
    """Stage one of one window: ``ratings`` on Spark, ``local`` the same ratings on the
    driver (for the seen matrix and the content profiles). Mirrors
    ``HybridRecommender._stage_one``; returns the stage, the interactions and the content
    embeddings used (``embeddings`` when given)."""
    started = time.perf_counter()
    ratings = ratings.cache()
    interactions = Interactions.from_ratings(local)
    cf = implicit_als(ratings, interactions, config.cf)
    rating: Recommender = (
        explicit_als(ratings, interactions, config.rating_als)
        if config.rating_model == "explicit_als"
        else SVDRecommender(config.rating_svd).fit_interactions(interactions))
    content = None
    if config.use_content:  # on the driver: see the module docstring
        if embeddings is None:
            embeddings = embed_movies(text.movies, config.content, text.tags, text.links,
                                      text.tmdb)
        content = ContentRecommender(config.content).fit_embeddings(interactions, embeddings)
    # EASE on the driver too: its cost is a top_items-square solve whatever the data, and
    # its Gram matrix is one sparse product of the matrix the driver already holds
    item = (EASERecommender(config.item).fit_interactions(interactions) if config.use_item
            else None)
    popular = popularity(ratings, interactions, config.like_threshold)
    movies = movies_frame(text.movies, ratings.sparkSession)
    tables = collect_tables(feature_frames(ratings, movies, config.features))
    # by keyword: a field StageOne gains (a new source) fails here loudly, not shifted
    stage = StageOne(cf=cf, rating_model=rating, content=content, popular=popular,
                     tables=tables, movies=text.movies.select(MOVIE_ID, GENRES, YEAR),
                     time_popularity=time_popularity(ratings), recent=recent_items(ratings),
                     like_threshold=config.like_threshold, item=item)
    ratings.unpersist()
    log.info("stage one on Spark: %d ratings in %.1fs", local.height,
             time.perf_counter() - started)
    return stage, interactions, embeddings
