"""The ``explain`` benchmark (issue 15): P(like) and its explanation under gunicorn.

Each repeat starts ``scripts/serve.py`` on a free loopback port (as the ``serve``
benchmark does, :func:`scripts.bench.serve.start_server`), warms it up, then sends from
this process, with :func:`scripts.bench.loadtest.run_load`: ``GET /users/<u>/movies/<m>``
for random known users and random catalog movies (P(like), the predicted rating and the
explanation: the figure of the issue), ``GET /recommend/<u>?k=10&explain=true`` and, on the
same server, plain ``GET /recommend/<u>?k=10`` to set the cost of explanations against.
Then, in this process (no HTTP; XGBoost held to one thread, as in a worker), the pair
route's own work (:meth:`RecoService.like <reco.serving.service.RecoService.like>`) on
random known pairs, and what explain-off ``/recommend`` gained, one like-model predict of
ten rows, timed interleaved with whole ``recommend`` calls (:func:`in_process`). Medians
over the repeats, with the load averages, go to ``docs/BENCHMARKS.md``
(:func:`render_explain`).
"""

from __future__ import annotations

import logging
import os
import time
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
            "runs": runs, "targets": explain_targets(medians),
            "in_process": in_process(artifacts, requests, seed)}


def in_process(artifacts: Path, requests: int, seed: int = 0) -> dict[str, Any]:
    """p50/p99 of ``RecoService.like`` on random known pairs, and the like-model predict
    of ten rows against whole ``recommend`` calls, interleaved (see the module docstring)."""
    from reco.ranking.like import like_features, like_probability
    from reco.serving.service import RecoService

    service = RecoService.load(artifacts, checksums=False)
    model = service.model
    for booster in (model.ranker_, model.like_model_):
        booster.set_param({"nthread": 1})  # a worker's one thread (scripts/serve.py)
    rng = np.random.default_rng(seed)
    users = rng.choice(model.user_map_.ids, requests)
    movies = rng.choice(service.catalog["movie_id"].to_numpy(), requests)
    for u, m in zip(users[:WARM_UP], movies[:WARM_UP]):
        service.like(int(u), int(m))
        service.recommend(int(u), 10)
    pair, whole, added = [], [], []
    context = model.stage_.store.known_users(users[:1])
    rows = like_features(model.stage_, context, np.zeros(10, np.int64), model.item_map_.ids[:10])
    for u, m in zip(users, movies):
        a = time.perf_counter()
        service.like(int(u), int(m))
        b = time.perf_counter()
        service.recommend(int(u), 10)
        c = time.perf_counter()
        like_probability(model.like_model_, rows)
        d = time.perf_counter()
        pair.append(b - a)
        whole.append(c - b)
        added.append(d - c)
    ms = {name: np.asarray(v) * 1000 for name, v in
          (("pair", pair), ("recommend", whole), ("added", added))}
    return {"calls": requests, "like_p50_ms": round(float(np.median(ms["pair"])), 2),
            "like_p99_ms": round(float(np.percentile(ms["pair"], 99)), 2),
            "recommend_p50_ms": round(float(np.median(ms["recommend"])), 2),
            "like_predict_10_p50_ms": round(float(np.median(ms["added"])), 3),
            "load_average": [round(v, 2) for v in os.getloadavg()]}


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
             f"Artifacts: {result['artifacts']}. scripts/serve.py's default stack (reco's "
             f"buffering front before {result['workers']} gunicorn sync workers), "
             f"{result['concurrency']} client threads in a second process on "
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
    inner = result.get("in_process")
    if inner:
        share = 100 * inner["like_predict_10_p50_ms"] / inner["recommend_p50_ms"]
        lines += ["", f"In process (no HTTP, one XGBoost thread, {inner['calls']:,} random "
                  f"known pairs and users, after {WARM_UP} warm-up calls; load average "
                  + " / ".join(f"{v:.2f}" for v in inner["load_average"]) + " at the end):",
                  "", "| figure | p50 |", "| --- | ---: |",
                  f"| `RecoService.like` (the pair route's work), ms | {inner['like_p50_ms']:.2f} "
                  f"(p99 {inner['like_p99_ms']:.2f}) |",
                  f"| `RecoService.recommend`, k 10, explain off, ms | "
                  f"{inner['recommend_p50_ms']:.2f} |",
                  f"| what explain-off `/recommend` gained: the like-model predict of 10 rows, "
                  f"ms | {inner['like_predict_10_p50_ms']:.3f} ({share:.1f}% of `recommend`) |"]
    return "\n".join(lines)
