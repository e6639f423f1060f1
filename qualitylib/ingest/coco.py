"""COCO object detection JSON (``images``, ``annotations`` with ``bbox: [x, y, w, h]``,
``categories``): a file of one annotator's boxes (``--annotator ID``, COCO names no person) or
the committee's (``--reference``).

item = the base name of ``images[].file_name`` (``--keep-ids``: the image ``id``); label = the
category ``name``; corners = ``x, y, x + w, y + h``; image size from ``width``/``height``.
Images without annotations are explicit empty rows (the annotator, or the committee, saw them
and drew nothing). ``iscrowd: 1`` regions are skipped and counted; a file has no timestamps, so
its boxes get ``--at`` or the file's modification time.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from qualitylib.errors import ValidationError
from qualitylib.ingest.box_exports import Rows, fail, item_name, number
from qualitylib.ingest.exports import Options
from qualitylib.ingest.validate import Places

PLACES = Places(
    unit="record",
    noun="field",
    fields={
        "item_id": "images[].file_name",
        "label": "annotations[].category_id",
        "x_min": "annotations[].bbox[0]",
        "y_min": "annotations[].bbox[1]",
        "x_max": "annotations[].bbox[2] (width)",
        "y_max": "annotations[].bbox[3] (height)",
        "width": "images[].width",
        "height": "images[].height",
    },
)


def read(con: duckdb.DuckDBPyConnection, path: Path, options: Options) -> Rows:
    """Rows from a COCO detection file; records are numbered images first, then annotations."""
    del con
    if options.annotator is None and not options.reference:
        raise ValidationError(
            f"{path.name}: a COCO file names no annotator; pass --annotator ID (whose boxes "
            "these are) or --reference (the committee's boxes)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValidationError(f"{path.name}: not valid JSON ({error})") from error
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ValidationError(
            f"{path.name}: not a COCO detection file (expected an object with images, "
            "annotations and categories)"
        )
    rows = Rows(PLACES)
    names = {c.get("id"): c.get("name") for c in data.get("categories") or []}
    images: dict[object, str] = {}
    for number_, image in enumerate(data["images"], start=1):
        item = item_name(image.get("file_name"), image.get("id"), options.keep_ids)
        images[image.get("id")] = item
        rows.add(
            "items",
            number_,
            item_id=item,
            width=number(image.get("width")),
            height=number(image.get("height")),
        )
    seen: set[object] = set()
    offset = len(data["images"])
    who = options.annotator
    for number_, ann in enumerate(data.get("annotations") or [], start=offset + 1):
        if ann.get("image_id") not in images:
            fail(
                path,
                "record",
                number_,
                "annotations[].image_id",
                "no such image",
                ann.get("image_id"),
            )
        if ann.get("iscrowd"):
            rows.skipped["crowd regions (iscrowd)"] += 1
            continue
        if ann.get("category_id") not in names:
            fail(
                path,
                "record",
                number_,
                "annotations[].category_id",
                "no such category",
                ann.get("category_id"),
            )
        box = ann.get("bbox")
        if not isinstance(box, list) or len(box) != 4:
            fail(
                path, "record", number_, "annotations[].bbox", "expected [x, y, width, height]", box
            )
        x, y, w, h = (number(v) for v in box)
        seen.add(ann["image_id"])
        rows.box(
            number_,
            images[ann["image_id"]],
            who,
            names[ann["category_id"]],
            (x, y, x + w, y + h),
            reference=options.reference,
            object_id=None if ann.get("id") is None else str(ann["id"]),
        )
    for number_, image in enumerate(data["images"], start=1):
        if image.get("id") not in seen:
            rows.box(number_, images[image.get("id")], who, None, None, reference=options.reference)
    return rows
