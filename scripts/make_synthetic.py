"""Write a synthetic MovieLens-shaped release.

Example::

    python scripts/make_synthetic.py --users 600 --movies 3000 --ratings 100000 \\
        --layout csv --out data/synthetic --seed 42

``--selection-taste 1.0``: users choose movies by popularity x exp(1.0 x taste), not by
popularity alone (``SyntheticConfig.selection_taste``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file from a clone that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reco.cli import json_object, run, setup_logging  # noqa: E402
from reco.data.synthetic import DEFAULT_CONFIG, LAYOUTS, SyntheticConfig, make_release  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=DEFAULT_CONFIG.n_users)
    parser.add_argument("--movies", type=int, default=DEFAULT_CONFIG.n_movies)
    parser.add_argument("--ratings", type=int, default=DEFAULT_CONFIG.n_ratings)
    parser.add_argument("--layout", choices=LAYOUTS, default=DEFAULT_CONFIG.layout)
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    parser.add_argument("--seed", type=int, default=DEFAULT_CONFIG.seed)
    parser.add_argument("--selection-taste", type=float, default=None, metavar="B",
                        help="how strongly users choose movies by taste, 0..10 (default "
                             f"{DEFAULT_CONFIG.selection_taste:g}: by popularity alone)")
    parser.add_argument("--config", type=json_object, default={},
                        help="other SyntheticConfig fields as JSON (noise, taste_std, tag_rate...)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, generate the release and write it; 0 on success, 2 on a bad config."""
    args = parse_args(argv)
    setup_logging(args.verbose)
    # SyntheticConfig validates itself: a bad size is a ConfigError, which run() exits 2 on
    fields = {**args.config, "n_users": args.users, "n_movies": args.movies,
              "n_ratings": args.ratings, "layout": args.layout, "seed": args.seed}
    if args.selection_taste is not None:  # else --config's, or the default
        fields["selection_taste"] = args.selection_taste
    return run(lambda: make_release(SyntheticConfig.from_dict(fields), args.out))


if __name__ == "__main__":
    raise SystemExit(main())
