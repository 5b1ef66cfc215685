"""gunicorn's configuration for reco (``gunicorn -c python:reco.serving.gunicorn_conf``).

gunicorn answers the requests it cannot parse itself (a malformed request line, a URL past
``limit_request_line``, too many or too large headers, bad chunked framing), before reco's
app sees them, with an HTML page that repeats what the client sent. Importing this module
(as gunicorn does with its config, in the master, before it forks the workers) replaces
that answer with reco's JSON error: the same shape as every other error, a request id
(also sent as ``X-Request-Id`` and logged by gunicorn's own warning line), and a fixed
message per status that repeats nothing of the request.
"""

from __future__ import annotations

import json
import secrets
import socket

from gunicorn import util

#: What each status gunicorn answers on its own means to a client.
MESSAGES = {
    400: "malformed HTTP request (request line, headers or chunked framing)",
    403: "request forbidden",
    414: "the request line (method and URL) is too long",
    417: "unsupported Expect header",
    431: "too many or too large request headers",
    500: "the server could not handle the request",
    501: "unsupported transfer coding",
}


def json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """Write reco's JSON error for a request gunicorn refused (``mesg``, which quotes
    the client's bytes, stays in gunicorn's log)."""
    request_id = secrets.token_hex(8)
    body = json.dumps({"error": {
        "status": status_int, "name": reason.lower().replace(" ", "_"),
        "message": MESSAGES.get(status_int, "the request could not be handled"),
        "request_id": request_id}}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Request-Id: {request_id}\r\n\r\n").encode("latin-1")
    util.write_nonblock(sock, head + body)


util.write_error = json_error

