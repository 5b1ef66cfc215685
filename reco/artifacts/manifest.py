"""The artifact directory's format: ``manifest.json`` and the Parquet tables (no pickle, ever).

Everything that writes into or reads from an artifact directory goes through here (tables,
manifest) or :mod:`reco.artifacts.model_dir` (the fitted models), so the directory has one
format and one version number, :data:`FORMAT_VERSION`. Layout::

    ARTIFACTS/
      manifest.json            format version, library versions, configs, data
                               fingerprint, row counts, timings per step
      features/users.parquet        key user_id
      features/movies.parquet       key movie_id
      features/user_genres.parquet  keys user_id, genre
      catalog.parquet               key movie_id (trained directories: model_dir)

Error messages name files relative to the directory ("features/users.parquet"), never by
absolute path: they reach API responses, and the caller knows which directory it gave.
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
from reco.features.tables import FeatureTables

#: The version of the whole directory's format. 2: the movies stage one reads are the
#: catalog's (movie_id, genres, year), no longer a stage_movies.parquet of their own.
FORMAT_VERSION = 2
MANIFEST = "manifest.json"
FEATURES_DIR = "features"
FEATURE_TABLES = ("users", "movies", "user_genres")
CATALOG = "catalog"
#: Every table of the directory and its file, relative to the directory.
TABLE_FILES: dict[str, str] = {
    **{name: f"{FEATURES_DIR}/{name}.parquet" for name in FEATURE_TABLES},
    CATALOG: "catalog.parquet",
}
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
        raise ArtifactError(f"no {MANIFEST} in the artifact directory; build the artifacts "
                            "first (scripts/build_features.py or scripts/train.py)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{MANIFEST}: unreadable manifest: {exc}") from exc
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if version != FORMAT_VERSION:
        raise ArtifactError(
            f"{MANIFEST}: format version {version!r}, this reco reads version "
            f"{FORMAT_VERSION}; build the artifacts again with this reco"
        )
    return manifest


def model_manifest(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest's ``model`` section (what :func:`reco.artifacts.model_dir.save_model`
    wrote); ``ArtifactError`` when the artifacts hold features only. The one check the
    loader, ``scripts/serve.py`` and the API make before serving."""
    section = manifest.get("model")
    if not isinstance(section, dict):
        raise ArtifactError("the artifact directory holds features only; run "
                            "scripts/train.py to fit the models")
    return section


def table_section(frame: pl.DataFrame, name: str) -> dict[str, Any]:
    """What the manifest records of a table: its file, rows and column order."""
    return {"path": TABLE_FILES[name], "rows": frame.height, "columns": frame.columns}


def features_section(tables: FeatureTables) -> dict[str, Any]:
    """The manifest's ``features`` entry: each feature table's file, rows and columns."""
    return {name: table_section(getattr(tables, name), name) for name in FEATURE_TABLES}


def write_table(artifacts: str | Path, name: str, frame: pl.DataFrame) -> Path:
    """Write table ``name`` (a key of :data:`TABLE_FILES`) as zstd Parquet, atomically."""
    path = Path(artifacts) / TABLE_FILES[name]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".parquet.tmp")
    frame.write_parquet(tmp, compression="zstd")
    os.replace(tmp, path)  # readers see the old file or the new one, never half of one
    return path


def write_feature_tables(artifacts: str | Path, tables: FeatureTables) -> None:
    for name in FEATURE_TABLES:
        write_table(artifacts, name, getattr(tables, name))


def _expected_columns(manifest: dict[str, Any], name: str) -> list[str] | None:
    entry = (manifest.get("features", {}).get(name) if name in FEATURE_TABLES
             else manifest.get(name))
    return entry.get("columns") if isinstance(entry, dict) else None


def read_table(artifacts: str | Path, name: str,
               manifest: dict[str, Any] | None = None) -> pl.DataFrame:
    """Read table ``name``, checking its columns against the manifest.

    ``manifest``: the directory's manifest when the caller has read it already.

    Raises
    ------
    ArtifactError
        The file is missing or unreadable, or its columns differ from the manifest's.
    """
    manifest = read_manifest(artifacts) if manifest is None else manifest
    relative = TABLE_FILES[name]
    path = Path(artifacts) / relative
    if not path.is_file():
        raise ArtifactError(f"{relative}: missing from the artifact directory (table {name!r})")
    try:
        frame = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise ArtifactError(f"{relative}: unreadable Parquet ({type(exc).__name__})") from exc
    expected = _expected_columns(manifest, name)
    if expected is not None and frame.columns != expected:
        raise ArtifactError(
            f"{relative}: columns {frame.columns} differ from the manifest's {expected}"
        )
    return frame


def read_feature_tables(artifacts: str | Path,
                        manifest: dict[str, Any] | None = None) -> FeatureTables:
    manifest = read_manifest(artifacts) if manifest is None else manifest
    return FeatureTables(**{name: read_table(artifacts, name, manifest) for name in FEATURE_TABLES})
