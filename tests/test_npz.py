"""Memory-mapped .npz artifacts: aligned writing, zero-copy reading, the same arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reco.exceptions import ArtifactError
from reco.npz import ALIGN, load_npz, save_npz

ARRAYS = {
    "floats": np.arange(37, dtype=np.float32) / 3,
    "fortran": np.asfortranarray(np.arange(12, dtype=np.float64).reshape(3, 4)),
    "meta": np.array('{"format": 1}'),
    "names": np.array(["a", "bcd"]),
    "empty": np.empty((0, 4), dtype=np.int32),
    "ids": np.arange(5, dtype=np.int64) * 7,
}


def _same(loaded: dict[str, np.ndarray]) -> None:
    assert set(loaded) == set(ARRAYS)
    for name, expected in ARRAYS.items():
        np.testing.assert_array_equal(loaded[name], expected)
        assert loaded[name].dtype == expected.dtype and loaded[name].shape == expected.shape


def test_round_trip_is_mapped_aligned_and_read_only(tmp_path: Path) -> None:
    path = save_npz(tmp_path / "a.npz", **ARRAYS)
    loaded = load_npz(path)
    _same(loaded)
    for name, array in loaded.items():
        if array.size:
            assert array.ctypes.data % ALIGN == 0, name
            assert not array.flags.writeable, name  # a view of the file, not a copy
    assert loaded["fortran"].flags.f_contiguous


def test_numpy_reads_what_save_npz_writes(tmp_path: Path) -> None:
    path = save_npz(tmp_path / "a.npz", **ARRAYS)
    with np.load(path, allow_pickle=False) as npz:
        _same({name: npz[name] for name in npz.files})


@pytest.mark.parametrize("writer", [np.savez, np.savez_compressed])
def test_files_from_numpy_load_as_copies(tmp_path: Path, writer) -> None:
    path = tmp_path / "n.npz"
    writer(path, **ARRAYS)
    _same(load_npz(path))


def test_object_arrays_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "o.npz"
    np.savez(path, ok=np.arange(3), bad=np.array([{"x": 1}], dtype=object))
    with pytest.raises(ArtifactError, match=r"o\.npz.*'bad\.npy'.*object array"):
        load_npz(path)


def test_bad_files_name_the_path(tmp_path: Path) -> None:
    path = save_npz(tmp_path / "t.npz", big=np.arange(1000, dtype=np.float64))
    (tmp_path / "cut.npz").write_bytes(path.read_bytes()[:-3000])
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    for name in ("cut.npz", "junk.npz", "absent.npz"):
        with pytest.raises(ArtifactError, match=name):
            load_npz(tmp_path / name)
