"""Download, verify, unpack and cache the official MovieLens releases.

:func:`fetch_movielens` puts release ``NAME`` in ``DEST/NAME/`` whatever its folder in the
zip (ml-10m's is ``ml-10M100K/``), so :func:`reco.load_movielens` reads ``DEST/NAME``. The zip
is checked against checksums the mirror cannot forge: those pinned in
:data:`~reco.data.releases.RELEASES` (sources in the comment there) and any the caller gives.
``ml-latest``, which GroupLens regenerates in place, has no pin, so it needs a caller's
checksum or ``allow_unpinned=True``; the ``.md5`` beside the zip comes from the same server as
the zip and is only logged, never trusted. The zip is downloaded to a ``.part`` file that a
later call resumes with an HTTP Range request, unpacked under :class:`UnpackLimits` (checked on
the central directory and again on the inflated bytes) into a hidden temporary folder renamed
into place when complete, and marked with :data:`MARKER` so a second call downloads nothing.
docs/DOWNLOAD.md describes the behaviour for users.
"""

from __future__ import annotations

import copy
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
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from reco.data.releases import DEFAULT_BASE_URL, RELEASES, Release
from reco.exceptions import ConfigError, RecoError

log = logging.getLogger(__name__)

#: Environment variable that overrides :data:`DEFAULT_BASE_URL` (a mirror, or a test server).
BASE_URL_ENV = "RECO_MOVIELENS_URL"
#: Written last into an unpacked release; its presence means the folder is complete.
MARKER = ".reco-fetch.json"
_HEADERS = {"User-Agent": "reco-fetch (python urllib)", "Accept-Encoding": "identity"}
_PINNED = "pinned in reco/data/releases.py"
_GIVEN = "given by the caller"
# Below this size a member cannot hurt, and short runs of one byte (a padded header, an empty
# line table) legitimately compress past 1000:1, so the ratio test starts here.
_RATIO_FLOOR = 1 << 20
# GroupLens zips use deflate (and stored for tiny files). bzip2 and lzma are refused: zipfile
# inflates them without an output bound per read, so one read could fill memory.
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}


class DownloadError(RecoError):
    """A release could not be downloaded, verified or unpacked (the message names URL and cause)."""


@dataclass(frozen=True)
class UnpackLimits:
    """Caps on what one zip may unpack to, so a hostile or broken mirror cannot fill the disk.

    The defaults leave room over the largest real releases: ml-32m and ml-latest unpack to
    about 1 GB, at most 4-5:1 from their zips, and ml-100k, the release with the most entries,
    has 24.

    Parameters
    ----------
    max_total_bytes
        Unpacked bytes of all members together (default 4 GiB).
    max_members
        Entries in the zip, folders included (default 100).
    max_ratio
        Largest unpacked/compressed size of one member of 1 MiB or more (default 1000; deflate
        cannot exceed about 1032, so only runs of one byte get there, never a CSV).
    """

    max_total_bytes: int = 4 << 30
    max_members: int = 100
    max_ratio: float = 1000.0

    def __post_init__(self) -> None:
        for label, value in (("max_total_bytes", self.max_total_bytes),
                             ("max_members", self.max_members), ("max_ratio", self.max_ratio)):
            if not value > 0:
                raise ConfigError(f"UnpackLimits.{label} must be positive, got {value!r}")


class _Expected(NamedTuple):
    algorithm: str  # "sha256" or "md5", a field of _Digests
    hex: str
    source: str  # _PINNED or _GIVEN, for the messages


class _UnsafeZip(Exception):
    """A zip refused by :class:`UnpackLimits` or its names (internal: becomes DownloadError)."""


def fetch_movielens(
    name: str,
    dest: str | Path = "data",
    *,
    base_url: str | None = None,
    timeout: float = 60.0,
    chunk_size: int = 1 << 20,
    progress: bool = True,
    verify: bool = True,
    sha256: str | None = None,
    md5: str | None = None,
    allow_unpinned: bool = False,
    limits: UnpackLimits | None = None,
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
        Bytes read per step (also for hashing and unpacking).
    progress
        Log the download progress every 10 %.
    verify
        Check the checksums (the default). False accepts whatever arrives, with a warning.
    sha256, md5
        Hex digests of the zip from a source you trust, checked on top of any pinned ones.
        They are what makes ``ml-latest`` verifiable.
    allow_unpinned
        Accept a release that has neither a pinned nor a given checksum (``ml-latest``)
        unverified, with a warning; without it such a release stops before downloading.
    limits
        Caps on the unpacked size and entry count (default :class:`UnpackLimits`).
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
        ``name`` is not a known release (the message lists them), or ``sha256``/``md5`` is
        not hex of the right length.
    DownloadError
        No checksum to verify against (``ml-latest`` without ``sha256``, ``md5`` or
        ``allow_unpinned``), HTTP error, refused connection, timeout, truncated transfer (the
        ``.part`` file is kept for resuming), checksum mismatch (the file is deleted), bad zip
        or one over ``limits`` or with an unsafe member name (deleted), or a ``dest/<name>``
        this function did not make.
    """
    table = RELEASES if releases is None else releases
    if name not in table:
        raise ConfigError(f"unknown MovieLens release {name!r}; valid names: {', '.join(table)}")
    release = table[name]
    expected = _expected(release, sha256=sha256, md5=md5) if verify else []
    limits = UnpackLimits() if limits is None else limits
    url = release.url(base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL)
    dest = Path(dest)
    target = dest / release.name
    if not force and _is_complete(target, release, expected):
        log.info("%s is already complete in %s (nothing downloaded)", name, target)
        return target
    if target.exists() and not force and not (target / MARKER).is_file():
        raise DownloadError(f"{target} exists but was not made by fetch_movielens (no {MARKER}): "
                            "remove it, or pass force=True (--force) to replace it")
    if verify and not expected and not allow_unpinned:
        # Checked before any byte is fetched: there is nothing to verify the zip against.
        raise DownloadError(f"{name} has no pinned checksum (GroupLens regenerates it in place) "
                            "and a checksum from the mirror proves nothing: pass --sha256 HEX or "
                            "--md5 HEX from a source you trust, or --allow-unpinned to take it "
                            "unverified")
    dest.mkdir(parents=True, exist_ok=True)
    for stale in [*dest.glob(f".{name}.unpack-*"), *dest.glob(f".{name}.old-*")]:
        shutil.rmtree(stale, ignore_errors=True)  # left by a killed run; never a whole release
    if not verify:
        log.warning("NOT VERIFYING %s: whatever %s sends will be unpacked as %s", name, url, name)
    elif not expected:
        log.warning("NOT VERIFYING %s (--allow-unpinned): it has no pinned checksum and none was "
                    "given, so whatever %s sends will be unpacked as %s", name, url, name)
    part = dest / f"{release.zip_name}.part"
    _download(url, part, timeout=timeout, chunk_size=chunk_size, progress=progress,
              size_hint=release.size)
    digests = _digests(part, chunk_size)
    if expected:
        _check(url, part, release, digests, expected)
    elif verify:
        _advise(url, digests, timeout)
    _unpack(url, part, release, target, digests, expected, limits, chunk_size)
    part.unlink()
    log.info("%s ready in %s", name, target)
    return target


def _expected(release: Release, *, sha256: str | None, md5: str | None) -> list[_Expected]:
    """The digests a download must match: the pinned ones, then the caller's."""
    found = [_Expected(algorithm, value, _PINNED)
             for algorithm, value in (("sha256", release.sha256), ("md5", release.md5))
             if value is not None]
    for algorithm, value, length in (("sha256", sha256, 64), ("md5", md5, 32)):
        if value is None:
            continue
        text = value.strip().lower()
        if not re.fullmatch(f"[0-9a-f]{{{length}}}", text):
            raise ConfigError(f"{algorithm} must be {length} hex digits, got {value!r}")
        found.append(_Expected(algorithm, text, _GIVEN))
    return found


def _is_complete(target: Path, release: Release, expected: list[_Expected]) -> bool:
    """Whether ``target`` holds a finished fetch of ``release`` (cheap: sizes, not hashes)."""
    try:
        marker = json.loads((target / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if marker.get("release") != release.name:
        return False
    for want in expected:  # a new pin, or a checksum given for another snapshot of ml-latest
        if marker.get(want.algorithm) != want.hex:
            log.warning("%s was fetched from a zip with another %s than the one %s; fetching "
                        "again", target, want.algorithm, want.source)
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


def _advise(url: str, got: _Digests, timeout: float) -> None:
    """Compare an unpinned download with the md5 its own server publishes, and only log it.

    The ``.md5`` comes from the server that sent the zip, so a hostile mirror serves a matching
    one: a match proves nothing and is never recorded as verification. A mismatch still tells
    an honest user something (GroupLens updated the zip during a resumed download, say).
    """
    md5_url = url + ".md5"
    try:
        with _open(md5_url, {}, timeout) as response:
            text = response.read(4096).decode("ascii", "replace")
    except OSError as exc:  # HTTPError included: the file is optional
        log.info("%s: no advisory md5 (%s)", md5_url, _cause(exc, timeout))
        return
    found = re.search(r"\b[0-9a-fA-F]{32}\b", text)  # "MD5 (x.zip) = <hex>" or "<hex>  x.zip"
    if found is None:
        log.info("%s: no md5 in %r", md5_url, text[:80])
    elif found.group(0).lower() == got.md5:
        log.info("%s: md5 matches (advisory only: the same server sent both, so this is not "
                 "verification)", md5_url)
    else:
        log.warning("%s says md5 %s, the zip has %s: the zip changed during the download or the "
                    "server is broken; unpacking it anyway, unverified, as asked", md5_url,
                    found.group(0).lower(), got.md5)


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


def _check(url: str, part: Path, release: Release, got: _Digests,
           expected: list[_Expected]) -> None:
    for want in expected:
        actual = getattr(got, want.algorithm)
        if actual != want.hex:
            part.unlink(missing_ok=True)
            size = f", expected {release.size}" if release.size and want.source == _PINNED else ""
            stale = (f"; GroupLens updates {release.name} in place, so the table in "
                     "reco/data/releases.py may be stale")
            stale = stale if release.moving and want.source == _PINNED else ""
            raise DownloadError(f"{url}: {want.algorithm} mismatch: expected {want.hex} "
                                f"({want.source}), got {actual} ({got.size} bytes{size}); "
                                f"deleted {part}{stale}")
    log.info("%s: verified (%s; sha256 %s)", release.zip_name,
             ", ".join(f"{w.algorithm} {w.source}" for w in expected), got.sha256)


def _unpack(url: str, zip_path: Path, release: Release, target: Path, digests: _Digests,
            expected: list[_Expected], limits: UnpackLimits, chunk_size: int) -> None:
    """Unpack into a hidden temporary folder, write the marker, then rename it into place."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{release.name}.unpack-", dir=target.parent))
    try:
        try:
            _extract(zip_path, tmp, limits, chunk_size)
        except _UnsafeZip as exc:  # the same bytes would be refused again: do not keep them
            zip_path.unlink(missing_ok=True)
            raise DownloadError(f"{url}: {exc}; deleted {zip_path}") from None
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
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
                  "bytes": digests.size, "verified": bool(expected),
                  "checked": [f"{w.algorithm} {w.source}" for w in expected],
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


def _extract(zip_path: Path, into: Path, limits: UnpackLimits, chunk_size: int) -> None:
    """Unpack ``zip_path`` into ``into`` within ``limits``; raises :class:`_UnsafeZip`.

    The central directory is checked whole before anything is written, so an honest bomb
    costs no disk. Its sizes are the zip's own claim, so each member is then also held to
    its declared size while it inflates: together no more than ``max_total_bytes`` is
    ever written, whatever the headers say.
    """
    with zipfile.ZipFile(zip_path) as archive:
        members = archive.infolist()
        paths = _check_directory(members, limits, into)
        for info, path in zip(members, paths):
            if info.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            _inflate(archive, info, path, chunk_size)


def _check_directory(members: list[zipfile.ZipInfo], limits: UnpackLimits,
                     into: Path) -> list[Path]:
    """Refuse a zip whose central directory breaks ``limits`` or names a path outside
    ``into``; otherwise the path of each member."""
    if len(members) > limits.max_members:
        first = members[limits.max_members].filename
        raise _UnsafeZip(f"the zip has {len(members)} members, over the limit of "
                         f"{limits.max_members} (from member {first!r} on); raise "
                         "--max-members (UnpackLimits.max_members) if the release really grew")
    total = 0
    for info in members:
        name = info.filename
        if info.compress_type not in _METHODS:
            raise _UnsafeZip(f"member {name!r} uses compression method "
                             f"{info.compress_type}, not {' or '.join(_METHODS.values())}")
        if info.flag_bits & 0x1:
            raise _UnsafeZip(f"member {name!r} is encrypted")
        if (info.file_size >= _RATIO_FLOOR
                and info.file_size > limits.max_ratio * max(info.compress_size, 1)):
            raise _UnsafeZip(f"member {name!r} inflates {info.compress_size} bytes to "
                             f"{info.file_size}, a ratio over {limits.max_ratio:g}:1 (a zip bomb?)")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise _UnsafeZip(f"member {name!r} takes the unpacked size to {total} "
                             f"bytes, over the limit of {limits.max_total_bytes}; raise "
                             "--max-unpacked-bytes (UnpackLimits.max_total_bytes) if the "
                             "release really grew")
    return [_member_path(info.filename, into) for info in members]


def _member_path(name: str, into: Path) -> Path:
    """Where member ``name`` goes under ``into``; a name that could leave it is refused.

    zipfile's extractall would silently drop such parts; GroupLens zips never have them,
    so one is a sign of a hostile zip and stops the unpack instead (zip slip).
    """
    parts = PurePosixPath(name).parts
    if (not parts or name.startswith("/") or "\\" in name or ".." in parts
            or ":" in parts[0]):
        raise _UnsafeZip(f"member {name!r} has an unsafe path (absolute, '..', a drive "
                         "or a backslash)")
    return into.joinpath(*parts)


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, chunk_size: int) -> None:
    """Write one member to ``path``, refusing it the moment it passes its declared size."""
    # zipfile stops a member at its declared size and then checks its CRC, so a bomb behind a
    # lying header comes out truncated or as a CRC error, depending on zipfile's internals.
    # The probe asks for one byte more than declared and without zipfile's CRC check (a
    # ZipInfo without CRC has none), so this loop sees the extra byte itself; the CRC is
    # checked here instead.
    probe = copy.copy(info)
    probe.file_size = info.file_size + 1
    del probe.CRC
    written, crc = 0, 0
    with archive.open(probe) as source, path.open("wb") as sink:
        while chunk := source.read(chunk_size):
            written += len(chunk)
            if written > info.file_size:
                raise _UnsafeZip(f"member {info.filename!r} inflates past the {info.file_size} "
                                 "bytes its header declares (refused while unpacking)")
            crc = zlib.crc32(chunk, crc)
            sink.write(chunk)
    if written != info.file_size or crc != info.CRC:
        raise zipfile.BadZipFile(f"member {info.filename!r}: {written} bytes with CRC-32 "
                                 f"{crc:08x}, its header declares {info.file_size} with "
                                 f"{info.CRC:08x}")
