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


def test_only_recos_own_names_are_public():
    # in a fresh process, so no test's imports of reco's subpackages are counted
    public = _run("""
        import reco
        print(sorted(n for n in dir(reco) if not n.startswith("_")))
        print(sorted(n for n in vars(reco) if not n.startswith("_")))
        print([n for n in ("Any", "os", "importlib", "TYPE_CHECKING", "typing")
               if hasattr(reco, n)])
    """).splitlines()
    assert public[0] == str(sorted(reco.__all__))
    assert public[1] == "[]"  # nothing public is bound before first use
    assert public[2] == "[]"
    assert all(getattr(reco, name).__module__.startswith("reco.")
               for name in reco.__all__ if hasattr(getattr(reco, name), "__module__"))


def test_building_features_does_not_import_the_models():
    loaded = _run("""
        import sys
        import reco.pipelines.features
        print(sorted(m for m in ("sklearn", "xgboost", "scipy.sparse") if m in sys.modules))
    """)
    assert loaded == "[]"


def test_a_saved_model_loads_through_the_base_class_alone(tmp_path: Path):
    # Saved here, loaded in a fresh process that imports only the base class: the load
    # itself must find the model's module (a tiny fit is enough for that), and only the
    # modules up to it (not the content model's scikit-learn): 0.8 s, so the fast loop runs it.
    from reco.models.mf import ALSConfig, ALSRecommender
    from tests.fixtures import expected_ratings

    path = ALSRecommender(ALSConfig(factors=2, iterations=1, threads=1)).fit(
        expected_ratings()).save(tmp_path / "als.npz")
    assert _run(f"""
        import sys
        from reco.models.base import Recommender
        assert "reco.models.mf" not in sys.modules
        name = type(Recommender.load({str(path)!r})).__name__
        print(name, "reco.models.content" in sys.modules, "sklearn" in sys.modules)
    """) == "ALSRecommender False False"
