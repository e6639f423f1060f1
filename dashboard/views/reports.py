"""Weekly reports, for the team lead: the same PDF and CSV tables as `qualitylib report`,
as downloads for a chosen ISO week and team."""

import os
from datetime import UTC, datetime, timedelta

import streamlit as st

from dashboard import common, data
from qualitylib.metrics.periods import iso_week, last_complete_week
from qualitylib.pseudonyms import DEFAULT_KEY
from qualitylib.reports.csv import csv_zip
from qualitylib.reports.pdf import pdf_bytes
from qualitylib.reports.weekly import NEEDS_LOG, WeeklyReport

ALL_TEAMS = "All teams"


store = common.store()
st.title("Weekly report")
st.caption(
    "The Monday report as files: a PDF with a one-page summary, one section per active "
    "annotator, team agreement and the review queue, and the CSV tables behind every number. "
    "Schedule it with `qualitylib report --db PATH --out DIR` (see the README)."
)

options = data.options(store)
if options["first_day"] is None:
    st.info("The store holds no labels yet: import some first.")
    common.stop()
first, last = options["first_day"], options["last_day"]
weeks = sorted(
    {iso_week(first + timedelta(days=d)) for d in range(0, (last - first).days + 1)}, reverse=True
)
default = last_complete_week(datetime.now(UTC).date())
left, right = st.columns(2)
week = left.selectbox("ISO week", weeks, index=weeks.index(default) if default in weeks else 0)
team = right.selectbox("Team", [ALL_TEAMS, *options["teams"]])
report = WeeklyReport.from_json(
    data.weekly_report(store, week, None if team == ALL_TEAMS else team)
)
if common.pseudonyms_on():
    report = report.pseudonymize(os.environ.get(common.KEY_ENV, DEFAULT_KEY))

for section in report.needs_log:  # left out of the files, which say so too
    common.needs_log(NEEDS_LOG[section])
if report.empty:
    st.warning(f"No labels in this week ({week}): the files say so and hold empty tables.")
else:
    cards = st.columns(4 if report.has_boxes else 3, border=True)
    cards[0].metric("Labels", f"{report.n_labels:,}")
    cards[1].metric("Active annotators", f"{len(report.annotators):,}")
    cards[2].metric("Review queue", f"{report.review_queue_size:,} items")
    if report.has_boxes:
        cards[3].metric("Box submissions", f"{report.n_box_images:,}")
        st.caption(
            "With a Boxes section: team and per-person box scores, errors, alerts, examples."
        )

name = f"report-{report.week}"
st.download_button(
    "CSV tables (zip)",
    csv_zip(report),
    file_name=f"{name}.zip",
    mime="application/zip",
    icon=":material/table:",
)
if st.button("Prepare the PDF", icon=":material/picture_as_pdf:"):
    with st.spinner("Rendering the PDF…"):
        pdf = pdf_bytes(report, datetime.now(UTC).replace(second=0, microsecond=0))
    st.download_button(
        "Download the PDF",
        pdf,
        file_name=f"{name}.pdf",
        mime="application/pdf",
        icon=":material/download:",
    )
