"""Label Studio JSON export (``Export -> JSON``): one task per record, its annotations inside.

item = task ``id``; annotator = ``annotations[].completed_by`` (an integer, or an object whose
``id``, else ``email``, is used); label = the one ``value.choices`` entry of the result whose
``from_name`` is the chosen control; time = ``annotations[].created_at``; time on task =
``annotations[].lead_time`` (seconds, when present). Annotations with
``ground_truth: true`` become reference decisions (decided by their author), cancelled ones
(``was_cancelled``) and submitted ones without a choice for the control are skipped and counted.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from qualitylib.ingest.exports import (
    EXPORT,
    RECORDS,
    Check,
    Options,
    list_controls,
    not_id,
    pick_control,
    problem_columns,
    read_json_records,
    reject_records,
    wrong_type,
)
from qualitylib.ingest.read import ROW
from qualitylib.ingest.validate import Places

PLACES = Places(
    unit="record",
    noun="field",
    fields={
        "item_id": "id",
        "annotator_id": "annotations[].completed_by",
        "label": "annotations[].result[].value.choices",
        "annotated_at": "annotations[].created_at",
        "decided_at": "annotations[].created_at",
        "duration_s": "annotations[].lead_time",
    },
)

_ANNOTATIONS = f"""
    SELECT r.{ROW}, r.json AS task, a.ann
    FROM {RECORDS} r, unnest(json_extract(r.json, '$.annotations[*]')) AS a(ann)
"""


def _checks() -> list[Check]:
    """What makes a kept annotation unreadable, in the order they are reported."""
    by = "annotations[].completed_by"
    return [
        ("cancelled OR n_hits = 0 OR n_choices = 0", "NULL", "", "NULL"),
        wrong_type("task", "$.id", "id", "the task id"),
        (
            f"by_type NOT IN ('OBJECT', 'NULL') AND {not_id('ann', '$.completed_by')}",
            "'completed_by must be a user id (integer or text) or an object, not ' "
            "|| lower(by_type)",
            by,
            "CAST(json_extract(ann, '$.completed_by') AS VARCHAR)",
        ),
        wrong_type("ann", "$.completed_by.id", by, "completed_by.id"),
        wrong_type("ann", "$.completed_by.email", by, "completed_by.email"),
        (
            "by_type = 'OBJECT' AND annotator_id IS NULL",
            "'completed_by has neither id nor email'",
            by,
            "NULL",
        ),
        (
            "n_hits > 1",
            "'several results for control ' || $control",
            "annotations[].result[].value.choices",
            "NULL",
        ),
        (
            "n_choices > 1",
            "'several choices; qualitylib stores one label per annotation'",
            "annotations[].result[].value.choices",
            "choices",
        ),
        (
            "json_type(hit, '$.value.choices[0]') <> 'VARCHAR'",
            "'the choice must be text, not ' || lower(json_type(hit, '$.value.choices[0]'))",
            "annotations[].result[].value.choices",
            "choices",
        ),
    ]


def read(con: duckdb.DuckDBPyConnection, path: Path, options: Options) -> Places:
    """Write ``_export`` from a Label Studio JSON export."""
    read_json_records(con, path, ("id", "annotations"))
    reject_records(
        con,
        path,
        "coalesce(json_type(json, '$.annotations'), 'NULL') <> 'ARRAY'",
        "annotations",
        "not a Label Studio task (expected an object with a list of annotations)",
    )
    controls = list_controls(
        con,
        f"""SELECT DISTINCT json_extract_string(x.res, '$.from_name')
            FROM ({_ANNOTATIONS}) t, unnest(json_extract(t.ann, '$.result[*]')) AS x(res)
            WHERE json_type(x.res, '$.value.choices') = 'ARRAY'""",
    )
    control = pick_control(path, controls, options.control, "choices control (from_name)")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {EXPORT} AS
        WITH picked AS (
            SELECT {ROW}, task, ann,
                   list_filter(json_extract(ann, '$.result[*]'),
                               lambda res: json_extract_string(res, '$.from_name') = $control
                                      AND json_type(res, '$.value.choices') = 'ARRAY') AS hits
            FROM ({_ANNOTATIONS})
        ), fields AS (
            SELECT {ROW},
                   json_extract_string(task, '$.id') AS item_id,
                   CASE json_type(ann, '$.completed_by')
                       WHEN 'OBJECT' THEN coalesce(
                           json_extract_string(ann, '$.completed_by.id'),
                           json_extract_string(ann, '$.completed_by.email'))
                       ELSE json_extract_string(ann, '$.completed_by') END AS annotator_id,
                   json_extract_string(hits[1], '$.value.choices[0]') AS label,
                   json_extract_string(ann, '$.created_at') AS stamp,
                   json_extract_string(ann, '$.lead_time') AS duration_s,
                   coalesce(json_extract_string(ann, '$.was_cancelled') = 'true', false)
                       AS cancelled,
                   coalesce(json_extract_string(ann, '$.ground_truth') = 'true', false) AS gold,
                   len(hits) AS n_hits,
                   json_array_length(hits[1], '$.value.choices') AS n_choices,
                   CAST(json_extract(hits[1], '$.value.choices') AS VARCHAR) AS choices,
                   json_type(ann, '$.completed_by') AS by_type,
                   task, ann, hits[1] AS hit
            FROM picked
        )
        SELECT {ROW},
               CASE WHEN cancelled THEN 'cancelled'
                    WHEN n_hits = 0 OR n_choices = 0 THEN 'without a choice'
                    WHEN gold THEN 'reference'
                    ELSE 'annotation' END AS role,
               item_id, annotator_id, label, stamp, false AS unsure,
               {problem_columns(_checks())}, duration_s
        FROM fields
        """,
        {"control": control},
    )
    return PLACES
