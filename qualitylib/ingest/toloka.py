"""Toloka assignments TSV (pool page -> "Download results"): one task of an assignment per row.

item = the ``INPUT:`` value when the task has one input field, else a JSON object of all of
them (the same input gives the same item across pools); annotator = ``ASSIGNMENT:worker_id``;
label = ``OUTPUT:<field>`` (``--control`` picks the field when there are several); time =
``ASSIGNMENT:submitted`` (UTC). ``GOLDEN:<field>`` (control tasks) becomes the item's reference
decision, dated at its first submission in the file. Rejected, skipped and expired assignments
are counted and left out.

Time on task: Toloka records when an assignment (a page of several tasks) was started and
submitted, not each task's time. When the file has ``ASSIGNMENT:started`` and
``ASSIGNMENT:assignment_id``, each task gets the assignment's span (first start to last
submission) divided evenly by the number of its tasks in the file; without them
``duration_s`` stays empty.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from qualitylib.errors import ValidationError
from qualitylib.ingest.exports import EXPORT, Options, pick_control
from qualitylib.ingest.read import ROW, STAGE, stage_file
from qualitylib.ingest.validate import Places, quote

WORKER = "ASSIGNMENT:worker_id"
STATUS = "ASSIGNMENT:status"
SUBMITTED = "ASSIGNMENT:submitted"
STARTED = "ASSIGNMENT:started"
ASSIGNMENT = "ASSIGNMENT:assignment_id"
KEPT = ("SUBMITTED", "ACCEPTED", "APPROVED")
LEFT_OUT = ("REJECTED", "SKIPPED", "EXPIRED")


def _text(column: str) -> str:
    return f"nullif(trim({quote(column)}), '')"


def read(con: duckdb.DuckDBPyConnection, path: Path, options: Options) -> Places:
    """Write ``_export`` from a Toloka assignments TSV."""
    columns = stage_file(con, path)
    missing = [name for name in (WORKER, STATUS, SUBMITTED) if name not in columns]
    inputs = [name for name in columns if name.startswith("INPUT:")]
    if not inputs:
        missing.insert(0, "INPUT:<field>")
    if missing:
        raise ValidationError(
            f"{path.name} row 0 (header): missing column(s) {', '.join(missing)} of a Toloka "
            "assignments file"
        )
    outputs = [name.removeprefix("OUTPUT:") for name in columns if name.startswith("OUTPUT:")]
    control = pick_control(path, outputs, options.control, "output field (OUTPUT:<field>)")
    output, golden = f"OUTPUT:{control}", f"GOLDEN:{control}"
    params: dict[str, object] = {"kept": list(KEPT), "left_out": list(LEFT_OUT)}
    if len(inputs) == 1:
        item = _text(inputs[0])
    else:
        keys = {f"key{i}": name.removeprefix("INPUT:") for i, name in enumerate(inputs)}
        params |= keys
        pairs = ", ".join(f"${key}, {_text(name)}" for key, name in zip(keys, inputs, strict=True))
        item = f"CAST(json_object({pairs}) AS VARCHAR)"
    status = f"coalesce(upper({_text(STATUS)}), '')"
    duration = "NULL"
    if STARTED in columns and ASSIGNMENT in columns:
        # the assignment's span, shared evenly by its tasks (Toloka times pages, not tasks)
        whole = f"OVER (PARTITION BY {_text(ASSIGNMENT)})"
        span = (
            f"epoch(max(TRY_CAST({_text(SUBMITTED)} AS TIMESTAMP)) {whole}) "
            f"- epoch(min(TRY_CAST({_text(STARTED)} AS TIMESTAMP)) {whole})"
        )
        duration = f"CAST(({span}) / count(*) {whole} AS VARCHAR)"
    gold_rows = ""
    if golden in columns:
        gold_rows = f"""
        UNION ALL
        SELECT min({ROW}), 'reference', item_id, NULL, gold, min(stamp), false, NULL, NULL, NULL,
               NULL
        FROM (SELECT {ROW}, {item} AS item_id, {_text(golden)} AS gold, {_text(SUBMITTED)} AS stamp
              FROM {STAGE})
        WHERE gold IS NOT NULL
        GROUP BY item_id, gold"""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {EXPORT} AS
        SELECT {ROW},
               CASE WHEN list_contains($left_out, {status}) THEN lower({status})
                    ELSE 'annotation' END AS role,
               {item} AS item_id, {_text(WORKER)} AS annotator_id, {_text(output)} AS label,
               {_text(SUBMITTED)} AS stamp, false AS unsure,
               CASE WHEN NOT list_contains($kept, {status})
                         AND NOT list_contains($left_out, {status})
                    THEN 'unknown assignment status' END AS problem,
               '{STATUS}' AS field, {quote(STATUS)} AS got, {duration} AS duration_s
        FROM {STAGE}{gold_rows}
        """,
        params,
    )
    return Places(
        fields={
            "item_id": inputs[0] if len(inputs) == 1 else "INPUT:*",
            "annotator_id": WORKER,
            "label": output,
            "reference.label": golden,
            "annotated_at": SUBMITTED,
            "decided_at": SUBMITTED,
            "duration_s": STARTED,
        }
    )
