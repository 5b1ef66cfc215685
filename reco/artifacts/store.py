"""The artifact store: immutable, content-addressed versions and atomic pointers.

Layout::

    STORE/
      current                 the served version's id (a pointer file, replaced by rename)
      latest-features         the last features-only version (scripts/build_features.py)
      versions/<id>/          one complete version each; never modified once published
      .staging/<token>/       versions being written: never read, and removed by the next
                              writer once their own writer is gone (a crash's leftovers)

A version id is ``<created-at>-<first 16 hex digits of the sha256 of its manifest.json>``
(``20261201T093000Z-3f2a...``), and the manifest lists every other file with its size
and sha256 and every ``.npz`` member with its shape and dtype. So the directory's name
vouches for its manifest, and the manifest for every byte: :func:`verify` checks the
whole chain before anything is loaded, and a version edited after publishing, or a
file swapped, truncated or added, is refused with one :class:`ArtifactError` naming the
file.

Publishing (:meth:`Staging.publish`; the careful reads and writes are :mod:`._files`):
every file is written into a private directory made
by ``mkdtemp`` (so nothing can be planted in it beforehand, and nothing is written
through a symlink), made 0644 (directories 0755, whatever the umask), fsynced; the
manifest is written last; the directory is renamed into ``versions/`` (one atomic step),
and then the pointer file is replaced by rename (the second). A crash at any point
leaves the previous version current and intact: the store never writes into a
published version, nor into a file a server may have memory-mapped.

Readers take either a store or one version directory (:func:`resolve`). Error messages
name files relative to the version, never by absolute path: they reach API responses.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from reco.artifacts._files import (
    DIR_MODE,
    FILE_MODE,
    fsync_dir,
    hash_file,
    mkdir_real,
    open_no_follow,
    read_small,
    real_directory,
    write_file_atomic,
)
from reco.exceptions import ArtifactError
from reco.npz import describe_npz

log = logging.getLogger(__name__)

VERSIONS, STAGING = "versions", ".staging"
MANIFEST = "manifest.json"
#: The pointer files: ``current`` (the model serving answers from) and ``latest-features``
#: (what scripts/build_features.py wrote last).
CURRENT, FEATURES = "current", "latest-features"
ALIASES = (CURRENT, FEATURES)
DEFAULT_KEEP = 3
#: A version id: a UTC time stamp and the start of its manifest's sha256.
VERSION_ID = re.compile(r"^(\d{8}T\d{6}Z)-([0-9a-f]{16})(?:-\d+)?$")
_HASH_CHARS = 16
_MAX_MANIFEST_BYTES = 16 << 20  # a real one is a few kB; a larger one is not ours
_MAX_POINTER_BYTES = 4096
_LOCK = ".lock"
#: A pointer's temp file lives for microseconds; one this old is a dead writer's.
_POINTER_TEMP_SECONDS = 60.0


def _held(lock_path: Path) -> bool:
    """Whether a live process holds the flock on ``lock_path`` (False when it is missing)."""
    try:
        fd = os.open(lock_path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


# ---------------------------------------------------------------- verification
def manifest_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _version_files(directory: Path) -> dict[str, os.stat_result]:
    """Every entry below ``directory`` by relative name (lstat: symlinks are not followed)."""
    found: dict[str, os.stat_result] = {}
    for root, dirs, files in os.walk(directory, followlinks=False):
        for name in dirs + files:
            path = Path(root) / name
            found[path.relative_to(directory).as_posix()] = os.lstat(path)
    return found


def describe_files(directory: Path) -> dict[str, dict[str, Any]]:
    """The manifest's ``files`` section for a version being published: every regular file
    but the manifest, with size, sha256 and, for ``.npz`` files, each member's shape and
    dtype. Symlinks, devices and the like are refused: a version holds files only."""
    out: dict[str, dict[str, Any]] = {}
    for name, info in sorted(_version_files(directory).items()):
        if stat.S_ISDIR(info.st_mode) or name == MANIFEST:
            continue
        if not stat.S_ISREG(info.st_mode):
            raise ArtifactError(f"{name}: not a regular file; a version holds files only")
        size, sha = hash_file(directory / name)
        entry: dict[str, Any] = {"size": size, "sha256": sha}
        if name.endswith(".npz"):
            entry["arrays"] = describe_npz(directory / name)
        out[name] = entry
    return out


def _parse_manifest(data: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ArtifactError(f"{MANIFEST}: not a JSON manifest") from None
    if not isinstance(manifest, dict):
        raise ArtifactError(f"{MANIFEST}: not a JSON object")
    return manifest


def read_version_manifest(directory: Path) -> tuple[dict[str, Any], bytes]:
    """The manifest of a version directory and its bytes; ``ArtifactError`` when it is
    missing, a symlink, oversized or not a JSON object."""
    if os.path.lexists(directory):
        real_directory(directory, "the version directory")
    path = directory / MANIFEST
    try:
        data = read_small(path, _MAX_MANIFEST_BYTES)
    except FileNotFoundError:
        raise ArtifactError(f"no {MANIFEST} in the artifact directory; build the artifacts "
                            "first (scripts/build_features.py or scripts/train.py)") from None
    except OSError as exc:
        reason = "is a symlink" if exc.errno == errno.ELOOP else "unreadable"
        raise ArtifactError(f"{MANIFEST}: {reason}") from None
    except ValueError:
        raise ArtifactError(f"{MANIFEST}: larger than any manifest reco writes") from None
    return _parse_manifest(data), data


def _check_entry(name: Any, entry: Any) -> None:
    if not isinstance(name, str) or not name or name.startswith("/"):
        raise ArtifactError(f"{MANIFEST}: files lists an empty or absolute name")
    if "\\" in name or any(part in ("", ".", "..") for part in name.split("/")):
        # (only names without a path's root get repeated: a message may reach a client)
        raise ArtifactError(f"{MANIFEST}: files lists a bad name {name[:80]!r}")
    if (not isinstance(entry, dict) or not isinstance(entry.get("size"), int)
            or not isinstance(entry.get("sha256"), str)):
        raise ArtifactError(f"{MANIFEST}: files[{name!r}] lacks its size or sha256")


def verify_files(directory: Path, manifest: dict[str, Any], *, checksums: bool = True) -> None:
    """Every file the manifest lists is there, a regular file of its size and sha256, and
    its arrays have their shapes and dtypes; nothing else is there.

    ``checksums=False`` leaves out the sha256 pass (every other check stays): for a server
    worker whose parent verified the same version moments before (scripts/serve.py).
    """
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise ArtifactError(f"{MANIFEST}: no files section (size and sha256 of every file)")
    for name, entry in files.items():
        _check_entry(name, entry)
    present = _version_files(directory)
    for name, info in sorted(present.items()):
        if stat.S_ISDIR(info.st_mode) or name == MANIFEST:
            continue
        if name not in files:
            raise ArtifactError(f"{name}: not listed in the manifest; a published version "
                                "is never changed")
    for name, entry in files.items():
        found = present.get(name)
        if found is None:
            raise ArtifactError(f"{name}: missing from the version")
        if not stat.S_ISREG(found.st_mode):
            kind = "a symlink" if stat.S_ISLNK(found.st_mode) else "not a regular file"
            raise ArtifactError(f"{name}: is {kind}; the store never follows one")
        if found.st_size != entry["size"]:
            raise ArtifactError(f"{name}: {found.st_size} bytes, the manifest says "
                                f"{entry['size']} (truncated or replaced)")
    if checksums:
        # hashlib releases the GIL on large buffers: the files hash in parallel (a 1 GB
        # version in about half the time on 2 cores)
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            digests = pool.map(_digest, [directory / name for name in files])
            for (name, entry), sha in zip(files.items(), digests):
                if sha is None:
                    raise ArtifactError(f"{name}: unreadable")
                if sha != entry["sha256"]:
                    raise ArtifactError(f"{name}: sha256 differs from the manifest's (the "
                                        "file changed after it was published)")
    for name, entry in files.items():
        if "arrays" in entry:
            arrays = describe_npz(directory / name)
            if arrays != entry["arrays"]:
                raise ArtifactError(f"{name}: arrays {_shapes(arrays)} differ from the "
                                    f"manifest's {_shapes(entry['arrays'])}")


def _digest(path: Path) -> str | None:
    try:
        return hash_file(path)[1]
    except OSError:
        return None


def _shapes(arrays: Any) -> str:
    if not isinstance(arrays, dict):
        return "?"
    return ", ".join(f"{k} {tuple(v.get('shape', ()))}" if isinstance(v, dict) else str(k)
                     for k, v in list(arrays.items())[:8])


def verify(directory: str | Path, *, checksums: bool = True) -> dict[str, Any]:
    """Check a published version end to end and return its manifest.

    The directory name's hash is the manifest's, the manifest lists every file, and each
    file has its recorded size, sha256 and array shapes. A version directory whose name
    is not a version id (one copied by hand) is checked from the manifest down.
    ``checksums=False``: all but the sha256 of each file (:func:`verify_files`).

    Raises
    ------
    ArtifactError
        Naming the file and what is wrong with it.
    """
    directory = Path(directory)
    real_directory(directory, "the version directory")
    manifest, data = read_version_manifest(directory)
    match = VERSION_ID.match(directory.name)
    if match and not manifest_digest(data).startswith(match.group(2)):
        raise ArtifactError(f"{MANIFEST}: its sha256 is not the one in the version id "
                            f"{directory.name} (edited after publishing)")
    verify_files(directory, manifest, checksums=checksums)
    return manifest


# ---------------------------------------------------------------- the store
def is_store(path: str | Path) -> bool:
    """Whether ``path`` is a store (has ``versions/`` or a pointer) rather than one version."""
    path = Path(path)
    if os.path.lexists(path / MANIFEST):  # a version (perhaps of the old layout)
        return (path / VERSIONS).is_dir()
    return (path / VERSIONS).is_dir() or any(os.path.lexists(path / a) for a in ALIASES)


def resolve(path: str | Path, alias: str | None = None) -> Path:
    """The version directory ``path`` names: ``path`` itself when it holds a manifest, else
    the version the store's pointer ``alias`` names (None: ``current``, or, in a store of
    features only, ``latest-features``).

    Raises
    ------
    ArtifactError
        Neither a version nor a store with that pointer.
    """
    path = Path(path)
    if os.path.lexists(path / MANIFEST) and not is_store(path):
        return path
    target = ArtifactStore(path)
    if alias is None:
        alias = (FEATURES if not os.path.lexists(path / CURRENT)
                 and os.path.lexists(path / FEATURES) else CURRENT)
    return target.version_path(target.pointer(alias))


@dataclass(frozen=True)
class VersionInfo:
    """One published version: its id, when it was made and its directory."""

    version: str
    created_at: str
    path: Path


class ArtifactStore:
    """A directory of immutable versions and the pointers that name the current ones."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def versions_dir(self) -> Path:
        return self.root / VERSIONS

    def version_path(self, version: str) -> Path:
        if not VERSION_ID.match(version):
            raise ArtifactError(f"{version[:80]!r} is not a version id")
        return self.versions_dir / version

    # ---------------------------------------------------------- reading
    def pointer(self, alias: str = CURRENT) -> str:
        """The version id the pointer file ``alias`` names.

        Raises
        ------
        ArtifactError
            No such pointer (no version published yet), or it is not a version id.
        """
        path = self.root / alias
        try:
            text = read_small(path, _MAX_POINTER_BYTES).decode("ascii").strip()
        except FileNotFoundError:
            if not is_store(self.root):
                raise ArtifactError("no manifest.json and no artifact store at the given "
                                    "path; build the artifacts first (scripts/train.py "
                                    "--artifacts DIR)") from None
            hint = ("the store holds features only (scripts/build_features.py); fit the "
                    "models with scripts/train.py" if alias == CURRENT
                    and os.path.lexists(self.root / FEATURES) else
                    "build the artifacts first (scripts/train.py --artifacts DIR)")
            raise ArtifactError(f"no {alias!r} version in the artifact store; {hint}") from None
        except (OSError, ValueError, UnicodeDecodeError):
            raise ArtifactError(f"{alias}: unreadable pointer (not a small text file)") from None
        if not VERSION_ID.match(text):
            raise ArtifactError(f"{alias}: names {text[:80]!r}, not a version id")
        return text

    def versions(self) -> list[VersionInfo]:
        """Published versions, oldest first (ids start with their creation time)."""
        if not self.versions_dir.is_dir():
            return []
        out = []
        for entry in sorted(os.listdir(self.versions_dir)):
            match = VERSION_ID.match(entry)
            if match:
                stamp = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ")
                out.append(VersionInfo(entry, stamp.replace(tzinfo=timezone.utc).isoformat(),
                                       self.versions_dir / entry))
        return out

    # ---------------------------------------------------------- writing
    def check_writable(self) -> None:
        """Say now, creating nothing, when the store cannot be written: a file or a symlink
        where the store should be, or a directory without write permission. Training
        calls it before any work, so a bad output path is not found after the fit."""
        if self.root.is_symlink() or (self.root.exists() and not self.root.is_dir()):
            raise ArtifactError(f"{self.root} exists and is not a directory; --artifacts "
                                "names the artifact store's directory")
        existing = self.root
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise ArtifactError(f"the artifact store {self.root} cannot be created: "
                                f"{existing} is not a directory")
        staging = self.root / STAGING
        probe = staging if staging.is_dir() else existing
        if not os.access(probe, os.W_OK | os.X_OK):
            raise ArtifactError(f"the artifact store {self.root} cannot be written "
                                f"(no write permission on {probe})")

    def prepare(self) -> None:
        """Create the store's directories, or check the ones there (:meth:`stage`)."""
        self.check_writable()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            real_directory(self.root, "the artifact store")
            mkdir_real(self.root / STAGING, STAGING)
            mkdir_real(self.versions_dir, VERSIONS)
        except OSError as exc:
            raise ArtifactError(f"the artifact store {self.root} cannot be written "
                                f"({exc.strerror or exc})") from None

    @contextlib.contextmanager
    def stage(self) -> Iterator[Staging]:
        """A private directory to write a new version into; removed unless published.

        Leftovers of writers that died (``kill -9``) are removed first: each staging
        directory is locked by its writer, and a lock nobody holds is a dead writer's.
        """
        self.prepare()
        try:
            self.clean_staging()
        except OSError as exc:
            raise ArtifactError(f"the artifact store cannot be written ({exc.strerror})") \
                from None
        # the lock comes first, so a directory without a held lock is always a dead
        # writer's; flock is released by the kernel when its process dies (kill -9)
        token = f"v-{os.getpid()}-{secrets.token_hex(6)}"
        lock_path = self.root / STAGING / f"{token}{_LOCK}"
        lock = os.open(lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = self.root / STAGING / token
        path.mkdir(mode=0o700)
        staging = Staging(self, path)
        try:
            yield staging
        finally:
            if not staging.published:
                shutil.rmtree(path, ignore_errors=True)
            lock_path.unlink(missing_ok=True)
            os.close(lock)

    def clean_staging(self) -> list[str]:
        """Remove what writers that died left in ``.staging/``; the names removed."""
        staging = self.root / STAGING
        if staging.is_symlink() or not staging.is_dir():
            return []
        removed = []
        for entry in sorted(os.listdir(staging)):
            if entry.endswith(_LOCK):
                continue
            if _held(staging / f"{entry}{_LOCK}"):
                continue  # a live writer
            path = staging / entry
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            (staging / f"{entry}{_LOCK}").unlink(missing_ok=True)
            removed.append(entry)
        for alias in ALIASES:  # a pointer's temp file, from a writer killed before its rename
            for leftover in self.root.glob(f".{alias}.*"):
                with contextlib.suppress(OSError):
                    if time.time() - leftover.lstat().st_mtime > _POINTER_TEMP_SECONDS:
                        leftover.unlink()
                        removed.append(leftover.name)
        for entry in os.listdir(staging):  # locks whose writer died before its mkdir
            if entry.endswith(_LOCK) and not os.path.lexists(staging / entry[:-len(_LOCK)]) \
                    and not _held(staging / entry):
                (staging / entry).unlink(missing_ok=True)
        if removed:
            log.info("removed %d incomplete version(s) left by interrupted runs", len(removed))
        return removed

    def set_pointer(self, version: str, alias: str = CURRENT) -> None:
        """Make ``alias`` name ``version`` (which must be published) by one rename."""
        if alias not in ALIASES:
            raise ArtifactError(f"unknown pointer {alias!r}; known: {list(ALIASES)}")
        real_directory(self.version_path(version), f"version {version}")
        write_file_atomic(self.root / alias, (version + "\n").encode("ascii"))

    def prune(self, keep: int) -> list[str]:
        """Delete the oldest versions beyond the newest ``keep``, never one a pointer names;
        the ids deleted. (A server still mapping a deleted file keeps its pages: files are
        unlinked, never truncated.)"""
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        named = set()
        for alias in ALIASES:
            with contextlib.suppress(ArtifactError):
                named.add(self.pointer(alias))
        versions = [v.version for v in self.versions()]
        doomed = [v for v in versions[:-keep] if v not in named]
        for version in doomed:
            path = self.version_path(version)
            if path.is_symlink() or not path.is_dir():
                continue
            # renamed out of versions/ first, so no reader ever sees half a version
            trash = Path(tempfile.mkdtemp(dir=self.root / STAGING, prefix="old-"))
            os.replace(path, trash / version)
            shutil.rmtree(trash, ignore_errors=True)
        if doomed:
            log.info("removed %d old version(s): %s", len(doomed), ", ".join(doomed))
        return doomed


class Staging:
    """A version being written: write files under :attr:`path`, then :meth:`publish`."""

    def __init__(self, store: ArtifactStore, path: Path) -> None:
        self.store, self.path, self.published = store, path, False
        self.version: str | None = None

    def publish(self, manifest: dict[str, Any], alias: str | None = CURRENT,
                keep: int = DEFAULT_KEEP) -> Path:
        """Seal the files written so far under ``manifest`` (adding its ``files`` section),
        move the version into the store and point ``alias`` at it (None: no pointer moves);
        return its directory."""
        if keep < 1:
            raise ValueError(f"keep must be at least 1, got {keep}")
        manifest = dict(manifest)
        manifest["files"] = describe_files(self.path)
        for name in manifest["files"]:
            os.chmod(self.path / name, FILE_MODE, follow_symlinks=False)
        for root, dirs, _ in os.walk(self.path):
            for name in dirs:
                os.chmod(Path(root) / name, DIR_MODE)
        data = (json.dumps(manifest, indent=2, default=str) + "\n").encode("utf-8")
        write_file_atomic(self.path / MANIFEST, data)
        for name in manifest["files"]:  # every byte on disk before the version exists
            fd = open_no_follow(self.path / name)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        for root, _, _ in os.walk(self.path):
            fsync_dir(Path(root))
        os.chmod(self.path, DIR_MODE)
        created = _stamp(manifest.get("created_at"))
        base = f"{created}-{manifest_digest(data)[:_HASH_CHARS]}"
        version, n = base, 1
        while os.path.lexists(self.store.version_path(version)):  # same bytes, same second
            version, n = f"{base}-{n}", n + 1
        target = self.store.version_path(version)
        os.rename(self.path, target)  # the version appears whole, or not at all
        self.published, self.version = True, version
        fsync_dir(self.store.versions_dir)
        if alias is not None:
            self.store.set_pointer(version, alias)
        log.info("published version %s%s", version, f" as {alias}" if alias else "")
        self.store.prune(keep)
        return target


def _stamp(created_at: Any) -> str:
    try:
        moment = datetime.fromisoformat(str(created_at))
    except ValueError:
        moment = datetime.now(timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
