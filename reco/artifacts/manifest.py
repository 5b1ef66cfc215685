"""The artifact directory: Parquet tables and ``manifest.json`` (no pickle, ever).

Layout::

    ARTIFACTS/
      manifest.json            format version, library versions, configs, data
                               fingerprint, row counts, timings per step
      features/users.parquet        key user_id
      features/movies.parquet       key movie_id
      features/user_genres.parquet  keys user_id, genre
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl

from reco.data.dataset import MovieLensData
from reco.exceptions import ArtifactError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FEATURES_DIR = "features"
FEATURE_TABLES = ("users", "movies", "user_genres")
_LIBRARIES = ("reco", "numpy", "scipy", "pandas", "scikit-learn", "xgboost", "polars", "flask")
_CHUNK = 1 << 22


def library_versions() -> dict[str, str | None]:
    """Python and the versions of the libraries reco is built on (None when absent)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def fingerprint_files(paths: list[str] | tuple[str, ...]) -> str:
    """SHA-256 over the names and bytes of ``paths`` (in sorted name order)."""
    digest = hashlib.sha256()
    for path in sorted(paths, key=lambda p: Path(p).name):
        digest.update(Path(path).name.encode() + b"\0")
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def fingerprint_frames(data: MovieLensData) -> str:
    """SHA-256 over the canonical ratings and movies (for data made in memory)."""
    digest = hashlib.sha256()
    for column in data.ratings.columns:
        digest.update(data.ratings[column].to_numpy().tobytes())
    digest.update(data.movies["movie_id"].to_numpy().tobytes())
    digest.update("\n".join(data.movies["title"].to_list()).encode())
    return "sha256:" + digest.hexdigest()


def fingerprint(data: MovieLensData) -> str:
    """The data fingerprint: of the release's files when read from disk."""
    return fingerprint_files(data.files) if data.files else fingerprint_frames(data)


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON through a temporary file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(payload, out, indent=2, sort_keys=False, default=str)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def new_manifest() -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "libraries": library_versions(),
        "platform": {"system": platform.system(), "machine": platform.machine(),
                     "cpus": os.cpu_count()},
    }


def write_manifest(artifacts: str | Path, manifest: dict[str, Any]) -> Path:
    path = Path(artifacts) / MANIFEST
    write_json_atomic(path, manifest)
    return path


def read_manifest(artifacts: str | Path) -> dict[str, Any]:
    """Read ``manifest.json`` and check its format version.

    Raises
    ------
    ArtifactError
        The manifest is missing, unreadable, or of another format version.
    """
    path = Path(artifacts) / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"{path}: no manifest; build the artifacts first")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: unreadable manifest: {exc}") from exc
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"{path}: format version {version!r}, this reco reads version {FORMAT_VERSION}"
        )
    return manifest


def write_table(artifacts: str | Path, name: str, frame: pl.DataFrame) -> Path:
    """Write ``frame`` to ``ARTIFACTS/features/<name>.parquet`` (zstd)."""
    path = Path(artifacts) / FEATURES_DIR / f"{name}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    frame.write_parquet(tmp, compression="zstd")
    os.replace(tmp, path)
    return path


def read_table(artifacts: str | Path, name: str) -> pl.DataFrame:
    """Read one feature table, checking its columns against the manifest."""
    manifest = read_manifest(artifacts)
    expected = manifest.get("features", {}).get(name, {}).get("columns")
    path = Path(artifacts) / FEATURES_DIR / f"{name}.parquet"
    if not path.is_file():
        raise ArtifactError(f"{path}: missing feature table {name!r}")
    frame = pl.read_parquet(path)
    if expected is not None and frame.columns != expected:
        raise ArtifactError(
            f"{path}: columns {frame.columns} differ from the manifest's {expected}"
        )
    return frame
