"""SageMaker Ground Truth worker responses (``annotations/worker-response/iteration-N/<id>/``).

Each response file holds ``answers[]`` for one dataset object: annotator = ``workerId``,
label = ``answerContent.<control>.label`` (image classification: ``crowd-image-classifier``;
``--control`` picks the key when there are several), time = ``submissionTime``. The item is
the record's ``datasetObjectId`` when present (e.g. responses gathered into one JSON Lines
file), else the name of the folder Ground Truth wrote the file into, the dataset object id.
Time on task = ``answers[].timeSpentInSeconds`` when present.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from qualitylib.ingest.exports import (
    EXPORT,
    RECORDS,
    Options,
    list_controls,
    pick_control,
    problem_columns,
    read_json_records,
    reject_records,
    wrong_type,
)
from qualitylib.ingest.read import ROW
from qualitylib.ingest.validate import Places

_ANSWERS = f"""
    SELECT r.{ROW}, r.json AS response, a.answer
    FROM {RECORDS} r, unnest(json_extract(r.json, '$.answers[*]')) AS a(answer)
"""


def read(con: duckdb.DuckDBPyConnection, path: Path, options: Options) -> Places:
    """Write ``_export`` from a Ground Truth worker-response file."""
    read_json_records(con, path, ("datasetObjectId", "answers"))
    reject_records(
        con,
        path,
        "coalesce(json_type(json, '$.answers'), 'NULL') <> 'ARRAY'",
        "answers",
        "not a worker response (expected an object with a list of answers)",
    )
    controls = list_controls(
        con,
        f"SELECT DISTINCT unnest(json_keys(json_extract(answer, '$.answerContent'))) "
        f"FROM ({_ANSWERS})",
    )
    control = pick_control(path, controls, options.control, "answerContent key")
    label_path = f"$.answerContent.{json.dumps(control)}.label"
    label_field = f"answers[].answerContent.{control}.label"
    checks = [
        wrong_type("response", "$.datasetObjectId", "datasetObjectId", "datasetObjectId"),
        wrong_type("answer", "$.workerId", "answers[].workerId", "workerId"),
        (
            "json_type(answer, $label_path) NOT IN ('VARCHAR', 'BIGINT', 'UBIGINT')",
            "'not one label (a multi-label or non-classification answer)'",
            label_field.replace("'", "''"),
            "CAST(json_extract(answer, $label_path) AS VARCHAR)",
        ),
    ]
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {EXPORT} AS
        SELECT {ROW}, 'annotation' AS role,
               coalesce(json_extract_string(response, '$.datasetObjectId'), $folder) AS item_id,
               json_extract_string(answer, '$.workerId') AS annotator_id,
               json_extract_string(answer, $label_path) AS label,
               json_extract_string(answer, '$.submissionTime') AS stamp,
               false AS unsure,
               {problem_columns(checks)},
               json_extract_string(answer, '$.timeSpentInSeconds') AS duration_s
        FROM ({_ANSWERS})
        """,
        {"folder": path.parent.name, "label_path": label_path},
    )
    return Places(
        unit="record",
        noun="field",
        fields={
            "item_id": "datasetObjectId",
            "annotator_id": "answers[].workerId",
            "label": f"answers[].answerContent.{control}.label",
            "annotated_at": "answers[].submissionTime",
            "duration_s": "answers[].timeSpentInSeconds",
        },
    )
