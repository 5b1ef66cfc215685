"""Evaluate reco against its peers on one split, in one run (shared/EVALUATION.md).

    python scripts/evaluate.py --data ../shared/data/ml-latest-small --out artifacts/eval-small

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
                        help="small models and a 2-point EASE grid: a smoke run, not a benchmark")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def _evaluate(args: argparse.Namespace, command: str) -> None:
    from reco.evaluation.protocol import fast_config, run_evaluation
    from reco.pipelines.features import load_data
    from reco.evaluation.report import write_report

    data = load_data(args.data)
    tmdb = None
    if args.tmdb is not None:
        from reco.data.tmdb import read_tmdb_movies

        tmdb = read_tmdb_movies(args.tmdb)
    extra = {"config": fast_config(), "ease_grid": (100.0, 300.0)} if args.fast else {}
    report = run_evaluation(data, tmdb=tmdb, k=args.k, include_hybrid=not args.no_hybrid, **extra)
    for name, path in write_report(report, args.out, command).items():
        print(f"{name}: {path}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    shown = sys.argv[1:] if argv is None else argv
    command = "python scripts/evaluate.py " + " ".join(shlex.quote(a) for a in shown)
    return run(lambda: _evaluate(args, command))


if __name__ == "__main__":
    raise SystemExit(main())
