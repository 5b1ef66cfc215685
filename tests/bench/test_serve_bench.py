"""scripts/bench/serve.py: the section it writes, the HTTP floor beside the endpoints."""

from __future__ import annotations

from scripts.bench import serve as bs


def _result(p50: dict[str, float]) -> dict:
    runs = [{"start_seconds": 2.5 + r / 10, "load_average": 1.0,
             "endpoints": [{"endpoint": e, "requests": 10, "errors": 0, "p50_ms": p50[e] + r,
                            "p99_ms": 2 * p50[e] + r, "mean_ms": p50[e],
                            "requests_per_s": 1000 / (p50[e] + r)} for e in bs.ENDPOINTS]}
            for r in range(3)]
    medians = {"start_seconds": 2.6}
    for i, name in enumerate(bs.ENDPOINTS):
        for key in ("p50_ms", "p99_ms", "requests_per_s"):
            values = sorted(run["endpoints"][i][key] for run in runs)
            medians[f"{name} {key}"] = values[1]
    return {"artifacts": "a", "workers": 2, "stack": "front", "concurrency": 2,
            "requests_per_endpoint": 10, "repeats": 3, "medians": medians, "runs": runs}


def test_the_section_has_every_endpoint_and_the_http_floor() -> None:
    assert bs.ENDPOINTS[-1] == "/movies"
    result = _result({"/recommend": 12.0, "/similar": 5.0, "POST /recommend": 14.0,
                      "/movies": 2.0})
    text = bs.render_serve(result, "the command", "a store")
    assert "| `/movies/<id>` (a lookup, no model: the HTTP floor) p50, ms | 3.0 (2.0, 3.0, 4.0) |" \
        in text
    assert "| `/recommend` p50, ms | 13.0 (12.0, 13.0, 14.0) |" in text
    targets = {row["target"]: row["status"] for row in bs.serve_targets(result)}
    assert targets["/recommend p50_ms <= 10"] == "missed"
    assert targets["start_seconds <= 5"] == "met"
