"""The weekly report's model section: per model version of the week, the library's numbers in
the CSV and the PDF, pseudonyms in its disagreement list, and no section without predictions."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from qualitylib.metrics.filters import Filters
from qualitylib.metrics.fixes import fix_rates
from qualitylib.metrics.models import model_disagreements, model_summary
from qualitylib.reports import build_weekly_report
from qualitylib.reports.csv import MODEL_FILES, csv_files
from qualitylib.reports.pdf import pdf_bytes
from qualitylib.reports.weekly import WeeklyReport
from qualitylib.store import connect

WEEK = "2026-W45"  # the demo's model v2 predicts every item on its Monday
WEEK_FILTERS = Filters(since=date(2026, 11, 2), until=date(2026, 11, 8))
GENERATED = datetime(2026, 11, 9, 7, 0, tzinfo=UTC)


def _text(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))


@pytest.fixture(scope="module")
def report(demo_db: Path) -> WeeklyReport:
    with connect(demo_db, read_only=True) as con:
        return build_weekly_report(con, WEEK, project="demo")


def test_model_rows_are_the_librarys_numbers(report: WeeklyReport, demo_db: Path) -> None:
    with connect(demo_db, read_only=True) as con:
        summary = model_summary(con, WEEK_FILTERS).set_index("model_version")
        fixes = fix_rates(con, WEEK_FILTERS)
        queue = model_disagreements(con, WEEK_FILTERS)
    assert report.has_models and report.models["model"].tolist() == ["model:safety-clf@v2"]
    row = report.models.iloc[0]
    for column in ("tpr", "tpr_ci_low", "tpr_n", "fpr", "fpr_ci_high", "ece", "ece_ci_low"):
        assert row[column] == summary.loc["v2", column], column
    assert row["n_predictions"] == fixes["n_predictions"].sum() > 1000
    assert row["fix_rate"] == fixes["n_fixed"].sum() / fixes["n_predictions"].sum() > 0
    assert row["n_disagreements"] == len(queue) > 0
    assert row["n_model_flagged"] == (queue["direction"] == "model_flagged").sum()
    assert report.model_queue["item_id"].tolist() == queue["item_id"].head(10).tolist()
    back = WeeklyReport.from_json(report.to_json())
    for name in ("models", "model_queue"):
        pd.testing.assert_frame_equal(back.tables()[name], report.tables()[name], obj=name)
    assert csv_files(back) == csv_files(report)


def test_csv_and_pdf_carry_the_model_section(report: WeeklyReport) -> None:
    files = csv_files(report)
    notes = files["README.txt"].decode()
    for name in MODEL_FILES:
        header = files[name].decode().splitlines()[0].split(",")
        assert all(f"  - {column}: " in notes for column in header), name
    assert "undocumented" not in notes
    models = pd.read_csv(io.BytesIO(files["models.csv"]))
    assert models["fix_rate"].tolist() == report.models["fix_rate"].tolist()
    text = _text(pdf_bytes(report, GENERATED))
    row = report.models.iloc[0]
    low, high = row["tpr_ci_low"] * 100, row["tpr_ci_high"] * 100
    tpr = f"{row['tpr'] * 100:.1f} % ({low:.1f} to {high:.1f} %, n {row['tpr_n']:,})"
    assert "Models" in text and "model:safety-clf@v2" in text and tpr in text
    assert f"{row['ece']:.3f} ({row['ece_ci_low']:.3f} to {row['ece_ci_high']:.3f})" in text
    assert f"{row['n_disagreements']:,} ({row['n_model_flagged']:,})" in text
    assert "Where a model and the people disagree" in text


def test_pseudonymized_model_section_names_nobody(report: WeeklyReport) -> None:
    hidden = report.pseudonymize()
    listed = csv_files(hidden)["model_disagreements.csv"].decode()
    text = _text(pdf_bytes(hidden, GENERATED))
    voters = {a for votes in report.model_queue["votes"] for v in votes for a in v["annotators"]}
    assert voters
    for secret in voters | set(report.people["name"].dropna()):
        assert not re.search(rf"\b{re.escape(secret)}\b", listed), secret
        assert not re.search(rf"\b{re.escape(secret)}\b", text), secret
    shown = {a for votes in hidden.model_queue["votes"] for v in votes for a in v["annotators"]}
    assert shown and not shown & voters and all(name in listed for name in shown)


def test_a_week_without_predictions_says_so_and_a_store_without_has_no_section(
    demo_db: Path, build_store
) -> None:
    with connect(demo_db, read_only=True) as con:
        quiet = build_weekly_report(con, "2026-W47", project="demo")
    assert quiet.has_models and quiet.models.empty and "models.csv" in csv_files(quiet)
    assert "No model predictions this week." in _text(pdf_bytes(quiet, GENERATED))
    db = build_store(
        "label,is_positive\nsafe,false\nnudity,true",
        "item_id,label,decided_at\ni1,safe,2026-08-01",
        "item_id,annotator_id,label,annotated_at\ni1,ann,safe,2026-11-03\ni1,bob,nudity,2026-11-03",
    )
    with connect(db, read_only=True) as con:
        plain = build_weekly_report(con, WEEK)
    assert not plain.has_models and plain.models.empty
    assert not set(MODEL_FILES) & set(csv_files(plain))
    assert "Models" not in _text(pdf_bytes(plain, GENERATED))
    back = WeeklyReport.from_json(plain.to_json())
    assert not back.has_models and np.array_equal(back.models.columns, plain.models.columns)
