"""Weekly reports: the model (:mod:`.weekly`), its PDF (:mod:`.pdf`) and CSV (:mod:`.csv`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from qualitylib.reports.csv import write_csvs
from qualitylib.reports.pdf import write_pdf
from qualitylib.reports.weekly import WeeklyReport, build_weekly_report

__all__ = ["WeeklyReport", "build_weekly_report", "write_report"]


def write_report(
    report: WeeklyReport, out: Path, generated_at: datetime, images: bool = True
) -> tuple[Path, Path]:
    """Write ``report-<week>.pdf`` and the ``report-<week>/`` CSV folder into ``out``;
    ``images``: with the example box images (read from their URIs)."""
    out.mkdir(parents=True, exist_ok=True)
    pdf = out / f"report-{report.week}.pdf"
    folder = out / f"report-{report.week}"
    write_csvs(report, folder, images)
    write_pdf(report, pdf, generated_at, images)
    return pdf, folder
