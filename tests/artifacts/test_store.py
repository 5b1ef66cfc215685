"""reco.artifacts.store: immutable versions, atomic pointers, crash leftovers, symlinks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reco.artifacts import store
from reco.exceptions import ArtifactError

ROOT = Path(__file__).resolve().parents[2]


def publish(root: Path, files: dict[str, bytes], alias: str | None = store.CURRENT,
            keep: int = 3, **manifest: object) -> Path:
    target = store.ArtifactStore(root)
    with target.stage() as staging:
        for name, data in files.items():
            path = staging.path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        return staging.publish({"format_version": 3, **manifest}, alias, keep)


def test_a_published_version_is_named_by_its_manifest_and_made_current(tmp_path):
    version = publish(tmp_path, {"a.bin": b"abc", "sub/b.bin": b"x" * 10}, created_at="now")
    assert version.parent == tmp_path / "versions"
    manifest_bytes = (version / "manifest.json").read_bytes()
    assert version.name.endswith(store.manifest_digest(manifest_bytes)[:16])
    assert (tmp_path / "current").read_text() == version.name + "\n"
    assert store.resolve(tmp_path) == version and store.resolve(version) == version
    manifest = store.verify(version)
    assert manifest["files"]["a.bin"]["size"] == 3
    assert set(manifest["files"]) == {"a.bin", "sub/b.bin"}
    assert not list((tmp_path / ".staging").iterdir())  # nothing left behind


def test_files_are_0644_and_directories_0755_whatever_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        version = publish(tmp_path, {"a.bin": b"1", "sub/b.bin": b"2"})
    finally:
        os.umask(old)
    for path in version.rglob("*"):
        expected = 0o755 if path.is_dir() else 0o644
        assert path.stat().st_mode & 0o777 == expected, path
    assert version.stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "current").stat().st_mode & 0o777 == 0o644


def test_an_npz_is_described_by_its_arrays(tmp_path):
    import numpy as np

    from reco.npz import save_npz

    target = store.ArtifactStore(tmp_path)
    with target.stage() as staging:
        save_npz(staging.path / "m.npz", x=np.zeros((3, 2), np.float32), y=np.arange(4))
        version = staging.publish({"format_version": 3})
    arrays = store.verify(version)["files"]["m.npz"]["arrays"]
    assert arrays == {"x": {"shape": [3, 2], "dtype": "<f4"},
                      "y": {"shape": [4], "dtype": "<i8"}}


def test_keep_prunes_the_oldest_but_never_a_pointed_version(tmp_path):
    first = publish(tmp_path, {"a": b"0"}, created_at="2026-01-01T00:00:00+00:00")
    store.ArtifactStore(tmp_path).set_pointer(first.name, store.FEATURES)
    made = [publish(tmp_path, {"a": str(n).encode()}, keep=2,
                    created_at=f"2026-01-0{n + 2}T00:00:00+00:00") for n in range(3)]
    names = [v.version for v in store.ArtifactStore(tmp_path).versions()]
    # the newest two, plus the first, which latest-features still names
    assert names == [first.name, made[1].name, made[2].name]
    assert store.resolve(tmp_path) == made[2]
    with pytest.raises(ValueError, match="keep"):
        publish(tmp_path, {"a": b"z"}, keep=0)


def test_an_edited_manifest_no_longer_matches_its_id(tmp_path):
    version = publish(tmp_path, {"a": b"data"})
    manifest = json.loads((version / "manifest.json").read_text())
    manifest["note"] = "edited"
    (version / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="manifest.json: its sha256 is not the one"):
        store.verify(version)


@pytest.mark.parametrize("change, match", [
    (lambda v: (v / "a").write_bytes(b"dat"), "a: 3 bytes, the manifest says 4"),
    (lambda v: (v / "a").write_bytes(b"DATA"), "a: sha256 differs"),
    (lambda v: (v / "a").unlink(), "a: missing"),
    (lambda v: (v / "extra").write_bytes(b""), "extra: not listed"),
])
def test_a_changed_file_is_named(tmp_path, change, match):
    version = publish(tmp_path, {"a": b"data"})
    change(version)
    with pytest.raises(ArtifactError, match=match) as caught:
        store.verify(version)
    assert str(tmp_path) not in str(caught.value)


def test_a_file_swapped_for_a_symlink_is_refused_not_followed(tmp_path):
    version = publish(tmp_path, {"a": b"data"})
    outside = tmp_path / "outside"
    outside.write_bytes(b"data")
    (version / "a").unlink()
    (version / "a").symlink_to(outside)
    with pytest.raises(ArtifactError, match="a: is a symlink"):
        store.verify(version)


def test_pointer_problems_are_one_clear_line(tmp_path):
    with pytest.raises(ArtifactError, match="no manifest.json and no artifact store"):
        store.resolve(tmp_path)
    version = publish(tmp_path, {"a": b"1"}, alias=None)
    with pytest.raises(ArtifactError, match="no 'current' version"):
        store.resolve(tmp_path)
    (tmp_path / "current").write_text("../../etc\n")
    with pytest.raises(ArtifactError, match="current: names '../../etc', not a version id"):
        store.resolve(tmp_path)
    (tmp_path / "current").unlink()
    (tmp_path / "current").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ArtifactError, match="current: unreadable pointer"):
        store.resolve(tmp_path)
    # replacing the pointer replaces the symlink itself; its target is never written
    store.ArtifactStore(tmp_path).set_pointer(version.name)
    assert not (tmp_path / "elsewhere").exists()
    assert store.resolve(tmp_path) == version


def test_symlinks_planted_in_the_store_are_never_written_through(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    root = tmp_path / "store"
    root.mkdir()
    (root / "versions").symlink_to(victim)
    with pytest.raises(ArtifactError, match="versions: is a symlink"):
        publish(root, {"a": b"1"})
    (root / "versions").unlink()
    publish(root, {"a": b"1"})
    (root / ".staging" / "planted").symlink_to(victim)  # cleaned as a leftover, not followed
    publish(root, {"a": b"2"})
    assert victim.is_dir() and not list(victim.iterdir())
    assert not os.path.lexists(root / ".staging" / "planted")


def test_nothing_is_published_when_writing_fails(tmp_path):
    target = store.ArtifactStore(tmp_path)
    with pytest.raises(RuntimeError), target.stage() as staging:
        (staging.path / "a").write_bytes(b"half")
        raise RuntimeError("the writer failed")
    assert not list((tmp_path / "versions").iterdir())
    assert not os.path.lexists(tmp_path / "current")
    assert not list((tmp_path / ".staging").iterdir())


_WRITER = textwrap.dedent("""
    import sys, time
    from reco.artifacts import store
    with store.ArtifactStore(sys.argv[1]).stage() as staging:
        (staging.path / "half").write_bytes(b"x")
        print(staging.path.name, flush=True)
        time.sleep(60)
""")


def _writer(root: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-c", _WRITER, str(root)], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def test_a_killed_writer_leaves_the_current_version_and_its_leftovers_are_cleaned(tmp_path):
    old = publish(tmp_path, {"a": b"old"})
    process, token = _writer(tmp_path)
    try:
        assert (tmp_path / ".staging" / token).is_dir()
        # a live writer's staging directory is left alone by other writers
        assert store.ArtifactStore(tmp_path).clean_staging() == []
        process.kill()  # kill -9: no cleanup runs in the writer
        process.wait(timeout=10)
    finally:
        process.kill()
    assert store.resolve(tmp_path) == old and store.verify(old)
    assert (tmp_path / ".staging" / token).is_dir()  # left behind, never served
    new = publish(tmp_path, {"a": b"new"})
    assert not os.path.lexists(tmp_path / ".staging" / token)
    assert store.resolve(tmp_path) == new


def test_two_writers_publish_two_versions(tmp_path):
    a = store.ArtifactStore(tmp_path)
    with a.stage() as first, a.stage() as second:
        (first.path / "f").write_bytes(b"1")
        (second.path / "f").write_bytes(b"2")
        one = first.publish({"format_version": 3, "created_at": "2026-01-01T00:00:00"})
        two = second.publish({"format_version": 3, "created_at": "2026-01-01T00:00:00"})
    assert one != two and store.verify(one) and store.verify(two)
    assert store.resolve(tmp_path) == two


def test_pointer_replacement_is_one_rename(tmp_path, monkeypatch):
    old = publish(tmp_path, {"a": b"1"})
    new = publish(tmp_path, {"a": b"2"}, alias=None)
    calls: list[tuple[str, str]] = []
    real = os.replace

    def spy(src: str | Path, dst: str | Path) -> None:
        calls.append((Path(src).name, Path(dst).name))
        assert (tmp_path / "current").read_text().strip() == old.name  # unchanged so far
        real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    store.ArtifactStore(tmp_path).set_pointer(new.name)
    assert len(calls) == 1 and calls[0][1] == "current"
    assert store.resolve(tmp_path) == new


def test_resolve_falls_back_to_features_in_a_features_only_store(tmp_path):
    features = publish(tmp_path, {"a": b"1"}, alias=store.FEATURES)
    assert store.resolve(tmp_path) == features
    with pytest.raises(ArtifactError, match="holds features only"):
        store.resolve(tmp_path, store.CURRENT)


def test_a_pointer_temp_file_left_by_a_kill_is_removed_once_stale(tmp_path):
    publish(tmp_path, {"a": b"1"})
    stale, fresh = tmp_path / ".current.dead1234", tmp_path / ".current.live5678"
    stale.write_text("x")
    fresh.write_text("y")  # a live writer's, about to be renamed: left alone
    os.utime(stale, (0, 0))
    publish(tmp_path, {"a": b"2"})
    assert not stale.exists() and fresh.exists()


@pytest.mark.parametrize("kind", ["file", "symlink"])
def test_an_output_path_that_cannot_be_a_store_is_said_before_any_work(tmp_path, kind,
                                                                        monkeypatch):
    from reco.pipelines import features as feature_pipeline
    from reco.pipelines import train as training

    target = tmp_path / "artifacts"
    if kind == "file":
        target.write_text("not a store")
    else:
        (tmp_path / "elsewhere").mkdir()
        target.symlink_to(tmp_path / "elsewhere")

    def no_work(*args, **kwargs):
        raise AssertionError("data loaded before the output path was checked")

    monkeypatch.setattr(training, "load_data", no_work)
    monkeypatch.setattr(feature_pipeline, "load_data", no_work)
    for run in (training.train, feature_pipeline.build_features):
        with pytest.raises(ArtifactError, match="not a directory"):
            run(None, target)
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ArtifactError, match="cannot be created"):
        store.ArtifactStore(tmp_path / "a-file" / "store").check_writable()
    assert not (tmp_path / "nested").exists()
    store.ArtifactStore(tmp_path / "nested" / "store").check_writable()  # creates nothing
    assert not (tmp_path / "nested").exists()


def test_a_store_without_write_permission_is_said_at_once(tmp_path):
    import os

    if os.geteuid() == 0:
        pytest.skip("root writes through permissions")
    target = tmp_path / "artifacts"
    store.ArtifactStore(target).prepare()
    (target / ".staging").chmod(0o500)
    try:
        with pytest.raises(ArtifactError, match="cannot be written"):
            store.ArtifactStore(target).check_writable()
    finally:
        (target / ".staging").chmod(0o700)
