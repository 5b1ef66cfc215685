"""Evaluate reco against its peers on one split, in one run (docs/EVALUATION.md).

    python scripts/evaluate.py --data ../shared/data/ml-latest-small --out artifacts/eval-small

The tuned peers search the bounded grids of reco.evaluation.peers.tuned (--grids full by
default; small for a quicker run; smoke for a smoke test).

Writes evaluation.json, evaluation.md, methods.png and feature_importance.png into --out.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file from a clone that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reco.cli import run, setup_logging  # noqa: E402
from reco.evaluation.peers.tuned import GRID_SIZES  # noqa: E402
from reco.evaluation.protocol import evaluate_release  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None,
                        help="MovieLens release; default: the embedded synthetic data")
    parser.add_argument("--out", type=Path, default=Path("artifacts/evaluation"),
                        help="output directory (default: artifacts/evaluation)")
    parser.add_argument("--tmdb", type=Path, default=None,
                        help="optional TMDB 5000 movies CSV for the content model")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--no-hybrid", action="store_true", help="skip the full reco model")
    parser.add_argument("--fast", action="store_true",
                        help="small models and the smoke grids: a smoke run, not a benchmark")
    parser.add_argument("--grids", choices=GRID_SIZES, default=None,
                        help="the tuned peers' grids (default: full; smoke with --fast)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if args.k < 1:
        parser.error(f"--k must be at least 1, got {args.k}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    shown = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "scripts/evaluate.py", *shown])
    return run(lambda: evaluate_release(args.data, args.out, tmdb_path=args.tmdb, k=args.k,
                                        include_hybrid=not args.no_hybrid, fast=args.fast,
                                        grid_size=args.grids, command=command))


if __name__ == "__main__":
    raise SystemExit(main())
