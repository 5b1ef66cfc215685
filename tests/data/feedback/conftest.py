"""Stores for the feedback tests: every store test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``RECO_TEST_POSTGRES_URL`` (``.ci/postgres.sh`` starts a throwaway
cluster and exports it). Unset, the PostgreSQL half skips with the reason locally and
fails under ``CI=true``: CI must test the production backend. Each test gets a schema of
its own in that database (``search_path`` in the URL), dropped afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from reco.data.feedback import SqlStore, open_store
from reco.data.feedback.postgres import scratch_schema

ENV = "RECO_TEST_POSTGRES_URL"


def postgres_url() -> str:
    """The test server's URL, or skip (fail under CI) without one."""
    url = os.environ.get(ENV)
    if not url:
        message = (f"{ENV} is not set: no PostgreSQL server to test against "
                   "(source .ci/postgres.sh to start one)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; under CI the PostgreSQL backend must be tested")
        pytest.skip(message)
    return url


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A URL whose tables land in a fresh schema of the test database."""
    with scratch_schema(postgres_url(), "t") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for an empty store of each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "feedback.sqlite3")
    return request.getfixturevalue("postgres_schema_url")


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    opened = open_store(store_url)
    yield opened
    opened.close()
