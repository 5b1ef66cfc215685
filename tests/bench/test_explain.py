"""The explain benchmark's report (the live run itself is a benchmark, not a test)."""

from __future__ import annotations

from scripts.bench.explain import ENDPOINTS, TITLE, explain_targets, render_explain


def _result(p50: float) -> dict:
    endpoints = [{"endpoint": e, "requests": 10, "errors": 0, "p50_ms": p50, "p99_ms": 2 * p50,
                  "mean_ms": p50, "requests_per_s": 100.0} for e in ENDPOINTS]
    runs = [{"start_seconds": 1.0, "load_average": [1.5, 1.2, 1.0], "endpoints": endpoints}]
    medians = {f"{e} {k}": float(endpoints[0][k]) for e in ENDPOINTS
               for k in ("p50_ms", "p99_ms", "requests_per_s")}
    return {"artifacts": "/tmp/store", "workers": 2, "concurrency": 2,
            "requests_per_endpoint": 10, "repeats": 1, "medians": medians, "runs": runs,
            "targets": explain_targets(medians),
            "in_process": {"calls": 10, "like_p50_ms": 5.0, "like_p99_ms": 9.0,
                           "recommend_p50_ms": 20.0, "like_predict_10_p50_ms": 1.0,
                           "load_average": [1.0, 1.0, 1.0]}}


def test_the_section_states_the_figure_its_load_and_the_target():
    text = render_explain(_result(4.0), "python scripts/benchmark.py explain", "2026-12-01")
    assert "`GET /users/<u>/movies/<m>` p50, ms | 4.0 (4.0)" in text
    assert "1.50 / 1.20 / 1.00" in text and "met: 60% better" in text
    assert "missed" in render_explain(_result(12.0), "c", "d")
    assert "| 1.000 (5.0% of `recommend`) |" in text
    assert TITLE == "P(like) and explanations (issue 15)"
