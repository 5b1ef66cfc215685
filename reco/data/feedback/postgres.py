"""The production backend: PostgreSQL through psycopg 3.

One connection per worker process, in autocommit mode with explicit transactions
(``conn.transaction()``), so a read never leaves a transaction open. Allocating a user id
locks the ``users`` table (EXCLUSIVE: reads go on, another allocation waits), so two
workers never hand out the same id. Creating the schema holds an advisory lock: two
workers starting together do not race ``CREATE TABLE IF NOT EXISTS`` (which is not safe
under concurrency in PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from reco.data.feedback._base import SqlStore, _tables

#: Seconds to wait for a connection before the request answers 503.
CONNECT_TIMEOUT = 3
#: Any fixed number: the advisory lock that serialises schema creation.
_SCHEMA_LOCK = 160_016


def _driver_errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:  # the SQLite backend works without psycopg installed
        return ()
    return (psycopg.Error,)


class PostgresStore(SqlStore):
    """A store in a PostgreSQL database given by a libpq URL (``postgresql://...``)."""

    url_kind = "postgresql"
    placeholder = "%s"

    def __init__(self, url: str) -> None:
        self.url = url
        self.driver_errors = _driver_errors()
        # the description goes to the log: the URL without its password
        super().__init__(f"postgresql {_redacted(url)}")

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT,
                               application_name="reco")

    def _has_schema(self, conn: Any) -> bool:
        return conn.execute("SELECT to_regclass('schema_version')").fetchone()[0] is not None

    def _schema_sql(self) -> list[str]:
        return [f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})",
                *_tables("BIGINT", "DOUBLE PRECISION",
                         "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")]

    @contextmanager
    def _transaction(self, conn: Any, lock_users: bool = False) -> Iterator[Any]:
        with conn.transaction(), conn.cursor() as cur:
            if lock_users:
                cur.execute("LOCK TABLE users IN EXCLUSIVE MODE")
            yield cur


def _redacted(url: str) -> str:
    """``url`` with any password replaced by ``***`` (it is logged)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


@contextmanager
def scratch_schema(url: str, prefix: str = "scratch") -> Iterator[str]:
    """A URL whose tables land in a new, empty schema of the database at ``url``, dropped
    with everything in it afterwards: for tests and benchmarks that must not touch the
    database's own tables."""
    import secrets
    from urllib.parse import quote

    import psycopg

    schema = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in url else "?"
    try:
        yield f"{url}{joiner}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
