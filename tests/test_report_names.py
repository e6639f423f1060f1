"""The weekly report names people one way throughout, and the project the same in CLI and app."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from qualitylib.reports import build_weekly_report
from qualitylib.reports.pdf import pdf_bytes
from qualitylib.reports.weekly import WeeklyReport, project_name
from qualitylib.store import connect

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
WEEK = "2026-W47"


@pytest.fixture(scope="module")
def model(demo_db: Path) -> WeeklyReport:
    with connect(demo_db, read_only=True) as con:
        return build_weekly_report(con, WEEK, team="team-a", project="demo")


def _review_text(report: WeeklyReport) -> str:
    """The PDF's review-queue section as text, whitespace runs collapsed."""
    pages = PdfReader(io.BytesIO(pdf_bytes(report, pd.Timestamp("2026-11-23", tz="UTC")))).pages
    text = re.sub(r"\s+", " ", " ".join(page.extract_text() for page in pages))
    return text[text.rindex("Review queue ") :]


def _voters(report: WeeklyReport) -> set[str]:
    return {
        who
        for entries in report.review["votes"]
        for entry in entries
        for who in entry["annotators"]
    }


def test_review_queue_shows_names_like_the_rest_of_the_report(model: WeeklyReport) -> None:
    voters = _voters(model)
    assert len(model.review) > 0 and len(voters) >= 3
    shown = model.display_names()
    named = {shown[who] for who in voters}
    assert all(re.fullmatch(r".+ \(a\d\d\)", name) for name in named), named
    text = _review_text(model)
    for name in named:
        assert name in text
    for who in voters:  # every id in the section is inside its name's brackets
        assert text.count(who) == text.count(f"({who})"), who


def test_pseudonymized_review_queue_shows_the_pseudonyms(model: WeeklyReport) -> None:
    hidden = model.pseudonymize()
    text = _review_text(hidden)
    pseudonyms = _voters(hidden)
    assert pseudonyms and not pseudonyms & _voters(model)
    for name in pseudonyms:
        assert name in text
    for who in _voters(model):
        assert not re.search(rf"\b{who}\b", text)


def test_dashboard_zip_and_cli_name_the_project_alike(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[MemoryMediaFileStorage] = []

    class Recording(MemoryMediaFileStorage):
        def __init__(self, media_endpoint: str) -> None:
            super().__init__(media_endpoint)
            made.append(self)

    monkeypatch.setattr("streamlit.testing.v1.app_test.MemoryMediaFileStorage", Recording)
    monkeypatch.setenv("QUALITYLIB_DB", str(demo_db))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("views/reports.py").run()
    at.selectbox[0].set_value(WEEK).run()
    assert not at.exception, [e.value for e in at.exception]
    (button,) = at.get("download_button")
    content = made[-1].get_file(Path(button.proto.url).name).content
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        summary = pd.read_csv(archive.open(f"report-{WEEK}/summary.csv"))
    assert project_name(demo_db) == "demo"
    assert summary["project"].tolist() == ["demo"]
