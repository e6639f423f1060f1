"""What every labelling-tool reader shares: the tool table ``_export`` and its split into steps.

A reader is one DuckDB ``SELECT`` over the tool's own file (``read_json_objects`` for JSON,
the canonical CSV stager for TSV/CSV) that writes temp table ``_export``, one row per
annotation or decision, with the columns

``_row`` (record or row number in the file), ``role`` (``annotation``, ``reference`` or why
the record is skipped, e.g. ``cancelled``), ``item_id``, ``annotator_id``, ``label``, ``stamp``
(text timestamp, NULL when the tool has none), ``unsure``, and ``problem``, ``field``,
``got`` (a format-level error on this record, if any); optionally ``duration_s`` (seconds on
the item, NULL when the tool did not record it).

:func:`stage_export` then raises the first problem, and stages the annotations and the
reference decisions in turn as ``_stage`` for the canonical validation and loading, so rows
never pass through Python and every format shares one code path with the CSV import.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from qualitylib.errors import ValidationError
from qualitylib.ingest.read import ROW, STAGE, check_input, literal_path, reset_stage
from qualitylib.ingest.validate import Places
from qualitylib.store import scalar

EXPORT = "_export"
RECORDS = "_records"
# (canonical kind, role in _export, staged columns built from _export)
STEPS: tuple[tuple[str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "annotations",
        "annotation",
        (
            ("item_id", "item_id"),
            ("annotator_id", "annotator_id"),
            ("label", "label"),
            ("annotated_at", "coalesce(nullif(trim(stamp), ''), $default_at)"),
            ("unsure", "unsure"),
        ),
    ),
    (
        "reference",
        "reference",
        (
            ("item_id", "item_id"),
            ("label", "label"),
            ("decided_at", "coalesce(nullif(trim(stamp), ''), $default_at)"),
            ("decided_by", "annotator_id"),
        ),
    ),
)


@dataclass(frozen=True)
class Options:
    """Choices a user makes for a tool export.

    ``control`` picks the classification control (Label Studio ``from_name``, Toloka output
    field, SageMaker ``answerContent`` key) when an export has several; ``default_at`` (naive
    UTC) dates records without a timestamp, and ``dated_by`` says where it came from.
    """

    default_at: datetime
    dated_by: str
    control: str | None = None
    # box exports: who drew a COCO file's boxes, or whether it is the committee's; a CVAT
    # jobs file (job_id, start_frame, stop_frame, assignee); keep the tool's image ids
    annotator: str | None = None
    reference: bool = False
    jobs: Path | None = None
    keep_ids: bool = False


@dataclass(frozen=True)
class Staged:
    """One step of a file: ``_stage`` now holds ``kind`` rows with ``columns``.

    ``skipped`` counts records left out on purpose (cancelled, rejected…), ``n_dated`` the
    rows that got the default timestamp.
    """

    kind: str
    columns: list[str]
    places: Places = field(default_factory=Places)
    skipped: Mapping[str, int] = field(default_factory=dict)
    n_dated: int = 0


Reader = Callable[[duckdb.DuckDBPyConnection, Path, Options], Places]

_MALFORMED = re.compile(r"Malformed JSON .*?at byte (\d+) in (?:line|record/value) (\d+): (.*)")


def read_json_records(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    keep: tuple[str, ...],
    arrays: tuple[str, ...] = (),
) -> None:
    """Temp table ``_records(_row, json)``: one row per JSON record (array element or line).

    DuckDB reads the file (a top-level array, JSON Lines or one object); blank lines are not
    records. A syntax error names the record it is in. Of an object record only the
    top-level fields in ``keep`` are kept (missing or null ones left out), and of those in
    ``arrays`` only whether they are a list (as ``[]``): what the import does not store
    (embedded base64 images, task data) is dropped here, with one parse per record, instead
    of being parsed again for every field a reader extracts (ten 3 MB Prodigy records ran out
    of the 1 GB memory limit so).
    """
    check_input(path)
    if path.stat().st_size == 0:
        raise ValidationError(f"{path.name}: the file is empty")
    pairs = [f"'{name}', x[{number}]" for number, name in enumerate(keep, 1)]
    pairs += [
        f"'{name}', CASE WHEN t[{number}] = 'ARRAY' THEN json('[]') END"
        for number, name in enumerate(arrays, 2)
    ]
    try:
        with literal_path(path) as source:
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE {RECORDS} AS
                SELECT {ROW}, CASE WHEN t[1] = 'OBJECT'
                    THEN json_merge_patch('{{}}', json_object({", ".join(pairs)}))
                    ELSE json END AS json
                FROM (
                    SELECT row_number() OVER () AS {ROW}, json,
                           json_extract(json, $keep) AS x, json_type(json, $arrays) AS t
                    FROM read_json_objects($path, format = 'auto',
                                           maximum_object_size = 67108864))""",
                {
                    "path": str(source),
                    "keep": [f"$.{name}" for name in keep],
                    "arrays": ["$", *(f"$.{name}" for name in arrays)],
                },
            )
    except duckdb.Error as error:
        text = str(error)
        if match := _MALFORMED.search(text):
            # DuckDB 2.0 counts the record after the broken one (pinned by a test)
            record = int(match.group(2)) - 1
            raise ValidationError(
                f"{path.name} record {record}: not valid JSON ({match.group(3).strip()} at "
                f"byte {match.group(1)} of the record)"
            ) from error
        first = text.splitlines()[0].replace(str(path.resolve()), path.name)
        raise ValidationError(f"{path.name}: not readable as JSON ({first})") from error
    if not scalar(con, f"SELECT count(*) FROM {RECORDS}"):
        raise ValidationError(f"{path.name}: the file holds no records")


# JSON types an id may have: text or an integer (a float, boolean, object or list is refused,
# so that what is stored is the text the file held)
ID_TYPES = ("VARCHAR", "BIGINT", "UBIGINT")
Check = tuple[str, str, str, str]  # (SQL condition, SQL problem text, field name, SQL got)


def not_id(document: str, path: str) -> str:
    """SQL true when the JSON field at ``path`` is there but is not text or an integer."""
    return f"coalesce(json_type({document}, '{path}'), 'NULL') NOT IN {(*ID_TYPES, 'NULL')}"


def wrong_type(document: str, path: str, field_name: str, what: str) -> Check:
    """A check refusing a field that is present but not text or an integer."""
    return (
        not_id(document, path),
        f"'{what} must be text or an integer, not ' || lower(json_type({document}, '{path}'))",
        field_name,
        f"CAST(json_extract({document}, '{path}') AS VARCHAR)",
    )


def problem_columns(checks: list[Check]) -> str:
    """SQL for the ``problem, field, got`` columns of ``_export``: the first check that holds."""
    problem = " ".join(f"WHEN {c} THEN {p}" for c, p, _, _ in checks)
    field_name = " ".join(f"WHEN {c} THEN '{f}'" for c, _, f, _ in checks)
    got = " ".join(f"WHEN {c} THEN {g}" for c, _, _, g in checks)
    return f"CASE {problem} END AS problem, CASE {field_name} END AS field, CASE {got} END AS got"


def reject_records(
    con: duckdb.DuckDBPyConnection, path: Path, where: str, name: str, problem: str
) -> None:
    """Raise naming the first record of ``_records`` matching ``where`` and its field ``name``.

    Run before anything else reads the records, so JSON that is not the tool's export is
    named as such, not as an export without answers.
    """
    rows = con.execute(
        f"SELECT {ROW}, left(json, 60), count(*) OVER () FROM {RECORDS} WHERE {where} "
        f"ORDER BY {ROW} LIMIT 1"
    ).fetchall()
    if rows:
        number, got, total = rows[0]
        more = f"; {total - 1} more like this" if total > 1 else ""
        raise ValidationError(
            f"{path.name} record {number}, field {name!r}: {problem} (got {got!r}){more}"
        )


def list_controls(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> list[str]:
    """The distinct control names ``sql`` finds, sorted."""
    return sorted(row[0] for row in con.execute(sql, params).fetchall() if row[0] is not None)


def pick_control(path: Path, controls: list[str], wanted: str | None, what: str) -> str:
    """The control to import: ``wanted`` if the file has it, else the only one there is."""
    listed = ", ".join(repr(name) for name in controls) or "none"
    if wanted is not None:
        if wanted not in controls:
            raise ValidationError(f"{path.name}: no {what} named {wanted!r} (found: {listed})")
        return wanted
    if len(controls) == 1:
        return controls[0]
    if not controls:
        raise ValidationError(f"{path.name}: no {what} with a classification answer found")
    raise ValidationError(
        f"{path.name}: several {what}s ({listed}); choose one with --control NAME"
    )


def _raise_first_problem(con: duckdb.DuckDBPyConnection, path: Path, places: Places) -> None:
    """Raise the first format-level problem a reader flagged, naming record and field."""
    rows = con.execute(
        f"SELECT {ROW}, field, problem, got, count(*) OVER () FROM {EXPORT} "
        f"WHERE problem IS NOT NULL ORDER BY {ROW} LIMIT 1"
    ).fetchall()
    if not rows:
        return
    number, name, problem, got, total = rows[0]
    shown = "" if got is None else f" (got {got[:60]!r})"
    more = f"; {total - 1} more like this" if total > 1 else ""
    raise ValidationError(f"{places.name(path, number, name)}: {problem}{shown}{more}")


def stage_export(
    con: duckdb.DuckDBPyConnection, path: Path, reader: Reader, options: Options
) -> Iterator[Staged]:
    """Run ``reader`` into ``_export``, then stage its annotations and its decisions in turn."""
    places = reader(con, path, options)
    _raise_first_problem(con, path, places)
    skipped = dict(
        con.execute(
            f"SELECT role, count(*) FROM {EXPORT} "
            "WHERE role NOT IN ('annotation', 'reference') GROUP BY role ORDER BY role"
        ).fetchall()
    )
    roles = dict(con.execute(f"SELECT role, count(*) FROM {EXPORT} GROUP BY role").fetchall())
    if not roles.get("annotation") and not roles.get("reference"):
        left = ", ".join(f"{n} {why}" for why, n in skipped.items()) or "no records"
        raise ValidationError(f"{path.name}: nothing to import ({left})")
    timed = "duration_s" in {row[0] for row in con.execute(f"DESCRIBE {EXPORT}").fetchall()}
    for kind, role, columns in STEPS:
        if not roles.get(role):
            continue
        if kind == "annotations" and timed:  # a reader that knows the time on task
            columns = (*columns, ("duration_s", "duration_s"))
        selects = ", ".join(f"{expression} AS {name}" for name, expression in columns)
        n_dated = scalar(
            con,
            f"SELECT count(*) FROM {EXPORT} WHERE role = $role AND nullif(trim(stamp), '') IS NULL",
            {"role": role},
        )
        reset_stage(con)
        con.execute(
            f"CREATE TEMP TABLE {STAGE} AS SELECT {ROW}, {selects} "
            f"FROM {EXPORT} WHERE role = $role ORDER BY {ROW}",
            {"role": role, "default_at": options.default_at.strftime("%Y-%m-%dT%H:%M:%S")},
        )
        yield Staged(
            kind, [name for name, _ in columns], places.for_kind(kind), skipped, int(n_dated)
        )
        skipped = {}


def file_time(path: Path) -> datetime:
    """The file's modification time as naive UTC (whole seconds)."""
    return datetime.fromtimestamp(int(path.stat().st_mtime), UTC).replace(tzinfo=None)
