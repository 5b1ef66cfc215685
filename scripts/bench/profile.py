"""Where a benchmarked run's time and memory go: RSS readings and a part profiler.

:class:`Profile` times named parts of a run and records the peak resident set size seen
while each was open, by reading and resetting the kernel's high-water mark
(``/proc/self/clear_refs``) at every entry and exit. :func:`instrument_training` wraps
the parts of :meth:`reco.ranking.hybrid.HybridRecommender.fit` in this process only (no edit of
the training code), for ``scripts/benchmark.py build``.
"""

from __future__ import annotations

import logging
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

MB = 1024 * 1024


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """Current resident set size in MB (0 where ``/proc`` is absent)."""
    return (_status_kb("VmRSS") or 0) / 1024


def reset_peak() -> bool:
    """Reset this process's peak RSS (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def peak_mb() -> float:
    """Peak RSS in MB since the process started or since the last :func:`reset_peak`."""
    hwm = _status_kb("VmHWM")
    if hwm is None:  # ru_maxrss is in kB on Linux, bytes on macOS
        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / MB
    return hwm / 1024


class Profile:
    """Seconds and peak RSS of named parts of a run, nested parts included in their parents.

    Each enter/exit reads the high-water mark since the last reset, credits it to every
    open part and resets it, so a part's peak is the largest RSS seen while it was open.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.overall = 0.0  # the largest RSS seen at any checkpoint (the resets hide it)
        self.top_level = 0.0  # seconds inside parts that no other part holds
        self._open: list[str] = []

    def _checkpoint(self) -> None:
        high = peak_mb()
        self.overall = max(self.overall, high)
        for name in self._open:
            self.peak[name] = max(self.peak.get(name, 0.0), high)
        reset_peak()

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        self._checkpoint()
        self._open.append(name)
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            self.seconds[name] = self.seconds.get(name, 0.0) + elapsed
            if self._open == [name]:
                self.top_level += elapsed
            self.calls[name] = self.calls.get(name, 0) + 1
            self._checkpoint()
            self._open.remove(name)

    def wrap(self, owner: Any, attr: str, name: str | Callable[..., str]) -> None:
        """Time every call of ``owner.attr`` (a function or a method) as part ``name``."""
        original = getattr(owner, attr, None)
        if original is None:  # the training code moved on: that part is simply not shown
            log.warning("cannot time %s.%s: not found", getattr(owner, "__name__", owner), attr)
            return
        is_static = isinstance(owner.__dict__.get(attr) if isinstance(owner, type) else None,
                               (classmethod, staticmethod))

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.part(name(*args) if callable(name) else name):
                return original(*args, **kwargs)

        setattr(owner, attr, staticmethod(timed) if is_static else timed)

    def summary(self) -> dict[str, dict[str, float]]:
        return {name: {"seconds": round(sec, 3), "peak_rss_mb": round(self.peak.get(name, 0), 1),
                       "calls": self.calls[name]} for name, sec in self.seconds.items()}


def instrument_training(profile: Profile) -> None:
    """Time the parts of :meth:`HybridRecommender.fit` (this process only; no core edits)."""
    from reco.features.temporal import RecentItems, TimePopularity
    from reco.ranking import hybrid, label_windows

    profile.wrap(hybrid.HybridRecommender, "_stage_one", "stage one (every window)")
    # the hybrid fits its models on shared interactions (fit_interactions, not fit)
    profile.wrap(hybrid.HybridRecommender, "_tune", "tuning (feature window)")
    profile.wrap(hybrid.ALSRecommender, "fit_interactions",
                 lambda model, *a, **k: f"ALS {model.config.feedback}")
    profile.wrap(hybrid.SVDRecommender, "fit_interactions", "SVD rating model")
    profile.wrap(hybrid.EASERecommender, "fit_interactions", "EASE item-item")
    profile.wrap(hybrid, "embed_movies", "content: text embeddings")
    profile.wrap(hybrid.ContentRecommender, "fit_embeddings", "content: profiles")
    profile.wrap(hybrid.PopularityRecommender, "fit_interactions", "popularity")
    profile.wrap(hybrid.Interactions, "from_ratings", "id maps and rating matrix")
    profile.wrap(hybrid, "build_feature_tables", "features")
    profile.wrap(TimePopularity, "from_ratings", "time popularity")
    profile.wrap(RecentItems, "from_ratings", "recent items")
    profile.wrap(hybrid, "per_user_split", "label window split")
    # each label window's rows and the boosters' fits (reco.ranking.label_windows)
    profile.wrap(label_windows, "generate_candidates", "ranker: candidates")
    profile.wrap(label_windows, "cf_score_rank", "ranker: CF rank of candidates")
    profile.wrap(label_windows, "pair_features", "ranker: feature rows")
    profile.wrap(label_windows, "build_rows", "ranker: feature rows")
    profile.wrap(label_windows, "choose_rounds", "like model: rounds by CV")
    profile.wrap(label_windows, "fit_booster", "ranker: XGBoost fits")
