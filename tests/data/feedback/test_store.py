"""The store's contract, run on SQLite and on PostgreSQL (tests/data/feedback/conftest.py)."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading

import pytest

from reco.data.feedback import (
    SCHEMA_VERSION,
    FeedbackSchemaError,
    FeedbackUnavailableError,
    PostgresStore,
    SqliteStore,
    open_store,
)
from reco.data.feedback.postgres import _redacted


def test_ratings_round_trip_and_newest_timestamp_wins(store):
    assert store.put_ratings(7, [1, 2], [4.0, 2.5], [100, 100], received_at=1.0) == [1, 2]
    # older than what is stored: not written; newer or equal: written
    assert store.put_ratings(7, [1, 2], [1.0, 5.0], [99, 100], received_at=2.0) == [2]
    got = {r.movie_id: r for r in store.ratings(7)}
    assert got[1].rating == 4.0 and got[1].timestamp == 100 and got[1].received_at == 1.0
    assert got[2].rating == 5.0 and got[2].received_at == 2.0
    assert store.ratings(8) == []


def test_a_failed_write_leaves_nothing_half_written(store):
    with pytest.raises(ValueError):
        store.put_ratings(1, [1, 2], [4.0], [1, 2])
    # an error in the middle of a body (a value the database or its driver refuses:
    # PostgreSQL says bigint out of range, sqlite3 raises OverflowError) rolls back all
    with pytest.raises((FeedbackUnavailableError, OverflowError)):
        store.put_ratings(1, [1, 2], [4.0, 3.0], [5, 2**70])
    assert store.ratings(1) == []
    store.put_ratings(1, [3], [3.0], [1])  # the store still works after the error
    assert [r.movie_id for r in store.ratings(1)] == [3]


def test_delete(store):
    store.put_ratings(3, [10, 11], [4.0, 4.0], [1, 1])
    assert store.delete_rating(3, 10) is True
    assert store.delete_rating(3, 10) is False
    assert [r.movie_id for r in store.ratings(3)] == [11]


def test_all_ratings_and_received_since(store):
    store.put_ratings(2, [5], [3.0], [1], received_at=10.0)
    store.put_ratings(1, [6, 7], [4.0, 1.0], [2, 3], received_at=20.0)
    assert [(r.user_id, r.movie_id) for r in store.all_ratings()] == [(1, 6), (1, 7), (2, 5)]
    assert {r.movie_id for r in store.ratings_received_since(15.0)} == {6, 7}


def test_allocated_ids_are_above_the_floor_rated_and_handed_out_ids(store):
    assert store.allocate_user(611) == 611
    assert store.allocate_user(611) == 612
    assert store.allocate_user(1000) == 1000  # a newer model's floor is respected
    store.put_ratings(5000, [1], [4.0], [1])  # someone rated under an id never handed out
    assert store.allocate_user(611) == 5001


def test_allocation_never_repeats_across_threads(store):
    got: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(20):
            user = store.allocate_user(100)
            with lock:
                got.append(user)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(100, 180))


def _allocate(url: str, n: int, out: multiprocessing.Queue) -> None:
    store = open_store(url)  # a process of its own: its own connection
    out.put([store.allocate_user(10) for _ in range(n)])


def test_allocation_never_repeats_across_processes(store_url):
    ctx = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue = ctx.Queue()
    workers = [ctx.Process(target=_allocate, args=(store_url, 15, out)) for _ in range(3)]
    for w in workers:
        w.start()
    got = [u for _ in workers for u in out.get(timeout=60)]
    for w in workers:
        w.join(timeout=60)
    assert sorted(got) == list(range(10, 55))


def test_served_lists_round_trip(store):
    store.record_served(4, "v1", [3, 2, 1], served_at=100.0)
    store.record_served(5, "v2", [9], served_at=200.0)
    served = store.served_since(150.0)
    assert [(s.user_id, s.version, s.movie_ids, s.served_at) for s in served] == [
        (5, "v2", (9,), 200.0)]
    assert store.served_since(0)[0].movie_ids == (3, 2, 1)


def test_a_newer_schema_is_refused_with_a_clear_error(store_url):
    first = open_store(store_url)
    first.ratings(1)  # creates the schema
    first.put_ratings(1, [1], [4.0], [1])
    first.close()
    if store_url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as conn:
            conn.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION + 1,))
    else:
        with sqlite3.connect(store_url) as conn:
            conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(FeedbackSchemaError, match="newer than"):
        open_store(store_url).ratings(1)


def test_the_schema_is_created_once(store_url):
    for _ in range(2):
        s = open_store(store_url)
        s.put_ratings(1, [1], [4.0], [1])
        s.close()
    if store_url.startswith("postgresql"):
        import psycopg

        with psycopg.connect(store_url) as conn:
            rows = conn.execute("SELECT version FROM schema_version").fetchall()
    else:
        with sqlite3.connect(store_url) as conn:
            rows = conn.execute("SELECT version FROM schema_version").fetchall()
    assert rows == [(SCHEMA_VERSION,)]


def test_a_forked_child_opens_its_own_connection(store):
    store.put_ratings(1, [1], [4.0], [1])
    parent_conn = store._conn
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a new connection, the parent's left alone
        try:
            ok = store.ratings(1)[0].movie_id == 1 and store._conn is not parent_conn
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)
    assert store._conn is parent_conn and store.ratings(1)


# ------------------------------------------------------------------ unreachable, read-only
def test_sqlite_in_a_missing_folder_is_unavailable(tmp_path, caplog):
    store = open_store(tmp_path / "nowhere" / "f.sqlite3")
    with pytest.raises(FeedbackUnavailableError) as err:
        store.ratings(1)
    assert "nowhere" not in str(err.value) and "unavailable" in str(err.value)
    assert "nowhere" in caplog.text  # the detail is in the log


def test_sqlite_read_only_reads_but_refuses_writes(tmp_path):
    path = tmp_path / "f.sqlite3"
    open_store(path).put_ratings(1, [1], [4.0], [1])
    read_only = open_store(f"sqlite:///{path}?mode=ro")
    assert isinstance(read_only, SqliteStore) and read_only.read_only
    assert [r.movie_id for r in read_only.ratings(1)] == [1]
    with pytest.raises(FeedbackUnavailableError):
        read_only.put_ratings(1, [2], [3.0], [1])
    with pytest.raises(FeedbackUnavailableError):
        read_only.allocate_user(1)
    assert [r.movie_id for r in open_store(path).ratings(1)] == [1]


def test_postgres_unreachable_is_unavailable(caplog):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = open_store(f"postgresql://reco:secret@127.0.0.1:{port}/reco")
    with pytest.raises(FeedbackUnavailableError) as err:
        store.put_ratings(1, [1], [4.0], [1])
    assert "secret" not in str(err.value) and "secret" not in caplog.text
    assert "127.0.0.1" not in str(err.value)


def test_postgres_read_only_refuses_writes(postgres_schema_url):
    open_store(postgres_schema_url).put_ratings(1, [1], [4.0], [1])
    read_only = open_store(postgres_schema_url.replace(
        "options=", "options=-cdefault_transaction_read_only%3Don%20"))
    assert [r.movie_id for r in read_only.ratings(1)] == [1]
    with pytest.raises(FeedbackUnavailableError):
        read_only.put_ratings(1, [2], [3.0], [1])
    assert [r.movie_id for r in open_store(postgres_schema_url).ratings(1)] == [1]


# ------------------------------------------------------------------ URLs
@pytest.mark.parametrize(("url", "kind"), [
    ("postgresql://u@h/db", PostgresStore), ("postgres://u@h/db", PostgresStore),
    ("sqlite:///data/f.sqlite3", SqliteStore), ("data/f.sqlite3", SqliteStore),
    ("/abs/f.sqlite3", SqliteStore)])
def test_urls_choose_the_backend(url, kind):
    assert isinstance(open_store(url), kind)


def test_sqlite_durability_is_chosen_by_the_url(tmp_path):
    for url, expected in ((tmp_path / "a.sqlite3", 1), (f"sqlite:///{tmp_path}/b.sqlite3"
                                                        "?synchronous=full", 2)):
        store = open_store(url)
        store.ratings(1)
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == expected
        assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000


def test_sqlite_url_paths():
    assert str(open_store("sqlite:///data/f.sqlite3").path) == "data/f.sqlite3"
    assert str(open_store("sqlite:////abs/f.sqlite3").path) == "/abs/f.sqlite3"


@pytest.mark.parametrize("url", ["mysql://h/db", "sqlite://host/f", "sqlite:///",
                                 "sqlite:///f?mode=rwc", "sqlite:///f?synchronous=off",
                                 "sqlite:///f?cache=shared"])
def test_bad_urls_are_refused(url):
    with pytest.raises(ValueError):
        open_store(url)


def test_passwords_are_redacted_from_logged_urls():
    assert _redacted("postgresql://reco:hunter2@db:5432/x") == "postgresql://reco:***@db:5432/x"
    assert _redacted("postgresql://reco@db/x") == "postgresql://reco@db/x"


def test_the_switch_to_wal_waits_for_another_connection_on_a_new_file(tmp_path):
    """SQLite answers "database is locked" at once to a journal-mode switch while another
    connection holds the new file (no busy timeout applies): the switch is retried."""
    import time

    from reco.data.feedback.sqlite import _use_wal

    path = tmp_path / "new.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE t (x INTEGER)")
    opener = sqlite3.connect(path, timeout=0, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        opener.execute("PRAGMA journal_mode = WAL").fetchone()
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    started = time.monotonic()
    release.start()
    try:
        _use_wal(opener)
    finally:
        release.join()
    assert time.monotonic() - started >= 0.25
    assert opener.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    opener.close()
    holder.close()
