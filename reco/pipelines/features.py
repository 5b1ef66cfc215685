"""Offline pipelines: read a release (or the embedded default), build and write features."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from reco.artifacts import manifest as art
from reco.artifacts import store
from reco.data.dataset import MovieLensData
from reco.data.movielens import LoadConfig, load_movielens
from reco.features.tables import FeatureConfig, FeatureTables, build_feature_tables

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class StepTimer:
    """Wall-clock seconds per named step, logged as each step ends."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        log.info("%s ...", name)
        started = time.perf_counter()
        yield
        elapsed = time.perf_counter() - started
        self.seconds[name] = round(elapsed, 4)
        log.info("%s done in %.2fs", name, elapsed)

    def run(self, name: str, func: Callable[[], T]) -> T:
        with self.step(name):
            return func()


def load_data(data_dir: str | Path | None, config: LoadConfig | None = None) -> MovieLensData:
    """Read the release at ``data_dir``, or generate the embedded default when ``None``."""
    if data_dir is None:
        from reco.data.synthetic import default_dataset  # generated in memory, seeded

        return default_dataset()
    return load_movielens(data_dir, config)


def data_section(data: MovieLensData) -> dict[str, Any]:
    """What the manifest says about the data: source, layout, fingerprint, counts."""
    return {
        "source": data.source,
        "layout": data.layout,
        "fingerprint": art.fingerprint(data),
        "scale": data.scale.to_dict(),
        "summary": data.summary(),
        "report": data.report.to_dict(),
    }


def write_features(
    artifacts: str | Path,
    data: MovieLensData,
    tables: FeatureTables,
    *,
    feature_config: FeatureConfig,
    load_config: LoadConfig,
    timer: StepTimer,
    keep: int = store.DEFAULT_KEEP,
) -> dict[str, Any]:
    """Publish the three tables and the manifest as a new version of the store
    ``artifacts``, named by its ``latest-features`` pointer (``current``, the served model, is
    left alone); return the manifest."""
    with store.ArtifactStore(artifacts).stage() as staging:
        with timer.step("write"):
            art.write_feature_tables(staging.path, tables)
        manifest = art.new_manifest()
        manifest["data"] = timer.run("fingerprint", lambda: data_section(data))
        manifest["config"] = {"load": load_config.to_dict(), "features": feature_config.to_dict()}
        manifest["features"] = art.features_section(tables)
        manifest["row_counts"] = {"ratings": data.n_ratings, **tables.row_counts()}
        manifest["timings_seconds"] = dict(timer.seconds)
        version = staging.publish(manifest, store.FEATURES, keep)
    log.info("features published as version %s", version.name)
    return art.read_manifest(version)


def build_features(
    data_dir: str | Path | None,
    artifacts: str | Path,
    *,
    feature_config: FeatureConfig | None = None,
    load_config: LoadConfig | None = None,
) -> dict[str, Any]:
    """Read the data, build the feature tables, write them and the manifest.

    Parameters
    ----------
    data_dir
        A MovieLens release directory, or ``None`` for the embedded synthetic default.
    artifacts
        The artifact store (created if needed): the tables become a new version, named
        by the store's ``latest-features`` pointer.

    Returns
    -------
    dict
        The new version's manifest.
    """
    feature_config = feature_config or FeatureConfig()
    load_config = load_config or LoadConfig()
    store.ArtifactStore(artifacts).check_writable()  # an unusable output path is said first
    timer = StepTimer()
    data = timer.run("load", lambda: load_data(data_dir, load_config))
    tables = timer.run(
        "features", lambda: build_feature_tables(data.ratings, data.movies, feature_config)
    )
    log.info("feature rows: %s", tables.row_counts())
    return write_features(
        artifacts, data, tables,
        feature_config=feature_config, load_config=load_config, timer=timer,
    )
