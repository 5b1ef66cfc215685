"""Frozen dataclass configurations, one per component.

Each config validates itself in ``__post_init__`` (the bad value is in the message),
``from_dict`` rejects unknown keys, and ``to_dict`` is what goes into the manifest.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from reco.exceptions import ConfigError

C = TypeVar("C", bound="ConfigBase")


class ConfigBase:
    """Shared behaviour of reco's frozen dataclass configs."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any] | None = None) -> C:
        """Build a config from a mapping, rejecting keys the config does not have."""
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"{cls.__name__}: unknown key(s) {unknown}; known keys are {sorted(known)}"
            )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The config as plain JSON-ready values."""
        return dataclasses.asdict(self)


def check_range(
    owner: str, name: str, value: float, low: float | None = None, high: float | None = None
) -> None:
    """Raise ``ConfigError`` naming the field when ``value`` is outside ``[low, high]``."""
    # numbers.Real, not (int, float): numpy scalars (np.int64 is no int) are numbers too;
    # bool is one as well in Python, but True as a size is always a slip.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{owner}.{name} must be a number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"{owner}.{name} must be in {_bounds(low, high)}, got {value!r}")


def check_int(
    owner: str, name: str, value: object, low: int | None = None, high: int | None = None
) -> None:
    """Raise ``ConfigError`` unless ``value`` is an integer (numpy's too, not a bool) in
    ``[low, high]``; the message names the field and the bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(
            f"{owner}.{name} must be an integer in {_bounds(low, high)}, got {value!r}"
        )
    check_range(owner, name, int(value), low, high)


def _bounds(low: float | None, high: float | None) -> str:
    return f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"


def check_choice(owner: str, name: str, value: object, choices: tuple[str, ...]) -> None:
    """Raise ``ConfigError`` when ``value`` is not one of ``choices``."""
    if value not in choices:
        raise ConfigError(f"{owner}.{name} must be one of {list(choices)}, got {value!r}")
