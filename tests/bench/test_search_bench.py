"""``scripts/benchmark.py search``: the synthetic catalogue and the doc section, on the tiny
release (the figure itself is measured by hand, docs/BENCHMARKS.md)."""

from __future__ import annotations

import json
from pathlib import Path

from scripts import benchmark
from scripts.bench.search import catalogue
from tests import fixtures


def test_the_catalogue_replicates_titles_keeping_their_parts(tmp_path: Path):
    release = fixtures.write_release(tmp_path, "ml-latest-small")
    titles, years, popularity = catalogue(release, 12)
    assert len(titles) == years.size == popularity.size == 12
    assert titles[:5] == [m[1] for m in fixtures.MOVIES]
    assert titles[6] == "Redux American President, The (1995)"  # the article still last
    assert years[6] == 1995 and popularity[6] == popularity[1] == 2


def test_the_sub_command_writes_json_and_the_doc_section(tmp_path: Path):
    release = fixtures.write_release(tmp_path, "ml-latest-small")
    doc, out = tmp_path / "BENCHMARKS.md", tmp_path / "search.json"
    doc.write_text("# Benchmarks\n\n## Other\n\nkept\n")
    assert benchmark.main(["search", "--data", str(release), "--titles", "40", "--repeats", "2",
                           "--out", str(out), "--doc", str(doc)]) == 0
    result = json.loads(out.read_text())
    assert result["titles"] == 40 and result["index"]["p50_ms"] > 0
    text = doc.read_text()
    assert "## Other\n\nkept" in text and "## Search (issue 15)" in text
    assert "| token index (issue 15) |" in text
