"""The protocol's metrics: hand-computed cases, Hypothesis properties, the end-to-end run."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from reco.columns import RATINGS_SCHEMA
from reco.config import ConfigBase
from reco.data.split import per_user_split
from reco.evaluation.metrics import (
    classification_metrics,
    coverage,
    evaluate_topn,
    rating_metrics,
    recommend_candidates,
    topn_metrics,
)
from reco.models.base import Recommender

A, B, X, Y = 11, 12, 91, 92
KEYS = ("ndcg@10", "recall@10", "precision@10", "hit_rate@10", "map@10")


def _row(*ids: int, k: int = 10) -> np.ndarray:
    """One recommended list padded with filler ids 1000+ (never relevant) to length k."""
    filler = [1000 + i for i in range(k - len(ids))]
    return np.array([list(ids) + filler])


def _naive(recommended: list[int], relevant: set[int], k: int) -> dict[str, float]:
    """The module docstring's formulas, one user, written as plainly as possible."""
    hits = [1 if r in relevant else 0 for r in recommended[:k]]
    dcg = sum(h / math.log2(j + 2) for j, h in enumerate(hits))
    idcg = sum(1 / math.log2(j + 2) for j in range(min(len(relevant), k)))
    ap = sum(sum(hits[: j + 1]) / (j + 1) for j, h in enumerate(hits) if h)
    return {f"ndcg@{k}": dcg / idcg, f"recall@{k}": sum(hits) / len(relevant),
            f"precision@{k}": sum(hits) / k, f"hit_rate@{k}": float(any(hits)),
            f"map@{k}": ap / min(len(relevant), k)}


# ---------------------------------------------------------------- hand-computed cases
def test_two_relevant_at_ranks_two_and_four():
    got = topn_metrics(_row(X, A, Y, B), [{A, B}])
    ndcg = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert got["ndcg@10"] == pytest.approx(ndcg)
    assert got["map@10"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert got["recall@10"] == 1.0 and got["precision@10"] == pytest.approx(0.2)
    assert got["hit_rate@10"] == 1.0


def test_perfect_list_scores_one_and_no_hit_scores_zero():
    perfect = topn_metrics(_row(A, B), [[A, B]])
    assert all(perfect[key] == pytest.approx(1.0) for key in KEYS if "precision" not in key)
    assert perfect["precision@10"] == pytest.approx(0.2)
    miss = topn_metrics(_row(X, Y), [[A, B]])
    assert all(miss[key] == 0.0 for key in KEYS)


def test_fewer_relevant_than_k():
    # |R| = 3, hits at ranks 1 and 10: recall 2/3, AP (1/1 + 2/10) / 3.
    got = topn_metrics(np.array([[A] + [1000 + i for i in range(8)] + [B]]), [[A, B, 7]])
    assert got["recall@10"] == pytest.approx(2 / 3)
    assert got["map@10"] == pytest.approx((1 + 2 / 10) / 3)
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert got["ndcg@10"] == pytest.approx((1 + 1 / math.log2(11)) / ideal)


def test_more_relevant_than_k():
    # 15 relevant, the 10 recommended all hit: NDCG = MAP = 1 (ideal = k hits), recall 10/15.
    relevant = list(range(15))
    got = topn_metrics(np.array([list(range(10))]), [relevant])
    assert got["ndcg@10"] == pytest.approx(1.0) and got["map@10"] == pytest.approx(1.0)
    assert got["recall@10"] == pytest.approx(10 / 15) and got["precision@10"] == 1.0


def test_padding_never_hits_and_repeats_count_once():
    got = topn_metrics(np.array([[A, A, -1, -1]]), [[A, B]], k=4)
    assert got["recall@4"] == 0.5 and got["precision@4"] == 0.25
    # a list shorter than k is padded; precision still divides by k
    assert topn_metrics(np.array([[A]]), [[A]], k=5)["precision@5"] == pytest.approx(0.2)


def test_mean_over_users_and_per_user_arrays():
    recommended = np.vstack([_row(A, B), _row(X, Y)])
    per_user = topn_metrics(recommended, [[A, B], [A]], per_user=True)
    assert per_user["hit_rate@10"].tolist() == [1.0, 0.0]
    means = topn_metrics(recommended, [[A, B], [A]])
    assert means["ndcg@10"] == pytest.approx(0.5) and means["hit_rate@10"] == 0.5


def test_relevant_as_sets_mapping_and_sparse_rows():
    recommended = np.vstack([_row(X, A, Y, B), _row(B, X)])
    as_lists = topn_metrics(recommended, [np.array([A, B]), np.array([B])])
    as_sets = topn_metrics(recommended, [{A, B}, {B}])
    as_dict = topn_metrics(recommended, {"u1": {A, B}, "u2": {B}})
    as_csr = topn_metrics(recommended, sp.csr_matrix(([1, 1, 1], ([0, 0, 1], [A, B, B])),
                                                     shape=(2, 2000)))
    assert as_lists == as_sets == as_dict == as_csr


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="no relevant"):
        topn_metrics(np.vstack([_row(A), _row(A)]), [[A], []])
    with pytest.raises(ValueError, match="k must be"):
        topn_metrics(_row(A), [[A]], k=0)
    with pytest.raises(ValueError, match="2-d integer"):
        topn_metrics(np.array([[1.5, 2.0]]), [[1]])
    with pytest.raises(ValueError, match="1 users"):
        topn_metrics(_row(A), [[A], [B]])


def test_coverage_counts_distinct_movies():
    assert coverage(np.array([[1, 2, -1], [2, 3, -1]]), 10) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        coverage(np.array([[1]]), 0)


def test_classification_metrics_by_hand():
    # positives 0.9, 0.4; negatives 0.2, 0.6: 3 of 4 pairs ordered -> AUC 0.75.
    # at 0.5: predicted [1, 0, 0, 1] -> accuracy 0.5, TP 1 FP 1 FN 1 -> F1 0.5.
    got = classification_metrics(np.array([1, 0, 1, 0]), np.array([0.9, 0.2, 0.4, 0.6]))
    assert got["auc"] == pytest.approx(0.75) and got["accuracy"] == 0.5
    assert got["f1"] == pytest.approx(0.5) and got["like_rate"] == 0.5
    assert math.isnan(classification_metrics(np.array([1, 1]), np.array([0.2, 0.9]))["auc"])
    with pytest.raises(ValueError, match="0/1"):
        classification_metrics(np.array([4.0, 2.0]), np.array([0.2, 0.9]))


def test_rating_metrics_by_hand():
    got = rating_metrics(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 5.0]))
    assert got["rmse"] == pytest.approx(math.sqrt(5 / 3)) and got["mae"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="3 values"):
        rating_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0]))


# ---------------------------------------------------------------- properties
@st.composite
def ranked_users(draw: Any, k: int = 10) -> tuple[np.ndarray, list[set[int]]]:
    """Users with distinct recommended ids (padded with -1) and non-empty relevant sets."""
    n_users = draw(st.integers(1, 6))
    rows, relevant = [], []
    for _ in range(n_users):
        ids = draw(st.lists(st.integers(0, 30), max_size=k, unique=True))
        rows.append(ids + [-1] * (k - len(ids)))
        relevant.append(draw(st.sets(st.integers(0, 30), min_size=1, max_size=15)))
    return np.array(rows, dtype=np.int64), relevant


@settings(max_examples=150, deadline=None)
@given(ranked_users())
def test_matches_the_naive_formulas_and_stays_in_unit_interval(case):
    recommended, relevant = case
    per_user = topn_metrics(recommended, relevant, per_user=True)
    for u, (row, rel) in enumerate(zip(recommended.tolist(), relevant)):
        expected = _naive([r for r in row if r >= 0], rel, 10)
        for key in KEYS:
            assert per_user[key][u] == pytest.approx(expected[key])
            assert 0.0 <= per_user[key][u] <= 1.0 + 1e-12


@settings(max_examples=100, deadline=None)
@given(st.sets(st.integers(0, 50), min_size=1, max_size=25), st.integers(1, 20))
def test_perfect_ranking_scores_one(relevant, k):
    ordered = sorted(relevant)
    filler = [100 + i for i in range(k)]
    got = topn_metrics(np.array([(ordered + filler)[:k]]), [relevant], k=k)
    assert got[f"ndcg@{k}"] == pytest.approx(1.0) and got[f"map@{k}"] == pytest.approx(1.0)
    assert got[f"recall@{k}"] == pytest.approx(min(len(relevant), k) / len(relevant))


@settings(max_examples=100, deadline=None)
@given(ranked_users(), st.randoms(use_true_random=False))
def test_reordering_the_list_keeps_recall_precision_and_hit_rate(case, rnd):
    recommended, relevant = case
    shuffled = recommended.copy()
    for row in shuffled:
        rnd.shuffle(row)  # padding moves too: it is never a hit anyway
    before = topn_metrics(recommended, relevant)
    after = topn_metrics(shuffled, relevant)
    for key in ("recall@10", "precision@10", "hit_rate@10"):
        assert after[key] == pytest.approx(before[key])


@settings(max_examples=100, deadline=None)
@given(ranked_users(), st.randoms(use_true_random=False))
def test_permuting_non_relevant_items_changes_nothing(case, rnd):
    recommended, relevant = case
    permuted = recommended.copy()
    for row, rel in zip(permuted, relevant):
        slots = [j for j, r in enumerate(row) if r not in rel]
        values = row[slots].copy()
        rnd.shuffle(values)
        row[slots] = values
    before = topn_metrics(recommended, relevant)
    after = topn_metrics(permuted, relevant)
    assert after == pytest.approx(before)


@settings(max_examples=100, deadline=None)
@given(ranked_users())
def test_moving_a_hit_up_never_lowers_ndcg_or_map(case):
    recommended, relevant = case
    row, rel = recommended[0].copy(), relevant[0]
    hits = [j for j, r in enumerate(row) if r in rel]
    misses = [j for j, r in enumerate(row) if r not in rel and j < (hits[-1] if hits else 0)]
    if not hits or not misses:
        return
    j, i = hits[-1], misses[0]  # swap the last hit with an earlier miss
    better = row.copy()
    better[[i, j]] = better[[j, i]]
    before = topn_metrics(row[None, :], [rel])
    after = topn_metrics(better[None, :], [rel])
    assert after["ndcg@10"] >= before["ndcg@10"] - 1e-12
    assert after["map@10"] >= before["map@10"] - 1e-12


# ---------------------------------------------------------------- the protocol end to end
@dataclass(frozen=True)
class _WideConfig(ConfigBase):
    pass


class WideUniverseModel(Recommender):
    """Knows movie 99 that nobody rated in train (as a content model would) and ranks it
    first; otherwise prefers lower movie ids."""

    config_class = _WideConfig

    def _item_ids(self, ratings: pl.DataFrame, movies: pl.DataFrame | None) -> np.ndarray:
        return np.append(ratings["movie_id"].unique().to_numpy(), 99)

    def _fit(self, matrix: Any, **context: Any) -> None:
        self.fitted_ = np.ones(1)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        scores = -self.item_map_.ids.astype(np.float64)
        scores[self.item_map_.ids == 99] = 100.0
        return np.tile(scores, (len(users), 1))

    def _state(self) -> dict[str, np.ndarray]:
        return {"fitted": self.fitted_}

    def _load_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.fitted_ = arrays["fitted"]


def _tiny_split():
    # Each user has 5 ratings, so the last one in time is test.
    rows = []
    plan = {1: ([1, 2, 3, 4], 5, 4.0),   # candidates {5, 6}: liked 5 ranks 1st
            2: ([3, 4, 5, 6], 1, 2.0),   # disliked test rating: not ranked
            3: ([5, 6, 1, 2], 4, 5.0)}   # candidates {3, 4}: liked 4 ranks 2nd
    for user, (train, test, rating) in plan.items():
        rows += [(user, m, 3.0, 100 * user + t) for t, m in enumerate(train)]
        rows.append((user, test, rating, 100 * user + 50))
    return per_user_split(pl.DataFrame(rows, schema=RATINGS_SCHEMA, orient="row"))


def test_evaluate_topn_by_hand():
    split = _tiny_split()
    model = WideUniverseModel().fit(split.train)
    assert 99 in model.item_map_  # the wider universe is real ...
    assert model.recommend(1, k=1)[0].tolist() == [99]  # ... and recommend_batch ranks it
    recommended = recommend_candidates(model, np.array([1, 3]), split.train, k=3)
    assert recommended.tolist() == [[5, 6, -1], [3, 4, -1]]  # 99 and seen movies masked
    got = evaluate_topn(model, split, k=10)
    assert got["n_users"] == 2 and got["n_candidates"] == 6
    assert got["ndcg@10"] == pytest.approx((1 + 1 / math.log2(3)) / 2)
    assert got["map@10"] == pytest.approx((1 + 0.5) / 2)
    assert got["recall@10"] == 1.0 and got["hit_rate@10"] == 1.0
    assert got["coverage@10"] == pytest.approx(4 / 6) and got["predict_seconds"] >= 0


def test_evaluate_topn_refuses_a_model_that_saw_the_test():
    split = _tiny_split()
    leaky = WideUniverseModel().fit(pl.concat([split.train, split.test]))
    with pytest.raises(ValueError, match="fitted on 3 test rating"):
        evaluate_topn(leaky, split)
