"""The Spark engine reads every MovieLens layout as the single-machine loader does: the
same ratings (after the duplicate and unknown-movie policies), movies and tags; a line
that does not parse is one error, not a silent row."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from reco.columns import MOVIE_ID, RATING, TIMESTAMP, USER_ID
from reco.data.movielens import load_movielens
from reco.exceptions import DataFormatError, DatasetNotFoundError
from tests import fixtures

_KEY = [USER_ID, MOVIE_ID]


def _rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(USER_ID, MOVIE_ID, RATING, TIMESTAMP).cast(
        {USER_ID: pl.Int64, MOVIE_ID: pl.Int64, RATING: pl.Float64, TIMESTAMP: pl.Int64}
    ).sort(_KEY)


@pytest.mark.parametrize("release", ["ml-100k", "ml-10m", "ml-1m", "ml-latest-small"])
def test_every_layout_reads_as_the_single_machine_loader_reads_it(spark, tmp_path: Path,
                                                                  release: str):
    from reco.pipelines.spark.read import read_release

    directory = fixtures.write_release(tmp_path, release)
    ours, theirs = read_release(spark, directory), load_movielens(directory)
    got = _rows(pl.from_arrow(ours.ratings.toArrow()))  # type: ignore[arg-type]
    assert got.height > 0 and got.equals(_rows(theirs.ratings))
    assert ours.movies.equals(theirs.movies)
    assert (ours.tags is None) == (theirs.tags is None)
    if ours.tags is not None and theirs.tags is not None:
        assert ours.tags.equals(theirs.tags)
    assert ours.layout == ours.report["layout"] == {"ml-100k": "100k", "ml-10m": "dat",
                                                    "ml-1m": "dat"}.get(release, "csv")
    assert ours.scale == theirs.scale  # whole stars for ml-100k and ml-1m, half otherwise


def test_a_dat_line_that_does_not_parse_is_an_error(spark, tmp_path: Path):
    from reco.pipelines.spark.read import read_release

    directory = fixtures.write_release(tmp_path, "ml-10m")
    with (directory / "ratings.dat").open("a") as out:
        out.write("1::2::4.5\n")  # a field short
    with pytest.raises(DataFormatError, match="1 rating row"):
        read_release(spark, directory).ratings.count()


def test_a_directory_without_a_release_is_named(spark, tmp_path: Path):
    from reco.pipelines.spark.read import read_release

    with pytest.raises(DatasetNotFoundError, match="no MovieLens release"):
        read_release(spark, tmp_path)
    (tmp_path / "movies.dat").write_text("1::Toy Story (1995)::Animation\n")
    with pytest.raises(DatasetNotFoundError, match="no ratings.dat beside movies.dat"):
        read_release(spark, tmp_path)


def test_the_text_inputs_reach_the_spark_fit(spark, tmp_path: Path, tmdb_file: Path,
                                             monkeypatch: pytest.MonkeyPatch):
    # --tmdb, --genre-tagger and --family-model work with --engine spark: the files are
    # read on the driver and reach the text models and the content model as they do in
    # the single-machine engine (the fit itself is the end-to-end test's)
    from reco.pipelines.spark import train as spark_train

    seen: dict[str, object] = {}
    real = spark_train.apply_text_models

    def text_models(movies, **kwargs):
        seen.update(kwargs)
        return real(movies, **{**kwargs, "genre_tagger": None, "family_model": None})

    class Stop(Exception):
        pass

    def fit(session, ratings, inputs, config, workers):
        seen["inputs"] = inputs
        raise Stop

    monkeypatch.setattr(spark_train, "apply_text_models", text_models)
    monkeypatch.setattr(spark_train, "fit_hybrid", fit)
    directory = fixtures.write_release(tmp_path, "ml-latest-small")
    with pytest.raises(Stop):
        spark_train.train_spark(directory, tmp_path / "store", tmdb_path=tmdb_file,
                                genre_tagger=tmp_path / "tagger", family_model=tmp_path / "fam")
    inputs = seen["inputs"]
    assert inputs.tmdb is not None and inputs.tmdb.height > 4000  # type: ignore[attr-defined]
    assert seen["tmdb"] is inputs.tmdb  # type: ignore[attr-defined]
    assert seen["genre_tagger"] == tmp_path / "tagger"
    assert seen["family_model"] == tmp_path / "fam"
