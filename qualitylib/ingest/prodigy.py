"""Prodigy JSON Lines (``prodigy db-out``): one answered task per line.

item = ``_input_hash`` (the same input shown to several annotators); annotator =
``_annotator_id`` as Prodigy writes it (``dataset-session``, the session part kept; older
exports without it fall back to ``_session_id``); time = ``_timestamp`` (Unix seconds).
Label: in choice tasks (with ``options``) the one accepted option id of ``accept``; in binary
tasks, and for rejected choice tasks, the ``answer`` itself (``accept`` / ``reject``).
``answer: ignore`` is kept as label ``ignore`` with the ``unsure`` flag.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from qualitylib.ingest.exports import (
    EXPORT,
    RECORDS,
    Options,
    problem_columns,
    read_json_records,
    wrong_type,
)
from qualitylib.ingest.read import ROW
from qualitylib.ingest.validate import Places

PLACES = Places(
    unit="record",
    noun="field",
    fields={
        "item_id": "_input_hash",
        "annotator_id": "_annotator_id",
        "label": "accept",
        "annotated_at": "_timestamp",
    },
)
KEPT = ("_input_hash", "_annotator_id", "_session_id", "answer", "accept", "_timestamp")
ANSWERS = ("accept", "reject", "ignore")
# Unix seconds up to 2100; larger numbers (e.g. milliseconds) are left as text and rejected.
LATEST_SECONDS = 4_102_444_800


_CHECKS = [
    ("NOT is_object", "'not a Prodigy task object'", "record", "left(json, 60)"),
    ("answer IS NULL", "'missing answer'", "answer", "NULL"),
    (
        "NOT list_contains($answers, answer)",
        "'answer must be accept, reject or ignore'",
        "answer",
        "answer",
    ),
    wrong_type("json", "$._input_hash", "_input_hash", "_input_hash"),
    wrong_type("json", "$._annotator_id", "_annotator_id", "_annotator_id"),
    wrong_type("json", "$._session_id", "_session_id", "_session_id"),
    (
        "is_choice AND answer = 'accept' AND accept_type IS DISTINCT FROM 'ARRAY'",
        "'a choice task needs a list of accepted option ids'",
        "accept",
        "CAST(json_extract(json, '$.accept') AS VARCHAR)",
    ),
    (
        "is_choice AND answer = 'accept' AND n_accepted = 0",
        "'accepted with no option selected'",
        "accept",
        "CAST(json_extract(json, '$.accept') AS VARCHAR)",
    ),
    (
        "is_choice AND answer = 'accept' AND n_accepted > 1",
        "'several options accepted; qualitylib stores one label per annotation'",
        "accept",
        "CAST(json_extract(json, '$.accept') AS VARCHAR)",
    ),
    (
        "is_choice AND answer = 'accept' AND json_type(json, '$.accept[0]') NOT IN ('VARCHAR', "
        "'BIGINT', 'UBIGINT')",
        "'the accepted option id must be text or an integer, not ' "
        "|| lower(json_type(json, '$.accept[0]'))",
        "accept",
        "CAST(json_extract(json, '$.accept') AS VARCHAR)",
    ),
]


def read(con: duckdb.DuckDBPyConnection, path: Path, options: Options) -> Places:
    """Write ``_export`` from a Prodigy JSONL export."""
    # only whether a task has options matters (they may embed images)
    read_json_records(con, path, KEPT, arrays=("options",))
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {EXPORT} AS
        WITH fields AS (
            SELECT {ROW}, json,
                   json_type(json) = 'OBJECT' AS is_object,
                   json_extract_string(json, '$.answer') AS answer,
                   json_type(json, '$.options') = 'ARRAY' AS is_choice,
                   json_type(json, '$.accept') AS accept_type,
                   json_array_length(json, '$.accept') AS n_accepted,
                   json_extract_string(json, '$._timestamp') AS raw_stamp
            FROM {RECORDS}
        )
        SELECT {ROW}, 'annotation' AS role,
               json_extract_string(json, '$._input_hash') AS item_id,
               coalesce(json_extract_string(json, '$._annotator_id'),
                        json_extract_string(json, '$._session_id')) AS annotator_id,
               CASE WHEN is_choice AND answer = 'accept'
                    THEN json_extract_string(json, '$.accept[0]') ELSE answer END AS label,
               CASE WHEN TRY_CAST(raw_stamp AS DOUBLE) BETWEEN 0 AND $latest
                    THEN strftime(to_timestamp(TRY_CAST(raw_stamp AS DOUBLE)),
                                  '%Y-%m-%dT%H:%M:%S.%fZ')
                    ELSE raw_stamp END AS stamp,
               coalesce(answer = 'ignore', false) AS unsure,
               {problem_columns(_CHECKS)}
        FROM fields
        """,
        {"latest": LATEST_SECONDS, "answers": list(ANSWERS)},
    )
    return PLACES
