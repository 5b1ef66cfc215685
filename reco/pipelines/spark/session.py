"""One SparkSession for a training run: its settings as a frozen config.

Under ``spark-submit`` the master and the resources come from the submit command, so
:class:`SparkConfig` sets the master only when it is given (``--spark-master local[2]``
for one machine); everything else is a default ``spark-submit --conf`` overrides.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reco.config import ConfigBase, check_int
from reco.exceptions import RecoError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)


class SparkUnavailableError(RecoError):
    """PySpark or Java is missing: the message says what to install."""


@dataclass(frozen=True)
class SparkConfig(ConfigBase):
    """How the session is built.

    Parameters
    ----------
    master
        ``local[2]``, ``spark://host:7077``, ``yarn``...; None leaves it to
        ``spark-submit`` (or Spark's default, ``local[*]``, when run directly).
    app_name
        The application's name in the cluster's UI.
    shuffle_partitions
        ``spark.sql.shuffle.partitions``; None keeps Spark's (200, or the submit
        command's). Small data wants a small number (tests use 4).
    ui
        Spark's web UI (off in tests: a port per session).
    conf
        Any other ``spark.*`` settings, as pairs.
    """

    master: str | None = None
    app_name: str = "reco-train"
    shuffle_partitions: int | None = None
    ui: bool = True
    conf: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.shuffle_partitions is not None:
            check_int("SparkConfig", "shuffle_partitions", self.shuffle_partitions, 1, 100_000)

    def settings(self) -> dict[str, str]:
        """The ``spark.*`` settings this config sets (the master apart)."""
        out: dict[str, str] = {
            # Arrow moves frames between the JVM and Python (toArrow, mapInArrow)
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            # XGBoost's workers and the row builders run in Python workers kept alive
            # between tasks, so a stage loaded once serves many partitions
            "spark.python.worker.reuse": "true",
            # the console progress bar writes over the log lines
            "spark.ui.showConsoleProgress": "false",
        }
        if self.shuffle_partitions is not None:
            out["spark.sql.shuffle.partitions"] = str(self.shuffle_partitions)
        if not self.ui:
            out["spark.ui.enabled"] = "false"
        out.update(dict(self.conf))
        return out


def _require_spark() -> None:
    from reco.pipelines.spark import missing_requirement

    problem = missing_requirement()
    if problem is not None:
        raise SparkUnavailableError(problem)


def start_session(config: SparkConfig | None = None) -> SparkSession:
    """A session by ``config`` (an active one is reused, with these settings applied)."""
    _require_spark()
    from pyspark.sql import SparkSession

    config = config or SparkConfig()
    builder: Any = SparkSession.builder.appName(config.app_name)
    if config.master is not None:
        builder = builder.master(config.master)
    for key, value in config.settings().items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    log.info("Spark %s, master %s, %d default partitions", spark.version,
             spark.sparkContext.master, spark.sparkContext.defaultParallelism)
    return spark


@contextmanager
def spark_session(config: SparkConfig | None = None) -> Iterator[SparkSession]:
    """:func:`start_session`, stopped on the way out (no JVM is left running) when it was
    started here; a session that was already active (a notebook's, a test suite's) is
    used and left running for its owner."""
    _require_spark()
    from pyspark.sql import SparkSession

    owned = SparkSession.getActiveSession() is None
    spark = start_session(config)
    try:
        yield spark
    finally:
        if owned:
            spark.stop()
