"""The README's library session runs as written (so it cannot rot)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _session() -> str:
    text = README.read_text()
    section = text[text.index("## As a library\n"):]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)  # type: ignore[union-attr]


def test_the_session_is_the_ten_lines_the_issue_asks_for():
    code = _session()
    for call in ("default_dataset", "per_user_split", ".fit(", ".recommend(", ".similar_items(",
                 ".predict_like(", "save_model(", "load_model("):
        assert call in code, call


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    monkeypatch.chdir(tmp_path)  # it writes artifacts/library where it runs
    namespace: dict[str, object] = {}
    exec(compile(_session(), str(README), "exec"), namespace)  # noqa: S102
    assert 0.0 <= float(namespace["p_like"][0]) <= 1.0  # type: ignore[index]
    assert len(namespace["movies"]) == 10  # type: ignore[arg-type]
    assert (tmp_path / "artifacts" / "library" / "current").exists()
    return namespace


def test_the_library_session_runs_on_a_tiny_release(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch):
    # the same code on smaller data and the tests' small config, for the fast loop
    import reco
    from reco.data.synthetic import SyntheticConfig, generate
    from reco.ranking.hybrid import HybridRecommender
    from tests.ranking.test_hybrid import SMALL

    tiny = generate(SyntheticConfig(n_users=120, n_movies=150, n_ratings=6_000, seed=3))
    monkeypatch.setattr(reco, "default_dataset", lambda: tiny)
    monkeypatch.setattr(reco, "HybridRecommender", lambda: HybridRecommender(SMALL))
    _run(tmp_path, monkeypatch)


@pytest.mark.slow  # the default config (its 600-tree boosters), on a small release
def test_the_library_session_in_the_readme_runs_with_the_default_model(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # the default data is what the README's main command trains on; here the session's
    # own model, with nothing patched but the data's size
    import reco
    from reco.data.synthetic import SyntheticConfig, generate

    small = generate(SyntheticConfig(n_users=200, n_movies=200, n_ratings=8_000, seed=3))
    monkeypatch.setattr(reco, "default_dataset", lambda: small)
    _run(tmp_path, monkeypatch)
