"""One number, four places: for several weeks and teams of the demo store, each headline
number (team agreement, open alerts, in training, review queue size, raters, pairwise kappa)
is the same in the dashboard's data layer (and, printed, on its Overview page), the weekly
report model (and its PDF), its CSV bundle and the CLI export."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader
from streamlit.testing.v1 import AppTest

from dashboard import data
from qualitylib.cli import main
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.onboarding import Objective
from qualitylib.reports import build_weekly_report
from qualitylib.reports.csv import csv_files
from qualitylib.reports.pdf import pdf_bytes
from qualitylib.reports.weekly import parse_week
from qualitylib.store import connect

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
# (ISO week, team): the demo's last week (2026-W47) for everyone and each team, two earlier.
GENERATED = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
CASES = [("2026-W47", None), ("2026-W47", "team-a"), ("2026-W46", "team-b"), ("2026-W44", None)]


def _filters(week: str, team: str | None) -> Filters:
    monday = parse_week(week)
    return Filters(since=monday, until=monday + timedelta(days=6), teams=(team,) if team else ())


def _csv(files: dict[str, bytes], name: str) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(files[name]))


def _cli(db: Path, table: str, week: str, team: str | None) -> pd.DataFrame:
    monday = parse_week(week)
    argv = ["export", "--db", str(db), table, "--since", str(monday)]
    argv += ["--until", str(monday + timedelta(days=6))] + (["--team", team] if team else [])
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(argv) == 0
    return pd.read_csv(io.StringIO(out.getvalue()))


def _kappas(frame: pd.DataFrame) -> pd.Series:
    return frame.set_index(["annotator_a", "annotator_b"])["kappa"].sort_index()


@pytest.mark.parametrize(("week", "team"), CASES)
def test_headline_numbers_agree_everywhere(demo_db: Path, week: str, team: str | None) -> None:
    filters = _filters(week, team)
    store = data.Store(str(demo_db), data.store_version(str(demo_db)))
    board = data.headlines(store, filters, Objective())
    board_agreement, _ = data.team_agreement(store, filters)
    board_pairs = data.pairs(store, filters)
    with connect(demo_db, read_only=True) as con:
        report = build_weekly_report(con, week, team=team)
    files = csv_files(report)
    summary = _csv(files, "summary.csv").iloc[0]
    cli = _cli(demo_db, "headlines", week, team).iloc[0]

    # Team agreement this week: the team's pooled production control labels.
    agreement = board.week["accuracy"].iloc[0]
    assert 0.5 < agreement < 1
    assert report.team_weeks["accuracy"].iloc[-1] == agreement
    assert _csv(files, "team_weeks.csv")["accuracy"].iloc[-1] == agreement
    assert cli["team_agreement"] == agreement
    n = int(board.week["accuracy_n"].iloc[0])
    assert report.team_weeks["accuracy_n"].iloc[-1] == n == cli["team_agreement_n"]

    # Open drift alerts, in training, the review queue: counted once.
    open_alerts = len(board.alerts)
    assert len(report.alerts) == open_alerts == summary["n_open_alerts"] == cli["open_alerts"]
    assert len(_csv(files, "drift_alerts.csv")) == open_alerts
    training = sorted(board.in_training)
    in_report = report.onboarding.loc[report.onboarding["status"] == "in_training"]
    assert sorted(in_report["annotator_id"]) == training
    assert summary["n_in_training"] == len(training) == cli["in_training"]
    size = board.review_queue_size
    assert size > 0 and report.review_queue_size == size == summary["review_queue_size"]
    assert cli["review_queue_size"] == size == len(_cli(demo_db, "review-queue", week, team))

    # Raters: the annotators of the pair table, in every coefficient.
    raters = len(set(board_pairs["annotator_a"]) | set(board_pairs["annotator_b"]))
    assert set(board_agreement["n_raters"]) == {raters} == set(report.agreement["n_raters"])
    assert summary["n_raters"] == raters == cli["raters"] == board.raters
    assert set(_cli(demo_db, "agreement", week, team)["n_raters"]) == {raters}

    # Every pair's kappa.
    kappas = _kappas(board_pairs)
    assert len(kappas) > 10
    pd.testing.assert_series_equal(_kappas(report.pairs), kappas)
    pd.testing.assert_series_equal(_kappas(_csv(files, "pairwise_kappa.csv")), kappas)
    pd.testing.assert_series_equal(_kappas(_cli(demo_db, "pairwise-kappa", week, team)), kappas)


def test_the_pdf_prints_the_same_digits(demo_db: Path) -> None:
    week, team = CASES[1]
    store = data.Store(str(demo_db), data.store_version(str(demo_db)))
    board = data.headlines(store, _filters(week, team), Objective())
    with connect(demo_db, read_only=True) as con:
        report = build_weekly_report(con, week, team=team)
    text = " ".join(
        page.extract_text() for page in PdfReader(io.BytesIO(pdf_bytes(report, GENERATED))).pages
    )
    text = " ".join(text.split())
    low, high = board.week["accuracy_ci_low"].iloc[0], board.week["accuracy_ci_high"].iloc[0]
    agreement = board.week["accuracy"].iloc[0]
    # Written out here, not with the report's formatter: one decimal of a percentage.
    assert f"{agreement * 100:.1f} % (95 % CI {low * 100:.1f} to {high * 100:.1f} %" in text
    assert f"{board.review_queue_size:,} items annotators split on" in text
    assert f"{len(board.alerts):,} open (annotator x class) on" in text
    pairs = data.pairs(store, _filters(week, team)).dropna(subset=["kappa"])
    lowest = pairs.sort_values(["kappa", "n_items"], ascending=[True, False]).iloc[0]
    assert f"{lowest['kappa']:.2f} " in text and not np.isnan(lowest["kappa"])


def test_the_overview_prints_the_same_digits(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    week, team = CASES[1]
    filters = _filters(week, team)
    monkeypatch.setenv("QUALITYLIB_DB", str(demo_db))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    # The date picker stops at the last labelled day (Friday 20 November): the same labels.
    last = at.session_state["f_dates"][1]
    at.session_state["f_dates"] = (filters.since, min(filters.until, last))
    at.session_state["f_teams"] = [team]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    with connect(demo_db, read_only=True) as con:
        report = build_weekly_report(con, week, team=team)
    metrics = {m.label: m.value for m in at.metric}
    agreement = report.team_weeks["accuracy"].iloc[-1]
    # Written out here, not with the dashboard's formatter.
    assert metrics["Team agreement"] == f"{agreement * 100:.1f} %"
    assert metrics["Open drift alerts"] == f"{len(report.alerts):,}"
    in_training = int((report.onboarding["status"] == "in_training").sum())
    assert metrics["In training"] == f"{in_training:,}"
    assert metrics["Review queue"] == f"{report.review_queue_size:,}"
