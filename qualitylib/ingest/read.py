"""Stage one CSV or Parquet file into a DuckDB temp table, keeping its row numbers.

Rows never pass through Python: DuckDB reads the file. Only the header line is read here, to
reject duplicated column names (DuckDB would silently rename them) and to fix the column set so
a wrong delimiter shows up as "missing column" instead of a guessed dialect.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import duckdb

from qualitylib.errors import ValidationError
from qualitylib.store import scalar

STAGE = "_stage"
ROW = "_row"
CSV_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": ","}
PARQUET_SUFFIXES = {".parquet", ".pq"}


def file_format(path: Path) -> str:
    """``csv`` or ``parquet``, from the file name; anything else is a clear error."""
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in CSV_SUFFIXES:
        return "csv"
    raise ValidationError(f"{path.name}: unknown file type {suffix!r}; use .csv, .tsv or .parquet")


def _csv_header(path: Path, delimiter: str) -> list[str]:
    """The header's column names, stripped; errors name the file."""
    with path.open("rb") as handle:
        first = handle.readline(1 << 20)
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValidationError(
            f"{path.name} row 0 (header): not UTF-8 text; save the file as UTF-8"
        ) from error
    header = next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter), None)
    if not header or all(not name.strip() for name in header):
        raise ValidationError(f"{path.name}: the file is empty (no header, no rows)")
    return [name.strip() for name in header]


def _mixed_newlines(path: Path) -> bool:
    """True when the file's head mixes ``\\n`` and ``\\r\\n`` line ends.

    DuckDB's strict parser stops on such files (e.g. a header written apart from the rows);
    they are read leniently instead, which does not flag ragged rows.
    """
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    crlf = head.count(b"\r\n")
    return 0 < crlf < head.count(b"\n")


def _duplicated(names: list[str]) -> list[str]:
    seen: set[str] = set()
    return [name for name in names if name in seen or seen.add(name)]


_DUCKDB_LINE = re.compile(r"CSV Error on Line: (\d+)")


def _csv_error(path: Path, error: duckdb.Error) -> ValidationError:
    """DuckDB's multi-line CSV error as one line with the data row number."""
    text = str(error)
    match = _DUCKDB_LINE.search(text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    detail = next(
        (
            line
            for line in lines
            if line.startswith(("Expected Number of Columns", "Invalid unicode", "Value with"))
        ),
        lines[0] if lines else "unreadable",
    )
    if "Invalid unicode" in detail:
        detail = "not UTF-8 text; save the file as UTF-8"
    where = f" row {int(match.group(1)) - 1}" if match else ""
    return ValidationError(f"{path.name}{where}: {detail}")


def stage_file(con: duckdb.DuckDBPyConnection, path: Path) -> list[str]:
    """Load ``path`` into temp table ``_stage`` with a 1-based data row number ``_row``.

    CSV columns arrive as text (typed later by validation); Parquet columns keep their types.
    Returns the file's column names.
    """
    if not path.exists():
        raise ValidationError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ValidationError(f"{path.name}: the file is empty (no header, no rows)")
    fmt = file_format(path)
    if fmt == "csv":
        delimiter = CSV_SUFFIXES[path.suffix.lower()]
        names = _csv_header(path, delimiter)
        if duplicated := _duplicated(names):
            raise ValidationError(
                f"{path.name} row 0 (header), column {duplicated[0]!r}: the column appears "
                "more than once"
            )
        if any(not name for name in names):
            position = names.index("") + 1
            raise ValidationError(f"{path.name} row 0 (header): column {position} has no name")
        source = (
            "read_csv($path, header = true, delim = $delim, quote = '\"', escape = '\"', "
            "comment = '', strict_mode = $strict, auto_detect = false, columns = $columns, "
            "max_line_size = 1048576)"
        )
        params: dict[str, object] = {
            "path": str(path),
            "delim": delimiter,
            "columns": {name: "VARCHAR" for name in names},
            "strict": not _mixed_newlines(path),
        }
    else:
        source = "read_parquet($path)"
        params = {"path": str(path)}
    create = (
        f"CREATE OR REPLACE TEMP TABLE {STAGE} AS "
        f"SELECT row_number() OVER () AS {ROW}, * FROM {source}"
    )
    try:
        con.execute(create, params)
    except duckdb.Error as error:
        if fmt == "csv":
            raise _csv_error(path, error) from error
        first = str(error).splitlines()[0]
        raise ValidationError(f"{path.name}: not a readable Parquet file ({first})") from error
    columns = [row[0] for row in con.execute(f"DESCRIBE {STAGE}").fetchall()][1:]
    if fmt == "parquet" and (duplicated := _duplicated(columns)):
        raise ValidationError(
            f"{path.name} column {duplicated[0]!r}: the column appears more than once"
        )
    n_rows = scalar(con, f"SELECT count(*) FROM {STAGE}")
    if n_rows == 0:
        raise ValidationError(f"{path.name}: the file has a header but no data rows")
    return columns
