"""Shared plumbing for the thin scripts in ``scripts/``: logging and error exits."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from typing import Any

from reco.exceptions import RecoError

log = logging.getLogger("reco")

#: Exit code for bad input (data, config, artifacts): the message says what to fix.
EXIT_BAD_INPUT = 2
#: The one log line format of every reco process (scripts, the front, gunicorn's own
#: lines and the workers': reco/serving/gunicorn_conf.py uses it too).
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_DATEFMT = "%H:%M:%S"


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr with timestamps; ``verbose`` adds DEBUG messages."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=LOG_FORMAT,
                        datefmt=LOG_DATEFMT)


def json_object(text: str) -> dict[str, Any]:
    """An argparse ``type=`` for config overrides given as a JSON object: bad JSON is a
    usage error (exit 2 with the message), not a traceback."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"want a JSON object such as '{{\"c\": 2.0}}', "
                                         f"got {text!r}")
    return value


def run(action: Callable[[], object]) -> int:
    """Run ``action``; a :class:`RecoError` is logged as one clear line and exits 2.

    So is an ``OSError`` (a file that cannot be read or written, named by the OS): it is
    the input or the machine, not reco, that needs fixing, and a traceback would bury
    the file name. The traceback is still logged at DEBUG (``-v``).
    """
    try:
        action()
    except RecoError as exc:
        log.error("%s: %s", type(exc).__name__, exc)
        return EXIT_BAD_INPUT
    except OSError as exc:
        name = f"{exc.filename}: " if exc.filename else ""
        log.error("%s: %s%s", type(exc).__name__, name, exc.strerror or exc)
        log.debug("traceback", exc_info=True)
        return EXIT_BAD_INPUT
    return 0
