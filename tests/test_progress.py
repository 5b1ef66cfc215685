"""reco.progress: how far, how fast, how long still; quiet for short loops."""

from __future__ import annotations

import logging

from reco import progress as progress_module
from reco.progress import Progress


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_long_loop_reports_rate_and_time_left(monkeypatch, caplog):
    clock = _Clock()
    monkeypatch.setattr(progress_module.time, "perf_counter", clock)
    p = Progress("ALS (implicit)", 15, "iterations", every=5.0)
    with caplog.at_level(logging.INFO, logger="reco.progress"):
        for _ in range(15):
            clock.now += 2.0  # 2 s an iteration: a report every third one
            p.advance()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "ALS (implicit): 3/15 iterations (20%), 0.5/s, about 24 s left"
    assert len(lines) == 4  # at 3, 6, 9, 12 of 15: never at the end (the caller logs that)


def test_a_short_loop_says_nothing(caplog):
    p = Progress("XGBoost", 600, "rounds", every=5.0)
    with caplog.at_level(logging.INFO, logger="reco.progress"):
        for _ in range(600):
            p.advance()
    assert caplog.records == []


def test_every_zero_reports_each_step_but_the_last(monkeypatch, caplog):
    clock = _Clock()
    monkeypatch.setattr(progress_module.time, "perf_counter", clock)
    p = Progress("evaluation", 3, "methods", every=0.0)
    with caplog.at_level(logging.INFO, logger="reco.progress"):
        for _ in range(3):
            clock.now += 120.0
            p.advance()
    assert [r.getMessage() for r in caplog.records] == [
        "evaluation: 1/3 methods (33%), 0.00833/s, about 4 min left",
        "evaluation: 2/3 methods (67%), 0.00833/s, about 2 min left"]
