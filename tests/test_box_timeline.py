"""Box metrics over time: weekly scores equal box_summary on each week, onboarding statuses on
hand-built careers, drift alerts from the tag rule on 1 - F1."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qualitylib.ingest import import_files
from qualitylib.metrics.box_timeline import (
    STATUSES,
    box_drift_alerts,
    box_onboarding,
    box_sizes,
    box_timeline,
    box_weekly_controls,
)
from qualitylib.metrics.boxes import box_summary
from qualitylib.metrics.drift import DriftRule, alerts_from_controls
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.results import metric_names
from qualitylib.store import connect

Write = Callable[[str, str], Path]
BOXES = "item_id,annotator_id,label,x_min,y_min,x_max,y_max,annotated_at,phase"
REFERENCE = "item_id,label,x_min,y_min,x_max,y_max,decided_at"
START = datetime(2026, 9, 7, 9)  # a Monday
LABELS = ("car", "person", "car", "dog")


def _square(slot: int, shift: float = 0.0) -> tuple[float, float, float, float]:
    return (slot * 200 + shift, 0.0, slot * 200 + 100 + shift, 100.0)


def _career(who: str, weeks: int, misses: Callable[[int], int], images: int = 12) -> list[str]:
    """Rows of ``who`` labelling ``images`` control images a week; in week w they leave out
    the last ``misses(w)`` of each image's four committee boxes (the rest drawn exactly)."""
    rows = []
    for w in range(weeks):
        for i in range(images):
            at = (START + timedelta(weeks=w, hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            item = f"img-{(w * images + i) % 40}"
            kept = 4 - misses(w)
            for slot in range(kept):
                box = ",".join(str(v) for v in _square(slot))
                rows.append(f"{item},{who},{LABELS[slot]},{box},{at},production")
            if kept == 0:
                rows.append(f"{item},{who},,,,,,{at},production")
    return rows


@pytest.fixture
def careers(db: Path, write: Write) -> Path:
    """40 committee images of four boxes; ``steady`` copies them for 8 weeks, ``learner``
    misses two of four in weeks 0-3, then none; ``drifter`` copies them for 5 weeks, then
    misses two; ``late`` labels only two images."""
    reference = [
        f"img-{i},{LABELS[s]},{','.join(str(v) for v in _square(s))},2026-09-01T00:00:00Z"
        for i in range(40)
        for s in range(4)
    ]
    import_files(db, "reference-boxes", [write("ref.csv", "\n".join([REFERENCE, *reference]))])
    rows = (
        _career("steady", 8, lambda w: 0)
        + _career("learner", 8, lambda w: 2 if w < 4 else 0)
        + _career("drifter", 8, lambda w: 0 if w < 5 else 2)
        + _career("late", 1, lambda w: 0, images=2)
    )
    import_files(db, "boxes", [write("boxes.csv", "\n".join([BOXES, *rows]))])
    return db


def test_timeline_is_box_summary_week_by_week(careers: Path) -> None:
    with connect(careers, read_only=True) as con:
        timeline = box_timeline(con)
        assert set(metric_names(timeline)) == {"precision", "recall", "mean_iou"}
        for row in timeline.itertuples():
            monday = row.period_start
            week = Filters(since=monday, until=monday + timedelta(days=6))
            summary = box_summary(con, week).set_index("annotator_id").loc[row.annotator_id]
            assert (row.tp, row.fp, row.fn) == (summary.tp, summary.fp, summary.fn)
            assert (row.precision_n, row.recall_n) == (summary.precision_n, summary.recall_n)
            assert row.f1 == pytest.approx(summary.f1)
            assert row.precision_ci_low == pytest.approx(summary.precision_ci_low)
    learner = timeline[timeline["annotator_id"] == "learner"]
    assert learner["recall"].round(3).tolist() == [0.5] * 4 + [1.0] * 4
    assert (learner["precision"] == 1.0).all() and (learner["recall_n"] == 48).all()
    assert (learner["n_images"] == 12).all() and (learner["mean_iou"] == 1.0).all()
    assert learner["period_start"].iloc[0] == pd.Timestamp("2026-09-07")


def test_timeline_by_month_and_an_undecided_image(careers: Path, write: Write) -> None:
    import_files(
        careers,
        "boxes",
        [write("more.csv", f"{BOXES}\nnew,steady,car,0,0,10,10,2026-09-08T10:00:00Z,production")],
    )
    with connect(careers, read_only=True) as con:
        months = box_timeline(con, period="month").set_index("annotator_id")
        steady = box_timeline(con, Filters(annotators=("steady",)))
        with pytest.raises(ValueError, match="period must be one of"):
            box_timeline(con, period="year")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="IoU threshold"):
            box_timeline(con, iou_threshold=0)
    # September holds weeks 0-3 (to Sept 30): 4 x 12 images; October the other 4 weeks
    assert months.loc["learner", "n_reference_images"].tolist() == [48, 48]
    assert steady["annotator_id"].unique().tolist() == ["steady"]
    # the image without a committee decision counts in volume, not in the scores
    first = steady.iloc[0]
    assert (first.n_images, first.n_reference_images, first.tp) == (13, 12, 48)


def test_timeline_threshold_turns_shifted_boxes_into_misses(db: Path, write: Write) -> None:
    ref = f"{REFERENCE}\nimg-0,car,0,0,100,100,2026-09-01T00:00:00Z"
    import_files(db, "reference-boxes", [write("ref.csv", ref)])
    # IoU of [30, 130] with [0, 100] on x: 70 / 130 = 0.538
    rows = f"{BOXES}\nimg-0,a,car,30,0,130,100,2026-09-07T10:00:00Z,production"
    import_files(db, "boxes", [write("boxes.csv", rows)])
    with connect(db, read_only=True) as con:
        loose = box_timeline(con, iou_threshold=0.5).iloc[0]
        strict = box_timeline(con, iou_threshold=0.6).iloc[0]
    assert (loose.tp, loose.mean_iou) == (1, pytest.approx(70 / 130))
    assert (strict.tp, strict.fp, strict.fn) == (0, 1, 1) and np.isnan(strict.mean_iou)


def test_onboarding_statuses_follow_the_careers(careers: Path) -> None:
    with connect(careers, read_only=True) as con:
        status = box_onboarding(con).set_index("annotator_id")
        strict = box_onboarding(
            con, recall_objective=1.0, precision_objective=1.0, window=12, min_boxes=48
        )
    assert set(status["status"]) <= set(STATUSES)
    assert status.loc["steady", "status"] == "aligned"
    # aligned at the 13th image (the first of week 1), when the window first holds 50
    # committee boxes (52)
    assert status.loc["steady", "since"] == pd.Timestamp(START + timedelta(weeks=1))
    # the learner's 30-image window meets recall 0.85 once at most 9 images miss two boxes
    # (recall 102 / 120): at the 21st perfect image, the 9th of week 5
    learner = status.loc["learner"]
    assert learner.status == "aligned"
    assert learner.first_aligned == pd.Timestamp(START + timedelta(weeks=5, hours=8))
    # the drifter misses half from week 5: aligned, then clearly failed
    assert status.loc["drifter", "status"] == "regressed"
    assert status.loc["drifter", "recall"] == 0.5 and status.loc["drifter", "window_n"] == 30
    assert status.loc["late", "status"] == "not_enough_data"
    assert status.loc["steady", "n_reference_images"] == 96
    # recall 1 over a 12-image window: at the learner's 12th perfect image, the last of week 4
    strict = strict.set_index("annotator_id")
    last_of_week_4 = pd.Timestamp(START + timedelta(weeks=4, hours=11))
    assert strict.loc["learner", "first_aligned"] == last_of_week_4


def test_onboarding_status_is_judged_on_the_history_up_to_until(careers: Path) -> None:
    with connect(careers, read_only=True) as con:
        full = box_onboarding(con).set_index("annotator_id")
        last_weeks = box_onboarding(con, Filters(since=date(2026, 10, 19))).set_index(
            "annotator_id"
        )
        week_5 = box_onboarding(con, Filters(until=date(2026, 10, 18))).set_index("annotator_id")
    # from week 7 on: same statuses (late, who labelled in week 0 only, is not listed)
    assert last_weeks.index.tolist() == ["drifter", "learner", "steady"]
    pd.testing.assert_frame_equal(last_weeks, full.loc[last_weeks.index])
    # to the end of week 5 the drifter's window holds 12 half-missed images of 30: recall 0.8
    # is below 0.85 but not clearly (Wilson upper bound 0.86), so still aligned (hysteresis)
    assert week_5.loc["drifter", "recall"] == pytest.approx(0.8)
    assert week_5.loc["drifter", "recall_ci_high"] > 0.85
    assert week_5.loc["drifter", "status"] == "aligned"
    assert full.loc["drifter", "status"] == "regressed"
    assert week_5.loc["steady", "n_reference_images"] == 72


def test_onboarding_refuses_a_bad_objective(careers: Path) -> None:
    with connect(careers, read_only=True) as con:
        with pytest.raises(ValueError, match="objectives are rates"):
            box_onboarding(con, recall_objective=85)
        with pytest.raises(ValueError, match="window must be a positive number"):
            box_onboarding(con, window=0)


def test_drift_controls_count_one_minus_f1(careers: Path) -> None:
    with connect(careers, read_only=True) as con:
        controls = box_weekly_controls(con)
    assert controls.labels == ["car", "dog", "person"]
    drifter = controls.annotators.index("drifter")
    car = controls.labels.index("car")
    # week 5: the drifter leaves out the second car and the dog on each of 12 images; counted
    # per side (halves): car (12 FN) / (24 given + 24 expected boxes) / 2 ...
    assert controls.x[drifter, 5].tolist() == [6, 6, 0]
    assert controls.n[drifter, 5].tolist() == [18, 6, 12]
    assert controls.x[drifter, 4, car] == 0 and controls.n[drifter, 4, car] == 24
    assert 1 - controls.x[drifter, 5, car] / controls.n[drifter, 5, car] == pytest.approx(24 / 36)


def test_drift_alerts_the_drifter_with_the_tag_rule(careers: Path) -> None:
    with connect(careers, read_only=True) as con:
        alerts = box_drift_alerts(con)
        controls = box_weekly_controls(con)
        status = box_onboarding(con)
        later = box_drift_alerts(con, Filters(since=date(2026, 10, 14)))
    # the drifter, on the car (1 - F1 = 1 - 24 / 36) and the dog (never drawn), from week 5
    assert set(alerts["scope"]) == {"annotator"} and set(alerts["annotator_id"]) == {"drifter"}
    first = alerts[alerts["week_start"] == alerts["week_start"].min()]
    assert first["week_start"].iloc[0] == pd.Timestamp(START.date() + timedelta(weeks=5))
    assert first["label"].tolist() == ["car", "dog"]
    assert first["divergence"].tolist() == pytest.approx([1 - 24 / 36, 1.0])
    assert first["errors"].tolist() == [12, 12] and first["n"].tolist() == [36, 12]
    aligned = dict(zip(status["annotator_id"], status["first_aligned"], strict=True))
    rule = alerts_from_controls(controls, DriftRule(), aligned)
    pd.testing.assert_frame_equal(
        alerts.drop(columns=["n", "errors"]), rule.drop(columns=["n", "errors"])
    )
    assert (alerts["n"] == 2 * rule["n"]).all() and (alerts["errors"] == 2 * rule["errors"]).all()
    assert (later["week_start"] >= pd.Timestamp("2026-10-12")).all()


def test_a_store_without_boxes_gives_empty_tables_with_their_columns(db: Path) -> None:
    with connect(db):
        pass
    with connect(db, read_only=True) as con:
        timeline, status = box_timeline(con), box_onboarding(con)
        alerts = box_drift_alerts(con)
    assert timeline.empty and "mean_iou_ci_high" in timeline.columns
    assert status.empty and list(status.columns[:4]) == ["annotator_id", "name", "team", "status"]
    assert alerts.empty and "divergence" in alerts.columns


def test_cli_exports_the_box_tables_over_time(
    careers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from qualitylib.cli import main

    db = str(careers)
    assert main(["export", "--db", db, "box-timeline", "--annotator", "learner"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("annotator_id,period_start,n_images,n_reference_images,tp,fp,fn")
    assert len(lines) == 1 + 8 and lines[1].startswith("learner,2026-09-07,12,12,24,0,24,")
    assert main(["export", "--db", db, "box-timeline", "--period", "month", "--iou", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + 7  # late: one month
    args = ["export", "--db", db, "box-onboarding", "--window", "12", "--recall-min", "1"]
    args += ["--min-boxes", "48"]
    assert main(args) == 0
    rows = [line.split(",") for line in capsys.readouterr().out.splitlines()[1:]]
    assert {r[0]: r[3] for r in rows} == {
        "drifter": "regressed",
        "late": "not_enough_data",
        "learner": "aligned",
        "steady": "aligned",
    }
    assert main(["export", "--db", db, "box-drift-alerts", "--since", "2026-10-19"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("scope,annotator_id,week_start,label,divergence")
    assert [line.split(",")[2] for line in out[1:]] == ["2026-10-19"] * 2 + ["2026-10-26"] * 2
    assert main(["export", "--db", db, "box-onboarding", "--recall-min", "85"]) == 1
    assert "box onboarding objective: the recall and precision" in capsys.readouterr().err
    assert main(["export", "--db", db, "box-timeline", "--iou", "0"]) == 2


def test_sizes_count_recall_by_the_committee_box_area(
    db: Path, write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    # committee: small 20x20 (400 px2), medium 40x40 (1600), large 100x100 (10000), and a
    # medium 33x33 (1089) box that the annotator draws 2 px too big (35x35, IoU 1089/1225)
    ref = f"""{REFERENCE}
    img-0,car,0,0,20,20,2026-09-01T00:00:00Z
    img-0,car,100,0,140,40,2026-09-01T00:00:00Z
    img-0,dog,200,0,300,100,2026-09-01T00:00:00Z
    img-1,dog,0,0,20,20,2026-09-01T00:00:00Z
    img-1,car,100,0,133,33,2026-09-01T00:00:00Z"""
    import_files(db, "reference-boxes", [write("ref.csv", ref)])
    rows = f"""{BOXES}
    img-0,a,car,100,0,140,40,2026-09-07T10:00:00Z,production
    img-0,a,dog,200,0,300,100,2026-09-07T10:00:00Z,production
    img-1,a,car,99,0,134,35,2026-09-07T11:00:00Z,production
    img-1,a,car,0,0,20,20,2026-09-07T11:00:00Z,production"""
    import_files(db, "boxes", [write("boxes.csv", rows)])
    with connect(db, read_only=True) as con:
        sizes = box_sizes(con).set_index("size")
    assert sizes.index.tolist() == ["small", "medium", "large"]
    # both small objects missed (the small dog drawn as a car is a wrong class: not a TP)
    assert sizes[["tp", "fn", "recall_n"]].values.tolist() == [[0, 2, 2], [2, 0, 2], [1, 0, 1]]
    assert sizes.loc["medium", "mean_iou"] == pytest.approx((1 + 1089 / 1225) / 2)
    assert np.isnan(sizes.loc["small", "mean_iou"]) and sizes.loc["small", "recall"] == 0
    from qualitylib.cli import main

    assert main(["export", "--db", str(db), "box-sizes"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "annotator_id,size,tp,fn,recall,recall_ci_low,recall_ci_high,recall_n,"
        "mean_iou,mean_iou_ci_low,mean_iou_ci_high,mean_iou_n"
    )
    assert [line.split(",")[1] for line in out[1:]] == ["small", "medium", "large"]


def test_the_tag_label_set_leaves_out_labels_only_boxes_use(build_store, write: Write) -> None:
    from qualitylib.store import label_set

    db = build_store(
        "label,is_positive\nsafe,false\nweapon,true\ncar,\nperson,",
        "item_id,label,decided_at\nt1,weapon,2026-09-01T00:00:00Z",
        "item_id,annotator_id,label,annotated_at\nt1,a,weapon,2026-09-02T10:00:00Z\n"
        "t2,a,person,2026-09-02T10:00:00Z",
    )
    with connect(db, read_only=True) as con:
        before = label_set(con)["label"].tolist()
    ref = f"{REFERENCE}\nimg-0,car,0,0,10,10,2026-09-01T00:00:00Z"
    import_files(db, "reference-boxes", [write("ref.csv", ref)])
    rows = f"{BOXES}\nimg-0,b,person,0,0,10,10,2026-09-07T10:00:00Z,production"
    import_files(db, "boxes", [write("boxes.csv", rows)])
    with connect(db, read_only=True) as con:
        after = label_set(con)["label"].tolist()
    # `car` only boxes use; `person` a tag label too
    assert before == ["safe", "weapon", "car", "person"]
    assert after == ["safe", "weapon", "person"]
