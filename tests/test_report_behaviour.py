"""The weekly report's behaviour lines on the behaviour demo (``qualitylib demo --behaviour``):
who raised which flag this week with its evidence, the trainees the sequential test decided this
week, and who got fewer control items than the planner asks; in the model, the CSV folder, the
PDF and under ``--pseudonymize``."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from qualitylib import demo_behaviour
from qualitylib.cli import main
from qualitylib.metrics.behaviour import behaviour, flag_evidence
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.gold import GoldPlan
from qualitylib.metrics.sprt import sprt_onboarding
from qualitylib.reports import build_weekly_report
from qualitylib.reports.csv import csv_files
from qualitylib.reports.weekly import WeeklyReport
from qualitylib.store import connect

WEEK, MONDAY, SUNDAY = "2026-W38", date(2026, 9, 14), date(2026, 9, 20)


@pytest.fixture(scope="module")
def model(behaviour_db: Path) -> WeeklyReport:
    with connect(behaviour_db, read_only=True) as con:
        return build_weekly_report(con, WEEK, project="behaviour")


@pytest.fixture(scope="module")
def week_rows() -> pd.DataFrame:
    """The campaign's annotations of the week as generated, with the committee's label."""
    tables = demo_behaviour.generate(seed=0)
    rows = tables["annotations"]
    at = pd.to_datetime(rows["annotated_at"]).dt.tz_localize(None)
    rows = rows[(at >= pd.Timestamp(MONDAY)) & (at < pd.Timestamp(SUNDAY) + pd.Timedelta("1D"))]
    truth = tables["reference"].set_index("item_id")["label"]
    return rows.assign(reference=rows["item_id"].map(truth))


def _text(pdf: Path) -> str:
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(pdf).pages))


def test_the_weeks_flags_name_the_personas_with_their_evidence(
    model: WeeklyReport, behaviour_db: Path
) -> None:
    raised = model.flags[["annotator_id", "flag"]].to_numpy().tolist()
    assert raised == [
        ["b07", "too_fast"],  # the fast random clicker
        ["b07", "spammer"],
        ["b08", "straight_lining"],
        ["b09", "label_mix"],
    ]  # the fast expert b10, the steady people and the trainees raise nothing
    with connect(behaviour_db, read_only=True) as con:
        expected = flag_evidence(behaviour(con, Filters(since=MONDAY, until=SUNDAY)))
    pd.testing.assert_frame_equal(model.flags, expected)
    people = model.behaviour.set_index("annotator_id")
    assert people.index.tolist() == [f"b{i:02d}" for i in range(1, 14)]
    assert people.loc["b10", "share_too_fast"] >= 0.10 and people.loc["b10", "flags"] == ""


def test_too_fast_evidence_shows_the_fast_answers_accuracy(
    model: WeeklyReport, week_rows: pd.DataFrame
) -> None:
    # Recount from the generated rows: the week's team log-median/MAD per given label.
    timed = week_rows.dropna(subset=["duration_s"])
    logs = np.log(np.maximum(timed["duration_s"], 0.05))
    by_label = logs.groupby(timed["label"])
    mad = by_label.transform(lambda s: np.median(np.abs(s - np.median(s))))
    fast = timed[logs < by_label.transform("median") - 2.5 * 1.4826 * mad]
    clicker = fast[(fast["annotator_id"] == "b07") & fast["reference"].notna()]
    n, right = len(clicker), int((clicker["label"] == clicker["reference"]).sum())
    row = model.behaviour.set_index("annotator_id").loc["b07"]
    assert (row["n_too_fast"], row["too_fast_accuracy_n"]) == (
        (fast["annotator_id"] == "b07").sum(),
        n,
    )
    assert row["too_fast_accuracy"] == pytest.approx(right / n)
    evidence = model.flags.set_index(["annotator_id", "flag"]).loc[("b07", "too_fast"), "evidence"]
    assert f"{right / n:.0%} of those right against the committee (n = {n})" in evidence


def test_trainees_decided_by_the_sequential_test_in_the_week(
    behaviour_db: Path, model: WeeklyReport
) -> None:
    with connect(behaviour_db, read_only=True) as con:
        first = build_weekly_report(con, "2026-W37")
        last = build_weekly_report(con, "2026-W39")
        everyone = sprt_onboarding(con, filters=Filters(until=SUNDAY)).set_index("annotator_id")

    def decided(report: WeeklyReport) -> list[tuple[str, str, int]]:
        table = report.sequential
        return list(zip(table.annotator_id, table.decision, table.n_to_decision, strict=True))

    # b13 is stopped early, b11 passes early, b12 (a learner) passes late; then nobody
    assert decided(first) == [("b13", "not_aligned", 42), ("b11", "aligned", 57)]
    assert decided(model) == [("b12", "aligned", 128)]
    assert decided(last) == []
    # a veteran the test also decides this week is no trainee, so not listed
    assert everyone.loc["b05", "decided_at"].date() >= MONDAY
    assert everyone.loc["b05", "decision"] == "aligned"
    row = model.sequential.iloc[0]
    assert row["expected_n"] == everyone.loc["b12", "expected_n"]


def test_gold_shortfall_counts_the_weeks_control_labels(
    behaviour_db: Path, model: WeeklyReport, week_rows: pd.DataFrame
) -> None:
    got = week_rows[week_rows["reference"].notna() & (week_rows["phase"] == "production")]
    counted = got.groupby("annotator_id").size()
    gold = model.gold.set_index("annotator_id")
    assert gold["controls_this_week"].to_dict() == counted.to_dict()  # trainees: no controls
    assert set(gold["needed_per_week"]) == {89}  # 95 % intervals 0.2 wide at the team's rates
    assert (gold["shortfall"] == 89 - gold["controls_this_week"]).all()
    with connect(behaviour_db, read_only=True) as con:
        wider = build_weekly_report(con, WEEK, plan=GoldPlan(width=0.3)).gold
    short = wider.loc[wider["shortfall"] > 0, "annotator_id"].tolist()
    need = int(wider["needed_per_week"].iloc[0])
    assert need < 89
    assert short == sorted(counted[counted < need].index)
    assert 0 < len(short) < len(wider)


def test_pdf_and_csv_carry_the_lines_and_pseudonyms_hide_the_people(
    behaviour_db: Path, model: WeeklyReport, tmp_path: Path
) -> None:
    plain, hidden = tmp_path / "plain", tmp_path / "hidden"
    db = str(behaviour_db)
    assert main(["report", "--db", db, "--week", WEEK, "--out", str(plain)]) == 0
    assert main(["report", "--db", db, "--week", WEEK, "--out", str(hidden), "--pseudonymize"]) == 0
    text = _text(plain / f"report-{WEEK}.pdf")
    for sentence in model.flags["evidence"]:
        assert sentence in text
    assert "too fast clicker b07 (b07): too fast, spammer (MACE)" in text
    assert "trainee passes late b12 (b12) aligned after 128 reference labels" in text
    assert "10 of 10 annotators got fewer than the 89 a week the plan asks" in text
    flags = pd.read_csv(plain / f"report-{WEEK}" / "behaviour_flags.csv")
    pd.testing.assert_frame_equal(flags, model.flags)
    readme = (plain / f"report-{WEEK}" / "README.txt").read_text()
    assert "undocumented" not in readme

    secret = model.pseudonymize()
    masked = _text(hidden / f"report-{WEEK}.pdf")
    files = [masked, *(p.read_text() for p in (hidden / f"report-{WEEK}").iterdir())]
    for content in files:
        assert not re.search(r"\bb\d\d\b", content)  # no annotator id, hence no name either
    for sentence in secret.flags["evidence"]:
        assert sentence in masked
    assert f"{secret.sequential['annotator_id'].iloc[0]} aligned after 128" in masked


def test_model_with_behaviour_lines_round_trips_through_json(model: WeeklyReport) -> None:
    back = WeeklyReport.from_json(model.to_json())
    for name in ("behaviour", "flags", "sequential", "gold"):
        pd.testing.assert_frame_equal(back.tables()[name], model.tables()[name], obj=name)
    assert csv_files(back) == csv_files(model)
