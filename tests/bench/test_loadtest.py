"""scripts.bench.loadtest: bounded, loopback-only load."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from scripts.bench.loadtest import check_loopback, run_load


@contextmanager
def _serving(app: Callable) -> Iterator[int]:
    """``app`` on a loopback port for the block; yields the port."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    # shutdown() waits for the loop to look again: every 20 ms, not the default 0.5 s
    threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True).start()
    try:
        yield httpd.server_port
    finally:
        httpd.shutdown()


def test_only_loopback_targets_are_allowed():
    for host in ("127.0.0.1", "127.5.6.7", "::1", "localhost"):
        check_loopback(host)
    for host in ("10.0.0.1", "192.168.1.2", "8.8.8.8"):
        with pytest.raises(ValueError, match="loopback"):
            check_loopback(host)


def test_run_load_counts_requests_and_errors():
    def app(environ, start_response):
        status = 404 if environ["PATH_INFO"].startswith("/missing") else 200
        return Response("ok", status=status)(environ, start_response)

    with _serving(app) as port:
        result = run_load("127.0.0.1", port, ["/a"] * 30 + ["/missing"] * 5, "/a", concurrency=3)
    summary = result.summary()
    assert summary["requests"] == 35 and summary["errors"] == 5
    assert 0 < summary["p50_ms"] <= summary["p99_ms"] and summary["requests_per_s"] > 0


def test_run_load_posts_bodies():
    seen = []

    def app(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        seen.append((environ["REQUEST_METHOD"], environ.get("CONTENT_TYPE"),
                     environ["wsgi.input"].read(length)))
        return Response("ok")(environ, start_response)

    bodies = [b'{"n": %d}' % i for i in range(6)]
    with _serving(app) as port:
        result = run_load("127.0.0.1", port, ["/p"] * 6, "POST /p", 2, bodies=bodies)
        with pytest.raises(ValueError, match="2 bodies for 6 paths"):
            run_load("127.0.0.1", port, ["/p"] * 6, "POST /p", 2, bodies=bodies[:2])
    assert result.summary()["errors"] == 0
    assert sorted(b for _, _, b in seen) == sorted(bodies)
    assert {(m, t) for m, t, _ in seen} == {("POST", "application/json")}
