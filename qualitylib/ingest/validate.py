"""Validation of a staged file against its kind's columns, in SQL, before anything is written.

Each rule is one scan of the staged table that returns the first offending rows, so the error
names the file, the row numbers (1 = first data row) and the column. Passing files are then
typed into temp table ``_typed``, which the loader reads.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import duckdb

from qualitylib.errors import ValidationError
from qualitylib.ingest.read import ROW, STAGE, parquet_not_utf8
from qualitylib.store import scalar

TYPED = "_typed"
ColumnType = Literal[
    "id",
    "text",
    "timestamp",
    "bool",
    "int",
    "choice",
    "label",
    "seconds",
    "number",
    "box_label",
    "probability",
]
Kind = Literal[
    "annotations",
    "reference",
    "labels",
    "items",
    "annotators",
    "boxes",
    "reference-boxes",
    "predictions",
    "fixes",
]
EARLIEST = datetime(1990, 1, 1)
TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0", "")
SHOW_ROWS = 3
# control characters and the byte-order mark, as an RE2 class: never part of an id or a label
UNPRINTABLE = r"[\x00-\x1f\x7f\x{feff}]"
# in free text, tabs and line breaks are content; other control characters (a NUL byte) are not
TEXT_UNPRINTABLE = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
INTEGER_TYPES = frozenset(
    "TINYINT SMALLINT INTEGER BIGINT HUGEINT UTINYINT USMALLINT UINTEGER UBIGINT UHUGEINT".split()
)
# Column types that take any number, a Parquet DECIMAL(p, s) included.
NUMERIC = frozenset({"seconds", "number", "probability"})
# The staged (Parquet) types each column type reads without changing a value; anything else
# (a float id, a struct, binary data, an integer flag) is refused, naming its first row.
ACCEPTED_TYPES: dict[str, tuple[frozenset[str], str]] = {
    "id": (INTEGER_TYPES | {"VARCHAR"}, "text or an integer"),
    "label": (INTEGER_TYPES | {"VARCHAR"}, "text or an integer"),
    "text": (INTEGER_TYPES | {"VARCHAR"}, "text"),
    "choice": (frozenset({"VARCHAR"}), "text"),
    "bool": (frozenset({"VARCHAR", "BOOLEAN"}), "a boolean"),
    "int": (INTEGER_TYPES | {"VARCHAR", "FLOAT", "DOUBLE"}, "an integer"),
    "seconds": (INTEGER_TYPES | {"VARCHAR", "FLOAT", "DOUBLE"}, "a number of seconds"),
    "number": (INTEGER_TYPES | {"VARCHAR", "FLOAT", "DOUBLE"}, "a number"),
    "probability": (INTEGER_TYPES | {"VARCHAR", "FLOAT", "DOUBLE"}, "a probability"),
    "box_label": (INTEGER_TYPES | {"VARCHAR"}, "text or an integer"),
    "timestamp": (
        frozenset(
            {
                "VARCHAR",
                "DATE",
                "TIMESTAMP",
                "TIMESTAMP_S",
                "TIMESTAMP_MS",
                "TIMESTAMP_NS",
                "TIMESTAMP WITH TIME ZONE",
            }
        ),
        "a timestamp",
    ),
}


@dataclass(frozen=True)
class Column:
    """One column of a canonical input: its type, whether required, allowed values."""

    name: str
    type: ColumnType
    required: bool = False
    choices: tuple[str, ...] = ()
    default: str | None = None
    few: bool = False  # few distinct values in a large file (people, labels): see _screen


KINDS: dict[str, tuple[Column, ...]] = {
    "annotations": (
        Column("item_id", "id", True),
        Column("annotator_id", "id", True, few=True),
        Column("label", "label", True, few=True),
        Column("annotated_at", "timestamp", True),
        Column("reason", "text"),
        Column("unsure", "bool"),
        Column("policy_version", "text"),
        Column("phase", "choice", choices=("training", "production"), default="production"),
        Column("batch", "text"),
        Column("duration_s", "seconds"),  # time on task; missing stays NULL, never 0
    ),
    "reference": (
        Column("item_id", "id", True),
        Column("label", "label", True, few=True),
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
        Column("width", "int"),
        Column("height", "int"),
    ),
    "annotators": (
        Column("annotator_id", "id", True),
        Column("name", "text"),
        Column("team", "text"),
        Column("role", "choice", choices=("annotator", "committee"), default="annotator"),
        Column("started_at", "timestamp"),
    ),
    # A model's labels: each (model_id, model_version) is a rater of its own kind, kept apart
    # from the team's log. ``score`` is the model's probability of the label it predicted.
    "predictions": (
        Column("item_id", "id", True),
        Column("model_id", "id", True, few=True),
        Column("label", "label", True, few=True),
        Column("predicted_at", "timestamp", True),
        Column("score", "probability"),
        Column("model_version", "text"),
    ),
    # A person's correction of a model version's label (the "manual fix"): both are kept.
    "fixes": (
        Column("item_id", "id", True),
        Column("model_id", "id", True, few=True),
        Column("model_label", "label", True, few=True),
        Column("fixed_label", "label", True, few=True),
        Column("fixed_at", "timestamp", True),
        Column("model_version", "text"),
        Column("fixed_by", "text"),
    ),
    # One row per box; a row with label and coordinates blank says "I saw the image and drew
    # nothing" (an annotator's submission is their rows on an item at one annotated_at).
    "boxes": (
        Column("item_id", "id", True),
        Column("annotator_id", "id", True, few=True),
        Column("label", "box_label", True),  # not few: box rules read other columns too
        Column("x_min", "number", True),
        Column("y_min", "number", True),
        Column("x_max", "number", True),
        Column("y_max", "number", True),
        Column("annotated_at", "timestamp", True),
        Column("reason", "text"),
        Column("unsure", "bool"),
        Column("policy_version", "text"),
        Column("phase", "choice", choices=("training", "production"), default="production"),
        Column("batch", "text"),
        Column("object_id", "text"),
        Column("duration_s", "seconds"),  # time on task; missing stays NULL, never 0
    ),
    # The committee's boxes: the rows of one (item_id, decided_at) are the item's whole box set
    # from then on; a blank row says "nothing on this image".
    "reference-boxes": (
        Column("item_id", "id", True),
        Column("label", "box_label", True),  # not few: box rules read other columns too
        Column("x_min", "number", True),
        Column("y_min", "number", True),
        Column("x_max", "number", True),
        Column("y_max", "number", True),
        Column("decided_at", "timestamp", True),
        Column("reason", "text"),
        Column("policy_version", "text"),
        Column("decided_by", "text"),
    ),
}
BOX_KINDS = ("boxes", "reference-boxes")
# Predictions may give the model's whole distribution, one optional ``score_<label>`` column
# per label (``score`` stays the probability of the predicted label). A row's cells sum to 1
# within SCORE_SUM_TOLERANCE (rounded probabilities: four labels written to two decimals can
# be 0.01 off); ``score`` equals its label's cell within SCORE_MATCH_TOLERANCE (float noise).
SCORE_PREFIX = "score_"
SCORE_SUM_TOLERANCE = 0.01
SCORE_MATCH_TOLERANCE = 1e-6
COORDINATES = ("x_min", "y_min", "x_max", "y_max")
# A box may reach this many pixels past the image's known width/height: tools round corner
# coordinates (CVAT writes two decimals, Label Studio percentages) and some count the last
# pixel's far edge, so a box drawn to the border can land a little outside.
BOX_TOLERANCE_PX = 2.0


@dataclass(frozen=True)
class Places:
    """How errors name a place in the source: ``row 3, column 'x'`` or ``record 3, field 'y'``.

    ``fields`` maps a canonical column (or ``kind.column``, for one kind only) to the source's
    own name for it, so an error in a tool export names the field the user can find there.
    """

    unit: str = "row"
    noun: str = "column"
    fields: Mapping[str, str] = field(default_factory=dict)

    def for_kind(self, kind: str) -> Places:
        """These places, with ``fields`` entries named ``kind.column`` overriding ``column``."""
        prefix = f"{kind}."
        own = {k.removeprefix(prefix): v for k, v in self.fields.items() if k.startswith(prefix)}
        return replace(self, fields={**self.fields, **own})

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
    "predictions": ("item_id", "model_id", "model_version", "predicted_at"),
    "fixes": ("item_id", "model_id", "model_version", "fixed_at"),
}


def score_columns(kind: str, columns: list[str]) -> list[str]:
    """The ``score_<label>`` columns of a predictions file, in file order."""
    if kind != "predictions":
        return []
    return [name for name in columns if name.startswith(SCORE_PREFIX) and name != SCORE_PREFIX]


def spec(kind: str, columns: list[str]) -> tuple[Column, ...]:
    """The kind's columns (:data:`KINDS`) and, for predictions, its ``score_<label>`` ones."""
    return KINDS[kind] + tuple(Column(name, "probability") for name in score_columns(kind, columns))


def quote(name: str) -> str:
    """A column name as a DuckDB identifier (names come from file headers)."""
    return '"' + name.replace('"', '""') + '"'


def _text(name: str) -> str:
    return f"trim(CAST({quote(name)} AS VARCHAR))"


def _given(name: str, source_type: str) -> str:
    """SQL true where the staged cell holds something (not NULL, not blank text)."""
    if source_type == "VARCHAR":
        return f"({quote(name)} IS NOT NULL AND trim({quote(name)}) <> '')"
    return f"({quote(name)} IS NOT NULL)"


def _timestamp(name: str, source_type: str) -> str:
    # Text goes through TIMESTAMPTZ, which reads ISO 8601 with or without a zone: the session
    # zone is UTC, so a zone-less value is taken as UTC; the result is a naive UTC TIMESTAMP.
    # Typed Parquet timestamps skip the text round trip (it costs seconds at 10M rows).
    if source_type == "VARCHAR":
        return f"TRY_CAST(nullif(trim({quote(name)}), '') AS TIMESTAMPTZ)::TIMESTAMP"
    return f"TRY_CAST({quote(name)} AS TIMESTAMPTZ)::TIMESTAMP"


def _bool(name: str, source_type: str) -> str:
    if source_type == "BOOLEAN":  # a typed Parquet column: no text round trip (1 s at 10M)
        return f"coalesce({quote(name)}, false)"
    # DuckDB's own cast reads exactly TRUE_WORDS / FALSE_WORDS but for blanks and padding
    # (any case); only the cells it leaves NULL take the slower word lists (0.9 s -> 0.2 s).
    return (
        f"coalesce(TRY_CAST({quote(name)} AS BOOLEAN), "
        f"CASE WHEN {quote(name)} IS NULL THEN false "
        f"WHEN lower({_text(name)}) IN {TRUE_WORDS} THEN true "
        f"WHEN lower({_text(name)}) IN {FALSE_WORDS} THEN false END)"
    )


def _int(name: str, source_type: str) -> str:
    # Only whole numbers: DuckDB's own cast would round 4.7 to 5 and read 0x10 as 16.
    value = quote(name)
    if source_type == "VARCHAR":
        return (
            f"CASE WHEN regexp_full_match(trim({value}), '[+-]?[0-9]+') "
            f"THEN TRY_CAST(trim({value}) AS INTEGER) END"
        )
    if source_type in INTEGER_TYPES:
        return f"TRY_CAST({value} AS INTEGER)"
    return f"CASE WHEN {value} = trunc({value}) THEN TRY_CAST({value} AS INTEGER) END"


def typed_expression(column: Column, source_type: str) -> str:
    """SQL turning the staged column into its stored type (NULL where invalid)."""
    match column.type:
        case "id" | "label":
            return _text(column.name)
        case "box_label":
            return f"nullif({_text(column.name)}, '')"
        case "number" | "probability":
            if source_type in ("DOUBLE", "FLOAT", "INTEGER", "BIGINT", "SMALLINT", "DECIMAL"):
                return f"CAST({quote(column.name)} AS DOUBLE)"
            return f"TRY_CAST(nullif({_text(column.name)}, '') AS DOUBLE)"
        case "text":  # kept as written, spaces and all: it comes back as the same text
            return f"nullif(CAST({quote(column.name)} AS VARCHAR), '')"
        case "timestamp":
            return _timestamp(column.name, source_type)
        case "bool":
            return _bool(column.name, source_type)
        case "int":
            return _int(column.name, source_type)
        case "choice":
            return f"coalesce(lower(nullif({_text(column.name)}, '')), '{column.default}')"
        case "seconds":
            if source_type == "VARCHAR":
                return f"TRY_CAST(nullif({_text(column.name)}, '') AS DOUBLE)"
            return f"TRY_CAST({quote(column.name)} AS DOUBLE)"


def _given_column(column: Column) -> str:
    return quote(f"{column.name}__given")


def _finer_column(column: Column) -> str:
    return quote(f"{column.name}__finer")


def _finer(name: str, source_type: str) -> str:
    """SQL true where a text timestamp has more than 6 decimals of a second (DuckDB would
    drop them silently); the length test keeps the regular expression off common values."""
    if source_type != "VARCHAR":
        return "false"
    value = quote(name)
    return (
        f"CASE WHEN length({value}) > 26 THEN "
        f"coalesce(regexp_matches({value}, ':[0-9]{{2}}[.,][0-9]{{7,}}'), false) ELSE false END"
    )


def _problem(column: Column, declared: list[str]) -> tuple[str, str] | None:
    """(SQL predicate on ``_typed`` true on a bad row, message) for one column, or None."""
    value = quote(column.name)
    match column.type:
        case "id":
            return f"({value} IS NULL OR {value} = '')", f"empty {column.name}"
        case "label":
            if not declared:
                return f"({value} IS NULL OR {value} = '')", "empty label"
            return (
                f"({value} IS NULL OR NOT list_contains($declared, {value}))",
                f"label outside the imported label set ({', '.join(declared)})",
            )
        case "timestamp":
            bad = (
                f"{value} IS NULL"
                if column.required
                else (f"({_given_column(column)} AND {value} IS NULL)")
            )
            return bad, "not an ISO 8601 timestamp (e.g. 2026-09-01T14:30:00Z)"
        case "bool":
            return f"{value} IS NULL", "not a boolean (use true/false, yes/no or 1/0)"
        case "int":
            return f"({_given_column(column)} AND {value} IS NULL)", "not an integer"
        case "probability":
            return (
                f"({_given_column(column)} AND ({value} IS NULL OR NOT {value} BETWEEN 0 AND 1))",
                "not a probability between 0 and 1",
            )
        case "number":
            return f"({_given_column(column)} AND {value} IS NULL)", "not a number"
        case "box_label":
            if not declared:
                return None
            return (
                f"({value} IS NOT NULL AND NOT list_contains($declared, {value}))",
                f"label outside the imported label set ({', '.join(declared)})",
            )
        case "choice":
            return (
                f"NOT list_contains($choices, {value})",
                f"must be one of {', '.join(column.choices)}",
            )
        case "seconds":
            return (
                f"({_given_column(column)} AND ({value} IS NULL OR NOT isfinite({value}) "
                f"OR {value} < 0))",
                "not a non-negative number of seconds (leave the cell empty when unknown)",
            )
        case "text":
            return None


def _raise_at(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    rows: list[int],
    total: int,
    column: str,
    message: str,
    places: Places,
) -> None:
    """Raise for the first offending rows, quoting the staged cell of the first one."""
    got = ""
    if column in _staged_columns(con):
        value = scalar(
            con, f"SELECT CAST({quote(column)} AS VARCHAR) FROM {STAGE} WHERE {ROW} = ?", [rows[0]]
        )
        got = "" if value is None else f" (got {str(value)[:60]!r})"
    more = ""
    if total > 1:
        others = ", ".join(str(row) for row in rows[1:])
        more = f"; {total - 1} more {places.unit}(s) like this, e.g. {others}"
    raise ValidationError(f"{places.name(source, rows[0], column)}: {message}{got}{more}")


def _staged_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in con.execute(f"DESCRIBE {STAGE}").fetchall()]


def _fail_on(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    where: str,
    column: str,
    message: str,
    params: dict[str, object] | None = None,
    places: Places = ROWS,
) -> None:
    """Raise naming the first offending rows when ``where`` matches any typed row."""
    found = con.execute(
        f"SELECT {ROW}, count(*) OVER () FROM {TYPED} WHERE {where} "
        f"ORDER BY {ROW} LIMIT {SHOW_ROWS}",
        params or {},
    ).fetchall()
    if found:
        _raise_at(con, source, [row[0] for row in found], found[0][1], column, message, places)


def _unique_in_store(kind: str) -> str:
    """SQL finding typed rows whose unique key is already in the store."""
    match kind:
        case "annotations":
            return f"""
                SELECT t.{ROW} FROM {TYPED} t
                JOIN items i ON i.item_id = t.item_id
                JOIN annotators a ON a.annotator_id = t.annotator_id
                JOIN (
                    -- only stored rows inside the file's time span can collide; the scan
                    -- of a large store then skips every other row group (zone maps)
                    SELECT * FROM annotations
                    WHERE annotated_at BETWEEN $lo AND $hi AND import_id < $import_id
                ) x ON x.item_key = i.item_key
                    AND x.annotator_key = a.annotator_key AND x.annotated_at = t.annotated_at"""
        case "reference":
            return f"""
                SELECT t.{ROW} FROM {TYPED} t
                JOIN items i ON i.item_id = t.item_id
                JOIN reference r ON r.item_key = i.item_key AND r.decided_at = t.decided_at"""
        case "predictions":
            return f"""
                SELECT t.{ROW} FROM {TYPED} t
                JOIN items i ON i.item_id = t.item_id
                JOIN models m ON m.model_id = t.model_id
                    AND m.model_version = coalesce(t.model_version, '')
                JOIN predictions p ON p.item_key = i.item_key AND p.model_key = m.model_key
                    AND p.predicted_at = t.predicted_at"""
        case "fixes":
            return f"""
                SELECT t.{ROW} FROM {TYPED} t
                JOIN items i ON i.item_id = t.item_id
                JOIN models m ON m.model_id = t.model_id
                    AND m.model_version = coalesce(t.model_version, '')
                JOIN fixes f ON f.item_key = i.item_key AND f.model_key = m.model_key
                    AND f.fixed_at = t.fixed_at"""
    raise ValueError(f"no store uniqueness rule for kind {kind!r}")


def _check_header(source: Path, kind: str, columns: list[str]) -> None:
    """Missing required columns and, except for items, unknown ones."""
    wanted = KINDS[kind]
    missing = [column.name for column in wanted if column.required and column.name not in columns]
    if missing:
        split = any(mark in name for name in columns for mark in ",;\t|")
        hint = "; is the file split by another delimiter than its suffix says?" if split else ""
        raise ValidationError(
            f"{source.name} row 0 (header): missing required column(s) {', '.join(missing)} "
            f"for kind {kind!r} (found: {', '.join(columns) or 'none'}{hint})"
        )
    if kind != "items":
        known = {column.name for column in wanted} | set(score_columns(kind, columns))
        unknown = [name for name in columns if name not in known]
        if unknown:
            more = ", score_<label>" if kind == "predictions" else ""
            raise ValidationError(
                f"{source.name} row 0 (header), column {unknown[0]!r}: unknown column for "
                f"kind {kind!r} (allowed: {', '.join(column.name for column in wanted)}{more})"
            )


def validate(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    kind: str,
    columns: list[str],
    import_id: int,
    places: Places = ROWS,
) -> None:
    """Check the staged file and type it into ``_typed``; raise naming file, row and column.

    The staged rows are typed in one pass (:func:`build_typed`); every rule is then a cheap
    scan of typed values, so a 10-million-row file is converted once, not once per rule.
    """
    _check_header(source, kind, columns)
    _check_types(con, source, kind, columns, places)
    try:
        build_typed(con, kind, columns)
    except duckdb.Error as error:  # typing never fails on a value: the file's data is unreadable
        first = str(error).splitlines()[0].replace(str(source.resolve()), source.name)
        if "Invalid string encoding" in first:
            raise parquet_not_utf8(source, first) from error
        raise ValidationError(f"{source.name}: unreadable data ({first})") from error
    declared = [
        row[0]
        for row in con.execute("SELECT label FROM labels WHERE declared ORDER BY label").fetchall()
    ]
    rules: list[tuple[str, str, str, dict[str, object]]] = []
    for column in spec(kind, columns):
        if column.name not in columns:
            continue
        problem = _problem(column, declared)
        if problem is not None:
            where, message = problem
            bound = {"declared": declared, "choices": list(column.choices)}
            params = {name: value for name, value in bound.items() if f"${name}" in where}
            rules.append((where, column.name, message, params))
        if column.type in ("id", "label", "box_label"):
            rules.append(
                (
                    f"regexp_matches({quote(column.name)}, $unprintable)",
                    column.name,
                    "holds a control character or a byte-order mark (U+FEFF), which would make "
                    "a look-alike id; remove it",
                    {"unprintable": UNPRINTABLE},
                )
            )
        if column.type == "text":
            rules.append(
                (
                    f"regexp_matches({quote(column.name)}, $unprintable)",
                    column.name,
                    "holds a control character (e.g. a NUL byte); only tabs and line breaks "
                    "may be part of text",
                    {"unprintable": TEXT_UNPRINTABLE},
                )
            )
        if column.type == "timestamp":
            rules.append(
                (
                    _finer_column(column),
                    column.name,
                    "more than 6 decimals of a second: stored to the microsecond, the time "
                    "would change; round it to microseconds",
                    {},
                )
            )
            rules.append(
                (
                    f"{quote(column.name)} NOT BETWEEN $earliest AND $latest",
                    column.name,
                    "timestamp out of range (before 1990 or in the future)",
                    {"earliest": EARLIEST, "latest": _latest()},
                )
            )
    if kind in BOX_KINDS:
        rules += [(where, name, message, {}) for where, name, message in _box_rules(kind)]
    distribution = score_columns(kind, columns)
    if distribution:
        _check_score_labels(con, source, distribution, declared)
        rules += [
            (where, name, message, {})
            for where, name, message in _score_rules(distribution, "score" in columns)
        ]
    few = {column.name for column in KINDS[kind] if column.few and column.name in columns}
    for (where, column_name, message, params), broken in zip(
        rules, _screen(con, rules, few), strict=True
    ):
        if broken:
            _fail_on(con, source, where, column_name, message, params or None, places)
    if kind in BOX_KINDS:
        _check_box_sets_new(con, source, kind, places)
    elif kind != "annotations":  # annotations: after the write, see check_annotations_unique
        check_unique(con, source, kind, import_id, places)


def _check_score_labels(
    con: duckdb.DuckDBPyConnection,
    source: Path,
    distribution: list[str],
    declared: list[str],
) -> None:
    """Each ``score_<label>`` names a known label: one of the imported label set, else one the
    store or the file's ``label`` column holds (a misspelt label is refused, not added)."""
    known = declared or sorted(
        {row[0] for row in con.execute("SELECT label FROM labels").fetchall()}
        | {row[0] for row in con.execute(f"SELECT DISTINCT label FROM {TYPED}").fetchall()}
    )
    for name in distribution:
        label = name.removeprefix(SCORE_PREFIX)
        if label not in known:
            where = "the imported label set" if declared else "the store or this file's labels"
            raise ValidationError(
                f"{source.name} row 0 (header), column {name!r}: no label {label!r} in {where} "
                f"({', '.join(known)}); name each score column score_<label>"
            )


def _score_rules(distribution: list[str], with_score: bool) -> list[tuple[str, str, str]]:
    """(SQL on ``_typed`` true on a bad row, column, message) for a row's distribution."""
    given = [f"{_given_column(Column(name, 'probability'))}" for name in distribution]
    cells = [quote(name) for name in distribution]
    first = distribution[0]
    of_label = " ".join(
        f"WHEN {_literal(name.removeprefix(SCORE_PREFIX))} THEN {quote(name)}"
        for name in distribution
    )
    rules = [
        (
            f"({' OR '.join(given)}) AND NOT {given[i]}",
            name,
            "empty while other score_<label> cells of the row are given: give the whole "
            "distribution or none of it",
        )
        for i, name in enumerate(distribution)
    ]
    rules.append(
        (
            f"({' AND '.join(given)}) AND abs({' + '.join(cells)} - 1) > {SCORE_SUM_TOLERANCE}",
            first,
            f"the score_<label> cells of the row ({', '.join(distribution)}) must sum to 1 "
            f"(within {SCORE_SUM_TOLERANCE:g})",
        )
    )
    if not with_score:
        return rules
    rules.append(
        (
            f"score__given AND ({given[0]}) "
            f"AND abs(score - coalesce(CASE label {of_label} END, 0)) > {SCORE_MATCH_TOLERANCE}",
            "score",
            "differs from the score_<label> cell of the predicted label (score is the "
            "probability of the predicted label)",
        )
    )
    return rules


def _literal(text: str) -> str:
    """A string as a SQL literal (label names come from file headers)."""
    return "'" + text.replace("'", "''") + "'"


def _check_types(
    con: duckdb.DuckDBPyConnection, source: Path, kind: str, columns: list[str], places: Places
) -> None:
    """Refuse a typed (Parquet) column whose type the column cannot hold without changing a
    value, naming its first non-empty row: a float id, a struct, binary data."""
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {STAGE})").fetchall())
    for column in spec(kind, columns):
        if column.name not in columns:
            continue
        accepted, expected = ACCEPTED_TYPES[column.type]
        found = types[column.name]
        if found in accepted or (column.type in NUMERIC and found.startswith("DECIMAL")):
            continue
        value = quote(column.name)
        rows = con.execute(
            f"SELECT {ROW}, CAST({value} AS VARCHAR) FROM {STAGE} WHERE {value} IS NOT NULL "
            f"ORDER BY {ROW} LIMIT 1"
        ).fetchall()
        if rows:
            row, got = rows[0]
            what = "binary data (not UTF-8 text)" if found == "BLOB" else f"a {found} value"
            raise ValidationError(
                f"{places.name(source, row, column.name)}: {what} where {expected} is expected "
                f"(got {str(got)[:60]!r}); write the column as {expected}"
            )


def _box_rules(kind: str) -> list[tuple[str, str, str]]:
    """(SQL on ``_typed`` true on a bad row, column, message) for the shape of boxes."""
    at = "annotated_at" if kind == "boxes" else "decided_at"
    who = f" AND u.annotator_id = {TYPED}.annotator_id" if kind == "boxes" else ""
    rules = [
        (
            "label IS NULL AND coalesce(x_min, y_min, x_max, y_max) IS NOT NULL",
            "label",
            "a box without a label (an empty row, 'drew nothing', leaves the label and all "
            "four coordinates blank)",
        )
    ]
    for name in COORDINATES:
        rules.append(
            (f"label IS NOT NULL AND {name} IS NULL", name, "a box needs all four coordinates")
        )
        rules.append(
            (
                f"(isnan({name}) OR isinf({name}) OR {name} < 0)",
                name,
                "negative, NaN or infinite coordinate (pixels from the top-left corner)",
            )
        )
    for low, high, size in (("x_min", "x_max", "width"), ("y_min", "y_max", "height")):
        rules.append(
            (
                f"{high} <= {low}",
                high,
                f"{high} must be greater than {low} (a box has a positive {size})",
            )
        )
        rules.append(
            (
                f"{high} > (SELECT i.{size} FROM items i WHERE i.item_id = {TYPED}.item_id) "
                f"+ {BOX_TOLERANCE_PX}",
                high,
                f"outside the image: beyond its {size} (imported with the items) by more than "
                f"{BOX_TOLERANCE_PX:g} px",
            )
        )
    rules.append(
        (
            f"label IS NULL AND EXISTS (SELECT 1 FROM {TYPED} u WHERE u.item_id = "
            f"{TYPED}.item_id AND u.{at} = {TYPED}.{at}" + who + " AND u.label IS NOT NULL)",
            "label",
            f"an empty row ('nothing here') beside boxes of the same item and {at}",
        )
    )
    return rules


def _check_box_sets_new(
    con: duckdb.DuckDBPyConnection, source: Path, kind: str, places: Places
) -> None:
    """A box set (item, annotator, time; item and time for the committee) is imported once."""
    if kind == "boxes":
        where = f"""{ROW} IN (
            SELECT t.{ROW} FROM {TYPED} t
            JOIN items i ON i.item_id = t.item_id
            JOIN annotators a ON a.annotator_id = t.annotator_id
            JOIN box_sets s ON s.item_key = i.item_key AND s.annotator_key = a.annotator_key
                           AND s.annotated_at = t.annotated_at)"""
        message = "already in the store: boxes of the same (item_id, annotator_id, annotated_at)"
        column = "annotated_at"
    else:
        where = f"""{ROW} IN (
            SELECT t.{ROW} FROM {TYPED} t JOIN items i ON i.item_id = t.item_id
            JOIN box_reference r ON r.item_key = i.item_key AND r.decided_at = t.decided_at)"""
        message = "already in the store: committee boxes of the same (item_id, decided_at)"
        column = "decided_at"
    _fail_on(con, source, where, column, message + " were imported before", places=places)


def check_unique(
    con: duckdb.DuckDBPyConnection, source: Path, kind: str, import_id: int, places: Places = ROWS
) -> None:
    """Raise naming the rows whose unique key (:data:`UNIQUE`) repeats in the typed file or,
    for the log kinds, is already in the store (rows of imports before ``import_id``)."""
    key = UNIQUE[kind]
    key_sql = ", ".join(quote(name) for name in key)
    duplicates = con.execute(
        f"SELECT min({ROW}) AS first, max({ROW}) AS last, count(*) OVER () FROM {TYPED} "
        f"GROUP BY {key_sql} HAVING count(*) > 1 ORDER BY last LIMIT {SHOW_ROWS}"
    ).fetchall()
    if duplicates:
        _raise_at(
            con,
            source,
            [row[1] for row in duplicates],
            duplicates[0][2],
            key[-1],
            f"duplicate row: the same ({', '.join(places.fields.get(k, k) for k in key)}) "
            "appears earlier in the file, at "
            f"{places.unit} {duplicates[0][0]}",
            places,
        )
    if kind in ("annotations", "reference", "predictions", "fixes"):
        span = con.execute(f"SELECT min({quote(key[-1])}), max({quote(key[-1])}) FROM {TYPED}")
        lo, hi = span.fetchall()[0]
        _fail_on(
            con,
            source,
            f"{ROW} IN ({_unique_in_store(kind)})",
            key[-1],
            f"already in the store: the same ({', '.join(places.fields.get(k, k) for k in key)}) "
            "was imported before",
            {"lo": lo, "hi": hi, "import_id": import_id} if kind == "annotations" else None,
            places=places,
        )


def check_annotations_unique(
    con: duckdb.DuckDBPyConnection, source: Path, import_id: int, places: Places = ROWS
) -> None:
    """After import ``import_id`` wrote its annotations: is (item, annotator, time) still unique?

    One GROUP BY on integer keys over the import's rows and the stored rows they could collide
    with (same items, inside the file's time span) finds out; only when something repeats do
    :func:`check_unique`'s string-keyed queries name the rows. At 10M labels this is 1.3 s
    instead of 3 s. The write is inside the import's transaction: a failure leaves nothing.
    """
    earlier = scalar(con, "SELECT count(*) FROM annotations WHERE import_id < ?", [import_id])
    scope = "import_id = $id"
    if earlier:
        scope = """annotated_at BETWEEN (SELECT min(annotated_at) FROM annotations
                                         WHERE import_id = $id)
                                AND (SELECT max(annotated_at) FROM annotations
                                     WHERE import_id = $id)
                   AND item_key IN (SELECT item_key FROM annotations WHERE import_id = $id)"""
    repeated = con.execute(
        f"""SELECT count(*) FROM (
                SELECT 1 FROM annotations WHERE {scope}
                GROUP BY item_key, annotator_key, annotated_at HAVING count(*) > 1 LIMIT 1)""",
        {"id": import_id},
    ).fetchall()[0][0]
    if repeated:
        check_unique(con, source, "annotations", import_id, places)
        raise AssertionError("a repeated (item, annotator, time) that check_unique did not name")


def _screen(
    con: duckdb.DuckDBPyConnection,
    rules: list[tuple[str, str, str, dict[str, object]]],
    few: set[str],
) -> list[bool]:
    """Which rules some typed row breaks, from one scan (each rule's parameters renamed apart);
    only a broken rule then pays for the query that finds its rows.

    Rules on a column in ``few`` (annotators, labels: a handful of distinct values in millions
    of rows) read its distinct values instead: a regular expression over 10M cells costs
    ~0.5 s, over a few hundred nothing, and the DISTINCT pass ~0.1 s.
    """
    groups: dict[str, list[tuple[int, str]]] = {}
    group_params: dict[str, dict[str, object]] = {}
    for number, (where, column, _, bound) in enumerate(rules):
        source = f"(SELECT DISTINCT {quote(column)} FROM {TYPED})" if column in few else TYPED
        for name, value in bound.items():
            where = re.sub(rf"\${name}\b", f"${name}_{number}", where)
            group_params.setdefault(source, {})[f"{name}_{number}"] = value
        groups.setdefault(source, []).append((number, f"coalesce(bool_or({where}), false)"))
    broken = [False] * len(rules)
    for source, selects in groups.items():
        found = con.execute(
            f"SELECT {', '.join(select for _, select in selects)} FROM {source}",
            group_params.get(source, {}),
        ).fetchall()[0]
        for (number, _), value in zip(selects, found, strict=True):
            broken[number] = bool(value)
    return broken


def _latest() -> datetime:
    """Timestamps may run up to a day ahead of now (clock skew), no further."""
    return datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)


def build_typed(con: duckdb.DuckDBPyConnection, kind: str, columns: list[str]) -> None:
    """Create ``_typed``: every column of the kind in its stored type (absent ones NULL).

    Invalid cells become NULL (rules then find them); ``<column>__given`` flags say which
    optional timestamp/integer cells held something. For ``items``, columns outside the spec
    are packed into a JSON ``metadata`` column.
    """
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {STAGE})").fetchall())
    selects = [ROW]
    for column in spec(kind, columns):
        if column.name in columns:
            source_type = types[column.name]
            selects.append(f"{typed_expression(column, source_type)} AS {quote(column.name)}")
            if column.type == "number" or (
                column.type in ("timestamp", "int", "seconds", "probability")
                and not column.required
            ):
                selects.append(f"{_given(column.name, source_type)} AS {_given_column(column)}")
            if column.type == "timestamp":
                selects.append(f"{_finer(column.name, source_type)} AS {_finer_column(column)}")
        elif column.type == "bool":
            selects.append(f"false AS {quote(column.name)}")
        elif column.type == "timestamp":
            selects.append(f"NULL AS {quote(column.name)}, false AS {_finer_column(column)}")
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
