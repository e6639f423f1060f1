"""Timelines and learning curves on a hand-made store: exact counts, Mondays, tenure bins."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qualitylib.ingest import import_files
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.timeline import learning_curve, timeline
from qualitylib.store import connect

LABELS = """
label,is_positive
safe,false
nudity,true
weapons,true
"""

REFERENCE = """
item_id,label,decided_at,policy_version
r1,safe,2026-08-01,v1
r2,nudity,2026-08-01,v1
r3,weapons,2026-08-01,v1
r4,safe,2026-08-01,v1
"""

# alice: week of Mon 2026-09-07: r1 right, r2 missed (safe), r3 right, p1 (not reference);
#        week of Mon 2026-09-14 (Sunday 09-20 included): r4 flagged nudity, r2 right.
# bob:   Tuesday 2026-09-08: r1 right, r2 right.
ANNOTATIONS = """
item_id,annotator_id,label,annotated_at
r1,alice,safe,2026-09-07T09:00:00Z
r2,alice,safe,2026-09-08T09:00:00Z
r3,alice,weapons,2026-09-09T09:00:00Z
p1,alice,nudity,2026-09-10T09:00:00Z
r4,alice,nudity,2026-09-14T09:00:00Z
r2,alice,nudity,2026-09-20T23:00:00Z
r1,bob,safe,2026-09-08T10:00:00Z
r2,bob,nudity,2026-09-08T11:00:00Z
"""


@pytest.fixture
def store(build_store) -> Path:
    return build_store(LABELS, REFERENCE, ANNOTATIONS)


def test_weekly_rows_counts_and_rates(store: Path) -> None:
    with connect(store, read_only=True) as con:
        table = timeline(con)
    assert table[["annotator_id", "period_start", "n_labels", "n_reference"]].values.tolist() == [
        ["alice", pd.Timestamp("2026-09-07"), 4, 3],
        ["alice", pd.Timestamp("2026-09-14"), 2, 2],
        ["bob", pd.Timestamp("2026-09-07"), 2, 2],
    ]
    first = table.iloc[0]
    assert first["accuracy"] == pytest.approx(2 / 3) and first["accuracy_n"] == 3
    assert first["tpr"] == pytest.approx(1 / 2) and first["tpr_n"] == 2  # r2 missed, r3 found
    assert first["fpr"] == 0 and first["fpr_n"] == 1
    assert first["tpr_nudity"] == 0 and first["tpr_weapons"] == 1
    second = table.iloc[1]
    assert second["fpr"] == 1 and second["tpr"] == 1 and second["accuracy"] == pytest.approx(0.5)
    assert np.isnan(second["tpr_weapons"]) and second["tpr_weapons_n"] == 0
    assert first["accuracy_ci_low"] < first["accuracy"] < first["accuracy_ci_high"]


def test_periods_day_and_month(store: Path) -> None:
    with connect(store, read_only=True) as con:
        days = timeline(con, period="day")
        months = timeline(con, period="month")
        with pytest.raises(ValueError, match="period must be one of"):
            timeline(con, period="year")  # type: ignore[arg-type]
    assert len(days) == 7 and days["n_labels"].sum() == 8
    assert months[["annotator_id", "period_start", "n_labels"]].values.tolist() == [
        ["alice", pd.Timestamp("2026-09-01"), 6],
        ["bob", pd.Timestamp("2026-09-01"), 2],
    ]


def test_period_without_reference_labels_has_nan_rates(db: Path, write) -> None:
    import_files(db, "labels", [write("labels.csv", LABELS)])
    import_files(db, "reference", [write("reference.csv", REFERENCE)])
    import_files(
        db,
        "annotations",
        [write("a.csv", "item_id,annotator_id,label,annotated_at\np9,cem,safe,2026-09-07")],
    )
    with connect(db, read_only=True) as con:
        row = timeline(con).iloc[0]
    assert row["n_labels"] == 1 and row["n_reference"] == 0 and row["accuracy_n"] == 0
    assert np.isnan(row["accuracy"]) and np.isnan(row["accuracy_ci_low"])


def test_learning_curve_bins_by_tenure(store: Path) -> None:
    with connect(store, read_only=True) as con:
        curve = learning_curve(con, bin_size=2)
        later = learning_curve(con, Filters(since=date(2026, 9, 14)), bin_size=2)
        with pytest.raises(ValueError, match="bin_size"):
            learning_curve(con, bin_size=0)
    alice = curve[curve["annotator_id"] == "alice"]
    # alice's reference labels in time order: r1 ok, r2 miss | r3 ok, r4 false flag | r2 ok
    assert alice["tenure_bin"].tolist() == [0, 1, 2]
    assert alice["tenure_start"].tolist() == [1, 3, 5]
    assert alice["tenure_end"].tolist() == [2, 4, 5]
    assert alice["accuracy"].tolist() == pytest.approx([0.5, 0.5, 1.0])
    assert alice["n_reference"].tolist() == [2, 2, 1]
    # tenure is counted over the whole log: a later window keeps alice's bin numbers
    assert later["tenure_bin"].tolist() == [1, 2] and later["n_reference"].tolist() == [1, 1]


def test_breakdown_by_item_metadata(db: Path, write) -> None:
    from qualitylib.metrics.slices import breakdown, slice_values

    import_files(db, "labels", [write("labels.csv", LABELS)])
    items = "item_id,source\nr1,net-a\nr2,net-b\nr3,net-a\nr4,net-a\np1,net-b\n"
    import_files(db, "items", [write("items.csv", items)])
    import_files(db, "reference", [write("reference.csv", REFERENCE)])
    import_files(db, "annotations", [write("annotations.csv", ANNOTATIONS)])
    with connect(db, read_only=True) as con:
        values = slice_values(con, None, "source")
        table = breakdown(con, None, timeline, "source", period="month")
    assert values.values.tolist() == [["net-a", 3, 4], ["net-b", 2, 4]]
    assert table[["slice", "annotator_id", "n_labels", "n_reference"]].values.tolist() == [
        ["net-a", "alice", 3, 3],
        ["net-a", "bob", 1, 1],
        ["net-b", "alice", 3, 2],
        ["net-b", "bob", 1, 1],
    ]
