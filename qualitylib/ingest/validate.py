"""Validation of a staged file against its kind's columns, in SQL, before anything is written.

Each rule is one scan of the staged table that returns the first offending rows, so the error
names the file, the row numbers (1 = first data row) and the column. Passing files are then
typed into temp table ``_typed``, which the loader reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import duckdb

from qualitylib.errors import ValidationError
from qualitylib.ingest.read import ROW, STAGE

TYPED = "_typed"
ColumnType = Literal["id", "text", "timestamp", "bool", "int", "choice", "label"]
Kind = Literal["annotations", "reference", "labels", "items", "annotators"]
EARLIEST = datetime(1990, 1, 1)
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0", "")
SHOW_ROWS = 3


@dataclass(frozen=True)
class Column:
    """One column of a canonical input: its type, whether required, allowed values."""

    name: str
    type: ColumnType
    required: bool = False
    choices: tuple[str, ...] = ()
    default: str | None = None


KINDS: dict[str, tuple[Column, ...]] = {
    "annotations": (
        Column("item_id", "id", True),
        Column("annotator_id", "id", True),
        Column("label", "label", True),
        Column("annotated_at", "timestamp", True),
        Column("reason", "text"),
        Column("unsure", "bool"),
        Column("policy_version", "text"),
        Column("phase", "choice", choices=("training", "production"), default="production"),
        Column("batch", "text"),
    ),
    "reference": (
        Column("item_id", "id", True),
        Column("label", "label", True),
        Column("decided_at", "timestamp", True),
        Column("policy_version", "text"),
        Column("reason", "text"),
        Column("decided_by", "text"),
    ),
    "labels": (
        Column("label", "id", True),
        Column("is_positive", "bool"),
        Column("rank", "int"),
        Column("color", "text"),
    ),
    "items": (
        Column("item_id", "id", True),
        Column("uri", "text"),
    ),
    "annotators": (
        Column("annotator_id", "id", True),
        Column("name", "text"),
        Column("team", "text"),
        Column("role", "choice", choices=("annotator", "committee"), default="annotator"),
        Column("started_at", "timestamp"),
    ),
}


@dataclass(frozen=True)
class Places:
    """How errors name a place in the source: ``row 3, column 'x'`` or ``record 3, field 'y'``.

    ``fields`` maps a canonical column to the source's own name for it, so an error in a tool
    export names the field the user can find in that export.
    """

    unit: str = "row"
    noun: str = "column"
    fields: Mapping[str, str] = field(default_factory=dict)

    def name(self, source: Path, number: int, column: str) -> str:
        """``file row N, column 'c'`` with the source's name for ``column``."""
        return (
            f"{source.name} {self.unit} {number}, {self.noun} {self.fields.get(column, column)!r}"
        )


ROWS = Places()

# Rows whose combination must be unique, within the file and against the store.
UNIQUE: dict[str, tuple[str, ...]] = {
    "annotations": ("item_id", "annotator_id", "annotated_at"),
    "reference": ("item_id", "decided_at"),
    "labels": ("label",),
    "items": ("item_id",),
    "annotators": ("annotator_id",),
}


def quote(name: str) -> str:
    """A column name as a DuckDB identifier (names come from file headers)."""
    return '"' + name.replace('"', '""') + '"'


def _text(name: str) -> str:
    return f"trim(CAST({quote(name)} AS VARCHAR))"


def _timestamp(name: str) -> str:
    # TIMESTAMPTZ accepts ISO 8601 with or without zone; the session zone is UTC, so a
    # naive value is taken as UTC and the result is stored as a naive UTC TIMESTAMP.
    return f"TRY_CAST(nullif({_text(name)}, '') AS TIMESTAMPTZ)::TIMESTAMP"


def _bool(name: str) -> str:
    return (
        f"CASE WHEN {quote(name)} IS NULL THEN false "
        f"WHEN lower({_text(name)}) IN {TRUE_WORDS} THEN true "
        f"WHEN lower({_text(name)}) IN {FALSE_WORDS} THEN false END"
    )


def typed_expression(column: Column) -> str:
    """SQL turning the staged column into its stored type (NULL where invalid)."""
    match column.type:
        case "id" | "label":
            return _text(column.name)
        case "text":
            return f"nullif({_text(column.name)}, '')"
        case "timestamp":
            return _timestamp(column.name)
        case "bool":
            return _bool(column.name)
        case "int":
            return f"TRY_CAST(nullif({_text(column.name)}, '') AS INTEGER)"
        case "choice":
            return f"coalesce(lower(nullif({_text(column.name)}, '')), '{column.default}')"


def _problem(column: Column, declared: list[str]) -> tuple[str, str] | None:
    """(SQL predicate true on a bad row, message) for one column, or None."""
    raw = _text(column.name)
    empty = f"({quote(column.name)} IS NULL OR {raw} = '')"
    match column.type:
        case "id":
            return empty, f"empty {column.name}"
        case "label":
            if column.required and not declared:
                return empty, "empty label"
            allowed = ", ".join(declared)
            return (
                f"({empty} OR {raw} NOT IN (SELECT unnest($declared)))",
                f"label outside the imported label set ({allowed})",
            )
        case "timestamp":
            bad = f"(NOT {empty} AND {_timestamp(column.name)} IS NULL)"
            if column.required:
                bad = f"({empty} OR {bad})"
            return bad, "not an ISO 8601 timestamp (e.g. 2026-09-01T14:30:00Z)"
        case "bool":
            return (
                f"({quote(column.name)} IS NOT NULL AND {_bool(column.name)} IS NULL)",
                "not a boolean (use true/false, yes/no or 1/0)",
            )
        case "int":
            return (
                f"(NOT {empty} AND TRY_CAST({raw} AS INTEGER) IS NULL)",
                "not an integer",
            )
        case "choice":
            return (
                f"(NOT {empty} AND lower({raw}) NOT IN {column.choices})",
                f"must be one of {', '.join(column.choices)}",
            )
        case "text":
            return None


def _fail_on(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    where: str,
    column: str,
    message: str,
    params: dict[str, object] | None = None,
    places: Places = ROWS,
) -> None:
    """Raise naming the first offending rows when ``where`` matches any staged row."""
    rows = con.execute(
        f"SELECT {ROW}, CAST({quote(column)} AS VARCHAR), count(*) OVER () "
        f"FROM {STAGE} WHERE {where} ORDER BY {ROW} LIMIT {SHOW_ROWS}",
        params or {},
    ).fetchall()
    if not rows:
        return
    first_row, value, total = rows[0]
    got = "" if value is None else f" (got {value[:60]!r})"
    more = ""
    if total > 1:
        others = ", ".join(str(row[0]) for row in rows[1:])
        more = f"; {total - 1} more {places.unit}(s) like this, e.g. {others}"
    raise ValidationError(f"{places.name(source, first_row, column)}: {message}{got}{more}")


def _unique_in_store(kind: str) -> str:
    """SQL finding staged rows whose unique key is already in the store."""
    match kind:
        case "annotations":
            return f"""
                SELECT s.{ROW} FROM (
                    SELECT {ROW}, {_text("item_id")} AS k_item,
                           {_text("annotator_id")} AS k_annotator,
                           {_timestamp("annotated_at")} AS k_at
                    FROM {STAGE}) s
                JOIN items i ON i.item_id = s.k_item
                JOIN annotators a ON a.annotator_id = s.k_annotator
                JOIN annotations x ON x.item_key = i.item_key
                    AND x.annotator_key = a.annotator_key AND x.annotated_at = s.k_at"""
        case "reference":
            return f"""
                SELECT s.{ROW} FROM (
                    SELECT {ROW}, {_text("item_id")} AS k_item,
                           {_timestamp("decided_at")} AS k_at
                    FROM {STAGE}) s
                JOIN items i ON i.item_id = s.k_item
                JOIN reference r ON r.item_key = i.item_key AND r.decided_at = s.k_at"""
    raise ValueError(f"no store uniqueness rule for kind {kind!r}")


def validate(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    kind: str,
    columns: list[str],
    places: Places = ROWS,
) -> None:
    """Check the staged file; raise ValidationError naming file, row and column."""
    spec = KINDS[kind]
    known = {column.name for column in spec}
    missing = [column.name for column in spec if column.required and column.name not in columns]
    if missing:
        raise ValidationError(
            f"{source.name}: missing required column(s) {', '.join(missing)} for kind "
            f"{kind!r} (found: {', '.join(columns) or 'none'}; is the delimiter a comma?)"
        )
    if kind != "items":
        unknown = [name for name in columns if name not in known]
        if unknown:
            raise ValidationError(
                f"{source.name} row 0 (header), column {unknown[0]!r}: unknown column for "
                f"kind {kind!r} (allowed: {', '.join(column.name for column in spec)})"
            )
    declared = [
        row[0]
        for row in con.execute("SELECT label FROM labels WHERE declared ORDER BY label").fetchall()
    ]
    for column in spec:
        if column.name not in columns:
            continue
        problem = _problem(column, declared)
        if problem is None:
            continue
        where, message = problem
        params = {"declared": declared} if "$declared" in where else None
        _fail_on(con, source, where, column.name, message, params, places)
        if column.type == "timestamp":
            _fail_on(
                con,
                source,
                f"{_timestamp(column.name)} NOT BETWEEN $earliest AND $latest",
                column.name,
                "timestamp out of range (before 1990 or in the future)",
                {"earliest": EARLIEST, "latest": _latest()},
                places,
            )
    key = UNIQUE[kind]
    key_sql = ", ".join(_timestamp(name) if name.endswith("_at") else _text(name) for name in key)
    _fail_on(
        con,
        source,
        f"{ROW} IN (SELECT {ROW} FROM (SELECT {ROW}, row_number() OVER "
        f"(PARTITION BY {key_sql} ORDER BY {ROW}) AS k FROM {STAGE}) WHERE k > 1)",
        key[-1],
        f"duplicate row: the same ({', '.join(key)}) appears earlier in the file",
        places=places,
    )
    if kind in ("annotations", "reference"):
        _fail_on(
            con,
            source,
            f"{ROW} IN ({_unique_in_store(kind)})",
            key[-1],
            f"already in the store: the same ({', '.join(key)}) was imported before",
            places=places,
        )


def _latest() -> datetime:
    """Timestamps may run up to a day ahead of now (clock skew), no further."""
    return datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)


def build_typed(con: duckdb.DuckDBPyConnection, kind: str, columns: list[str]) -> None:
    """Create ``_typed``: every column of the kind in its stored type (absent ones NULL).

    For ``items``, columns outside the spec are packed into a JSON ``metadata`` column.
    """
    selects = [ROW]
    for column in KINDS[kind]:
        if column.name in columns:
            selects.append(f"{typed_expression(column)} AS {quote(column.name)}")
        elif column.type == "bool":
            selects.append(f"false AS {quote(column.name)}")
        elif column.type == "choice":
            selects.append(f"'{column.default}' AS {quote(column.name)}")
        else:
            selects.append(f"NULL AS {quote(column.name)}")
    params: list[object] = []
    if kind == "items":
        extra = [name for name in columns if name not in {c.name for c in KINDS["items"]}]
        if extra:
            pairs = ", ".join(f"?, nullif({_text(name)}, '')" for name in extra)
            selects.append(f"json_object({pairs}) AS metadata")
            params = list(extra)
        else:
            selects.append("NULL::JSON AS metadata")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {TYPED} AS SELECT {', '.join(selects)} FROM {STAGE}",
        params,
    )
