"""The ``explain`` benchmark (issue 15): P(like) and its explanation under gunicorn.

Each repeat starts ``scripts/serve.py`` on a free loopback port (as the ``serve``
benchmark does, :func:`scripts.bench.serve.start_server`), warms it up, then sends from
this process, with :func:`scripts.bench.loadtest.run_load`: ``GET /users/<u>/movies/<m>``
for random known users and random catalog movies (P(like), the predicted rating and the
explanation: the figure of the issue), ``GET /recommend/<u>?k=10&explain=true`` and, on the
same server, plain ``GET /recommend/<u>?k=10`` to set the cost of explanations against.
Medians over the repeats, with each repeat's 1-minute load average, go to
``docs/BENCHMARKS.md`` (:func:`render_explain`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from reco.artifacts.store import resolve
from scripts.bench.loadtest import run_load
from scripts.bench.serve import WARM_UP, free_port, start_server

log = logging.getLogger(__name__)

TITLE = "P(like) and explanations (issue 15)"
ENDPOINTS = ("GET /users/<u>/movies/<m>", "GET /recommend/<u>?explain=true",
             "GET /recommend/<u>")
#: (figure, limit): the issue's target, stated at ml-latest-small scale
TARGETS = (("GET /users/<u>/movies/<m> p50_ms", 10.0),)


def _plans(artifacts: Path, requests: int, rng: np.random.Generator) -> list[list[str]]:
    version = resolve(artifacts)  # a store's current version, or one version directory
    users = pl.read_parquet(version / "features" / "users.parquet")["user_id"].to_numpy()
    movies = pl.read_parquet(version / "catalog.parquet")["movie_id"].to_numpy()
    pairs = [f"/users/{u}/movies/{m}"
             for u, m in zip(rng.choice(users, requests), rng.choice(movies, requests))]
    explained = [f"/recommend/{u}?k=10&explain=true" for u in rng.choice(users, requests)]
    plain = [f"/recommend/{u}?k=10" for u in rng.choice(users, requests)]
    return [pairs, explained, plain]


def run_explain(artifacts: Path, requests: int, concurrency: int, workers: int,
                repeats: int, seed: int = 0) -> dict[str, Any]:
    """Every repeat's figures per endpoint and their medians (see the module docstring)."""
    rng = np.random.default_rng(seed)
    runs = []
    for repeat in range(repeats):
        plans = _plans(artifacts, requests, rng)
        port = free_port()
        process, start_seconds = start_server(artifacts, port, workers)
        try:
            for plan in plans:  # every route's first calls (lazy caches) out of the figures
                run_load("127.0.0.1", port, plan[:WARM_UP], "warm-up", concurrency)
            results = [run_load("127.0.0.1", port, plan, name, concurrency)
                       for plan, name in zip(plans, ENDPOINTS)]
            runs.append({"start_seconds": round(start_seconds, 3),
                         "load_average": [round(v, 2) for v in os.getloadavg()],
                         "endpoints": [r.summary() for r in results]})
            log.info("explain repeat %d/%d: %s", repeat + 1, repeats, runs[-1])
        finally:
            process.terminate()
            process.wait(timeout=30)
    medians: dict[str, float] = {}
    for i, name in enumerate(ENDPOINTS):
        for key in ("p50_ms", "p99_ms", "requests_per_s"):
            medians[f"{name} {key}"] = float(np.median([r["endpoints"][i][key] for r in runs]))
    return {"artifacts": str(artifacts), "workers": workers, "concurrency": concurrency,
            "requests_per_endpoint": requests, "repeats": repeats, "medians": medians,
            "runs": runs, "targets": explain_targets(medians)}


def explain_targets(medians: dict[str, float]) -> list[dict[str, Any]]:
    rows = []
    for figure, limit in TARGETS:
        measured = medians[figure]
        met = measured <= limit
        rows.append({"target": f"{figure} <= {limit:g}", "measured": measured,
                     "status": "met" if met else "missed",
                     "margin": f"{abs(measured / limit - 1) * 100:.0f}% "
                               f"{'better' if met else 'worse'}"})
    return rows


def render_explain(result: dict[str, Any], command: str, date: str) -> str:
    """The docs/BENCHMARKS.md section of a :func:`run_explain` result."""
    runs = result["runs"]
    lines = [f"Command: `{command}` ({date})", "",
             f"Artifacts: {result['artifacts']}. gunicorn, {result['workers']} gevent "
             f"workers, {result['concurrency']} client threads in a second process on "
             f"loopback, {result['requests_per_endpoint']:,} requests per endpoint and repeat "
             f"(random known users; random catalog movies for the pair route) after "
             f"{WARM_UP} warm-up requests per endpoint; {result['repeats']} repeats, each "
             "with a freshly started server. Cells: median and, in brackets, each run.", "",
             "| figure | median (runs) |", "| --- | ---: |"]
    for i, endpoint in enumerate(ENDPOINTS):
        for key, unit in (("p50_ms", "p50, ms"), ("p99_ms", "p99, ms"),
                          ("requests_per_s", "requests/s")):
            values = [r["endpoints"][i][key] for r in runs]
            lines.append(f"| `{endpoint}` {unit} | {np.median(values):.1f} "
                         f"({', '.join(f'{v:.1f}' for v in values)}) |")
    errors = sum(e["errors"] for r in runs for e in r["endpoints"])
    loads = "; ".join(" / ".join(f"{v:.2f}" for v in r["load_average"]) for r in runs)
    lines += ["", f"Errors: {errors}. Load average (1 / 5 / 15 minutes, `uptime`'s) after "
              f"each repeat: {loads} (2 cores, shared by the workers, the client and other "
              "work on the machine).", "", "| target | measured (median) | status |",
              "| --- | ---: | --- |"]
    for row in result["targets"]:
        lines.append(f"| {row['target']} | {row['measured']:.3g} | {row['status']}: "
                     f"{row['margin']} |")
    return "\n".join(lines)
