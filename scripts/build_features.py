"""Build the user, movie and user-genre feature tables of a MovieLens release.

    python scripts/build_features.py                      # embedded synthetic default
    python scripts/build_features.py --data data/ml-25m   # a real release
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file from a clone that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reco.cli import json_object, run, setup_logging  # noqa: E402
from reco.data.movielens import LoadConfig  # noqa: E402
from reco.features.tables import FeatureConfig  # noqa: E402
from reco.pipelines.features import build_features  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=None,
        help="MovieLens release directory (any release); default: the embedded synthetic data",
    )
    parser.add_argument(
        "--artifacts", type=Path, default=Path("artifacts"),
        help="artifact store to publish the features into (default: artifacts/)",
    )
    parser.add_argument("--load-config", type=json_object, default={},
                        help='LoadConfig overrides as JSON, e.g. \'{"duplicates": "error"}\'')
    parser.add_argument("--feature-config", type=json_object, default={},
                        help='FeatureConfig overrides as JSON, e.g. \'{"recent_days": 90}\'')
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    # a bad key or value in the configs is a ConfigError: run() logs it and exits 2
    return run(lambda: build_features(
        args.data, args.artifacts, load_config=LoadConfig.from_dict(args.load_config),
        feature_config=FeatureConfig.from_dict(args.feature_config)))


if __name__ == "__main__":
    raise SystemExit(main())
