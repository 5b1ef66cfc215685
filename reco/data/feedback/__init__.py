"""The feedback store: ratings people give after training, new users' ids, served lists.

:func:`open_store` picks the backend from a URL: ``postgresql://...`` (or ``postgres://``)
is PostgreSQL (:mod:`reco.data.feedback.postgres`, psycopg 3); ``sqlite:///relative/path``,
``sqlite:////absolute/path`` or a plain file path is SQLite (:mod:`reco.data.feedback.sqlite`);
``?mode=ro`` on a SQLite URL opens it read-only, ``?synchronous=full`` fsyncs every commit
(:mod:`reco.data.feedback.sqlite` says when that matters). Nothing connects until
first use, so a store opened before gunicorn forks is still one connection per worker.
The store imports only reco's core: serving, the pipelines and the benchmarks use it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from reco.data.feedback._base import (
    MAX_USER_ID,
    SCHEMA_VERSION,
    FeedbackSchemaError,
    FeedbackStore,
    FeedbackUnavailableError,
    ServedList,
    SqlStore,
    StoredRating,
)
from reco.data.feedback.postgres import PostgresStore
from reco.data.feedback.sampling import SamplingConfig, ServedSampler
from reco.data.feedback.sqlite import SqliteStore
from reco.data.feedback.stats import online_stats

#: The variable naming the store when no ``--feedback`` is given.
ENV_URL = "RECO_FEEDBACK_URL"
#: The default store, relative to the project folder (git-ignored).
DEFAULT_FILE = Path("data") / "feedback.sqlite3"

__all__ = ["DEFAULT_FILE", "ENV_URL", "MAX_USER_ID", "SCHEMA_VERSION", "FeedbackSchemaError",
           "FeedbackStore", "FeedbackUnavailableError", "PostgresStore", "ServedList",
           "SamplingConfig", "ServedSampler", "SqlStore", "SqliteStore", "StoredRating",
           "online_stats", "open_store"]


def open_store(url: str | Path) -> SqlStore:
    """The store ``url`` names (nothing is opened yet). ``ValueError`` for a URL of
    another scheme."""
    text = str(url)
    scheme = text.split(":", 1)[0].lower() if "://" in text else ""
    if scheme in ("postgresql", "postgres"):
        return PostgresStore(text)
    if scheme == "sqlite":
        parts = urlsplit(text)
        if parts.netloc:
            raise ValueError("a SQLite URL has no host: sqlite:///relative/path or "
                             "sqlite:////absolute/path")
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if not path:
            raise ValueError("a SQLite URL needs a file: sqlite:///data/feedback.sqlite3")
        query = parse_qs(parts.query)
        unknown = sorted(set(query) - {"mode", "synchronous"})
        if unknown:
            raise ValueError(f"unknown SQLite URL parameter(s) {unknown}: mode, synchronous")
        mode = query.get("mode", ["rw"])[0]
        if mode not in ("rw", "ro"):
            raise ValueError(f"SQLite mode must be rw or ro, got {mode!r}")
        return SqliteStore(path, read_only=mode == "ro",
                           synchronous=query.get("synchronous", ["normal"])[0])
    if scheme:
        raise ValueError(f"unknown feedback store scheme {scheme!r}: use postgresql://... "
                         "or sqlite:///path (or a file path)")
    return SqliteStore(text)
