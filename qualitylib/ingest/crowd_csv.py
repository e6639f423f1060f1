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


def read(con: duckdb.DuckDBPyConnection, path: Path, options: Options) -> Places:
    """Write ``_export`` from a ``task, worker, label`` file."""
    _stage_columns(con, path, LABEL_COLUMNS)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {EXPORT} AS
            SELECT {ROW}, 'annotation' AS role, task AS item_id, worker AS annotator_id, label,
                   NULL AS stamp, false AS unsure, NULL AS problem, NULL AS field, NULL AS got
            FROM {STAGE}"""
    )
    return PLACES


def read_gold(con: duckdb.DuckDBPyConnection, path: Path, options: Options) -> Places:
    """Write ``_export`` from a ``task, label`` gold file: reference decisions."""
    _stage_columns(con, path, GOLD_COLUMNS)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {EXPORT} AS
            SELECT {ROW}, 'reference' AS role, task AS item_id, NULL AS annotator_id, label,
                   NULL AS stamp, false AS unsure, NULL AS problem, NULL AS field, NULL AS got
            FROM {STAGE}"""
    )
    return PLACES
