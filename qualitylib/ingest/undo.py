"""Undo a wrong import: list the imports, remove one (``qualitylib imports list|remove``).

Removing an import deletes the rows it brought (annotations, reference decisions, boxes,
committee boxes, model predictions, manual fixes), the items, annotators and undeclared labels
that nothing else refers to any more, and rebuilds the derived tables of the items it touched,
in one transaction: all of it or nothing. The import stays in ``imports`` with status
``removed``; table ``removals`` records who removed it and when. Imports of labels, items or
annotators update rows in place and cannot be undone.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from qualitylib.errors import QualitylibError
from qualitylib.log_scope import require_log
from qualitylib.store import connect, rescore_touched, rescore_touched_boxes, scalar

DIMENSION_KINDS = ("labels", "items", "annotators")
# Every table whose rows carry the import that brought them.
ROW_TABLES = ("annotations", "reference", "boxes", "box_reference", "predictions", "fixes")


def list_imports(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every import, oldest first, with who removed it and when for undone ones."""
    return con.execute(
        """SELECT m.import_id, m.kind, m.source_name, m.n_rows, m.imported_by, m.imported_at,
                  m.status, r.removed_by, r.removed_at
           FROM imports m LEFT JOIN removals r USING (import_id)
           ORDER BY m.import_id"""
    ).df()


def _remove_unreferenced(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the ids of the removed rows that no log row refers to any more and that only a
    log import could have created: items and annotators without descriptive data, labels
    outside the declared set."""
    con.execute(
        """DELETE FROM items WHERE uri IS NULL AND metadata IS NULL
             AND item_key IN (SELECT item_key FROM _touched)
             AND item_key NOT IN (SELECT item_key FROM annotations)
             AND item_key NOT IN (SELECT item_key FROM reference)
             AND item_key NOT IN (SELECT item_key FROM boxes)
             AND item_key NOT IN (SELECT item_key FROM box_reference)
             AND item_key NOT IN (SELECT item_key FROM predictions)
             AND item_key NOT IN (SELECT item_key FROM fixes)"""
    )
    con.execute(
        """DELETE FROM annotators
           WHERE name IS NULL AND team IS NULL AND started_at IS NULL
             AND coalesce(role, 'annotator') = 'annotator'
             AND annotator_key IN (SELECT annotator_key FROM _touched_annotators)
             AND annotator_key NOT IN (SELECT annotator_key FROM annotations)
             AND annotator_key NOT IN (SELECT annotator_key FROM boxes)"""
    )
    con.execute(
        """DELETE FROM labels WHERE NOT declared
             AND label_key NOT IN (SELECT label_key FROM annotations)
             AND label_key NOT IN (SELECT label_key FROM reference)
             AND label_key NOT IN (SELECT label_key FROM boxes WHERE label_key IS NOT NULL)
             AND label_key NOT IN
                 (SELECT label_key FROM box_reference WHERE label_key IS NOT NULL)
             AND label_key NOT IN (SELECT label_key FROM predictions)
             AND label_key NOT IN (SELECT label_key FROM prediction_scores)
             AND label_key NOT IN (SELECT model_label_key FROM fixes)
             AND label_key NOT IN (SELECT fixed_label_key FROM fixes)"""
    )


def remove_import(db_path: str | Path, import_id: int, removed_by: str | None = None) -> int:
    """Remove import ``import_id`` and what it brought (see the module docstring); return
    the number of log rows removed. Raises QualitylibError, nothing changed, when it cannot."""
    with connect(db_path) as con:
        require_log(con, "removing an import")
        found = con.execute(
            "SELECT kind, status, source_name FROM imports WHERE import_id = ?", [import_id]
        ).fetchall()
        if not found:
            raise QualitylibError(f"no import #{import_id} (see `qualitylib imports list`)")
        kind, status, name = found[0]
        if status == "removed":
            raise QualitylibError(f"import #{import_id} ({name}) was already removed")
        if kind in DIMENSION_KINDS:
            raise QualitylibError(
                f"import #{import_id} ({name}) updated the {kind} in place and cannot be "
                f"removed; import a corrected {kind} file instead"
            )
        con.execute("BEGIN TRANSACTION")
        try:
            touched = " UNION ".join(
                f"SELECT item_key FROM {table} WHERE import_id = $id" for table in ROW_TABLES
            )
            con.execute(f"CREATE OR REPLACE TEMP TABLE _touched AS {touched}", {"id": import_id})
            con.execute(
                """CREATE OR REPLACE TEMP TABLE _touched_boxes AS
                   SELECT item_key FROM boxes WHERE import_id = $id
                   UNION SELECT item_key FROM box_reference WHERE import_id = $id""",
                {"id": import_id},
            )
            con.execute(
                """CREATE OR REPLACE TEMP TABLE _touched_annotators AS
                   SELECT annotator_key FROM annotations WHERE import_id = $id
                   UNION SELECT annotator_key FROM boxes WHERE import_id = $id""",
                {"id": import_id},
            )
            counts = " + ".join(
                f"(SELECT count(*) FROM {table} WHERE import_id = $id)" for table in ROW_TABLES
            )
            n_rows = int(scalar(con, f"SELECT {counts}", {"id": import_id}))
            for table in (*ROW_TABLES, "prediction_scores"):  # a prediction's distribution too
                con.execute(f"DELETE FROM {table} WHERE import_id = ?", [import_id])
            _remove_unreferenced(con)
            con.execute("DROP TABLE _touched_annotators")
            rescore_touched(con)
            rescore_touched_boxes(con)
            con.execute("UPDATE imports SET status = 'removed' WHERE import_id = ?", [import_id])
            con.execute(
                "INSERT INTO removals VALUES (?, ?, ?, ?)",
                [
                    import_id,
                    n_rows,
                    removed_by or getpass.getuser(),
                    datetime.now(UTC).replace(tzinfo=None),
                ],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return n_rows
