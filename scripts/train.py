"""Fit features, CF, content and the XGBoost ranker; write one artifact directory.

    python scripts/train.py                                  # embedded synthetic default
    python scripts/train.py --data data/ml-latest-small --artifacts artifacts/
    python scripts/train.py --data data/ml-latest-small --feedback data/feedback.sqlite3
    python scripts/train.py --config '{"cf": {"factors": 128}, "ranker": {"max_depth": 6}}'
    python scripts/train.py --engine spark --spark-master local[2] \
        --data ../shared/data/ml-latest-small --artifacts artifacts/
    spark-submit scripts/train.py --engine spark --data hdfs:///ml/ml-32m --artifacts /srv/store

``--engine spark`` (docs/SCALING.md) needs the extra: pip install -e ".[spark]" and Java 17.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file from a clone that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reco.cli import json_object, run, setup_logging  # noqa: E402
from reco.data.feedback import ENV_URL, open_store  # noqa: E402
from reco.pipelines.train import train  # noqa: E402
from reco.ranking.hybrid_config import HybridConfig  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None,
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
    parser.add_argument("--config", type=json_object, default={}, metavar="JSON",
                        help="the model's settings that differ from the defaults, as a JSON "
                             "object of HybridConfig's fields (docs/MODELS.md); a bad key or "
                             "value exits 2 naming it")
    parser.add_argument("--engine", choices=("local", "spark"), default="local",
                        help="local: this machine (default); spark: Apache Spark (the "
                             "[spark] extra and Java 17; docs/SCALING.md)")
    parser.add_argument("--spark-master", default=None, metavar="URL",
                        help="with --engine spark: the master, e.g. local[2]; default: "
                             "spark-submit's (or Spark's own local[*] when run directly)")
    parser.add_argument("--spark-partitions", type=int, default=None, metavar="N",
                        help="with --engine spark: spark.sql.shuffle.partitions (default: "
                             "Spark's or spark-submit's)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    if args.engine == "local" and (args.spark_master or args.spark_partitions):
        parser.error("--spark-master and --spark-partitions go with --engine spark")
    if args.spark_partitions is not None and not 1 <= args.spark_partitions <= 100_000:
        parser.error(f"--spark-partitions must be between 1 and 100000, got "
                     f"{args.spark_partitions}")
    if args.engine == "spark":
        if args.data is None:
            parser.error("--engine spark needs --data (a release on a local or cluster "
                         "filesystem)")
    if not 1 <= args.keep <= 1000:
        parser.error(f"--keep must be between 1 and 1000, got {args.keep}")
    args.feedback = args.feedback or os.environ.get(ENV_URL) or None
    if args.feedback is not None:
        try:
            open_store(args.feedback)  # the URL's form only: nothing connects here
        except ValueError as exc:
            parser.error(f"--feedback: {exc}")
    return args


def _train_spark(args: argparse.Namespace) -> int:
    # no PySpark or no Java: SparkUnavailableError, one line on stderr and exit 2 (run)
    from reco.pipelines.spark.session import SparkConfig
    from reco.pipelines.spark.train import train_spark

    spark = SparkConfig(master=args.spark_master, shuffle_partitions=args.spark_partitions)
    # a path on a cluster filesystem (hdfs://...) stays a string: Path would mangle it
    return run(lambda: train_spark(args.data, args.artifacts, spark=spark, keep=args.keep,
                                   feedback=args.feedback, tmdb_path=args.tmdb,
                                   genre_tagger=args.genre_tagger,
                                   family_model=args.family_model,
                                   config=HybridConfig.from_dict(args.config)))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    if args.engine == "spark":
        return _train_spark(args)
    return run(lambda: train(args.data, args.artifacts, config=HybridConfig.from_dict(args.config),
                             tmdb_path=args.tmdb,
                             genre_tagger=args.genre_tagger, family_model=args.family_model,
                             keep=args.keep, feedback=args.feedback))


if __name__ == "__main__":
    raise SystemExit(main())
