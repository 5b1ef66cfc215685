"""reco.data.fetch against a local HTTP server on loopback: nothing leaves the machine.

The server serves tiny MovieLens-shaped zips built from tests/fixtures.py and can cut a
transfer short, ignore Range requests, answer late or 404; it records every request.
test_fetch_safety.py reuses it for hostile mirrors and hostile zips.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import socket
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import reco
from reco.data import fetch
from reco.data.fetch import MARKER, RELEASES, DownloadError, Release, fetch_movielens
from reco.exceptions import ConfigError
from scripts import fetch_movielens as script
from tests import fixtures


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # http.server's naming
        state = self.server
        state.requests.append((self.path, self.headers.get("Range")))
        body = state.files.get(self.path.rsplit("/", 1)[-1])
        if body is None:
            self.send_error(404)
            return
        time.sleep(state.delay)
        wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        start = int(wanted.group(1)) if wanted and not state.ignore_range else 0
        if start >= len(body) > 0:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(body)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        if state.cut_after is not None:  # promise the whole body, send part, hang up
            payload, state.cut_after = payload[:state.cut_after], None
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.cut_after: int | None = None
        self.ignore_range = False
        self.delay = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/datasets/movielens/"

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out leaves a broken pipe; not the test's concern


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                "ALL_PROXY", fetch.BASE_URL_ENV):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def server():
    httpd = _Server()
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def make_zip(tmp: Path, name: str, folder: str) -> bytes:
    """The tiny dataset written as release ``name``, zipped under ``folder/`` as GroupLens does."""
    source = fixtures.write_release(tmp / "zip-source", name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*")):
            archive.write(path, f"{folder}/{path.relative_to(source).as_posix()}")
    return buffer.getvalue()


def pinned(name: str, body: bytes, **changes: object) -> dict[str, Release]:
    """A one-release table whose checksums are those of ``body``."""
    real = RELEASES[name]
    fields = {"name": name, "zip_name": real.zip_name, "folder": real.folder,
              "sha256": hashlib.sha256(body).hexdigest(), "md5": hashlib.md5(body).hexdigest(),
              "size": len(body), "moving": real.moving}
    return {name: Release(**{**fields, **changes})}


@pytest.fixture
def small(server: _Server, tmp_path: Path) -> tuple[_Server, dict[str, Release], Path]:
    """ml-10m (its zip folder is ml-10M100K) served; its table; an empty destination."""
    body = make_zip(tmp_path, "ml-10m", "ml-10M100K")
    server.files["ml-10m.zip"] = body
    return server, pinned("ml-10m", body), tmp_path / "data"


def leftovers(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir()) if dest.exists() else []


@pytest.mark.parametrize("name", list(RELEASES))
def test_every_release_lands_in_dest_name_and_loads(name, server, tmp_path, caplog):
    body = make_zip(tmp_path, name, RELEASES[name].folder)
    server.files[RELEASES[name].zip_name] = body
    dest = tmp_path / "data"
    with caplog.at_level(logging.INFO, logger="reco.data.fetch"):
        path = fetch_movielens(name, dest, base_url=server.url, releases=pinned(name, body))
    assert path == dest / name
    assert leftovers(dest) == [name]  # no .part, no temporary folder
    marker = json.loads((path / MARKER).read_text())
    assert marker["sha256"] == hashlib.sha256(body).hexdigest() and marker["verified"]
    assert reco.load_movielens(path).ratings.equals(fixtures.expected_ratings())
    assert any("MB/s" in r.getMessage() for r in caplog.records)  # the progress line


def test_second_call_does_not_touch_the_server(small):
    server, table, dest = small
    first = fetch_movielens("ml-10m", dest, base_url=server.url, releases=table)
    assert len(server.requests) == 1
    assert fetch_movielens("ml-10m", dest, base_url=server.url, releases=table) == first
    assert len(server.requests) == 1


def test_an_incomplete_folder_is_fetched_again(small):
    server, table, dest = small
    path = fetch_movielens("ml-10m", dest, base_url=server.url, releases=table)
    (path / "ratings.dat").write_text("1::1::5::1\n")
    fetch_movielens("ml-10m", dest, base_url=server.url, releases=table)
    assert len(server.requests) == 2
    assert reco.load_movielens(path).ratings.equals(fixtures.expected_ratings())


def test_a_folder_not_made_by_fetch_is_kept_unless_forced(small):
    server, table, dest = small
    (dest / "ml-10m").mkdir(parents=True)
    (dest / "ml-10m" / "mine.txt").write_text("hand-unzipped")
    with pytest.raises(DownloadError, match="not made by fetch_movielens.*--force"):
        fetch_movielens("ml-10m", dest, base_url=server.url, releases=table)
    assert server.requests == []
    path = fetch_movielens("ml-10m", dest, base_url=server.url, releases=table, force=True)
    assert not (path / "mine.txt").exists() and leftovers(dest) == ["ml-10m"]


def test_checksum_mismatch_names_url_and_both_digests_and_leaves_nothing(small):
    server, table, dest = small
    wrong = "0" * 64
    table = {"ml-10m": Release("ml-10m", "ml-10m.zip", "ml-10M100K", sha256=wrong)}
    actual = hashlib.sha256(server.files["ml-10m.zip"]).hexdigest()
    with pytest.raises(DownloadError) as error:
        fetch_movielens("ml-10m", dest, base_url=server.url, releases=table)
    message = str(error.value)
    assert f"{server.url}ml-10m.zip" in message and "sha256 mismatch" in message
    assert f"expected {wrong}" in message and f"got {actual}" in message
    assert leftovers(dest) == []


def test_truncated_transfer_keeps_the_part_and_the_next_call_resumes(small):
    server, table, dest = small
    half = len(server.files["ml-10m.zip"]) // 2
    server.cut_after = half
    with pytest.raises(DownloadError, match=rf"ml-10m\.zip: transfer ended early, {half} of \d+"):
        fetch_movielens("ml-10m", dest, base_url=server.url, releases=table)
    assert (dest / "ml-10m.zip.part").stat().st_size == half
    assert not (dest / "ml-10m").exists()
    path = fetch_movielens("ml-10m", dest, base_url=server.url, releases=table)
    assert server.requests[-1][1] == f"bytes={half}-"
    assert leftovers(dest) == ["ml-10m"]
    assert reco.load_movielens(path).ratings.equals(fixtures.expected_ratings())


def test_a_server_ignoring_range_gives_a_clean_restart(small):
    server, table, dest = small
    dest.mkdir()
    (dest / "ml-10m.zip.part").write_bytes(b"stale bytes from another file")
    server.ignore_range = True
    path = fetch_movielens("ml-10m", dest, base_url=server.url, releases=table)
    assert server.requests == [("/datasets/movielens/ml-10m.zip", "bytes=29-")]
    assert reco.load_movielens(path).ratings.equals(fixtures.expected_ratings())


def test_a_complete_part_is_verified_without_downloading_again(small):
    server, table, dest = small
    dest.mkdir()
    (dest / "ml-10m.zip.part").write_bytes(server.files["ml-10m.zip"])
    fetch_movielens("ml-10m", dest, base_url=server.url, releases=table)
    size = len(server.files["ml-10m.zip"])
    assert server.requests == [("/datasets/movielens/ml-10m.zip", f"bytes={size}-")]  # the 416
    assert leftovers(dest) == ["ml-10m"]


def test_http_404_names_url_and_status(small):
    server, _, dest = small
    with pytest.raises(DownloadError, match=r"movielens/ml-1m\.zip: HTTP 404"):
        fetch_movielens("ml-1m", dest, base_url=server.url, releases=RELEASES)
    assert leftovers(dest) == []


def test_connection_refused_and_timeout_are_named(small, tmp_path):
    server, table, dest = small
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    refused = rf"127\.0\.0\.1:{port}/ml-10m\.zip: connection refused"
    with pytest.raises(DownloadError, match=refused):
        fetch_movielens("ml-10m", dest, base_url=f"http://127.0.0.1:{port}", releases=table)
    server.delay = 0.5
    with pytest.raises(DownloadError, match=r"ml-10m\.zip: timed out after 0\.1 s"):
        fetch_movielens("ml-10m", dest, base_url=server.url, releases=table, timeout=0.1)


def test_a_bad_zip_or_an_unexpected_folder_is_deleted(server, tmp_path):
    body = b"PK\x03\x04 this is not really a zip"
    server.files["ml-1m.zip"] = body
    dest = tmp_path / "data"
    with pytest.raises(DownloadError, match=r"ml-1m\.zip: not a valid zip"):
        fetch_movielens("ml-1m", dest, base_url=server.url, releases=pinned("ml-1m", body))
    assert leftovers(dest) == []
    body = make_zip(tmp_path, "ml-1m", "ml-1M")
    server.files["ml-1m.zip"] = body
    wrong_folder = r"expected the folder ml-1m/ in the zip, found \['ml-1M'\]"
    with pytest.raises(DownloadError, match=wrong_folder):
        fetch_movielens("ml-1m", dest, base_url=server.url, releases=pinned("ml-1m", body))
    assert leftovers(dest) == []


def test_unknown_release_lists_the_valid_names():
    with pytest.raises(ConfigError, match="'ml-5m'.*ml-100k, ml-1m, ml-10m, .*ml-latest"):
        fetch_movielens("ml-5m", "unused")


def test_the_environment_variable_sets_the_base_url(small, monkeypatch):
    server, table, dest = small
    monkeypatch.setenv(fetch.BASE_URL_ENV, server.url)
    assert fetch_movielens("ml-10m", dest, releases=table) == dest / "ml-10m"


def test_the_release_table_is_well_formed():
    for name, release in RELEASES.items():
        assert release.name == name and release.zip_name == f"{name}.zip"
        assert release.url().startswith("https://files.grouplens.org/datasets/movielens/")
        assert release.sha256 or release.moving  # only a moving target may lack a pin
    assert RELEASES["ml-10m"].folder == "ml-10M100K"
    with pytest.raises(ValueError, match="sha256 must be 64 lowercase hex"):
        Release("x", "x.zip", "x", sha256="ABC")


def test_main_returns_0_with_the_path_on_stdout_and_2_on_errors(small, monkeypatch, capsys):
    server, table, dest = small
    monkeypatch.setattr(fetch, "RELEASES", table)
    assert script.main(["ml-10m", "--dest", str(dest), "--base-url", server.url, "-q"]) == 0
    assert capsys.readouterr().out.strip() == str(dest / "ml-10m")
    assert script.main(["ml-5m", "--dest", str(dest), "--base-url", server.url]) == 2
    monkeypatch.setattr(fetch, "RELEASES", RELEASES)
    assert script.main(["ml-1m", "--dest", str(dest), "--base-url", server.url]) == 2


def test_an_unverified_fetch_is_cached_like_a_verified_one(server, tmp_path, caplog):
    server.files["ml-latest.zip"] = make_zip(tmp_path, "ml-latest", "ml-latest")
    with caplog.at_level(logging.WARNING, logger="reco.data.fetch"):
        fetch_movielens("ml-latest", tmp_path / "other", base_url=server.url, verify=False)
    assert any("NOT VERIFYING" in r.getMessage() for r in caplog.records)
    seen = len(server.requests)
    fetch_movielens("ml-latest", tmp_path / "other", base_url=server.url, verify=False)
    assert len(server.requests) == seen
