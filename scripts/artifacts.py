"""Look after an artifact store: list, verify, roll back, migrate, index.

    python scripts/artifacts.py list artifacts                 # versions, newest last
    python scripts/artifacts.py verify artifacts [VERSION]     # every byte, exit 2 if bad
    python scripts/artifacts.py use artifacts VERSION          # make VERSION current
    python scripts/artifacts.py migrate OLD_DIR --into artifacts
    python scripts/artifacts.py index artifacts                # current + retrieval index

``use`` is the rollback: it verifies the version, then replaces the ``current`` pointer
by one atomic rename; servers on the store switch to it within their reload interval.
``migrate`` publishes an artifact directory from before the store (format 2) as a
version, reading it only. ``index`` publishes the current version again with the
retrieval index of its item vectors (for a version trained before the index existed; a
catalog of 20,000 movies or more), and with its title search index (``titles.npz``):
nothing learned changes, and servers switch to it as to any new version.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a file from a clone that is not installed
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reco.artifacts import store  # noqa: E402
from reco.artifacts.manifest import migrate, verify_version  # noqa: E402
from reco.artifacts.model_dir import add_retrieval_index  # noqa: E402
from reco.cli import run, setup_logging  # noqa: E402
from reco.exceptions import ArtifactError  # noqa: E402


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the store's versions and pointers")
    listing.add_argument("store", type=Path)
    listing.add_argument("--json", action="store_true", help="one JSON object")
    check = commands.add_parser("verify", help="check versions against their manifests")
    check.add_argument("store", type=Path)
    check.add_argument("version", nargs="?", help="one version id (default: every version)")
    use = commands.add_parser("use", help="make a version current (roll back or forward)")
    use.add_argument("store", type=Path)
    use.add_argument("version")
    move = commands.add_parser("migrate", help="publish a format-2 directory as a version")
    move.add_argument("old", type=Path)
    move.add_argument("--into", type=Path, required=True, help="the store")
    index = commands.add_parser("index", help="publish the current version with a retrieval "
                                "index (a version trained before it existed)")
    index.add_argument("store", type=Path)
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def _listing(root: Path) -> dict[str, object]:
    target = store.ArtifactStore(root)
    pointers = {}
    for alias in store.ALIASES:
        try:
            pointers[alias] = target.pointer(alias)
        except ArtifactError:
            pointers[alias] = None
    versions = []
    for info in target.versions():
        try:
            manifest, _ = store.read_version_manifest(info.path)
            kind = "model" if isinstance(manifest.get("model"), dict) else "features"
            files = manifest.get("files") or {}
            size = sum(e.get("size", 0) for e in files.values() if isinstance(e, dict))
            ratings = (manifest.get("row_counts") or {}).get("ratings")
        except ArtifactError:
            kind, size, ratings = "unreadable", 0, None
        versions.append({"version": info.version, "created_at": info.created_at,
                         "kind": kind, "ratings": ratings, "bytes": size,
                         "pointers": [a for a, v in pointers.items() if v == info.version]})
    return {"pointers": pointers, "versions": versions}


def _list(args: argparse.Namespace) -> None:
    listing = _listing(args.store)
    if args.json:
        sys.stdout.write(json.dumps(listing, indent=2) + "\n")
        return
    for entry in listing["versions"]:  # type: ignore[attr-defined]
        marks = ",".join(entry["pointers"])
        sys.stdout.write(f"{entry['version']}  {entry['kind']:<10} {entry['bytes'] / 1e6:9.1f} MB"
                         f"  ratings={entry['ratings']}  {marks}\n")


def _verify(args: argparse.Namespace) -> None:
    target = store.ArtifactStore(args.store)
    names = [args.version] if args.version else [v.version for v in target.versions()]
    if not names:
        raise ArtifactError("no versions in the store")
    bad = 0
    for name in names:
        try:
            started = time.perf_counter()
            manifest = verify_version(target.version_path(name))
            size = sum(e["size"] for e in manifest["files"].values())
            sys.stdout.write(f"{name}  ok  ({size / 1e6:.1f} MB in "
                             f"{time.perf_counter() - started:.2f} s)\n")
        except ArtifactError as exc:
            bad += 1
            sys.stdout.write(f"{name}  FAILED: {exc}\n")
    if bad:
        raise ArtifactError(f"{bad} of {len(names)} version(s) failed verification")


def _use(args: argparse.Namespace) -> None:
    target = store.ArtifactStore(args.store)
    manifest = verify_version(target.version_path(args.version))
    if not isinstance(manifest.get("model"), dict):
        raise ArtifactError(f"version {args.version} holds features only; it cannot be served")
    target.set_pointer(args.version)
    sys.stdout.write(f"current -> {args.version}\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.verbose)
    actions = {"list": _list, "verify": _verify, "use": _use,
               "migrate": lambda a: sys.stdout.write(f"{migrate(a.old, a.into).name}\n"),
               "index": lambda a: sys.stdout.write(f"{add_retrieval_index(a.store).name}\n")}
    return run(lambda: actions[args.command](args))


if __name__ == "__main__":
    raise SystemExit(main())
