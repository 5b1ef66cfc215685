"""The corruption corpus (issue 13, "verified before served"): every kind of broken version
we can think of, made from one small trained version, must be refused by ``load_model``
with one clean ``ArtifactError`` naming the file, and must leave the API up and answering
503 (or, for a broken pointer beside an intact version, serving that version).

Each kind is one row of :data:`CORPUS`: an id and a function that breaks a fresh copy of
the store. Most edits are refused by the checksums; the ``resealed-*`` ones are re-sealed
after the edit (new checksums, new id), so only the content checks behind the checksums
can catch them.

Pointer kinds beside an intact version are ``fallback``: the server serves that version
(reco.serving.reload's newest-that-verifies rule), so /health is 200 there, not 503.

Left out, as no check can tell them from a real model: re-sealed edits that keep every
array finite and of its shape (shifted catalog titles, permuted factor rows, a booster
with other split values, ``use_content`` turned off in the manifest's config).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from api import create_app
from reco.artifacts import store
from reco.artifacts._files import hash_file
from reco.artifacts.model_dir import load_model, save_model
from reco.data.synthetic import SyntheticConfig, generate
from reco.exceptions import ArtifactError
from reco.npz import save_npz
from reco.ranking.hybrid import HybridRecommender
from tests.artifact_tools import current, manifest_of, reseal
from tests.ranking.test_hybrid import SMALL

MANIFEST = store.MANIFEST
VERSION_FILES = ("manifest.json", "cf.npz", "rating.npz", "popular.npz", "content.npz",
                 "context.npz", "store.npz", "titles.npz", "ranker.json", "like_model.json",
                 "catalog.parquet",
                 "features/users.parquet", "features/movies.parquet",
                 "features/user_genres.parquet")
#: An absolute path, a memory address, a traceback: what no message or body may carry.
LEAKS = re.compile(r"Traceback|File \"|(?:^|[\s(\"'=:\[])/[\w.-]+|0x[0-9a-fA-F]+")
#: What XGBoost's own error text looks like (its C++ sources and checks).
NATIVE = re.compile(r"XGBoost|xgboost|dmlc|Check failed|Stack trace|\.cc:\d+")


@dataclass
class Broken:
    """A fresh copy of the store being broken: its root and current version."""

    store: Path
    version: Path
    scratch: Path  # outside the store: where symlinks point and versions are moved to

    def file(self, name: str) -> Path:
        return self.version / name


@dataclass(frozen=True)
class Kind:
    """One kind of broken artifact.

    ``names``: what the message must name (one of them). ``fallback``: the version itself
    is intact, so a server serves it (the holder's newest-that-verifies rule) instead of
    answering 503.
    """

    id: str
    mutate: Callable[[Broken], None]
    names: tuple[str, ...]
    fallback: bool = False


# ---------------------------------------------------------------- editing helpers
def _write_manifest_bytes(broken: Broken, data: bytes) -> None:
    """Write a manifest and rename the version to the id its bytes give, so the edit
    reaches the checks behind the id (the files are not re-sealed: unlike ``reseal``)."""
    version = broken.version
    (version / MANIFEST).write_bytes(data)
    match = store.VERSION_ID.match(version.name)
    assert match is not None
    target = version.with_name(f"{match.group(1)}-{store.manifest_digest(data)[:16]}")
    os.rename(version, target)
    (broken.store / store.CURRENT).write_text(target.name + "\n")
    broken.version = target


def _edit_manifest(edit: Callable[[dict[str, Any]], Any]) -> Callable[[Broken], None]:
    def mutate(broken: Broken) -> None:
        manifest = manifest_of(broken.version)
        edit(manifest)
        _write_manifest_bytes(broken, json.dumps(manifest, indent=2).encode())
    return mutate


def _raw_manifest(data: bytes) -> Callable[[Broken], None]:
    return lambda broken: _write_manifest_bytes(broken, data)


def _resealed(edit: Callable[[Broken], Any],
              manifest: Callable[[dict[str, Any]], Any] | None = None
              ) -> Callable[[Broken], None]:
    """Edit files (and the manifest), then re-seal: checksums and id agree again."""
    def mutate(broken: Broken) -> None:
        edit(broken)
        contents = manifest_of(broken.version)
        if manifest is not None:
            manifest(contents)
        broken.version = reseal(broken.version, contents)
    return mutate


def _seal_unchecked(broken: Broken, arrays: dict[str, Any]) -> None:
    """Re-seal listing sizes and sha256 only where a file is no valid .npz (``reseal``
    would refuse to describe its arrays, as publishing does), or the given ``arrays``."""
    manifest = manifest_of(broken.version)
    files: dict[str, Any] = {}
    for path in sorted(p for p in broken.version.rglob("*") if p.is_file()):
        name = path.relative_to(broken.version).as_posix()
        if name == MANIFEST:
            continue
        size, sha = hash_file(path)
        files[name] = {"size": size, "sha256": sha}
        if name.endswith(".npz"):
            try:
                files[name]["arrays"] = store.describe_npz(path)
            except ArtifactError:
                pass
        if name in arrays:
            files[name]["arrays"] = arrays[name]
    manifest["files"] = files
    _write_manifest_bytes(broken, json.dumps(manifest, indent=2).encode())


def _npz(name: str, edit: Callable[[dict[str, np.ndarray]], Any]) -> Callable[[Broken], None]:
    def mutate(broken: Broken) -> None:
        path = broken.file(name)
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: np.array(npz[key]) for key in npz.files}
        edit(arrays)
        path.unlink()
        save_npz(path, **arrays)
    return mutate


def _set(key: str, index: tuple[int, ...], value: float) -> Callable[[dict[str, np.ndarray]], None]:
    def edit(arrays: dict[str, np.ndarray]) -> None:
        arrays[key][index] = value
    return edit


def _replace(key: str, make: Callable[[np.ndarray], np.ndarray]
             ) -> Callable[[dict[str, np.ndarray]], None]:
    def edit(arrays: dict[str, np.ndarray]) -> None:
        arrays[key] = make(arrays[key])
    return edit


def _drop(key: str) -> Callable[[dict[str, np.ndarray]], None]:
    return lambda arrays: arrays.pop(key)


def _table(name: str, edit: Callable[[pl.DataFrame], pl.DataFrame]) -> Callable[[Broken], None]:
    def mutate(broken: Broken) -> None:
        path = broken.file(name)
        edit(pl.read_parquet(path)).write_parquet(path, compression="zstd")
    return mutate


def _catalog_columns(broken: Broken) -> Callable[[dict[str, Any]], None]:
    """The manifest records the catalog's columns as the edited file has them, so the
    content checks, not the column comparison, meet the edit."""
    def edit(manifest: dict[str, Any]) -> None:
        manifest["catalog"]["columns"] = pl.read_parquet(broken.file("catalog.parquet")).columns
    return edit


def _feature_columns(broken: Broken, table: str) -> Callable[[dict[str, Any]], None]:
    def edit(manifest: dict[str, Any]) -> None:
        path = broken.file(f"features/{table}.parquet")
        manifest["features"][table]["columns"] = pl.read_parquet(path).columns
    return edit


def _booster(name: str, edit: Callable[[dict[str, Any]], Any]) -> Callable[[Broken], None]:
    def mutate(broken: Broken) -> None:
        path = broken.file(name)
        model = json.loads(path.read_text())
        edit(model)
        path.write_text(json.dumps(model))
    return mutate


def _write(name: str, data: bytes) -> Callable[[Broken], None]:
    return lambda broken: broken.file(name).write_bytes(data)


# ---------------------------------------------------------------- kinds for every file
def _missing(name: str) -> Callable[[Broken], None]:
    return lambda broken: broken.file(name).unlink()


def _emptied(name: str) -> Callable[[Broken], None]:
    return lambda broken: os.truncate(broken.file(name), 0)


def _halved(name: str) -> Callable[[Broken], None]:
    return lambda broken: os.truncate(broken.file(name), broken.file(name).stat().st_size // 2)


def _flipped(name: str) -> Callable[[Broken], None]:
    def mutate(broken: Broken) -> None:
        data = bytearray(broken.file(name).read_bytes())
        data[len(data) // 2] ^= 0xFF
        broken.file(name).write_bytes(bytes(data))
    return mutate


def _appended(name: str) -> Callable[[Broken], None]:
    def mutate(broken: Broken) -> None:
        with broken.file(name).open("ab") as out:
            out.write(b"\0appended")
    return mutate


def _symlinked(name: str) -> Callable[[Broken], None]:
    """The file replaced by a symlink to an intact copy of itself outside the version."""
    def mutate(broken: Broken) -> None:
        outside = broken.scratch / "intact" / name
        outside.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(broken.file(name), outside)
        broken.file(name).unlink()
        broken.file(name).symlink_to(outside)
    return mutate


PER_FILE = (("missing", _missing), ("empty", _emptied), ("half", _halved),
            ("flipped-byte", _flipped), ("appended", _appended), ("symlink", _symlinked))


def _per_file_kinds() -> list[Kind]:
    return [Kind(f"{name}-{what}", make(name), (name,))
            for name in VERSION_FILES for what, make in PER_FILE]


# ---------------------------------------------------------------- the manifest
def _manifest_directory(broken: Broken) -> None:
    broken.file(MANIFEST).unlink()
    broken.file(MANIFEST).mkdir()


def _oversized_manifest(broken: Broken) -> None:
    os.truncate(broken.file(MANIFEST), 17 << 20)  # sparse: cheap to make, still too big


def _edited_without_new_id(broken: Broken) -> None:
    manifest = manifest_of(broken.version)
    manifest["note"] = "edited after publishing"
    broken.file(MANIFEST).write_text(json.dumps(manifest))


def _extra_file(name: str) -> Callable[[Broken], None]:
    def mutate(broken: Broken) -> None:
        broken.file(name).parent.mkdir(parents=True, exist_ok=True)
        broken.file(name).write_bytes(b"planted")
    return mutate


def _files_entry(name: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(manifest: dict[str, Any]) -> None:
        manifest["files"][name][key] = value
    return edit


def _bad_name(name: str) -> Callable[[dict[str, Any]], None]:
    def edit(manifest: dict[str, Any]) -> None:
        manifest["files"][name] = manifest["files"]["ranker.json"]
    return edit


def _key(key: str, value: Any = None, *, section: str | None = None,
         delete: bool = False) -> Callable[[dict[str, Any]], None]:
    def edit(manifest: dict[str, Any]) -> None:
        target = manifest[section] if section else manifest
        if delete:
            del target[key]
        else:
            target[key] = value
    return edit


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


MANIFEST_KINDS = [
    Kind("manifest-not-json", _raw_manifest(b"{ this is not json"), (MANIFEST,)),
    Kind("manifest-not-utf8", _raw_manifest(b'{"files": "\xff\xfe"}'), (MANIFEST,)),
    Kind("manifest-json-list", _raw_manifest(b"[1, 2, 3]"), (MANIFEST,)),
    Kind("manifest-json-string", _raw_manifest(b'"files"'), (MANIFEST,)),
    Kind("manifest-deeply-nested", _raw_manifest(_deep(100_000)), (MANIFEST,)),
    Kind("manifest-deeply-nested-object",
         _raw_manifest(b'{"a":' * 100_000 + b"1" + b"}" * 100_000), (MANIFEST,)),
    Kind("manifest-oversized", _oversized_manifest, (MANIFEST,)),
    Kind("manifest-directory", _manifest_directory, (MANIFEST,)),
    Kind("manifest-edited-id-kept", _edited_without_new_id, (MANIFEST,)),
    Kind("manifest-no-files", _edit_manifest(_key("files", delete=True)), (MANIFEST,)),
    Kind("manifest-files-empty", _edit_manifest(_key("files", {})), (MANIFEST,)),
    Kind("manifest-files-a-list", _edit_manifest(_key("files", ["cf.npz"])), (MANIFEST,)),
    Kind("manifest-sha256-edited",
         _edit_manifest(_files_entry("cf.npz", "sha256", "0" * 64)), ("cf.npz",)),
    Kind("manifest-sha256-not-a-string",
         _edit_manifest(_files_entry("cf.npz", "sha256", None)), (MANIFEST,)),
    Kind("manifest-size-edited",
         _edit_manifest(_files_entry("rating.npz", "size", 12)), ("rating.npz",)),
    Kind("manifest-size-a-string",
         _edit_manifest(_files_entry("rating.npz", "size", "18354")), (MANIFEST,)),
    Kind("manifest-arrays-edited",
         _edit_manifest(_files_entry("popular.npz", "arrays", {"m_scores": {"shape": [1]}})),
         ("popular.npz",)),
    Kind("manifest-name-parent", _edit_manifest(_bad_name("../x")), (MANIFEST,)),
    Kind("manifest-name-absolute", _edit_manifest(_bad_name("/x")), (MANIFEST,)),
    Kind("manifest-name-dot", _edit_manifest(_bad_name("features/./users.parquet")),
         (MANIFEST,)),
    Kind("manifest-name-backslash", _edit_manifest(_bad_name("features\\users.parquet")),
         (MANIFEST,)),
    Kind("manifest-lists-a-ghost", _edit_manifest(_bad_name("ghost.json")), ("ghost.json",)),
    Kind("manifest-lists-a-directory", _edit_manifest(_bad_name("features")), ("features",)),
    Kind("unlisted-file", _extra_file("extra.bin"), ("extra.bin",)),
    Kind("unlisted-file-in-features", _extra_file("features/extra.parquet"),
         ("features/extra.parquet",)),
    Kind("format-version-1", _edit_manifest(_key("format_version", 1)), (MANIFEST,)),
    Kind("format-version-2", _edit_manifest(_key("format_version", 2)), (MANIFEST,)),
    Kind("format-version-99", _edit_manifest(_key("format_version", 99)), (MANIFEST,)),
    Kind("format-version-missing", _edit_manifest(_key("format_version", delete=True)),
         (MANIFEST,)),
    Kind("format-version-a-string", _edit_manifest(_key("format_version", "3")), (MANIFEST,)),
]


# ---------------------------------------------------------------- the pointer and the version
def _pointer_text(data: bytes) -> Callable[[Broken], None]:
    return lambda broken: (broken.store / store.CURRENT).write_bytes(data)


OTHER_ID = "20200101T000000Z-0123456789abcdef"


def _version_moved_away(broken: Broken) -> None:
    os.rename(broken.version, broken.scratch / broken.version.name)


def _pointer_symlink(broken: Broken) -> None:
    outside = broken.scratch / "pointer"
    outside.write_text(broken.version.name + "\n")
    (broken.store / store.CURRENT).unlink()
    (broken.store / store.CURRENT).symlink_to(outside)


def _pointer_directory(broken: Broken) -> None:
    (broken.store / store.CURRENT).unlink()
    (broken.store / store.CURRENT).mkdir()


def _version_symlink(broken: Broken) -> None:
    outside = broken.scratch / broken.version.name
    os.rename(broken.version, outside)
    broken.version.symlink_to(outside, target_is_directory=True)


def _version_a_file(broken: Broken) -> None:
    shutil.rmtree(broken.version)
    broken.version.write_bytes(b"not a version")


def _version_renamed(broken: Broken) -> None:
    match = store.VERSION_ID.match(broken.version.name)
    assert match is not None
    target = broken.version.with_name(f"{match.group(1)}-{'0' * 16}")
    os.rename(broken.version, target)
    (broken.store / store.CURRENT).write_text(target.name + "\n")
    broken.version = target


POINTER_KINDS = [
    Kind("pointer-missing-version", _version_moved_away, ("current",)),
    Kind("pointer-names-another-id", _pointer_text(f"{OTHER_ID}\n".encode()), ("current",),
         fallback=True),
    Kind("pointer-garbage", _pointer_text(b"\x00\xff\xfe garbage \x80"), ("current",),
         fallback=True),
    Kind("pointer-not-an-id", _pointer_text(b"latest\n"), ("current",), fallback=True),
    Kind("pointer-traversal", _pointer_text(b"../../etc\n"), ("current",), fallback=True),
    Kind("pointer-empty", _pointer_text(b""), ("current",), fallback=True),
    Kind("pointer-oversized", _pointer_text(b"2" * 10_000), ("current",), fallback=True),
    Kind("pointer-symlink", _pointer_symlink, ("current",), fallback=True),
    Kind("pointer-a-directory", _pointer_directory, ("current",), fallback=True),
    Kind("pointer-removed", lambda b: (b.store / store.CURRENT).unlink(), ("current",),
         fallback=True),
    Kind("version-dir-symlink", _version_symlink, ("version directory",)),
    Kind("version-dir-a-file", _version_a_file, ("version directory",)),
    Kind("version-id-not-its-hash", _version_renamed, (MANIFEST,)),
]


# ---------------------------------------------------------------- re-sealed: content checks only
def _truncate_text(name: str) -> Callable[[Broken], None]:
    def mutate(broken: Broken) -> None:
        text = broken.file(name).read_text()
        broken.file(name).write_text(text[: len(text) // 2])
    return mutate


def _rename_feature(model: dict[str, Any]) -> None:
    model["learner"]["feature_names"] = [f"other_{n}" for n in model["learner"]["feature_names"]]


def _swap_boosters(broken: Broken) -> None:
    ranker, like = broken.file("ranker.json"), broken.file("like_model.json")
    data = ranker.read_bytes()
    ranker.write_bytes(like.read_bytes())
    like.write_bytes(data)


def _not_npz(name: str, arrays: bool = False) -> Callable[[Broken], None]:
    """``name`` holds a Parquet file, re-sealed; ``arrays``: the manifest still lists the
    arrays it had, so verification itself opens it as an .npz."""
    def mutate(broken: Broken) -> None:
        listed = manifest_of(broken.version)["files"][name]["arrays"]
        shutil.copyfile(broken.file("catalog.parquet"), broken.file(name))
        _seal_unchecked(broken, {name: listed} if arrays else {})
    return mutate


def _pickled_member(broken: Broken) -> None:
    path = broken.file("popular.npz")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {key: np.array(npz[key]) for key in npz.files}
    arrays["m_scores"] = np.array([{"evil": 1}] * arrays["m_scores"].size, dtype=object)
    np.savez(path, **arrays)  # type: ignore[arg-type]  (pickles the object array)


def _meta(name: str, edit: Callable[[dict[str, Any]], Any]) -> Callable[[Broken], None]:
    def change(arrays: dict[str, np.ndarray]) -> None:
        meta = json.loads(str(arrays["meta"]))
        edit(meta)
        arrays["meta"] = np.array(json.dumps(meta))
    return _npz(name, change)


def _duplicate_first_id(frame: pl.DataFrame) -> pl.DataFrame:
    first = frame["movie_id"][0]
    return frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 1).then(first).otherwise(pl.col("movie_id"))
        .alias("movie_id"))


def _with_user_arrays_shortened(arrays: dict[str, np.ndarray]) -> None:
    arrays["user_ids"] = arrays["user_ids"][:-1]


def _copy(source: str, target: str) -> Callable[[Broken], None]:
    return lambda broken: shutil.copyfile(broken.file(source), broken.file(target))


def _model_config(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(manifest: dict[str, Any]) -> None:
        manifest["model"]["config"][key] = value
    return edit


def _nothing(broken: Broken) -> None:
    pass


RESEALED_KINDS = [
    Kind("resealed-cf-item-factors-nan",
         _resealed(_npz("cf.npz", _set("m_item_factors", (5, 3), np.nan))), ("cf.npz",)),
    Kind("resealed-cf-user-factors-inf",
         _resealed(_npz("cf.npz", _set("m_user_factors", (0, 0), np.inf))), ("cf.npz",)),
    Kind("resealed-content-embeddings-inf",
         _resealed(_npz("content.npz", _set("m_embeddings", (7, 1), np.inf))),
         ("content.npz",)),
    Kind("resealed-rating-bias-nan",
         _resealed(_npz("rating.npz", _set("m_user_bias", (2,), np.nan))), ("rating.npz",)),
    Kind("resealed-popular-short",
         _resealed(_npz("popular.npz", _replace("m_scores", lambda a: a[:-1]))),
         ("popular.npz",)),
    Kind("resealed-popular-a-scalar",
         _resealed(_npz("popular.npz", _replace("m_scores", lambda a: np.float64(1.0)))),
         ("popular.npz",)),
    Kind("resealed-cf-factors-row-missing",
         _resealed(_npz("cf.npz", _replace("m_item_factors", lambda a: a[:-1]))), ("cf.npz",)),
    Kind("resealed-rating-item-factors-row-missing",
         _resealed(_npz("rating.npz", _replace("m_item_factors", lambda a: a[1:]))),
         ("rating.npz",)),
    Kind("resealed-content-profiles-row-missing",
         _resealed(_npz("content.npz", _replace("m_profiles", lambda a: a[:-1]))),
         ("content.npz",)),
    Kind("resealed-cf-user-ids-short", _resealed(_npz("cf.npz", _with_user_arrays_shortened)),
         ("cf.npz",)),
    Kind("resealed-cf-item-ids-duplicated",
         _resealed(_npz("cf.npz", _replace("item_ids", lambda a: np.r_[a[:1], a[:-1]]))),
         ("cf.npz",)),
    Kind("resealed-cf-item-ids-float",
         _resealed(_npz("cf.npz", _replace("item_ids", lambda a: a.astype(np.float64) + 0.5))),
         ("cf.npz",)),
    Kind("resealed-ratings-index-out-of-range",
         _resealed(_npz("cf.npz", _set("seen_indices", (10,), 10**6))), ("cf.npz",)),
    Kind("resealed-ratings-index-negative",
         _resealed(_npz("cf.npz", _set("seen_indices", (0,), -1))), ("cf.npz",)),
    Kind("resealed-ratings-indptr-decreasing",
         _resealed(_npz("cf.npz", _set("seen_indptr", (3,), 0))), ("cf.npz",)),
    Kind("resealed-ratings-indptr-short",
         _resealed(_npz("cf.npz", _replace("seen_indptr", lambda a: a[:-1]))), ("cf.npz",)),
    Kind("resealed-ratings-data-nan",
         _resealed(_npz("cf.npz", _set("seen_data", (4,), np.nan))), ("cf.npz",)),
    Kind("resealed-rating-npz-holds-popularity", _resealed(_copy("popular.npz", "rating.npz")),
         ("rating.npz",)),
    Kind("resealed-cf-npz-holds-content", _resealed(_copy("content.npz", "cf.npz")),
         ("cf.npz",)),
    Kind("resealed-cf-config-differs",
         _resealed(_meta("cf.npz", lambda m: m["config"].update(iterations=6))), ("cf.npz",)),
    Kind("resealed-cf-item-ids-permuted",
         _resealed(_npz("cf.npz", _replace("item_ids", lambda a: np.r_[a[1:2], a[:1], a[2:]]))),
         ("cf.npz",)),
    Kind("resealed-rating-item-ids-shifted",
         _resealed(_npz("rating.npz", _replace("item_ids", lambda a: a + 100_000))),
         ("rating.npz",)),
    Kind("resealed-cf-item-factors-fewer-columns",
         _resealed(_npz("cf.npz", _replace("m_item_factors", lambda a: a[:, :-1]))),
         ("cf.npz",)),
    Kind("resealed-content-embeddings-1d",
         _resealed(_npz("content.npz", _replace("m_embeddings", lambda a: a[:, 0]))),
         ("content.npz",)),
    Kind("resealed-rating-singular-values-short",
         _resealed(_npz("rating.npz", _replace("m_singular_values", lambda a: a[:-1]))),
         ("rating.npz",)),
    Kind("resealed-rating-user-bias-2d",
         _resealed(_npz("rating.npz", _replace("m_user_bias", lambda a: a[:, None]))),
         ("rating.npz",)),
    Kind("resealed-npz-meta-class-a-list",
         _resealed(_meta("cf.npz", lambda m: m.update({"class": ["ALSRecommender"]}))),
         ("cf.npz",)),
    Kind("resealed-npz-member-removed",
         _resealed(_npz("cf.npz", _drop("m_item_factors"))), ("cf.npz",)),
    Kind("resealed-npz-ids-removed", _resealed(_npz("rating.npz", _drop("item_ids"))),
         ("rating.npz",)),
    Kind("resealed-npz-meta-not-json",
         _resealed(_npz("cf.npz", _replace("meta", lambda a: np.array("{not json")))),
         ("cf.npz",)),
    Kind("resealed-npz-meta-a-list",
         _resealed(_npz("content.npz", _replace("meta", lambda a: np.array("[1]")))),
         ("content.npz",)),
    Kind("resealed-npz-meta-deeply-nested",
         _resealed(_npz("cf.npz", _replace("meta", lambda a: np.array(_deep(50_000).decode())))),
         ("cf.npz",)),
    Kind("resealed-npz-meta-format-2",
         _resealed(_meta("popular.npz", lambda m: m.update(format=2))), ("popular.npz",)),
    Kind("resealed-npz-meta-unknown-class",
         _resealed(_meta("cf.npz", lambda m: m.update({"class": "os.system"}))), ("cf.npz",)),
    Kind("resealed-npz-meta-unknown-config-key",
         _resealed(_meta("rating.npz", lambda m: m["config"].update(bogus=1))),
         ("rating.npz",)),
    Kind("resealed-npz-meta-config-out-of-range",
         _resealed(_meta("cf.npz", lambda m: m["config"].update(factors=-3))), ("cf.npz",)),
    Kind("resealed-npz-pickled-member", _resealed(_pickled_member), ("popular.npz",)),
    Kind("resealed-non-npz-as-cf", _not_npz("cf.npz"), ("cf.npz",)),
    Kind("resealed-non-npz-as-context", _not_npz("context.npz"), ("context.npz",)),
    Kind("resealed-non-npz-with-arrays-listed", _not_npz("cf.npz", arrays=True), ("cf.npz",)),
    Kind("resealed-model-config-unknown-key",
         _resealed(_nothing, _model_config("bogus", 1)), (MANIFEST,)),
    Kind("resealed-model-config-bad-value",
         _resealed(_nothing, _model_config("like_threshold", "high")), (MANIFEST,)),
    Kind("resealed-model-config-a-list",
         _resealed(_nothing, lambda m: m["model"].update(config=[1, 2])), (MANIFEST,)),
    Kind("resealed-model-a-list", _resealed(_nothing, _key("model", [1])), (MANIFEST,)),
    Kind("resealed-rank-features-reordered",
         _resealed(_nothing, lambda m: m["model"]["rank_features"].reverse()), (MANIFEST,)),
    Kind("resealed-like-features-dropped",
         _resealed(_nothing, _key("like_features", delete=True, section="model")),
         (MANIFEST,)),
    Kind("resealed-features-only", _resealed(_nothing, _key("model", delete=True)),
         (MANIFEST,)),
    Kind("resealed-windows-a-list",
         _resealed(_nothing, _key("windows", [1, 2], section="model")), (MANIFEST,)),
    Kind("resealed-catalog-missing-column",
         _resealed(_table("catalog.parquet", lambda f: f.drop("title"))), ("catalog.parquet",)),
    Kind("resealed-catalog-missing-column-manifest-agrees",
         lambda b: _resealed(_table("catalog.parquet", lambda f: f.drop("genres")),
                             _catalog_columns(b))(b), ("catalog.parquet",)),
    Kind("resealed-catalog-duplicate-movie-id",
         _resealed(_table("catalog.parquet", _duplicate_first_id)), ("catalog.parquet",)),
    Kind("resealed-catalog-null-movie-id",
         _resealed(_table("catalog.parquet", lambda f: f.with_columns(
             pl.when(pl.int_range(pl.len()) == 0).then(None).otherwise(pl.col("movie_id"))
             .alias("movie_id")))), ("catalog.parquet",)),
    Kind("resealed-catalog-not-parquet",
         _resealed(_write("catalog.parquet", b"PAR1 but not really PAR1")),
         ("catalog.parquet",)),
    Kind("resealed-features-table-missing-column",
         _resealed(_table("features/users.parquet", lambda f: f.drop(f.columns[-1]))),
         ("features/users.parquet",)),
    Kind("resealed-features-table-missing-column-manifest-agrees",
         lambda b: _resealed(_table("features/users.parquet", lambda f: f.drop(f.columns[-1])),
                             _feature_columns(b, "users"))(b), ("features/users.parquet",)),
    Kind("resealed-catalog-genres-a-string-manifest-agrees",
         _resealed(_table("catalog.parquet", lambda f: f.with_columns(
             pl.col("genres").list.join("|")))), ("catalog.parquet",)),
    Kind("resealed-context-recent-unknown-movies",
         _resealed(_npz("context.npz", _replace("ri_movies", lambda a: a + 10**7))),
         ("context.npz",)),
    Kind("resealed-context-popularity-unknown-movies",
         _resealed(_npz("context.npz", _replace("tp_movies", lambda a: a + 10**7))),
         ("context.npz",)),
    Kind("resealed-booster-truncated", _resealed(_truncate_text("ranker.json")),
         ("ranker.json",)),
    Kind("resealed-booster-empty-object", _resealed(_write("like_model.json", b"{}")),
         ("like_model.json",)),
    Kind("resealed-booster-json-list", _resealed(_write("ranker.json", b"[1, 2, 3]")),
         ("ranker.json",)),
    Kind("resealed-booster-not-a-model",
         _resealed(_write("ranker.json", b'{"learner": {"feature_names": "x"}}')),
         ("ranker.json",)),
    Kind("resealed-booster-other-feature-names",
         _resealed(_booster("ranker.json", _rename_feature)), ("ranker.json",)),
    Kind("resealed-booster-feature-name-multiline",
         _resealed(_booster("ranker.json", lambda m: m["learner"]["feature_names"].__setitem__(
             0, "Traceback\n  at /etc/passwd 0xdeadbeef"))), ("ranker.json",)),
    Kind("resealed-booster-no-feature-names",
         _resealed(_booster("like_model.json", lambda m: m["learner"].update(feature_names=[]))),
         ("like_model.json",)),
    Kind("resealed-boosters-swapped", _resealed(_swap_boosters), ("ranker.json",)),
    Kind("resealed-context-total-short",
         _resealed(_npz("context.npz", _replace("tp_total", lambda a: a[:-1]))),
         ("context.npz",)),
    Kind("resealed-context-cum-rows-short",
         _resealed(_npz("context.npz", _replace("tp_cum", lambda a: a[:-1]))),
         ("context.npz",)),
    Kind("resealed-context-indptr-out-of-range",
         _resealed(_npz("context.npz", _set("ri_indptr", (-1,), 10**9))), ("context.npz",)),
    Kind("resealed-context-member-removed",
         _resealed(_npz("context.npz", _drop("ri_movies"))), ("context.npz",)),
    Kind("resealed-context-first-month-an-array",
         _resealed(_npz("context.npz", _replace("tp_first_month", lambda a: np.arange(3)))),
         ("context.npz",)),
    Kind("resealed-store-member-removed",
         _resealed(_npz("store.npz", _drop("user_prefs"))), ("store.npz",)),
    Kind("resealed-store-prefs-short",
         _resealed(_npz("store.npz", _replace("user_prefs", lambda a: a[:-1]))),
         ("store.npz",)),
    Kind("resealed-store-genre-columns-short",
         _resealed(_npz("store.npz", _replace("movie_genres", lambda a: a[:, :-1]))),
         ("store.npz",)),
    Kind("resealed-store-users-unsorted",
         _resealed(_npz("store.npz", _replace("user_ids", lambda a: a[::-1].copy()))),
         ("store.npz",)),
    Kind("resealed-store-users-of-another-training",
         _resealed(_npz("store.npz", _replace("user_ids", lambda a: a + 10**6))),
         ("store.npz",)),
    Kind("resealed-store-genres-not-text",
         _resealed(_npz("store.npz", _replace("genres", lambda a: np.arange(a.size)))),
         ("store.npz",)),
    Kind("resealed-store-cf-unit-vectors-short",
         _resealed(_npz("store.npz", _replace("cf_unit", lambda a: a[:-1]))), ("store.npz",)),
    Kind("resealed-store-content-unit-vectors-nan",
         _resealed(_npz("store.npz", _set("content_unit", (0, 0), float("nan")))),
         ("store.npz",)),
    Kind("resealed-store-stats-not-numbers",
         _resealed(_npz("store.npz", _replace("user_stats", lambda a: a.astype(str)))),
         ("store.npz",)),
]

CORPUS: list[Kind] = _per_file_kinds() + MANIFEST_KINDS + POINTER_KINDS + RESEALED_KINDS


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small trained store, never modified: each kind breaks a copy."""
    data = generate(SyntheticConfig(n_users=150, n_movies=200, n_ratings=9_000, seed=3))
    model = HybridRecommender(SMALL).fit(data.ratings, data.movies, tags=data.tags,
                                         links=data.links)
    root = tmp_path_factory.mktemp("pristine") / "store"
    catalog = data.movies.select("movie_id", "title", "year", "genres")
    save_model(model, root, catalog=catalog, manifest={"note": {"by": "corruption corpus"}})
    return root


def _copy_of(pristine: Path, into: Path) -> Broken:
    """A copy of the store (the pointer names the copy's version) and a scratch directory
    beside it."""
    root = into / "store"
    shutil.copytree(pristine, root, symlinks=True)
    scratch = into / "outside"
    scratch.mkdir()
    return Broken(root, current(root), scratch)


# module scope: both tests of a kind read the same broken copy (neither writes to it), so
# each kind is made once
@pytest.fixture(scope="module", params=CORPUS, ids=[kind.id for kind in CORPUS])
def broken(request: pytest.FixtureRequest, pristine: Path,
           tmp_path_factory: pytest.TempPathFactory) -> tuple[Kind, Broken]:
    kind: Kind = request.param
    case = _copy_of(pristine, tmp_path_factory.mktemp("broken"))
    kind.mutate(case)
    return kind, case


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The directory every test file of this run lives under: never in a message."""
    return str(tmp_path_factory.getbasetemp())


# ---------------------------------------------------------------- the tests
def _assert_clean(text: str, private: str, kind: Kind) -> None:
    assert private not in text
    assert not NATIVE.search(text), f"carries the library's own words: {text!r}"
    assert not LEAKS.search(text), f"{kind.id} leaks a path, address or traceback: {text!r}"


def test_the_corpus_has_at_least_60_distinct_kinds() -> None:
    ids = [kind.id for kind in CORPUS]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 60


def test_the_pristine_store_loads_and_serves(pristine: Path) -> None:
    load_model(pristine)
    client = create_app({"ARTIFACTS": str(pristine), "TESTING": True}).test_client()
    assert client.get("/health").status_code == 200


def test_load_model_refuses_with_one_clean_artifact_error(
        broken: tuple[Kind, Broken], private: str) -> None:
    kind, case = broken
    try:
        load_model(case.store)
    except ArtifactError as exc:
        error: BaseException = exc
    except BaseException as exc:  # noqa: BLE001  the point: nothing else may escape
        pytest.fail(f"{type(exc).__name__} escaped load_model: {exc!r}")
    else:
        pytest.fail("the broken version loaded")
    assert type(error) is ArtifactError
    message = str(error)
    assert message and "\n" not in message and "\r" not in message, repr(message)
    assert any(name in message for name in kind.names), \
        f"names none of {kind.names}: {message!r}"
    _assert_clean(message, private, kind)


@pytest.mark.slow  # an app per kind: the load-side test above stays in the fast loop
def test_the_api_starts_and_answers_503(broken: tuple[Kind, Broken], pristine: Path,
                                        private: str) -> None:
    kind, case = broken
    app = create_app({"ARTIFACTS": str(case.store), "TESTING": True})
    client = app.test_client()
    health = client.get("/health")
    recommend = client.get("/recommend/1")
    for response in (health, recommend):
        assert response.is_json, response.get_data(as_text=True)[:200]
    if kind.fallback:
        # the pointer is broken but the version is intact: the newest version that
        # verifies is served, never a half-loaded one
        assert health.status_code == 200
        assert health.get_json()["version"] == current(pristine).name
    else:
        assert health.status_code == 503 and health.get_json()["status"] == "unavailable"
        assert recommend.status_code == 503
        assert recommend.get_json()["error"]["name"] == "artifacts_unavailable"
    for response in (health, recommend):
        _assert_clean(response.get_data(as_text=True), private, kind)


@pytest.mark.parametrize("where", ["manifest", "pointer"])
def test_a_fifo_in_place_of_a_file_does_not_hang_the_loader(
        pristine: Path, tmp_path: Path, where: str) -> None:
    """A named pipe is no regular file: refused, not opened and waited on for a writer
    that never comes (a server stuck at start, or its poller stuck for good)."""
    case = _copy_of(pristine, tmp_path)
    target = case.file(MANIFEST) if where == "manifest" else case.store / store.CURRENT
    target.unlink()
    os.mkfifo(target)
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            load_model(case.store)
        except BaseException as exc:  # noqa: BLE001  judged below, on this thread
            outcome.append(exc)
        else:
            outcome.append(None)

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(0.5)
    if thread.is_alive():
        # a writer's open lets the blocked open return (it then reads nothing), so the
        # thread ends and leaves no stuck reader behind
        os.close(os.open(target, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5.0)
        pytest.fail("a FIFO blocked the loader until a writer came")
    assert outcome and type(outcome[0]) is ArtifactError, outcome
