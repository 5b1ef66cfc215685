"""scripts/bench/mixed.py: the serving stacks under one mixed load, and its table."""

from __future__ import annotations

import pytest

from scripts.bench.mixed import render_mixed, run_mixed


def _run(stack: str, p99: float) -> dict:
    return {"stack": stack, "requests": 100, "failed": 0, "p50_ms": p99 / 4, "p99_ms": p99,
            "requests_per_s": 50.0, "load_average": [1.0, 1.0, 1.0]}


def test_the_table_gives_medians_and_same_repeat_ratios():
    result = {"stacks": ["sync", "front"], "requests": 100, "concurrency": 8, "repeats": 3,
              "runs": [[_run("sync", 60), _run("front", 30)],
                       [_run("sync", 100), _run("front", 80)],
                       [_run("sync", 50), _run("front", 60)]]}
    table = render_mixed(result, "cmd")
    front = next(line for line in table.splitlines() if line.startswith("| front"))
    # ratios per repeat 0.50, 0.80, 1.20: median 0.80 (not 60/60 = 1.00 of the medians)
    assert "| 60.0 (30, 80, 60) | 0.80 (0.50, 0.80, 1.20) |" in front
    assert front.startswith("| front | 0 of 300 |")


def test_run_mixed_checks_its_bounds(tmp_path):
    with pytest.raises(ValueError):
        run_mixed(tmp_path, ["front"], requests=0, concurrency=8, repeats=1)
    with pytest.raises(ValueError):
        run_mixed(tmp_path, [], requests=10, concurrency=8, repeats=1)


@pytest.mark.slow  # two servers in subprocesses
def test_every_stack_answers_the_mix_without_a_failure(trained):
    pytest.importorskip("gunicorn")
    result = run_mixed(trained, ["sync", "front"], requests=200, concurrency=4, repeats=1)
    for run in result["runs"][0]:
        assert run["failed"] == 0 and run["server_alive"] and run["requests"] == 200, run
