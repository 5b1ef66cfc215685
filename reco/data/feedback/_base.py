"""The feedback store's interface, its records and errors, and the SQL both backends share.

A store keeps what people tell the engine after training: their ratings (newest timestamp
wins), the ids handed to new people, and a sample of the lists served (for online
evaluation, :mod:`reco.data.feedback.stats`). :class:`SqlStore` holds every query once; the
backends (:mod:`reco.data.feedback.sqlite`, :mod:`reco.data.feedback.postgres`) supply a connection,
a write transaction and their driver's errors. The SQL is the common subset of SQLite 3.24+
and PostgreSQL (``INSERT ... ON CONFLICT DO UPDATE ... WHERE``), written with ``?``
placeholders.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from reco.exceptions import RecoError

log = logging.getLogger(__name__)

#: The schema this code writes and reads; a store at a newer one is refused.
SCHEMA_VERSION = 1
#: The largest id a user may have (the API's ids are 31-bit).
MAX_USER_ID = 2**31 - 1


class FeedbackUnavailableError(RecoError):
    """The store cannot be read or written now (unreachable, read-only, locked past the
    busy timeout). The message is safe to show a client; the driver's own is logged."""


class FeedbackSchemaError(RecoError):
    """The store's schema is newer than this code understands."""


@dataclass(frozen=True, slots=True)
class StoredRating:
    """One rating as stored: ``timestamp`` is when the person rated (Unix seconds, given
    by the client or the time received), ``received_at`` when the store took it."""

    user_id: int
    movie_id: int
    rating: float
    timestamp: int
    received_at: float


@dataclass(frozen=True, slots=True)
class ServedList:
    """One recommendation list as served: who, which model version, the movies in rank
    order, when."""

    user_id: int
    version: str
    movie_ids: tuple[int, ...]
    served_at: float


class FeedbackStore(Protocol):
    """What the API, training and the benchmarks need from a store (both backends)."""

    url_kind: str

    def put_ratings(self, user_id: int, movie_ids: Sequence[int], ratings: Sequence[float],
                    timestamps: Sequence[int], received_at: float | None = None) -> list[int]:
        """Store in one transaction; a movie already stored with a newer timestamp keeps
        it. Returns the movies written (the others were older than what is stored)."""
        ...

    def ratings(self, user_id: int) -> list[StoredRating]: ...

    def delete_rating(self, user_id: int, movie_id: int) -> bool: ...

    def all_ratings(self) -> list[StoredRating]: ...

    def ratings_received_since(self, since: float) -> list[StoredRating]: ...

    def allocate_user(self, floor: int) -> int:
        """A new user id, at least ``floor`` and above every id handed out or rated."""
        ...

    def record_served(self, user_id: int, version: str, movie_ids: Sequence[int],
                      served_at: float | None = None) -> None: ...

    def served_since(self, since: float) -> list[ServedList]: ...

    def close(self) -> None: ...


def _tables(integer: str, real: str, serial: str) -> list[str]:
    return [
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS ratings (user_id {integer} NOT NULL, movie_id {integer} "
        f"NOT NULL, rating {real} NOT NULL, \"timestamp\" {integer} NOT NULL, received_at "
        f"{real} NOT NULL, PRIMARY KEY (user_id, movie_id))",
        "CREATE INDEX IF NOT EXISTS ratings_received ON ratings (received_at)",
        f"CREATE TABLE IF NOT EXISTS users (user_id {integer} PRIMARY KEY, created_at {real} "
        "NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS served (id {serial}, user_id {integer} NOT NULL, "
        f"version TEXT NOT NULL, movie_ids TEXT NOT NULL, served_at {real} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS served_time ON served (served_at)",
    ]


_UPSERT = ("INSERT INTO ratings (user_id, movie_id, rating, \"timestamp\", received_at) "
           "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, movie_id) DO UPDATE SET "
           "rating = excluded.rating, \"timestamp\" = excluded.\"timestamp\", "
           "received_at = excluded.received_at "
           # newest timestamp wins; on a tie the later write (as the loader keeps the later line)
           "WHERE excluded.\"timestamp\" >= ratings.\"timestamp\"")
_COLUMNS = "user_id, movie_id, rating, \"timestamp\", received_at"


class SqlStore:
    """Every query of the store, over a DB-API connection opened lazily per process.

    One connection per process, opened on first use and again after a fork (a gunicorn
    worker never uses its master's), used under a lock: gevent greenlets and gthread
    threads take turns, and a transaction is never interleaved with another's statements.
    """

    url_kind = "sql"
    #: the driver's exceptions, all turned into :class:`FeedbackUnavailableError`
    driver_errors: tuple[type[BaseException], ...] = ()
    placeholder = "?"

    def __init__(self, description: str) -> None:
        self.description = description  # for logs only: may name a path or a host
        self._lock = threading.RLock()
        self._conn: Any = None
        self._pid = -1

    # ------------------------------------------------------------ backend hooks
    def _connect(self) -> Any:
        raise NotImplementedError

    def _schema_sql(self) -> list[str]:
        raise NotImplementedError

    @contextmanager
    def _transaction(self, conn: Any, lock_users: bool = False) -> Iterator[Any]:
        """A write transaction's cursor; ``lock_users``: no other allocation runs meanwhile."""
        raise NotImplementedError
        yield  # pragma: no cover

    def _lost(self) -> None:
        """The connection failed: drop it so the next call reconnects."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken: nothing to do
                pass

    # ------------------------------------------------------------ plumbing
    def _sql(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    @contextmanager
    def _session(self, what: str, write: bool = False) -> Iterator[Any]:
        """The connection, under the lock; a driver error becomes FeedbackUnavailableError."""
        with self._lock:
            try:
                if self._conn is None or self._pid != os.getpid():
                    # after a fork the parent's connection is left alone (closing it here
                    # would close the parent's socket or file lock); a new one is opened
                    self._conn, self._pid = None, os.getpid()
                    conn = self._connect()
                    try:
                        self._ensure_schema(conn)
                    except BaseException:  # a refused schema: no connection left open
                        conn.close()
                        raise
                    self._conn = conn
                yield self._conn
            except self.driver_errors as exc:
                log.error("feedback store %s: %s failed: %s: %s", self.description, what,
                          type(exc).__name__, exc)
                self._lost()
                done = "; nothing was written" if write else ""
                raise FeedbackUnavailableError(
                    f"the feedback store is unavailable ({what} failed{done}); try again "
                    "later") from None

    def _has_schema(self, conn: Any) -> bool:
        raise NotImplementedError

    def _ensure_schema(self, conn: Any) -> None:
        """Create the tables on first use; refuse a schema newer than this code's. A store
        that has them is only read here (a read-only one opens too)."""
        if self._has_schema(conn):
            self._check_version(conn.execute("SELECT MAX(version) FROM schema_version")
                                .fetchone())
            return
        with self._transaction(conn, lock_users=False) as cur:
            for statement in self._schema_sql():
                cur.execute(statement)
            cur.execute("SELECT MAX(version) FROM schema_version")
            row = cur.fetchone()
            found = None if row is None else row[0]
            if found is None:
                cur.execute(self._sql("INSERT INTO schema_version (version) VALUES (?)"),
                            (SCHEMA_VERSION,))
                log.info("feedback store %s: schema version %d created", self.description,
                         SCHEMA_VERSION)
            else:
                self._check_version(row)

    def _check_version(self, row: Sequence[Any] | None) -> None:
        found = None if row is None else row[0]
        if found is not None and int(found) > SCHEMA_VERSION:
            raise FeedbackSchemaError(
                f"the feedback store's schema is version {found}, newer than the "
                f"{SCHEMA_VERSION} this reco understands: upgrade reco (or point it at "
                "another store)")

    def _read(self, what: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._session(what) as conn:
            cur = conn.cursor()
            try:
                cur.execute(self._sql(sql), tuple(params))
                return list(cur.fetchall())
            finally:
                cur.close()

    # ------------------------------------------------------------ ratings
    def put_ratings(self, user_id: int, movie_ids: Sequence[int], ratings: Sequence[float],
                    timestamps: Sequence[int], received_at: float | None = None) -> list[int]:
        if not len(movie_ids) == len(ratings) == len(timestamps):
            raise ValueError(f"{len(movie_ids)} movies, {len(ratings)} ratings and "
                             f"{len(timestamps)} timestamps: give one of each")
        now = time.time() if received_at is None else received_at
        written = []
        upsert = self._sql(_UPSERT)
        with self._session("storing ratings", write=True) as conn, self._transaction(conn) as cur:
            # one row at a time, in one transaction: rowcount says which were written
            # (0: the store holds a newer rating of that movie)
            for movie, rating, stamp in zip(movie_ids, ratings, timestamps):
                cur.execute(upsert, (int(user_id), int(movie), float(rating), int(stamp), now))
                if cur.rowcount:
                    written.append(int(movie))
        return written

    def ratings(self, user_id: int) -> list[StoredRating]:
        rows = self._read("reading ratings", f"SELECT {_COLUMNS} FROM ratings WHERE user_id = ? "
                          "ORDER BY \"timestamp\", received_at, movie_id", (int(user_id),))
        return [_rating(row) for row in rows]

    def delete_rating(self, user_id: int, movie_id: int) -> bool:
        with self._session("deleting a rating", write=True) as conn, self._transaction(conn) as cur:
            cur.execute(self._sql("DELETE FROM ratings WHERE user_id = ? AND movie_id = ?"),
                        (int(user_id), int(movie_id)))
            return bool(cur.rowcount)

    def all_ratings(self) -> list[StoredRating]:
        rows = self._read("reading all ratings",
                          f"SELECT {_COLUMNS} FROM ratings ORDER BY user_id, movie_id")
        return [_rating(row) for row in rows]

    def ratings_received_since(self, since: float) -> list[StoredRating]:
        rows = self._read("reading recent ratings", f"SELECT {_COLUMNS} FROM ratings WHERE "
                          "received_at >= ? ORDER BY received_at", (float(since),))
        return [_rating(row) for row in rows]

    # ------------------------------------------------------------ users
    def allocate_user(self, floor: int) -> int:
        with self._session("allocating a user id", write=True) as conn, \
                self._transaction(conn, lock_users=True) as cur:
            # under the write lock (SQLite) or the table lock (PostgreSQL): two workers
            # never read the same maximum
            cur.execute("SELECT MAX(user_id) FROM users")
            handed = cur.fetchone()[0]
            cur.execute("SELECT MAX(user_id) FROM ratings")
            rated = cur.fetchone()[0]
            user = max([int(floor)] + [int(v) + 1 for v in (handed, rated) if v is not None])
            if user > MAX_USER_ID:
                raise FeedbackUnavailableError("no user id left below 2**31")
            cur.execute(self._sql("INSERT INTO users (user_id, created_at) VALUES (?, ?)"),
                        (user, time.time()))
        return user

    # ------------------------------------------------------------ served lists
    def record_served(self, user_id: int, version: str, movie_ids: Sequence[int],
                      served_at: float | None = None) -> None:
        when = time.time() if served_at is None else served_at
        with self._session("recording a served list", write=True) as conn, \
                self._transaction(conn) as cur:
            cur.execute(self._sql("INSERT INTO served (user_id, version, movie_ids, served_at) "
                                  "VALUES (?, ?, ?, ?)"),
                        (int(user_id), version, ",".join(str(int(m)) for m in movie_ids),
                         when))

    def served_since(self, since: float) -> list[ServedList]:
        rows = self._read("reading served lists", "SELECT user_id, version, movie_ids, "
                          "served_at FROM served WHERE served_at >= ? ORDER BY served_at",
                          (float(since),))
        return [ServedList(int(u), str(v), tuple(int(m) for m in str(ms).split(",") if m),
                           float(t)) for u, v, ms, t in rows]

    def close(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                self._lost()
            self._conn = None


def _rating(row: Sequence[Any]) -> StoredRating:
    user, movie, rating, stamp, received = row
    return StoredRating(int(user), int(movie), float(rating), int(stamp), float(received))
