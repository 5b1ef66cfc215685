"""api.py: the factory, /health and JSON errors (app.test_client())."""

from __future__ import annotations

import pytest

from api import create_app
from scripts import build_features


@pytest.fixture
def built(csv_release, tmp_path):
    out = tmp_path / "artifacts"
    assert build_features.main(["--data", str(csv_release), "--artifacts", str(out)]) == 0
    return out


def test_health_reports_the_manifest(built):
    client = create_app({"ARTIFACTS": str(built), "TESTING": True}).test_client()
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["row_counts"]["users"] == 3
    assert body["data"]["layout"] == "csv"


def test_artifacts_dir_from_the_environment(built, monkeypatch):
    monkeypatch.setenv("RECO_ARTIFACTS", str(built))
    assert create_app({"TESTING": True}).test_client().get("/health").status_code == 200


def test_missing_artifacts_answer_503_json(tmp_path):
    client = create_app({"ARTIFACTS": str(tmp_path / "none"), "TESTING": True}).test_client()
    response = client.get("/health")
    assert response.status_code == 503
    assert response.get_json()["error"]["name"] == "artifacts_unavailable"
    assert "no manifest" in response.get_json()["error"]["message"]


def test_unknown_path_is_404_json_and_wrong_method_405_json(built):
    client = create_app({"ARTIFACTS": str(built), "TESTING": True}).test_client()
    missing = client.get("/no/such/route")
    assert missing.status_code == 404 and missing.is_json
    assert missing.get_json()["error"]["status"] == 404
    wrong = client.post("/health")
    assert wrong.status_code == 405 and wrong.get_json()["error"]["name"] == "method_not_allowed"
