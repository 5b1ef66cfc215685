"""Hostile requests against a live server: raw bytes on a socket, each judged by its answer.

``attack_requests`` builds the corpus: over 200 hand-written requests in families (bad
framing, odd methods, huge or deep bodies, traversal, Unicode digits and other spellings of
an id, huge URLs and headers, bad JSON, wrong media types, header injection). Each is
sent on its own loopback connection by ``run_attack`` against ``scripts/serve.py``;
an answer passes when it is not a 5xx (a 503 is allowed only while no model is loaded, never
here), carries a JSON body when it is an error, and that body holds no traceback, path,
address or library name. A connection the server closes without an answer (gunicorn drops
a request it cannot even frame) counts separately, as "closed", and is allowed.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from pathlib import Path
from typing import Any

from scripts.bench.loadtest import check_loopback
from scripts.bench.serve import free_port, start_server

#: What no body may carry (the same rule as tests/test_api.py's LEAK).
LEAK = re.compile(r"Traceback|File \"|(?:^|[\s(\"'=:])/(?:tmp|root|usr|home|opt|work|venv)\b"
                  r"|0x[0-9a-fA-F]{6,}|\[bt\]|site-packages|werkzeug|gunicorn|xgboost|polars",
                  re.IGNORECASE)
HOST = b"Host: 127.0.0.1\r\n"


def _get(path: bytes, headers: bytes = b"") -> bytes:
    return b"GET " + path + b" HTTP/1.1\r\n" + HOST + headers + b"Connection: close\r\n\r\n"


def _post(body: bytes, content_type: bytes = b"application/json", path: bytes = b"/recommend",
          length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return (b"POST " + path + b" HTTP/1.1\r\n" + HOST + b"Content-Type: " + content_type
            + b"\r\nContent-Length: " + str(size).encode() + b"\r\nConnection: close\r\n\r\n"
            + body)


def attack_requests() -> list[tuple[str, bytes]]:
    """(family, raw request) pairs; at least 200."""
    out: list[tuple[str, bytes]] = []
    ids = ["007", "+1", "-1", " 1", "1 ", "1_0", "1e3", "0x10", "１", "١", "٣٢", "१", "½",
           "1.0", "2147483648", "9" * 40, "", "%00", "%20", "%2B1", "%EF%BC%91", "NaN", "inf",
           "null", "[]", "{}", "1;DROP", "1%0d%0aX-Injected:%201", "%ff%fe", "..", "%2e%2e"]
    for route in (b"/recommend/", b"/similar/", b"/movies/", b"/users/"):
        for spelling in ids:
            out.append(("id spellings", _get(route + spelling.encode("utf-8"))))
    for value in ["0", "101", "-1", "1.5", "", "%20", "１０", "10abc", "9" * 30, "true"]:
        out.append(("integer parameters", _get(b"/recommend/1?k=" + value.encode())))
        out.append(("integer parameters", _get(b"/movies?q=a&limit=" + value.encode())))
    for traversal in [b"/../../etc/passwd", b"/static/../../api.py", b"/static/..%2f..%2fapi.py",
                      b"/static/%2e%2e/%2e%2e/setup.cfg", b"//etc/passwd", b"/recommend//1",
                      b"/static/../reco/__init__.py", b"/%2e%2e/%2e%2e/", b"/static/.%00.",
                      b"/static/index.html%00.png", b"/\\..\\..\\windows", b"/static//etc/passwd"]:
        out.append(("traversal", _get(traversal)))
    for method in [b"TRACE", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"CONNECT", b"PROPFIND",
                   b"FOO", b"get", b"G\xc3\xa9T", b"POST"]:
        out.append(("methods", method + b" /recommend/1 HTTP/1.1\r\n" + HOST
                    + b"Content-Length: 0\r\nConnection: close\r\n\r\n"))
    framing = [b"GARBAGE\r\n\r\n", b"GET /\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
               b"GET / HTTP/1.1\r\nHost\r\n\r\n", b"GET / HTTP/1.1\r\n: x\r\n\r\n",
               b"GET / HTTP/1.1\r\nHost: a\r\n folded: yes\r\n\r\n",
               b"GET / HTTP/1.1\nHost: a\n\n", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
               b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
               b"POST /recommend HTTP/1.1\r\n" + HOST + b"Content-Length: 5\r\n"
               b"Content-Length: 6\r\n\r\nhello!",
               b"POST /recommend HTTP/1.1\r\n" + HOST + b"Content-Length: -1\r\n\r\n",
               b"POST /recommend HTTP/1.1\r\n" + HOST + b"Content-Length: abc\r\n\r\n",
               b"POST /recommend HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n"
               b"Content-Type: application/json\r\n\r\nZZ\r\n",
               b"POST /recommend HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n"
               b"Content-Length: 4\r\n\r\n0\r\n\r\n",
               b"POST /recommend HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: gzip\r\n\r\n",
               b"GET / HTTP/1.1\r\n" + HOST + b"X: \x00\r\n\r\n",
               b"GET /\x00 HTTP/1.1\r\n" + HOST + b"\r\n",
               b"GET /recommend/1 HTTP/1.1\r\n" + HOST + b"Expect: 100-continue\r\n\r\n",
               b"\r\n\r\n\r\n", b" GET / HTTP/1.1\r\n\r\n"]
    out += [("framing", raw) for raw in framing]
    out += [("huge URL", _get(b"/movies?q=" + b"a" * n)) for n in (200, 201, 4000, 5000, 70000)]
    out += [("huge URL", _get(b"/" + b"a" * n)) for n in (1000, 5000)]
    out += [("huge headers", _get(b"/health", b"X-Big: " + b"b" * n + b"\r\n"))
            for n in (8000, 9000, 70000)]
    out += [("huge headers", _get(b"/health", b"".join(b"X-%d: 1\r\n" % i for i in range(n))))
            for n in (99, 101, 1000)]
    out += [("header injection", _get(b"/health", h)) for h in (
        b"X-Request-Id: abc\r\nX-Request-Id: def\r\n", b"X-Request-Id: " + b"x" * 500 + b"\r\n",
        b"X-Request-Id: a\xffb\r\n", b"X-Request-Id: <script>alert(1)</script>\r\n",
        b"Content-Type: application/json\r\n", b"Host: evil.example\r\n")]
    one = b'{"movie_id": 1, "rating": 4.0}'
    bodies = [b"", b"null", b"[]", b"{}", b"1", b'"x"', b"{", b'{"ratings": ', b"\xff\xfe\x00",
              b'{"ratings": []}', b'{"ratings": {}}', b'{"ratings": [1]}', b'{"ratings": [null]}',
              b'{"ratings": [{"movie_id": "1", "rating": 4}]}',
              b'{"ratings": [{"movie_id": 1, "rating": NaN}]}',
              b'{"ratings": [{"movie_id": 1, "rating": Infinity}]}',
              b'{"ratings": [{"movie_id": 1, "rating": 1e999}]}',
              b'{"ratings": [{"movie_id": 1, "rating": true}]}',
              b'{"ratings": [{"movie_id": 1.5, "rating": 4}]}',
              b'{"ratings": [{"movie_id": -1, "rating": 4}]}',
              b'{"ratings": [{"movie_id": 99999999999999999999, "rating": 4}]}',
              b'{"ratings": [{"movie_id": 1, "rating": 4, "timestamp": null}]}',
              b'{"ratings": [{"movie_id": 1, "rating": 4, "timestamp": -5}]}',
              b'{"ratings": [{"movie_id": 1, "rating": 4, "timestamp": 1e30}]}',
              b'{"ratings": [' + b",".join([one] * 1001) + b"]}",
              b'{"ratings": [' + b",".join([one] * 3) + b"]}",
              b'{"ratings": [' + one + b"], " + b'"ratings": []}',
              b"[" * 10000 + b"]" * 10000, b'{"a":' * 3000 + b"1" + b"}" * 3000,
              b'{"ratings": [' + one + b'], "x": "' + b"\\u0000" * 100 + b'"}',
              b'{"ratings": [' + one + b'], "x": "\xed\xa0\x80"}']
    out += [("bodies", _post(body)) for body in bodies]
    out += [("big bodies", _post(b'{"ratings": [' + b" " * n + one + b"]}"))
            for n in (100_000, 128_000, 200_000, 1_000_000)]
    out += [("big bodies", _post(b"{}", length=100_000_000)),  # promised, never sent
            ("big bodies", _post(b'{"ratings": [' + one + b"]}", length=5))]  # cut short
    out += [("media types", _post(b'{"ratings": [' + one + b"]}", ctype)) for ctype in (
        b"text/plain", b"application/x-www-form-urlencoded", b"multipart/form-data; boundary=x",
        b"application/json; charset=latin-1", b"application/xml", b"", b"application/json\x00")]
    out += [("query filters", _get(b"/recommend/1?" + q)) for q in (
        b"genre=", b"genre=%00", b"genre=" + b"A" * 300, b"genre=Comedy&genre=Nope",
        b"exclude=1,,2", b"exclude=" + b",".join([b"1"] * 2000), b"year_min=abc",
        b"year_min=1799", b"year_max=2101", b"family=maybe", b"family=true",
        b"exclude_seen=", b"k=10&k=11", b"%zz=1", b"q=" + b"%ff" * 50)]
    out += [("search", _get(b"/movies?q=" + q)) for q in (
        b"", b"%00", b"%ff%fe", b"a" * 200, b"a" * 201, b"%E2%80%AE", b"%F0%9F%98%80",
        b"the+matrix", b"..%2f..%2f", b"%25", b"*", b".*", b"(", b"[", b"\\")]
    return out


def _send(port: int, raw: bytes, timeout: float = 20.0) -> tuple[int | None, dict[str, str],
                                                                    bytes]:
    """The status, headers and body of the answer (status None: closed without one)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may close first (a refused header block): read what it said
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except OSError:
            pass
    data = b"".join(chunks)
    if not data.startswith(b"HTTP/"):
        return None, {}, data
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def judge(status: int | None, headers: dict[str, str], body: bytes) -> str | None:
    """Why an answer fails (None: it passes)."""
    if status is None:
        return None  # closed without an answer: allowed (counted apart)
    if status >= 500:
        return f"{status}"
    text = body.decode("utf-8", "replace")
    if status >= 400:
        if "application/json" not in headers.get("content-type", ""):
            return f"{status} not JSON"
        try:
            json.loads(text)["error"]["request_id"]
        except (ValueError, KeyError, TypeError):
            return f"{status} not reco's error shape"
    if LEAK.search(text) and headers.get("content-type", "").startswith("application/json"):
        return f"{status} leaks: {LEAK.search(text).group(0)!r}"  # type: ignore[union-attr]
    return None


def mixed_load(port: int, artifacts: Path, requests: int, concurrency: int) -> dict[str, Any]:
    """A bounded mixed load (the lifecycle benchmark's mix: recommend, similar, POST,
    health and 5% deliberately bad requests) on the running server: failures and latency."""
    from scripts.bench.lifecycle import MixedLoad, latency, load_summary, request_plan

    load = MixedLoad(port, request_plan(artifacts), concurrency, requests, seconds=600).start()
    samples = load.join()
    summary = load_summary(samples, load.started)
    good = latency(samples)
    return {**{k: summary[k] for k in ("requests", "failed", "expected_4xx")},
            "p50_ms": good["p50_ms"], "p99_ms": good["p99_ms"], "concurrency": concurrency,
            "requests_per_s": round(len(samples) / max(load.ended - load.started, 1e-9), 1),
            "first_failures": summary["first_failures"][:5]}


def run_attack(artifacts: Path, workers: int = 2, stack: str = "front",
               mixed_requests: int = 0, concurrency: int = 8) -> dict[str, Any]:
    check_loopback("127.0.0.1")
    requests = attack_requests()
    port = free_port()
    process, _ = start_server(artifacts, port, workers, stack)
    failures: list[dict[str, Any]] = []
    families: dict[str, dict[str, int]] = {}
    closed = 0
    started = time.perf_counter()
    try:
        for family, raw in requests:
            try:
                status, headers, body = _send(port, raw)
            except OSError as exc:
                status, headers, body = None, {}, b""
                failures.append({"family": family, "request": raw[:80].decode("latin-1"),
                                 "why": f"connection failed: {exc.__class__.__name__}"})
                continue
            closed += status is None
            why = judge(status, headers, body)
            counts = families.setdefault(family, {"requests": 0, "failed": 0})
            counts["requests"] += 1
            if why is not None:
                counts["failed"] += 1
                failures.append({"family": family, "request": raw[:80].decode("latin-1"),
                                 "why": why, "body": body[:200].decode("utf-8", "replace")})
        mixed = (mixed_load(port, artifacts, mixed_requests, concurrency)
                 if mixed_requests else None)
        alive = process.poll() is None
    finally:
        process.terminate()
        process.wait(timeout=60)
    return {"requests": len(requests), "failed": len(failures), "closed_without_answer": closed,
            "mixed": mixed,
            "families": families, "failures": failures[:50], "server_alive": alive,
            "seconds": round(time.perf_counter() - started, 1), "stack": stack,
            "load_average": os.getloadavg()}


_STACK_WORDS = {"front": "reco's buffering front before gunicorn's sync workers",
                "gevent": "gunicorn's gevent workers facing clients",
                "sync": "gunicorn's sync workers facing clients",
                "gthread": "gunicorn's gthread workers facing clients"}


def render_attack(result: dict[str, Any], command: str) -> str:
    stack = _STACK_WORDS.get(result["stack"], result["stack"])
    lines = [f"Command: `{command}`", "",
             f"{result['requests']} hand-written hostile requests, each on its own loopback "
             f"connection to `scripts/serve.py` ({stack}). "
             "A request fails on a 5xx, an error that is not reco's JSON error, or a body "
             "with a traceback, path, address or library name. Load average at the end: "
             f"{', '.join(f'{x:.2f}' for x in result['load_average'])}.", "",
             "| family | requests | failed |", "| --- | ---: | ---: |"]
    for family, counts in result["families"].items():
        lines.append(f"| {family} | {counts['requests']} | {counts['failed']} |")
    lines += ["", f"Failed: {result['failed']} of {result['requests']}; closed by the server "
                  f"without an answer: {result['closed_without_answer']}; server alive at the "
                  f"end: {'yes' if result['server_alive'] else 'no'}."]
    for failure in result["failures"][:10]:
        lines.append(f"- {failure['family']}: `{failure['request'][:60]!r}`: {failure['why']}")
    mixed = result.get("mixed")
    if mixed:
        lines += ["", f"Then, on the same server, a bounded mixed load: {mixed['requests']:,} "
                      f"requests at concurrency {mixed['concurrency']} (5% deliberately bad, "
                      f"{mixed['expected_4xx']:,} answered their 4xx): {mixed['failed']} "
                      f"failed; good requests p50 {mixed['p50_ms']} ms, p99 "
                      f"{mixed['p99_ms']} ms, {mixed['requests_per_s']} requests/s."]
    return "\n".join(lines) + "\n"
