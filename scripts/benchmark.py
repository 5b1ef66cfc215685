"""Benchmarks for docs/BENCHMARKS.md (medians of repeated runs; never timed tests).

    python scripts/benchmark.py serve --artifacts /tmp/art_small --requests 2000 --repeats 3

serve: starts scripts/serve.py (gunicorn, 2 workers) on loopback, waits until it answers,
warms it up, then sends a bounded number of GET /recommend/<user> and /similar/<movie>
requests from this process and reports p50/p99 latency and requests/s per endpoint; also
the server start time (process start to first answer of /health).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

if __package__ in (None, ""):  # run as a file from a clone that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from reco.cli import setup_logging  # noqa: E402
from reco.loadtest import run_load  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(artifacts: Path, port: int, workers: int) -> tuple[subprocess.Popen, float]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "serve.py"), "--artifacts", str(artifacts),
         "--port", str(port), "--workers", str(workers)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5):
                return process, time.perf_counter() - started
        except OSError:
            if process.poll() is not None or time.perf_counter() - started > 300:
                process.kill()
                raise RuntimeError("the server did not start") from None
            time.sleep(0.05)


def serve(args: argparse.Namespace) -> dict:
    users = pl.read_parquet(args.artifacts / "features" / "users.parquet")["user_id"].to_numpy()
    movies = pl.read_parquet(args.artifacts / "catalog.parquet")["movie_id"].to_numpy()
    rng = np.random.default_rng(0)
    runs = []
    for repeat in range(args.repeats):
        port = _free_port()
        process, start_seconds = _start(args.artifacts, port, args.workers)
        try:
            warm = [f"/recommend/{u}?k=10" for u in rng.choice(users, 50)]
            run_load("127.0.0.1", port, warm, "warm-up", args.concurrency)
            rec = [f"/recommend/{u}?k=10" for u in rng.choice(users, args.requests)]
            sim = [f"/similar/{m}?k=10" for m in rng.choice(movies, args.requests)]
            results = [run_load("127.0.0.1", port, rec, "/recommend", args.concurrency),
                       run_load("127.0.0.1", port, sim, "/similar", args.concurrency)]
            runs.append({"start_seconds": round(start_seconds, 3),
                         "endpoints": [r.summary() for r in results]})
        finally:
            process.terminate()
            process.wait(timeout=30)
    medians = {"start_seconds": float(np.median([r["start_seconds"] for r in runs]))}
    for i, name in enumerate(("/recommend", "/similar")):
        for key in ("p50_ms", "p99_ms", "requests_per_s"):
            medians[f"{name} {key}"] = float(np.median([r["endpoints"][i][key] for r in runs]))
    return {"artifacts": str(args.artifacts), "workers": args.workers,
            "concurrency": args.concurrency, "requests_per_endpoint": args.requests,
            "repeats": args.repeats, "medians": medians, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="latency and throughput of a gunicorn-served artifact dir")
    s.add_argument("--artifacts", type=Path, required=True)
    s.add_argument("--requests", type=int, default=2000, help="per endpoint and repeat")
    s.add_argument("--concurrency", type=int, default=4, help="client threads")
    s.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    args = parser.parse_args(argv)
    setup_logging()
    result = serve(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
