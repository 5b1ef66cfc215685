"""reco._numeric: the deterministic top-k every ranking goes through."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reco._numeric import top_k


def test_top_k_orders_and_breaks_ties_by_index():
    idx, vals = top_k(np.array([[1.0, 3.0, 3.0, -np.inf, 2.0]]), 4)
    assert idx.tolist() == [[1, 2, 4, 0]]
    assert vals.tolist() == [[3.0, 3.0, 2.0, 1.0]]


def test_top_k_pads_when_too_few_items():
    idx, vals = top_k(np.array([[1.0, -np.inf]]), 3)
    assert idx.tolist() == [[0, -1, -1]]
    assert vals[0, 0] == 1.0 and np.isneginf(vals[0, 1:]).all()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40), st.integers(1, 50))
def test_top_k_matches_a_full_sort(values, k):
    scores = np.array([values])
    idx, vals = top_k(scores, k)
    expected = sorted(range(len(values)), key=lambda i: (-values[i], i))[:k]
    assert idx[0][: len(expected)].tolist() == expected
    assert np.all(np.diff(vals[0][: len(expected)]) <= 0)


def test_top_k_ties_at_the_cut_go_to_the_lower_index():
    idx, _ = top_k(np.zeros((1, 1000)), 5)
    assert idx.tolist() == [[0, 1, 2, 3, 4]]
    idx, _ = top_k(np.array([[1.0, 2.0, 1.0, 1.0, 0.0, 1.0]]), 3)
    assert idx.tolist() == [[1, 0, 2]]


def _full_sort_top(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """top_k by a stable sort of every row (lower index first on ties): the definition."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    vals = np.take_along_axis(scores, order, axis=1).astype(np.float32)
    idx = np.where(np.isfinite(vals), order, -1)
    return idx, np.where(np.isfinite(vals), vals, -np.inf).astype(np.float32)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["normal", "ties", "sorted", "excluded",
                                                    "mixed"]))
def test_long_rows_are_selected_through_a_threshold_with_the_same_answer(seed, kind):
    """Blocks of many long rows take the sampled threshold (``_prefiltered_top``); the
    answer is the full sort's, ties and padding included, whatever the rows look like:
    heavy ties, rows sorted (a strided sample then sees the row's order), rows almost
    all excluded, a row with no finite score at all (those fall back to the full
    selection)."""
    from reco._numeric import PREFILTER_MIN_ITEMS, PREFILTER_RATIO

    rng = np.random.default_rng(seed)
    rows, n = int(rng.integers(2, 12)), int(rng.integers(PREFILTER_MIN_ITEMS, 40_000))
    k = int(rng.integers(1, n // PREFILTER_RATIO + 1))
    scores = rng.standard_normal((rows, n)).astype(np.float32)
    if kind == "ties":
        scores = rng.integers(0, 4, (rows, n)).astype(np.float32)
    elif kind == "sorted":
        scores = np.sort(scores, axis=1)
    elif kind == "excluded":
        scores[rng.random((rows, n)) < 0.999] = -np.inf
    elif kind == "mixed":
        scores[0] = -np.inf
        scores[1, : k // 2] = 7.0
    idx, vals = top_k(scores, k)
    want_idx, want_vals = _full_sort_top(scores, k)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(vals, want_vals)


def test_the_threshold_path_runs_on_long_rows(monkeypatch):
    from reco import _numeric

    called = []
    original = _numeric._prefiltered_top
    monkeypatch.setattr(_numeric, "_prefiltered_top",
                        lambda *a: called.append(a[0].shape) or original(*a))
    scores = np.random.default_rng(0).standard_normal((3, 90_000)).astype(np.float32)
    idx, _ = top_k(scores, 150)
    assert called == [(3, 90_000)]
    np.testing.assert_array_equal(idx, _full_sort_top(scores, 150)[0])
    top_k(scores[:1], 150)  # one row (a request) keeps the single partition
    assert len(called) == 1
    counts = np.random.default_rng(1).integers(0, 50, (3, 90_000))  # integers: no -inf
    np.testing.assert_array_equal(top_k(counts, 150)[0], _full_sort_top(counts, 150)[0])
    assert len(called) == 1


def test_csr_gather_matches_row_slicing() -> None:
    import scipy.sparse as sp

    from reco._numeric import csr_gather

    matrix = sp.random(7, 5, density=0.4, format="csr", random_state=2)
    rows = np.array([3, -1, 0, 3, 6])
    flat, lengths = csr_gather(matrix.indptr, rows)
    expected = [matrix[r].indices.tolist() if r >= 0 else [] for r in rows]
    assert lengths.tolist() == [len(e) for e in expected]
    assert matrix.indices[flat].tolist() == [c for e in expected for c in e]
    flat, lengths = csr_gather(matrix.indptr, np.empty(0, np.int64))
    assert flat.size == 0 and lengths.size == 0


@pytest.mark.parametrize("shape", ["random", "empty rows", "one dominant row", "one row"])
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_the_threaded_sparse_dense_product_is_the_single_product(monkeypatch, shape, workers):
    """Row blocks of about equal entries on threads: every output row bit for bit the
    single product's, whatever the rows' lengths (blocks of 50 entries here)."""
    import scipy.sparse as sp

    import reco._numeric as module

    monkeypatch.setattr(module, "PRODUCT_BLOCK_ENTRIES", 50)
    rng = np.random.default_rng(len(shape) + workers)
    dense = rng.standard_normal((40, 7)).astype(np.float32)
    if shape == "one row":
        matrix = sp.csr_matrix(rng.standard_normal((1, 40)))
    else:
        matrix = sp.random(300, 40, density=0.1, format="csr", random_state=1, dtype=np.float64)
        if shape == "empty rows":
            matrix = sp.csr_matrix(matrix.multiply((np.arange(300) % 3 == 0)[:, None]))
        elif shape == "one dominant row":
            matrix = sp.vstack([matrix[:100], sp.csr_matrix(np.ones((1, 40))), matrix[100:]],
                               format="csr")
    out = module.sparse_dense(matrix, dense, workers)
    expected = np.asarray(matrix @ dense)
    assert out.dtype == np.float64 and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)


def test_the_sparse_dense_product_wants_csr():
    import scipy.sparse as sp

    from reco._numeric import sparse_dense

    with pytest.raises(TypeError, match="CSR"):
        sparse_dense(sp.csc_matrix(np.eye(3)), np.ones((3, 2)), 2)
