"""Small known frames for the Spark tests, and the comparison of two engines' tables."""

from __future__ import annotations

import numpy as np
import polars as pl

from reco.columns import MOVIE_ID, RATING, RATINGS_SCHEMA, TIMESTAMP, USER_ID

FLOAT_TOLERANCE = 1e-9


def random_ratings(n_users: int = 40, n_movies: int = 60, n: int = 900,
                   seed: int = 3) -> pl.DataFrame:
    """Ratings on half stars with many equal timestamps (ties the window cut must break by
    movie id) and users of every size, a few below the 5 ratings a label window needs."""
    rng = np.random.default_rng(seed)
    users = rng.integers(1, n_users + 1, n)
    movies = rng.integers(1, n_movies + 1, n)
    frame = pl.DataFrame({
        USER_ID: users, MOVIE_ID: movies,
        RATING: rng.integers(1, 11, n) / 2.0,
        TIMESTAMP: 1_500_000_000 + rng.integers(0, 400, n) * 86_400,
    }).unique([USER_ID, MOVIE_ID], keep="first", maintain_order=True)
    return frame.cast(RATINGS_SCHEMA)  # type: ignore[arg-type]


def to_spark(spark: object, frame: pl.DataFrame) -> object:
    return spark.createDataFrame(frame.to_arrow())  # type: ignore[attr-defined]


def assert_tables_equal(ours: pl.DataFrame, theirs: pl.DataFrame, name: str) -> None:
    """Same columns, dtypes and rows; integers and strings exact, floats within 1e-9,
    nulls in the same places."""
    assert ours.schema == theirs.schema, f"{name}: {ours.schema} != {theirs.schema}"
    assert ours.height == theirs.height, f"{name}: {ours.height} != {theirs.height} rows"
    for column in ours.columns:
        a, b = ours[column], theirs[column]
        assert a.is_null().equals(b.is_null()), f"{name}.{column}: nulls differ"
        if a.dtype.is_float():
            x, y = a.drop_nulls().to_numpy(), b.drop_nulls().to_numpy()
            assert np.allclose(x, y, rtol=0, atol=FLOAT_TOLERANCE, equal_nan=True), (
                f"{name}.{column}: max difference {np.nanmax(np.abs(x - y))}")
        else:
            assert a.equals(b), f"{name}.{column}: values differ"
