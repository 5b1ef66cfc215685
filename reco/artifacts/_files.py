"""Careful file I/O for the artifact store: never through a symlink, never half a file.

Reads open with ``O_NOFOLLOW | O_NONBLOCK`` and refuse anything but a regular file (a FIFO
planted in place of a manifest must not hang a server); writes go to a temporary file
that is fsynced, made 0644 and renamed over its target (which, if a symlink, is replaced,
never followed).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import tempfile
from pathlib import Path

from reco.exceptions import ArtifactError

FILE_MODE, DIR_MODE = 0o644, 0o755
_CHUNK = 1 << 22


def open_no_follow(path: Path) -> int:
    """Open ``path`` for reading, refusing a symlink (``O_NOFOLLOW``) and anything but a
    regular file."""
    # O_NONBLOCK: a FIFO planted in place of a file must not block the open until a writer
    # comes (it has no effect on reading a regular file)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file")
    os.set_blocking(fd, True)
    return fd


def read_small(path: Path, limit: int) -> bytes:
    """The bytes of a small regular file (no symlink), at most ``limit`` of them."""
    fd = open_no_follow(path)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit} bytes")
    return data


def hash_file(path: Path) -> tuple[int, str]:
    """Size and sha256 (hex) of a regular file, never through a symlink."""
    digest = hashlib.sha256()
    size = 0
    with os.fdopen(open_no_follow(path), "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a new temporary file beside ``path``, fsync it, make it 0644 and
    rename it over ``path`` (which, if a symlink, is replaced, never followed)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fchmod(out.fileno(), FILE_MODE)
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def real_directory(path: Path, what: str) -> None:
    """``path`` exists as a directory and is not a symlink."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise ArtifactError(f"{what}: missing") from None
    if stat.S_ISLNK(mode):
        raise ArtifactError(f"{what}: is a symlink; the store never follows one")
    if not stat.S_ISDIR(mode):
        raise ArtifactError(f"{what}: not a directory")


def mkdir_real(path: Path, what: str) -> None:
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=DIR_MODE)
    real_directory(path, what)
