"""reco/serving/gunicorn_conf.py: a worker imports XGBoost without scikit-learn."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reco.serving import gunicorn_conf

ROOT = Path(__file__).resolve().parents[2]
WORKER = """
import json, sys
from reco.serving.gunicorn_conf import post_fork
post_fork(None, None)
import xgboost.compat
from api import create_app
client = create_app({"ARTIFACTS": sys.argv[1], "TESTING": True}).test_client()
codes = [client.get(url).status_code for url in
         ("/recommend/1", "/similar/1", "/users/1/movies/1", "/movies?q=a", "/health")]
codes.append(client.post("/recommend", json={"ratings": [
    {"movie_id": 1, "rating": 5}, {"movie_id": 2, "rating": 1}]}).status_code)
loaded = sorted(m for m in sys.modules if m == "sklearn" or m.startswith("sklearn."))
import sklearn.base  # the name is importable again after the hook
print(json.dumps({"codes": codes, "sklearn": loaded,
                  "xgboost_sees_sklearn": xgboost.compat.SKLEARN_INSTALLED}))
"""


@pytest.mark.slow  # a fresh interpreter: ~3 s of imports and loading
def test_a_worker_serves_every_route_without_scikit_learn(trained: Path):
    out = subprocess.run([sys.executable, "-c", WORKER, str(trained)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["codes"] == [200] * 6
    assert result["sklearn"] == []
    assert result["xgboost_sees_sklearn"] is False


def test_the_hook_leaves_a_process_that_has_them_alone(monkeypatch: pytest.MonkeyPatch):
    import sklearn  # noqa: F401  (this test process has both already)
    import xgboost  # noqa: F401

    before = dict(sys.modules)
    gunicorn_conf.booster_only_xgboost()
    assert sys.modules.get("sklearn") is before["sklearn"]
    assert set(sys.modules) == set(before)
