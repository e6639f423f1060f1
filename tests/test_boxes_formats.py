"""Box exports (COCO, Label Studio rectangles, Ground Truth worker responses, CVAT XML): each
sample in data/samples/boxes imports through the canonical validation path, auto-detected,
with the boxes, empty rows, image sizes and people the tool's export holds."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from qualitylib.check import check_store
from qualitylib.cli import main
from qualitylib.errors import ValidationError
from qualitylib.ingest import detect_format, import_exports, import_files
from qualitylib.store import connect

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples" / "boxes"
GT = SAMPLES / "groundtruth"
AT = datetime(2026, 9, 6)


def _boxes(db: Path, table: str = "boxes") -> list[tuple]:
    who = "a.annotator_id" if table == "boxes" else "b.decided_by"
    join = "JOIN annotators a USING (annotator_key)" if table == "boxes" else ""
    with connect(db, read_only=True) as con:
        return con.execute(
            f"""SELECT i.item_id, {who}, l.label, round(x_min, 2), round(y_min, 2),
                       round(x_max, 2), round(y_max, 2)
                FROM {table} b JOIN items i USING (item_key) {join}
                LEFT JOIN labels l USING (label_key) ORDER BY ALL"""
        ).fetchall()


def _sizes(db: Path) -> dict[str, tuple[int, int]]:
    with connect(db, read_only=True) as con:
        rows = con.execute("SELECT item_id, width, height FROM items").fetchall()
    return {item: (w, h) for item, w, h in rows}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("coco_committee.json", "coco"),
        ("label_studio_boxes.json", "label-studio-boxes"),
        ("cvat_task.xml", "cvat"),
        ("groundtruth/output.manifest", "sagemaker-boxes"),
        ("groundtruth/worker-response/iteration-1/0/2026-09-03T10-04-00.json", "sagemaker-boxes"),
    ],
)
def test_box_formats_are_detected(name: str, expected: str) -> None:
    assert detect_format(SAMPLES / name) == expected


def test_coco_committee_and_annotator(db: Path) -> None:
    import_exports(db, "auto", [SAMPLES / "coco_committee.json"], reference=True, at=AT)
    import_exports(db, "coco", [SAMPLES / "coco_annotator.json"], annotator="ann-7", at=AT)
    # bbox [x, y, w, h] -> corners; the crowd region is skipped; street-003 has no committee box
    assert _boxes(db, "box_reference") == [
        ("street-001.jpg", None, "car", 100.0, 200.0, 250.0, 280.0),
        ("street-001.jpg", None, "person", 400.0, 150.0, 440.0, 190.0 + 80.0),
        ("street-002.jpg", None, "car", 20.0, 300.0, 220.0, 400.0),
        ("street-003.jpg", None, None, None, None, None, None),
    ]
    assert [row[:3] for row in _boxes(db)] == [
        ("street-001.jpg", "ann-7", "car"),
        ("street-001.jpg", "ann-7", "car"),
        ("street-002.jpg", "ann-7", "car"),
        ("street-003.jpg", "ann-7", "person"),
    ]
    assert _sizes(db) == {f"street-00{i}.jpg": (640, 480) for i in (1, 2, 3)}
    assert all(f.ok for f in check_store(db))


def test_coco_needs_an_annotator_or_the_reference_flag(db: Path) -> None:
    with pytest.raises(ValidationError, match="pass --annotator ID .* or --reference"):
        import_exports(db, "coco", [SAMPLES / "coco_annotator.json"])


def test_coco_keep_ids_uses_the_tool_ids(db: Path) -> None:
    import_exports(db, "coco", [SAMPLES / "coco_annotator.json"], annotator="a", keep_ids=True)
    assert sorted(_sizes(db)) == ["10", "11", "12"]


def test_label_studio_rectangles(db: Path) -> None:
    summary = import_exports(db, "auto", [SAMPLES / "label_studio_boxes.json"])
    assert "skipped 1 cancelled" in str(summary)
    # percent of original_width/height; the upload prefix is dropped; the annotation without
    # a rectangle is an empty row; ground_truth is the committee's (decided by user 9)
    assert _boxes(db) == [
        ("street-001.jpg", "7", "car", 100.0, 200.0, 250.0, 280.0),
        ("street-003.jpg", "7", None, None, None, None, None),
    ]
    assert _boxes(db, "box_reference") == [
        ("street-001.jpg", "9", "car", 100.0, 200.0, 250.0, 280.0),
        ("street-001.jpg", "9", "person", 400.0, 150.0, 440.0, 270.0),
    ]
    with connect(db, read_only=True) as con:
        durations = con.execute("SELECT duration_s FROM boxes ORDER BY 1").fetchall()
    assert durations == [(5.0,), (42.5,)]


def test_label_studio_rotated_rectangle_is_refused(db: Path, tmp_path: Path) -> None:
    tasks = json.loads((SAMPLES / "label_studio_boxes.json").read_text())
    tasks[0]["annotations"][0]["result"][0]["value"]["rotation"] = 12
    path = tmp_path / "rotated.json"
    path.write_text(json.dumps(tasks))
    with pytest.raises(
        ValidationError,
        match=r"rotated.json record 1, field 'annotations.*value.rotation': a rotated",
    ):
        import_exports(db, "label-studio-boxes", [path])


def test_ground_truth_five_workers_with_the_manifest(db: Path) -> None:
    responses = sorted(GT.glob("worker-response/iteration-1/*/*.json"))
    # the manifest is given last and still read first: dataset object 0 is street-001.jpg
    import_exports(db, "auto", [*responses, GT / "output.manifest"])
    rows = _boxes(db)
    assert ("street-001.jpg", "private.w2", "car", 103.0, 200.0, 253.0, 280.0) in rows
    assert ("street-001.jpg", "private.w5", None, None, None, None, None) in rows
    assert sum(1 for r in rows if r[0] == "street-002.jpg" and r[2] is None) == 5
    assert len({r[1] for r in rows}) == 5
    assert _sizes(db) == {"street-001.jpg": (640, 480), "street-002.jpg": (640, 480)}
    findings = check_store(db)  # the manifest brings images only: no log rows to account for
    assert all(f.ok for f in findings), [str(f) for f in findings if not f.ok]


def test_ground_truth_without_manifest_keys_items_by_dataset_object(db: Path) -> None:
    import_exports(db, "sagemaker-boxes", sorted(GT.glob("worker-response/iteration-1/*/*.json")))
    assert sorted(_sizes(db)) == ["0", "1"]


def test_cvat_task_export_with_jobs_file(db: Path) -> None:
    summary = import_exports(
        db, "auto", [SAMPLES / "cvat_task.xml"], jobs=SAMPLES / "cvat_jobs.csv"
    )
    assert "3 images, 5 boxes, 3 annotations; skipped 1 polygons (not boxes)" in str(summary)
    # frames 0-1 are anna's job, 2-3 ben's; ben's frame 3 holds no box: an empty row
    assert _boxes(db) == [
        ("street-001.jpg", "anna", "car", 102.0, 201.0, 250.0, 280.0),
        ("street-001.jpg", "anna", "person", 401.5, 150.0, 440.0, 270.0),
        ("street-001.jpg", "ben", "car", 100.0, 200.0, 250.0, 280.0),
        ("street-002.jpg", "anna", "car", 20.0, 300.0, 220.0, 400.0),
        ("street-003.jpg", "ben", None, None, None, None, None),
    ]
    with connect(db, read_only=True) as con:
        stamps = con.execute("SELECT DISTINCT annotated_at::VARCHAR FROM boxes").fetchall()
    assert stamps == [("2026-09-04 16:30:00",)]  # the task's <updated>, in UTC
    # image-level <tag>s are tag annotations of the same person at the same time; the tag's
    # group_id and attributes are not kept
    assert _tags(db) == [
        ("street-001.jpg", "anna", "daylight", "2026-09-04 16:30:00"),
        ("street-001.jpg", "ben", "daylight", "2026-09-04 16:30:00"),
        ("street-003.jpg", "ben", "night", "2026-09-04 16:30:00"),
    ]
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT kind, n_rows FROM imports").fetchall() == [("cvat", 8)]
    assert all(f.ok for f in check_store(db))


def _tags(db: Path, table: str = "annotations") -> list[tuple]:
    who, stamp = (
        ("a.annotator_id", "annotated_at")
        if table == "annotations"
        else (
            "t.decided_by",
            "decided_at",
        )
    )
    join = "JOIN annotators a USING (annotator_key)" if table == "annotations" else ""
    with connect(db, read_only=True) as con:
        return con.execute(
            f"""SELECT i.item_id, {who}, l.label, {stamp}::VARCHAR FROM {table} t
                JOIN items i USING (item_key) {join} JOIN labels l USING (label_key)
                ORDER BY ALL"""
        ).fetchall()


def _edited(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = (SAMPLES / name).read_text()
    assert text.count(old) == 1
    path = tmp_path / name
    path.write_text(text.replace(old, new))
    return path


def test_cvat_tags_as_committee_decisions(db: Path) -> None:
    import_exports(db, "cvat", [SAMPLES / "cvat_job.xml"], reference=True)
    assert _tags(db, "reference") == [("street-001.jpg", "anna", "daylight", "2026-09-04 16:30:00")]
    assert _tags(db) == [] and len(_boxes(db, "box_reference")) == 3


def test_cvat_tags_are_removed_with_their_import(db: Path) -> None:
    import_exports(db, "cvat", [SAMPLES / "cvat_task.xml"], jobs=SAMPLES / "cvat_jobs.csv")
    assert main(["imports", "remove", "--db", str(db), "1"]) == 0
    assert _tags(db) == [] and _boxes(db) == []
    assert all(f.ok for f in check_store(db))


def test_cvat_two_tags_of_one_person_on_one_image_are_refused(db: Path, tmp_path: Path) -> None:
    path = _edited(
        tmp_path,
        "cvat_job.xml",
        '<tag label="daylight" source="manual">',
        '<tag label="night" source="manual"></tag><tag label="daylight" source="manual">',
    )
    with pytest.raises(
        ValidationError,
        match=r"cvat_job.xml image 1, attribute 'tag label': a second tag .* \(got 'daylight'\)",
    ):
        import_exports(db, "cvat", [path])
    assert not db.exists() or (_boxes(db) == [] and _tags(db) == [])


def test_cvat_unknown_tag_label_is_refused_and_nothing_written(db: Path, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("label\ncar\nperson\ndaylight\n")
    import_files(db, "labels", [labels])
    with pytest.raises(
        ValidationError, match=r"cvat_task.xml image 4, attribute 'tag label': .*'night'"
    ):
        import_exports(db, "cvat", [SAMPLES / "cvat_task.xml"], jobs=SAMPLES / "cvat_jobs.csv")
    assert _boxes(db) == [] and _tags(db) == []


def test_cvat_job_without_assignee_is_refused(db: Path, tmp_path: Path) -> None:
    path = _edited(
        tmp_path,
        "cvat_job.xml",
        "<assignee><username>anna</username><email>anna@example.org</email></assignee>",
        "<assignee></assignee>",
    )
    with pytest.raises(
        ValidationError,
        match=r"cvat_job.xml meta/job, element 'assignee': .*the job has no assignee",
    ):
        import_exports(db, "cvat", [path])


def test_cvat_video_export_is_refused(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "video.xml"
    path.write_text(
        '<annotations><version>1.1</version><track id="0" label="car" source="manual">'
        '<box frame="0" keyframe="1" outside="0" occluded="0" xtl="1" ytl="1" xbr="9" ybr="9"'
        ' z_order="0"></box></track></annotations>'
    )
    with pytest.raises(ValidationError, match="video.xml: a CVAT for video export"):
        import_exports(db, "cvat", [path])


def test_cvat_job_export_names_its_assignee(db: Path) -> None:
    import_exports(db, "cvat", [SAMPLES / "cvat_job.xml"])
    assert {row[1] for row in _boxes(db)} == {"anna"}


def test_cvat_task_export_without_assignees_is_refused(db: Path) -> None:
    with pytest.raises(
        ValidationError,
        match="cvat_task.xml meta/task, element 'assignee': who drew these boxes and tags",
    ):
        import_exports(db, "cvat", [SAMPLES / "cvat_task.xml"])


def test_cvat_box_outside_the_image_names_image_and_attribute(db: Path, tmp_path: Path) -> None:
    text = (SAMPLES / "cvat_job.xml").read_text().replace('xbr="220.00"', 'xbr="700.00"')
    path = tmp_path / "job.xml"
    path.write_text(text)
    shutil.copy(SAMPLES / "cvat_jobs.csv", tmp_path / "jobs.csv")
    with pytest.raises(
        ValidationError, match=r"job.xml image 2, attribute 'box xbr': outside the image"
    ):
        import_exports(db, "cvat", [path])
    assert not db.exists() or not _boxes(db)
