"""Serve reco with gunicorn (a production WSGI server): the API and the page.

    python scripts/serve.py --artifacts artifacts --port 8000      # http://127.0.0.1:8000/

Each worker loads the artifacts once, at start, and gets cores // workers threads for
Polars, OpenMP and BLAS (unless those variables are set): with every library spawning a
thread per core in every worker, /recommend p50 was 56.7 ms on ml-latest-small artifacts;
with one thread per worker on 2 cores, 12.0 ms (docs/BENCHMARKS.md). Not --preload: Polars'
and OpenMP's thread pools do not survive fork, and a worker forked from a master that had loaded
the models
deadlocked on its first recommendation (measured; /health still answered).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file from a clone that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reco.artifacts.manifest import model_manifest, read_manifest  # noqa: E402
from reco.cli import EXIT_BAD_INPUT, setup_logging  # noqa: E402
from reco.exceptions import ArtifactError  # noqa: E402

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
    return parser.parse_args(argv)


def gunicorn_command(args: argparse.Namespace) -> list[str]:
    return [
        sys.executable, "-m", "gunicorn", "--chdir", str(ROOT),
        "--workers", str(args.workers), "--bind", f"{args.host}:{args.port}",
        "--access-logfile", "-", "api:create_app()",
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging()
    try:
        model_manifest(read_manifest(args.artifacts))  # fail here, not in every worker
    except ArtifactError as exc:
        log.error("%s: %s", args.artifacts, exc)  # the message names files, not the directory
        return EXIT_BAD_INPUT
    os.environ["RECO_ARTIFACTS"] = str(args.artifacts.resolve())
    threads = str(max(1, (os.cpu_count() or 1) // max(args.workers, 1)))
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, threads)
    command = gunicorn_command(args)
    log.info("serving %s on http://%s:%d/ with %d workers", args.artifacts, args.host,
             args.port, args.workers)
    os.execv(command[0], command)  # gunicorn takes over this process (and its signals)
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
