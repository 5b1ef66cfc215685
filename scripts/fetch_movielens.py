"""Download an official MovieLens release, verify its checksum, unpack it into DEST/NAME.

    python scripts/fetch_movielens.py ml-25m --dest data/
    python scripts/train.py --data data/ml-25m --artifacts artifacts/ml-25m

    python scripts/fetch_movielens.py ml-latest --sha256 HEX   # no pin: give a checksum
    python scripts/fetch_movielens.py ml-latest --allow-unpinned   # or take it unverified

A second run only reports the path; an interrupted download resumes. docs/DOWNLOAD.md
has the details (checksum sources, ml-latest, unpack limits, licence).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a file from a clone that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reco.cli import run, setup_logging  # noqa: E402
from reco.data.fetch import (  # noqa: E402
    BASE_URL_ENV,
    RELEASES,
    UnpackLimits,
    fetch_movielens,
)

_DEFAULT = UnpackLimits()


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
    parser.add_argument("--sha256", metavar="HEX", default=None,
                        help="sha256 of the zip from a source you trust (checked on top of any "
                             "pinned one; what makes ml-latest verifiable)")
    parser.add_argument("--md5", metavar="HEX", default=None,
                        help="md5 of the zip from a source you trust (as --sha256)")
    parser.add_argument("--allow-unpinned", action="store_true",
                        help="accept a release with no pinned checksum (ml-latest) unverified "
                             "when no --sha256/--md5 is given (logged as a warning)")
    parser.add_argument("--no-verify", action="store_true",
                        help="skip every checksum check (unsafe; logged as a warning)")
    parser.add_argument("--max-unpacked-bytes", type=int, default=_DEFAULT.max_total_bytes,
                        metavar="N", help="refuse a zip that unpacks to more than N bytes "
                                          f"(default: {_DEFAULT.max_total_bytes}, 4 GiB)")
    parser.add_argument("--max-members", type=int, default=_DEFAULT.max_members, metavar="N",
                        help=f"refuse a zip with more than N entries (default: "
                             f"{_DEFAULT.max_members})")
    parser.add_argument("--max-ratio", type=float, default=_DEFAULT.max_ratio, metavar="R",
                        help="refuse a member of 1 MiB or more that inflates over R:1 "
                             f"(default: {_DEFAULT.max_ratio:g})")
    parser.add_argument("--force", action="store_true",
                        help="download again and replace DEST/NAME even if it is complete")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)

    def fetch() -> None:
        # Built here, not in parse_args, so a bad limit is a ConfigError: one line, exit 2.
        limits = UnpackLimits(max_total_bytes=args.max_unpacked_bytes,
                              max_members=args.max_members, max_ratio=args.max_ratio)
        path = fetch_movielens(args.name, args.dest, base_url=args.base_url,
                               timeout=args.timeout, progress=not args.quiet,
                               verify=not args.no_verify, sha256=args.sha256, md5=args.md5,
                               allow_unpinned=args.allow_unpinned, limits=limits,
                               force=args.force)
        print(path)  # stdout carries only the path, for `DATA=$(python scripts/fetch...)`

    return run(fetch)


if __name__ == "__main__":
    raise SystemExit(main())
