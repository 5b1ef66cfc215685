"""``scripts/benchmark.py build`` and ``peers`` end to end on a tiny release (never timed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts import benchmark
from scripts.bench.build import Size, growth_exponent, prepare_release, release_shape, run_stage
from scripts.bench.profile import Profile
from scripts.bench.report import GENERATED_END, update_doc_section

TINY = "5000:100:300"


@pytest.mark.slow  # three fresh processes, each importing reco and building a release
def test_build_end_to_end(tmp_path: Path):
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("# Benchmarks\n\n## Serving\n\nuntouched\n")
    out, plot = tmp_path / "build.json", tmp_path / "img" / "bench_build.png"
    # three fresh processes (each imports reco: seconds); the other stages run in-process below
    stages = ["features", "features_pandas", "train"]
    code = benchmark.main(["build", "--sizes", TINY, "--stages", *stages, "--repeats", "1",
                           "--fast", "--data-root", str(tmp_path / "data"), "--out", str(out),
                           "--plot", str(plot), "--doc", str(doc)])
    assert code == 0
    result = json.loads(out.read_text())
    (entry,) = result["sizes"]
    assert (entry["n_ratings"], entry["n_users"], entry["n_movies"]) == (5000, 100, 300)
    assert set(entry["stages"]) == set(stages)
    for stage in stages:
        summary = entry["stages"][stage]
        assert summary["failed"] == 0, summary["runs"]
        assert len(summary["seconds"]) == 1
        assert summary["median_stage_peak_rss_mb"] > 0
    assert entry["stages"]["features"]["runs"][0]["rows"] == \
        entry["stages"]["features_pandas"]["runs"][0]["rows"]
    train = entry["stages"]["train"]["runs"][0]
    assert {"load", "fit", "save"} <= set(train["manifest_timings"])
    assert "ranker: XGBoost fits" in train["parts"]
    assert train["process_peak_rss_mb"] >= max(p["peak_rss_mb"] for p in train["parts"].values())
    assert entry["pandas_over_polars"] > 0 and len(entry["pandas_over_polars_runs"]) == 1
    assert train["outside_parts_seconds"] >= 0 and train["load_average"] is not None
    assert [t["status"] for t in result["targets"]] == ["not measured"] * 4
    assert plot.stat().st_size > 0
    text = doc.read_text()
    assert "untouched" in text and "## Build (issue: scale)" in text and "bench_build.png" in text
    assert release_shape(Path(entry["data_dir"])) == (5000, 100, 300)


def test_load_and_cf_stages_in_process(tmp_path: Path):
    size = Size.parse(TINY)
    folder = Path(prepare_release(size, tmp_path, [], seed=1)["data_dir"])
    assert prepare_release(size, tmp_path, [tmp_path / "absent", folder], 1)["reused"]
    load = run_stage("load", folder, tmp_path)
    assert load["ratings"] == 5000 and load["stage_peak_rss_mb"] > 0
    cf = run_stage("cf", folder, tmp_path)
    assert cf["config"]["factors"] == 64 and cf["regularization"] > 0
    assert cf["process_peak_rss_mb"] >= cf["stage_peak_rss_mb"] >= cf["input_rss_mb"] > 0


def test_peers_end_to_end(tmp_path: Path):
    pytest.importorskip("implicit")
    pytest.importorskip("surprise")
    out, doc = tmp_path / "peers.json", tmp_path / "BENCHMARKS.md"
    code = benchmark.main(["peers", "--sizes", TINY, "--repeats", "2", "--factors", "8",
                           "--iterations", "3", "--data-root", str(tmp_path / "data"),
                           "--out", str(out), "--doc", str(doc)])
    assert code == 0
    result = json.loads(out.read_text())
    (entry,) = result["datasets"]
    names = [m["method"] for m in entry["methods"]]
    assert names[:2] == ["reco ALS", "implicit ALS"] and "Surprise SVD" in names
    for method in entry["methods"]:
        assert len(method["fit_seconds"]) == 2
        assert 0.0 <= method["ndcg@10"] <= 1.0
    assert entry["reco_over_implicit_fit"] > 0
    assert entry["regularization"] > 0
    assert {t["status"] for t in result["targets"]} <= {"met", "missed"}
    assert "## Factorization vs peers (issue: scale)" in doc.read_text()


def test_surprise_is_capped(tmp_path: Path):
    pytest.importorskip("surprise")
    from reco.data.synthetic import SyntheticConfig, generate
    from scripts.bench.peers import PeerSettings, compare_on

    ratings = generate(SyntheticConfig(n_users=60, n_movies=100, n_ratings=2000)).ratings
    entry = compare_on("tiny", ratings, PeerSettings(factors=4, iterations=2,
                                                     surprise_max_ratings=1000), repeats=1)
    skipped = {m["method"]: m["skipped"] for m in entry["methods"] if "skipped" in m}
    assert "--surprise-max-ratings 1,000" in skipped["Surprise SVD"]


def test_doc_section_is_replaced_and_notes_kept(tmp_path: Path):
    doc = tmp_path / "B.md"
    doc.write_text("# B\n\n## A\n\nkeep a\n\n## C\n\nkeep c\n")
    update_doc_section(doc, "X", "first")
    assert doc.read_text().endswith(f"## X\n\nfirst\n\n{GENERATED_END}\n")
    doc.write_text(doc.read_text() + "hand note\n")
    update_doc_section(doc, "A", "figures")
    update_doc_section(doc, "X", "second")
    text = doc.read_text()
    assert "keep a" not in text and "figures" in text and "keep c" in text
    assert "first" not in text and "second" in text and text.endswith("hand note\n")
    assert text.index("## A") < text.index("## C") < text.index("## X")


def test_size_specs_and_growth():
    assert Size.parse("32m") == Size("32m", 32_000_000, 200_948, 87_585)
    assert Size.parse("20000:200:500").n_users == 200
    with pytest.raises(ValueError, match="RATINGS:USERS:MOVIES"):
        Size.parse("huge")
    assert growth_exponent([1_000_000, 10_000_000], [2.0, 20.0]) == pytest.approx(1.0)
    assert growth_exponent([100_000, 1_000_000], [1.0, 5.0]) is None  # one point >= 1M


def test_profile_nests_parts():
    profile = Profile()
    with profile.part("outer"):
        with profile.part("inner"):
            pass
        with profile.part("inner"):
            pass
    summary = profile.summary()
    assert summary["inner"]["calls"] == 2 and summary["outer"]["calls"] == 1
    assert summary["outer"]["seconds"] >= summary["inner"]["seconds"]
    assert summary["outer"]["peak_rss_mb"] >= summary["inner"]["peak_rss_mb"] > 0
