"""A version's format: ``manifest.json`` and the Parquet tables (no pickle, ever).

Everything that writes into or reads from a version goes through here (tables, manifest),
:mod:`reco.artifacts.model_dir` (the fitted models) or :mod:`reco.artifacts.store`
(publishing and verifying versions), so a version has one format and one version number,
:data:`FORMAT_VERSION`. A version's layout::

    versions/<id>/
      manifest.json            format version, library versions, configs, data
                               fingerprint, row counts, timings per step, and every
                               other file's size, sha256 and array shapes
      features/users.parquet        key user_id
      features/movies.parquet       key movie_id
      features/user_genres.parquet  keys user_id, genre
      catalog.parquet               key movie_id (trained versions: model_dir)

Error messages name files relative to the version ("features/users.parquet"), never by
absolute path: they reach API responses, and the caller knows which directory it gave.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from reco.artifacts import store
from reco.data.dataset import MovieLensData
from reco.exceptions import ArtifactError
from reco.features.tables import FeatureTables

T = TypeVar("T", pl.DataFrame, pl.Schema)

#: The version of the whole directory's format. 2: the movies stage one reads are the
#: catalog's (movie_id, genres, year), no longer a stage_movies.parquet of their own.
#: 3: versions in a store, the manifest listing every file's size and sha256.
FORMAT_VERSION = 3
#: Format 2 is format 3 without the store: such a directory can be migrated.
MIGRATABLE_VERSION = 2
MANIFEST = store.MANIFEST
FEATURES_DIR = "features"
FEATURE_TABLES = ("users", "movies", "user_genres")
CATALOG = "catalog"
#: Every table of the directory and its file, relative to the directory.
TABLE_FILES: dict[str, str] = {
    **{name: f"{FEATURES_DIR}/{name}.parquet" for name in FEATURE_TABLES},
    CATALOG: "catalog.parquet",
}
#: Each library's name in the manifest and the distributions that may provide it
#: (xgboost-cpu is the same module as xgboost without the CUDA libraries).
_LIBRARIES: dict[str, tuple[str, ...]] = {
    "reco": ("reco-movies",), "numpy": ("numpy",), "scipy": ("scipy",), "pandas": ("pandas",),
    "scikit-learn": ("scikit-learn",), "xgboost": ("xgboost-cpu", "xgboost"),
    "polars": ("polars",), "flask": ("flask",),
}
_CHUNK = 1 << 22


def library_versions() -> dict[str, str | None]:
    """Python and the versions of reco and the libraries it is built on (None when absent)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name, distributions in _LIBRARIES.items():
        versions[name] = None
        for distribution in distributions:
            try:
                versions[name] = metadata.version(distribution)
                break
            except metadata.PackageNotFoundError:
                continue
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


def new_manifest() -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "libraries": library_versions(),
        "platform": {"system": platform.system(), "machine": platform.machine(),
                     "cpus": os.cpu_count()},
    }


def check_format(manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` if this reco reads its format version, else one ``ArtifactError``
    saying what to do (format 2: migrate; older: train again)."""
    version = manifest.get("format_version")
    if version == FORMAT_VERSION:
        return manifest
    if version == MIGRATABLE_VERSION:
        raise ArtifactError(
            f"{MANIFEST}: format 2, an artifact directory from before the artifact store "
            "(no checksums); migrate it: python scripts/artifacts.py migrate OLD_DIR "
            "--into STORE, or train again: python scripts/train.py --artifacts STORE")
    raise ArtifactError(
        f"{MANIFEST}: format version {str(version)[:20]}, this reco reads version "
        f"{FORMAT_VERSION}; build the artifacts again with this reco")


def verify_version(version: str | Path, *, checksums: bool = True) -> dict[str, Any]:
    """:func:`reco.artifacts.store.verify` after the format check, so a directory of an
    older format is told how to migrate rather than that it lacks checksums."""
    check_format(store.read_version_manifest(Path(version))[0])
    return store.verify(version, checksums=checksums)


def read_manifest(artifacts: str | Path, alias: str | None = None) -> dict[str, Any]:
    """The manifest of a store's version ``alias`` (default: ``current``, or
    ``latest-features`` in a store of features only; :func:`reco.artifacts.store.resolve`)
    or of a version directory, its format version checked; its files are not
    (:func:`reco.artifacts.store.verify` does that).

    Raises
    ------
    ArtifactError
        The manifest is missing, unreadable, or of another format version.
    """
    manifest, _ = store.read_version_manifest(store.resolve(artifacts, alias))
    return check_format(manifest)


def migrate(old: str | Path, into: str | Path, *, make_current: bool = True) -> Path:
    """Publish an artifact directory of format 2 (before the store) as a new version of
    the store ``into``; return the version's directory. The old directory is only read.

    Raises
    ------
    ArtifactError
        ``old`` is not a format-2 directory, or holds a symlink or a special file.
    """
    old = Path(old)
    manifest, _ = store.read_version_manifest(old)
    if manifest.get("format_version") != MIGRATABLE_VERSION:
        raise ArtifactError(f"{MANIFEST}: format version "
                            f"{str(manifest.get('format_version'))[:20]!r}; migrate reads "
                            f"format {MIGRATABLE_VERSION} (newer ones are versions already)")
    names = []
    for root, dirs, files in os.walk(old, followlinks=False):
        for name in dirs + files:
            path = Path(root) / name
            relative = path.relative_to(old).as_posix()
            if path.is_symlink() or not (path.is_dir() or path.is_file()):
                raise ArtifactError(f"{relative}: not a regular file; not migrated")
            if path.is_file() and relative != MANIFEST and not name.startswith("."):
                names.append(relative)
    target = store.ArtifactStore(into)
    with target.stage() as staging:
        for relative in names:
            destination = staging.path / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(old / relative, destination, follow_symlinks=False)
        migrated = {**manifest, "format_version": FORMAT_VERSION,
                    "migrated_from_format": MIGRATABLE_VERSION}
        alias = (store.CURRENT if isinstance(manifest.get("model"), dict)
                 else store.FEATURES)
        return staging.publish(migrated, alias if make_current else None)


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


def write_table(staging: str | Path, name: str, frame: pl.DataFrame) -> Path:
    """Write table ``name`` (a key of :data:`TABLE_FILES`) as zstd Parquet into a version
    being staged (:meth:`reco.artifacts.store.ArtifactStore.stage`)."""
    path = Path(staging) / TABLE_FILES[name]
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path, compression="zstd")
    return path


def write_feature_tables(staging: str | Path, tables: FeatureTables) -> None:
    for name in FEATURE_TABLES:
        write_table(staging, name, getattr(tables, name))


def _expected_columns(manifest: dict[str, Any], name: str) -> list[str] | None:
    section = manifest.get("features") if name in FEATURE_TABLES else manifest
    entry = section.get(name) if isinstance(section, dict) else None
    return entry.get("columns") if isinstance(entry, dict) else None


def read_table(version: str | Path, name: str, manifest: dict[str, Any]) -> pl.DataFrame:
    """Read table ``name`` of a version directory whose ``manifest`` the caller has read
    (and verified), checking its columns against the manifest's.

    Raises
    ------
    ArtifactError
        The file is missing or unreadable, or its columns differ from the manifest's.
    """
    return _checked(version, name, manifest, pl.read_parquet)


def table_schema(version: str | Path, name: str, manifest: dict[str, Any]) -> pl.Schema:
    """The schema of table ``name`` from its file's footer (no rows read), its columns
    checked against the manifest's as :func:`read_table` does."""
    return _checked(version, name, manifest, lambda path: pl.Schema(pl.read_parquet_schema(path)))


def _checked(version: str | Path, name: str, manifest: dict[str, Any],
             read: Callable[[Path], T]) -> T:
    relative = TABLE_FILES[name]
    path = Path(version) / relative
    if not path.is_file() or path.is_symlink():
        raise ArtifactError(f"{relative}: missing from the version (table {name!r})")
    try:
        found = read(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise ArtifactError(f"{relative}: unreadable Parquet") from exc
    columns = found.columns if isinstance(found, pl.DataFrame) else list(found)
    expected = _expected_columns(manifest, name)
    if expected is not None and columns != expected:
        raise ArtifactError(f"{relative}: columns {columns} differ from the manifest's "
                            f"{expected}")
    return found


def feature_version(artifacts: str | Path) -> Path:
    """The version whose feature tables ``artifacts`` names: a version directory itself,
    or the store's newest of ``current`` and ``latest-features`` (both hold feature tables)."""
    if not store.is_store(artifacts):
        return store.resolve(artifacts)
    found = []
    for alias in store.ALIASES:
        try:
            found.append(store.resolve(artifacts, alias))
        except ArtifactError as exc:
            last = exc
    if not found:
        raise last
    return max(found, key=lambda path: path.name)


def read_feature_tables(artifacts: str | Path) -> FeatureTables:
    """The feature tables of a store or version (verified first), as built by
    ``scripts/build_features.py`` or ``scripts/train.py``.

    Raises
    ------
    ArtifactError
        No such version, or it fails verification.
    """
    version = feature_version(artifacts)
    manifest = verify_version(version)
    return FeatureTables(**{name: read_table(version, name, manifest) for name in FEATURE_TABLES})
