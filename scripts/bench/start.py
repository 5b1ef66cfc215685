"""Server start and verification cost: what checking every byte of a version adds.

``run_start`` starts ``scripts/serve.py`` (gunicorn, 2 workers) on a store and times it to
the first ``GET /recommend/<user>`` that answers 200, ``repeats`` times; with a baseline (a
checkout of another reco and artifacts it reads) the two alternate A B A B in one sitting,
so the ratio is measured under the same host load. It also times
``scripts/artifacts.py verify`` (the sha256 pass over every file) on the store.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from scripts.bench.serve import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120.0


def time_start(root: Path, artifacts: Path, workers: int = 2) -> float:
    """Seconds from ``root/scripts/serve.py`` starting to its first 200 on /recommend."""
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(root / "scripts" / "serve.py"), "--artifacts", str(artifacts),
         "--port", str(port), "--workers", str(workers)],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/recommend/1?k=5",
                                            timeout=10):
                    return time.perf_counter() - started
            except OSError:
                if process.poll() is not None or time.perf_counter() - started > START_TIMEOUT:
                    raise RuntimeError(f"{root}: the server did not start") from None
                time.sleep(0.05)
    finally:
        process.terminate()
        process.wait(timeout=60)
        time.sleep(1.0)  # the port and the page cache settle before the next start


def time_verify(artifacts: Path) -> tuple[float, float]:
    """Seconds and MB of ``scripts/artifacts.py verify`` on the current version."""
    from reco.artifacts import store

    version = store.resolve(artifacts)
    started = time.perf_counter()
    manifest = store.verify(version)
    seconds = time.perf_counter() - started
    return seconds, sum(e["size"] for e in manifest["files"].values()) / 1e6


def run_start(artifacts: Path, repeats: int, baseline_root: Path | None = None,
              baseline_artifacts: Path | None = None) -> dict[str, Any]:
    runs: dict[str, list[float]] = {"this": []}
    if baseline_root is not None:
        runs["baseline"] = []
    verify = [time_verify(artifacts) for _ in range(repeats)]
    for _ in range(repeats):
        if baseline_root is not None and baseline_artifacts is not None:
            runs["baseline"].append(round(time_start(baseline_root, baseline_artifacts), 2))
        runs["this"].append(round(time_start(ROOT, artifacts), 2))
    medians = {name: statistics.median(values) for name, values in runs.items()}
    out: dict[str, Any] = {
        "artifacts": str(artifacts), "runs": runs, "medians": medians,
        "verify_seconds": [round(s, 2) for s, _ in verify],
        "verify_median_seconds": round(statistics.median(s for s, _ in verify), 2),
        "version_mb": round(verify[0][1], 1),
        "load_average": os.getloadavg(),
    }
    if "baseline" in medians:
        out["ratio"] = round(medians["this"] / medians["baseline"], 3)
    return out


def render_start(result: dict[str, Any], command: str) -> str:
    runs, medians = result["runs"], result["medians"]
    lines = [f"Command: `{command}`", "",
             f"Version: {result['version_mb']:,.1f} MB (`{result['artifacts']}`). Start: "
             "process start to the first `GET /recommend/1` answered 200, gunicorn with 2 "
             "workers; runs alternate with the baseline in one sitting. Load average at the "
             f"end: {', '.join(f'{x:.2f}' for x in result['load_average'])}.", "",
             "| figure | median | runs |", "| --- | ---: | --- |",
             f"| verification (sha256 of every file, `store.verify`), s | "
             f"{result['verify_median_seconds']:.2f} | {result['verify_seconds']} |",
             f"| server start, this checkout, s | {medians['this']:.2f} | {runs['this']} |"]
    if "baseline" in medians:
        lines += [f"| server start, baseline, s | {medians['baseline']:.2f} | {runs['baseline']} |",
                  f"| ratio this / baseline | {result['ratio']:.3f} | |"]
    target = 5.0
    status = ("met" if medians["this"] <= target
              else f"missed by {medians['this'] - target:.2f} s")
    lines += ["", f"Target: start <= {target:.0f} s: {status}."]
    return "\n".join(lines) + "\n"
