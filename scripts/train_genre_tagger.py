"""Fit the genre tagger on a whole Netflix or TMDB 5000 file and save it (npz + JSON).

    python scripts/train_genre_tagger.py --data ../shared/data/tmdb-5000/tmdb_5000_movies.csv \\
        --source tmdb --movielens-genres --out artifacts/text
    python scripts/train_genre_tagger.py --data ../shared/data/netflix-titles/netflix_titles.csv \\
        --source netflix --out artifacts/text

Writes ``<out>/genre_tagger_<source>.npz`` and ``.json`` (``genre_tagger_movielens`` with
``--movielens-genres``: TMDB labels mapped to MovieLens names, the tagger
``predict_movielens_genres`` wants).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file from a clone that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reco.cli import json_object, run, setup_logging  # noqa: E402
from reco.pipelines.text_models import TAGGER_SOURCES, train_genre_tagger  # noqa: E402
from reco.text.genre_tagger import TaggerConfig  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="netflix_titles.csv or "
                        "tmdb_5000_movies.csv")
    parser.add_argument("--source", choices=TAGGER_SOURCES, required=True)
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--movielens-genres", action="store_true",
                        help="TMDB only: map labels to MovieLens genre names")
    parser.add_argument("--config", type=json_object, default={},
                        help="TaggerConfig overrides as a JSON object")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    if args.movielens_genres and args.source != "tmdb":
        parser.error("--movielens-genres needs --source tmdb")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    return run(lambda: train_genre_tagger(args.data, args.source, args.out,
                                          args.movielens_genres,
                                          TaggerConfig.from_dict(args.config)))


if __name__ == "__main__":
    raise SystemExit(main())
