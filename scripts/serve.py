"""Serve reco with gunicorn (a production WSGI server): the API and the page.

    python scripts/serve.py --artifacts artifacts --port 8000      # http://127.0.0.1:8000/

``--artifacts`` is a store (scripts/train.py publishes into it) or one version directory.
The current version is verified before gunicorn starts; when it fails, the newest version
that verifies is served (one log line says so), and with none the command exits 2. Each
worker then loads it (checking all but the sha256 of each file again), and looks for a
new current version every
``--reload-seconds`` (and at once on SIGHUP to the worker; SIGHUP to the master restarts
the workers gracefully): a retrain is served without a restart and without a failed
request (README, "Retraining a live server").

Clients talk to a buffering front (reco/serving/front.py) that runs in this process; it
reads every request whole before a gunicorn sync worker sees it, so slow or hostile
clients cost a coroutine, not a worker, and complete requests wait in one queue for the
next free worker (README, "Serving stack"; ``--no-front`` lets gunicorn face clients itself,
for a deployment behind its own proxy). Each worker gets cores // workers
threads for Polars, OpenMP and BLAS (unless those variables are set): with every library spawning a
thread per core in every worker, /recommend p50 was 56.7 ms on ml-latest-small artifacts;
with one thread per worker on 2 cores, 12.0 ms (docs/BENCHMARKS.md). Not --preload: Polars'
and OpenMP's thread pools do not survive fork, and a worker forked from a master that had
loaded the models deadlocked on its first recommendation (measured; /health still answered).
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file from a clone that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reco.artifacts import store  # noqa: E402
from reco.artifacts.manifest import model_manifest, verify_version  # noqa: E402
from reco.cli import EXIT_BAD_INPUT, setup_logging  # noqa: E402
from reco.data.feedback import DEFAULT_FILE, ENV_URL, open_store  # noqa: E402
from reco.exceptions import ArtifactError  # noqa: E402
from reco.serving import front  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
THREAD_VARIABLES = ("POLARS_MAX_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "MKL_NUM_THREADS")
log = logging.getLogger("serve")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path,
                        default=Path(os.environ.get("RECO_ARTIFACTS", "artifacts")),
                        help="trained artifact directory (default: $RECO_ARTIFACTS or artifacts/)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync", choices=("sync", "gevent", "gthread"),
                        help="gunicorn worker class (default: sync, behind the front; "
                             "gevent when gunicorn faces clients itself with --no-front)")
    parser.add_argument("--no-front", action="store_true",
                        help="let gunicorn listen on --host/--port itself, without the "
                             "buffering front (for a deployment behind its own proxy)")
    parser.add_argument("--reload-seconds", type=float, default=2.0,
                        help="how often each worker looks for a new current version "
                             "(default 2; 0: never)")
    parser.add_argument("--feedback", metavar="URL",
                        default=os.environ.get(ENV_URL) or str(ROOT / DEFAULT_FILE),
                        help="feedback store (postgresql://... or a SQLite file; default: "
                             "$RECO_FEEDBACK_URL, else data/feedback.sqlite3; 'none': off; "
                             "docs/FEEDBACK.md)")
    args = parser.parse_args(argv)
    if args.feedback != "none":
        try:
            open_store(args.feedback)  # the URL's form only: each worker connects itself
        except ValueError as exc:
            parser.error(f"--feedback: {exc}")
    if not 1 <= args.workers <= 64:
        parser.error(f"--workers must be between 1 and 64, got {args.workers}")
    if not 0 <= args.reload_seconds <= 3600:
        parser.error(f"--reload-seconds must be between 0 and 3600, got {args.reload_seconds}")
    return args


def _servable(version: Path) -> None:
    model_manifest(verify_version(version))


def choose_version(artifacts: Path) -> Path:
    """The version the workers will serve: the current one if it verifies, else the
    newest that does (logged). ``ArtifactError`` when none does."""
    if not store.is_store(artifacts):
        version = store.resolve(artifacts)
        _servable(version)
        return version
    target = store.ArtifactStore(artifacts)
    current, failure = None, None
    try:
        current = target.pointer()
        _servable(target.version_path(current))
        return target.version_path(current)
    except ArtifactError as exc:
        failure = exc
    for info in reversed(target.versions()):
        if info.version == current:
            continue
        try:
            _servable(info.path)
        except ArtifactError:
            continue
        log.warning("serving version %s, the newest that verifies: %s", info.version,
                    f"the current version {current} failed verification ({failure})"
                    if current else failure)
        return info.path
    raise failure


def gunicorn_command(args: argparse.Namespace, bind: str) -> list[str]:
    command = [
        sys.executable, "-m", "gunicorn", "--chdir", str(ROOT),
        # reco's JSON errors for what gunicorn refuses itself (reco/serving/gunicorn_conf.py)
        "--config", "python:reco.serving.gunicorn_conf",
        "--workers", str(args.workers), "--worker-class", args.worker_class,
        # gevent: the whole header block must arrive within this many seconds
        "--keep-alive", "5",
        "--bind", bind, "--access-logfile", "-",
    ]
    # the time is the log line's own; behind the front, the client's address as it saw it
    client = "%(h)s" if args.no_front else "%({x-forwarded-for}i)s"
    command += ["--access-logformat", client + ' "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"']
    return command + ["api:create_app()"]


def listen(host: str, port: int) -> socket.socket:
    """The public socket, bound here so a busy port is said before anything starts."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    return socket.create_server((host, port), family=family, backlog=2048)


def _die_with_parent() -> None:
    # gunicorn gets SIGTERM if this process dies without stopping it (Linux): no orphans
    # holding the models' memory
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    try:
        version = choose_version(args.artifacts)  # fail here, not in every worker
    except ArtifactError as exc:
        log.error("%s: no version to serve: %s", args.artifacts, exc)
        return EXIT_BAD_INPUT
    try:
        listener = listen(args.host, args.port)
    except OSError as exc:
        busy = exc.errno == errno.EADDRINUSE
        log.error("%s:%d: %s%s", args.host, args.port,
                  "the port is in use" if busy else (exc.strerror or exc),
                  "; stop what listens there or choose another --port" if busy else "")
        return EXIT_BAD_INPUT
    os.environ["RECO_ARTIFACTS"] = str(args.artifacts.resolve())
    os.environ["RECO_RELOAD_SECONDS"] = str(args.reload_seconds)
    # the workers open the store themselves, after the fork (api.create_app)
    os.environ[ENV_URL] = args.feedback
    # verified byte for byte here: each worker's first load of it checks everything else
    # (sizes, listing, shapes, the arrays' content) but not the sha256 again
    os.environ["RECO_VERIFIED"] = f"{version.name}@{time.time():.0f}"
    threads = str(max(1, (os.cpu_count() or 1) // max(args.workers, 1)))
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, threads)
    log.info("serving version %s of %s on http://%s:%d/ with %d %s workers%s", version.name,
             args.artifacts, args.host, args.port, args.workers, args.worker_class,
             "" if args.no_front else " behind the buffering front")
    if args.no_front:
        listener.close()
        command = gunicorn_command(args, f"{args.host}:{args.port}")
        os.execv(command[0], command)  # gunicorn takes over this process (and its signals)
    sockets = tempfile.mkdtemp(prefix="reco-serve-")  # 0700: only this user reaches it
    backend = os.path.join(sockets, "gunicorn.sock")
    try:
        process = subprocess.Popen(gunicorn_command(args, f"unix:{backend}"),
                                   preexec_fn=_die_with_parent)
        return front.run(listener, front.FrontConfig(backend=backend), process)
    finally:
        listener.close()
        shutil.rmtree(sockets, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
