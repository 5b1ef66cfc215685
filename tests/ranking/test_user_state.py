"""reco.ranking.user_state: the per-owner unit means behind the recent vectors."""

from __future__ import annotations

import numpy as np
import pytest

from reco.ranking.user_state import rows_or_nan, unit_mean


def _reference(vectors: np.ndarray, owners: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n, vectors.shape[1]), dtype=np.float64)
    np.add.at(out, owners, vectors)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out.astype(np.float32)


def test_unit_mean_known_answer() -> None:
    vectors = np.array([[3.0, 0.0], [0.0, 4.0], [1.0, 1.0]], dtype=np.float32)
    got = unit_mean(vectors, np.array([0, 0, 2]), 3)
    np.testing.assert_allclose(got, [[0.6, 0.8], [0.0, 0.0], [2 ** -0.5, 2 ** -0.5]],
                               rtol=1e-6)
    assert got.dtype == np.float32


@pytest.mark.parametrize("grouped", [True, False])
def test_unit_mean_equals_the_elementwise_sum_bit_for_bit(grouped: bool) -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        m, n, d = int(rng.integers(0, 200)), int(rng.integers(1, 30)), int(rng.integers(1, 9))
        vectors = rng.normal(size=(m, d)).astype(np.float32)
        owners = rng.integers(0, n, m)
        if grouped:
            owners = np.sort(owners)
        assert np.array_equal(unit_mean(vectors, owners, n), _reference(vectors, owners, n))


def test_unit_mean_without_rows_is_zero() -> None:
    got = unit_mean(np.empty((0, 4), np.float32), np.empty(0, np.int64), 2)
    assert got.shape == (2, 4) and not got.any()


def test_rows_or_nan_marks_missing_rows() -> None:
    matrix = np.arange(6, dtype=np.float32).reshape(3, 2)
    got = rows_or_nan(matrix, np.array([2, -1]))
    assert got[0].tolist() == [4.0, 5.0] and np.isnan(got[1]).all()
