"""reco.serving.front: framing rules, and the front in front of a fake worker."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from reco.serving import front
from reco.serving.front import FrontConfig, decode_chunked, json_error, parse_head
from reco.serving.limits import MAX_BODY_BYTES

CONFIG = FrontConfig(backend="unused")


def _refused(head: bytes, config: FrontConfig = CONFIG) -> int | None:
    try:
        parse_head(head, config)
    except front._Refuse as refused:
        return refused.status
    return None


@pytest.mark.parametrize(("head", "status"), [
    (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", None),
    (b"GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nContent-Length: 0x5\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nContent-Length: \xd9\xa5\r\n\r\n", 400),  # Arabic-Indic five
    (b"GET / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n folded: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nA: b\nC: d\r\n\r\n", 400),  # a bare LF inside the block
    (b"GET /  HTTP/1.1\r\n\r\n", 400),
    (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", 431),
    (b"POST / HTTP/1.1\r\nContent-Length: " + str(MAX_BODY_BYTES + 1).encode() + b"\r\n\r\n",
     413),
    (b"POST / HTTP/1.1\r\nContent-Length: " + str(MAX_BODY_BYTES).encode() + b"\r\n\r\n", None),
])
def test_framing_the_front_and_gunicorn_could_read_differently_is_refused(head, status):
    assert _refused(head) == status


def test_parse_head_keeps_end_to_end_headers_and_drops_framing_ones():
    line, kept, length, chunked, expect = parse_head(
        b"POST /recommend HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 6.6.6.6\r\n"
        b"content-length: 7\r\nExpect: 100-continue\r\nAccept: */*\r\n\r\n", CONFIG)
    assert line == b"POST /recommend HTTP/1.1"
    assert kept == [b"Host: a", b"Accept: */*"]  # a client cannot forge its address
    assert (length, chunked, expect) == (7, False, True)


@pytest.mark.parametrize(("data", "expected"), [
    (b"5\r\nhello\r\n0\r\n\r\n", (b"hello", 15)),
    (b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT", (b"hello world", 44)),
    (b"5\r\nhel", None),
    (b"5\r\nhello\r\n0\r\n", None),
])
def test_decode_chunked(data, expected):
    assert decode_chunked(data, 1000) == expected


@pytest.mark.parametrize(("data", "status"), [
    (b"zz\r\nhello\r\n0\r\n\r\n", 400),
    (b"5\r\nhelloXX0\r\n\r\n", 400),
    (b"-5\r\nhello\r\n0\r\n\r\n", 400),
    (b"a" * 2000, 400),
    (b"400\r\n", 413),
])
def test_decode_chunked_refuses(data, status):
    with pytest.raises(front._Refuse) as refused:
        decode_chunked(data, 1000)
    assert refused.value.status == status


def test_json_error_is_a_whole_response_in_the_api_error_shape():
    raw = json_error(503)
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"Retry-After: 1" in head and b"Connection: close" in head
    assert int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]) == len(body)
    error = json.loads(body)["error"]
    assert error["status"] == 503 and error["name"] == "service_unavailable"
    assert head.split(b"X-Request-Id: ")[1].decode() == error["request_id"]


# --- the front in front of a fake worker, all in one event loop -----------------------

ANSWER = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"


async def _worker(seen: list[bytes], behaviour: str, reader: asyncio.StreamReader,
                  writer: asyncio.StreamWriter) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    length = [int(line.split(b":")[1]) for line in head.split(b"\r\n")
              if line.lower().startswith(b"content-length:")]
    body = await reader.readexactly(length[0]) if length else b""
    seen.append(head + body)
    if behaviour == "hang":
        await asyncio.sleep(30)
    if behaviour != "die":
        writer.write(ANSWER)
        await writer.drain()
    writer.close()


Scenario = Callable[[int, list[bytes]], Awaitable[None]]


def _run(tmp_path: Path, scenario: Scenario, behaviour: str = "answer",
         backend: bool = True, **limits: float) -> list[bytes]:
    seen: list[bytes] = []
    path = str(tmp_path / "worker.sock")

    async def main() -> None:
        if backend:
            await asyncio.start_unix_server(
                lambda r, w: _worker(seen, behaviour, r, w), path)
        the_front = front.Front(FrontConfig(backend=path, **limits))  # type: ignore[arg-type]
        listener = socket.create_server(("127.0.0.1", 0))
        server = await asyncio.get_running_loop().create_server(the_front.protocol,
                                                                sock=listener)
        try:
            await asyncio.wait_for(scenario(listener.getsockname()[1], seen), 20)
        finally:
            server.close()

    asyncio.run(main())
    return seen


async def _exchange(port: int, data: bytes, pause: float = 0.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    if pause:
        await asyncio.sleep(pause)
    answer = await reader.read(-1)
    writer.close()
    return answer


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def _error_status(answer: bytes) -> int:
    status = _status(answer)
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["status"] == status
    return status


def test_a_request_reaches_the_worker_whole_with_the_clients_address(tmp_path):
    async def scenario(port: int, seen: list[bytes]) -> None:
        answer = await _exchange(port, b"POST /recommend HTTP/1.1\r\nHost: a\r\n"
                                       b"X-Forwarded-For: 6.6.6.6\r\nContent-Length: 4\r\n"
                                       b"\r\n{}  ")
        assert answer == ANSWER

    seen = _run(tmp_path, scenario)
    assert seen == [b"POST /recommend HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 127.0.0.1\r\n"
                    b"Content-Length: 4\r\n\r\n{}  "]


def test_a_chunked_body_is_decoded_and_sent_on_with_its_length(tmp_path):
    async def scenario(port: int, seen: list[bytes]) -> None:
        answer = await _exchange(port, b"POST /r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                                       b"\r\n2\r\n{}\r\n0\r\n\r\n")
        assert _status(answer) == 200

    assert _run(tmp_path, scenario)[0].endswith(b"Content-Length: 2\r\n\r\n{}")


def test_expect_100_continue_is_answered_by_the_front(tmp_path):
    async def scenario(port: int, seen: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /r HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n")
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"{}")
        assert await reader.read(-1) == ANSWER
        writer.close()

    assert b"expect" not in _run(tmp_path, scenario)[0].lower()


def test_a_body_past_the_limit_is_refused_before_it_is_read(tmp_path):
    async def scenario(port: int, seen: list[bytes]) -> None:
        answer = await _exchange(port, b"POST /r HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n"
                                       + b"x" * 100_000)
        assert _error_status(answer) == 413

    assert _run(tmp_path, scenario) == []


def test_a_client_that_trickles_its_headers_is_dropped_with_408_and_blocks_nobody(tmp_path):
    async def scenario(port: int, seen: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nX-Slow: a")
        # another client is answered while the slow one holds its connection
        assert await _exchange(port, b"GET /x HTTP/1.1\r\n\r\n") == ANSWER
        assert _error_status(await asyncio.wait_for(reader.read(-1), 5)) == 408
        writer.close()

    assert len(_run(tmp_path, scenario, header_seconds=0.5)) == 1


def test_a_body_that_never_finishes_gets_408(tmp_path):
    async def scenario(port: int, seen: list[bytes]) -> None:
        answer = await _exchange(port, b"POST /r HTTP/1.1\r\nContent-Length: 10\r\n\r\nab")
        assert _error_status(answer) == 408

    assert _run(tmp_path, scenario, body_seconds=0.5) == []


@pytest.mark.parametrize(("behaviour", "backend", "status"), [
    ("answer", False, 503),  # no worker listens: starting or restarting
    ("die", True, 502),      # the worker closed without an answer
    ("hang", True, 504),     # the worker did not answer in time
])
def test_worker_failures_are_json_errors(tmp_path, behaviour, backend, status):
    async def scenario(port: int, seen: list[bytes]) -> None:
        assert _error_status(await _exchange(port, b"GET /x HTTP/1.1\r\n\r\n")) == status

    _run(tmp_path, scenario, behaviour=behaviour, backend=backend, backend_seconds=0.5)


def test_connections_past_the_cap_get_503(tmp_path):
    async def scenario(port: int, seen: list[bytes]) -> None:
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        assert _error_status(await _exchange(port, b"GET /x HTTP/1.1\r\n\r\n")) == 503
        for _, writer in held:
            writer.close()

    _run(tmp_path, scenario, max_connections=2)


def test_a_client_that_closes_early_sends_nothing_on(tmp_path):
    async def half_close(port: int, data: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(data)
        writer.write_eof()
        answer = await reader.read(-1)
        writer.close()
        return answer

    async def scenario(port: int, seen: list[bytes]) -> None:
        assert await half_close(port, b"") == b""
        assert _error_status(await half_close(port, b"GET / HTTP/1.1\r\nHost")) == 400
        assert _error_status(await half_close(port, b"POST / HTTP/1.1\r\n"
                                                    b"Content-Length: 9\r\n\r\nab")) == 400
        # a client may end its sending side once the request is whole: it still gets answered
        assert await half_close(port, b"GET /x HTTP/1.1\r\n\r\n") == ANSWER

    assert len(_run(tmp_path, scenario)) == 1


def test_front_config_checks_its_limits():
    with pytest.raises(ValueError, match="header_seconds"):
        FrontConfig(backend="x", header_seconds=0)
    with pytest.raises(ValueError, match="limits"):
        FrontConfig(backend="x", max_connections=0)
