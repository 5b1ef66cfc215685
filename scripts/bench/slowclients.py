"""Slow clients against a live server: do they starve everyone else?

``run_slow_clients`` starts ``scripts/serve.py`` on loopback, opens ``connections`` sockets
that each trickle a request at one byte per ``interval`` seconds (half of them the header
lines, half a POST body that its ``Content-Length`` promises but never finishes), and for
``seconds`` seconds probes ``/health`` and ``/recommend/<user>`` from a second thread every
``probe_every`` seconds. A probe counts as answered when it gets a 200 within
``probe_timeout``. Everything is bounded: the connection count, the run time, the probes.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from scripts.bench.loadtest import check_loopback
from scripts.bench.serve import free_port, stack_flags

ROOT = Path(__file__).resolve().parents[2]
MAX_CONNECTIONS = 500
MAX_SECONDS = 300.0


def _trickle(port: int, kind: str, stop: threading.Event, interval: float,
             sent: list[int]) -> None:
    """One slow client: the request's bytes one at a time until ``stop`` (or refused)."""
    if kind == "headers":
        data = b"GET /recommend/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 4000
    else:
        data = (b"POST /recommend HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                b"application/json\r\nContent-Length: 100000\r\n\r\n" + b" " * 100000)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            for byte in data:
                if stop.wait(interval):
                    return
                sock.sendall(bytes([byte]))
                sent[0] += 1
    except OSError:
        return  # the server closed it (a timeout or a limit): that is allowed


def _probe(port: int, path: str, timeout: float) -> float | None:
    started = time.perf_counter()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        conn.close()
    except OSError:
        return None
    return (time.perf_counter() - started) * 1000 if response.status == 200 else None


def start(artifacts: Path, port: int, stack: str) -> subprocess.Popen:
    command = [sys.executable, str(ROOT / "scripts" / "serve.py"), "--artifacts",
               str(artifacts), "--port", str(port), *stack_flags(stack)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _probe(port, "/health", 5) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the server did not start")
        time.sleep(0.2)
    return process


def run_slow_clients(artifacts: Path, connections: int = 50, seconds: float = 60.0,
                     interval: float = 1.0, probe_every: float = 0.5,
                     probe_timeout: float = 10.0,
                     stack: str = "front") -> dict[str, Any]:
    if not 1 <= connections <= MAX_CONNECTIONS or not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"at most {MAX_CONNECTIONS} connections and {MAX_SECONDS:.0f} s")
    check_loopback("127.0.0.1")
    port = free_port()
    process = start(artifacts, port, stack)
    stop = threading.Event()
    sent = [0]
    try:
        slow = [threading.Thread(target=_trickle, daemon=True,
                                 args=(port, "headers" if n % 2 == 0 else "body", stop,
                                       interval, sent))
                for n in range(connections)]
        for thread in slow:
            thread.start()
        time.sleep(min(2.0, seconds / 4))  # every slow client connected and trickling
        latencies: list[float] = []
        missed = 0
        deadline = time.monotonic() + seconds
        n = 0
        while time.monotonic() < deadline:
            path = "/health" if n % 2 == 0 else f"/recommend/{1 + n % 50}?k=5"
            ms = _probe(port, path, probe_timeout)
            if ms is None:
                missed += 1
            else:
                latencies.append(ms)
            n += 1
            time.sleep(probe_every)
        stop.set()
        for thread in slow:
            thread.join(timeout=10)
        alive = process.poll() is None
    finally:
        stop.set()
        process.terminate()
        process.wait(timeout=60)
    lat = np.asarray(latencies) if latencies else np.asarray([np.nan])
    return {
        "connections": connections, "seconds": seconds, "interval": interval,
        "stack": stack, "probes": n, "answered": len(latencies),
        "missed": missed, "p50_ms": round(float(np.nanpercentile(lat, 50)), 1),
        "p99_ms": round(float(np.nanpercentile(lat, 99)), 1),
        "slow_bytes_sent": sent[0], "server_alive": alive,
        "load_average": os.getloadavg(),
    }


def render_slow_clients(results: list[dict[str, Any]], command: str) -> str:
    lines = [f"Command: `{command}`", "",
             "Slow clients trickle one byte per interval on loopback (half of them header "
             "lines, half a POST body shorter than its Content-Length), while a second "
             "thread probes `/health` and `/recommend/<user>` every 0.5 s; a probe counts "
             "when it gets a 200 within 10 s.", "",
             "| stack | slow connections | seconds | probes answered | p50, ms | "
             "p99, ms | load average |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in results:
        lines.append(f"| {r['stack']} | {r['connections']} | {r['seconds']:.0f} | "
                     f"{r['answered']} of {r['probes']} | {r['p50_ms']} | {r['p99_ms']} | "
                     f"{', '.join(f'{x:.2f}' for x in r['load_average'])} |")
    best = results[-1]
    ok = best["missed"] == 0 and best["p99_ms"] <= 1000
    lines += ["", f"Target (issue 14): every probe answered, p99 <= 1 s, with the default "
                  f"stack, reco's buffering front (last row): {'met' if ok else 'missed'}."]
    return "\n".join(lines) + "\n"
