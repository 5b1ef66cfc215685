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

import socket

from gunicorn import util

from reco.serving.front import json_error as _json_response


def json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """Write reco's JSON error for a request gunicorn refused (``mesg``, which quotes
    the client's bytes, stays in gunicorn's log)."""
    util.write_nonblock(sock, _json_response(status_int, reason))


util.write_error = json_error
