"""The embedded backend: one SQLite file (the standard library's ``sqlite3``).

WAL journal: readers never block the writer and the writer never blocks readers, so two
gunicorn workers share the file. A write transaction starts with ``BEGIN IMMEDIATE``
(it takes the write lock at once, so two writers queue instead of failing when one tries
to upgrade a read lock) and waits up to :data:`BUSY_TIMEOUT_MS` for it.

Durability: ``synchronous=NORMAL`` by default. In WAL mode a committed transaction is in
the WAL file when COMMIT returns, so a rating answered 201 survives a killed process (a
gunicorn worker's ``kill -9``: tested with 3 kills under 8 writers) and the file is never
corrupted; only a power cut or a kernel crash can take the last commits since a
checkpoint. ``synchronous=FULL`` (``sqlite:///path?synchronous=full``) fsyncs the WAL at
every commit and survives those too, but the fsync's time follows the host's disk load:
through the API, p50 1.7 to 8.0 ms in four runs on this shared machine, where NORMAL
stayed at 2.0 to 3.7 ms in five (docs/BENCHMARKS.md; the target is 5 ms). A store that must
survive power loss at any load belongs on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from reco.data.feedback._base import SqlStore, _tables

#: The path of a store that lives in memory, for this process only (tests).
MEMORY = ":memory:"
#: The durability settings a URL may ask for (``?synchronous=``).
SYNCHRONOUS = ("normal", "full")
#: How long a writer waits for another's transaction before the request answers 503.
BUSY_TIMEOUT_MS = 10_000


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode (it stays so: later connections find it there).

    Switching a file's journal mode needs every other connection out of it, and SQLite
    answers "database is locked" at once, without the busy timeout, when another
    process opens or switches the same new file at that moment (three processes
    allocating user ids on a fresh file failed 7 times in 40); so the switch is tried
    again until the busy timeout has passed.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.002
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"journal_mode WAL refused ({mode})")


class SqliteStore(SqlStore):
    """A store in one SQLite file (created with its folder on first use unless
    ``read_only``)."""

    url_kind = "sqlite"
    driver_errors = (sqlite3.Error,)

    def __init__(self, path: str | Path, *, read_only: bool = False,
                 synchronous: str = "normal") -> None:
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"SQLite synchronous must be one of {SYNCHRONOUS}, got "
                             f"{synchronous!r}")
        self.path = Path(path)
        self.read_only = read_only
        self.synchronous = synchronous
        super().__init__(f"sqlite {self.path}")

    def _connect(self) -> Any:
        if self.read_only:
            uri = f"{self.path.resolve().as_uri().replace('file://', 'file:', 1)}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=False)
        elif str(self.path) == MEMORY:
            conn = sqlite3.connect(MEMORY, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous = FULL")
            return conn
        else:
            if not self.path.parent.is_dir():
                # a missing folder is a configuration mistake, not something to create
                # silently somewhere unexpected: only the default data/ folder is made
                raise sqlite3.OperationalError(f"folder {self.path.parent} does not exist")
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000,
                                   isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not self.read_only:
                _use_wal(conn)
            conn.execute(f"PRAGMA synchronous = {self.synchronous.upper()}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _has_schema(self, conn: Any) -> bool:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = "
                            "'schema_version'").fetchone() is not None

    def _schema_sql(self) -> list[str]:
        return _tables("INTEGER", "REAL", "INTEGER PRIMARY KEY")

    @contextmanager
    def _transaction(self, conn: Any, lock_users: bool = False) -> Iterator[Any]:
        # BEGIN IMMEDIATE takes the one write lock: allocation needs nothing more
        cur = conn.cursor()
        cur.execute("BEGIN" if self.read_only else "BEGIN IMMEDIATE")
        try:
            yield cur
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        else:
            cur.execute("COMMIT")
        finally:
            cur.close()
