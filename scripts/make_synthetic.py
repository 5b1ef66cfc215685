"""Write a synthetic MovieLens-shaped release.

Example::

    python scripts/make_synthetic.py --users 600 --movies 3000 --ratings 100000 \\
        --layout csv --out data/synthetic --seed 42
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

try:
    import reco  # noqa: F401
except ImportError:  # run from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from reco.exceptions import RecoError
from reco.data.synthetic import DEFAULT_CONFIG, LAYOUTS, SyntheticConfig, make_release

logger = logging.getLogger("make_synthetic")


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, generate the release and write it; 0 on success, 2 on a bad config."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=DEFAULT_CONFIG.n_users)
    parser.add_argument("--movies", type=int, default=DEFAULT_CONFIG.n_movies)
    parser.add_argument("--ratings", type=int, default=DEFAULT_CONFIG.n_ratings)
    parser.add_argument("--layout", choices=LAYOUTS, default=DEFAULT_CONFIG.layout)
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    parser.add_argument("--seed", type=int, default=DEFAULT_CONFIG.seed)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        config = SyntheticConfig(
            n_users=args.users, n_movies=args.movies, n_ratings=args.ratings,
            layout=args.layout, seed=args.seed,
        )
        files = make_release(config, args.out)
    except RecoError as exc:  # ConfigError included
        logger.error("%s", exc)
        return 2
    logger.info("wrote %s", ", ".join(str(f) for f in files))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
