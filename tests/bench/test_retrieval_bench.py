"""scripts/bench/retrieval.py: one small run on a store whose catalog is indexed, its
parts and threads, and the section it writes."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from scripts.bench import retrieval as brt


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from reco.artifacts.model_dir import save_model
    from reco.data.synthetic import SyntheticConfig, generate
    from reco.ranking.hybrid import HybridRecommender
    from reco.ranking.retrieval import RetrievalConfig
    from tests.ranking.test_hybrid import SMALL

    data = generate(SyntheticConfig(n_users=120, n_movies=220, n_ratings=7_000, seed=5))
    config = replace(SMALL, retrieval=RetrievalConfig(min_items=1, lists=10))
    model = HybridRecommender(config).fit(data.ratings, data.movies, tags=data.tags,
                                          links=data.links)
    out = tmp_path_factory.mktemp("indexed")
    save_model(model, out, catalog=data.movies)
    return out


@pytest.mark.slow
def test_a_run_times_every_part_with_one_thread(store: Path) -> None:
    from threadpoolctl import threadpool_info

    before = [(pool["internal_api"], pool["num_threads"]) for pool in threadpool_info()]
    result = brt.run_requests(store, requests=60, threads=1)
    assert [(p["internal_api"], p["num_threads"]) for p in threadpool_info()] == before
    assert result["threads"] == 1 and result["requests"] == 60
    # a number on Linux (RssAnon); on a tiny store it may even fall (a collection during
    # the load), so only its kind is checked
    if sys.platform.startswith("linux"):
        assert isinstance(result["load_private_mb"], float)
    for path in ("exact", "index"):
        parts = result[path]["parts_ms"]
        assert set(parts) == set(brt.PARTS)
        assert all(value >= 0 for value in parts.values())
        # the named parts happen inside the answer: their medians stay under its p99
        assert sum(v for k, v in parts.items() if k != "the rest") <= result[path]["p99_ms"]
    assert 0.0 <= result["top10_overlap"]["mean"] <= 1.0
    assert set(result["recall"]) <= {"cf", "content"}
    text = brt.render_retrieval({"requests_result": result,
                                 "provenance": {"load_average": [0.5, 0.5, 0.5],
                                                "started": "now"}}, "the command")
    for part in brt.PARTS:
        assert f"| {part} |" in text
    assert "1 thread(s) each for BLAS, OpenMP and XGBoost" in text

