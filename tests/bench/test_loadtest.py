"""scripts.bench.loadtest: bounded, loopback-only load."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from scripts.bench.loadtest import check_loopback, run_load


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

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        paths = ["/a"] * 30 + ["/missing"] * 5
        result = run_load("127.0.0.1", httpd.server_port, paths, "/a", concurrency=3)
    finally:
        httpd.shutdown()
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

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        bodies = [b'{"n": %d}' % i for i in range(6)]
        result = run_load("127.0.0.1", httpd.server_port, ["/p"] * 6, "POST /p", 2, bodies=bodies)
        with pytest.raises(ValueError, match="2 bodies for 6 paths"):
            run_load("127.0.0.1", httpd.server_port, ["/p"] * 6, "POST /p", 2, bodies=bodies[:2])
    finally:
        httpd.shutdown()
    assert result.summary()["errors"] == 0
    assert sorted(b for _, _, b in seen) == sorted(bodies)
    assert {(m, t) for m, t, _ in seen} == {("POST", "application/json")}
