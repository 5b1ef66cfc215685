"""Fit features, CF, content and the XGBoost ranker; write one artifact directory.

    python scripts/train.py                                  # embedded synthetic default
    python scripts/train.py --data data/ml-latest-small --artifacts artifacts/
    python scripts/train.py --data data/ml-latest-small --feedback data/feedback.sqlite3
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file from a clone that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reco.cli import run, setup_logging  # noqa: E402
from reco.data.feedback import ENV_URL, open_store  # noqa: E402
from reco.pipelines.train import train  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None,
                        help="MovieLens release directory; default: embedded synthetic data")
    parser.add_argument("--artifacts", type=Path, default=Path("artifacts"),
                        help="artifact store to publish into (default: artifacts/)")
    parser.add_argument("--keep", type=int, default=3,
                        help="versions to keep in the store (default 3; never deletes the "
                             "current one)")
    parser.add_argument("--tmdb", type=Path, default=None,
                        help="optional TMDB 5000 movies CSV to enrich content (via links.csv)")
    parser.add_argument("--genre-tagger", type=Path, default=None,
                        help="saved genre tagger (scripts/train_genre_tagger.py --source tmdb "
                             "--movielens-genres): predicted genres for movies without any")
    parser.add_argument("--family-model", type=Path, default=None,
                        help="saved family classifier dir (scripts/train_family_flag.py --out): "
                             "enables /recommend?family=true")
    parser.add_argument("--feedback", default=None, metavar="URL",
                        help="feedback store whose ratings are added to the release's "
                             "(postgresql://... or a SQLite file; default: "
                             "$RECO_FEEDBACK_URL when set, else none; docs/FEEDBACK.md)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    if not 1 <= args.keep <= 1000:
        parser.error(f"--keep must be between 1 and 1000, got {args.keep}")
    args.feedback = args.feedback or os.environ.get(ENV_URL) or None
    if args.feedback is not None:
        try:
            open_store(args.feedback)  # the URL's form only: nothing connects here
        except ValueError as exc:
            parser.error(f"--feedback: {exc}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    return run(lambda: train(args.data, args.artifacts, tmdb_path=args.tmdb,
                             genre_tagger=args.genre_tagger, family_model=args.family_model,
                             keep=args.keep, feedback=args.feedback))


if __name__ == "__main__":
    raise SystemExit(main())
