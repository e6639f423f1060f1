"""SageMaker Ground Truth bounding-box jobs: the worker responses and the output manifest.

Worker responses (``annotations/worker-response/iteration-N/<datasetObjectId>/<time>.json``)
hold ``answers[]``, one per worker: annotator = ``workerId``, time = ``submissionTime``,
``timeSpentInSeconds`` -> ``duration_s``, boxes = ``answerContent.<name>.boundingBoxes[]``
(``left, top, width, height, label``; ``<name>`` is ``boundingBox`` in the built-in template,
``--control`` picks it when there are several), image size from ``inputImageProperties``. A
worker who submitted no box is an explicit empty row.

The item is the base name of the image's ``source-ref`` when the output manifest is imported
in the same call (its line i, counted from 0, is dataset object i), else the response's
``datasetObjectId``, else the folder the file sits in (Ground Truth names it after the object).
The manifest itself adds the images and their sizes; its consolidated boxes are Ground Truth's
own consensus, not a committee's, and are not imported.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from qualitylib.errors import ValidationError
from qualitylib.ingest.box_exports import Rows, fail, item_name, number
from qualitylib.ingest.exports import Options
from qualitylib.ingest.validate import Places

OBJECTS = "_gt_objects"
PLACES = Places(
    unit="record",
    noun="field",
    fields={
        "item_id": "datasetObjectId",
        "annotator_id": "answers[].workerId",
        "label": "answers[].answerContent.boundingBox.boundingBoxes[].label",
        "x_min": "boundingBoxes[].left",
        "y_min": "boundingBoxes[].top",
        "x_max": "boundingBoxes[].width",
        "y_max": "boundingBoxes[].height",
        "annotated_at": "answers[].submissionTime",
        "duration_s": "answers[].timeSpentInSeconds",
        "width": "inputImageProperties.width",
        "height": "inputImageProperties.height",
    },
)


def _records(path: Path) -> list[object]:
    """The JSON records of a file: one object, an array, or JSON Lines."""
    text = path.read_text(encoding="utf-8-sig").strip()
    try:
        data = json.loads(text)
        return data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        pass
    records = []
    for number_, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValidationError(
                    f"{path.name} record {number_}: not valid JSON ({error})"
                ) from error
    return records


def is_manifest(path: Path) -> bool:
    """Whether ``path`` is a Ground Truth manifest (JSON Lines with ``source-ref``)."""
    with path.open("rb") as handle:
        first = handle.readline(1 << 20)
    try:
        record = json.loads(first)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(record, dict) and "source-ref" in record


def _read_manifest(con: duckdb.DuckDBPyConnection, records: list[object], options: Options) -> Rows:
    rows = Rows(PLACES)
    mapping = []
    for index, record in enumerate(records):
        item = item_name(record.get("source-ref"), index, options.keep_ids)
        mapping.append((str(index), item))
        size = next(
            (
                value["image_size"][0]
                for value in record.values()
                if isinstance(value, dict)
                and isinstance(value.get("image_size"), list)
                and value["image_size"]
            ),
            {},
        )
        rows.add(
            "items",
            index + 1,
            item_id=item,
            width=number(size.get("width")),
            height=number(size.get("height")),
        )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {OBJECTS} (object VARCHAR, item_id VARCHAR)")
    con.executemany(f"INSERT INTO {OBJECTS} VALUES (?, ?)", mapping)
    return rows


def read(con: duckdb.DuckDBPyConnection, path: Path, options: Options) -> Rows:
    """Rows from a worker-response file or an output manifest."""
    records = _records(path)
    if records and isinstance(records[0], dict) and "source-ref" in records[0]:
        return _read_manifest(con, records, options)
    known = {}
    if con.execute(
        f"SELECT count(*) FROM duckdb_tables() WHERE table_name = '{OBJECTS}'"
    ).fetchall()[0][0]:
        known = dict(con.execute(f"SELECT object, item_id FROM {OBJECTS}").fetchall())
    rows = Rows(PLACES)
    for record_number, record in enumerate(records, start=1):
        if not isinstance(record, dict) or not isinstance(record.get("answers"), list):
            fail(
                path,
                "record",
                record_number,
                "answers",
                "not a worker response (expected a list of answers)",
            )
        object_id = str(record.get("datasetObjectId", path.parent.name))
        item = known.get(object_id, object_id)
        for answer in record["answers"]:
            content = answer.get("answerContent") or {}
            names = sorted(
                k for k, v in content.items() if isinstance(v, dict) and "boundingBoxes" in v
            )
            if not names:
                fail(
                    path,
                    "record",
                    record_number,
                    "answers[].answerContent",
                    "no boundingBoxes (not a bounding-box job)",
                )
            name = options.control or names[0]
            found = ", ".join(names)
            if options.control is None and len(names) > 1:
                raise ValidationError(
                    f"{path.name}: several box answers ({found}); choose one with --control"
                )
            if name not in names:
                raise ValidationError(
                    f"{path.name}: no box answer named {options.control!r} (found: {found})"
                )
            answer_boxes = content[name]
            size = answer_boxes.get("inputImageProperties") or {}
            common = {
                "stamp": answer.get("submissionTime"),
                "duration_s": number(answer.get("timeSpentInSeconds")),
            }
            who = answer.get("workerId")
            if size:
                rows.add(
                    "items",
                    record_number,
                    item_id=item,
                    width=number(size.get("width")),
                    height=number(size.get("height")),
                )
            boxes = answer_boxes.get("boundingBoxes") or []
            for box in boxes:
                left, top = number(box.get("left")), number(box.get("top"))
                width, height = number(box.get("width")), number(box.get("height"))
                corners = (
                    (left, top, left + width, top + height)
                    if None not in (left, top, width, height)
                    else (left, top, None, None)
                )
                rows.box(record_number, item, who, box.get("label"), corners, **common)
            if not boxes:
                rows.box(record_number, item, who, None, None, **common)
    return rows
