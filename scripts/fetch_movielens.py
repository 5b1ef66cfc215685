"""Download an official MovieLens release, verify its checksum, unpack it into DEST/NAME.

    python scripts/fetch_movielens.py ml-25m --dest data/
    python scripts/train.py --data data/ml-25m --artifacts artifacts/ml-25m

A second run only reports the path; an interrupted download resumes. docs/DOWNLOAD.md
has the details (checksum sources, ml-latest, licence).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file from a clone that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reco.cli import run, setup_logging  # noqa: E402
from reco.data.fetch import BASE_URL_ENV, RELEASES, fetch_movielens  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # No argparse `choices`: the library names the valid releases and run() exits 2.
    parser.add_argument("name", metavar="NAME", help=f"release: {', '.join(RELEASES)}")
    parser.add_argument("--dest", type=Path, default=Path("data"),
                        help="parent folder; the release lands in DEST/NAME (default: data/)")
    parser.add_argument("--base-url", default=None,
                        help=f"mirror holding NAME.zip (default: ${BASE_URL_ENV} or GroupLens)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait to connect and for each read (default: 60)")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip the checksum check (unsafe; logged as a warning)")
    parser.add_argument("--force", action="store_true",
                        help="download again and replace DEST/NAME even if it is complete")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)

    def fetch() -> None:
        path = fetch_movielens(args.name, args.dest, base_url=args.base_url,
                               timeout=args.timeout, progress=not args.quiet,
                               verify=not args.no_verify, force=args.force)
        print(path)  # stdout carries only the path, for `DATA=$(python scripts/fetch...)`

    return run(fetch)


if __name__ == "__main__":
    raise SystemExit(main())
