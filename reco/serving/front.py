"""The buffering front: the one process that faces clients.

``scripts/serve.py`` runs it on the public address, in front of gunicorn's sync workers,
which listen on a Unix socket in a private directory. The front reads each request whole
(headers within ``header_seconds``, the body within ``body_seconds``, both bounded in
bytes), and only then hands it to a worker; it reads the worker's whole answer and writes
it to the client itself. So a worker never waits on a client: a slow or stalled client costs
one coroutine here, and every complete request waits in one first-in-first-out queue (the
Unix socket's accept queue) for the next free worker.

Why not gevent workers, which also cost a greenlet per slow client: a gevent worker keeps
the requests of every connection it accepted, so when it is descheduled or busy, they wait
behind it while the other worker may be idle. Under a mixed load of 8 clients that gave a
p99 3.7 times the sync workers' (docs/BENCHMARKS.md, "Serving stack").

The front is strict about framing so that it and gunicorn can never disagree on where a
request ends: a header name must be a token, lines end in CRLF, one ``Content-Length`` of
ASCII digits, ``Transfer-Encoding: chunked`` alone (decoded here and sent on with a length),
no both. Anything else is answered here with reco's JSON error, as is every failure of the
path to a worker (503 while none listens, 504 past ``backend_seconds``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import signal
import socket
import subprocess
from dataclasses import dataclass
from typing import Any, cast

from reco.serving.limits import MAX_BODY_BYTES

log = logging.getLogger(__name__)

#: RFC 9110's token characters: what a header name may be made of.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_DIGITS = re.compile(rb"[0-9]{1,12}")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,8}")
_HOP_BY_HOP = {b"expect", b"x-forwarded-for", b"transfer-encoding", b"content-length"}

#: What each status the front or gunicorn answers on its own means to a client. Fixed
#: messages: nothing of the client's request is repeated.
MESSAGES = {
    400: "malformed HTTP request (request line, headers or chunked framing)",
    403: "request forbidden",
    408: "the request did not arrive in time",
    413: "the request body is too large",
    414: "the request line (method and URL) is too long",
    417: "unsupported Expect header",
    431: "too many or too large request headers",
    500: "the server could not handle the request",
    501: "unsupported transfer coding",
    502: "the server failed while answering; try again",
    503: "the server is starting or restarting; try again shortly",
    504: "the server took too long to answer",
}
REASONS = {400: "Bad Request", 403: "Forbidden", 408: "Request Timeout",
           413: "Content Too Large", 414: "URI Too Long", 417: "Expectation Failed",
           431: "Request Header Fields Too Large", 500: "Internal Server Error",
           501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}


def json_error(status: int, reason: str | None = None, message: str | None = None) -> bytes:
    """A whole HTTP response carrying reco's JSON error (the API's shape: status, name,
    message, request id, also sent as ``X-Request-Id``); the connection closes after it."""
    reason = reason or REASONS.get(status, "Error")
    request_id = secrets.token_hex(8)
    body = json.dumps({"error": {
        "status": status, "name": reason.lower().replace(" ", "_"),
        "message": message or MESSAGES.get(status, "the request could not be handled"),
        "request_id": request_id}}).encode()
    retry = "Retry-After: 1\r\n" if status == 503 else ""
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"{retry}X-Request-Id: {request_id}\r\n\r\n").encode("latin-1")
    return head + body


@dataclass(frozen=True)
class FrontConfig:
    """Limits of the front. The defaults: a header block within 10 s (a client that
    trickles it is dropped then, with 408), a body within 30 s (4.3 kB/s for the largest
    allowed), gunicorn's own line limit, 100 header fields in 32 KiB, an answer from a
    worker within 60 s (gunicorn kills a worker stuck for 30 s first)."""

    backend: str
    header_seconds: float = 10.0
    body_seconds: float = 30.0
    backend_seconds: float = 60.0
    write_seconds: float = 30.0
    max_request_line: int = 4094
    max_header_bytes: int = 32768
    max_header_fields: int = 100
    max_body_bytes: int = MAX_BODY_BYTES
    max_connections: int = 4096
    drain_seconds: float = 10.0

    def __post_init__(self) -> None:
        for name in ("header_seconds", "body_seconds", "backend_seconds", "write_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"FrontConfig.{name} must be positive")
        if self.max_connections < 1 or self.max_body_bytes < 0:
            raise ValueError("FrontConfig limits must be positive")


class _Refuse(Exception):
    """A request the front answers itself with ``status``."""

    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(status)
        self.status, self.message = status, message


def parse_head(head: bytes, config: FrontConfig) -> tuple[bytes, list[bytes], int | None,
                                                          bool, bool]:
    """Check one header block (ending in CRLF CRLF): the request line, the header lines
    without framing and hop-by-hop ones, the Content-Length (None without one), whether the
    body is chunked and whether the client waits for ``100 Continue``. ``_Refuse`` on
    anything the front and gunicorn could read differently."""
    lines = head[:-4].split(b"\r\n")
    if any(b"\n" in line or b"\r" in line for line in lines):
        raise _Refuse(400)
    request_line = lines[0]
    if len(request_line) > config.max_request_line:
        raise _Refuse(414)
    if len(request_line.split(b" ")) != 3:
        raise _Refuse(400)
    if len(lines) - 1 > config.max_header_fields:
        raise _Refuse(431)
    kept: list[bytes] = []
    lengths: list[bytes] = []
    codings: list[bytes] = []
    expects: list[bytes] = []
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not _TOKEN.fullmatch(name):
            raise _Refuse(400)  # also folded lines, which begin with a space
        key, value = name.lower(), value.strip(b" \t")
        if key == b"content-length":
            lengths.append(value)
        elif key == b"transfer-encoding":
            codings.append(value.lower())
        elif key == b"expect":
            expects.append(value.lower())
        if key not in _HOP_BY_HOP:
            kept.append(line)
    if codings and lengths:
        raise _Refuse(400)  # the classic smuggling ambiguity: refuse, never guess
    if codings:
        if codings != [b"chunked"]:
            # 400, not 501: the client can resend it chunked or with a length
            raise _Refuse(400, "only the chunked transfer coding is accepted")
        return request_line, kept, None, True, expects == [b"100-continue"]
    if len(lengths) > 1 or (lengths and not _DIGITS.fullmatch(lengths[0])):
        raise _Refuse(400)
    length = int(lengths[0]) if lengths else None
    if length is not None and length > config.max_body_bytes:
        raise _Refuse(413)
    if expects and expects != [b"100-continue"]:
        kept.append(b"Expect: " + expects[0])  # gunicorn answers it (417)
    return request_line, kept, length, False, expects == [b"100-continue"]


def decode_chunked(data: bytes, limit: int) -> tuple[bytes, int] | None:
    """The body of a chunked message starting at ``data`` and the bytes it took, or None
    while it is incomplete; ``_Refuse`` when it is malformed or longer than ``limit``."""
    body, at = bytearray(), 0
    while True:
        end = data.find(b"\r\n", at)
        if end < 0:
            if len(data) - at > 1024:
                raise _Refuse(400)  # no chunk-size line is that long
            return None
        size_text = data[at:end].split(b";", 1)[0].strip(b" \t")
        if not _HEX.fullmatch(size_text):
            raise _Refuse(400)
        size = int(size_text, 16)
        if len(body) + size > limit:
            raise _Refuse(413)
        at = end + 2
        if size == 0:
            break
        if len(data) < at + size + 2:
            return None
        if data[at + size:at + size + 2] != b"\r\n":
            raise _Refuse(400)
        body += data[at:at + size]
        at += size + 2
    for _ in range(100):  # trailer fields, dropped
        end = data.find(b"\r\n", at)
        if end < 0:
            return None
        line, at = data[at:end], end + 2
        if not line:
            return bytes(body), at
    raise _Refuse(431)


def framed(body: bytes, peer: object, request_line: bytes,
           kept: list[bytes], has_body: bool) -> bytes:
    """The request as a worker gets it: the kept headers, the client's address as the front
    saw it, the length of the (decoded) body."""
    address = peer[0] if isinstance(peer, tuple) and peer else ""
    extra = [b"X-Forwarded-For: " + str(address).encode("latin-1")]
    if has_body:
        extra.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join([request_line, *kept, *extra]) + b"\r\n\r\n" + body


class _Client(asyncio.Protocol):
    """One client connection: one request read whole, one answer, then closed (as gunicorn's
    sync workers do). Callbacks, not coroutines: about a third of the CPU per request."""

    def __init__(self, front: Front) -> None:
        self.front = front
        self.loop = asyncio.get_running_loop()
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.parsed: tuple[bytes, list[bytes], int | None, bool, bool] | None = None
        self.body_at = 0
        self.state = "head"  # head, body, backend, answered

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.front.open += 1
        if self.front.open > self.front.config.max_connections:
            self.refuse(503)
            return
        self.timer = self.loop.call_later(self.front.config.header_seconds, self.expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self.front.open -= 1
        if self.timer is not None:
            self.timer.cancel()
        if self.state == "backend":
            self.state = "gone"  # the worker's answer, when it comes, goes nowhere

    def expired(self) -> None:
        if self.state in ("head", "body"):
            log.info("front: dropped a client whose request did not arrive in time")
            self.refuse(408)
        elif self.transport is not None:
            self.transport.abort()  # an answer the client would not read in time

    def data_received(self, data: bytes) -> None:
        if self.state not in ("head", "body"):
            return  # bytes after the request, or while a refusal lingers: dropped
        self.buffer += data
        try:
            self.advance()
        except _Refuse as refused:
            self.refuse(refused.status, refused.message)

    def eof_received(self) -> bool | None:
        if self.state == "head" and self.buffer.strip():
            self.refuse(400)
        elif self.state == "body":
            self.refuse(400)
        return self.state == "backend"  # True: keep the socket to write the answer

    def advance(self) -> None:
        config = self.front.config
        if self.state == "head":
            while self.buffer[:2] == b"\r\n":  # RFC 9112: empty lines before the request
                del self.buffer[:2]
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > config.max_header_bytes:
                    raise _Refuse(431)
                return
            if end + 4 > config.max_header_bytes:
                raise _Refuse(431)
            self.parsed = parse_head(bytes(self.buffer[:end + 4]), config)
            self.body_at = end + 4
            self.state = "body"
            _, _, length, chunked, expect = self.parsed
            if expect and (chunked or length) and self.transport is not None:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            if self.timer is not None:
                self.timer.cancel()
            self.timer = self.loop.call_later(config.body_seconds, self.expired)
        assert self.parsed is not None
        request_line, kept, length, chunked, _ = self.parsed
        rest = bytes(self.buffer[self.body_at:])
        if chunked:
            decoded = decode_chunked(rest, config.max_body_bytes)
            if decoded is None:
                return
            body = decoded[0]
        else:
            if len(rest) < (length or 0):
                return
            body = rest[:length or 0]
        assert self.transport is not None
        self.transport.pause_reading()
        self.state = "backend"
        if self.timer is not None:
            self.timer.cancel()
        self.timer = None
        request = framed(body, self.transport.get_extra_info("peername"), request_line,
                         kept, chunked or length is not None)
        self.front.forward(request, self)

    def answer(self, response: bytes) -> None:
        if self.state != "backend" or self.transport is None:
            return
        self.state = "answered"
        self.transport.write(response)
        self.timer = self.loop.call_later(self.front.config.write_seconds, self.expired)
        self.transport.close()  # after the buffer is written

    def refuse(self, status: int, message: str | None = None) -> None:
        """Answer ``status`` here. Closing with unread bytes makes the kernel reset the
        connection, which can destroy the answer before the client reads it: so write it,
        end the sending side, and drop what the client still sends for a second."""
        self.state = "answered"
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if self.timer is not None:
            self.timer.cancel()
        transport.write(json_error(status, message=message))
        if transport.can_write_eof():
            transport.write_eof()
        transport.resume_reading()
        self.timer = self.loop.call_later(1.0, transport.close)


class _Backend(asyncio.Protocol):
    """The connection to one worker for one request: send it, collect the whole answer."""

    def __init__(self, client: _Client, request: bytes, seconds: float) -> None:
        self.client, self.request = client, request
        self.chunks: list[bytes] = []
        self.timer = asyncio.get_running_loop().call_later(seconds, self.expired)
        self.transport: asyncio.Transport | None = None
        self.timed_out = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)

    def expired(self) -> None:
        self.timed_out = True
        if self.transport is not None:
            self.transport.abort()
        self.client.answer(json_error(504))

    def connection_lost(self, exc: Exception | None) -> None:
        self.timer.cancel()
        if not self.timed_out:  # an empty answer: the worker died on it
            self.client.answer(b"".join(self.chunks) or json_error(502))
        self.client.front.done()


class Front:
    """The front's connections and the requests in flight to workers."""

    def __init__(self, config: FrontConfig) -> None:
        self.config = config
        self.open = 0
        self.in_flight = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def protocol(self) -> _Client:
        return _Client(self)

    def forward(self, request: bytes, client: _Client) -> None:
        self.in_flight += 1
        self.idle.clear()
        loop = asyncio.get_running_loop()
        backend = _Backend(client, request, self.config.backend_seconds)
        connecting = loop.create_task(
            loop.create_unix_connection(lambda: backend, self.config.backend))

        def connected(task: asyncio.Task[Any]) -> None:
            if task.cancelled() or task.exception() is not None:
                backend.timer.cancel()
                client.answer(json_error(503))  # no worker listens (starting, restarting)
                self.done()

        connecting.add_done_callback(connected)

    def done(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self.idle.set()


async def _serve(listener: socket.socket, config: FrontConfig,
                 backend: subprocess.Popen[bytes]) -> int:
    front = Front(config)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(front.protocol, sock=listener)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # SIGHUP restarts gunicorn's workers gracefully (they load the current version anew)
    loop.add_signal_handler(signal.SIGHUP, lambda: _signal(backend, signal.SIGHUP))
    code = 0
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
        if backend.poll() is not None:
            log.error("front: gunicorn exited with code %s; stopping", backend.returncode)
            code = 1 if backend.returncode else 0
            break
    server.close()
    with contextlib.suppress(asyncio.TimeoutError):  # answers in flight finish first
        await asyncio.wait_for(front.idle.wait(), config.drain_seconds)
    return code


def _event_loop_runner() -> Any:
    """uvloop's event loop when it is installed (the ``serve`` extra), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


def _signal(process: subprocess.Popen[bytes], signum: int) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signum)


def run(listener: socket.socket, config: FrontConfig, backend: subprocess.Popen[bytes],
        stop_seconds: float = 40.0) -> int:
    """Serve on ``listener`` until SIGTERM or SIGINT (or gunicorn's exit), then stop
    gunicorn (SIGTERM: it finishes its requests) and return an exit code."""
    try:
        code = _event_loop_runner()(_serve(listener, config, backend))
    finally:
        _signal(backend, signal.SIGTERM)
        try:
            backend.wait(stop_seconds)
        except subprocess.TimeoutExpired:
            backend.kill()
            backend.wait()
    return code
