"""The package itself: lazy public names, and what a light command imports."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import reco

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_every_public_name_resolves():
    assert set(reco.__all__) == set(reco._EXPORTS)
    for name in reco.__all__:
        assert getattr(reco, name) is not None
    assert set(reco.__all__) <= set(dir(reco))
    with pytest.raises(AttributeError, match="no_such_name"):
        reco.no_such_name  # noqa: B018


def test_building_features_does_not_import_the_models():
    loaded = _run("""
        import sys
        import reco.pipelines.features
        print(sorted(m for m in ("sklearn", "xgboost", "scipy.sparse") if m in sys.modules))
    """)
    assert loaded == "[]"


def test_a_saved_model_loads_through_the_base_class_alone(tmp_path: Path):
    path = tmp_path / "als.npz"
    _run(f"""
        from reco.models.mf import ALSConfig, ALSRecommender
        from reco.data.synthetic import default_dataset
        ALSRecommender(ALSConfig(factors=4, iterations=1)).fit(default_dataset().ratings).save({str(path)!r})
    """)
    assert _run(f"""
        from reco.models.base import Recommender
        print(type(Recommender.load({str(path)!r})).__name__)
    """) == "ALSRecommender"
