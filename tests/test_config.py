"""The shared checks of reco.config: the field and the bounds are in every message."""

from __future__ import annotations

import numpy as np
import pytest

from reco.config import check_choice, check_int, check_range
from reco.exceptions import ConfigError


@pytest.mark.parametrize("value", [3, np.int64(3), np.int32(10)])
def test_check_int_accepts_python_and_numpy_integers(value: object) -> None:
    check_int("Cfg", "n", value, 1, 10)


@pytest.mark.parametrize("value, match", [
    (True, r"Cfg\.n must be an integer in \[1, inf\], got True"),
    (2.0, "must be an integer"), ("3", "must be an integer"), (None, "must be an integer"),
    (0, r"Cfg\.n must be in \[1, inf\], got 0"),
])
def test_check_int_rejects_bools_non_integers_and_out_of_range(value: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        check_int("Cfg", "n", value, 1)


def test_check_range_and_choice() -> None:
    check_range("Cfg", "x", np.int64(2), 0.0, 5.0)  # numpy scalars are numbers
    with pytest.raises(ConfigError, match=r"Cfg\.x must be in \[-inf, 1\.0\], got 2"):
        check_range("Cfg", "x", 2, high=1.0)
    with pytest.raises(ConfigError, match="must be a number"):
        check_range("Cfg", "x", False)
    with pytest.raises(ConfigError, match=r"Cfg\.mode must be one of \['a', 'b'\]"):
        check_choice("Cfg", "mode", "c", ("a", "b"))
