"""A small, bounded HTTP load generator for benchmarking a running reco server.

Loopback only: it refuses any host that is not 127.0.0.0/8, ::1 or localhost. Each worker
thread keeps one HTTP/1.1 connection; latencies are wall-clock per request.
"""

from __future__ import annotations

import http.client
import ipaddress
import threading
import time
from dataclasses import dataclass

import numpy as np


def check_loopback(host: str) -> None:
    if host == "localhost":
        return
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"load tests target loopback addresses only, got {host!r}")


@dataclass(frozen=True)
class LoadResult:
    path_kind: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: np.ndarray

    def summary(self) -> dict[str, float | int | str]:
        lat = self.latencies_ms
        return {
            "endpoint": self.path_kind, "requests": self.requests, "errors": self.errors,
            "p50_ms": round(float(np.percentile(lat, 50)), 2),
            "p99_ms": round(float(np.percentile(lat, 99)), 2),
            "mean_ms": round(float(lat.mean()), 2),
            "requests_per_s": round(self.requests / self.seconds, 1),
        }


def run_load(host: str, port: int, paths: list[str], kind: str, concurrency: int,
             timeout: float = 30.0, bodies: list[bytes] | None = None) -> LoadResult:
    """Request every path once, spread over ``concurrency`` threads; bounded by
    ``len(paths)``. GET, or POST of ``bodies[i]`` (JSON) to ``paths[i]`` when given."""
    check_loopback(host)
    if bodies is not None and len(bodies) != len(paths):
        raise ValueError(f"{len(bodies)} bodies for {len(paths)} paths")
    json_headers = {"Content-Type": "application/json"}
    latencies = np.zeros(len(paths))
    errors = [0] * concurrency

    def worker(slot: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        for i in range(slot, len(paths), concurrency):
            started = time.perf_counter()
            try:
                if bodies is None:
                    conn.request("GET", paths[i])
                else:
                    conn.request("POST", paths[i], body=bodies[i], headers=json_headers)
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    errors[slot] += 1
            except (OSError, http.client.HTTPException):
                errors[slot] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
            latencies[i] = (time.perf_counter() - started) * 1000
        conn.close()

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(kind, len(paths), sum(errors), time.perf_counter() - started, latencies)
