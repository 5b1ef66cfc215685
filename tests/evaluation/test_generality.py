"""reco.evaluation.generality and scripts/generality.py: the derived releases are what they
say, the summary reads the reports, and the whole harness runs on tiny data."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from reco.data.movielens import load_movielens
from reco.data.split import global_time_split, per_user_split
from reco.data.synthetic import SyntheticConfig, make_release
from reco.evaluation.generality import (
    SYNTHETIC_RELEASES,
    SyntheticRelease,
    derived_releases,
    oracle_report,
    release_table,
    summary_rows,
    summary_table,
    synthetic_releases,
)
from reco.evaluation.oracle import ORACLE


@pytest.fixture()
def source(tmp_path):
    path = tmp_path / "ml-tiny"
    make_release(SyntheticConfig(n_users=40, n_movies=80, n_ratings=1_400, seed=5,
                                 tag_rate=0.05), path)
    return path


def test_derived_releases_cut_at_dates_and_halve_the_users(source, tmp_path):
    original = load_movielens(source)
    releases = {r.name: r for r in derived_releases(source, tmp_path / "work", seed=3)}
    assert sorted(releases) == ["ml-tiny-before-p50", "ml-tiny-before-p75",
                                "ml-tiny-half-users-seed3"]
    for name, q in (("ml-tiny-before-p50", 0.5), ("ml-tiny-before-p75", 0.75)):
        cut = original.ratings["timestamp"].quantile(q, "lower")
        derived = load_movielens(releases[name].path)
        assert derived.ratings["timestamp"].max() < cut
        kept = original.ratings.filter(pl.col("timestamp") < cut)
        assert derived.ratings.height == kept.height
        if derived.tags is not None and not derived.tags.is_empty():
            assert derived.tags["timestamp"].max() < cut
    half = load_movielens(releases["ml-tiny-half-users-seed3"].path)
    assert half.n_users == original.n_users // 2
    users = half.ratings["user_id"].unique().implode()
    assert half.ratings.height == original.ratings.filter(pl.col("user_id").is_in(users)).height
    again = derived_releases(source, tmp_path / "again", seed=3)[-1]
    assert load_movielens(again.path).ratings.equals(half.ratings)  # seeded


def test_synthetic_shapes_differ():
    shapes = {(s.config.n_users, s.config.n_movies, s.config.n_ratings, s.config.seed,
               s.config.popularity_exponent) for s in SYNTHETIC_RELEASES}
    assert len(shapes) == len(SYNTHETIC_RELEASES) == 4
    sizes = sorted(s.config.n_ratings for s in SYNTHETIC_RELEASES)
    assert sizes[0] <= 100_000 and sizes[-1] >= 1_000_000
    # one release where choice follows taste, as on real ones; the others by popularity alone
    taste = [s for s in SYNTHETIC_RELEASES if s.config.selection_taste > 0]
    assert [s.name for s in taste] == ["synthetic-taste-400k"]
    assert f"selection_taste={taste[0].config.selection_taste}" in taste[0].shape


def _report(with_strict: bool) -> dict:
    ratio = {"best_tuned_peer": "EASE (tuned)", "best_tuned_peer_ndcg": 0.2,
             "reco_full_ndcg": 0.25, "ratio": 1.25}
    strict = ({"split": {"ranked_users": 1_200}, "ratio": {**ratio, "ratio": 1.1}}
              if with_strict else {"skipped": "ranks 10 users"})
    return {"data": {"ratings": 1000, "users": 10, "rated_movies": 50},
            "split": {"ranked_users": 9}, "ratio": ratio,
            "reco_like_model": {"auc": 0.8}, "global_time_split": strict}


def test_summary_rows_read_both_splits():
    rows = summary_rows("r", _report(True), 12.0)
    assert [r["split"] for r in rows] == ["per-user", "global time"]
    assert rows[0]["ratio"] == 1.25 and rows[0]["like_auc"] == 0.8
    assert rows[1]["ratio"] == 1.1 and rows[1]["like_auc"] is None
    assert len(summary_rows("r", _report(False), 1.0)) == 1
    table = summary_table(rows)
    # no generator behind the release: the oracle's columns are blank
    assert ("| r | per-user | 1,000 | 10 | 50 | 9 | EASE (tuned) | 0.2000 | 0.2500 | 1.25 | "
            " |  | 0.800 |") in table
    assert "| oracle NDCG@10 | oracle / best tuned peer |" in table


def test_summary_rows_carry_the_oracle():
    report = _report(True)
    report["oracle"] = {"per_user": {"ndcg@10": 0.3, "oracle_over_best_tuned_peer": 1.5},
                        "global_time": {"ndcg@10": 0.24,
                                        "oracle_over_best_tuned_peer": 1.2}}
    rows = summary_rows("r", report, 12.0)
    assert [(r["oracle_ndcg"], r["oracle_ratio"]) for r in rows] == [(0.3, 1.5), (0.24, 1.2)]
    assert "| 0.2500 | 1.25 | 0.3000 | 1.50 | 0.800 |" in summary_table(rows)


def test_synthetic_releases_write_the_generator_frames_and_keep_its_truth(tmp_path):
    config = SyntheticConfig(n_users=40, n_movies=80, n_ratings=1_400, seed=5)
    [release] = synthetic_releases(tmp_path / "a", [SyntheticRelease("s", config, "tiny")])
    make_release(config, tmp_path / "b")
    for name in ("ratings.csv", "movies.csv", "tags.csv", "links.csv"):
        assert (release.path / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert release.truth is not None and release.truth.noise == config.noise
    assert release.truth.user_count.sum() == config.n_ratings


def test_oracle_report_uses_the_evaluation_splits(tmp_path):
    config = SyntheticConfig(n_users=1_500, n_movies=400, n_ratings=30_000, seed=2,
                             first_rating_year=2021)
    [release] = synthetic_releases(tmp_path, [SyntheticRelease("s", config, "small")])
    data = load_movielens(release.path)
    split, strict = per_user_split(data.ratings), global_time_split(data.ratings)
    ratio = {"best_tuned_peer": "EASE (tuned)", "best_tuned_peer_ndcg": 0.1,
             "reco_full_ndcg": 0.12, "ratio": 1.2}
    report = {"split": split.summary(), "ratio": ratio,
              "global_time_split": {"split": strict.summary(), "ratio": ratio}}
    assert release.truth is not None
    out = oracle_report(data, release.truth, report)
    assert out["name"] == ORACLE and out["config"]["mode"] == "timed"
    for kind, s in (("per_user", split), ("global_time", strict)):
        row = out[kind]
        assert row["n_users"] == s.summary()["ranked_users"]
        assert row["oracle_over_best_tuned_peer"] == pytest.approx(row["ndcg@10"] / 0.1)
    skipped = {**report, "global_time_split": {"skipped": "few users"}}
    assert "global_time" not in oracle_report(data, release.truth, skipped)
    # a report measured on another split is refused, not silently compared
    other = {**report, "split": {**split.summary(), "test_ratings": 1}}
    with pytest.raises(ValueError, match="split"):
        oracle_report(data, release.truth, other)
    table = release_table({"topn": [], "global_time_split": {}, "oracle": out})
    assert f"| {ORACLE} | timed, knows the generator's parameters | " in table


@pytest.mark.slow
def test_the_harness_runs_end_to_end_on_tiny_data(source, tmp_path):
    from scripts.generality import main

    out, work = tmp_path / "out", tmp_path / "work"
    assert main(["--tiny", "--grids", "smoke", "--data", str(source), "--out", str(out),
                 "--work", str(work)]) == 0
    summary = json.loads((out / "generality.json").read_text())
    names = [r["release"] for r in summary["rows"]]
    assert names == ["ml-tiny-before-p50", "ml-tiny-before-p75", "ml-tiny-half-users-seed0",
                     "synthetic-tiny-a", "synthetic-tiny-b"]
    for row in summary["rows"]:
        assert row["best_tuned_peer"] and np.isfinite(row["ratio"])
        assert (out / row["release"] / "evaluation.md").is_file()
        # the oracle only where a generator made the release
        synthetic = row["release"].startswith("synthetic")
        assert (row["oracle_ndcg"] is not None) == synthetic
        if synthetic:
            assert row["oracle_ratio"] == pytest.approx(row["oracle_ndcg"]
                                                        / row["best_tuned_peer_ndcg"])
    report_json = json.loads((out / "synthetic-tiny-a" / "evaluation.json").read_text())
    assert report_json["oracle"]["per_user"]["n_users"] == \
        report_json["split"]["ranked_users"]
    text = (out / "generality.md").read_text()
    assert "| synthetic-tiny-a | per-user |" in text and "| reco full (two-stage" in text
    report = (out / "synthetic-tiny-a" / "evaluation.md").read_text()
    assert "reco full / best tuned peer = " in report
