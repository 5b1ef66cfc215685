"""The ``serve`` benchmark: reco under gunicorn on loopback, loaded from a second process.

Each repeat starts ``scripts/serve.py`` (``workers`` gunicorn workers in one of :data:`STACKS`)
on a free loopback port, times the start (process start to the first answer of ``/health``), warms
it up, then sends a bounded number of requests per endpoint from this process with
:func:`scripts.bench.loadtest.run_load`: ``GET /recommend/<user>`` for random known users,
``GET /similar/<movie>`` for random movies, and ``POST /recommend`` with the ratings of a
person the model never saw (folded in), and ``GET /movies/<movie>``, a catalog lookup that
touches no model: the HTTP floor of this stack on this machine (the front, gunicorn, Flask,
JSON and the client), so each endpoint's cost above it is visible. Medians over the repeats go to
``docs/BENCHMARKS.md`` with the issue's targets (:func:`render_serve`).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from reco.artifacts.store import resolve
from scripts.bench.loadtest import run_load

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
ENDPOINTS = ("/recommend", "/similar", "POST /recommend", "/movies")
NEW_PERSON_RATINGS = 20  # ratings per POST /recommend: a person who rated a few titles
WARM_UP = 50
START_TIMEOUT = 300.0
#: (figure, limit, higher is better) from the serving issue, stated for 32M ratings
TARGETS = (
    ("/recommend p50_ms", 10.0, False), ("/recommend p99_ms", 50.0, False),
    ("/recommend requests_per_s", 200.0, True), ("/similar p50_ms", 5.0, False),
    ("POST /recommend p50_ms", 10.0, False), ("POST /recommend p99_ms", 50.0, False),
    ("start_seconds", 5.0, False),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: The serving stacks a benchmark can start: reco's buffering front before sync workers
#: (the default of scripts/serve.py), or gunicorn facing clients with one worker class.
STACKS = ("front", "gevent", "sync", "gthread")


def stack_flags(stack: str) -> list[str]:
    """scripts/serve.py's options for one of :data:`STACKS`."""
    if stack not in STACKS:
        raise ValueError(f"unknown serving stack {stack!r}; one of {', '.join(STACKS)}")
    return [] if stack == "front" else ["--no-front", "--worker-class", stack]


def start_server(artifacts: Path, port: int, workers: int,
                 stack: str = "front") -> tuple[subprocess.Popen, float]:
    """Start ``scripts/serve.py``; return the process and the seconds until it answered."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "serve.py"), "--artifacts", str(artifacts),
         "--port", str(port), "--workers", str(workers), *stack_flags(stack)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                return process, time.perf_counter() - started
        except OSError:
            if process.poll() is not None or time.perf_counter() - started > START_TIMEOUT:
                process.kill()
                raise RuntimeError(f"the server on {artifacts} did not start "
                                   f"(exit code {process.poll()})") from None
            time.sleep(0.05)


def new_people(rng: np.random.Generator, movies: np.ndarray, n: int) -> list[bytes]:
    """``n`` JSON bodies for ``POST /recommend``, each the ratings of an unseen person."""
    bodies = []
    for _ in range(n):
        picked = rng.choice(movies, min(NEW_PERSON_RATINGS, movies.size), replace=False)
        stars = rng.integers(1, 11, picked.size) / 2
        bodies.append(json.dumps({"ratings": [
            {"movie_id": int(m), "rating": float(r)} for m, r in zip(picked, stars)]}).encode())
    return bodies


def run_serve(artifacts: Path, requests: int, concurrency: int, workers: int,
              repeats: int, seed: int = 0, stack: str = "front") -> dict[str, Any]:
    """Every repeat's figures per endpoint and their medians (see the module docstring)."""
    version = resolve(artifacts)  # a store's current version, or one version directory
    users = pl.read_parquet(version / "features" / "users.parquet")["user_id"].to_numpy()
    movies = pl.read_parquet(version / "catalog.parquet")["movie_id"].to_numpy()
    rng = np.random.default_rng(seed)
    runs = []
    for repeat in range(repeats):
        port = free_port()
        process, start_seconds = start_server(artifacts, port, workers, stack)
        try:
            warm = [f"/recommend/{u}?k=10" for u in rng.choice(users, WARM_UP)]
            run_load("127.0.0.1", port, warm, "warm-up", concurrency)
            rec = [f"/recommend/{u}?k=10" for u in rng.choice(users, requests)]
            sim = [f"/similar/{m}?k=10" for m in rng.choice(movies, requests)]
            results = [run_load("127.0.0.1", port, rec, ENDPOINTS[0], concurrency),
                       run_load("127.0.0.1", port, sim, ENDPOINTS[1], concurrency),
                       run_load("127.0.0.1", port, ["/recommend?k=10"] * requests,
                                ENDPOINTS[2], concurrency,
                                bodies=new_people(rng, movies, requests)),
                       run_load("127.0.0.1", port,
                                [f"/movies/{m}" for m in rng.choice(movies, requests)],
                                ENDPOINTS[3], concurrency)]
            runs.append({"start_seconds": round(start_seconds, 3),
                         "load_average": round(os.getloadavg()[0], 2),
                         "endpoints": [r.summary() for r in results]})
            log.info("serve repeat %d/%d: %s", repeat + 1, repeats, runs[-1])
        finally:
            process.terminate()
            process.wait(timeout=30)
    medians = {"start_seconds": float(np.median([r["start_seconds"] for r in runs]))}
    for i, name in enumerate(ENDPOINTS):
        for key in ("p50_ms", "p99_ms", "requests_per_s"):
            medians[f"{name} {key}"] = float(np.median([r["endpoints"][i][key] for r in runs]))
    return {"artifacts": str(artifacts), "workers": workers, "stack": stack,
            "concurrency": concurrency,
            "requests_per_endpoint": requests, "repeats": repeats, "medians": medians,
            "runs": runs}


def serve_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for figure, limit, higher in TARGETS:
        measured = result["medians"].get(figure)
        met = measured >= limit if higher else measured <= limit
        by = abs(measured / limit - 1) * 100
        rows.append({"target": f"{figure} {'>=' if higher else '<='} {limit:g}",
                     "measured": measured, "status": "met" if met else "missed",
                     "margin": f"{by:.0f}% {'better' if met else 'worse'}"})
    return rows


def _stack_words(stack: str) -> str:
    return ("reco's buffering front before gunicorn's sync workers" if stack == "front"
            else f"gunicorn {stack} workers facing clients (--no-front)")


def render_serve(result: dict[str, Any], command: str, name: str) -> str:
    """A ``## Serving`` section of docs/BENCHMARKS.md from a :func:`run_serve` result."""
    runs = result["runs"]
    lines = [f"Command: `{command}`", "",
             f"Artifacts: {name}. {_stack_words(result.get('stack', 'front'))}, "
             f"{result['workers']} workers (one thread each "
             f"for Polars, OpenMP and BLAS), {result['concurrency']} client threads in a second "
             f"process on loopback, {result['requests_per_endpoint']:,} requests per endpoint "
             f"and repeat after {WARM_UP} warm-up requests; {result['repeats']} repeats, each "
             "with a freshly started server. Cells: median and, in brackets, each run.", "",
             "| figure | median (runs) |", "| --- | ---: |"]
    start = [r["start_seconds"] for r in runs]
    lines.append(f"| server start (process start to first `/health`), s | "
                 f"{np.median(start):.2f} ({', '.join(f'{v:.2f}' for v in start)}) |")
    for i, endpoint in enumerate(ENDPOINTS):
        for key, unit in (("p50_ms", "p50, ms"), ("p99_ms", "p99, ms"),
                          ("requests_per_s", "requests/s")):
            values = [r["endpoints"][i][key] for r in runs]
            label = (f"`{endpoint}`" if endpoint != "/movies" else
                     "`/movies/<id>` (a lookup, no model: the HTTP floor)")
            lines.append(f"| {label} {unit} | {np.median(values):.1f} "
                         f"({', '.join(f'{v:.1f}' for v in values)}) |")
    errors = sum(e["errors"] for r in runs for e in r["endpoints"])
    loads = [r.get("load_average") for r in runs if r.get("load_average") is not None]
    lines += ["", f"Errors: {errors}. 1-minute load average after each repeat: "
              + (", ".join(f"{v:.2f}" for v in loads) or "not recorded")
              + " (2 cores, shared by the workers and the client).", "",
              "**Targets** (the serving issue states them for 32M ratings)", "",
              "| target | measured (median) | status |", "| --- | ---: | --- |"]
    for row in serve_targets(result):
        lines.append(f"| {row['target']} | {row['measured']:.3g} | {row['status']}: "
                     f"{row['margin']} |")
    return "\n".join(lines)
