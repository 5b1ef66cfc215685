"""scripts/bench/refit.py: the settings it reads, and one run on a tiny release."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.bench import refit as brf


@pytest.mark.parametrize("text,parsed", [
    ("cold", ("explicit_als", None, None, None)), ("8", ("explicit_als", 8, None, None)),
    ("svd-cold", ("svd", None, None, None)), ("svd-4", ("svd", 4, None, None)),
    ("4/3", ("explicit_als", 4, 3, None)), ("svd-8/2", ("svd", 8, 2, None)),
    ("4/3+cg2", ("explicit_als", 4, 3, 2)), ("cold+cg12", ("explicit_als", None, None, 12)),
    ("4/3+like4", ("explicit_als", 4, 3, None)), ("4/3+cg2+like5", ("explicit_als", 4, 3, 2)),
])
def test_settings_are_read(text: str, parsed: tuple[str, int | None, int | None, int | None]):
    assert brf.parse_setting(text) == parsed


@pytest.mark.parametrize("text", ["warm", "0", "-3", "svd", "svd-", "8 ", "12345", "cold/3",
                                  "4/0", "4/", "/3", "4/3+cg0", "4+cg", "svd-4+cg2",
                                  "4/3 +cg2", "4/3+like0", "4+like2+cg2"])
def test_a_bad_setting_is_refused(text: str):
    with pytest.raises(ValueError, match="setting"):
        brf.parse_setting(text)


@pytest.mark.slow
def test_a_run_scores_each_setting(tmp_path: Path):
    from reco.data.synthetic import SyntheticConfig, make_release
    from tests.ranking.test_hybrid import SMALL

    make_release(SyntheticConfig(n_users=120, n_movies=150, n_ratings=6_000, seed=2), tmp_path)
    result = brf.run_refit(tmp_path, ["svd-cold", "svd-2/1"], base=SMALL, seeds=(0, 1))
    cg = brf.run_refit(tmp_path, ["2/1+cg1+like2"], base=SMALL)["settings"]
    assert [(r["rating_model"], r["rating_cg_steps"], r["like_max_depth"]) for r in cg] == \
        [("explicit_als", 1, 2)]
    assert brf.like_depth("4/3+like4") == 4 and brf.like_depth("4/3") is None
    assert [(r["release"], r["seed"]) for r in result["settings"]] == \
        [(tmp_path.name, 0)] * 2 + [(tmp_path.name, 1)] * 2
    rows = {row["setting"]: row for row in result["settings"] if row["seed"] == 0}
    assert set(rows) == {"svd-cold", "svd-2/1"}
    assert rows["svd-2/1"]["refit_iterations"] == 2
    assert rows["svd-2/1"]["rating_refit_iterations"] == 1
    assert rows["svd-cold"]["refit_iterations"] is None
    assert {row["rating_model"] for row in rows.values()} == {"svd"}
    for row in rows.values():
        assert 0.0 <= row["ndcg@10"] <= 1.0 and 0.0 <= row["like_auc"] <= 1.0
    assert brf.run_refit(tmp_path, ["svd-2"], base=SMALL, only=["another"])["settings"] == []
