"""The ``feedback`` benchmark (issue 16): the feedback loop against a real server.

Per backend (SQLite file; the same with ``synchronous=full``; PostgreSQL database), on a
fresh store, against
``scripts/serve.py`` (its default stack, 2 gunicorn workers, loopback only) serving
``artifacts``:

1. **Write latency.** ``POST /users/<id>/ratings`` with one rating per request from one
   client, on a store pre-filled with ``prefill`` ratings (ml-latest-small holds 100,836):
   p50/p95/p99.
2. **Fold-in cost.** ``GET /recommend/<id>`` for trained users with 20 stored ratings
   against trained users with none, requests interleaved one by one (so a change of host
   load hits both alike): p50 of each and their ratio.
3. **Concurrency and kill -9.** ``writers`` threads each send ``per_writer`` ratings, one
   per request, as new users they allocate through ``POST /users``; ``kills`` times during
   the run one worker gets SIGKILL (gunicorn starts another). A request that fails (the
   connection dropped with the worker) is sent again (the upsert makes that safe); then
   the store is read back directly: every rating answered 201 must be there (``lost``
   counts those missing), every rating sent is stored exactly once (``missing``,
   ``extra``), and no id was handed out twice.

Every loop is bounded by a count and a deadline.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from reco.artifacts import store as artifact_store
from reco.data.feedback import open_store
from reco.data.feedback.postgres import scratch_schema
from scripts.bench.lifecycle import uptime
from scripts.bench.serve import free_port

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
TITLE = "Feedback loop (issue 16)"
START_TIMEOUT = 120.0
RUN_TIMEOUT = 900.0
#: The targets of issue 16.
POST_P50_MS = 5.0
FOLD_IN_RATIO = 1.2


@dataclass
class Server:
    process: subprocess.Popen
    port: int

    def workers(self) -> list[int]:
        """The gunicorn workers: the master's children. The master is scripts/serve.py's
        own process when it execs gunicorn (``--no-front``), else its gunicorn child
        (behind the buffering front, which runs in scripts/serve.py's process)."""
        pid = self.process.pid
        master = next((c for c in _children(pid) if b"gunicorn" in _cmdline(c)), pid)
        return _children(master)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return sorted(int(p) for p in path.read_text().split())
    except OSError:
        return []


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@contextlib.contextmanager
def serving(artifacts: Path, feedback: str, workers: int = 2,
            log_path: Path | None = None) -> Iterator[Server]:
    """``scripts/serve.py`` on a free loopback port with the store ``feedback``, once
    ``/health`` answers 200 and both workers are up."""
    port = free_port()
    sink = log_path.open("ab") if log_path is not None else subprocess.DEVNULL
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "serve.py"), "--artifacts", str(artifacts),
         "--host", HOST, "--port", str(port), "--workers", str(workers),
         "--reload-seconds", "0", "--feedback", feedback],
        stdout=sink, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    server = Server(process, port)
    try:
        started = time.monotonic()
        while True:
            try:
                with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=5):
                    if len(server.workers()) >= workers:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() - started > START_TIMEOUT:
                raise RuntimeError(f"the server did not start (exit code {process.poll()})")
            time.sleep(0.1)
        yield server
    finally:
        server.stop()
        if log_path is not None and hasattr(sink, "close"):
            sink.close()


def _call(conn: http.client.HTTPConnection, method: str, path: str,
          body: Any = None) -> tuple[int, Any, float]:
    """One request on a kept-alive connection: status, JSON body (or None), seconds."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    started = time.perf_counter()
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    seconds = time.perf_counter() - started
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return response.status, parsed, seconds


def _conn(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(HOST, port, timeout=30)


def catalog_movies(artifacts: Path) -> np.ndarray:
    """The movie ids the served version knows (its catalog)."""
    version = artifact_store.resolve(artifacts)
    return pl.read_parquet(version / "catalog.parquet", columns=["movie_id"])["movie_id"] \
        .to_numpy().astype(np.int64)


def trained_users(artifacts: Path) -> np.ndarray:
    version = artifact_store.resolve(artifacts)
    return np.sort(pl.read_parquet(version / "features" / "users.parquet",
                                   columns=["user_id"])["user_id"].to_numpy().astype(np.int64))


def _percentiles(seconds: list[float]) -> dict[str, float | int]:
    ms = np.asarray(seconds) * 1000
    return {"n": int(ms.size), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2)}


_GRID = [0.5 * n for n in range(1, 11)]


def prefill(url: str, movies: np.ndarray, n: int, first_user: int, seed: int = 0) -> int:
    """``n`` ratings of random movies by users from ``first_user`` on (about 165 each, as
    in ml-latest-small), straight into the store; returns the next free user id."""
    rng = np.random.default_rng(seed)
    target = open_store(url)
    user = first_user
    left = n
    while left > 0:
        count = min(left, 165, movies.size)
        chosen = rng.choice(movies, count, replace=False)
        target.put_ratings(user, chosen.tolist(), rng.choice(_GRID, count).tolist(),
                           [1_700_000_000] * count)
        left -= count
        user += 1
    target.close()
    return user


def write_latency(port: int, movies: np.ndarray, users: list[int], requests: int,
                  seed: int = 1) -> dict[str, Any]:
    """One client, one rating per ``POST /users/<id>/ratings``."""
    rng = np.random.default_rng(seed)
    conn = _conn(port)
    times, statuses = [], {}
    for n in range(requests):
        body = {"ratings": [{"movie_id": int(rng.choice(movies)),
                             "rating": float(rng.choice(_GRID))}]}
        status, _, seconds = _call(conn, "POST", f"/users/{users[n % len(users)]}/ratings", body)
        statuses[status] = statuses.get(status, 0) + 1
        times.append(seconds)
    conn.close()
    return {**_percentiles(times[min(20, requests // 10):]), "statuses": statuses}


def fold_in_latency(port: int, artifacts: Path, movies: np.ndarray, n_users: int,
                    stored: int, rounds: int, seed: int = 2) -> dict[str, Any]:
    """``GET /recommend/<id>?k=10`` for trained users with ``stored`` stored ratings and
    for as many without, interleaved."""
    rng = np.random.default_rng(seed)
    users = rng.choice(trained_users(artifacts), 2 * n_users, replace=False)
    with_stored, without = users[:n_users].tolist(), users[n_users:].tolist()
    conn = _conn(port)
    for user in with_stored:
        body = {"ratings": [{"movie_id": int(m), "rating": float(rng.choice(_GRID))}
                            for m in rng.choice(movies, stored, replace=False)]}
        status, _, _ = _call(conn, "POST", f"/users/{user}/ratings", body)
        if status != 201:
            raise RuntimeError(f"storing ratings answered {status}")
    times: dict[str, list[float]] = {"with": [], "without": []}
    checked = {"with": 0, "without": 0}
    for _ in range(rounds):
        for a, b in zip(with_stored, without):
            for name, user in (("with", a), ("without", b)):
                status, body, seconds = _call(conn, "GET", f"/recommend/{user}?k=10")
                if status != 200 or body["fallback"]:
                    raise RuntimeError(f"/recommend/{user} answered {status}")
                checked[name] += body["stored_ratings"] == (stored if name == "with" else 0)
                times[name].append(seconds)
    conn.close()
    with_p, without_p = _percentiles(times["with"]), _percentiles(times["without"])
    return {"users_each": n_users, "stored_per_user": stored, "with_stored": with_p,
            "without": without_p, "answers_checked": checked,
            "ratio_p50": round(with_p["p50_ms"] / without_p["p50_ms"], 3)}


def concurrent_writes(server: Server, url: str, movies: np.ndarray, writers: int,
                      per_writer: int, kills: int, seed: int = 3) -> dict[str, Any]:
    """The concurrency and kill -9 run (module docstring, 3)."""
    rng = np.random.default_rng(seed)
    per_user = min(per_writer, movies.size)
    users_each = -(-per_writer // per_user)
    acknowledged: set[tuple[int, int]] = set()
    sent: set[tuple[int, int]] = set()
    allocated: list[int] = []
    lock = threading.Lock()
    stats = {"requests": 0, "retries": 0, "failures": 0}
    deadline = time.monotonic() + RUN_TIMEOUT
    errors: list[str] = []

    def send(conn_box: list[http.client.HTTPConnection], method: str, path: str,
             body: Any = None) -> tuple[int, Any]:
        for attempt in range(50):
            if time.monotonic() > deadline:
                raise TimeoutError("deadline")
            try:
                status, parsed, _ = _call(conn_box[0], method, path, body)
            except (OSError, http.client.HTTPException):
                status, parsed = -1, None
            if status in (200, 201):
                with lock:
                    stats["requests"] += 1
                    stats["retries"] += attempt
                return status, parsed
            with lock:
                stats["failures"] += 1
            conn_box[0].close()
            conn_box[0] = _conn(server.port)
            time.sleep(0.05)
        raise RuntimeError(f"{method} {path} failed 50 times")

    def writer(index: int) -> None:
        try:
            box = [_conn(server.port)]
            mine = [send(box, "POST", "/users")[1]["user_id"] for _ in range(users_each)]
            with lock:
                allocated.extend(mine)
            plan = [(mine[n // per_user], int(m)) for n, m in enumerate(
                np.concatenate([rng.permutation(movies)[:per_user]
                                for _ in range(users_each)])[:per_writer])]
            for user, movie in plan:
                with lock:
                    sent.add((user, movie))
                status, _ = send(box, "POST", f"/users/{user}/ratings",
                                 {"ratings": [{"movie_id": movie, "rating": 4.0}]})
                if status == 201:
                    with lock:
                        acknowledged.add((user, movie))
            box[0].close()
        except Exception as exc:  # reported, and the run fails
            errors.append(f"writer {index}: {exc!r}")

    killed: list[int] = []

    def killer() -> None:
        total = writers * per_writer
        for n in range(kills):
            goal = total * (n + 1) // (kills + 1)
            while len(acknowledged) < goal and time.monotonic() < deadline and \
                    any(t.is_alive() for t in threads):
                time.sleep(0.005)
            pids = server.workers()
            if pids:
                victim = pids[n % len(pids)]
                os.kill(victim, signal.SIGKILL)  # mid-write: the writers never pause
                killed.append(victim)

    threads = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(writers)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    kill_thread = threading.Thread(target=killer, daemon=True)
    kill_thread.start()
    for t in threads:
        t.join(timeout=max(1.0, deadline - time.monotonic()))
    kill_thread.join(timeout=30)
    seconds = time.perf_counter() - started
    reader = open_store(url)
    rows = [r for r in reader.all_ratings() if r.user_id in set(allocated)]
    reader.close()
    stored = [(r.user_id, r.movie_id) for r in rows]
    stored_set = set(stored)
    return {
        "writers": writers, "per_writer": per_writer, "ratings_sent": len(sent),
        "answered_201": len(acknowledged), "requests_ok": stats["requests"],
        "failed_attempts_retried": stats["failures"], "kills": len(killed),
        "seconds": round(seconds, 2), "stored_rows": len(stored),
        "lost": len(acknowledged - stored_set), "missing": len(sent - stored_set),
        "extra": len(stored_set - sent), "duplicate_rows": len(stored) - len(stored_set),
        "users_allocated": len(allocated),
        "duplicate_user_ids": len(allocated) - len(set(allocated)),
        "errors": errors,
    }


def simulated_session(port: int, movies: np.ndarray, people: int = 6, rounds: int = 4,
                      seed: int = 4) -> dict[str, Any]:
    """A few simulated people: each gets an id (``POST /users``), rates three random
    movies, then ``rounds`` times asks for ten recommendations and rates two of the movies
    shown (each liked with probability 0.6). Returns ``GET /stats?window=3600&k=10``."""
    rng = np.random.default_rng(seed)
    conn = _conn(port)
    personal = 0
    for _ in range(people):
        status, body, _ = _call(conn, "POST", "/users")
        if status != 201:
            raise RuntimeError(f"POST /users answered {status}")
        user = body["user_id"]
        first = [{"movie_id": int(m), "rating": float(rng.choice(_GRID))}
                 for m in rng.choice(movies, 3, replace=False)]
        _call(conn, "POST", f"/users/{user}/ratings", {"ratings": first})
        for _ in range(rounds):
            status, shown, _ = _call(conn, "GET", f"/recommend/{user}?k=10")
            if status != 200:
                raise RuntimeError(f"/recommend/{user} answered {status}")
            personal += not shown["fallback"]
            picked = rng.choice([i["movie_id"] for i in shown["items"]], 2, replace=False)
            rated = [{"movie_id": int(m), "rating": 4.5 if rng.random() < 0.6 else 2.0}
                     for m in picked]
            _call(conn, "POST", f"/users/{user}/ratings", {"ratings": rated})
    status, stats, _ = _call(conn, "GET", "/stats?window=3600&k=10")
    conn.close()
    if status != 200:
        raise RuntimeError(f"/stats answered {status}")
    return {"people": people, "rounds": rounds, "personal_lists": personal, "stats": stats}


@contextlib.contextmanager
def fresh_store(backend: str, postgres_url: str | None, folder: Path) -> Iterator[str]:
    """An empty store's URL: a SQLite file in ``folder`` (``sqlite-full``: with
    ``synchronous=full``), or a new schema of the PostgreSQL database (dropped afterwards)."""
    if backend == "sqlite":
        yield str(folder / "feedback.sqlite3")
        return
    if backend == "sqlite-full":  # fsync on every commit (reco/data/feedback/sqlite.py)
        yield f"sqlite:///{folder / 'feedback.sqlite3'}?synchronous=full"
        return
    if not postgres_url:
        raise ValueError("the postgresql backend needs --postgres-url (or "
                         "RECO_TEST_POSTGRES_URL; .ci/postgres.sh starts a server)")
    with scratch_schema(postgres_url, "bench") as url:
        yield url


def run_feedback(artifacts: Path, backends: list[str], *, postgres_url: str | None = None,
                 prefill_ratings: int = 100_000, write_requests: int = 1000,
                 fold_users: int = 30, fold_rounds: int = 5, writers: int = 8,
                 per_writer: int = 500, kills: int = 3) -> dict[str, Any]:
    """The three measurements above on each backend."""
    movies = catalog_movies(artifacts)
    first_new = int(trained_users(artifacts).max()) + 1
    result: dict[str, Any] = {"artifacts": str(artifacts), "load_before": uptime(),
                              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                              "backends": {}}
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="reco-fb-bench-") as tmp, \
                fresh_store(backend, postgres_url, Path(tmp)) as url:
            log.info("%s: pre-filling %d ratings", backend, prefill_ratings)
            next_user = prefill(url, movies, prefill_ratings, first_new)
            out: dict[str, Any] = {"prefill_ratings": prefill_ratings}
            with serving(artifacts, url, log_path=Path(tmp) / "server.log") as server:
                out["load_write"] = uptime()
                out["write"] = write_latency(server.port, movies,
                                             list(range(first_new, next_user)), write_requests)
                out["load_fold_in"] = uptime()
                out["fold_in"] = fold_in_latency(server.port, artifacts, movies, fold_users,
                                                 20, fold_rounds)
                out["load_concurrency"] = uptime()
                out["concurrency"] = concurrent_writes(server, url, movies, writers,
                                                       per_writer, kills)
            # a fresh store and server: /stats then counts the simulated people only
            (Path(tmp) / "session").mkdir()
            with fresh_store(backend, postgres_url, Path(tmp) / "session") as session_url, \
                    serving(artifacts, session_url) as server:
                out["session"] = simulated_session(server.port, movies)
            result["backends"][backend] = out
    result["load_after"] = uptime()
    return result


def feedback_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for backend, out in result["backends"].items():
        if backend.startswith("sqlite"):
            p50 = out["write"]["p50_ms"]
            rows.append({"what": f"POST /users/<id>/ratings p50 ({backend})",
                         "target": "<= 5 ms", "measured": f"{p50} ms",
                         "met": p50 <= POST_P50_MS})
        ratio = out["fold_in"]["ratio_p50"]
        rows.append({"what": f"GET /recommend with 20 stored / without, p50 ({backend})",
                     "target": f"<= {FOLD_IN_RATIO}x", "measured": f"{ratio}x",
                     "met": ratio <= FOLD_IN_RATIO})
        c = out["concurrency"]
        rows.append({"what": f"lost writes, {c['writers']} x {c['per_writer']} with "
                             f"{c['kills']} kill -9 ({backend})", "target": "0",
                     "measured": str(c["lost"]),
                     "met": c["lost"] == 0 and c["missing"] == 0 and not c["errors"]})
    return rows


def render_feedback(result: dict[str, Any], command: str) -> str:
    lines = [f"Measured {result['date']} with `{command}` on `{result['artifacts']}` "
             f"(ml-latest-small artifacts; scripts/serve.py's defaults with 2 workers; loopback).",
             f"Host load before: `{result['load_before']}`; after: `{result['load_after']}`.",
             "", "| figure | target | measured | met |", "| --- | --- | --- | --- |"]
    for row in feedback_targets(result):
        lines.append(f"| {row['what']} | {row['target']} | {row['measured']} | "
                     f"{'yes' if row['met'] else 'MISSED'} |")
    for backend, out in result["backends"].items():
        w, f, c, session = out["write"], out["fold_in"], out["concurrency"], out["session"]
        lines += ["", f"**{backend}** (store pre-filled with {out['prefill_ratings']:,} ratings)",
                  "",
                  f"- POST /users/<id>/ratings, one rating per request, one client: p50 "
                  f"{w['p50_ms']} ms, p95 {w['p95_ms']} ms, p99 {w['p99_ms']} ms over "
                  f"{w['n']} requests (statuses {w['statuses']}); load `{out['load_write']}`",
                  f"- GET /recommend/<id>?k=10, {f['users_each']} trained users with "
                  f"{f['stored_per_user']} stored ratings vs {f['users_each']} without, "
                  f"interleaved: p50 {f['with_stored']['p50_ms']} vs "
                  f"{f['without']['p50_ms']} ms (ratio {f['ratio_p50']}), p95 "
                  f"{f['with_stored']['p95_ms']} vs {f['without']['p95_ms']} ms; load "
                  f"`{out['load_fold_in']}`",
                  f"- {c['writers']} writers x {c['per_writer']} ratings (one per request) "
                  f"with {c['kills']} worker kill -9: {c['ratings_sent']} sent, "
                  f"{c['answered_201']} answered 201, {c['failed_attempts_retried']} failed "
                  f"attempts sent again, {c['stored_rows']} rows stored; lost {c['lost']}, "
                  f"missing {c['missing']}, extra {c['extra']}, duplicate rows "
                  f"{c['duplicate_rows']}, duplicate user ids {c['duplicate_user_ids']} "
                  f"({c['seconds']} s); load `{out['load_concurrency']}`",
                  f"- a scripted session of {session['people']} simulated people on a fresh "
                  f"store ({session['rounds']} rounds each of ten recommendations, two of "
                  f"them rated, liked with probability 0.6; {session['personal_lists']} of "
                  f"{session['people'] * session['rounds']} lists personal), then "
                  f"`GET /stats?window=3600&k=10`:", "", "```json",
                  json.dumps(session["stats"]["versions"], indent=1), "```"]
    return "\n".join(lines)
