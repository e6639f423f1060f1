"""Control-item drift: weekly divergence from the store, the CUSUM rule on hand-made counts,
and the demo personas (the drifter is found, steady experts are not)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qualitylib.ingest import import_files
from qualitylib.metrics.drift import (
    DriftRule,
    WeeklyControls,
    alerts_from_controls,
    drift_alerts,
    last_day,
    only_aligned,
    open_alerts,
    weekly_divergence,
)
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.onboarding import onboarding_status
from qualitylib.store import connect

LABELS = "label,is_positive\nsafe,false\nnudity,true\n"
REFERENCE = """
item_id,label,decided_at
r1,safe,2026-08-01
r2,nudity,2026-08-01
"""
# Production labels on control items over two ISO weeks; a training label is ignored.
ANNOTATIONS = """
item_id,annotator_id,label,annotated_at,phase
r1,ann,safe,2026-09-07T09:00:00Z,production
r2,ann,safe,2026-09-07T10:00:00Z,production
r2,bob,nudity,2026-09-08T10:00:00Z,production
r1,bob,nudity,2026-09-08T11:00:00Z,production
r2,ann,safe,2026-09-14T10:00:00Z,production
r1,ann,safe,2026-09-15T10:00:00Z,production
r2,bob,safe,2026-09-15T10:00:00Z,training
p1,bob,safe,2026-09-15T10:00:00Z,production
"""


@pytest.fixture
def store(build_store) -> Path:
    return build_store(LABELS, REFERENCE, ANNOTATIONS)


def test_weekly_divergence_per_annotator_and_team(store: Path) -> None:
    with connect(store, read_only=True) as con:
        table = weekly_divergence(con)
        by_class = weekly_divergence(con, by_class=True)
    rows = table[["scope", "annotator_id", "week_start", "errors", "divergence_n"]]
    assert rows.values.tolist() == [
        ["annotator", "ann", pd.Timestamp("2026-09-07"), 1, 2],
        ["annotator", "ann", pd.Timestamp("2026-09-14"), 1, 2],
        ["annotator", "bob", pd.Timestamp("2026-09-07"), 1, 2],
        ["team", None, pd.Timestamp("2026-09-07"), 2, 4],
        ["team", None, pd.Timestamp("2026-09-14"), 1, 2],
    ]
    ann_second = table.iloc[1]
    assert ann_second["divergence"] == 0.5 and ann_second["own_baseline"] == 0.5
    assert np.isnan(ann_second["rest_of_team"])  # bob has no control labels that week
    assert table.iloc[0]["rest_of_team"] == 0.5 and np.isnan(table.iloc[0]["own_baseline"])
    ann_nudity = by_class[(by_class["annotator_id"] == "ann") & (by_class["label"] == "nudity")]
    assert ann_nudity["divergence"].tolist() == [1.0, 1.0]  # ann calls r2 safe twice
    bob_safe = by_class[(by_class["annotator_id"] == "bob") & (by_class["label"] == "safe")]
    assert bob_safe[["errors", "divergence_n"]].values.tolist() == [[1, 1]]


def _controls(x: np.ndarray, n: np.ndarray) -> WeeklyControls:
    weeks = np.datetime64("2026-09-07") + 7 * np.arange(x.shape[1])
    people = [f"p{i}" for i in range(x.shape[0])]
    return WeeklyControls(people, weeks.astype("datetime64[D]"), ["safe", "nudity"], x, n)


def _steady(n_people: int = 8, n_weeks: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Every week 40 safe controls with 1 error and 10 nudity controls with 1 error."""
    x = np.tile(np.array([1, 1]), (n_people, n_weeks, 1))
    n = np.tile(np.array([40, 10]), (n_people, n_weeks, 1))
    return x, n


def test_steady_counts_raise_no_alert() -> None:
    x, n = _steady()
    assert alerts_from_controls(_controls(x, n)).empty


def test_one_person_jumping_on_one_class_is_an_individual_alert() -> None:
    x, n = _steady()
    x[3, 5:, 1] = 8  # p3 misses 8 of 10 nudity controls from week 6 on
    rule = DriftRule()
    alerts = alerts_from_controls(_controls(x, n), rule)
    first = alerts.iloc[0]
    assert (first["scope"], first["annotator_id"], first["label"]) == ("annotator", "p3", "nudity")
    assert first["week_start"] == pd.Timestamp("2026-10-12")  # the first drifting week
    assert (first["errors"], first["n"], first["divergence"]) == (8, 10, 0.8)
    # a one-week excursion: the statistic is that week's log-likelihood ratio
    expected = 8 * np.log(rule.odds_ratio) - 10 * np.log1p(
        (rule.odds_ratio - 1) * first["baseline"]
    )
    assert first["cusum"] == pytest.approx(expected)
    assert set(alerts["scope"]) == {"annotator"}  # one drifter is not team drift
    assert set(alerts["annotator_id"]) == {"p3"}


def test_whole_team_shift_is_a_team_alert_not_individual_ones() -> None:
    x, n = _steady()
    x[:, 5:, 1] = 3  # everybody misses 3 of 10 nudity controls from week 6 on
    alerts = alerts_from_controls(_controls(x, n))
    assert set(alerts["scope"]) == {"team"}
    first = alerts.iloc[0]
    assert first["annotator_id"] is None and first["label"] == "nudity"
    assert first["week_start"] == pd.Timestamp("2026-10-19")  # the second week of the shift
    assert (first["errors"], first["n"]) == (24, 80)


def test_rule_validates_parameters() -> None:
    with pytest.raises(ValueError, match="odds ratios must be > 1"):
        DriftRule(odds_ratio=1.0)
    with pytest.raises(ValueError, match="burn_in_weeks"):
        DriftRule(burn_in_weeks=0)


def test_empty_store_gives_empty_alert_table(db: Path, write) -> None:
    import_files(db, "labels", [write("labels.csv", LABELS)])
    with connect(db) as con:
        alerts = drift_alerts(con)
    assert alerts.empty and {"annotator_id", "week_start", "label", "n"} <= set(alerts.columns)


def _personas(con) -> pd.DataFrame:  # noqa: ANN001
    return con.execute(
        "SELECT annotator_id, persona, drift_start, drift_label FROM demo_personas"
    ).df()


def test_demo_drifter_is_alerted_on_its_class_and_no_expert_is(personas_db: Path) -> None:
    with connect(personas_db, read_only=True) as con:
        alerts = drift_alerts(con)
        personas = _personas(con)
    drifter = personas[personas["persona"] == "drifter"].iloc[0]
    start = pd.Timestamp(drifter["drift_start"]).tz_localize(None)
    mine = alerts[alerts["annotator_id"] == drifter["annotator_id"]]
    assert len(mine) and set(mine["label"]) == {drifter["drift_label"]}
    assert mine["week_start"].min() >= start  # nothing before the drift
    # Issue 4: alerted within two weeks of the drift's start. On this seed the first alert is
    # in the second drifting week; over 20 seeds the drifter is alerted by the end of its
    # second drifting week in 75 % of campaigns (benchmarks/false_alarms.py --team personas).
    assert (mine["week_start"].min() - start).days <= 14
    experts = set(personas.loc[personas["persona"] == "expert", "annotator_id"])
    assert experts.isdisjoint(set(alerts["annotator_id"].dropna()))
    assert not (alerts["scope"] == "team").any()  # individuals, not the team, diverge


def test_cli_exports_the_new_tables(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qualitylib.cli import main

    assert main(["export", "--db", str(store), "drift-alerts"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split(",")
    assert {"annotator_id", "week_start", "label", "divergence", "baseline", "n"} <= set(header)
    assert main(["export", "--db", str(store), "timeline", "--period", "month"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("annotator_id,period_start,n_labels") and len(lines) == 3
    assert lines[1].startswith("ann,2026-09-01,")
    options = ["--tpr-min", "0.5", "--fpr-max", "0.5", "--window", "2"]
    # a window of 2 cannot hold 20 positives and 20 negatives: a one-line error
    assert main(["export", "--db", str(store), "onboarding", *options]) == 1
    assert "can never hold" in capsys.readouterr().err
    small = ["--min-positives", "1", "--min-negatives", "1"]
    assert main(["export", "--db", str(store), "onboarding", *options, *small]) == 0
    rows = capsys.readouterr().out.splitlines()
    # every 2-label window of ann misses r2; every one of bob's flags r1 or misses r2
    assert rows[0].startswith("annotator_id,name,team,status,since")
    assert [row.split(",")[3] for row in rows[1:]] == ["in_training", "in_training"]
    assert main(["export", "--db", str(store), "review-queue"]) == 0
    assert capsys.readouterr().out.startswith("item_id,uri,n_labels")


def test_drift_is_only_for_people_once_aligned() -> None:
    x, n = _steady()
    x[3, 5:, 1] = 8  # p3 misses 8 of 10 nudity controls from week 6 on
    everyone = {f"p{i}": pd.Timestamp("2026-09-07 10:00") for i in range(8)}
    assert set(alerts_from_controls(_controls(x, n), aligned_at=everyone)["annotator_id"]) == {"p3"}
    trainee = everyone | {"p3": pd.NaT}  # never aligned: a matter for onboarding
    assert alerts_from_controls(_controls(x, n), aligned_at=trainee).empty
    # aligned in week 3: monitored from then, so weeks 3-4 are its burn-in and 6 alerts
    late = everyone | {"p3": pd.Timestamp("2026-09-23 12:00")}
    alerts = alerts_from_controls(_controls(x, n), aligned_at=late)
    assert alerts["week_start"].min() == pd.Timestamp("2026-10-12")
    masked = only_aligned(_controls(x, n), late)
    assert masked.n[3, :2].sum() == 0 and (masked.n[3, 2:] == n[3, 2:]).all()


def test_demo_trainees_never_aligned_raise_no_drift_alert(personas_db: Path) -> None:
    with connect(personas_db, read_only=True) as con:
        alerts = drift_alerts(con)
        status = onboarding_status(con).set_index("annotator_id")
        personas = _personas(con).set_index("annotator_id")
    clicker = personas.index[personas["persona"] == "random"][0]
    assert pd.isna(status.loc[clicker, "first_aligned"])  # never aligned
    people = alerts[alerts["scope"] == "annotator"]
    assert len(people) and clicker not in set(people["annotator_id"])
    first_aligned = status.loc[people["annotator_id"], "first_aligned"].to_numpy()
    week_end = (people["week_start"] + pd.Timedelta(days=7)).to_numpy()
    assert (first_aligned < week_end).all()  # each alert follows its person's alignment


def test_alerts_are_facts_of_the_history_and_open_alerts_one_per_person_and_class(
    personas_db: Path,
) -> None:
    with connect(personas_db, read_only=True) as con:
        day = last_day(con)
        every = drift_alerts(con)
        window = drift_alerts(con, filters=Filters(since=date(2026, 11, 1)))
    assert day == date(2026, 11, 20)
    # a later start only selects alert weeks: the same alerts from the week of 1 Nov (a Sunday)
    same = every[every["week_start"] >= pd.Timestamp("2026-10-26")].reset_index(drop=True)
    pd.testing.assert_frame_equal(window, same)
    opened = open_alerts(every, day)
    recent = every[every["week_start"] >= pd.Timestamp("2026-11-09")]
    pairs = recent.groupby(["scope", "annotator_id", "label"], dropna=False).size()
    assert len(opened) == len(pairs) and opened["alert_weeks"].sum() == len(recent)
    assert open_alerts(every, date(2026, 12, 31)).empty  # nothing raised that week or before
