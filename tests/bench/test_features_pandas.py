"""The pandas feature tables (the benchmark's peer) equal reco's Polars tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from reco.data.movielens import load_movielens
from reco.data.synthetic import SyntheticConfig, generate
from reco.features.tables import FeatureConfig, build_feature_tables
from scripts.bench.features_pandas import build_feature_tables_pandas, to_pandas_frames

TABLES = ("users", "movies", "user_genres")


def _to_polars(frame: pd.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """pandas -> Polars without pyarrow; NaN (pandas' missing value) becomes null."""
    columns = {}
    for name in frame.columns:
        values = frame[name].to_numpy()
        if values.dtype.kind == "f":
            columns[name] = pl.Series(name, values, nan_to_null=True)
        elif values.dtype == object:
            columns[name] = pl.Series(name, values.tolist())
        else:
            columns[name] = pl.Series(name, values)
    return pl.DataFrame(columns).cast(dict(schema))


def _assert_same(data, config: FeatureConfig | None = None) -> None:
    expected = build_feature_tables(data.ratings, data.movies, config)
    ratings, movies = to_pandas_frames(data.ratings, data.movies)
    got = build_feature_tables_pandas(ratings, movies, config)
    for name in TABLES:
        polars_table = getattr(expected, name)
        pandas_table = getattr(got, name)
        assert list(pandas_table.columns) == polars_table.columns, name
        assert_frame_equal(_to_polars(pandas_table, polars_table.schema), polars_table,
                           check_exact=False, rel_tol=1e-9, abs_tol=1e-9)
    assert got.row_counts() == expected.row_counts()


def test_fixture_release(csv_release):
    data = load_movielens(csv_release)
    _assert_same(data, FeatureConfig(recent_days=1))
    _assert_same(data)


def test_synthetic_with_half_stars_and_ties():
    data = generate(SyntheticConfig(n_users=300, n_movies=400, n_ratings=20_000, seed=3))
    _assert_same(data, FeatureConfig(like_threshold=4.0, bayes_prior_weight=0.0, recent_days=30))


@pytest.mark.slow
def test_ml_latest_small(ml_latest_small):
    _assert_same(load_movielens(ml_latest_small))


def test_to_pandas_frames_keeps_values(csv_release):
    data = load_movielens(csv_release)
    ratings, movies = to_pandas_frames(data.ratings, data.movies)
    pairs = [tuple(row) for row in ratings[["user_id", "movie_id"]].to_numpy().tolist()]
    assert pairs == data.ratings.select("user_id", "movie_id").rows()
    assert movies["genres"].tolist() == data.movies["genres"].to_list()
    assert np.isnan(movies["year"].to_numpy()[3])  # movie 4 has no year
