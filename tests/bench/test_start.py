"""scripts/bench/start.py: the start-time section renders what was measured, met or missed."""

from __future__ import annotations

from scripts.bench.start import render_start


def _result(this: float, baseline: float | None) -> dict:
    result = {"artifacts": "/tmp/s", "runs": {"this": [this, this]},
              "medians": {"this": this}, "verify_seconds": [0.5, 0.6],
              "verify_median_seconds": 0.55, "version_mb": 1017.4,
              "load_average": (1.0, 1.2, 1.4)}
    if baseline is not None:
        result["runs"]["baseline"] = [baseline]
        result["medians"]["baseline"] = baseline
        result["ratio"] = round(this / baseline, 3)
    return result


def test_render_says_met_or_missed_by_how_much():
    text = render_start(_result(6.24, 5.97), "python scripts/benchmark.py start ...")
    assert "| server start, this checkout, s | 6.24 |" in text
    assert "| ratio this / baseline | 1.045 |" in text
    assert "missed by 1.24 s" in text and "1,017.4 MB" in text
    assert "Target: start <= 5 s: met." in render_start(_result(4.0, None), "cmd")
