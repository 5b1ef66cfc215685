"""One local Spark session for the Spark tests (``local[2]``, 4 shuffle partitions, no UI,
bound to 127.0.0.1), started on first use and stopped at the end of the session.

Every test that uses it is marked ``slow`` here (a JVM start and Spark jobs take tens of
seconds even on tiny frames), so ``pytest -m "not slow"`` stays fast and keeps only the
tests of the engine's pure-Python glue.

Without PySpark or Java the tests that need Spark skip with the reason locally and fail
under ``CI=true``: CI installs both (``.ci/run``) and must test the Spark engine, as
tests/data/feedback/conftest.py does for PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reco.pipelines.spark import missing_requirement

#: The settings of the test session: small, quiet, local only.
TEST_CONF = (("spark.driver.host", "127.0.0.1"), ("spark.driver.bindAddress", "127.0.0.1"),
             ("spark.default.parallelism", "2"), ("spark.driver.memory", "1g"))


def require_spark() -> None:
    """Skip (fail under CI) unless PySpark and Java are there."""
    problem = missing_requirement()
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(problem + "; under CI the Spark engine must be tested (.ci/run installs "
                    "Java and the [spark] extra)")
    pytest.skip(problem)


def require_arrow() -> None:
    """The row builders' pure-Python tests need pyarrow (part of the [spark] extra)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        require_spark()  # the same skip-or-fail, with the extra's install line
        pytest.skip("pyarrow is not installed (it comes with the [spark] extra)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = str(Path(__file__).parent)
    for item in items:
        if str(item.path).startswith(here) and "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    require_spark()
    from reco.pipelines.spark.session import SparkConfig, start_session

    session = start_session(SparkConfig(master="local[2]", app_name="reco-tests",
                                        shuffle_partitions=4, ui=False, conf=TEST_CONF))
    yield session
    session.stop()
