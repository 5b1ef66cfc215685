"""scripts/serve.py --feedback: checked before gunicorn starts, passed to the workers."""

from __future__ import annotations

import pytest

from scripts import serve


def test_the_default_is_the_sqlite_file_under_data(monkeypatch):
    monkeypatch.delenv("RECO_FEEDBACK_URL", raising=False)
    assert serve.parse_args([]).feedback == str(serve.ROOT / "data" / "feedback.sqlite3")
    monkeypatch.setenv("RECO_FEEDBACK_URL", "postgresql://reco@db/reco")
    assert serve.parse_args([]).feedback == "postgresql://reco@db/reco"
    assert serve.parse_args(["--feedback", "none"]).feedback == "none"


def test_a_bad_url_exits_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        serve.parse_args(["--feedback", "redis://x"])
    assert exit_.value.code == 2 and "--feedback" in capsys.readouterr().err
