"""Time on task for boxes: ``duration_s`` from the box tools that export it (Label Studio
``lead_time``, Ground Truth ``timeSpentInSeconds``), missing where they do not (CVAT, COCO), and
the median time per image and too-fast images per annotator and week."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import median_abs_deviation

from qualitylib.cli import main
from qualitylib.ingest import import_exports, import_files
from qualitylib.metrics.time_on_task import SpeedRule, box_time_on_task
from qualitylib.store import connect

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples" / "boxes"
GT = SAMPLES / "groundtruth"


def _durations(db: Path) -> list[tuple[str, str, float | None]]:
    with connect(db, read_only=True) as con:
        return con.execute(
            """SELECT i.item_id, a.annotator_id, b.duration_s
               FROM boxes b JOIN items i USING (item_key) JOIN annotators a USING (annotator_key)
               ORDER BY ALL"""
        ).fetchall()


def test_ground_truth_time_spent_is_kept_on_every_row_of_the_image(db: Path) -> None:
    responses = sorted(GT.glob("worker-response/iteration-1/*/*.json"))
    import_exports(db, "sagemaker-boxes", [*responses, GT / "output.manifest"])
    # street-001: w3 drew two boxes (both rows carry the image's 40 s), w5 none (an empty row);
    # street-002: nobody drew anything, in 3 s each
    assert _durations(db) == [
        ("street-001.jpg", "private.w1", 31.0),
        ("street-001.jpg", "private.w2", 25.5),
        ("street-001.jpg", "private.w3", 40.0),
        ("street-001.jpg", "private.w3", 40.0),
        ("street-001.jpg", "private.w4", 18.0),
        ("street-001.jpg", "private.w5", 4.0),
        *(("street-002.jpg", f"private.w{i}", 3.0) for i in range(1, 6)),
    ]
    with connect(db, read_only=True) as con:
        table = box_time_on_task(con).set_index("annotator_id")
    assert table["n_images"].tolist() == [2] * 5  # w3's two boxes are one image
    assert table.loc["private.w3", "median_duration_s"] == (40.0 + 3.0) / 2
    assert table["median_duration_s_ci_low"].isna().all()  # 2 images: no 95 % interval


@pytest.mark.parametrize(
    ("fmt", "path", "options"),
    [
        ("cvat", SAMPLES / "cvat_job.xml", {}),
        ("coco", SAMPLES / "coco_annotator.json", {"annotator": "ann-7"}),
    ],
)
def test_cvat_and_coco_carry_no_time_so_it_stays_missing(
    db: Path, fmt: str, path: Path, options: dict[str, str]
) -> None:
    # CVAT for images 1.1 XML has only the task's and job's created/updated dates and the dump
    # time; COCO has none: the time on an image is unknown (NULL), never 0.
    import_exports(db, fmt, [path], **options)
    rows = _durations(db)
    assert rows and all(duration is None for _, _, duration in rows)
    with connect(db, read_only=True) as con:
        table = box_time_on_task(con)
    assert (table["n_timed"] == 0).all() and (table["n_too_fast"] == 0).all()
    assert table["median_duration_s"].isna().all() and table["share_too_fast"].isna().all()


def _box_rows() -> pd.DataFrame:
    """Three annotators x 12 images over two weeks; each image one or two boxes (two rows, one
    time); a careless one (c) spends a second on its second week's images; some untimed."""
    rng = np.random.default_rng(3)
    rows = []
    for who, scale in (("a", 20.0), ("b", 25.0), ("c", 22.0)):
        for i in range(12):
            week = i // 6
            seconds = round(scale * rng.lognormal(0, 0.3), 2)
            if who == "c" and week == 1:
                seconds = round(rng.uniform(0.8, 1.2), 2)
            duration = "" if (who == "b" and i % 5 == 0) else seconds
            at = f"2026-09-{7 + 7 * week + i % 6:02d}T10:00:00Z"
            for box in range(1 + i % 2):
                x = 10 + 50 * box
                rows.append((f"img{i}", who, "car", x, 10, x + 40, 50, at, duration))
    return pd.DataFrame(
        rows,
        columns=[
            "item_id", "annotator_id", "label", "x_min", "y_min", "x_max", "y_max",
            "annotated_at", "duration_s",
        ],
    )  # fmt: skip


def test_median_and_too_fast_images_match_a_recount(db: Path, tmp_path: Path) -> None:
    rows = _box_rows()
    path = tmp_path / "boxes.csv"
    rows.to_csv(path, index=False)
    import_files(db, "boxes", [path])
    images = rows.drop_duplicates(["item_id", "annotator_id", "annotated_at"]).copy()
    images["duration_s"] = pd.to_numeric(images["duration_s"])
    images["week"] = pd.to_datetime(images["annotated_at"]).dt.tz_localize(None).dt.to_period("W")
    rule = SpeedRule(k=3.0)
    logs = np.log(np.maximum(images["duration_s"].dropna(), rule.floor_s))
    below = np.median(logs) - rule.k * 1.4826 * median_abs_deviation(logs)
    images["fast"] = np.log(np.maximum(images["duration_s"], rule.floor_s)) < below
    with connect(db, read_only=True) as con:
        people = box_time_on_task(con, rule=rule).set_index("annotator_id")
        weeks = box_time_on_task(con, rule=rule, by="week")
    grouped = images.groupby("annotator_id")
    assert people["n_images"].to_dict() == grouped.size().to_dict()
    assert people["n_timed"].to_dict() == grouped["duration_s"].count().to_dict()
    assert people["median_duration_s"].to_dict() == pytest.approx(
        grouped["duration_s"].median().to_dict()
    )
    assert people["n_too_fast"].to_dict() == {"a": 0, "b": 0, "c": 6}  # c's second week
    assert people["n_too_fast"].to_dict() == grouped["fast"].sum().to_dict()
    # the 95 % interval of 12 images: the 3rd and 10th order statistics
    ordered = np.sort(images.loc[images["annotator_id"] == "a", "duration_s"])
    assert (
        people.loc["a", "median_duration_s_ci_low"],
        people.loc["a", "median_duration_s_ci_high"],
    ) == (
        ordered[2],
        ordered[9],
    )
    careless = weeks[weeks["annotator_id"] == "c"]
    assert careless["share_too_fast"].tolist() == [0.0, 1.0]


def test_cli_exports_box_time_on_task_per_week(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "boxes.csv"
    _box_rows().to_csv(path, index=False)
    import_files(db, "boxes", [path])
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["export", "--db", str(db), "box-time-on-task", "--too-fast-k", "3"]) == 0
    table = pd.read_csv(io.StringIO(out.getvalue()))
    assert list(table.columns[:6]) == [
        "annotator_id", "name", "team", "week_start", "n_images", "n_timed",
    ]  # fmt: skip
    assert table.groupby("annotator_id")["n_too_fast"].sum().to_dict() == {"a": 0, "b": 0, "c": 6}
