"""The weekly report's boxes section on the small box store (tests/box_store.py): the library's
numbers, every column described, example overlays unless --no-images, pseudonyms everywhere."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from pypdf import PdfReader

from qualitylib.cli import main
from qualitylib.metrics.boxes import box_summary
from qualitylib.metrics.filters import Filters
from qualitylib.pseudonyms import pseudonym
from qualitylib.reports.csv import BOX_FILES, csv_files
from qualitylib.reports.pdf import pdf_bytes
from qualitylib.reports.weekly import WeeklyReport, box_names, build_weekly_report
from qualitylib.store import connect

WEEK = "2026-W38"  # 14 to 20 September: img-3 and img-4, and the gold-free batch
GENERATED = pd.Timestamp("2026-09-21 07:00", tz="UTC")
SECRETS = ("Ann Able", "Bob Broad", "Cy Cross", "ann", "bob", "cy")


@pytest.fixture(scope="module")
def report(box_db: Path) -> WeeklyReport:
    with connect(box_db, read_only=True) as con:
        return build_weekly_report(con, WEEK, project="boxes")


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_boxes_section_holds_the_library_numbers(report: WeeklyReport, box_db: Path) -> None:
    assert report.has_boxes and report.n_labels == 0 and not report.empty
    assert report.n_box_images == 2 * 3 + 3 * 5
    with connect(box_db, read_only=True) as con:
        week = box_summary(con, Filters(since=date(2026, 9, 14), until=date(2026, 9, 20)))
        before = box_summary(con, Filters(since=date(2026, 8, 17), until=date(2026, 9, 13)))
    people = report.box_people.set_index("annotator_id")
    for column in ("precision", "recall", "mean_iou", "precision_n"):
        assert people.loc["bob", column] == week.set_index("annotator_id").loc["bob", column]
    assert (
        people.loc["bob", "recall_previous"]
        == before.set_index("annotator_id").loc["bob", "recall"]
    )
    team = report.box_team_weeks.set_index("week")
    assert len(team) == 5 and team.loc[WEEK, "tp"] == week["tp"].sum()
    assert team.loc["2026-W36", "precision_n"] == 0 and pd.isna(team.loc["2026-W36", "precision"])
    errors = report.box_errors.groupby(["annotator_id", "error"])["n"].sum().to_dict()
    assert errors == {("bob", "missed"): 2, ("cy", "wrong_class"): 2}
    # examples: the latest image with errors of the two people with the most errors
    assert report.box_examples[["annotator_id", "item_id"]].values.tolist() == [
        ["cy", "img-4"],
        ["bob", "img-4"],
    ]
    back = WeeklyReport.from_json(report.to_json())
    for name, table in report.tables().items():
        pd.testing.assert_frame_equal(back.tables()[name], table, obj=name)


def test_every_box_column_is_described_and_the_examples_drawn(report: WeeklyReport) -> None:
    files = csv_files(report)
    notes = files["README.txt"].decode()
    for name, (table, _, _) in BOX_FILES.items():
        header = files[name].decode().splitlines()[0].split(",")
        assert header == list(getattr(report, table).columns), name
    assert "undocumented" not in notes
    pictures = [Image.open(io.BytesIO(files[f"box-example-{n}.png"])) for n in (1, 2)]
    assert [p.size for p in pictures] == [(640, 506), (640, 506)]
    assert "box-example-3.png" not in files
    text = _text(pdf_bytes(report, GENERATED))
    assert "Boxes" in text and "Cy Cross (cy)" in text
    assert "img-4: Bob Broad (bob)'s boxes" in text
    assert "5 more boxed only images without the committee's boxes" in text


def test_no_images_leaves_the_pictures_out(box_db: Path, tmp_path: Path) -> None:
    args = ["report", "--db", str(box_db), "--week", WEEK, "--out", str(tmp_path)]
    assert main([*args, "--no-images"]) == 0
    folder = tmp_path / f"report-{WEEK}"
    assert not list(folder.glob("*.png")) and (folder / "box_examples.csv").exists()
    assert "Examples: images with errors" not in _text(
        (tmp_path / f"report-{WEEK}.pdf").read_bytes()
    )
    assert main(args) == 0
    assert sorted(p.name for p in folder.glob("*.png")) == [
        "box-example-1.png",
        "box-example-2.png",
    ]


def test_pseudonymized_boxes_name_nobody(report: WeeklyReport) -> None:
    hidden = report.pseudonymize()
    contents = [_text(pdf_bytes(hidden, GENERATED))]
    contents += [c.decode() for n, c in csv_files(hidden).items() if not n.endswith(".png")]
    names = box_names(hidden)
    legends = [names.get(a, a) for a in hidden.box_examples["annotator_id"]]  # as drawn
    assert legends == [pseudonym("cy"), pseudonym("bob")]
    for secret in SECRETS:
        for content in [*contents, " ".join(legends)]:
            assert not re.search(rf"\b{re.escape(secret)}\b", content), secret
