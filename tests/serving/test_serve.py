"""scripts/serve.py: gunicorn really serves the trained artifacts."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts import serve
from scripts.bench.serve import free_port

ROOT = Path(__file__).resolve().parents[2]


def _start(artifacts: Path) -> tuple[subprocess.Popen, int]:
    """scripts/serve.py on a free loopback port (not waited for); the process and port."""
    pytest.importorskip("gunicorn")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "serve.py"), "--artifacts", str(artifacts),
         "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, port


@contextlib.contextmanager
def _gunicorn(artifacts: Path) -> Iterator[int]:
    """scripts/serve.py on a free loopback port, once a worker answers; its port."""
    process, port = _start(artifacts)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"server did not answer; exit code {process.poll()}") from None
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.slow  # gunicorn in a subprocess: ~3 s of process start and model loading
def test_gunicorn_serves_the_api(trained):
    with _gunicorn(trained) as port, urllib.request.urlopen(
            f"http://127.0.0.1:{port}/recommend/1?k=3", timeout=20) as r:
        body = json.load(r)
    assert len(body["items"]) == 3


def test_serve_refuses_missing_or_untrained_artifacts(tmp_path):
    assert serve.main(["--artifacts", str(tmp_path / "none")]) == 2
    (tmp_path / "manifest.json").write_text(json.dumps({"format_version": 1}))
    assert serve.main(["--artifacts", str(tmp_path)]) == 2


@pytest.mark.slow  # gunicorn again, and a load run against it
def test_benchmark_serve_measures_every_endpoint(trained, tmp_path):
    pytest.importorskip("gunicorn")
    from scripts import benchmark

    out, doc = tmp_path / "serve.json", tmp_path / "BENCH.md"
    doc.write_text("# Benchmarks\n\n## Other\n\nkept\n")
    assert benchmark.main(["serve", "--artifacts", str(trained), "--requests", "12",
                           "--repeats", "1", "--out", str(out), "--doc", str(doc),
                           "--name", "tiny"]) == 0
    report = json.loads(out.read_text())
    endpoints = report["runs"][0]["endpoints"]
    assert [e["endpoint"] for e in endpoints] == ["/recommend", "/similar", "POST /recommend",
                                                  "/movies"]
    assert all(e["requests"] == 12 and e["errors"] == 0 for e in endpoints)
    assert report["medians"]["POST /recommend p50_ms"] > 0
    assert {t["status"] for t in report["targets"]} <= {"met", "missed"}
    text = doc.read_text()
    assert "## Other\n\nkept" in text and "## Serving: tiny (issue: serving)" in text
    assert "| `POST /recommend` p50, ms |" in text and "Errors: 0." in text
    assert "the HTTP floor) p50, ms |" in text and report["medians"]["/movies p50_ms"] > 0


def test_serve_picks_the_newest_version_that_verifies(trained, tmp_path, caplog):
    import logging
    import shutil

    from reco.artifacts import store

    root = tmp_path / "store"
    shutil.copytree(trained, root, symlinks=True)
    good = store.resolve(root)
    bad = root / "versions" / ("29991231T000000Z-" + "0" * 16)  # newer, and broken
    shutil.copytree(good, bad)
    store.ArtifactStore(root).set_pointer(bad.name)
    with caplog.at_level(logging.WARNING):
        assert serve.choose_version(root) == good
    assert "newest that verifies" in caplog.text and bad.name in caplog.text
    shutil.rmtree(good)  # none left that verifies: exit 2, one line
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        assert serve.main(["--artifacts", str(root)]) == 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "\n" not in errors[0].getMessage()


def test_serve_checks_its_options(capsys):
    with pytest.raises(SystemExit) as exit_:
        serve.parse_args(["--reload-seconds", "-1"])
    assert exit_.value.code == 2 and "--reload-seconds" in capsys.readouterr().err


def _raw(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body


@pytest.mark.slow  # gunicorn in a subprocess
def test_what_gunicorn_refuses_itself_is_answered_as_reco_json(trained):
    with _gunicorn(trained) as port:
        cases = {
            b"GARBAGE\r\n\r\n": 400,
            b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n": 414,
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n": 431,
            b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(120)) + b"\r\n":
                431,
            b"POST /recommend HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nZZ\r\n": 400,
        }
        for request, status in cases.items():
            code, headers, body = _raw(port, request)
            assert code == status, (request[:40], code, body[:200])
            assert headers["Content-Type"] == "application/json"
            error = json.loads(body)["error"]
            assert error["status"] == status and error["request_id"] == headers["X-Request-Id"]
            assert b"aaaa" not in body and b"bbbb" not in body and b"<html" not in body


def test_a_busy_port_is_one_line_and_exit_2_before_anything_serves(trained, caplog):
    import logging
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with caplog.at_level(logging.INFO):
            assert serve.main(["--artifacts", str(trained), "--port", str(port)]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "in use" in errors[0] and "--port" in errors[0]
    assert not any("serving version" in r.getMessage() for r in caplog.records)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.slow  # gunicorn in a subprocess
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGKILL"])
def test_stopping_the_front_stops_gunicorn_too(trained, signal_name):
    import os
    import signal

    process, _ = _start(trained)
    try:
        deadline = time.monotonic() + 60
        while not _children(process.pid):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        master = _children(process.pid)[0]
        time.sleep(1.0)  # gunicorn's own signal handlers installed
        os.kill(process.pid, getattr(signal, signal_name))
        process.wait(timeout=60)
        # SIGKILL: the child's death signal, then its stop. Well under gunicorn's graceful
        # timeout (30 s): a worker still booting must not lose the stop and be waited for
        deadline = time.monotonic() + 20
        while _alive(master) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(master), "gunicorn outlived the front by 20 s"
        if signal_name == "SIGTERM":
            assert process.returncode == 0
    finally:
        if process.poll() is None:
            process.kill()
