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

from qualitylib.ingest.exports import EXPORT, RECORDS, Options, read_json_records
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
ANSWERS = ("accept", "reject", "ignore")
# Unix seconds up to 2100; larger numbers (e.g. milliseconds) are left as text and rejected.
LATEST_SECONDS = 4_102_444_800


def read(con: duckdb.DuckDBPyConnection, path: Path, options: Options) -> Places:
    """Write ``_export`` from a Prodigy JSONL export."""
    read_json_records(con, path)
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
               CASE WHEN NOT is_object THEN 'not a Prodigy task object'
                    WHEN answer IS NULL THEN 'missing answer'
                    WHEN NOT list_contains($answers, answer)
                        THEN 'answer must be accept, reject or ignore'
                    WHEN is_choice AND answer = 'accept' AND accept_type IS DISTINCT FROM 'ARRAY'
                        THEN 'a choice task needs a list of accepted option ids'
                    WHEN is_choice AND answer = 'accept' AND n_accepted = 0
                        THEN 'accepted with no option selected'
                    WHEN is_choice AND answer = 'accept' AND n_accepted > 1
                        THEN 'several options accepted; qualitylib stores one label per annotation'
                    END AS problem,
               CASE WHEN NOT is_object THEN 'record'
                    WHEN answer IS NULL OR NOT list_contains($answers, answer) THEN 'answer'
                    ELSE 'accept' END AS field,
               CASE WHEN NOT is_object THEN left(json, 60)
                    WHEN answer IS NULL OR NOT list_contains($answers, answer) THEN answer
                    ELSE CAST(json_extract(json, '$.accept') AS VARCHAR) END AS got
        FROM fields
        """,
        {"latest": LATEST_SECONDS, "answers": list(ANSWERS)},
    )
    return PLACES
