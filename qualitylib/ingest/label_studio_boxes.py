"""Label Studio JSON export with ``rectanglelabels`` results (bounding boxes).

item = the base name of the task's image URL (``data.image``, else the first ``data`` value;
without the ``<8 hex>-`` prefix Label Studio gives uploaded files;
``--keep-ids``: the task ``id``); annotator = ``annotations[].completed_by`` (its ``id``, else
``email``, when an object); time = ``created_at``; ``lead_time`` (seconds) -> ``duration_s``.
Label Studio stores corners in percent of the image: ``x_min = value.x / 100 *
original_width``, ``x_max = (value.x + value.width) / 100 * original_width``, the same for y.
Rotated rectangles (``value.rotation`` not 0) are refused. Annotations with ``ground_truth:
true`` are committee boxes; cancelled ones are skipped; a submitted annotation without a
rectangle is an explicit empty row.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb

from qualitylib.errors import ValidationError
from qualitylib.ingest.box_exports import Rows, fail, item_name, number
from qualitylib.ingest.exports import Options
from qualitylib.ingest.validate import Places

# Label Studio saves an uploaded file as "<8 hex digits>-<original name>"
UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")
PLACES = Places(
    unit="record",
    noun="field",
    fields={
        "item_id": "data.image",
        "annotator_id": "annotations[].completed_by",
        "label": "annotations[].result[].value.rectanglelabels",
        "x_min": "annotations[].result[].value.x",
        "y_min": "annotations[].result[].value.y",
        "x_max": "annotations[].result[].value.width",
        "y_max": "annotations[].result[].value.height",
        "annotated_at": "annotations[].created_at",
        "decided_at": "annotations[].created_at",
        "duration_s": "annotations[].lead_time",
        "width": "annotations[].result[].original_width",
        "height": "annotations[].result[].original_height",
    },
)


def _who(annotation: dict) -> str | None:
    by = annotation.get("completed_by")
    if isinstance(by, dict):
        by = by.get("id", by.get("email"))
    return None if by is None else str(by)


def read(con: duckdb.DuckDBPyConnection, path: Path, options: Options) -> Rows:
    """Rows from a Label Studio export; record = the task's position in the file."""
    del con
    try:
        tasks = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValidationError(f"{path.name}: not valid JSON ({error})") from error
    if isinstance(tasks, dict):
        tasks = [tasks]
    rows = Rows(PLACES)
    for record, task in enumerate(tasks, start=1):
        if not isinstance(task, dict) or not isinstance(task.get("annotations"), list):
            fail(path, "record", record, "annotations", "not a Label Studio task")
        data = task.get("data") or {}
        image = data.get("image", next(iter(data.values()), None))
        item = item_name(image, task.get("id"), options.keep_ids)
        if isinstance(image, str) and "/data/upload/" in image and not options.keep_ids:
            item = UPLOAD_PREFIX.sub("", item)
        for annotation in task["annotations"]:
            if annotation.get("was_cancelled"):
                rows.skipped["cancelled"] += 1
                continue
            who = _who(annotation)
            gold = bool(annotation.get("ground_truth"))
            common = {
                "stamp": annotation.get("created_at"),
                "duration_s": None if gold else number(annotation.get("lead_time")),
            }
            drawn = 0
            for result in annotation.get("result") or []:
                if result.get("type") != "rectanglelabels":
                    continue
                value = result.get("value") or {}
                if number(value.get("rotation")) not in (None, 0.0):
                    fail(
                        path,
                        "record",
                        record,
                        "annotations[].result[].value.rotation",
                        "a rotated rectangle; qualitylib scores axis-aligned boxes only",
                        value.get("rotation"),
                    )
                labels = value.get("rectanglelabels") or []
                if len(labels) != 1:
                    fail(
                        path, "record", record, PLACES.fields["label"], "expected one label", labels
                    )
                width, height = (
                    number(result.get("original_width")),
                    number(result.get("original_height")),
                )
                if width is None or height is None:
                    fail(
                        path,
                        "record",
                        record,
                        "annotations[].result[].original_width",
                        "missing image size",
                    )
                x, y = number(value.get("x")), number(value.get("y"))
                w, h = number(value.get("width")), number(value.get("height"))
                corners = (
                    x / 100 * width,
                    y / 100 * height,
                    (x + w) / 100 * width,
                    (y + h) / 100 * height,
                )
                rows.box(
                    record,
                    item,
                    who,
                    labels[0],
                    corners,
                    reference=gold,
                    object_id=result.get("id"),
                    **common,
                )
                rows.add("items", record, item_id=item, width=width, height=height)
                drawn += 1
            if not drawn:
                rows.box(record, item, who, None, None, reference=gold, **common)
    return rows
