"""Boxes in the store: import of annotator and committee boxes, explicit empty rows, as-of
committee box sets, the derived tables kept by every import, and the integrity check."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from qualitylib.check import check_store
from qualitylib.errors import ValidationError
from qualitylib.ingest import import_files
from qualitylib.store import connect

Write = Callable[[str, str], Path]
BOXES = "item_id,annotator_id,label,x_min,y_min,x_max,y_max,annotated_at,object_id,duration_s"
REFERENCE = "item_id,label,x_min,y_min,x_max,y_max,decided_at"


@pytest.fixture
def store(db: Path, write: Write) -> Path:
    """Two images, a committee set decided twice on img-1, boxes by alice and bob."""
    import_files(
        db, "items", [write("items.csv", "item_id,width,height\nimg-1,100,80\nimg-2,100,80")]
    )
    import_files(
        db,
        "reference-boxes",
        [
            write(
                "ref.csv",
                f"""{REFERENCE}
                img-1,car,10,10,50,40,2026-09-01T00:00:00Z
                img-1,person,60,10,80,70,2026-09-01T00:00:00Z
                img-1,car,10,10,50,40,2026-09-10T00:00:00Z
                img-2,,,,,,2026-09-01T00:00:00Z""",
            )
        ],
    )
    import_files(
        db,
        "boxes",
        [
            write(
                "boxes.csv",
                f"""{BOXES}
                img-1,alice,car,10,10,50,40,2026-09-02T10:00:00Z,o1,12.5
                img-1,alice,person,60,10,80,70,2026-09-02T10:00:00Z,o2,12.5
                img-1,alice,car,10,10,50,40,2026-09-11T10:00:00Z,o1,3
                img-2,bob,,,,,,2026-09-02T11:00:00Z,,
                img-2,alice,car,1,1,20,20,2026-09-02T11:00:00Z,,""",
            )
        ],
    )
    return db


def test_submissions_are_scored_against_the_committee_set_in_force(store: Path) -> None:
    with connect(store, read_only=True) as con:
        rows = con.execute(
            """SELECT i.item_id, a.annotator_id, s.annotated_at::VARCHAR, s.n_boxes,
                      s.is_current, s.ref_decided_at::VARCHAR, s.n_ref
               FROM box_sets s JOIN items i USING (item_key) JOIN annotators a USING (annotator_key)
               ORDER BY ALL"""
        ).fetchall()
    assert rows == [
        ("img-1", "alice", "2026-09-02 10:00:00", 2, False, "2026-09-01 00:00:00", 2),
        ("img-1", "alice", "2026-09-11 10:00:00", 1, True, "2026-09-10 00:00:00", 1),
        ("img-2", "alice", "2026-09-02 11:00:00", 1, True, "2026-09-01 00:00:00", 0),
        ("img-2", "bob", "2026-09-02 11:00:00", 0, True, "2026-09-01 00:00:00", 0),
    ]


def test_candidates_hold_overlapping_pairs_with_their_iou(store: Path) -> None:
    with connect(store, read_only=True) as con:
        rows = con.execute(
            "SELECT annotated_at::VARCHAR, iou FROM box_candidates ORDER BY ALL"
        ).fetchall()
        widths = con.execute("SELECT item_id, width, height FROM items ORDER BY 1").fetchall()
        stored = con.execute(
            "SELECT object_id, duration_s FROM boxes WHERE object_id IS NOT NULL ORDER BY ALL"
        ).fetchall()
    # the first submission: car on car and person on person, exact copies; the re-decision
    # at 09-10 dropped the person, so the second submission meets one committee box
    assert rows == [
        ("2026-09-02 10:00:00", 1.0),
        ("2026-09-02 10:00:00", 1.0),
        ("2026-09-11 10:00:00", 1.0),
    ]
    assert widths == [("img-1", 100, 80), ("img-2", 100, 80)]
    assert stored == [("o1", 3.0), ("o1", 12.5), ("o2", 12.5)]


def test_later_imports_keep_derived_tables_and_check_green(store: Path, write: Write) -> None:
    import_files(
        store,
        "boxes",
        [write("more.csv", f"{BOXES}\nimg-1,bob,car,12,12,52,40,2026-09-03T10:00:00Z,,")],
    )
    findings = check_store(store)
    assert all(f.ok for f in findings), [str(f) for f in findings if not f.ok]
    assert any(f.name == "box pairs up to date" for f in findings)
    with connect(store, read_only=True) as con:
        pairs = con.execute("SELECT round(iou, 6) FROM box_pairs").fetchall()
    # bob's car against alice's current car (10,10,50,40): 38*28 / (40*30 + 40*28 - 38*28)
    assert pairs == [(round(38 * 28 / (1200 + 1120 - 1064), 6),)]


def test_bad_box_changes_nothing(store: Path, write: Write) -> None:
    with connect(store, read_only=True) as con:
        before = con.execute("SELECT count(*) FROM boxes").fetchall()
    bad = write(
        "bad.csv",
        f"""{BOXES}
        img-1,carol,car,10,10,50,40,2026-09-05T10:00:00Z,,
        img-1,carol,car,10,10,50,200,2026-09-05T10:00:00Z,,""",
    )
    with pytest.raises(ValidationError, match=r"bad.csv row 2, column 'y_max': outside the image"):
        import_files(store, "boxes", [bad])
    with connect(store, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM boxes").fetchall() == before


def test_sql_iou_equals_numpy_iou(db: Path, tmp_path: Path) -> None:
    import numpy as np
    import pandas as pd

    from qualitylib.metrics.boxes import iou

    rng = np.random.default_rng(2)
    n = 400
    corner = rng.uniform(0, 300, (n, 2)).round(2)
    size = rng.uniform(1, 150, (n, 2)).round(2)
    frame = pd.DataFrame(
        {
            "item_id": [f"img-{i}" for i in rng.integers(0, 20, n)],
            "label": "car",
            "x_min": corner[:, 0],
            "y_min": corner[:, 1],
            "x_max": corner[:, 0] + size[:, 0],
            "y_max": corner[:, 1] + size[:, 1],
        }
    )
    ref = tmp_path / "ref.parquet"
    frame.assign(decided_at=pd.Timestamp("2026-09-01", tz="UTC")).to_parquet(ref)
    boxes = tmp_path / "boxes.parquet"
    frame.assign(
        annotator_id="a",
        x_min=frame["x_min"] + 3,
        annotated_at=pd.Timestamp("2026-09-02", tz="UTC"),
    ).assign(x_max=lambda f: f["x_max"] + 5).to_parquet(boxes)
    import_files(db, "reference-boxes", [ref])
    import_files(db, "boxes", [boxes])
    with connect(db, read_only=True) as con:
        rows = con.execute(
            """SELECT a.x_min, a.y_min, a.x_max, a.y_max, r.x_min, r.y_min, r.x_max, r.y_max,
                      c.iou
               FROM box_candidates c JOIN boxes a USING (box_id)
               JOIN box_reference r ON r.box_id = c.ref_box_id"""
        ).fetchnumpy()
    assert len(rows["iou"]) > n  # every box meets its own committee box, and some others
    ours = iou(
        np.column_stack([rows[k] for k in ("x_min", "y_min", "x_max", "y_max")]),
        np.column_stack([rows[k] for k in ("x_min_1", "y_min_1", "x_max_1", "y_max_1")]),
    )
    np.testing.assert_array_equal(ours, rows["iou"])
