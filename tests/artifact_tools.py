"""Tools for tests that tamper with published versions, as a corrupt disk or a careless
operator would: edit a file in place, or edit and re-seal (new checksums, new id) so only
the content checks behind the checksums can catch it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from reco.artifacts import store


def current(artifacts: Path) -> Path:
    """The directory of the store's current version."""
    return store.resolve(artifacts)


def manifest_of(version: Path) -> dict[str, Any]:
    return json.loads((version / store.MANIFEST).read_text())


def reseal(version: Path, manifest: dict[str, Any] | None = None) -> Path:
    """Re-seal ``version`` after its files (or ``manifest``) were edited: recompute the
    files section, write the manifest, rename the directory to its new id and move the
    pointers that named it. Returns the new directory."""
    manifest = dict(manifest_of(version) if manifest is None else manifest)
    manifest["files"] = store.describe_files(version)
    data = (json.dumps(manifest, indent=2) + "\n").encode()
    (version / store.MANIFEST).write_bytes(data)
    stamp = store.VERSION_ID.match(version.name).group(1)
    target = version.with_name(f"{stamp}-{store.manifest_digest(data)[:16]}")
    os.rename(version, target)
    root = version.parent.parent
    for alias in store.ALIASES:  # the pointers that named the old id name the new one
        pointer = root / alias
        if pointer.is_file() and pointer.read_text().strip() == version.name:
            pointer.write_text(target.name + "\n")
    return target
