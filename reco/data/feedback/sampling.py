"""Which served lists are recorded: a fixed share, and at most so many per second.

Recording a list is one INSERT on the request path; under heavy traffic that write would
cost more than the figures it feeds need, so each worker keeps a fixed ``rate`` of lists
(chosen at random, so the sample is not biased towards any user) and, past
``max_per_second``, none until the next second (a token bucket). The online figures of
:mod:`reco.data.feedback.stats` are ratios over the recorded lists, which a uniform sample keeps
unbiased; the cap only drops lists of the busiest seconds.
"""

from __future__ import annotations

import os
import random
import threading
import time
from dataclasses import dataclass

from reco.config import check_range
from reco.exceptions import ConfigError

#: The variables of :meth:`SamplingConfig.from_env` (documented in docs/FEEDBACK.md).
ENV_RATE = "RECO_SERVED_SAMPLE_RATE"
ENV_MAX_PER_SECOND = "RECO_SERVED_MAX_PER_SECOND"


@dataclass(frozen=True)
class SamplingConfig:
    """``rate``: the share of served lists recorded (0 records none, 1 all);
    ``max_per_second``: the most recorded per second and per worker (0: no cap)."""

    rate: float = 1.0
    max_per_second: float = 50.0

    def __post_init__(self) -> None:
        check_range("SamplingConfig", "rate", self.rate, 0.0, 1.0)
        check_range("SamplingConfig", "max_per_second", self.max_per_second, 0.0, 1e6)

    @classmethod
    def from_env(cls) -> SamplingConfig:
        """From ``RECO_SERVED_SAMPLE_RATE`` and ``RECO_SERVED_MAX_PER_SECOND`` (defaults
        where unset)."""
        values = {}
        for name, field in ((ENV_RATE, "rate"), (ENV_MAX_PER_SECOND, "max_per_second")):
            raw = os.environ.get(name)
            if raw is None:
                continue
            try:
                values[field] = float(raw)
            except ValueError:
                raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        return cls(**values)


class ServedSampler:
    """``keep()`` says whether to record the list being served now."""

    def __init__(self, config: SamplingConfig | None = None, seed: int | None = None) -> None:
        self.config = config or SamplingConfig()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._tokens = self.config.max_per_second
        self._last = time.monotonic()

    def keep(self) -> bool:
        config = self.config
        if config.rate <= 0 or self._random.random() >= config.rate:
            return False
        if config.max_per_second <= 0:
            return True
        with self._lock:
            now = time.monotonic()
            self._tokens = min(config.max_per_second,
                               self._tokens + (now - self._last) * config.max_per_second)
            self._last = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True
