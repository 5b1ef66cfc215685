"""Evaluate the text models on seeded 80/20 splits: JSON + Markdown + PNG.

    python scripts/evaluate_text.py tagger \\
        --netflix ../shared/data/netflix-titles/netflix_titles.csv \\
        --tmdb ../shared/data/tmdb-5000/tmdb_5000_movies.csv \\
        --movielens ../shared/data/ml-latest-small --out artifacts/text-eval --seeds 0 1 2

``tagger``: the multi-label genre tagger (:func:`reco.evaluation.tagger.evaluate_tagger`;
thresholds tuned on the training part only, by out-of-fold probabilities; the 20% test part
is touched once, for the figures). Writes ``genre_tagger.json``, ``genre_tagger.md`` and
``genre_f1_<dataset>.png`` into ``--out``; ``--movielens DIR`` adds the MovieLens
title(+tags) fallback check.

    python scripts/evaluate_text.py family \
        --netflix ../shared/data/netflix-titles/netflix_titles.csv --out artifacts/family-eval

``family``: the family-friendly flag against the age-rating gold it never trains on, one
train / dev / test split per seed (:func:`reco.evaluation.family.evaluate_family_seeds`).
Writes each seed's ``family_eval.{json,md}`` into ``--out/seed-N`` and
``family_seeds.{json,md}``: test ROC-AUC, on titles no labeling function covers, and without
the genre-label functions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file from a clone that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reco.cli import json_object, run, setup_logging  # noqa: E402
from reco.evaluation.family import FamilyEvalConfig, evaluate_family_seeds  # noqa: E402
from reco.evaluation.tagger import evaluate_tagger  # noqa: E402
from reco.text.genre_tagger import TaggerConfig  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="model", required=True)
    tagger = sub.add_parser("tagger", help="multi-label genre tagger (Netflix, TMDB 5000)")
    tagger.add_argument("--netflix", type=Path, help="netflix_titles.csv")
    tagger.add_argument("--tmdb", type=Path, help="tmdb_5000_movies.csv (title + overview only)")
    tagger.add_argument("--out", type=Path, required=True, help="output directory")
    tagger.add_argument("--movielens", type=Path,
                        help="MovieLens release: also measure the title(+tags) fallback")
    tagger.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    tagger.add_argument("--test-size", type=float, default=0.2)
    tagger.add_argument("--config", type=json_object, default={},
                        help="TaggerConfig overrides as a JSON object")
    family = sub.add_parser("family", help="family-friendly flag (Netflix, rating as gold)")
    family.add_argument("--netflix", type=Path, required=True, help="netflix_titles.csv")
    family.add_argument("--out", type=Path, required=True, help="output directory")
    family.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    family.add_argument("--config", type=json_object, default={},
                        help="FamilyEvalConfig overrides as JSON (dev_share, test_share, "
                             "min_gain, threshold; the seed comes from --seeds)")
    args = parser.parse_args(argv)
    if args.model == "tagger" and args.netflix is None and args.tmdb is None:
        parser.error("tagger: give --netflix and/or --tmdb")
    if args.model == "tagger" and args.movielens is not None and args.tmdb is None:
        parser.error("tagger: --movielens needs --tmdb")
    if args.model == "tagger" and not 0 < args.test_size < 1:
        parser.error(f"tagger: --test-size must be in (0, 1), got {args.test_size}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    if args.model == "family":
        return run(lambda: evaluate_family_seeds(args.netflix, args.out, args.seeds,
                                                 FamilyEvalConfig.from_dict(args.config)))
    # a bad key or value in --config is a ConfigError: run() logs it and exits 2
    return run(lambda: evaluate_tagger(
        args.out, netflix=args.netflix, tmdb=args.tmdb, movielens=args.movielens,
        seeds=args.seeds, test_size=args.test_size,
        config=TaggerConfig.from_dict(args.config)))


if __name__ == "__main__":
    raise SystemExit(main())
