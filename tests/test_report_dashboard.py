"""The dashboard's Weekly report page: the same model as the CLI, offered as downloads."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from qualitylib.reports import build_weekly_report
from qualitylib.store import connect

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


@pytest.fixture
def page(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("QUALITYLIB_DB", str(demo_db))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("views/reports.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_reports_page_shows_a_weeks_numbers_and_offers_its_files(
    page: AppTest, demo_db: Path
) -> None:
    page.selectbox[0].set_value("2026-W47").run()
    page.selectbox[1].set_value("team-b").run()
    assert not page.exception, [e.value for e in page.exception]
    with connect(demo_db, read_only=True) as con:
        report = build_weekly_report(con, "2026-W47", team="team-b", project="demo.duckdb")
    shown = {m.label: m.value for m in page.metric}
    assert shown == {
        "Labels": f"{report.n_labels:,}",
        "Active annotators": f"{len(report.annotators):,}",
        "Review queue": f"{report.review_queue_size:,} items",
    }
    assert [b.label for b in page.get("download_button")] == ["CSV tables (zip)"]
    assert [b.label for b in page.button] == ["Prepare the PDF"]
    assert page.selectbox[0].options == [f"2026-W{w}" for w in range(47, 35, -1)]
