"""Progress of long loops in the log: how far, how fast, how long still.

A loop that may run for more than a few seconds (ALS iterations, boosting rounds, the
methods of an evaluation, the seeds of a text evaluation) reports through :class:`Progress`:
one line at most every ``every`` seconds, e.g. ``ALS (implicit): 7/15 iterations (47%),
0.52/s, about 15 s left``, and nothing at all for a loop that ends before the first report
is due, so short runs (the tests, the embedded default) stay quiet.
"""

from __future__ import annotations

import logging
import time

_log = logging.getLogger("reco.progress")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    """Count ``total`` steps of ``what`` and log the progress every ``every`` seconds."""

    def __init__(self, what: str, total: int, unit: str = "steps", every: float = 5.0,
                 logger: logging.Logger | None = None) -> None:
        self.what, self.total, self.unit, self.every = what, max(int(total), 0), unit, every
        self.log = logger or _log
        self.done = 0
        self.started = self._last = time.perf_counter()

    def advance(self, steps: int = 1) -> None:
        self.done += steps
        now = time.perf_counter()
        if now - self._last >= self.every and self.done < self.total:
            self._last = now
            self.log.info("%s", self.line(now))

    def line(self, now: float | None = None) -> str:
        """The progress as one line (what :meth:`advance` logs)."""
        now = time.perf_counter() if now is None else now
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        text = f"{self.what}: {self.done}/{self.total} {self.unit}"
        if self.total:
            text += f" ({self.done / self.total:.0%})"
        text += f", {rate:.3g}/s"
        if rate > 0 and self.done < self.total:
            text += f", about {_duration((self.total - self.done) / rate)} left"
        return text
