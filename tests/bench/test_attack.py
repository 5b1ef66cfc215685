"""scripts/bench/attack.py: the hostile-request corpus and the judge of each answer."""

from __future__ import annotations

import json

import pytest

from scripts.bench.attack import attack_requests, judge

JSON = {"content-type": "application/json"}


def _error(status: int) -> bytes:
    return json.dumps({"error": {"status": status, "name": "x", "message": "m",
                                 "request_id": "r"}}).encode()


def test_the_corpus_holds_over_200_requests_in_every_family():
    requests = attack_requests()
    families = {family for family, _ in requests}
    assert len(requests) >= 200 and len(families) >= 12


def test_the_judge_fails_what_the_issue_forbids():
    assert judge(400, JSON, _error(400)) is None
    assert judge(None, {}, b"") is None  # closed without an answer: allowed
    assert judge(500, JSON, _error(500)) == "500"
    assert "not JSON" in judge(400, {"content-type": "text/html"}, b"<html>")
    assert "shape" in judge(404, JSON, b'{"detail": "x"}')
    leaky = json.dumps({"error": {"status": 400, "name": "x", "request_id": "r",
                                  "message": "at /usr/lib/python3/site-packages/x.py"}})
    assert "leaks" in judge(400, JSON, leaky.encode())


@pytest.mark.slow  # gunicorn in a subprocess
def test_no_hostile_request_gets_a_5xx_html_or_a_leak(trained):
    pytest.importorskip("gunicorn")
    from scripts.bench.attack import run_attack

    result = run_attack(trained)
    assert result["server_alive"] and result["failed"] == 0, result["failures"][:5]
