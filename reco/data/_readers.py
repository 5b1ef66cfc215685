"""Typed readers for the files of every MovieLens layout, with line-located errors.

Each file is described by a :class:`FileSpec`. Big files (ratings) take a fast path:
one lazy Polars scan with explicit dtypes. When Polars rejects the file, a streaming
Python pass finds the first bad line, so the error names the file, line, field and
value instead of a byte offset. Small files (movies, tags, links, users) are read as
strings and cast, which locates bad values directly.
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from reco.exceptions import DataFormatError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileSpec:
    """How one MovieLens file is laid out.

    ``columns`` pairs each canonical column name with its dtype, in file order.
    ``header`` is the expected header (names in file order) or ``None`` for files
    without one; ``separator`` may be several characters (``"::"``).
    """

    separator: str
    columns: tuple[tuple[str, pl.DataType], ...]
    header: tuple[str, ...] | None = None

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def first_data_line(self) -> int:
        return 2 if self.header else 1


# ---------------------------------------------------------------- text helpers
def detect_encoding(path: Path) -> str:
    """``utf-8`` when the file decodes as UTF-8, else ``latin-1`` (ml-100k, ml-1m)."""
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"


def check_not_empty(path: Path) -> None:
    if not path.is_file():
        raise DataFormatError("file not found", path=path)
    if path.stat().st_size == 0:
        raise DataFormatError("file is empty (0 bytes)", path=path)


def read_csv_as_text(path: Path, columns: Collection[str]) -> pl.DataFrame:
    """A header-first CSV read as strings (cells are parsed by the caller, so a bad one
    is reported with its line), checked to hold ``columns``; the other columns stay."""
    check_not_empty(path)
    try:
        raw = pl.read_csv(path, infer_schema=False, encoding="utf8")
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise DataFormatError(f"unreadable as CSV: {exc}", path=path) from exc
    missing = [name for name in columns if name not in raw.columns]
    if missing:
        raise DataFormatError(
            f"missing column(s) {missing}; expected at least {list(columns)}, "
            f"found {raw.columns}",
            path=path, line=1, field=missing[0],
        )
    return raw


def read_first_line(path: Path, encoding: str = "utf-8") -> str:
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        return handle.readline().rstrip("\r\n")


def _guess_separator(line: str, expected: str) -> str:
    for candidate in ("::", ",", "\t", ";", "|"):
        if candidate != expected and candidate in line:
            return f"; it looks {candidate!r}-separated"
    return ""


def check_header(path: Path, spec: FileSpec) -> list[str]:
    """Check a CSV header holds every expected column; return the header names."""
    assert spec.header is not None
    line = read_first_line(path)
    names = next(csv.reader([line.lstrip("\ufeff")]), [])
    missing = [name for name in spec.header if name not in names]
    if len(names) == 1 and len(spec.header) > 1:
        raise DataFormatError(
            f"expected a {spec.separator!r}-separated header with columns "
            f"{list(spec.header)}, found one column{_guess_separator(line, spec.separator)}",
            path=path, line=1, value=line,
        )
    if missing:
        raise DataFormatError(
            f"missing column(s) {missing}; expected {list(spec.header)}, found {names}",
            path=path, line=1, field=missing[0],
        )
    if not line_count_at_least(path, 2):
        raise DataFormatError("file has a header but no data rows", path=path)
    return names


def line_count_at_least(path: Path, n: int) -> bool:
    with path.open("rb") as handle:
        return sum(1 for _ in zip(range(n), handle)) >= n


def check_separator(path: Path, spec: FileSpec, encoding: str = "utf-8") -> None:
    """Fail fast, on line 1, when a header-less file does not use its separator."""
    line = read_first_line(path, encoding)
    if spec.separator not in line:
        raise DataFormatError(
            f"expected {len(spec.columns)} fields separated by {spec.separator!r}"
            f"{_guess_separator(line, spec.separator)}",
            path=path, line=1, value=line,
        )


# ---------------------------------------------------------------- diagnosis
def _kind(dtype: pl.DataType) -> str:
    return "an integer" if dtype.is_integer() else "a number" if dtype.is_float() else str(dtype)


def _parse(value: str, dtype: pl.DataType) -> bool:
    if dtype.is_integer():
        try:
            int(value)
        except ValueError:
            return False
        return True
    if dtype.is_float():
        try:
            return math.isfinite(float(value))
        except ValueError:
            return False
    return True


def _split_lines(path: Path, spec: FileSpec, encoding: str) -> Iterator[tuple[int, list[str]]]:
    with path.open(encoding=encoding, newline="") as handle:
        if spec.separator == ",":
            rows: Iterator[list[str]] = csv.reader(handle)
        else:
            rows = (line.rstrip("\r\n").split(spec.separator) for line in handle)
        yield from enumerate(rows, start=1)


def diagnose(path: Path, spec: FileSpec, encoding: str = "utf-8") -> DataFormatError | None:
    """Walk the file and describe its first malformed line, or ``None`` if all parse."""
    for number, row in _split_lines(path, spec, encoding):
        if number == 1 and spec.header:
            continue
        if not row or row == [""]:
            continue  # blank lines are dropped, not errors
        if len(row) != len(spec.columns):
            return DataFormatError(
                f"expected {len(spec.columns)} fields separated by {spec.separator!r}, "
                f"found {len(row)}",
                path=path, line=number, value=spec.separator.join(row),
            )
        for (name, dtype), value in zip(spec.columns, row):
            if value == "" and name != "tag":
                return DataFormatError("empty value", path=path, line=number, field=name)
            if not _parse(value, dtype):
                return DataFormatError(
                    f"not {_kind(dtype)}", path=path, line=number, field=name, value=value
                )
    return None


# ---------------------------------------------------------------- readers
def scan_delimited(path: Path, spec: FileSpec) -> pl.LazyFrame:
    """Lazy, typed scan of a delimited file into canonical column names.

    ``"::"`` files are scanned with ``":"`` as the separator: the empty fields that
    falls between the doubled colons are dropped, which keeps the fast CSV reader.
    """
    if spec.separator == "::":
        schema: dict[str, pl.DataType] = {}
        for i, (name, dtype) in enumerate(spec.columns):
            if i:
                schema[f"_gap{i}"] = pl.String()
            schema[name] = dtype
        return pl.scan_csv(
            path, separator=":", has_header=False, schema=schema, quote_char=None
        ).select(spec.names)
    if spec.header:
        names = check_header(path, spec)
        wanted = dict(zip(spec.header, spec.columns))
        overrides = {name: wanted[name][1] for name in names if name in wanted}
        lf = pl.scan_csv(
            path, separator=spec.separator, schema_overrides=overrides, infer_schema=False
        )
        return lf.select(pl.col(src).alias(dst) for src, (dst, _) in wanted.items())
    return pl.scan_csv(
        path, separator=spec.separator, has_header=False, quote_char=None,
        schema=dict(spec.columns),
    )


def collect_checked(lf: pl.LazyFrame, path: Path, spec: FileSpec) -> pl.DataFrame:
    """Collect a typed scan; on a parse failure, name the first bad line."""
    try:
        df = lf.collect()
    except (pl.exceptions.ComputeError, pl.exceptions.SchemaError) as exc:
        found = diagnose(path, spec)
        if found is not None:
            raise found from None
        raise DataFormatError(f"unreadable: {exc}", path=path) from exc
    return drop_blank_rows(df, path, spec)


def drop_blank_rows(df: pl.DataFrame, path: Path, spec: FileSpec) -> pl.DataFrame:
    """Drop lines that are wholly empty; reject lines with some fields empty."""
    if not df.null_count().sum_horizontal().item():
        return df
    all_null = pl.all_horizontal(pl.all().is_null())
    blank = int(df.select(all_null.sum()).item())
    if blank:
        log.warning("%s: skipped %d blank line(s)", path, blank)
        df = df.filter(~all_null)
    nullable = [n for n, _ in spec.columns if n == "tag"]
    required = [n for n in df.columns if n not in nullable]
    if not df.select(required).null_count().sum_horizontal().item():
        return df
    found = diagnose(path, spec)
    if found is not None:
        raise found
    raise DataFormatError("empty value(s) in required columns", path=path)


def line_of_row(path: Path, spec: FileSpec, row: int) -> int:
    """The 1-based line number of data row ``row`` (0-based, blank lines skipped)."""
    seen = -1
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number < spec.first_data_line or not raw.strip():
                continue
            seen += 1
            if seen == row:
                return number
    return -1


def read_split_text(path: Path, spec: FileSpec, encoding: str) -> pl.DataFrame:
    """Read a small header-less ``sep``-separated file into string columns.

    Titles may contain the single-character separators of other layouts, so small
    files are split in Python, exactly on ``spec.separator``.
    """
    rows: list[list[str]] = []
    lines: list[int] = []
    for number, row in _split_lines(path, spec, encoding):
        if row == [""]:
            continue
        if len(row) != len(spec.columns):
            raise DataFormatError(
                f"expected {len(spec.columns)} fields separated by {spec.separator!r}, "
                f"found {len(row)}",
                path=path, line=number, value=spec.separator.join(row),
            )
        rows.append(row)
        lines.append(number)
    frame = pl.DataFrame(rows, schema=spec.names, orient="row")
    return frame.with_columns(pl.Series("_line", lines, dtype=pl.Int64))


def cast_located(df: pl.DataFrame, path: Path, spec: FileSpec) -> pl.DataFrame:
    """Cast string columns to the spec's dtypes; name the first value that fails.

    ``df`` carries a ``_line`` column with each row's line number.
    """
    for name, dtype in spec.columns:
        if dtype == pl.String:
            continue
        raw = pl.col(name).str.strip_chars()
        cast = raw.cast(dtype, strict=False)
        bad = df.filter(cast.is_null() & raw.is_not_null() & (raw != ""))
        if bad.height:
            raise DataFormatError(
                f"not {_kind(dtype)}", path=path, line=int(bad["_line"][0]),
                field=name, value=bad[name][0],
            )
        df = df.with_columns(cast.alias(name))
    return df
