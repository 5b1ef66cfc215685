"""Top-k recommendations for a file of user ids (one per line) into a CSV.

    python scripts/recommend.py --artifacts artifacts --users users.txt --k 10 --out recs.csv

Output columns: user_id,rank,movie_id,score (rank 1 = best), never a movie the user rated
in the training data. Users unknown to the model get popular titles (counted in the log).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file from a clone that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reco.cli import run, setup_logging  # noqa: E402
from reco.pipelines.batch import recommend_file  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=Path, default=Path("artifacts"))
    parser.add_argument("--users", type=Path, required=True, help="one user id per line")
    parser.add_argument("--k", type=int, default=10, help="recommendations per user (1-1000)")
    parser.add_argument("--out", type=Path, required=True, help="output CSV")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if not 1 <= args.k <= 1000:
        parser.error(f"--k must be between 1 and 1000, got {args.k}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    return run(lambda: recommend_file(args.artifacts, args.users, args.k, args.out))


if __name__ == "__main__":
    raise SystemExit(main())
