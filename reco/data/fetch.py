"""Download, verify, unpack and cache the official MovieLens releases.

:func:`fetch_movielens` puts release ``NAME`` in ``DEST/NAME/`` whatever its folder in the
zip (ml-10m's is ``ml-10M100K/``), so :func:`reco.load_movielens` reads ``DEST/NAME``. The zip
is checked against :data:`~reco.data.releases.RELEASES` (sources in the comment there;
``ml-latest``, updated in place by GroupLens, against the md5 published beside the zip),
downloaded to a ``.part``
file that a later call resumes with an HTTP Range request, unpacked into a hidden temporary
folder renamed into place when complete, and marked with :data:`MARKER` so a second call
downloads nothing. docs/DOWNLOAD.md describes the behaviour for users.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import logging
import os
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from reco.data.releases import DEFAULT_BASE_URL, RELEASES, Release
from reco.exceptions import ConfigError, RecoError

log = logging.getLogger(__name__)

#: Environment variable that overrides :data:`DEFAULT_BASE_URL` (a mirror, or a test server).
BASE_URL_ENV = "RECO_MOVIELENS_URL"
#: Written last into an unpacked release; its presence means the folder is complete.
MARKER = ".reco-fetch.json"
_HEADERS = {"User-Agent": "reco-fetch (python urllib)", "Accept-Encoding": "identity"}


class DownloadError(RecoError):
    """A release could not be downloaded, verified or unpacked (the message names URL and cause)."""


def fetch_movielens(
    name: str,
    dest: str | Path = "data",
    *,
    base_url: str | None = None,
    timeout: float = 60.0,
    chunk_size: int = 1 << 20,
    progress: bool = True,
    verify: bool = True,
    force: bool = False,
    releases: Mapping[str, Release] | None = None,
) -> Path:
    """Download release ``name`` into ``dest/<name>/`` unless it is already there.

    Parameters
    ----------
    name
        A key of :data:`RELEASES` (``ml-100k`` ... ``ml-32m``, ``ml-latest-small``, ``ml-latest``).
    dest
        Parent folder; the release lands in ``dest/<name>`` whatever its folder in the zip.
    base_url
        Where the zips live; default ``$RECO_MOVIELENS_URL`` or :data:`DEFAULT_BASE_URL`.
    timeout
        Seconds to wait to connect and for each read.
    chunk_size
        Bytes read per step (also for hashing).
    progress
        Log the download progress every 10 %.
    verify
        Check the checksums (the default). False accepts whatever arrives, with a warning.
    force
        Download and replace ``dest/<name>`` even when it is complete or was not made here.
    releases
        The release table (default :data:`RELEASES`); tests pass their own.

    Returns
    -------
    Path
        ``dest/<name>``, ready for :func:`reco.load_movielens`.

    Raises
    ------
    ConfigError
        ``name`` is not a known release (the message lists them).
    DownloadError
        HTTP error, refused connection, timeout, truncated transfer (the ``.part`` file is
        kept for resuming), checksum mismatch (the file is deleted), bad zip, or a
        ``dest/<name>`` this function did not make.
    """
    table = RELEASES if releases is None else releases
    if name not in table:
        raise ConfigError(f"unknown MovieLens release {name!r}; valid names: {', '.join(table)}")
    release = table[name]
    url = release.url(base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL)
    dest = Path(dest)
    target = dest / release.name
    if not force and _is_complete(target, release, verify=verify):
        log.info("%s is already complete in %s (nothing downloaded)", name, target)
        return target
    if target.exists() and not force and not (target / MARKER).is_file():
        raise DownloadError(f"{target} exists but was not made by fetch_movielens (no {MARKER}): "
                            "remove it, or pass force=True (--force) to replace it")
    dest.mkdir(parents=True, exist_ok=True)
    for stale in [*dest.glob(f".{name}.unpack-*"), *dest.glob(f".{name}.old-*")]:
        shutil.rmtree(stale, ignore_errors=True)  # left by a killed run; never a whole release
    md5 = release.md5
    if not verify:
        log.warning("NOT VERIFYING %s: whatever %s sends will be unpacked as %s", name, url, name)
    elif release.sha256 is None and md5 is None:
        md5 = _published_md5(url, release, timeout)
    part = dest / f"{release.zip_name}.part"
    _download(url, part, timeout=timeout, chunk_size=chunk_size, progress=progress,
              size_hint=release.size)
    digests = _digests(part, chunk_size)
    if verify:
        _check(url, part, release, digests, md5)
    _unpack(url, part, release, target, digests, verified=verify)
    part.unlink()
    log.info("%s ready in %s", name, target)
    return target


def _is_complete(target: Path, release: Release, *, verify: bool) -> bool:
    """Whether ``target`` holds a finished fetch of ``release`` (cheap: sizes, not hashes)."""
    try:
        marker = json.loads((target / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if marker.get("release") != release.name:
        return False
    if verify and release.sha256 and marker.get("sha256") != release.sha256:
        log.warning("%s was fetched from a zip with another sha256; fetching again", target)
        return False
    for rel, size in marker.get("files", {}).items():
        path = target / rel
        if not path.is_file() or path.stat().st_size != size:
            log.warning("%s is incomplete (%s missing or resized); fetching again", target, rel)
            return False
    if not marker.get("verified", False):
        log.warning("%s was fetched without checksum verification", target)
    return bool(marker.get("files"))


def _cause(exc: BaseException, timeout: float) -> str:
    reason = getattr(exc, "reason", exc)  # URLError wraps the socket error
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return f"timed out after {timeout:g} s"
    return f"{type(reason).__name__}: {reason}"


def _open(url: str, headers: dict[str, str], timeout: float) -> http.client.HTTPResponse:
    request = urllib.request.Request(url, headers={**_HEADERS, **headers})
    return urllib.request.urlopen(request, timeout=timeout)


def _published_md5(url: str, release: Release, timeout: float) -> str:
    md5_url = url + ".md5"
    why = (f"{release.name} has no fixed checksum (GroupLens updates it in place), so the md5 "
           f"published at {md5_url} is needed; pass verify=False (--no-verify) to skip the check")
    try:
        with _open(md5_url, {}, timeout) as response:
            text = response.read(4096).decode("ascii", "replace")
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"{md5_url}: HTTP {exc.code} {exc.reason}; {why}") from None
    except OSError as exc:
        raise DownloadError(f"{md5_url}: {_cause(exc, timeout)}; {why}") from exc
    found = re.search(r"\b[0-9a-fA-F]{32}\b", text)  # "MD5 (x.zip) = <hex>" or "<hex>  x.zip"
    if found is None:
        raise DownloadError(f"{md5_url}: no md5 in {text[:80]!r}; {why}")
    log.info("%s: published md5 %s", release.name, found.group(0).lower())
    return found.group(0).lower()


def _download(url: str, part: Path, *, timeout: float, chunk_size: int, progress: bool,
              size_hint: int | None) -> None:
    """Fetch ``url`` into ``part``, continuing an earlier ``part`` with a Range request."""
    offset = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, {"Range": f"bytes={offset}-"} if offset else {}, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # nothing after `offset`: complete, or a stale part
            complete = re.search(r"/(\d+)", exc.headers.get("Content-Range", ""))
            if complete and int(complete.group(1)) == offset:
                log.info("%s: %s is already complete", url, part)
                return
            log.warning("%s: cannot resume %s at byte %d; starting again", url, part, offset)
            part.unlink()
            return _download(url, part, timeout=timeout, chunk_size=chunk_size,
                             progress=progress, size_hint=size_hint)
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except OSError as exc:  # URLError, refused, DNS, timeout while connecting
        raise DownloadError(f"{url}: {_cause(exc, timeout)}") from exc
    with response:
        if offset and response.status != 206:
            log.warning("%s ignored the Range request; downloading from the start", url)
            offset = 0
        elif offset:
            start = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
            if start is None or int(start.group(1)) != offset:
                part.unlink()
                raise DownloadError(f"{url}: asked for bytes {offset}- but got "
                                    f"{response.headers.get('Content-Range')!r}; deleted {part}, "
                                    "run again to download from the start")
            log.info("%s: resuming at byte %d", url, offset)
        header = response.headers.get("Content-Length")
        length = int(header) if header is not None else None
        total = offset + length if length is not None else size_hint
        meter = _Progress(part.name.removesuffix(".part"), total, offset)
        received = 0
        try:
            with part.open("ab" if offset else "wb") as out:
                while chunk := response.read(chunk_size):
                    out.write(chunk)
                    received += len(chunk)
                    if progress:
                        meter.update(offset + received)
        except (OSError, http.client.HTTPException) as exc:  # reset, timeout: bytes so far kept
            raise DownloadError(f"{url}: {_cause(exc, timeout)} after {offset + received} bytes; "
                                f"kept {part}, run again to resume") from exc
    if length is not None and received < length:
        raise DownloadError(f"{url}: transfer ended early, {offset + received} of "
                            f"{offset + length} bytes; kept {part}, run again to resume")


class _Progress:
    """Logs every 10 % (every 16 MiB when the size is unknown), so a log stays short."""

    def __init__(self, label: str, total: int | None, offset: int) -> None:
        self.label, self.total, self.offset = label, total, offset
        self.start, self.last = time.monotonic(), -1

    def update(self, done: int) -> None:
        step = done * 10 // self.total if self.total else done >> 24
        if step > self.last:
            self.last = step
            rate = (done - self.offset) / 1e6 / max(time.monotonic() - self.start, 1e-3)
            total = self.total or 0
            of = f" of {total / 1e6:.1f} MB ({done * 100 // total}%)" if total else ""
            log.info("%s: %.1f MB%s, %.1f MB/s", self.label, done / 1e6, of, rate)


class _Digests(NamedTuple):
    sha256: str
    md5: str
    size: int


def _digests(path: Path, chunk_size: int) -> _Digests:
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while chunk := handle.read(chunk_size):
            sha256.update(chunk)
            md5.update(chunk)
    return _Digests(sha256.hexdigest(), md5.hexdigest(), path.stat().st_size)


def _check(url: str, part: Path, release: Release, got: _Digests, md5: str | None) -> None:
    for algorithm, expected, actual in (("sha256", release.sha256, got.sha256),
                                        ("md5", md5, got.md5)):
        if expected is not None and actual != expected:
            part.unlink(missing_ok=True)
            size = f", expected {release.size}" if release.size else ""
            stale = (f"; GroupLens updates {release.name} in place, so the table in "
                     "reco/data/releases.py may be stale") if release.moving else ""
            raise DownloadError(f"{url}: {algorithm} mismatch: expected {expected}, got {actual} "
                                f"({got.size} bytes{size}); deleted {part}{stale}")
    log.info("%s: checksums verified (sha256 %s)", release.zip_name, got.sha256)


def _unpack(url: str, zip_path: Path, release: Release, target: Path, digests: _Digests,
            *, verified: bool) -> None:
    """Unpack into a hidden temporary folder, write the marker, then rename it into place."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{release.name}.unpack-", dir=target.parent))
    try:
        try:
            with zipfile.ZipFile(zip_path) as archive:
                archive.extractall(tmp)  # drops absolute paths and ".." parts; checks CRCs
        except (zipfile.BadZipFile, EOFError) as exc:
            zip_path.unlink(missing_ok=True)
            raise DownloadError(f"{url}: not a valid zip ({exc}); deleted {zip_path}") from exc
        root = tmp / release.folder
        if not root.is_dir():  # unusable with this table, so retrying it would loop
            zip_path.unlink(missing_ok=True)
            raise DownloadError(f"{url}: expected the folder {release.folder}/ in the zip, found "
                                f"{sorted(p.name for p in tmp.iterdir())}; deleted {zip_path}")
        files = {p.relative_to(root).as_posix(): p.stat().st_size
                 for p in sorted(root.rglob("*")) if p.is_file()}
        marker = {"release": release.name, "url": url, "zip_folder": release.folder,
                  "sha256": digests.sha256, "md5": digests.md5,
                  "bytes": digests.size, "verified": verified,
                  "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "files": files}
        (root / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
        if target.exists():  # force, or an incomplete earlier fetch: swap, then delete the old
            old = target.with_name(f".{release.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(root, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(root, target)
        log.info("unpacked %d files (%.1f MB) into %s", len(files),
                 sum(files.values()) / 1e6, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
