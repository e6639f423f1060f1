"""crowd-kit style CSV: labels ``task, worker, label`` and a gold file ``task, label``.

The files carry no time: every row gets the ``--at`` timestamp, else the file's modification
time, and the import summary says which. Other columns are ignored.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from qualitylib.errors import ValidationError
from qualitylib.ingest.exports import EXPORT, Options
from qualitylib.ingest.read import ROW, STAGE, stage_file
from qualitylib.ingest.validate import Places

LABEL_COLUMNS = ("task", "worker", "label")
GOLD_COLUMNS = ("task", "label")
PLACES = Places(
    fields={
        "item_id": "task",
        "annotator_id": "worker",
        "decided_by": "worker",
        "annotated_at": "--at",
        "decided_at": "--at",
    }
)


def _stage_columns(con: duckdb.DuckDBPyConnection, path: Path, needed: tuple[str, ...]) -> None:
    columns = stage_file(con, path)
    if missing := [name for name in needed if name not in columns]:
        raise ValidationError(
            f"{path.name} row 0 (header): missing column(s) {', '.join(missing)} "
            f"(a crowd CSV has {', '.join(needed)}; found: {', '.join(columns)})"
        )


def _write_export(con: duckdb.DuckDBPyConnection, role: str, annotator: str) -> Places:
    """``_export`` from the staged rows: each row one ``role`` record by ``annotator`` (SQL)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {EXPORT} AS
            SELECT {ROW}, '{role}' AS role, task AS item_id, {annotator} AS annotator_id, label,
                   NULL AS stamp, false AS unsure, NULL AS problem, NULL AS field, NULL AS got
            FROM {STAGE}"""
    )
    return PLACES


def read(con: duckdb.DuckDBPyConnection, path: Path, options: Options) -> Places:
    """Write ``_export`` from a ``task, worker, label`` file."""
    _stage_columns(con, path, LABEL_COLUMNS)
    return _write_export(con, "annotation", "worker")


def read_gold(con: duckdb.DuckDBPyConnection, path: Path, options: Options) -> Places:
    """Write ``_export`` from a ``task, label`` gold file: reference decisions."""
    _stage_columns(con, path, GOLD_COLUMNS)
    return _write_export(con, "reference", "NULL")
