"""Run the evaluation on releases of different shapes (docs/EVALUATION.md, "Generality").

    python scripts/generality.py --data ../shared/data/ml-latest-small --out artifacts/generality

Synthetic releases (100k, 400k and 1M ratings, different shapes) and ml-latest-small cut at
its 50th and 75th percentile timestamps and halved in users are written to --work (a
temporary directory removed afterwards unless given), then evaluated one by one. Writes
generality.md, generality.json and one report directory per release into --out.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a file from a clone that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reco.cli import run, setup_logging  # noqa: E402
from reco.evaluation.generality import (  # noqa: E402
    SYNTHETIC_RELEASES,
    TINY_SYNTHETIC_RELEASES,
    run_suite,
)
from reco.evaluation.peers.tuned import GRID_SIZES  # noqa: E402

log = logging.getLogger("generality")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None,
                        help="the csv release to derive date cuts and a half of the users "
                             "from (e.g. ../shared/data/ml-latest-small); none: synthetic only")
    parser.add_argument("--out", type=Path, required=True, help="report directory")
    parser.add_argument("--work", type=Path, default=None,
                        help="where the releases are written (default: a temporary directory, "
                             "removed at the end)")
    parser.add_argument("--grids", choices=GRID_SIZES, default="small",
                        help="the tuned peers' grids (default: small)")
    parser.add_argument("--only", action="append", default=[],
                        help="run only this release (repeatable)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the half-of-users draw")
    parser.add_argument("--tiny", action="store_true",
                        help="tiny synthetic releases, reco's smoke configuration: a smoke test")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    shown = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "scripts/generality.py", *shown])
    work = args.work or Path(tempfile.mkdtemp(prefix="reco-generality-"))
    shapes = TINY_SYNTHETIC_RELEASES if args.tiny else SYNTHETIC_RELEASES
    try:
        return run(lambda: run_suite(args.out, work, source=args.data, shapes=shapes,
                                     grid_size=args.grids, fast=args.tiny, only=args.only,
                                     seed=args.seed, command=command))
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
            log.info("removed the releases' work directory %s", work)


if __name__ == "__main__":
    raise SystemExit(main())
