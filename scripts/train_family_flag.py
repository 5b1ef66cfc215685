"""Train the family-friendly flag on Netflix titles by weak supervision; save it as npz + JSON.

    python scripts/train_family_flag.py \\
        --netflix ../shared/data/netflix-titles/netflix_titles.csv \\
        --out artifacts/family [--report artifacts/family-eval] [--seed 0]

The labeling functions and the classifier never read the age rating; ``--report`` also
evaluates against it (train / dev / test split of ``--seed``) and writes
``family_eval.json`` and ``family_eval.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file from a clone that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reco.cli import run, setup_logging  # noqa: E402
from reco.evaluation.family import run_family_flag  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--netflix", type=Path, required=True,
                        help="netflix_titles.csv (Kaggle 'Netflix Movies and TV Shows')")
    parser.add_argument("--out", type=Path, required=True,
                        help="directory for family.npz and family.json")
    parser.add_argument("--report", type=Path, default=None,
                        help="also evaluate against the rating gold; write the report here")
    parser.add_argument("--seed", type=int, default=0, help="split and augmentation seed")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    return run(lambda: run_family_flag(args.netflix, args.out, args.report, args.seed))


if __name__ == "__main__":
    raise SystemExit(main())
