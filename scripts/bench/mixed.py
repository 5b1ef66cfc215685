"""The serving stacks side by side under one bounded mixed load.

``run_mixed`` starts ``scripts/serve.py`` with each stack in turn (reco's buffering front
before sync workers, gunicorn's gevent or sync workers facing clients), warms it up, sends
the lifecycle benchmark's mix (recommend, similar, POST with a new person's ratings,
health, 5% deliberately bad requests) from ``concurrency`` client threads over persistent
connections, and stops it. Stacks alternate within each repeat, so every stack sees the
same host in turn; the table gives medians over the repeats and each run, and the p99
ratio of every stack to the first, per repeat (ratios measured in one run).
"""

from __future__ import annotations

import os
import statistics
from pathlib import Path
from typing import Any

from scripts.bench.lifecycle import MixedLoad, latency, load_summary, request_plan
from scripts.bench.loadtest import check_loopback
from scripts.bench.serve import free_port, start_server

WARM_UP = 200
MAX_REQUESTS = 200_000
MAX_SECONDS = 900.0


def one_run(artifacts: Path, stack: str, requests: int, concurrency: int,
            workers: int = 2) -> dict[str, Any]:
    check_loopback("127.0.0.1")
    port = free_port()
    process, start_seconds = start_server(artifacts, port, workers, stack)
    try:
        plan = request_plan(artifacts)
        MixedLoad(port, plan, concurrency, WARM_UP, seconds=120).start().join()
        load = MixedLoad(port, plan, concurrency, requests, seconds=MAX_SECONDS).start()
        samples = load.join()
        alive = process.poll() is None
    finally:
        process.terminate()
        process.wait(timeout=60)
    summary, good = load_summary(samples, load.started), latency(samples)
    return {"stack": stack, "requests": summary["requests"], "failed": summary["failed"],
            "p50_ms": good["p50_ms"], "p99_ms": good["p99_ms"],
            "requests_per_s": round(len(samples) / max(load.ended - load.started, 1e-9), 1),
            "hit_deadline": load.hit_deadline, "server_alive": alive,
            "start_seconds": round(start_seconds, 2),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "first_failures": summary["first_failures"][:3]}


def run_mixed(artifacts: Path, stacks: list[str], requests: int, concurrency: int,
              repeats: int) -> dict[str, Any]:
    if not 1 <= requests <= MAX_REQUESTS or not 1 <= concurrency <= 64 or not stacks:
        raise ValueError(f"1..{MAX_REQUESTS} requests, 1..64 client threads, one stack or more")
    runs = [[one_run(artifacts, stack, requests, concurrency) for stack in stacks]
            for _ in range(repeats)]
    return {"stacks": stacks, "requests": requests, "concurrency": concurrency,
            "repeats": repeats, "runs": runs}


def _median(values: list[float]) -> float:
    return round(float(statistics.median(values)), 1)


def render_mixed(result: dict[str, Any], command: str) -> str:
    stacks, runs = result["stacks"], result["runs"]
    lines = [f"Command: `{command}`", "",
             f"{result['requests']:,} requests per run at concurrency "
             f"{result['concurrency']} (persistent client connections; the lifecycle "
             f"benchmark's mix, 5% deliberately bad), after {WARM_UP} warm-up requests; "
             f"{result['repeats']} repeats, the stacks alternating within each. Cells: median "
             "(each run). p99 ratio: this stack's p99 over the first stack's, in the same "
             "repeat.", "",
             "| stack | failed | good p50, ms | good p99, ms | p99 ratio | requests/s | "
             "load average at the end |", "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for i, stack in enumerate(stacks):
        mine = [repeat[i] for repeat in runs]
        ratios = [repeat[i]["p99_ms"] / repeat[0]["p99_ms"] for repeat in runs]

        def cell(key: str, rows: list[dict[str, Any]] = mine) -> str:
            values = [r[key] for r in rows]
            return f"{_median(values)} ({', '.join(str(v) for v in values)})"

        lines.append(
            f"| {stack} | {sum(r['failed'] for r in mine)} of "
            f"{sum(r['requests'] for r in mine):,} | {cell('p50_ms')} | {cell('p99_ms')} | "
            f"{statistics.median(ratios):.2f} ({', '.join(f'{x:.2f}' for x in ratios)}) | "
            f"{cell('requests_per_s')} | "
            f"{'; '.join(', '.join(str(x) for x in r['load_average']) for r in mine)} |")
    return "\n".join(lines) + "\n"
