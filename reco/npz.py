"""``.npz`` artifacts that load without copying: each array maps the file's bytes.

``np.load`` on an ``.npz`` reads every member through :mod:`zipfile` (a CRC pass and two
copies). Members stored uncompressed lie whole at a fixed offset in the file, so
:func:`load_npz` maps them read-only instead: nothing is read at load, pages come in
when first touched, and a server's workers share one copy in the page cache instead of
holding one each. :func:`save_npz` writes an ordinary ``.npz`` (``np.load`` reads it)
whose array data start on 64-byte boundaries, so the mapped arrays are aligned exactly
as freshly allocated ones and compute bit for bit the same. A member that is compressed
or not aligned (an ``.npz`` from ``np.savez``) is copied out instead.

Each member's header is parsed by NumPy's own ``.npy`` reader and object arrays are
refused, as ``np.load(..., allow_pickle=False)`` would.
"""

from __future__ import annotations

import mmap
import struct
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.lib import format as npy_format

from reco.exceptions import ArtifactError

_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature ... name length, extra length
_LOCAL_SIGNATURE = b"PK\x03\x04"
_HEADER_READERS = {(1, 0): npy_format.read_array_header_1_0,
                   (2, 0): npy_format.read_array_header_2_0}


ALIGN = 64  # bytes; what NumPy pads .npy headers to, and more than any SIMD load needs
_PADDING_ID = 0x7066  # an extra-field id no zip tool assigns: "fp", filler


def save_npz(path: str | Path, **arrays: np.ndarray) -> Path:
    """Write ``arrays`` as an uncompressed ``.npz`` with 64-byte aligned array data."""
    path = Path(path)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, value in arrays.items():
            value = np.asanyarray(value)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            # local header: 30 bytes, the name, our extra field, then zip64's 20 bytes
            start = archive.fp.tell() + 30 + len(info.filename.encode()) + 20  # type: ignore[union-attr]
            pad = -start % ALIGN
            if pad:
                pad += ALIGN if pad < 4 else 0  # an extra record is at least 4 bytes
                info.extra = struct.pack("<HH", _PADDING_ID, pad - 4) + bytes(pad - 4)
            with archive.open(info, "w", force_zip64=True) as member:
                npy_format.write_array(member, value, allow_pickle=False)
    return path


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path``, by name (without ``.npy``), read-only.

    Raises :class:`~reco.exceptions.ArtifactError` naming the file and the member when the
    file is not a valid ``.npz`` or holds an object array (pickled data is never loaded).
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
        with path.open("rb") as handle:
            whole = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) \
                if path.stat().st_size else None
            arrays = {}
            for info in members:
                name = info.filename.removesuffix(".npy")
                if info.compress_type != zipfile.ZIP_STORED or whole is None:
                    arrays[name] = _load_member(path, name)
                else:
                    arrays[name] = _map_member(path, handle, whole, info)
    except (OSError, zipfile.BadZipFile, ValueError, EOFError, struct.error) as exc:
        # the library's words stay in the chain (and the log), not in the message, which may
        # reach an API response
        raise ArtifactError(f"{path}: not a readable .npz file") from exc
    return arrays


def describe_npz(path: str | Path) -> dict[str, dict[str, object]]:
    """Each member's shape and dtype (``{"m": {"shape": [3, 2], "dtype": "<f4"}}``), from
    the headers alone: what the manifest records and verification compares."""
    path = Path(path)
    out: dict[str, dict[str, object]] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    version = npy_format.read_magic(member)
                    read_header = _HEADER_READERS.get(version)
                    if read_header is None:
                        raise ValueError(f"unknown .npy version {version}")
                    shape, _, dtype = read_header(member)
                out[info.filename.removesuffix(".npy")] = {"shape": list(shape),
                                                          "dtype": dtype.str}
    except (OSError, zipfile.BadZipFile, ValueError, EOFError, struct.error) as exc:
        raise ArtifactError(f"{path}: not a readable .npz file") from exc
    return out


def _map_member(
    path: Path, handle: BinaryIO, whole: mmap.mmap, info: zipfile.ZipInfo
) -> np.ndarray:
    handle.seek(info.header_offset)
    signature, name_length, extra_length = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
    if signature != _LOCAL_SIGNATURE:
        raise ArtifactError(f"{path}: member {info.filename!r} has no local header")
    handle.seek(info.header_offset + _LOCAL_HEADER.size + name_length + extra_length)
    read_header = _HEADER_READERS.get(npy_format.read_magic(handle))
    if read_header is None:  # a .npy version this reader does not map: let NumPy read it
        return _load_member(path, info.filename.removesuffix(".npy"))
    shape, fortran_order, dtype = read_header(handle)
    if dtype.hasobject:
        raise ArtifactError(f"{path}: member {info.filename!r} is an object array; "
                            "reco never loads pickled data")
    offset = handle.tell()
    count = int(np.prod(shape, dtype=np.int64))
    if offset + count * dtype.itemsize > len(whole):
        raise ArtifactError(f"{path}: member {info.filename!r} is truncated")
    array = np.frombuffer(whole, dtype=dtype, count=count, offset=offset)
    if offset % ALIGN:  # written by np.savez: a copy computes like a fresh array
        array = array.copy()
    return array.reshape(shape, order="F" if fortran_order else "C")


def _load_member(path: Path, name: str) -> np.ndarray:
    with np.load(path, allow_pickle=False) as npz:
        return npz[name]
