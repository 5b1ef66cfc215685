"""reco.serving.reload: a running app picks up new versions, refuses bad ones, and its
/health tells the truth throughout."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from api import create_app
from reco.artifacts import store
from reco.artifacts.model_dir import save_model
from reco.data.synthetic import SyntheticConfig, generate
from reco.ranking.hybrid import HybridRecommender
from reco.serving import ModelHolder
from tests.artifact_tools import reseal
from tests.ranking.test_hybrid import SMALL

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def fitted():
    data = generate(SyntheticConfig(n_users=120, n_movies=150, n_ratings=6_000, seed=5))
    model = HybridRecommender(SMALL).fit(data.ratings, data.movies)
    return model, data.movies.select("movie_id", "title", "year", "genres")


@pytest.fixture()
def live(fitted, tmp_path):
    model, catalog = fitted
    root = tmp_path / "store"
    first = save_model(model, root, catalog=catalog, manifest={"note": "first"})
    app = create_app({"ARTIFACTS": str(root), "TESTING": True})
    return root, first, app, app.test_client()


def _publish(fitted, root: Path, note: str) -> Path:
    model, catalog = fitted
    return save_model(model, root, catalog=catalog, manifest={"note": note})


def _health(client) -> tuple[int, dict]:
    response = client.get("/health")
    return response.status_code, response.get_json()


def test_a_new_current_version_is_served_without_a_restart(fitted, live):
    root, first, app, client = live
    assert _health(client)[1]["version"] == first.name
    second = _publish(fitted, root, "second")
    holder: ModelHolder = app.extensions["reco"]
    in_flight = holder.service  # what a request that began before the swap holds
    assert holder.check() is True
    code, body = _health(client)
    assert code == 200 and body["version"] == second.name and body["rejected"] is None
    response = client.get("/recommend/1?k=3")
    assert response.headers["X-Model-Version"] == second.name
    assert response.get_json()["model_version"] == second.name
    # the request that began on the old model finishes on it
    assert in_flight is not None and in_flight.version == first.name
    assert len(in_flight.recommend(1, 3)["items"]) == 3
    assert holder.check() is False  # nothing new


def test_a_version_that_fails_verification_is_never_served(fitted, live, caplog):
    root, first, app, client = live
    bad = _publish(fitted, root, "bad")
    data = (bad / "cf.npz").read_bytes()
    (bad / "cf.npz").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    holder: ModelHolder = app.extensions["reco"]
    with caplog.at_level(logging.ERROR):
        assert holder.check() is False
        assert holder.check() is False  # logged once, not every poll
    assert sum(bad.name in r.getMessage() for r in caplog.records) == 1
    code, body = _health(client)
    assert code == 200 and body["version"] == first.name
    assert body["rejected"]["version"] == bad.name
    assert body["rejected"]["reason"].startswith("cf.npz: sha256 differs")
    assert str(root) not in str(body)
    assert client.get("/recommend/1").headers["X-Model-Version"] == first.name
    fixed = _publish(fitted, root, "fixed")  # the next good version is taken
    assert holder.check() is True and _health(client)[1]["version"] == fixed.name


def test_re_sealed_nan_factors_are_caught_by_the_content_checks(fitted, live):
    import numpy as np

    from reco.npz import load_npz, save_npz

    root, first, app, client = live
    bad = _publish(fitted, root, "nan")
    arrays = {k: np.array(v) for k, v in load_npz(bad / "cf.npz").items()}
    arrays["m_item_factors"][3, 1] = np.nan
    save_npz(bad / "cf.npz", **arrays)
    bad = reseal(bad)  # checksums agree now: only the finite check is left to catch it
    holder: ModelHolder = app.extensions["reco"]
    assert holder.check() is False
    body = _health(client)[1]
    assert body["version"] == first.name
    assert "cf.npz: array 'item_factors' holds NaN" in body["rejected"]["reason"]


def test_start_on_a_corrupt_current_serves_the_newest_version_that_verifies(fitted, tmp_path,
                                                                             caplog):
    root = tmp_path / "store"
    good = _publish(fitted, root, "good")
    bad = _publish(fitted, root, "bad")
    (bad / "ranker.json").write_text("{}")
    with caplog.at_level(logging.WARNING):
        client = create_app({"ARTIFACTS": str(root), "TESTING": True}).test_client()
    code, body = _health(client)
    assert code == 200 and body["version"] == good.name and body["rejected"]["version"] == bad.name
    fallback = [r for r in caplog.records if "newest that verifies" in r.getMessage()]
    assert len(fallback) == 1 and bad.name in fallback[0].getMessage()


def test_with_no_version_that_verifies_health_is_503_and_says_why(fitted, tmp_path):
    root = tmp_path / "store"
    only = _publish(fitted, root, "only")
    (only / "features" / "users.parquet").unlink()
    client = create_app({"ARTIFACTS": str(root), "TESTING": True}).test_client()
    code, body = _health(client)
    assert code == 503 and body["status"] == "unavailable" and body["version"] is None
    assert "features/users.parquet: missing" in body["error"]["message"]
    assert body["error"]["request_id"]
    assert client.get("/livez").status_code == 200  # alive, not ready
    assert client.get("/recommend/1").status_code == 503
    # a good version published later is picked up by the running app
    fixed = _publish(fitted, root, "fixed")
    client.application.extensions["reco"].load()
    assert _health(client)[1]["version"] == fixed.name


def test_the_poller_swaps_within_its_interval(fitted, live, tmp_path):
    root, _, _, _ = live
    app = create_app({"ARTIFACTS": str(root), "TESTING": True, "RELOAD_SECONDS": 0.05})
    client = app.test_client()
    try:
        newer = _publish(fitted, root, "polled")
        deadline = time.monotonic() + 20
        while _health(client)[1]["version"] != newer.name:
            assert time.monotonic() < deadline, "the poller never swapped the new version in"
            time.sleep(0.05)
    finally:
        app.extensions["reco"].stop()


def test_health_never_says_ok_when_the_model_cannot_answer(live, monkeypatch):
    _, _, app, client = live
    service = app.extensions["reco"].service

    def broken(*args, **kwargs):
        raise RuntimeError("boom at /opt/venv/lib/xgboost.so 0x7f0000001234")

    monkeypatch.setattr(service, "recommend", broken)
    code, body = _health(client)
    assert code == 503 and body["error"]["name"] == "model_unhealthy"
    assert "boom" not in str(body) and "0x7f" not in str(body)


def test_health_shows_no_path(live):
    root, _, _, client = live
    code, body = _health(client)
    assert code == 200 and str(root) not in str(body) and "artifacts" not in body
    assert body["created_at"] and body["data"] is not None and body["smoke"]["user_id"] >= 0


_SERVER = """
import sys, time
from api import create_app
app = create_app({"ARTIFACTS": sys.argv[1], "RELOAD_SECONDS": 3600})
print("ready", flush=True)
holder = app.extensions["reco"]
deadline = time.monotonic() + 60
while holder.service.version != sys.argv[2] and time.monotonic() < deadline:
    time.sleep(0.05)
print(holder.service.version, flush=True)
"""


@pytest.mark.slow  # a second Python process that loads the model
def test_sighup_checks_the_store_at_once(fitted, tmp_path):
    root = tmp_path / "store"
    _publish(fitted, root, "one")
    spare = _publish(fitted, tmp_path / "spare", "two")  # published apart, moved in below
    target = root / "versions" / spare.name
    process = subprocess.Popen([sys.executable, "-c", _SERVER, str(root), spare.name],
                               cwd=ROOT, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        shutil.copytree(spare, target)
        store.ArtifactStore(root).set_pointer(spare.name)
        os.kill(process.pid, signal.SIGHUP)  # the poll interval is an hour: only HUP helps
        assert process.stdout.readline().strip() == spare.name
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()


def test_a_parents_recent_verification_is_trusted_once_and_briefly(fitted, tmp_path):
    root = tmp_path / "store"
    version = _publish(fitted, root, "trusted")
    path = version / "like_model.json"
    data = path.read_bytes()
    at = data.index(b'"base_score"')  # a digit changed in place: same size, still a model
    digit = data.index(b"5", at)
    path.write_bytes(data[:digit] + b"6" + data[digit + 1:])
    now = time.time()
    trusted = ModelHolder(root, poll_seconds=0, verified=f"{version.name}@{now:.0f}")
    assert trusted.load() and trusted.service.version == version.name  # sha256 skipped
    for stale in (f"{version.name}@{now - 3600:.0f}", f"{version.name}@later", "other@1"):
        holder = ModelHolder(root, poll_seconds=0, verified=stale)
        assert not holder.load() and "like_model.json: sha256" in (holder.error or "")


def test_the_version_header_names_the_model_that_answered(fitted, live, monkeypatch):
    root, first, app, client = live
    holder: ModelHolder = app.extensions["reco"]
    old = holder.service
    second = _publish(fitted, root, "mid-request")
    real = old.recommend

    def swap_then_answer(*args, **kwargs):
        holder.check()  # the poller swaps while this request is being answered
        return real(*args, **kwargs)

    monkeypatch.setattr(old, "recommend", swap_then_answer)
    response = client.get("/recommend/1?k=2")
    assert holder.service.version == second.name
    assert response.headers["X-Model-Version"] == first.name
    assert response.get_json()["model_version"] == first.name
