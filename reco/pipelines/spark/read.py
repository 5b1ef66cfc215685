"""A MovieLens release read for Spark: the ratings as a Spark frame, the side files on
the driver.

The ratings (the only large file) are read by Spark from a local path or any filesystem
Spark reads (``hdfs://``, ``s3a://``, ...), in every MovieLens layout
(:mod:`reco.data.movielens`): ``ratings.parquet`` (a file or a directory of parts, with
reco's or MovieLens's column names) or ``ratings.csv`` (MovieLens's header) beside
``movies.csv``; ``ratings.dat`` (``::``-separated: ml-1m, ml-10m) beside ``movies.dat``;
``u.data`` (tab-separated: ml-100k) beside ``u.item``. The side files (movies, tags,
links) are megabytes even for ml-32m: they are copied to the driver when remote and read
with reco's own readers (the same parsing of titles, years, genres and encodings as the
single-machine engine).

The checks on the ratings are the loader's policies that decide which rows train
(:class:`~reco.data.movielens.LoadConfig`): a (user, movie) rated twice keeps the latest
rating (the later line on a tie), ratings of movies absent from the movies file are
dropped (an error above ``max_unknown_share``), and a row that does not parse is an
error. Rating grids and timestamp bounds are not checked here (the single-machine loader
does; run it once on a sample of a new source).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from reco.columns import MOVIE_ID, RATING, TIMESTAMP, USER_ID
from reco.data import _movielens_files as mf
from reco.data.dataset import HALF_STAR_SCALE, WHOLE_STAR_SCALE, RatingScale
from reco.data.movielens import LAYOUT_FILES, LoadConfig
from reco.exceptions import DataFormatError, DatasetNotFoundError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

#: Column names accepted for the ratings, reco's first (Parquet may use either).
RATING_ALIASES = {USER_ID: ("user_id", "userId"), MOVIE_ID: ("movie_id", "movieId"),
                  RATING: ("rating",), TIMESTAMP: ("timestamp",)}
#: Each layout's ratings file and the side files read here (movies first): the loader's
#: files (``LAYOUT_FILES``) but the users files, which no model reads.
LAYOUTS: dict[str, tuple[str, tuple[str, ...]]] = {
    name: (files[0], tuple(f for f in files[1:] if f not in ("users.dat", "u.user")))
    for name, files in LAYOUT_FILES.items()
}


@dataclass
class SparkRelease:
    """Ratings as a Spark frame (``user_id int, movie_id int, rating float, timestamp
    long``), the side tables as Polars frames, and what the manifest says about them."""

    ratings: DataFrame
    movies: pl.DataFrame
    tags: pl.DataFrame | None
    links: pl.DataFrame | None
    source: str
    fingerprint: str
    report: dict[str, Any]
    layout: str = "csv"
    scale: RatingScale = HALF_STAR_SCALE


class _Files:
    """The release's directory through Hadoop's FileSystem (local paths too)."""

    def __init__(self, spark: SparkSession, root: str) -> None:
        jvm = spark.sparkContext._jvm
        assert jvm is not None  # a live session has a JVM
        self._jvm = jvm
        self._root = jvm.org.apache.hadoop.fs.Path(root)
        self._fs = self._root.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())

    def path(self, name: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(self._root, name)

    def exists(self, name: str) -> bool:
        return bool(self._fs.exists(self.path(name)))

    def describe(self, name: str) -> str:
        status = self._fs.getFileStatus(self.path(name))
        return f"{name}:{status.getLen()}:{status.getModificationTime()}"

    def copy_to_local(self, name: str, directory: Path) -> Path:
        target = directory / name
        self._fs.copyToLocalFile(False, self.path(name),
                                 self._jvm.org.apache.hadoop.fs.Path(str(target)), True)
        return target


def _is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def _layout(files: _Files, root: str) -> str:
    """The release's layout, by its movies file (see :data:`LAYOUTS`)."""
    for name, (_, side) in LAYOUTS.items():
        if files.exists(side[0]):
            return name
    raise DatasetNotFoundError(
        f"{root}: no MovieLens release here (no movies.csv, movies.dat or u.item)")


def _spark_ratings(spark: SparkSession, files: _Files, root: str, layout: str) -> DataFrame:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    ratings_file = LAYOUTS[layout][0]
    if layout == "csv" and files.exists("ratings.parquet"):
        raw = spark.read.parquet(str(files.path("ratings.parquet")))
        names = set(raw.columns)
        picked = []
        for canonical, aliases in RATING_ALIASES.items():
            found = next((a for a in aliases if a in names), None)
            if found is None:
                raise DataFormatError(f"ratings.parquet: no column {' or '.join(aliases)} "
                                      f"(has {sorted(names)})", path=root)
            picked.append(F.col(found).alias(canonical))
        raw = raw.select(*picked)
    elif not files.exists(ratings_file):
        also = " or ratings.parquet" if layout == "csv" else ""
        raise DatasetNotFoundError(f"{root}: no {ratings_file}{also} beside "
                                   f"{LAYOUTS[layout][1][0]}")
    elif layout == "dat":
        # UserID::MovieID::Rating::Timestamp; a line of another shape gets nulls, which
        # the checks below refuse with the count
        fields = F.split(F.col("value"), "::")
        text = spark.read.text(str(files.path(ratings_file)))
        raw = text.select(*[
            F.when(F.size(fields) == 4, F.trim(fields.getItem(i))).cast(kind).alias(name)
            for i, (name, kind) in enumerate(((USER_ID, "int"), (MOVIE_ID, "int"),
                                              (RATING, "float"), (TIMESTAMP, "long")))])
    else:
        schema = T.StructType([T.StructField("userId", T.IntegerType()),
                               T.StructField("movieId", T.IntegerType()),
                               T.StructField("rating", T.FloatType()),
                               T.StructField("timestamp", T.LongType())])
        raw = (spark.read.csv(str(files.path(ratings_file)), header=layout == "csv",
                              sep="," if layout == "csv" else "\t", schema=schema,
                              mode="PERMISSIVE")
               .toDF(USER_ID, MOVIE_ID, RATING, TIMESTAMP))
    # the line order, for "the later line on a tie" (file order within each file part)
    return raw.select(
        F.col(USER_ID).cast("int").alias(USER_ID), F.col(MOVIE_ID).cast("int").alias(MOVIE_ID),
        F.col(RATING).cast("float").alias(RATING),
        F.col(TIMESTAMP).cast("long").alias(TIMESTAMP),
        F.monotonically_increasing_id().alias("_line"))


def _clean(ratings: DataFrame, movie_ids: DataFrame, config: LoadConfig,
           root: str) -> tuple[DataFrame, dict[str, Any]]:
    """The LoadConfig policies on the ratings; the counts they produced."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    counts = ratings.agg(
        F.count(F.lit(1)).alias("read"),
        F.sum(F.when(F.col(USER_ID).isNull() | F.col(MOVIE_ID).isNull()
                     | F.col(RATING).isNull() | F.col(TIMESTAMP).isNull(), 1)
              .otherwise(0)).alias("bad")).first()
    assert counts is not None
    if counts["bad"]:
        raise DataFormatError(f"{counts['bad']} rating row(s) with a missing or unreadable "
                              "field (user, movie, rating and timestamp are numbers)", path=root)
    latest = Window.partitionBy(USER_ID, MOVIE_ID).orderBy(F.col(TIMESTAMP).desc(),
                                                           F.col("_line").desc())
    ranked = ratings.withColumn("_n", F.row_number().over(latest))
    if config.duplicates == "error":
        twice = ranked.where(F.col("_n") > 1).count()
        if twice:
            raise DataFormatError(f"{twice} duplicate (user, movie) rating(s)", path=root)
    deduped = ranked.where(F.col("_n") == 1).drop("_n", "_line")
    known = deduped.join(F.broadcast(movie_ids), on=MOVIE_ID, how="left_semi")
    kept = known.count()
    unique = deduped.count()
    unknown = unique - kept
    report = {"ratings_read": int(counts["read"]),
              "duplicates_dropped": int(counts["read"]) - unique,
              "unknown_movie_ratings_dropped": unknown}
    if unknown and config.unknown_movies == "error":
        raise DataFormatError(f"{unknown} rating(s) of movies absent from the movies file",
                              path=root)
    if unknown and unique and unknown / unique > config.max_unknown_share:
        raise DataFormatError(
            f"{unknown} of {unique} ratings ({unknown / unique:.1%}) are of movies absent "
            f"from the movies file, above max_unknown_share={config.max_unknown_share}: the wrong "
            "movies file?", path=root)
    # "keep" (placeholder movies) is the single-machine loader's only: here they drop
    return known.select(USER_ID, MOVIE_ID, RATING, TIMESTAMP), report


def read_release(spark: SparkSession, path: str | Path,
                 config: LoadConfig | None = None) -> SparkRelease:
    """The release at ``path`` (see the module docstring)."""
    config = config or LoadConfig()
    root = str(path)
    files = _Files(spark, root)
    layout = _layout(files, root)
    ratings_name, side = LAYOUTS[layout]
    movies_name, present = side[0], [name for name in side if files.exists(name)]
    tags_name = next((n for n in present if n.startswith("tags.")), None)
    with tempfile.TemporaryDirectory(prefix="reco-side-") as scratch:
        if _is_local(root):
            local = Path(root.removeprefix("file://"))
        else:
            local = Path(scratch)
            for name in present:
                files.copy_to_local(name, local)
        movies, _ = mf.read_movies(local / movies_name, layout, config.unknown_genres)
        tags = mf.read_tags(local / tags_name, layout) if tags_name else None
        links = mf.read_links(local / "links.csv") if "links.csv" in present else None
    if layout == "csv" and files.exists("ratings.parquet"):
        ratings_name = "ratings.parquet"
    movie_ids = spark.createDataFrame(movies.select(MOVIE_ID).to_arrow())
    ratings, report = _clean(_spark_ratings(spark, files, root, layout), movie_ids, config,
                             root)
    report["layout"] = layout
    # the single-machine loader's rule (reco.data.movielens.rating_scale): whole stars
    # for ml-100k and ml-1m (the .dat release that ships users.dat), half stars otherwise
    whole = layout == "100k" or (layout == "dat" and files.exists("users.dat"))
    # what the data was, cheaply: the files' names, sizes and modification times (reading
    # every byte of a cluster release on the driver to hash it is not an option)
    digest = hashlib.sha256("\n".join(files.describe(n) for n in [ratings_name, *present])
                            .encode())
    log.info("read %s with Spark: %d ratings kept of %d", root,
             report["ratings_read"] - report["duplicates_dropped"]
             - report["unknown_movie_ratings_dropped"], report["ratings_read"])
    return SparkRelease(ratings=ratings, movies=movies, tags=tags, links=links, source=root,
                        fingerprint="files-sha256:" + digest.hexdigest(), report=report,
                        layout=layout, scale=WHOLE_STAR_SCALE if whole else HALF_STAR_SCALE)
