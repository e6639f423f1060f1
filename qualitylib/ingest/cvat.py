"""CVAT for images 1.1 XML (task or job export): ``<image id name width height>`` holding
``<box label xtl ytl xbr ybr>`` elements (pixels, two decimals).

item = the image ``name``'s base name (``--keep-ids``: the frame ``id``). Who drew a frame is the
assignee of the job holding it: a job export names it in ``meta/job/assignee`` (``username``,
else ``email``); a task export lists its jobs' frame ranges (``meta/task/segments``) but not their
assignees, so it needs ``--jobs FILE``, a CSV ``job_id, start_frame, stop_frame, assignee``
(``--jobs`` also overrides a job export's meta). ``--reference``: the boxes are the committee's.
Time = the job's (task's) ``updated`` date. Every image of the export is a submission: one
without boxes is an explicit empty row. An image's ``<tag label>`` elements (CVAT's image-level
labels, written by its ``dump_as_cvat_annotation``: ``label``, ``source``, optional
``group_id`` and ``<attribute>`` children) are tag annotations of the same person at the same
time (``--reference``: the committee's decisions); an image holds at most one tag per person,
as a tag annotation does. Polygons and other shapes are skipped and counted; rotated boxes are
refused. CVAT for video exports (``<track>``) hold no tags and no per-image boxes: refused.
"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import duckdb

from qualitylib.errors import ValidationError
from qualitylib.ingest.box_exports import Rows, fail, item_name, number
from qualitylib.ingest.exports import Options
from qualitylib.ingest.validate import Places

PLACES = Places(
    unit="image",
    noun="attribute",
    fields={
        "item_id": "name",
        "annotator_id": "assignee",
        "label": "box label",
        "annotations.label": "tag label",
        "reference.label": "tag label",
        "x_min": "box xtl",
        "y_min": "box ytl",
        "x_max": "box xbr",
        "y_max": "box ybr",
        "annotated_at": "meta updated",
        "decided_at": "meta updated",
        "width": "width",
        "height": "height",
    },
)


def read_jobs(path: Path) -> list[tuple[int, int, str]]:
    """``(start_frame, stop_frame, assignee)`` per row of a jobs CSV."""
    if not path.exists():
        raise ValidationError(f"{path}: no such file")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        needed = {"job_id", "start_frame", "stop_frame", "assignee"}
        missing = needed - set(reader.fieldnames or [])
        if missing:
            raise ValidationError(
                f"{path.name} row 0 (header): missing column(s) {', '.join(sorted(missing))} "
                "(a jobs file has job_id, start_frame, stop_frame, assignee)"
            )
        jobs = []
        for number_, row in enumerate(reader, start=1):
            for name in ("start_frame", "stop_frame"):
                if not (row[name] or "").strip().isdigit():
                    raise ValidationError(
                        f"{path.name} row {number_}, column {name!r}: not a frame number "
                        f"(got {row[name]!r})"
                    )
            if not (row["assignee"] or "").strip():
                raise ValidationError(
                    f"{path.name} row {number_}, column 'assignee': empty assignee"
                )
            jobs.append((int(row["start_frame"]), int(row["stop_frame"]), row["assignee"].strip()))
    return jobs


def _person(node: ElementTree.Element | None) -> str | None:
    if node is None:
        return None
    name = (node.findtext("username") or node.findtext("email") or "").strip()
    return name or None


def read(con: duckdb.DuckDBPyConnection, path: Path, options: Options) -> Rows:
    """Rows from a CVAT for images XML export."""
    del con
    try:
        root = ElementTree.parse(path).getroot()
    except ElementTree.ParseError as error:
        raise ValidationError(f"{path.name}: not valid XML ({error})") from error
    if root.tag != "annotations":
        raise ValidationError(
            f"{path.name}: not a CVAT for images export (root <{root.tag}>, expected <annotations>)"
        )
    if root.find("track") is not None:
        raise ValidationError(
            f"{path.name}: a CVAT for video export (<track> elements, no per-image boxes or "
            "tags); export the task or job as 'CVAT for images 1.1'"
        )
    meta = root.find("meta")
    owner = (
        None
        if meta is None
        else (meta.find("job") if meta.find("job") is not None else meta.find("task"))
    )
    job_assignee = (
        _person(owner.find("assignee")) if owner is not None and owner.tag == "job" else None
    )
    stamp = None if owner is None else (owner.findtext("updated") or None)
    jobs = read_jobs(options.jobs) if options.jobs is not None else []
    if not jobs and job_assignee is None and not options.reference:
        where = "a task export names no job assignees"
        if owner is not None and owner.tag == "job":
            where = "the job has no assignee"
        raise ValidationError(
            f"{path.name} meta/{'task' if owner is None else owner.tag}, element 'assignee': "
            f"who drew these boxes and tags? {where}: pass --jobs FILE (job_id, start_frame, "
            "stop_frame, assignee), or export per job"
        )
    rows = Rows(PLACES)
    for number_, image in enumerate(root.iter("image"), start=1):
        frame = int(image.get("id", number_ - 1))
        item = item_name(image.get("name"), frame, options.keep_ids)
        who = job_assignee
        if jobs:
            who = next((name for start, stop, name in jobs if start <= frame <= stop), None)
            if who is None and not options.reference:
                fail(path, "image", number_, "id", "frame in no job of the --jobs file", frame)
        rows.add(
            "items",
            number_,
            item_id=item,
            width=number(image.get("width")),
            height=number(image.get("height")),
        )
        drawn = tagged = 0
        for child in image:
            if child.tag == "tag":
                tagged += 1
                if not (child.get("label") or "").strip():
                    raise ValidationError(
                        f"{PLACES.name(path, number_, 'tag label')}: a tag without a label"
                    )
                if tagged > 1:
                    raise ValidationError(
                        f"{PLACES.name(path, number_, 'tag label')}: a second tag on one image; "
                        "qualitylib keeps one tag per image and person "
                        f"(got {child.get('label')!r})"
                    )
                rows.tag(
                    number_,
                    item,
                    who,
                    child.get("label"),
                    reference=options.reference,
                    stamp=stamp,
                    decided_by=who,
                )
                continue
            if child.tag != "box":
                rows.skipped[f"{child.tag}s (not boxes)"] += 1
                continue
            if number(child.get("rotation")) not in (None, 0.0):
                fail(
                    path,
                    "image",
                    number_,
                    "box rotation",
                    "a rotated box; qualitylib scores axis-aligned boxes only",
                    child.get("rotation"),
                )
            corners = tuple(number(child.get(k)) for k in ("xtl", "ytl", "xbr", "ybr"))
            rows.box(
                number_,
                item,
                who,
                child.get("label"),
                corners,
                reference=options.reference,
                stamp=stamp,
                decided_by=who,
            )
            drawn += 1
        if not drawn:
            rows.box(number_, item, who, None, None, reference=options.reference, stamp=stamp)
    return rows
