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
import json
import logging
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file from a clone that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reco.cli import run, setup_logging  # noqa: E402
from reco.text.genre_tagger import GenreTagger, TaggerConfig  # noqa: E402
from reco.text.tagger_inputs import (  # noqa: E402
    netflix_inputs,
    tmdb_inputs,
    to_movielens_genres,
)
from reco.data.netflix import read_netflix_titles  # noqa: E402
from reco.data.tmdb import read_tmdb_movies  # noqa: E402

log = logging.getLogger("reco.train_genre_tagger")


def train_tagger(data: Path, source: str, out: Path, movielens_genres: bool = False,
                 config: TaggerConfig | None = None) -> Path:
    """Fit on every titled row of ``data`` with at least one genre; return the npz path."""
    if source == "netflix":
        if movielens_genres:
            raise ValueError("--movielens-genres needs --source tmdb")
        inputs, labels = netflix_inputs(read_netflix_titles(data))
    else:
        inputs, labels = tmdb_inputs(read_tmdb_movies(data))
        if movielens_genres:
            labels = [to_movielens_genres(row) for row in labels]
    keep = [i for i, row in enumerate(labels) if row]
    log.info("%d of %d titles have genres", len(keep), len(labels))
    tagger = GenreTagger(config).fit(labels=[labels[i] for i in keep],
                                     **inputs.subset(keep).kwargs())
    name = "movielens" if movielens_genres else source
    path = tagger.save(out / f"genre_tagger_{name}")
    log.info("saved %s (%d genres)", path, len(tagger.labels_))
    return path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="netflix_titles.csv or "
                        "tmdb_5000_movies.csv")
    parser.add_argument("--source", choices=("netflix", "tmdb"), required=True)
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--movielens-genres", action="store_true",
                        help="TMDB only: map labels to MovieLens genre names")
    parser.add_argument("--config", default="{}", help="TaggerConfig overrides as JSON")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    if args.movielens_genres and args.source != "tmdb":
        parser.error("--movielens-genres needs --source tmdb")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    config = TaggerConfig.from_dict(json.loads(args.config))
    return run(lambda: train_tagger(args.data, args.source, args.out, args.movielens_genres,
                                    config))


if __name__ == "__main__":
    raise SystemExit(main())
