"""Typed readers for the files of every MovieLens layout, with line-located errors.

Each file is described by a :class:`FileSpec`. Big files (ratings) take a fast path:
one lazy Polars scan with explicit dtypes. When Polars rejects the file, a streaming
Python pass finds the first bad line, so the error names the file, line, field and
value instead of a byte offset. Small files (movies, tags, links, users) are read as
strings and cast, which locates bad values directly.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
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
#: A well-formed UTF-8 multi-byte sequence: latin-1 text practically never holds one.
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}"
                            rb"|[\xf0-\xf4][\x80-\xbf]{3}")


def detect_encoding(path: Path) -> str:
    """``utf-8`` when the file decodes as UTF-8, else ``latin-1`` (ml-100k, ml-1m).

    A file that is not UTF-8 but holds well-formed UTF-8 sequences too mixes the two
    encodings: reading it either way would garble some titles, so it is an error naming
    the line of the first byte that is not UTF-8.
    """
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if _UTF8_SEQUENCE.search(data):
            raise DataFormatError(
                f"byte 0x{data[exc.start]:02x} is not UTF-8, yet the file holds UTF-8 text "
                "elsewhere (mixed encodings); re-save the file as UTF-8",
                path=path, line=data.count(b"\n", 0, exc.start) + 1,
            ) from None
        log.info("%s: not UTF-8; read as latin-1", path)
        return "latin-1"
    return "utf-8"


def decode_text(path: Path) -> str:
    """The file's text in its detected encoding (see :func:`detect_encoding`)."""
    return path.read_bytes().decode(detect_encoding(path))


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


def truncation_hint(path: Path, line: int | None) -> str:
    """A note for an error on the last line of a file that does not end in a newline."""
    if line is None or line < 1:
        return ""
    with path.open("rb") as handle:
        data = handle.read()
    if not data or data.endswith(b"\n") or data.count(b"\n") + 1 != line:
        return ""
    return " (the last line has no newline: is the file truncated?)"


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


_DIGITS = re.compile(r"[0-9]+")


def _int_max(dtype: pl.DataType) -> int | None:
    return 2**31 - 1 if dtype == pl.Int32 else 2**63 - 1 if dtype == pl.Int64 else None


def value_problem(name: str, value: str, dtype: pl.DataType) -> str | None:
    """Why ``value`` is no valid ``dtype`` cell of column ``name``, or ``None``.

    Integers are ASCII digits only: Polars (and ``int``) accept ``+7``, `` 7`` and
    ``-7``, but none of them is a MovieLens id or timestamp, so each is an error here
    rather than a silently different value.
    """
    if dtype.is_integer():
        if not _DIGITS.fullmatch(value):
            if value.strip().startswith("-") and _DIGITS.fullmatch(value.strip()[1:]):
                return "negative; ids and timestamps are positive integers"
            if _DIGITS.fullmatch(value.strip().lstrip("+")):
                return "a sign or spaces around an integer; write ASCII digits only"
            return f"not {_kind(dtype)}"
        limit = _int_max(dtype)
        if limit is not None and int(value) > limit:
            return f"above {limit}, the largest {dtype} value"
        return None
    if dtype.is_float():
        if value != value.strip() or value.startswith("+"):
            return "a sign or spaces around a number; write the number only"
        try:
            return None if math.isfinite(float(value)) else f"not {_kind(dtype)}"
        except ValueError:
            return f"not {_kind(dtype)}"
    return None


def _split_lines(path: Path, spec: FileSpec, encoding: str) -> Iterator[tuple[int, list[str]]]:
    with path.open(encoding=encoding, newline="") as handle:
        if spec.separator == ",":
            rows: Iterator[list[str]] = csv.reader(handle)
        else:
            rows = (line.rstrip("\r\n").split(spec.separator) for line in handle)
        yield from enumerate(rows, start=1)


def diagnose(path: Path, spec: FileSpec, encoding: str = "utf-8") -> DataFormatError | None:
    """Walk the file and describe its first malformed line, or ``None`` if all parse."""
    # header files may hold extra columns (ignored): check the spec's ones by position
    positions = list(range(len(spec.columns)))
    width = len(spec.columns)
    for number, row in _split_lines(path, spec, encoding):
        if number == 1 and spec.header:
            names = [name.lstrip("\ufeff") for name in row]
            positions = [names.index(h) if h in names else i for i, h in enumerate(spec.header)]
            width = len(names)
            continue
        if not row or row == [""]:
            continue  # blank lines are dropped, not errors
        if len(row) != width:
            return DataFormatError(
                f"expected {width} fields separated by {spec.separator!r}, "
                f"found {len(row)}{truncation_hint(path, number)}",
                path=path, line=number, value=spec.separator.join(row),
            )
        for (name, dtype), value in zip(spec.columns, (row[i] for i in positions)):
            if value == "" and name != "tag":
                return DataFormatError("empty value", path=path, line=number, field=name)
            problem = value_problem(name, value, dtype)
            if problem is not None:
                return DataFormatError(
                    problem + truncation_hint(path, number), path=path, line=number,
                    field=name, value=value,
                )
    return None


_CHUNK = 1 << 24


def looks_irregular(path: Path, spec: FileSpec) -> bool:
    """One fast byte pass over a numeric file: does any data line need a closer look?

    A ratings line holds ASCII digits, ``.`` and its separators only, exactly
    ``len(columns) - 1`` separators of them. Polars parses ``+7`` and `` 7`` as 7 and,
    scanning ``::`` files column-pruned, ignores a fifth field, so any other byte, or a
    separator count that is off, sends the file to :func:`diagnose`. On a clean file this
    costs one read at memchr speed.
    """
    allowed = b"0123456789.\r\n" + spec.separator.encode()
    separator = spec.separator.encode()
    separators = lines = 0
    last = b""
    width = len(spec.columns)
    with path.open("rb") as handle:
        if spec.header:  # extra columns are allowed (ignored): the header sets the width
            width = handle.readline().count(separator) + 1
        while chunk := handle.read(_CHUNK):
            chunk += handle.readline()  # end on a line boundary: no separator is cut
            if chunk.translate(None, allowed):
                return True
            separators += chunk.count(separator)
            lines += chunk.count(b"\n")
            last = chunk
    if last and not last.endswith(b"\n"):
        lines += 1
    # blank lines (no separators) also make the counts differ; diagnose skips them
    return separators != lines * (width - 1)


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
    if looks_irregular(path, spec):
        found = diagnose(path, spec)
        if found is not None:
            raise found
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
        raw = pl.col(name)
        cast = raw.cast(dtype, strict=False)
        bad = cast.is_null() & raw.is_not_null() & (raw != "")
        if dtype.is_integer():  # ASCII digits only (see value_problem)
            bad = bad | (raw.is_not_null() & (raw != "") & ~raw.str.contains(r"^[0-9]+$"))
        rows = df.filter(bad)
        if rows.height:
            value = rows[name][0]
            raise DataFormatError(
                value_problem(name, value, dtype) or f"not {_kind(dtype)}", path=path,
                line=int(rows["_line"][0]), field=name, value=value,
            )
        df = df.with_columns(cast.alias(name))
    return df


def read_header_csv(path: Path, spec: FileSpec) -> pl.DataFrame:
    """A small header-first CSV as string columns in canonical names, with ``_line``.

    The text is decoded in its detected encoding, then parsed by Polars; if Polars
    rejects it (an unbalanced quote, a ragged row) or a row comes back short (Polars
    pads it with nulls), Python's csv module walks the text to name the line.
    """
    assert spec.header is not None
    names = check_header(path, spec)
    text = decode_text(path)
    try:
        frame = pl.read_csv(io.StringIO(text.lstrip("\ufeff")), infer_schema=False)
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError,
            pl.exceptions.SchemaError):
        frame = None
    if frame is None or _irregular_cells(frame):
        _locate_csv_problem(path, text, len(names))
        if frame is None:
            raise DataFormatError("unreadable as CSV", path=path)
    assert frame is not None
    frame = frame.with_row_index("_line", offset=2).with_columns(pl.col("_line").cast(pl.Int64))
    frame = frame.select(
        [pl.col(src).alias(dst) for src, (dst, _) in zip(spec.header, spec.columns)]
        + [pl.col("_line")]
    )
    return frame.filter(~pl.all_horizontal(pl.exclude("_line").is_null()))


def _irregular_cells(frame: pl.DataFrame) -> bool:
    """Nulls (a short row or a blank line) or a newline inside a cell (a runaway quote)."""
    if frame.null_count().sum_horizontal().item():
        return True
    return bool(frame.select(
        pl.any_horizontal(pl.all().str.contains("\n", literal=True)).any()).item())


def _locate_csv_problem(path: Path, text: str, width: int) -> None:
    """Raise the first ragged row or runaway quote of ``text`` with its line number."""
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    for row in reader:
        end = reader.line_num
        if start > 1 and row and row != [""]:
            if any("\n" in cell or "\r" in cell for cell in row):
                raise DataFormatError(
                    f"a quoted field runs over {end - start + 1} lines: unbalanced quote",
                    path=path, line=start, value=text.splitlines()[start - 1][:80],
                )
            if len(row) != width:
                raise DataFormatError(
                    f"expected {width} fields separated by ',', found {len(row)}",
                    path=path, line=start, value=",".join(row)[:80],
                )
        start = end + 1
