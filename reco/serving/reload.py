"""The served model and its hot reload: :class:`ModelHolder`.

A server holds one :class:`~reco.serving.service.RecoService` at a time. A background
thread reads the store's ``current`` pointer every few seconds (and at once when woken,
on SIGHUP); when it names another version, that version is verified and loaded on the
thread, off the request path, and swapped in by one assignment. A request takes the
service once, at its start, so in-flight requests finish on the model they began with,
and the old model is freed when the last of them ends. A version that fails
verification is never served: it is logged once and remembered, and the model already
loaded stays.

At start, a store whose current version fails verification serves the newest version
that verifies (saying so in one log line); one with no such version serves nothing, and
``/health`` says why.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from reco.artifacts import store
from reco.exceptions import ArtifactError
from reco.serving.service import RecoService

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_POLL_SECONDS = 2.0
#: How long a parent's verification is trusted (workers start within seconds of it).
TRUST_SECONDS = 60.0


def _trusted(verified: str | None) -> str | None:
    """The version id of ``"<id>@<unix seconds>"`` if that verification is recent."""
    version, _, stamp = (verified or "").partition("@")
    try:
        age = time.time() - float(stamp)
    except ValueError:
        return None
    return version if -5 <= age <= TRUST_SECONDS and version else None  # (clock rounding)


@dataclass(frozen=True)
class Rejection:
    """A version that was not served, and why (what ``/health`` reports)."""

    version: str
    reason: str
    at: str

    def to_dict(self) -> dict[str, str]:
        return {"version": self.version, "reason": self.reason, "at": self.at}


def _off_the_loop(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``func(*args, **kwargs)``, in a real OS thread when gevent has patched threading
    (gunicorn's gevent worker): verifying and loading a version is seconds of C code that
    would otherwise stop every connection of the worker's event loop meanwhile."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        from gevent import get_hub

        return get_hub().threadpool.apply(func, args, kwargs)
    return func(*args, **kwargs)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class ModelHolder:
    """The model a server answers from, swapped whole when a new version is current.

    Parameters
    ----------
    artifacts
        An artifact store (hot-reloaded) or one version directory (served as is).
    poll_seconds
        How often the background thread reads the ``current`` pointer (0: never; call
        :meth:`check` yourself).
    verified
        ``"<version id>@<unix seconds>"``: a version this process's parent verified byte
        for byte (``scripts/serve.py`` passes it as ``RECO_VERIFIED``). If that was under
        :data:`TRUST_SECONDS` ago, its first load here skips the sha256 pass (every other
        check runs); any other version, any later load, and a worker gunicorn restarts
        later, verify in full.
    """

    def __init__(self, artifacts: str | Path, *, poll_seconds: float = DEFAULT_POLL_SECONDS,
                 verified: str | None = None) -> None:
        self.artifacts = Path(artifacts)
        self.poll_seconds = poll_seconds
        self._verified = _trusted(verified)
        self._service: RecoService | None = None
        self._error: str | None = "no model loaded yet"
        self._rejected: dict[str, Rejection] = {}
        self._latest_rejection: Rejection | None = None
        self._loaded_at: str | None = None
        self._load_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # ---------------------------------------------------------- what requests read
    @property
    def service(self) -> RecoService | None:
        """The service to answer one request from (read once per request)."""
        return self._service

    @property
    def error(self) -> str | None:
        """Why no model is served (None when one is)."""
        return None if self._service is not None else self._error

    def status(self, service: RecoService | None = None) -> dict[str, Any]:
        """What ``/health`` reports of the lifecycle (never a filesystem path), for
        ``service`` (the one a request holds; default: the one served now)."""
        service = self._service if service is None else service
        manifest = service.manifest if service is not None else {}
        return {
            "version": manifest.get("version"),
            "created_at": manifest.get("created_at"),
            "loaded_at": self._loaded_at,
            "rejected": (self._latest_rejection.to_dict()
                         if self._latest_rejection is not None else None),
        }

    # ---------------------------------------------------------- loading
    def _is_store(self) -> bool:
        return store.is_store(self.artifacts)

    def _try(self, version: Path) -> RecoService | None:
        """Load ``version``, or remember (and log once) why it cannot be served."""
        checksums = version.name != self._verified
        self._verified = None  # trusted once, at start: never for a later load
        try:
            if threading.current_thread() is threading.main_thread():
                # at start, before the worker serves anything: nothing to keep responsive
                return RecoService.load(version, checksums=checksums)
            return _off_the_loop(RecoService.load, version, checksums=checksums)
        except ArtifactError as exc:
            self._reject(version.name, str(exc))
        except Exception as exc:  # a bug or an exhausted machine: the old model stays
            log.exception("version %s: unexpected error while loading", version.name)
            self._reject(version.name, f"could not be loaded ({type(exc).__name__})")
        return None

    def _reject(self, version: str, reason: str) -> None:
        rejection = Rejection(version, reason, _now())
        if version not in self._rejected:
            log.error("version %s not served: %s", version, reason)
        self._rejected[version] = rejection
        self._latest_rejection = rejection

    def _swap(self, service: RecoService) -> None:
        previous = self._service
        self._service = service  # one assignment: a request sees the old or the new
        self._loaded_at = _now()
        self._error = None
        if previous is not None:
            log.info("now serving version %s (was %s)", service.manifest.get("version"),
                     previous.manifest.get("version"))

    def load(self) -> bool:
        """The first load: the current version, else the newest that verifies. True when
        a model is served."""
        with self._load_lock:
            if not self._is_store():
                try:
                    version = store.resolve(self.artifacts)
                except ArtifactError as exc:
                    self._error = str(exc)
                    return False
                service = self._try(version)
                if service is None:
                    self._error = self._rejected[version.name].reason
                    return False
                self._swap(service)
                return True
            target = store.ArtifactStore(self.artifacts)
            try:
                current = target.pointer()
            except ArtifactError as exc:
                self._error = str(exc)
                current = None
            if current is not None and current not in self._rejected:
                service = self._try(target.version_path(current))
                if service is not None:
                    self._swap(service)
                    return True
            if current is not None:
                self._error = f"version {current}: {self._rejected[current].reason}"
            for info in reversed(target.versions()):
                if info.version == current or info.version in self._rejected:
                    continue
                service = self._try(info.path)
                if service is not None:
                    self._swap(service)
                    if current is not None:
                        log.warning("serving version %s, the newest that verifies: the "
                                    "current version %s failed verification",
                                    info.version, current)
                    return True
            return False

    def check(self) -> bool:
        """One poll: if ``current`` names a version neither served nor rejected, verify,
        load and swap it in. True when a new version was swapped in."""
        if not self._is_store():
            return False
        try:
            current = store.ArtifactStore(self.artifacts).pointer()
        except ArtifactError:
            return False  # no pointer (yet, or removed): keep what is served
        service = self._service
        if service is not None and service.manifest.get("version") == current:
            return False
        if current in self._rejected:
            return False
        with self._load_lock:
            if self._service is not service:  # another thread swapped meanwhile
                return False
            started = time.perf_counter()
            new = self._try(store.ArtifactStore(self.artifacts).version_path(current))
            if new is None:
                if self._service is None:
                    self._error = f"version {current}: {self._rejected[current].reason}"
                return False
            self._swap(new)
            log.info("version %s verified and loaded in %.2fs", current,
                     time.perf_counter() - started)
            return True

    # ---------------------------------------------------------- the poller
    def start(self) -> None:
        """Start the background poller (a daemon thread; once)."""
        if self._thread is not None or self.poll_seconds <= 0:
            return  # (a path that is not a store yet is watched too: train may create it)
        self._thread = threading.Thread(target=self._run, name="reco-reload", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Check now (what SIGHUP does); safe to call from a signal handler."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                if self._service is None:
                    self.load()
                else:
                    self.check()
            except Exception:  # the poller must outlive any one bad version
                log.exception("reload check failed")
