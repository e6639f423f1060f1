"""Weekly reports: the model, its PDF and CSV renderings, the CLI command.

The demo store (session fixture) is reported on once per rendering; PDF text is extracted with
pypdf and must show the numbers the CSV files hold, formatted the way the PDF formats them.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from qualitylib.cli import main
from qualitylib.ingest import import_files
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.reference import annotator_summary, confusion_table
from qualitylib.metrics.team_agreement import agreement_results, agreement_table
from qualitylib.reports import build_weekly_report
from qualitylib.reports.csv import BOX_FILES, FILES, MODEL_FILES, csv_files
from qualitylib.reports.pdf import NO_LABELS, pdf_bytes
from qualitylib.reports.weekly import (
    WeeklyReport,
    iso_week,
    last_complete_week,
    parse_week,
)
from qualitylib.store import connect

WEEK = "2026-W47"
MONDAY, SUNDAY = date(2026, 11, 16), date(2026, 11, 22)
GENERATED = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def _text(pdf: Path | bytes) -> str:
    """All the PDF's text, whitespace runs collapsed to one space."""
    source = io.BytesIO(pdf) if isinstance(pdf, bytes) else pdf
    text = " ".join(page.extract_text() for page in PdfReader(source).pages)
    return re.sub(r"\s+", " ", text)


def _csv(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / name, keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def full(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CLI's report of the demo's last week, all teams."""
    out = tmp_path_factory.mktemp("report")
    assert main(["report", "--db", str(demo_db), "--week", WEEK, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def model(demo_db: Path) -> WeeklyReport:
    with connect(demo_db, read_only=True) as con:
        return build_weekly_report(con, WEEK, team="team-a", project="demo")


def test_iso_weeks() -> None:
    assert parse_week("2026-W47") == MONDAY
    assert parse_week("2026-W36") == date(2026, 8, 31)
    assert iso_week(SUNDAY) == WEEK
    assert iso_week(date(2027, 1, 1)) == "2026-W53"
    assert last_complete_week(date(2026, 11, 23)) == WEEK  # a Monday: last week just ended
    assert last_complete_week(SUNDAY) == "2026-W46"  # W47 is not over yet
    for bad in ("2026-47", "W47", "2026-W7", "2025-W53", "2026-W00"):
        with pytest.raises(ValueError, match="2026-W47|not a week"):
            parse_week(bad)


def test_cli_writes_pdf_and_every_csv(full: Path) -> None:
    folder = full / f"report-{WEEK}"
    assert (full / f"report-{WEEK}.pdf").is_file()
    files = [*FILES, *MODEL_FILES, *BOX_FILES]  # the demo holds model predictions and boxes
    names = sorted(p.name for p in folder.iterdir())
    pictures = [name for name in names if name.startswith("box-example-")]
    assert pictures and all(name.endswith(".png") for name in pictures)
    assert [name for name in names if name not in pictures] == sorted([*files, "README.txt"])
    readme = (folder / "README.txt").read_text()
    for name in files:
        for column in _csv(folder, name).columns:
            assert f"  - {column}: " in readme, (name, column)


def _pct(value: float) -> str:
    """How the report prints a rate (written out here, not the report's own formatter)."""
    return "not enough data" if np.isnan(value) else f"{value * 100:.1f} %"


def _span(low: float, high: float) -> str:
    return "" if np.isnan(low) else f"{low * 100:.1f} to {high * 100:.1f} %"


def test_pdf_shows_the_week_the_annotators_and_the_csv_numbers(full: Path) -> None:
    text = _text(full / f"report-{WEEK}.pdf")
    folder = full / f"report-{WEEK}"
    assert f"Weekly quality report {WEEK}" in text
    assert "page 1 of" in text
    people = _csv(folder, "annotators.csv")
    assert len(people) >= 10
    for row in people.itertuples():
        assert f"{row.name} ({row.annotator_id})" in text
        assert _pct(row.accuracy) in text
        assert _span(row.accuracy_ci_low, row.accuracy_ci_high) in text
        assert _span(row.tpr_ci_low, row.tpr_ci_high) in text
    team = _csv(folder, "team_weeks.csv")
    for row in team.itertuples():
        assert f"{row.week} {_pct(row.accuracy)} " in text
    agreement = _csv(folder, "agreement.csv").set_index("metric")
    assert f"Gwet's AC1 {agreement.loc['gwet_ac1', 'value']:.2f}" in text
    summary = _csv(folder, "summary.csv").iloc[0]
    assert f"{int(summary['n_labels']):,} labels by {len(people)} annotators" in text
    assert f"{int(summary['review_queue_size']):,} items" in text
    assert f"Policy version in force {summary['policy_in_force']}" in text
    if agreement["prevalence_paradox"].any():
        assert "prevalence paradox" in text


def test_csv_numbers_equal_the_python_api(full: Path, demo_db: Path) -> None:
    folder = full / f"report-{WEEK}"
    week = Filters(since=MONDAY, until=SUNDAY)
    with connect(demo_db, read_only=True) as con:
        summary = annotator_summary(con, week).set_index("annotator_id")
        coefficients = agreement_table(agreement_results(con, week)).set_index("metric")
        control = confusion_table(con, Filters(since=MONDAY, until=SUNDAY, phases=("production",)))
    people = _csv(folder, "annotators.csv").set_index("annotator_id")
    expected = summary.loc[people.index]
    for column in ("accuracy", "accuracy_ci_low", "tpr", "tpr_ci_high", "fpr", "kappa"):
        np.testing.assert_array_equal(people[column], expected[column], err_msg=column)
    np.testing.assert_array_equal(people["n_reference"], expected["n_reference"])
    agreement = _csv(folder, "agreement.csv").set_index("metric")
    np.testing.assert_array_equal(agreement["value"], coefficients.loc[agreement.index, "value"])
    # Team agreement this week: the annotators' pooled production control labels.
    correct = control.loc[control["reference_label"] == control["label"], "n"].sum()
    this_week = _csv(folder, "team_weeks.csv").iloc[-1]
    assert this_week["accuracy_n"] == control["n"].sum()
    assert this_week["accuracy"] == pytest.approx(correct / control["n"].sum(), rel=1e-12)


def test_model_round_trips_through_json(model: WeeklyReport) -> None:
    back = WeeklyReport.from_json(model.to_json())
    assert (back.week, back.team, back.n_labels, back.labels) == (
        model.week,
        model.team,
        model.n_labels,
        model.labels,
    )
    assert back.review_queue_size == model.review_queue_size > 0
    for name, table in model.tables().items():
        # team-a's last week: no one flagged or decided (tests/test_report_behaviour.py has them)
        boxes_absent = name.startswith("box_") and not model.has_boxes  # a store of tags
        allowed_empty = ("alerts", "stale", "flags", "sequential", "models", "model_queue")
        assert len(table) or name in allowed_empty or boxes_absent, name
        pd.testing.assert_frame_equal(back.tables()[name], table, obj=name)
    assert csv_files(back) == csv_files(model)


def test_every_model_column_reaches_its_csv_described(model: WeeklyReport) -> None:
    files = csv_files(model)
    notes = files["README.txt"].decode()
    assert not any(name.startswith("box") for name in files)  # no boxes in this store
    for name, (table, _, _) in FILES.items():
        header = files[name].decode().splitlines()[0].split(",")
        if table:
            expected = [c if c != "votes" else "labels" for c in getattr(model, table).columns]
            assert header == expected, name
        assert all(f"  - {column}: " in notes for column in header), name
    assert "undocumented" not in notes
    # A metric column added to a table reaches the CSV (and README.txt says it lacks a text).
    grown = replace(model, annotators=model.annotators.assign(precision=0.5, precision_n=2))
    header = csv_files(grown)["annotators.csv"].decode().splitlines()[0].split(",")
    assert header[-2:] == ["precision", "precision_n"]
    assert "  - precision: undocumented" in csv_files(grown)["README.txt"].decode()


def test_csv_bytes_are_deterministic(model: WeeklyReport, demo_db: Path) -> None:
    with connect(demo_db, read_only=True) as con:
        again = build_weekly_report(con, WEEK, team="team-a", project="demo")
    assert csv_files(again) == csv_files(model)


def test_pseudonymized_report_names_nobody(model: WeeklyReport) -> None:
    hidden = model.pseudonymize()
    pdf = pdf_bytes(hidden, GENERATED)
    assert pdf == pdf_bytes(hidden, GENERATED)  # invariant mode: same bytes
    text = _text(pdf)
    assert "generated 2026-11-23 07:00 UTC" in text
    contents = [text, *(c.decode() for c in csv_files(hidden).values())]
    real = model.people[["annotator_id", "name"]].to_numpy().ravel()
    for secret in real:
        for content in contents:
            assert not re.search(rf"\b{re.escape(secret)}\b", content), secret
    for shown in hidden.annotators["annotator_id"]:
        assert shown in text


def test_empty_week_says_so(demo_db: Path, tmp_path: Path) -> None:
    assert main(["report", "--db", str(demo_db), "--week", "2026-W10", "--out", str(tmp_path)]) == 0
    assert f"{NO_LABELS} (2026-W10)" in _text(tmp_path / "report-2026-W10.pdf")
    folder = tmp_path / "report-2026-W10"
    assert _csv(folder, "summary.csv")["n_labels"].tolist() == [0]
    assert _csv(folder, "annotators.csv").empty
    assert len(list(folder.glob("*.csv"))) == len(FILES) + len(MODEL_FILES)  # demo has a model


def test_formula_names_are_neutralised(db: Path, write) -> None:
    evil = '=HYPERLINK("http://x")'
    people = write(
        "people.csv",
        f"""annotator_id,name,team,role
        "{evil.replace('"', '""')}","@SUM(A1)",t,annotator
        bob,Bob,t,annotator""",
    )
    reference = write("ref.csv", "item_id,label,decided_at\na,safe,2026-11-01\nb,nudity,2026-11-01")
    labels = write(
        "labels.csv",
        f"""item_id,annotator_id,label,annotated_at
        a,"{evil.replace('"', '""')}",nudity,2026-11-17T10:00:00Z
        b,"{evil.replace('"', '""')}",nudity,2026-11-17T10:05:00Z
        a,bob,safe,2026-11-17T11:00:00Z
        b,bob,safe,2026-11-17T11:05:00Z""",
    )
    import_files(db, "annotators", [people])
    import_files(db, "reference", [reference])
    import_files(db, "annotations", [labels])
    with connect(db, read_only=True) as con:
        report = build_weekly_report(con, WEEK)
    files = {n: c.decode() for n, c in csv_files(report).items() if n.endswith(".csv")}
    for name, content in files.items():
        for cell in pd.read_csv(io.StringIO(content), dtype=str).to_numpy().ravel():
            assert not (isinstance(cell, str) and cell[:1] in "=+-@" and not _number(cell)), (
                name,
                cell,
            )
    assert "'=HYPERLINK" in files["annotators.csv"] and "'@SUM(A1)" in files["annotators.csv"]
    assert "@SUM(A1) (=HYPERLINK" in _text(pdf_bytes(report, GENERATED))


def _number(cell: str) -> bool:
    """True for a numeric cell such as -0.25 (a sign, not a formula)."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_cli_errors_are_one_line(demo_db: Path, tmp_path: Path, capsys) -> None:
    assert main(["report", "--db", str(demo_db), "--week", "2026-47"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["report", "--db", str(demo_db), "--week", "2026-W47", "--team", "x"]) == 1
    assert "no team named 'x'" in capsys.readouterr().err
    assert main(["report", "--db", str(tmp_path / "none.duckdb"), "--week", WEEK]) == 1
    assert "no store" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
