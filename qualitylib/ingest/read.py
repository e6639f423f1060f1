"""Stage one CSV or Parquet file into a DuckDB temp table, keeping its row numbers.

Rows never pass through Python: DuckDB reads the file. Only the header line is read here, to
reject duplicated column names (DuckDB would silently rename them) and to fix the column set so
a wrong delimiter shows up as "missing column" instead of a guessed dialect.
"""

from __future__ import annotations

import csv
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from qualitylib.errors import ValidationError
from qualitylib.store import scalar

STAGE = "_stage"
STAGE_ROWS = "_stage_rows"
ROW = "_row"
CSV_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": ","}
PARQUET_SUFFIXES = {".parquet", ".pq"}
MAX_LINE = 1 << 20
# DuckDB reads a path holding any of these as a glob pattern (several files, or none)
GLOB_CHARACTERS = frozenset("*?[")
_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
# control characters and the byte-order mark: never part of a name or an id
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f\ufeff]")


def file_format(path: Path) -> str:
    """``csv`` or ``parquet``, from the file name; anything else is a clear error."""
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in CSV_SUFFIXES:
        return "csv"
    raise ValidationError(f"{path.name}: unknown file type {suffix!r}; use .csv, .tsv or .parquet")


def check_input(path: Path) -> None:
    """Refuse anything but an existing regular file (after links), before anything opens it:
    reading a FIFO or ``/dev/zero`` would hang while the import holds the store's lock."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ValidationError(f"{path}: no such file") from None
    except OSError as error:
        raise ValidationError(f"{path.name}: cannot read the file ({error.strerror})") from None
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
        raise ValidationError(f"{path.name}: is {kind}, not a file; give the path of a file")


@contextmanager
def literal_path(path: Path) -> Iterator[Path]:
    """A path DuckDB reads as exactly this one file.

    DuckDB's readers take ``*``, ``?`` and ``[...]`` as a glob (``export [12].csv`` would read
    ``export 1.csv``) and offer no escape: a path holding them is read through a link with a
    plain name in a fresh temporary folder, removed afterwards.
    """
    resolved = path.resolve()
    if not GLOB_CHARACTERS & set(str(resolved)):
        yield resolved
        return
    with tempfile.TemporaryDirectory(prefix="qualitylib-") as folder:
        link = Path(folder) / ("input" + "".join(c for c in path.suffix if c.isalnum() or c == "."))
        os.symlink(resolved, link)
        yield link


@dataclass(frozen=True)
class LineScan:
    """What one pass over a text file's bytes finds: mixed line ends, the first line longer
    than :data:`MAX_LINE` (its 0-based number, byte offset and length), if any."""

    mixed_newlines: bool
    long_line: tuple[int, int, int] | None


def scan_lines(path: Path, limit: int = MAX_LINE) -> LineScan:
    """Read the file once in blocks (no per-line Python work): a line longer than a block
    spans a block boundary, so only those runs are measured.

    DuckDB drops a final line over its ``max_line_size`` without a word, and its strict parser
    stops on files mixing ``\\n`` and ``\\r\\n``: both are found here first.
    """
    block = max(limit, 1 << 16)
    offset = start = 0  # bytes read; where the current line starts
    crlf = bare_lf = previous_cr = False
    long_start: int | None = None
    with path.open("rb") as handle:
        while chunk := handle.read(block):
            first = chunk.find(b"\n")
            end = offset + (first if first >= 0 else len(chunk))
            if long_start is not None and first >= 0:
                return LineScan(False, (_line_number(path, long_start), long_start, end - start))
            if long_start is None and end - start > limit:
                if first >= 0:
                    return LineScan(False, (_line_number(path, start), start, end - start))
                long_start = start  # read on to its end, to give its size
            if not (crlf and bare_lf):
                joined = previous_cr and first == 0  # a "\r\n" split by the block boundary
                crlf = crlf or joined
                if b"\r" in chunk:
                    # "\r\n" counted as such: a lone "\r" inside a quoted field must not
                    # pass for a line end (it once balanced a bare "\n" and hid the mix).
                    n_crlf = chunk.count(b"\r\n") + joined
                    crlf = crlf or n_crlf > 0
                    bare_lf = bare_lf or chunk.count(b"\n") > n_crlf
                elif first >= 0 and (not joined or chunk.find(b"\n", 1) >= 0):
                    bare_lf = True
                previous_cr = chunk.endswith(b"\r")
            if first >= 0:
                start = offset + chunk.rfind(b"\n") + 1
            offset += len(chunk)
    if long_start is not None:
        return LineScan(False, (_line_number(path, long_start), long_start, offset - start))
    return LineScan(crlf and bare_lf, None)


def _line_number(path: Path, position: int) -> int:
    """0-based number of the line starting at byte ``position`` (error path only)."""
    count = 0
    with path.open("rb") as handle:
        while position > 0 and (chunk := handle.read(min(position, 1 << 20))):
            count += chunk.count(b"\n")
            position -= len(chunk)
    return count


def _long_line(path: Path, found: tuple[int, int, int], delimiter: str, header: list[str]) -> str:
    """The message for a line over the limit: its row, size, the limit and its column."""
    number, start, size = found
    with path.open("rb") as handle:
        handle.seek(start)
        head = handle.read(min(size, MAX_LINE)).decode("utf-8", errors="replace")
    position = _field_number(head, delimiter)
    column = header[position - 1] if position <= len(header) else position
    return (
        f"{path.name} row {number}: Maximum line size of {MAX_LINE} bytes exceeded (the line "
        f"is {size:,} bytes, column {column!r}); shorten the value or import it as Parquet"
    )


def _lf_copy(path: Path, folder: Path, delimiter: str) -> Path:
    """The CSV file rewritten with ``\\n`` line ends (fields byte for byte, quoted newlines
    kept), for DuckDB's strict parser, which keeps checking every row's field count."""
    copy = folder / "lf.csv"
    limit = csv.field_size_limit(MAX_LINE)
    try:
        with (
            path.open(encoding="utf-8", errors="surrogateescape", newline="") as source,
            copy.open("w", encoding="utf-8", errors="surrogateescape", newline="") as target,
        ):
            reader = csv.reader(source, delimiter=delimiter, strict=True)
            # every field quoted: with "\n" line ends the writer would leave a lone "\r" bare
            writer = csv.writer(
                target, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_ALL
            )
            try:
                writer.writerows(reader)
            except csv.Error as error:
                raise ValidationError(
                    f"{path.name} row {reader.line_num - 1}: not valid CSV ({error})"
                ) from error
    finally:
        csv.field_size_limit(limit)
    return copy


def _field_number(text: str, delimiter: str) -> int:
    """1-based number of the field that the end of ``text`` (a line's start) falls in."""
    limit = csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    try:
        return max(1, len(next(csv.reader([text], delimiter=delimiter), [])))
    finally:
        csv.field_size_limit(limit)


def _not_utf8(path: Path, delimiter: str, header: list[str]) -> ValidationError:
    """Find the first line that is not UTF-8 and name its row and column (error path only)."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle):
            try:
                line.decode("utf-8-sig" if number == 0 else "utf-8")
            except UnicodeDecodeError as error:
                prefix = line[: error.start].decode("utf-8-sig", errors="replace")
                position = _field_number(prefix, delimiter)
                column = header[position - 1] if position <= len(header) else position
                where = "row 0 (header)" if number == 0 else f"row {number}"
                return ValidationError(
                    f"{path.name} {where}: not UTF-8 text (column {column!r}, byte "
                    f"0x{line[error.start]:02x}); save the file as UTF-8"
                )
    return ValidationError(f"{path.name}: not UTF-8 text; save the file as UTF-8")


def _csv_header(path: Path, delimiter: str) -> list[str]:
    """The header's column names, stripped; errors name the file, and the column when they can.

    A leading UTF-8 byte-order mark is dropped; one anywhere else, or any control character
    (a binary or UTF-16 file), makes the header unreadable.
    """
    with path.open("rb") as handle:
        first = handle.readline(MAX_LINE)
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _not_utf8(path, delimiter, []) from error
    try:
        header = next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter), None)
    except csv.Error as error:
        position = next(
            n
            for n, name in enumerate(text.split(delimiter), 1)
            if len(name) > csv.field_size_limit()
        )
        raise ValidationError(
            f"{path.name} row 0 (header), column {position}: not a CSV header ({error})"
        ) from error
    if not header or all(not name.strip() for name in header):
        raise ValidationError(f"{path.name}: the file is empty (no header, no rows)")
    for position, name in enumerate(header, start=1):
        if _UNPRINTABLE.search(name):
            raise ValidationError(
                f"{path.name} row 0 (header), column {position}: the name holds control "
                "characters or a byte-order mark; is this a text file saved as UTF-8?"
            )
    return [name.strip() for name in header]


def _duplicated(names: list[str]) -> list[str]:
    seen: set[str] = set()
    return [name for name in names if name in seen or seen.add(name)]


_DUCKDB_LINE = re.compile(r"CSV Error on Line: (\d+)")
_DUCKDB_ORIGINAL = re.compile(r"^Original Line: (.*)$", re.MULTILINE)
_DUCKDB_KIND = re.compile(r"^[A-Za-z ]*Error: ")
_DUCKDB_COUNTS = re.compile(r"Expected Number of Columns: (\d+) Found: (\d+)")


def _where_in_row(text: str, delimiter: str, header: list[str]) -> str:
    """Which column DuckDB's complaint about one row concerns, as a parenthesised note."""
    if counts := _DUCKDB_COUNTS.search(text):
        expected, found = int(counts.group(1)), int(counts.group(2))
        if found < expected:
            return f" (column {header[found]!r} is missing: a truncated row?)"
        return (
            f" (column {expected + 1} is beyond the header's last column {header[-1]!r}: "
            "a delimiter inside an unquoted value?)"
        )
    original = _DUCKDB_ORIGINAL.search(text)
    if original is None:
        return ""
    if "unterminated quote" in text:
        position = _field_number(original.group(1), delimiter)
    elif "Maximum line size" in text:
        position = _field_number(original.group(1)[:MAX_LINE], delimiter)
    else:
        return ""
    column = header[position - 1] if position <= len(header) else position
    return f" (in column {column!r})"


def _csv_error(
    path: Path, error: duckdb.Error, delimiter: str, header: list[str]
) -> ValidationError:
    """DuckDB's multi-line CSV error as one line with the data row number and the column."""
    text = str(error)
    if "Invalid unicode" in text:
        return _not_utf8(path, delimiter, header)
    if "state machine reached an invalid state" in text:
        return ValidationError(
            f"{path.name}: not readable as CSV (DuckDB's parser stopped: stray carriage "
            "returns, or line ends that mix \\n and \\r\\n?); save it again as CSV"
        )
    match = _DUCKDB_LINE.search(text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    detail = next(
        (
            line.rstrip(".")
            for line in lines
            if line.startswith(("Expected Number of Columns", "Value with", "Maximum line size"))
        ),
        lines[0] if lines else "unreadable",
    )
    where = f" row {int(match.group(1)) - 1}" if match else ""
    return ValidationError(f"{path.name}{where}: {detail}{_where_in_row(text, delimiter, header)}")


def _parquet_error(path: Path, source: Path, error: duckdb.Error) -> ValidationError:
    """DuckDB's complaint about a Parquet file as one line naming the file."""
    first = _DUCKDB_KIND.sub("", str(error).splitlines()[0])
    first = first.replace(str(source), path.name).replace(str(path), path.name)
    if "Invalid string encoding" in first:
        return parquet_not_utf8(path, first)
    return ValidationError(f"{path.name}: not a readable Parquet file ({first})")


def parquet_not_utf8(path: Path, detail: str) -> ValidationError:
    """Name the row and column of the first string that is not UTF-8 (error path only: the
    file is read again with pyarrow, which does not check, one column batch at a time)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    for column in parquet.schema_arrow:
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        row = 0
        for batch in parquet.iter_batches(columns=[column.name], batch_size=65_536):
            for value in batch.column(0).cast(pa.binary()).to_pylist():
                row += 1
                try:
                    if value is not None:
                        value.decode("utf-8")
                except UnicodeDecodeError:
                    return ValidationError(
                        f"{path.name} row {row}, column {column.name!r}: not UTF-8 text "
                        f"(got {value[:60]!r}); write the column as UTF-8 strings"
                    )
    return ValidationError(f"{path.name}: not UTF-8 text ({detail})")


def _stage_parquet_view(con: duckdb.DuckDBPyConnection, source: Path) -> bool:
    """Stage a Parquet file as a view with the reader's own row numbers: nothing is copied
    (1.2 s saved at 10M rows), validation reads the file once. False, and nothing staged,
    when the file has a column of that name (it is then copied like a CSV file)."""
    literal = "'" + str(source).replace("'", "''") + "'"  # a view cannot hold a bound parameter
    names = con.execute(f"DESCRIBE SELECT * FROM read_parquet({literal})").fetchall()
    if any(row[0] == "file_row_number" for row in names):
        return False
    con.execute(
        f"CREATE TEMP VIEW {STAGE} AS SELECT file_row_number + 1 AS {ROW}, "
        f"* EXCLUDE (file_row_number) FROM read_parquet({literal}, file_row_number = true)"
    )
    return True


def reset_stage(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the staged rows of the previous file (``_stage`` is a view here, a table for tool
    exports; DuckDB's DROP needs the right type)."""
    for name, kind in con.execute(
        "SELECT view_name, 'VIEW' FROM duckdb_views() WHERE temporary AND view_name = $s "
        "UNION ALL SELECT table_name, 'TABLE' FROM duckdb_tables() "
        "WHERE temporary AND table_name IN ($s, $rows)",
        {"s": STAGE, "rows": STAGE_ROWS},
    ).fetchall():
        con.execute(f"DROP {kind} {name}")


def stage_file(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """Load ``path`` into temp table ``_stage`` with a 1-based data row number ``_row``.

    CSV columns arrive as text (typed later by validation); Parquet columns keep their types.
    Returns the file's column names.
    """
    check_input(path)
    if path.stat().st_size == 0:
        raise ValidationError(f"{path.name}: the file is empty (no header, no rows)")
    fmt = file_format(path)
    names: list[str] = []
    delimiter = ","
    reset_stage(con)
    with literal_path(path) as source:
        if fmt == "csv":
            delimiter = CSV_SUFFIXES[path.suffix.lower()]
            names = _csv_header(path, delimiter)
            _check_names(path, names)
            scan = scan_lines(path)
            if scan.long_line is not None:
                raise ValidationError(_long_line(path, scan.long_line, delimiter, names))
            with tempfile.TemporaryDirectory(prefix="qualitylib-lf-") as folder:
                if scan.mixed_newlines:
                    source = _lf_copy(path, Path(folder), delimiter)
                _stage_csv(con, path, source, delimiter, names)
        else:
            try:
                if source != path.resolve() or not _stage_parquet_view(con, source):
                    _copy_stage(con, "read_parquet($path)", {"path": str(source)})
            except duckdb.Error as error:
                raise _parquet_error(path, source, error) from error
    columns = [row[0] for row in con.execute(f"DESCRIBE {STAGE}").fetchall()][1:]
    if fmt == "parquet" and (duplicated := _duplicated(columns)):
        raise ValidationError(
            f"{path.name} column {duplicated[0]!r}: the column appears more than once"
        )
    n_rows = scalar(con, f"SELECT count(*) FROM {STAGE}")
    if n_rows == 0:
        raise ValidationError(f"{path.name}: the file has a header but no data rows")
    return columns


def _check_names(path: Path, names: list[str]) -> None:
    """Refuse a header with a repeated or an empty column name."""
    if duplicated := _duplicated(names):
        raise ValidationError(
            f"{path.name} row 0 (header), column {duplicated[0]!r}: the column appears "
            "more than once"
        )
    if any(not name for name in names):
        position = names.index("") + 1
        raise ValidationError(f"{path.name} row 0 (header): column {position} has no name")


def _stage_csv(
    con: duckdb.DuckDBPyConnection, path: Path, source: Path, delimiter: str, names: list[str]
) -> None:
    """Copy the CSV file ``source`` (``path`` or a copy of it) into the stage, strictly: a
    row with too many or too few fields is an error, never padded or cut."""
    params: dict[str, object] = {
        "path": str(source),
        "delim": delimiter,
        "columns": {name: "VARCHAR" for name in names},
    }
    try:
        _copy_stage(
            con,
            "read_csv($path, header = true, delim = $delim, quote = '\"', escape = '\"', "
            "comment = '', strict_mode = true, auto_detect = false, columns = $columns, "
            f"max_line_size = {MAX_LINE})",
            params,
        )
    except duckdb.Error as error:
        raise _csv_error(path, error, delimiter, names) from error


def _copy_stage(con: duckdb.DuckDBPyConnection, source: str, params: dict[str, object]) -> None:
    """Copy ``source`` (a table function) into ``_stage_rows`` and view it with row numbers."""
    con.execute(f"CREATE TEMP TABLE {STAGE_ROWS} AS SELECT * FROM {source}", params)
    # The row number comes from the table's insertion order (the file's order), not
    # from row_number() OVER (): that window costs a serial pass (4 s on 10M CSV
    # rows). Rows written inside a transaction get row ids from a high base.
    base = int(scalar(con, f"SELECT coalesce(min(rowid), 0) FROM {STAGE_ROWS}"))
    con.execute(
        f"CREATE TEMP VIEW {STAGE} AS SELECT rowid - {base} + 1 AS {ROW}, * FROM {STAGE_ROWS}"
    )
