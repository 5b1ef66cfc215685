"""reco.data.fetch against a hostile mirror: forged checksums and zips that attack the unpack.

The loopback server and the zip builders come from test_fetch.py. A hostile mirror is played
by the same server: it controls both the zip and the ``.md5`` beside it, which is the point.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest

import reco
from reco.data import fetch
from reco.data.fetch import MARKER, DownloadError, UnpackLimits, fetch_movielens
from reco.exceptions import ConfigError
from scripts import fetch_movielens as script
from tests import fixtures
from tests.data.test_fetch import _no_proxy, _Server, leftovers, make_zip, pinned, server

__all__ = ["_no_proxy", "server"]  # fixtures used by name; imported, not redefined

BOMB = 64 << 20  # inflated size of the bomb member: 64 MiB of zeros, about 64 kB deflated
MEMBER = "ml-latest/ratings.csv"


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """A zip holding ml-latest/ whose ratings.csv inflates to 64 MiB (honest headers)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("ml-latest/", b"")
        archive.writestr(MEMBER, bytes(BOMB))
    return buffer.getvalue()


def lie_about_size(body: bytes, member: str, size: int) -> bytes:
    """``body`` with ``member``'s unpacked size set to ``size`` in both of its headers."""
    data = bytearray(body)
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        infos, pos = archive.infolist(), archive.start_dir
    for info in infos:
        assert data[pos:pos + 4] == b"PK\x01\x02"
        if info.filename == member:
            struct.pack_into("<I", data, pos + 24, size)  # central directory entry
            struct.pack_into("<I", data, info.header_offset + 22, size)  # local header
        names, extra, comment = struct.unpack_from("<HHH", data, pos + 28)
        pos += 46 + names + extra + comment
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        assert archive.getinfo(member).file_size == size  # the lie is what zipfile reads
    return bytes(data)


def serve(server: _Server, body: bytes) -> dict[str, fetch.Release]:
    """Serve ``body`` as ml-latest.zip, pinned in a test table so only the unpack can refuse."""
    server.files["ml-latest.zip"] = body
    return pinned("ml-latest", body)


# --- checksums the mirror cannot forge ---------------------------------------------------


@pytest.fixture
def hostile(server: _Server, tmp_path: Path) -> tuple[_Server, bytes, bytes]:
    """A mirror serving a tampered ml-latest.zip with an .md5 that matches it; the honest zip."""
    honest = make_zip(tmp_path, "ml-latest", "ml-latest")
    tampered = make_zip(tmp_path / "t", "ml-latest", "ml-latest") + b"tampered"
    assert zipfile.is_zipfile(io.BytesIO(tampered))  # trailing bytes: still a readable zip
    server.files["ml-latest.zip"] = tampered
    md5 = hashlib.md5(tampered).hexdigest()
    server.files["ml-latest.zip.md5"] = f"{md5}  ml-latest.zip\n".encode()  # matches the forgery
    return server, honest, tampered


def test_ml_latest_without_a_checksum_or_the_flag_stops_before_downloading(hostile, tmp_path):
    server, _, _ = hostile
    assert fetch.RELEASES["ml-latest"].sha256 is None and fetch.RELEASES["ml-latest"].md5 is None
    with pytest.raises(DownloadError, match=r"^ml-latest has no pinned checksum .*--sha256 HEX or "
                                            r"--md5 HEX .*--allow-unpinned"):
        fetch_movielens("ml-latest", tmp_path / "data", base_url=server.url)
    assert server.requests == [] and leftovers(tmp_path / "data") == []


def test_a_matching_md5_from_the_mirror_does_not_count_as_verification(hostile, tmp_path,
                                                                        caplog):
    server, _, tampered = hostile
    with caplog.at_level(logging.INFO, logger="reco.data.fetch"):
        path = fetch_movielens("ml-latest", tmp_path / "data", base_url=server.url,
                               allow_unpinned=True)
    marker = json.loads((path / MARKER).read_text())
    assert marker["verified"] is False and marker["checked"] == []
    assert marker["sha256"] == hashlib.sha256(tampered).hexdigest()
    messages = [r.getMessage() for r in caplog.records]
    assert any("NOT VERIFYING ml-latest (--allow-unpinned)" in m for m in messages)
    assert any("md5 matches (advisory only" in m for m in messages)
    assert not any("verified (" in m for m in messages)


def test_a_wrong_md5_from_the_mirror_is_only_a_warning_when_unpinned_is_allowed(
        hostile, tmp_path, caplog):
    server, _, _ = hostile
    server.files["ml-latest.zip.md5"] = f"MD5 (ml-latest.zip) = {'f' * 32}\n".encode()
    with caplog.at_level(logging.WARNING, logger="reco.data.fetch"):
        fetch_movielens("ml-latest", tmp_path / "data", base_url=server.url, allow_unpinned=True)
    assert any(f"says md5 {'f' * 32}" in r.getMessage() for r in caplog.records)


def test_a_given_checksum_refuses_the_tampered_zip_whatever_the_mirror_md5_says(hostile,
                                                                               tmp_path):
    server, honest, tampered = hostile
    dest = tmp_path / "data"
    for option, digest in (("md5", hashlib.md5(honest).hexdigest()),
                           ("sha256", hashlib.sha256(honest).hexdigest())):
        with pytest.raises(DownloadError, match=rf"{option} mismatch: expected {digest} \(given "
                                                r"by the caller\), got [0-9a-f]+"):
            fetch_movielens("ml-latest", dest, base_url=server.url, **{option: digest})
        assert leftovers(dest) == []
    assert all(not path.endswith(".md5") for path, _ in server.requests)  # never even asked
    server.files["ml-latest.zip"] = honest  # the real zip, checked against the given sha256
    digest = hashlib.sha256(honest).hexdigest()
    path = fetch_movielens("ml-latest", dest, base_url=server.url, sha256=digest.upper())
    marker = json.loads((path / MARKER).read_text())
    assert marker["verified"] is True and marker["checked"] == ["sha256 given by the caller"]
    assert reco.load_movielens(path).ratings.equals(fixtures.expected_ratings())
    seen = len(server.requests)
    fetch_movielens("ml-latest", dest, base_url=server.url, sha256=digest)  # cached
    assert len(server.requests) == seen
    # a checksum of another snapshot: the cached one is not it, so fetch (and refuse) again
    with pytest.raises(DownloadError, match="sha256 mismatch"):
        fetch_movielens("ml-latest", dest, base_url=server.url,
                        sha256=hashlib.sha256(tampered).hexdigest())
    assert len(server.requests) == seen + 1
    del tampered


def test_a_malformed_given_checksum_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="sha256 must be 64 hex digits, got 'abc'"):
        fetch_movielens("ml-latest", tmp_path, sha256="abc")
    with pytest.raises(ConfigError, match="md5 must be 32 hex digits"):
        fetch_movielens("ml-1m", tmp_path, md5="g" * 32)


def test_main_exits_2_on_ml_latest_without_a_checksum_and_0_with_one(hostile, tmp_path,
                                                                     capsys, caplog):
    server, honest, _ = hostile
    server.files["ml-latest.zip"] = honest
    dest = str(tmp_path / "data")
    with caplog.at_level(logging.ERROR):
        assert script.main(["ml-latest", "--dest", dest, "--base-url", server.url, "-q"]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "--allow-unpinned" in errors[0] and "\n" not in errors[0]
    digest = hashlib.sha256(honest).hexdigest()
    assert script.main(["ml-latest", "--dest", dest, "--base-url", server.url, "-q",
                        "--sha256", digest]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "data" / "ml-latest")
    assert script.main(["ml-latest", "--dest", dest, "--max-members", "0"]) == 2


def test_main_happy_path_with_a_pinned_fake_release(server, tmp_path, monkeypatch, capsys):
    body = make_zip(tmp_path, "ml-latest", "ml-latest")
    monkeypatch.setattr(fetch, "RELEASES", serve(server, body))  # ml-latest pinned, as a test
    dest = tmp_path / "data"
    assert script.main(["ml-latest", "--dest", str(dest), "--base-url", server.url, "-q"]) == 0
    marker = json.loads((dest / "ml-latest" / MARKER).read_text())
    assert marker["checked"] == ["sha256 pinned in reco/data/releases.py",
                                 "md5 pinned in reco/data/releases.py"]


# --- unpack limits ------------------------------------------------------------------------


def test_a_zip_bomb_is_refused_from_the_central_directory(server, tmp_path, bomb):
    assert len(bomb) < 100_000  # 64 MiB from a tiny zip
    table = serve(server, bomb)
    dest = tmp_path / "data"
    small = UnpackLimits(max_total_bytes=1 << 20, max_ratio=1e6)  # the size cap alone
    with pytest.raises(DownloadError, match=rf"ml-latest\.zip: member '{MEMBER}' "
                                            rf"takes the unpacked size to {BOMB} bytes, over the "
                                            r"limit of 1048576.*; deleted .*ml-latest\.zip\.part"):
        fetch_movielens("ml-latest", dest, base_url=server.url, releases=table, limits=small)
    assert leftovers(dest) == []
    # under the default 4 GiB cap, the ratio is what gives it away
    with pytest.raises(DownloadError, match=rf"member '{MEMBER}' inflates \d+ bytes to {BOMB}, "
                                            r"a ratio over 1000:1"):
        fetch_movielens("ml-latest", dest, base_url=server.url, releases=table)
    assert leftovers(dest) == []


def test_too_many_members_are_refused(server, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(12):
            archive.writestr(f"ml-latest/part-{i:02}.csv", b"1,1,5.0,1\n")
    table = serve(server, buffer.getvalue())
    dest = tmp_path / "data"
    with pytest.raises(DownloadError, match=r"ml-latest\.zip: the zip has 12 members, over the "
                                            r"limit of 10 \(from member 'ml-latest/part-10\.csv' "
                                            r"on\)"):
        fetch_movielens("ml-latest", dest, base_url=server.url, releases=table,
                        limits=UnpackLimits(max_members=10))
    assert leftovers(dest) == []
    assert UnpackLimits().max_members == 100  # the default would have taken it


def test_a_member_whose_header_lies_about_its_size_is_refused_while_unpacking(
        server, tmp_path, bomb, monkeypatch):
    liar = lie_about_size(bomb, MEMBER, 1000)  # the central directory now passes every limit
    table = serve(server, liar)
    dest = tmp_path / "data"
    written: list[int] = []
    real_open = Path.open

    def spy(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, mode, *args, **kwargs)
        if mode == "wb" and self.name == "ratings.csv":
            write = handle.write

            def counted(chunk: bytes) -> int:
                written.append(len(chunk))
                return write(chunk)

            handle.write = counted
        return handle

    monkeypatch.setattr(Path, "open", spy)
    with pytest.raises(DownloadError, match=rf"ml-latest\.zip: member '{MEMBER}' inflates past "
                                            r"the 1000 bytes its header declares \(refused while "
                                            r"unpacking\)"):
        fetch_movielens("ml-latest", dest, base_url=server.url, releases=table)
    assert sum(written) <= 1000  # not one byte past the declared size reached the disk
    assert leftovers(dest) == []


@pytest.mark.parametrize("name", ["ml-latest/../../evil.csv", "/tmp/evil.csv",
                                  "ml-latest/..\\..\\evil.csv", "C:/evil.csv"])
def test_zip_slip_is_refused(server, tmp_path, name):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ml-latest/ratings.csv", b"userId,movieId,rating,timestamp\n")
        archive.writestr(zipfile.ZipInfo(name), b"owned\n")
    table = serve(server, buffer.getvalue())
    dest = tmp_path / "deep" / "data"
    with pytest.raises(DownloadError, match=r"ml-latest\.zip: member .* has an unsafe path"):
        fetch_movielens("ml-latest", dest, base_url=server.url, releases=table)
    assert leftovers(dest) == []
    assert not list(tmp_path.rglob("evil.csv")) and not Path("/tmp/evil.csv").exists()


def test_unpack_limits_must_be_positive():
    with pytest.raises(ConfigError, match="UnpackLimits.max_members must be positive, got 0"):
        UnpackLimits(max_members=0)
    with pytest.raises(ConfigError, match="max_ratio must be positive"):
        UnpackLimits(max_ratio=-1.0)


def test_bzip2_members_are_refused(server, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("ml-latest/ratings.csv", b"userId,movieId,rating,timestamp\n")
    table = serve(server, buffer.getvalue())
    with pytest.raises(DownloadError, match="uses compression method 12, not stored or deflate"):
        fetch_movielens("ml-latest", tmp_path / "data", base_url=server.url, releases=table)
