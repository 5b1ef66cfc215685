"""scripts/build_features.py and the artifact directory it writes."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import polars as pl
import pytest

from reco.artifacts import manifest as art
from reco.artifacts import store
from reco.exceptions import ArtifactError
from scripts import build_features
from tests import fixtures
from tests.artifact_tools import reseal


def _run(*argv: str) -> int:
    return build_features.main(list(argv))


def test_builds_tables_and_manifest_from_a_release(csv_release, tmp_path):
    out = tmp_path / "artifacts"
    assert _run("--data", str(csv_release), "--artifacts", str(out)) == 0
    manifest = art.read_manifest(out)
    assert manifest["format_version"] == art.FORMAT_VERSION
    assert store.resolve(out).name == (out / "latest-features").read_text().strip()
    assert not (out / "current").exists()  # features never displace a served model
    assert manifest["row_counts"] == {"ratings": 7, "users": 3, "movies": 5, "user_genres": 14}
    assert manifest["data"]["layout"] == "csv"
    assert manifest["data"]["fingerprint"].startswith("sha256:")
    assert manifest["config"]["features"]["like_threshold"] == 3.5
    assert manifest["libraries"]["polars"] == pl.__version__
    assert {"load", "features", "write"} <= set(manifest["timings_seconds"])
    users = art.read_feature_tables(out).users
    assert users["user_id"].to_list() == [1, 2, 3]
    assert art.read_feature_tables(out).movies["movie_id"].is_unique().all()
    genres = art.read_feature_tables(out).user_genres
    assert not genres.select("user_id", "genre").is_duplicated().any()


def test_config_overrides_reach_the_manifest_and_bad_ones_exit_2(csv_release, tmp_path):
    out = tmp_path / "artifacts"
    assert _run("--data", str(csv_release), "--artifacts", str(out),
                "--feature-config", '{"recent_days": 30}',
                "--load-config", '{"unknown_movies": "keep"}') == 0
    config = art.read_manifest(out)["config"]
    assert config["features"]["recent_days"] == 30 and config["load"]["unknown_movies"] == "keep"
    assert _run("--data", str(csv_release), "--artifacts", str(out),
                "--feature-config", '{"recent_dayz": 30}') == 2
    with pytest.raises(SystemExit):
        _run("--load-config", "[]")


def test_default_runs_on_the_embedded_synthetic_data(tmp_path):
    out = tmp_path / "artifacts"
    assert _run("--artifacts", str(out)) == 0
    manifest = art.read_manifest(out)
    assert manifest["data"]["layout"] == "synthetic"
    assert manifest["row_counts"]["users"] > 100
    assert manifest["row_counts"]["ratings"] >= 50_000


def test_default_is_reproducible(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    assert _run("--artifacts", str(first)) == 0 and _run("--artifacts", str(second)) == 0
    assert art.read_manifest(first)["data"]["fingerprint"] == (
        art.read_manifest(second)["data"]["fingerprint"]
    )
    assert art.read_feature_tables(first).users.equals(art.read_feature_tables(second).users)


def test_fingerprint_follows_the_data(tmp_path):
    a = fixtures.write_release(tmp_path / "a", "ml-25m")
    b = fixtures.write_release(tmp_path / "b", "ml-25m")
    files = lambda d: sorted(str(p) for p in d.iterdir())  # noqa: E731
    assert art.fingerprint_files(files(a)) == art.fingerprint_files(files(b))
    (b / "ratings.csv").write_text((b / "ratings.csv").read_text().replace("4.0", "4.5", 1))
    assert art.fingerprint_files(files(a)) != art.fingerprint_files(files(b))


def test_bad_input_exits_2_naming_file_line_field_value(tmp_path, caplog):
    directory = fixtures.write_ratings_csv(tmp_path / "bad", ["1,1,4.0,100", "1,2,abc,200"])
    with caplog.at_level(logging.ERROR):
        assert _run("--data", str(directory), "--artifacts", str(tmp_path / "out")) == 2
    assert "ratings.csv, line 3, field 'rating', value 'abc'" in caplog.text
    assert not (tmp_path / "out" / "versions").exists()


def test_not_a_release_exits_2(tmp_path, caplog):
    with caplog.at_level(logging.ERROR):
        assert _run("--data", str(tmp_path), "--artifacts", str(tmp_path / "out")) == 2
    assert "not a MovieLens release" in caplog.text


def test_manifest_version_is_checked(tmp_path):
    with pytest.raises(ArtifactError, match="no manifest"):
        art.read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format_version": 999}))
    with pytest.raises(ArtifactError, match="format version 999"):
        art.read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not a JSON manifest"):
        art.read_manifest(tmp_path)


def test_table_columns_are_checked_against_the_manifest(csv_release, tmp_path):
    out = tmp_path / "artifacts"
    assert _run("--data", str(csv_release), "--artifacts", str(out)) == 0
    version = store.resolve(out)
    art.write_table(version, "users", art.read_feature_tables(out).users.drop("active_hour"))
    with pytest.raises(ArtifactError, match="features/users.parquet: "):
        art.read_feature_tables(out)
    reseal(version)  # checksums made to agree: the columns still do not
    with pytest.raises(ArtifactError, match="differ from the manifest"):
        art.read_feature_tables(out)


@pytest.mark.slow
def test_ml_latest_small_end_to_end(ml_latest_small: Path, tmp_path):
    out = tmp_path / "artifacts"
    assert _run("--data", str(ml_latest_small), "--artifacts", str(out)) == 0
    manifest = art.read_manifest(out)
    assert manifest["row_counts"]["users"] == 610
    assert manifest["row_counts"]["movies"] == 9_742
    assert art.read_feature_tables(out).user_genres["user_id"].n_unique() == 610
    assert manifest["data"]["summary"]["ratings"] == 100_836
