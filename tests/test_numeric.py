"""reco._numeric: the deterministic top-k every ranking goes through."""

from __future__ import annotations

import numpy as np
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
