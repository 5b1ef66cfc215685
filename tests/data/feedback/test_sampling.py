"""Which served lists are recorded."""

from __future__ import annotations

import pytest

from reco.data.feedback.sampling import SamplingConfig, ServedSampler
from reco.exceptions import ConfigError


def test_rate_one_without_cap_keeps_all_and_zero_keeps_none():
    assert all(ServedSampler(SamplingConfig(1.0, 0.0)).keep() for _ in range(1000))
    assert not any(ServedSampler(SamplingConfig(0.0, 0.0)).keep() for _ in range(1000))


def test_a_rate_keeps_about_that_share():
    sampler = ServedSampler(SamplingConfig(0.25, 0.0), seed=3)
    kept = sum(sampler.keep() for _ in range(20_000))
    assert 4500 < kept < 5500


def test_the_cap_bounds_a_burst():
    sampler = ServedSampler(SamplingConfig(1.0, 5.0))
    assert sum(sampler.keep() for _ in range(1000)) <= 6  # a burst within one second


@pytest.mark.parametrize(("rate", "cap"), [(-0.1, 1.0), (1.5, 1.0), (1.0, -1.0)])
def test_bad_values_are_refused(rate, cap):
    with pytest.raises(ConfigError):
        SamplingConfig(rate, cap)


def test_from_env(monkeypatch):
    monkeypatch.setenv("RECO_SERVED_SAMPLE_RATE", "0.5")
    monkeypatch.setenv("RECO_SERVED_MAX_PER_SECOND", "0")
    assert SamplingConfig.from_env() == SamplingConfig(0.5, 0.0)
    monkeypatch.setenv("RECO_SERVED_SAMPLE_RATE", "half")
    with pytest.raises(ConfigError, match="RECO_SERVED_SAMPLE_RATE"):
        SamplingConfig.from_env()
