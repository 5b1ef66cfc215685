"""The ``lifecycle`` benchmark (issue 13): kill -9 a publishing train, retrain under load.

Against one real server (``scripts/serve.py``: gunicorn, ``workers`` sync workers, a short
``--reload-seconds``) on a fresh store trained once on the embedded synthetic default:

1. **Kill test.** ``scripts/train.py --artifacts STORE`` is killed with SIGKILL at points
   spread over its save phase while a bounded mixed load runs. The points are found by
   watching the store, not by timers (a timer lands wherever the fit happens to be on a
   loaded machine): ``staged:n`` (the writer's staging directory holds ``n`` files),
   ``manifest`` (``manifest.json`` renamed into it), ``renamed`` (the version is in
   ``versions/``, the pointer not yet moved), ``pointer-temp`` (the new pointer's
   temporary file exists beside ``current``) and ``pointer-moved``. What the kill really
   hit is read back from the store after the process died and reported beside the aim.
   After each kill: ``current`` names the previous version (or, when the pointer had
   moved, the new one), ``scripts/artifacts.py verify STORE`` passes, ``/health`` answers
   200 naming the current version, and no request failed.
2. **Live retrain.** A successful train while ``requests`` mixed requests run at
   ``concurrency``: failed requests, worker crashes (worker pids, ``Booting worker`` log
   lines), the seconds from the pointer change to the first response naming the new
   version, latency percentiles before, during and after; and whether that train removed
   what the killed ones left in ``.staging/``.
3. **Start.** Seconds from process start to ``/health`` 200, on the fresh store and again
   on the store the kill test left.

A request fails when it gets a connection error or any status but 2xx, except the 4xx of
the deliberately bad requests in the mix (which fail when answered otherwise). Every load
loop is bounded by a request count and by a deadline; the server listens on loopback.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from scripts.bench.loadtest import check_loopback
from scripts.bench.serve import free_port, new_people

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
TITLE = "Model lifecycle (issue 13)"
START_TIMEOUT = 120.0
TRAIN_TIMEOUT = 900.0  # one train is ~25 s alone on 2 cores; under load and kills, more
REQUEST_TIMEOUT = 30.0
SWITCH_TARGET_SECONDS = 10.0
HEALTH_WAIT = 30.0  # a kill after the pointer moved: both workers must reload first
HEALTH_ROUNDS = 4
STAGED_POLL = 0.001  # the brief's ~1 ms: small files are written in well under that
#: the points after the files, in the order the writer passes them
LATE_POINTS = ("manifest", "renamed", "pointer-temp", "pointer-moved")
#: which late points to keep when there are too few kills for all of them
LATE_PRIORITY = ("pointer-moved", "renamed", "manifest", "pointer-temp")
LIVE_TRAIN_AT = 0.25  # the live train starts when this share of the requests is done
PROBE_INTERVAL, PROBE_SECONDS = 0.02, 60.0
MIX = (("GET /recommend", 0.40), ("GET /similar", 0.30), ("POST /recommend", 0.15),
       ("GET /health", 0.10), ("bad request", 0.05))
PLAN_SIZE = 4000


# ---------------------------------------------------------------- the load
@dataclass(frozen=True)
class Request:
    kind: str
    method: str
    path: str
    body: bytes | None = None
    expect_4xx: tuple[int, ...] = ()  # a deliberately bad request: these are its success


@dataclass(frozen=True)
class Sample:
    kind: str
    started: float  # time.perf_counter()
    ended: float
    status: int  # 0: no response (connection error, timeout)
    version: str | None
    outcome: str  # "ok", "expected_4xx" or "failed"
    error: str | None = None


def request_plan(store: Path, seed: int = 0, size: int = PLAN_SIZE) -> list[Request]:
    """A shuffled mix (:data:`MIX`) of requests on the current version's users and movies.
    The embedded default is generated from a fixed seed, so every version has the same
    ids and the plan stays valid across retrains."""
    version = store / "versions" / (store / "current").read_text().strip()
    users = pl.read_parquet(version / "features" / "users.parquet")["user_id"].to_numpy()
    movies = pl.read_parquet(version / "catalog.parquet")["movie_id"].to_numpy()
    rng = np.random.default_rng(seed)
    kinds = rng.choice(len(MIX), size, p=[share for _, share in MIX])
    bodies = iter(new_people(rng, movies, int((kinds == 2).sum())))
    unknown_movie = int(movies.max()) + 1_000_000
    bad = (Request("bad request", "GET", "/recommend/not-a-user", expect_4xx=(400,)),
           Request("bad request", "GET", f"/similar/{unknown_movie}?k=10", expect_4xx=(404,)),
           Request("bad request", "GET", f"/recommend/{int(users[0])}?k=0", expect_4xx=(400,)))
    plan = []
    for i, kind in enumerate(kinds):
        if kind == 0:
            plan.append(Request(MIX[0][0], "GET", f"/recommend/{int(rng.choice(users))}?k=10"))
        elif kind == 1:
            plan.append(Request(MIX[1][0], "GET", f"/similar/{int(rng.choice(movies))}?k=10"))
        elif kind == 2:
            plan.append(Request(MIX[2][0], "POST", "/recommend?k=10", next(bodies)))
        elif kind == 3:
            plan.append(Request(MIX[3][0], "GET", "/health"))
        else:
            plan.append(bad[i % len(bad)])
    return plan


def _send(conn: http.client.HTTPConnection, req: Request) -> Sample:
    started = time.perf_counter()
    try:
        headers = {"Content-Type": "application/json"} if req.body is not None else {}
        conn.request(req.method, req.path, body=req.body, headers=headers)
        response = conn.getresponse()
        response.read()
    except (OSError, http.client.HTTPException) as exc:
        conn.close()  # the next request opens a fresh connection
        return Sample(req.kind, started, time.perf_counter(), 0, None, "failed",
                      f"{type(exc).__name__}: {exc}"[:200])
    status, version = response.status, response.getheader("X-Model-Version")
    if req.expect_4xx:
        outcome = "expected_4xx" if status in req.expect_4xx else "failed"
    else:
        outcome = "ok" if 200 <= status < 300 else "failed"
    return Sample(req.kind, started, time.perf_counter(), status, version, outcome,
                  None if outcome != "failed" else f"HTTP {status}")


class MixedLoad:
    """``concurrency`` threads sending the plan (cycled) until ``max_requests`` are done,
    ``seconds`` have passed or :meth:`stop` is called, whichever comes first."""

    def __init__(self, port: int, plan: list[Request], concurrency: int, max_requests: int,
                 seconds: float) -> None:
        check_loopback(HOST)
        self.port, self.plan, self.concurrency = port, plan, concurrency
        self.max_requests, self.seconds = max_requests, seconds
        self._stop = threading.Event()
        self._lists: list[list[Sample]] = [[] for _ in range(concurrency)]
        self._threads = [threading.Thread(target=self._work, args=(s,), daemon=True,
                                          name=f"load-{s}") for s in range(concurrency)]
        self.started = self.ended = 0.0
        self.hit_deadline = False

    def _work(self, slot: int) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT)
        out, deadline = self._lists[slot], self.started + self.seconds
        for i in range(slot, self.max_requests, self.concurrency):
            if self._stop.is_set():
                break
            if time.perf_counter() > deadline:
                self.hit_deadline = True
                break
            out.append(_send(conn, self.plan[i % len(self.plan)]))
        conn.close()

    def start(self) -> MixedLoad:
        self.started = time.perf_counter()
        for thread in self._threads:
            thread.start()
        return self

    @property
    def done(self) -> int:
        return sum(len(part) for part in self._lists)

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def stop(self) -> None:
        self._stop.set()

    def join(self) -> list[Sample]:
        for thread in self._threads:
            thread.join(self.seconds + REQUEST_TIMEOUT + 5)
        self.ended = time.perf_counter()
        return self.samples()

    def samples(self) -> list[Sample]:
        return sorted((s for part in self._lists for s in list(part)), key=lambda s: s.started)


def load_summary(samples: list[Sample], origin: float) -> dict[str, Any]:
    """Counts per kind and outcome, and the first failures (for a bug report)."""
    failed = [s for s in samples if s.outcome == "failed"]
    by_kind: dict[str, dict[str, int]] = {}
    for s in samples:
        entry = by_kind.setdefault(s.kind, {"requests": 0, "failed": 0})
        entry["requests"] += 1
        entry["failed"] += s.outcome == "failed"
    return {"requests": len(samples), "failed": len(failed),
            "expected_4xx": sum(s.outcome == "expected_4xx" for s in samples),
            "by_kind": by_kind,
            "first_failures": [{"kind": s.kind, "at_seconds": round(s.started - origin, 3),
                                "status": s.status, "error": s.error} for s in failed[:20]]}


def latency(samples: list[Sample]) -> dict[str, Any]:
    """p50/p99 (ms) of the good requests among ``samples`` (bad requests left out: they
    return before any model work)."""
    ms = np.array([(s.ended - s.started) * 1000 for s in samples if s.kind != "bad request"])
    if ms.size == 0:
        return {"requests": 0, "p50_ms": None, "p99_ms": None}
    return {"requests": int(ms.size), "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2)}


# ---------------------------------------------------------------- the server
def uptime() -> str:
    """``uptime``'s line (the host load stated beside every figure)."""
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10,
                              check=False).stdout.strip()
    except OSError:
        return "load average: " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def _get(port: int, path: str, timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    try:
        body = json.loads(raw)
    except ValueError:
        body = {}
    return response.status, body if isinstance(body, dict) else {}


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log_path: Path
    start_seconds: float

    def workers(self) -> list[int]:
        """The gunicorn master's children (scripts/serve.py execs gunicorn: same pid)."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children")
        if children.is_file():
            return sorted(int(p) for p in children.read_text().split())
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(stat.parent.name))
        return sorted(found)

    def booted(self) -> int:
        """``Booting worker`` lines in gunicorn's log: one per worker (re)started."""
        return self.log_path.read_text(errors="replace").count("Booting worker")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # gunicorn's master stops its workers gracefully
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(store: Path, workers: int, reload_seconds: float, log_path: Path) -> Server:
    """``scripts/serve.py`` on a free loopback port, its log (gunicorn's, with the access
    log) in ``log_path``; returns once ``/health`` answered 200, timing that."""
    port = free_port()
    started = time.perf_counter()
    with log_path.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "serve.py"), "--artifacts", str(store),
             "--host", HOST, "--port", str(port), "--workers", str(workers),
             "--reload-seconds", str(reload_seconds)],
            stdout=sink, stderr=subprocess.STDOUT, cwd=ROOT)
    while True:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=5):
                return Server(process, port, log_path, time.perf_counter() - started)
        except OSError:  # not listening yet, or 503 until a worker has loaded the model
            if process.poll() is not None or time.perf_counter() - started > START_TIMEOUT:
                process.kill()
                raise RuntimeError(f"the server on {store} did not start (exit code "
                                   f"{process.poll()}; log {log_path})") from None
            time.sleep(0.05)


def _health_pair(port: int) -> list[tuple[int, Any]]:
    """Two concurrent ``/health`` answers: (status, version named)."""
    answers: list[tuple[int, Any]] = [(0, None), (0, None)]

    def ask(slot: int) -> None:
        try:
            status, body = _get(port, "/health")
            answers[slot] = (status, body.get("version"))
        except (OSError, http.client.HTTPException) as exc:
            answers[slot] = (0, type(exc).__name__)

    threads = [threading.Thread(target=ask, args=(s,)) for s in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    return answers


def health_rounds(port: int, version: str, wait: float = HEALTH_WAIT) -> dict[str, Any]:
    """Wait until :data:`HEALTH_ROUNDS` rounds in a row of two concurrent ``/health``
    requests all answer 200 naming ``version``. Two at once, because a sync worker busy
    on one cannot take the other: so both workers are asked, not whichever is idle."""
    started = time.perf_counter()
    good, last = 0, _health_pair(port)
    while time.perf_counter() - started < wait:
        good = good + 1 if all(a == (200, version) for a in last) else 0
        if good >= HEALTH_ROUNDS:
            return {"ok": True, "seconds": round(time.perf_counter() - started, 3)}
        time.sleep(0.05)
        last = _health_pair(port)
    return {"ok": False, "seconds": round(time.perf_counter() - started, 3),
            "last_answers": [list(a) for a in last]}


# ---------------------------------------------------------------- the store, as a watcher sees it
def pointer(store: Path) -> str | None:
    with contextlib.suppress(OSError):
        return (store / "current").read_text().strip() or None
    return None


def versions(store: Path) -> set[str]:
    with contextlib.suppress(OSError):
        return set(os.listdir(store / "versions"))
    return set()


def staging_entries(store: Path) -> list[str]:
    with contextlib.suppress(OSError):
        return sorted(os.listdir(store / ".staging"))
    return []


def pointer_temps(store: Path) -> list[str]:
    """Temporary files of a pointer being replaced (``.current.XXXX``, beside it)."""
    with contextlib.suppress(OSError):
        return sorted(n for n in os.listdir(store) if n.startswith(".current."))
    return []


def staged_files(directory: Path) -> tuple[int, bool] | None:
    """(files, whether manifest.json is among them) in a staging directory; None when it
    is gone (renamed into versions/). Dot files (the manifest's temporary) not counted."""
    count, manifest = 0, False
    try:
        for root, _, files in os.walk(directory):
            for name in files:
                if not name.startswith("."):
                    count += 1
                    manifest = manifest or (root == str(directory) and name == "manifest.json")
    except OSError:
        return None
    if not os.path.isdir(directory):
        return None
    return count, manifest


def verify_store(store: Path) -> dict[str, Any]:
    """``python scripts/artifacts.py verify STORE`` (every version, every byte)."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "artifacts.py"), "verify",
                           str(store)], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          check=False)
    return {"ok": done.returncode == 0, "exit_code": done.returncode,
            "output": (done.stdout + done.stderr).strip()[-600:]}


def kill_points(kills: int, n_files: int) -> list[str]:
    """``kills`` points, in save order: the late points (:data:`LATE_POINTS`) and
    ``staged:n`` spread evenly over 1..n_files; beyond them all, the list repeats."""
    staged = [f"staged:{n}" for n in range(1, n_files + 1)]
    every = staged + list(LATE_POINTS)
    if kills >= len(every):
        return [every[i % len(every)] for i in range(kills)]
    late_kept = set(LATE_PRIORITY[:min(len(LATE_POINTS), max(kills - 1, 0))])
    n_staged = kills - len(late_kept)
    picks = sorted({int(round(x)) for x in np.linspace(0, n_files - 1, n_staged)})
    # rounding can merge two neighbours; fill from the start so the count is exact
    for i in range(n_files):
        if len(picks) >= n_staged:
            break
        if i not in picks:
            picks = sorted({*picks, i})
    return [staged[i] for i in picks] + [p for p in LATE_POINTS if p in late_kept]


def _reached(point: str, store: Path, stage_dir: Path, before_versions: set[str],
             before_pointer: str | None) -> bool:
    if point == "pointer-moved":
        return pointer(store) != before_pointer
    if point == "pointer-temp":
        return bool(pointer_temps(store)) or pointer(store) != before_pointer
    if point == "renamed":
        return bool(versions(store) - before_versions)
    state = staged_files(stage_dir)
    if state is None:  # already renamed: the point has passed
        return True
    if point == "manifest":
        return state[1]
    return state[0] >= int(point.split(":")[1])


def observed_point(store: Path, stage_dir: Path | None, before_versions: set[str],
                   before_pointer: str | None, before_temps: list[str]) -> str:
    """Where the writer really was when it died, read back from the store."""
    if pointer(store) != before_pointer:
        return "pointer-moved"
    if set(pointer_temps(store)) - set(before_temps):
        return "pointer-temp"
    if versions(store) - before_versions:
        return "renamed"
    state = None if stage_dir is None else staged_files(stage_dir)
    if state is None:
        return "before staging"
    return "manifest" if state[1] else f"staged:{state[0]}"


@dataclass(frozen=True)
class TrainRun:
    """What every train of the benchmark runs on: ``data`` (None: the embedded default)
    and ``config``, ``scripts/train.py --config``'s JSON (None: the defaults)."""

    data: Path | None = None
    config: str | None = None

    def command(self, store: Path) -> list[str]:
        """``scripts/train.py`` into ``store``."""
        command = [sys.executable, str(ROOT / "scripts" / "train.py"), "--artifacts",
                   str(store)]
        if self.data is not None:
            command += ["--data", str(self.data)]
        return command if self.config is None else [*command, "--config", self.config]


def _train(store: Path, log_path: Path, trains: TrainRun) -> subprocess.Popen:
    with log_path.open("ab") as sink:
        return subprocess.Popen(trains.command(store), stdout=sink,
                                stderr=subprocess.STDOUT, cwd=ROOT)


def _wait_for_stage_dir(store: Path, process: subprocess.Popen) -> Path | None:
    """The writer's own staging directory (its token starts with ``v-<pid>-``), polled
    coarsely during the fit (tens of seconds) and returned as soon as it exists."""
    prefix = f"v-{process.pid}-"
    deadline = time.perf_counter() + TRAIN_TIMEOUT
    while time.perf_counter() < deadline and process.poll() is None:
        for name in staging_entries(store):
            if name.startswith(prefix) and not name.endswith(".lock"):
                return store / ".staging" / name
        time.sleep(0.02)
    return None


def kill_once(store: Path, point: str, port: int, log_path: Path,
              previous_leftovers: list[str], trains: TrainRun = TrainRun()) -> dict[str, Any]:
    """One train, killed at ``point``; then every check of the kill test."""
    before_pointer, before_versions = pointer(store), versions(store)
    before_temps = pointer_temps(store)
    launched = time.perf_counter()
    process = _train(store, log_path, trains)
    stage_dir = _wait_for_stage_dir(store, process)
    # this train's stage() has run clean_staging by now: the previous kill's leftovers
    # (other than files beside `current`, which no writer looks at) should be gone
    at_stage = staging_entries(store)
    cleaned = not (set(previous_leftovers) & set(at_stage))
    killed_at = None
    if stage_dir is not None:
        # spin (no sleep) for the late points: rename to pointer is a fraction of a ms
        poll = STAGED_POLL if point.startswith("staged:") else 0.0
        deadline = time.perf_counter() + 120
        while process.poll() is None and time.perf_counter() < deadline:
            if _reached(point, store, stage_dir, before_versions, before_pointer):
                os.kill(process.pid, signal.SIGKILL)
                killed_at = time.perf_counter()
                break
            if poll:
                time.sleep(poll)
    if process.poll() is None and killed_at is None:
        os.kill(process.pid, signal.SIGKILL)  # never reached the point: still a kill
        killed_at = time.perf_counter()
    code = process.wait(timeout=60)
    hit = (observed_point(store, stage_dir, before_versions, before_pointer, before_temps)
           if code == -signal.SIGKILL else f"not killed (train exited {code})")
    current = pointer(store)
    new = sorted(versions(store) - before_versions)
    moved = current != before_pointer
    intact = ((current in new) if moved else (current == before_pointer)) and \
        current is not None and (store / "versions" / current).is_dir()
    verified = verify_store(store)
    health = health_rounds(port, current or "")
    leftovers = staging_entries(store)
    result = {
        "aimed": point, "hit": hit, "train_exit": code,
        "seconds_to_kill": round((killed_at or launched) - launched, 2),
        "previous": before_pointer, "current": current,
        "current_is": "new (complete; pointer had moved)" if moved else "previous",
        "new_versions": new, "intact": bool(intact), "verify": verified, "health": health,
        "staging_leftovers": leftovers,
        "pointer_temp_leftovers": pointer_temps(store),
        "previous_leftovers_removed_by_this_train": cleaned,
        "window": (launched, time.perf_counter()),
    }
    log.info("kill aimed %s hit %s: current %s (%s), verify %s, health %s", point, hit,
             current, result["current_is"], "ok" if verified["ok"] else "FAILED",
             "ok" if health["ok"] else "FAILED")
    return result


# ---------------------------------------------------------------- the phases
def _watch_pointer(store: Path, before: str | None, stop: threading.Event,
                   out: dict[str, Any]) -> None:
    """Record when ``current`` first names something else (1 ms poll)."""
    while not stop.is_set():
        now = pointer(store)
        if now is not None and now != before:
            out.update(version=now, at=time.perf_counter())
            return
        time.sleep(0.001)


def _probe(port: int, path: str, version: str, seconds: float) -> list[Sample]:
    """After the load ended: one request at a time until one names ``version``
    (bounded by ``seconds`` and their count)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    out: list[Sample] = []
    deadline = time.perf_counter() + seconds
    for _ in range(int(seconds / PROBE_INTERVAL) + 1):
        if time.perf_counter() > deadline:
            break
        out.append(_send(conn, Request("GET /recommend", "GET", path)))
        if out[-1].version == version:
            break
        time.sleep(PROBE_INTERVAL)
    conn.close()
    return out


def live_retrain(store: Path, server: Server, plan: list[Request], requests: int,
                 concurrency: int, seconds: float, log_path: Path,
                 leftovers_before: list[str], trains: TrainRun = TrainRun(),
                 ) -> dict[str, Any]:
    """Phase 2 (see the module docstring)."""
    workers_before, booted_before = server.workers(), server.booted()
    before_pointer = pointer(store)
    load = MixedLoad(server.port, plan, concurrency, requests, seconds).start()
    start_at = max(1, int(requests * LIVE_TRAIN_AT))
    while load.running and load.done < start_at:
        time.sleep(0.05)
    watch: dict[str, Any] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_pointer, args=(store, before_pointer, stop, watch),
                               daemon=True)
    launched = time.perf_counter()
    watcher.start()
    process = _train(store, log_path, trains)
    try:
        code = process.wait(timeout=TRAIN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        code = process.wait(timeout=60)
    trained = time.perf_counter()
    watcher.join(5)
    stop.set()
    samples = load.join()
    new = watch.get("version")
    probed: list[Sample] = []
    if new is not None and not any(s.version == new for s in samples):
        # the load was spent before the workers switched (a short run): probe instead
        path = next(r.path for r in plan if r.kind == "GET /recommend")
        probed = _probe(server.port, path, new, PROBE_SECONDS)
    everything = samples + probed
    first_new = next((s for s in everything if s.version == new), None) if new else None
    pointer_at = watch.get("at")
    old_after = [s for s in samples if pointer_at is not None and s.version != new
                 and s.version is not None and s.ended > pointer_at]
    switched_at = max((s.ended for s in old_after), default=pointer_at)
    windows: dict[str, list[Sample]] = {"before": [], "training": [], "switching": [],
                                        "after": []}
    for s in samples:
        if s.started < launched:
            windows["before"].append(s)
        elif pointer_at is None or s.started < pointer_at:
            windows["training"].append(s)
        elif s.started < (switched_at or pointer_at):
            windows["switching"].append(s)
        else:
            windows["after"].append(s)
    workers_after, booted_after = server.workers(), server.booted()
    summary = load_summary(everything, load.started)
    return {
        "requests_planned": requests, "concurrency": concurrency, "time_limit_s": seconds,
        "load_hit_time_limit": load.hit_deadline,
        "load": summary, "failed": summary["failed"],
        "train_exit": code, "train_seconds": round(trained - launched, 2),
        "train_started_after_requests": start_at,
        "previous": before_pointer, "new_version": new,
        "pointer_to_first_new_response_s": (round(first_new.ended - pointer_at, 3)
                                            if first_new and pointer_at else None),
        "pointer_to_last_old_response_s": (round(switched_at - pointer_at, 3)
                                           if pointer_at and switched_at and old_after
                                           else (0.0 if pointer_at else None)),
        "switch_observed_by": "probe" if probed else "load",
        "probe_requests": len(probed),
        "latency": {name: latency(part) for name, part in windows.items()}
        | {"during": latency(windows["training"] + windows["switching"])},
        "workers_before": workers_before, "workers_after": workers_after,
        "booting_lines_new": booted_after - booted_before,
        "worker_crashes": max(len(set(workers_before) - set(workers_after)),
                              booted_after - booted_before),
        "staging_before": leftovers_before, "staging_after": staging_entries(store),
        "pointer_temp_leftovers_after": pointer_temps(store),
        "leftovers_removed": not (set(leftovers_before) & set(staging_entries(store))),
        "verify": verify_store(store),
        "versions_served": sorted({s.version for s in everything if s.version}),
        "uptime": uptime(),
    }


@contextlib.contextmanager
def _serving(store: Path, workers: int, reload_seconds: float, log_path: Path
             ) -> Iterator[Server]:
    server = start_server(store, workers, reload_seconds, log_path)
    try:
        yield server
    finally:
        server.stop()


def run_lifecycle(kills: int, requests: int, concurrency: int, *, kill_concurrency: int = 2,
                  workers: int = 2, reload_seconds: float = 1.0, time_limit: float = 900.0,
                  scratch: Path = Path("/tmp/reco-bench"), seed: int = 0,
                  trains: TrainRun = TrainRun(),
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """All three phases on a fresh store under ``scratch``, every train by ``trains``;
    the JSON result."""
    scratch.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="lifecycle-", dir=scratch))
    store, logs = work / "store", work / "logs"
    logs.mkdir()
    say = progress or log.info
    data = trains.data
    say(f"fresh store {store}; training it once on "
        f"{'the embedded default' if data is None else data}")
    started = time.perf_counter()
    first = subprocess.run(trains.command(store), capture_output=True, text=True,
                           timeout=TRAIN_TIMEOUT, cwd=ROOT, check=False)
    if first.returncode != 0:
        raise RuntimeError(f"the first train failed: {first.stderr[-2000:]}")
    initial_train = time.perf_counter() - started
    initial = pointer(store)
    manifest = json.loads((store / "versions" / str(initial) / "manifest.json").read_text())
    n_files = len(manifest["files"])
    plan = request_plan(store, seed)
    history = {initial}
    result: dict[str, Any] = {
        "store": str(store), "logs": str(logs), "workers": workers,
        "reload_seconds": reload_seconds, "initial_version": initial,
        "initial_train_seconds": round(initial_train, 2), "version_files": n_files,
        "uptime_start": uptime(), "data": None if data is None else str(data),
        "train_config": trains.config,
    }
    with _serving(store, workers, reload_seconds, logs / "server.log") as server:
        result["start_seconds_fresh_store"] = round(server.start_seconds, 3)
        workers_before, booted_before = server.workers(), server.booted()
        points = kill_points(kills, n_files)
        say(f"kill test: {kills} kills at {points}")
        # bounded: a generous count, and a deadline of one slow train per kill and more
        kill_load = MixedLoad(server.port, plan, kill_concurrency, 2_000_000,
                              TRAIN_TIMEOUT * (kills + 1)).start()
        outcomes, leftovers = [], staging_entries(store)
        try:
            for i, point in enumerate(points):
                outcome = kill_once(store, point, server.port, logs / f"train-kill-{i}.log",
                                    leftovers, trains)
                leftovers = outcome["staging_leftovers"]
                if outcome["current"]:
                    history.add(outcome["current"])
                outcomes.append(outcome)
                say(f"kill {i + 1}/{kills}: aimed {point}, hit {outcome['hit']}")
        finally:
            kill_load.stop()
            kill_samples = kill_load.join()
        for outcome in outcomes:
            lo, hi = outcome.pop("window")
            window = [s for s in kill_samples if lo <= s.started <= hi]
            outcome["requests"] = len(window)
            outcome["failed"] = sum(s.outcome == "failed" for s in window)
        kill_summary = load_summary(kill_samples, kill_load.started)
        workers_mid, booted_mid = server.workers(), server.booted()
        result["kill_test"] = {
            "kills": len(outcomes), "points_aimed": points,
            "points_hit": [o["hit"] for o in outcomes], "concurrency": kill_concurrency,
            "load": kill_summary, "failed": kill_summary["failed"],
            "all_intact": all(o["intact"] and o["verify"]["ok"] and o["health"]["ok"]
                              for o in outcomes),
            "worker_crashes": max(len(set(workers_before) - set(workers_mid)),
                                  booted_mid - booted_before),
            "versions_served": sorted({s.version for s in kill_samples if s.version}),
            "outcomes": outcomes, "uptime": uptime(),
        }
        say("live retrain under load")
        live = live_retrain(store, server, plan, requests, concurrency, time_limit,
                            logs / "train-live.log", leftovers, trains)
        if live["new_version"]:
            history.add(live["new_version"])
        result["live_retrain"] = live
    with _serving(store, workers, reload_seconds, logs / "server-restart.log") as again:
        result["start_seconds_after_kill_test"] = round(again.start_seconds, 3)
    served = set(result["kill_test"]["versions_served"]) | set(live["versions_served"])
    # a served version that `current` never named would be one nobody published whole
    result["served_versions_all_were_current"] = served <= history
    result["pointer_history"] = sorted(history)
    result["uptime_end"] = uptime()
    return result


# ---------------------------------------------------------------- targets and the doc
def lifecycle_targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    kill, live = result["kill_test"], result["live_retrain"]
    intact = sum(o["intact"] and o["verify"]["ok"] and o["health"]["ok"]
                 for o in kill["outcomes"])
    switch = live["pointer_to_first_new_response_s"]
    # every train that followed a kill which left something in .staging/: did it clean up?
    outcomes = kill["outcomes"]
    followers = [(outcomes[i]["staging_leftovers"], outcomes[i + 1][
        "previous_leftovers_removed_by_this_train"]) for i in range(len(outcomes) - 1)]
    followers.append((live["staging_before"], live["leftovers_removed"]))
    cleaned = [removed for left, removed in followers if left]

    def row(target: str, measured: str, met: bool) -> dict[str, Any]:
        return {"target": target, "measured": measured, "status": "met" if met else "missed"}

    return [
        row("kill test: 0 failed requests", f"{kill['failed']} of {kill['load']['requests']:,}",
            kill["failed"] == 0),
        row("kill test: previous (or, pointer moved, new complete) version current, "
            "verify passes, /health 200 naming it, at every point",
            f"{intact} of {kill['kills']} points", intact == kill["kills"] and kill["kills"] > 0),
        row("kill test: 0 worker crashes", str(kill["worker_crashes"]),
            kill["worker_crashes"] == 0),
        row("the next train removes a killed writer's staging leftovers",
            f"{sum(cleaned)} of {len(cleaned)} trains after a kill that left some",
            all(cleaned) and bool(cleaned)),
        row("live retrain: 0 failed requests",
            f"{live['failed']} of {live['load']['requests']:,}", live["failed"] == 0),
        row("live retrain: 0 worker crashes", str(live["worker_crashes"]),
            live["worker_crashes"] == 0),
        row(f"live retrain: new version served within {SWITCH_TARGET_SECONDS:g} s of the "
            "pointer change", "-" if switch is None else f"{switch:.2f} s",
            switch is not None and switch <= SWITCH_TARGET_SECONDS),
        row("every version served was one `current` named (never an incomplete one)",
            "yes" if result["served_versions_all_were_current"] else "no",
            result["served_versions_all_were_current"]),
    ]


def _entries(n: int) -> str:
    return f"{n} entr{'y' if n == 1 else 'ies'}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def render_lifecycle(result: dict[str, Any], command: str) -> str:
    """The ``## Model lifecycle (issue 13)`` section of docs/BENCHMARKS.md."""
    kill, live = result["kill_test"], result["live_retrain"]
    data = result.get("data")
    lines = [f"Command: `{command}`", "",
             f"A fresh store trained once on "
             f"{'the embedded synthetic default' if data is None else data} "
             f"({result['initial_train_seconds']:.0f} s, {result['version_files']} files per "
             f"version), served by `scripts/serve.py` (gunicorn, {result['workers']} sync "
             f"workers, `--reload-seconds {result['reload_seconds']:g}`) on loopback; the load "
             "is a mix of GET /recommend/<user> (40%), GET /similar/<movie> (30%), POST "
             "/recommend (15%), GET /health (10%) and deliberately bad requests (5%, which "
             "must get their 400/404). A failure is a connection error or any other non-2xx.",
             "", f"Host load: start `{result['uptime_start']}`; after the kill test "
             f"`{kill['uptime']}`; after the live retrain `{live['uptime']}` "
             "(2 cores, shared with other jobs).", "",
             f"**Kill test**: {kill['kills']} `kill -9` of `scripts/train.py --artifacts "
             f"STORE` in its save phase, under load at concurrency {kill['concurrency']} "
             f"({kill['load']['requests']:,} requests, {kill['failed']} failed, "
             f"{kill['load']['expected_4xx']:,} expected 4xx). Kill points are found by "
             "watching the store (1 ms poll of the writer's staging directory; a spin for "
             "the points after the manifest), and 'hit' is what the store showed after the "
             "process died.", "",
             "| # | aimed | hit | current after | verify | /health 200 naming it (s) | "
             "requests (failed) | staging left |", "| ---: | --- | --- | --- | --- | ---: | "
             "---: | --- |"]
    for i, o in enumerate(kill["outcomes"], 1):
        temps = o["pointer_temp_leftovers"]
        lines.append(f"| {i} | {o['aimed']} | {o['hit']} | {o['current_is']} | "
                     f"{'pass' if o['verify']['ok'] else 'FAIL'} | "
                     f"{'yes' if o['health']['ok'] else 'NO'} ({o['health']['seconds']:.2f}) | "
                     f"{o['requests']:,} ({o['failed']}) | {_entries(len(o['staging_leftovers']))}"
                     + (f"; beside current: {', '.join(temps)}" if temps else "") + " |")
    lat = live["latency"]
    switch, last_old = (live["pointer_to_first_new_response_s"],
                        live["pointer_to_last_old_response_s"])
    lines += ["", f"**Live retrain**: {live['load']['requests']:,} mixed requests at "
              f"concurrency {live['concurrency']} (planned {live['requests_planned']:,}, time "
              f"limit {live['time_limit_s']:g} s{', hit' if live['load_hit_time_limit'] else ''}"
              f"); `scripts/train.py` started after {live['train_started_after_requests']:,} "
              f"of them and took {live['train_seconds']:.0f} s. Failed requests: "
              f"{live['failed']}. Worker crashes: {live['worker_crashes']} (worker pids "
              f"{live['workers_before']} before, {live['workers_after']} after; "
              f"{live['booting_lines_new']} new 'Booting worker' lines). Pointer change to "
              f"the first response naming the new version: "
              f"{'-' if switch is None else f'{switch:.2f} s'} (observed by the "
              f"{live['switch_observed_by']}); to the last response naming the old one: "
              f"{'-' if last_old is None else f'{last_old:.2f} s'}. The staging leftovers of "
              f"the last kill ({_entries(len(live['staging_before']))}) were "
              f"{'removed' if live['leftovers_removed'] else 'NOT removed'} by this train; "
              f"after it `.staging/` holds {_entries(len(live['staging_after']))}"
              + (f", and beside `current`: {', '.join(live['pointer_temp_leftovers_after'])}"
                 if live["pointer_temp_leftovers_after"] else "") + ".", "",
              "| window (by request start) | requests | p50, ms | p99, ms |",
              "| --- | ---: | ---: | ---: |"]
    for name, what in (("before", "before the train started"),
                       ("training", "train running, pointer not yet moved"),
                       ("switching", "pointer moved, until the last old-version response"),
                       ("during", "during (the two above)"), ("after", "after")):
        w = lat[name]
        lines.append(f"| {what} | {w['requests']:,} | {_ms(w['p50_ms'])} | {_ms(w['p99_ms'])} |")
    lines += ["", f"**Server start** (process start to the first `/health` 200): "
              f"{result['start_seconds_fresh_store']:.2f} s on the fresh store, "
              f"{result['start_seconds_after_kill_test']:.2f} s on the store the kill test "
              f"left. Host load at the end: `{result['uptime_end']}`.", ""]
    lines += ["**Targets** (issue 13)", "", "| target | measured | status |",
              "| --- | ---: | --- |"]
    for t in lifecycle_targets(result):
        lines.append(f"| {t['target']} | {t['measured']} | {t['status']} |")
    return "\n".join(lines)
