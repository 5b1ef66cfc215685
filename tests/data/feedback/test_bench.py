"""The feedback benchmark's plumbing on a tiny run (the figures themselves are in
docs/BENCHMARKS.md; tests never time anything)."""

from __future__ import annotations

import pytest

from scripts import benchmark
from scripts.bench import feedback as bf


@pytest.mark.slow  # a gunicorn server on the session's artifacts: ~15 s
def test_the_benchmark_runs_and_renders(trained, tmp_path):
    doc = tmp_path / "BENCH.md"
    out = tmp_path / "fb.json"
    assert benchmark.main(["feedback", "--artifacts", str(trained), "--backends", "sqlite",
                           "--prefill", "500", "--write-requests", "30", "--fold-users", "3",
                           "--fold-rounds", "1", "--writers", "2", "--per-writer", "20",
                           "--kills", "0", "--out", str(out), "--doc", str(doc)]) == 0
    text = doc.read_text()
    assert f"## {bf.TITLE}" in text and "python scripts/benchmark.py feedback" in text
    assert "load average" in text and "| lost writes" in text


def test_the_postgresql_backend_needs_a_url(tmp_path):
    with pytest.raises(ValueError, match="postgres-url"), \
            bf.fresh_store("postgresql", None, tmp_path):
        pass
