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

import logging
import signal
import socket
import sys

from gunicorn import glogging, util

from reco.cli import LOG_DATEFMT, LOG_FORMAT
from reco.serving.front import json_error as _json_response


def json_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """Write reco's JSON error for a request gunicorn refused (``mesg``, which quotes
    the client's bytes, stays in gunicorn's log)."""
    util.write_nonblock(sock, _json_response(status_int, reason))


util.write_error = json_error


def booster_only_xgboost() -> None:
    """Import XGBoost without its scikit-learn estimators, when neither is imported yet.

    A worker only reads boosters (``xgboost.Booster``), but ``xgboost.compat`` imports
    scikit-learn whenever it is installed, for the estimator classes: 1.8 s of every
    worker's start, and scikit-learn drags in SciPy's statistics and pandas. Hiding
    scikit-learn for that one import makes XGBoost take its "not installed" branch; the
    name is restored at once, so anything that imports scikit-learn later gets it (only
    XGBoost's own estimator wrappers stay unusable in this process, and a server never
    trains)."""
    if "xgboost" in sys.modules or "sklearn" in sys.modules:
        return
    sys.modules["sklearn"] = None  # type: ignore[assignment]  # Python's "not importable"
    try:
        import xgboost  # noqa: F401
    finally:
        del sys.modules["sklearn"]


def post_fork(server: object, worker: object) -> None:
    """gunicorn's hook in each new worker, before it loads the app.

    The worker still holds the master's signal handlers here (they only queue a signal
    for the master's loop, which the worker does not run), so a stop during this hook's
    imports would be lost and the master would wait out its graceful timeout (30 s,
    measured) before killing the worker. Until the worker installs its own handlers, a
    stop signal ends it at once: it serves nothing yet."""
    for stop in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(stop, signal.SIG_DFL)
    booster_only_xgboost()


class RecoLogger(glogging.Logger):
    """gunicorn's error and access lines, and the workers' own (the model reloads), in
    reco's one log format instead of gunicorn's bracketed one."""

    def setup(self, cfg: object) -> None:
        super().setup(cfg)
        formatter = logging.Formatter(LOG_FORMAT, LOG_DATEFMT)
        for handler in (*self.error_log.handlers, *self.access_log.handlers):
            handler.setFormatter(formatter)
        root = logging.getLogger()
        if not root.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(formatter)
            root.addHandler(handler)
            root.setLevel(logging.INFO)


logger_class = "reco.serving.gunicorn_conf.RecoLogger"
# gunicorn 24+ opens a control socket in ~/.gunicorn by default: one path shared by every
# server of the user, and commands nobody here needs (older versions ignore the name)
control_socket_disable = True
