"""Exceptions raised by reco.

Every error reco raises on purpose is a :class:`RecoError`, so callers can catch one
type; the children say what went wrong. Caller mistakes (a negative ``k``, a wrong
type) raise the built-in ``ValueError`` / ``TypeError`` instead.
"""

from __future__ import annotations

from pathlib import Path


class RecoError(Exception):
    """Base class of every error reco raises on purpose."""


class DataFormatError(RecoError, ValueError):
    """A data file is malformed.

    The message names the file, and where known the line number (1-based, counting the
    header line), the field and the offending value, so the fix is one look away.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
        value: object = None,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.line = line
        self.field = field
        self.value = value
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        if value is not None:
            where.append(f"value {value!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class DatasetNotFoundError(RecoError, FileNotFoundError):
    """A directory is not a MovieLens release (the message lists the files expected)."""


class ConfigError(RecoError, ValueError):
    """A configuration value is invalid or unknown."""


class NotFittedError(RecoError, RuntimeError):
    """A model was used before ``fit``."""


class UnknownIdError(RecoError, KeyError):
    """A user or movie id is not known to the model or dataset."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class ArtifactError(RecoError):
    """An artifact directory is missing, incomplete or from an incompatible version."""


class ModelFitError(RecoError):
    """A model could not be fitted on the given data."""
