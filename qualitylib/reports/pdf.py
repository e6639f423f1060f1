"""The weekly report as a PDF: a one-page summary, behaviour, one section per annotator,
agreement, review.

Renders a :class:`~qualitylib.reports.weekly.WeeklyReport` with reportlab's platypus; charts
are the dashboard's Altair specs (:mod:`qualitylib.charts`) rendered to PNG by vl-convert, so
no browser is needed. reportlab runs in invariant mode: the same report and generation time
give the same bytes.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

import altair as alt
import pandas as pd
import vl_convert
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from qualitylib import box_charts, charts
from qualitylib.agreement import PARADOX_NOTE
from qualitylib.box_charts import ERROR_NAMES
from qualitylib.display import (
    COEFFICIENTS,
    FLAG_TEXT,
    STATUS,
    alerted_labels,
    is_number,
    number,
    percent,
    points,
    votes_text,
)
from qualitylib.display import interval as _interval
from qualitylib.log_scope import needs_log_message
from qualitylib.metrics.box_timeline import BoxObjective
from qualitylib.metrics.boxes import ERRORS as BOX_ERRORS
from qualitylib.metrics.models import model_name
from qualitylib.reports.weekly import (
    HISTORY_WEEKS,
    NEEDS_LOG,
    WeeklyReport,
    box_names,
    box_overlays,
)

__all__ = ["NO_LABELS", "pdf_bytes", "write_pdf"]

NO_LABELS = "No labels in this week"
PAGE = A4
MARGIN = 16 * mm
WIDTH = PAGE[0] - 2 * MARGIN
INK, MUTED, RULE, SHADE = (
    colors.HexColor("#1f2937"),
    colors.HexColor("#5b6673"),
    colors.HexColor("#cfd6de"),
    colors.HexColor("#eef2f6"),
)
ALERT_HEX = "#b42318"
ALERT = colors.HexColor(ALERT_HEX)


def interval(low: object, high: object, as_percent: bool = True) -> str:
    """:func:`qualitylib.display.interval` without the "95 % CI" prefix (columns say it)."""
    return _interval(low, high, as_percent=as_percent, prefix=False)


# ---------------------------------------------------------------------------------------------
# Fonts and styles


def _fonts() -> tuple[str, str]:
    """DejaVu Sans (covers accents, Greek, Cyrillic in names) when installed, else Helvetica."""
    try:
        regular, bold = (
            TTFont("DejaVuSans", "DejaVuSans.ttf"),
            TTFont("DejaVuSans-Bold", "DejaVuSans-Bold.ttf"),
        )
    except TTFError:
        return "Helvetica", "Helvetica-Bold"
    for font in (regular, bold):
        if font.fontName not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(font)
    return "DejaVuSans", "DejaVuSans-Bold"


class _Styles:
    """The paragraph styles of the report (one font family, 9.5 pt body), and the worker
    threads that render its charts."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self.pool = pool
        self.font, self.bold = _fonts()
        base = ParagraphStyle(
            "body", fontName=self.font, fontSize=9.5, leading=13, textColor=INK, alignment=TA_LEFT
        )
        self.body = base
        self.small = ParagraphStyle("small", base, fontSize=8.5, leading=11, textColor=MUTED)
        self.cell = ParagraphStyle("cell", base, fontSize=8.5, leading=10.5)
        self.cell_bold = ParagraphStyle("cell_bold", self.cell, fontName=self.bold)
        self.title = ParagraphStyle(
            "title", base, fontName=self.bold, fontSize=19, leading=24, spaceAfter=2
        )
        self.h1 = ParagraphStyle(
            "h1", base, fontName=self.bold, fontSize=14, leading=18, spaceBefore=6, spaceAfter=6
        )
        self.h2 = ParagraphStyle(
            "h2", base, fontName=self.bold, fontSize=11, leading=14, spaceBefore=8, spaceAfter=3
        )
        self.note = ParagraphStyle(
            "note",
            base,
            fontSize=8.5,
            leading=11.5,
            backColor=SHADE,
            borderPadding=(5, 6, 5, 6),
            spaceBefore=6,
            spaceAfter=8,
        )
        self.empty = ParagraphStyle("empty", self.h1, fontSize=16, leading=22, textColor=ALERT)


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text (escaped: names and labels are data, not markup)."""
    return Paragraph(escape(text), style)


def _table(
    rows: Sequence[Sequence[object]],
    widths: Sequence[float],
    styles: _Styles,
    numeric_from: int = 1,
    bold_rows: Sequence[int] = (),
) -> Table:
    """A table with a repeated, shaded header row that splits across pages."""
    cells = [
        [
            _p(str(value), styles.cell_bold if r == 0 or r in bold_rows else styles.cell)
            if isinstance(value, str)
            else value
            for value in row
        ]
        for r, row in enumerate(rows)
    ]
    table = Table(cells, colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, RULE),
                ("LINEBELOW", (0, 1), (-1, -1), 0.3, RULE),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
                ("LEFTPADDING", (0, 0), (-1, -1), 4),
                ("RIGHTPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    return table


class _Chart(Flowable):
    """An Altair chart as a PNG ``width`` points wide, rendered (at 2x) in a worker thread
    as soon as the chart is created, so a report's charts render concurrently."""

    def __init__(self, chart: alt.TopLevelMixin, width: float, pool: ThreadPoolExecutor) -> None:
        super().__init__()
        self._png = pool.submit(vl_convert.vegalite_to_png, chart.to_json(), scale=2)
        self._width = width
        self._image: Image | None = None

    def _rendered(self) -> Image:
        if self._image is None:
            png = self._png.result()
            pixels_w, pixels_h = ImageReader(io.BytesIO(png)).getSize()
            height = self._width * pixels_h / pixels_w
            self._image = Image(io.BytesIO(png), width=self._width, height=height)
        return self._image

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self._rendered().wrap(available_width, available_height)

    def draw(self) -> None:
        self._rendered().drawOn(self.canv, 0, 0)


# ---------------------------------------------------------------------------------------------
# Sections


def _names(report: WeeklyReport, ids: Sequence[str]) -> str:
    shown = report.display_names()
    return ", ".join(shown.get(a, a) for a in ids) or "nobody"


def _summary(report: WeeklyReport, styles: _Styles) -> list[Flowable]:
    """Page 1: the week at a glance."""
    weeks = report.team_weeks
    now = weeks.iloc[-1]
    before = weeks.iloc[:-1]
    alerts = report.alerts
    alerted = alerted_labels(alerts)
    team_alerts = alerted.pop(None, [])
    shown = report.display_names()
    alert_text = "; ".join(
        ([f"whole team: {', '.join(team_alerts)}"] if team_alerts else [])
        + [f"{shown.get(a, a)}: {', '.join(labels)}" for a, labels in alerted.items()]
    )
    status = report.onboarding
    stale = report.stale[report.stale["stale"]]
    policy = report.policy
    in_force = policy[policy["policy_version"] == report.policy_in_force]
    since = (
        f" (first label under it {in_force['first_label_at'].iloc[0]:%d %B %Y})"
        if len(in_force)
        else ""
    )
    n_active = len(report.annotators)

    def who(mask: pd.Series) -> str:
        return _names(report, status.loc[mask, "annotator_id"])

    flagged = report.flags.groupby("annotator_id", sort=False)["flag"].agg(list)
    flag_text = "; ".join(
        f"{shown.get(a, a)}: {', '.join(_lower(FLAG_TEXT[f]) for f in flags)}"
        for a, flags in flagged.items()
    )

    agreement = (
        f"{percent(now['accuracy'])} (95 % CI "
        f"{interval(now['accuracy_ci_low'], now['accuracy_ci_high'])}, "
        f"n = {int(now['accuracy_n']):,} control labels); previous {HISTORY_WEEKS} weeks: "
        + ", ".join(percent(v) for v in before["accuracy"])
    )
    glance = [
        ["", "This week"],
        ["Labels", f"{report.n_labels:,} labels by {n_active:,} annotators"],
        ["Team agreement with the committee", agreement],
        [
            "Open drift alerts",
            f"{len(alerts):,} open (annotator x class) on {len(alerted):,} annotators"
            + (" and the whole team" if len(team_alerts) else "")
            + " (alerted this week or last)"
            + (f": {alert_text}" if alert_text else ": nobody drifts"),
        ],
        ["In training", who(status["status"] == "in_training")],
        ["Became aligned this week", who(status["became_aligned"])],
        ["Regressed", who(status["status"] == "regressed")],
        ["Decided by the sequential test", _decided(report) or "nobody this week"],
        ["Still applying an old policy", _names(report, stale["annotator_id"])],
        ["Behaviour flags", _needs_log(report, "behaviour") or flag_text or "nobody flagged"],
        ["Control items", _shortfall(report)],
        [
            "Review queue",
            f"{report.review_queue_size:,} items annotators split on or were unsure about",
        ],
        ["Policy version in force", f"{report.policy_in_force or 'none recorded'}{since}"],
    ]
    flow: list[Flowable] = [
        _p("At a glance", styles.h1),
        _table(glance, [0.3 * WIDTH, 0.7 * WIDTH], styles),
        _p(f"Team against the committee, this week and the {HISTORY_WEEKS} before", styles.h2),
    ]
    rows = [["Week", "Agreement", "95 % CI", "TPR", "FPR", "n control labels"]]
    for row in weeks.itertuples():
        rows.append(
            [
                row.week,
                percent(row.accuracy),
                interval(row.accuracy_ci_low, row.accuracy_ci_high),
                percent(row.tpr),
                percent(row.fpr),
                f"{int(row.accuracy_n):,}",
            ]
        )
    flow.append(
        _table(
            rows,
            [w * WIDTH for w in (0.14, 0.15, 0.22, 0.14, 0.14, 0.21)],
            styles,
            bold_rows=[len(rows) - 1],
        )  # fmt: skip
    )
    flow.append(Spacer(1, 3))
    flow.append(
        _p(
            "Production labels of the annotators (not the committee) on control items, the "
            "reference items mixed unannounced into the work. TPR: flagged items they flagged "
            "too; FPR: safe items they flagged.",
            styles.small,
        )
    )
    divergence = report.divergence
    if divergence["divergence"].notna().any():
        highlight = [charts.TEAM, *(shown.get(a, a) for a in alerted)]
        data = charts.divergence_data(divergence, shown)
        chart = charts.divergence_chart(data, highlight=highlight, title="")
        flow.append(_Chart(chart.properties(width=540, height=190), WIDTH * 0.92, styles.pool))
        flow.append(
            _p(
                "Divergence from the committee on control items: the team and anyone with an "
                "open alert in colour, every other annotator in grey.",
                styles.small,
            )
        )
    return flow


def _annotator(report: WeeklyReport, row: pd.Series, styles: _Styles) -> Flowable:
    """One annotator's section: rates with intervals, change, confusions, TPR/FPR chart."""
    who = row["annotator_id"]
    shown = report.display_names().get(who, who)
    status = report.onboarding.loc[report.onboarding["annotator_id"] == who, "status"]
    title = f"{shown} · {row['team']}" if isinstance(row.get("team"), str) else shown
    if len(status):
        title += f" · {STATUS.get(status.iloc[0], status.iloc[0])}"
    rows = [["", "This week", "95 % CI", "n", f"Previous {HISTORY_WEEKS} wk", "Change"]]
    for rate, name in (("accuracy", "Agreement"), ("tpr", "TPR"), ("fpr", "FPR")):
        rows.append(
            [
                name,
                percent(row[rate]),
                interval(row[f"{rate}_ci_low"], row[f"{rate}_ci_high"]),
                f"{int(row[f'{rate}_n']):,}",
                percent(row[f"{rate}_previous"]),
                points(row[f"{rate}_change"]),
            ]
        )
    rows.append(
        [
            "Kappa",
            number(row["kappa"]),
            interval(row["kappa_ci_low"], row["kappa_ci_high"], as_percent=False),
            f"{int(row['kappa_n']):,}",
            "",
            "",
        ]
    )
    left = 0.68 * WIDTH
    cells = report.confusions
    errors = cells[(cells["annotator_id"] == who) & cells["is_error"]].head(3)
    confusions = (
        "; ".join(
            f"{e.reference_label} → {e.label}: {e.n:,} ({percent(e.share_of_reference)} of "
            f"{e.reference_label})"
            for e in errors.itertuples()
        )
        or "none"
    )
    alerts = report.alerts
    mine = alerts.loc[alerts["annotator_id"] == who, "label"]
    detail: list[Flowable] = [
        _p(
            f"{int(row['n_labels']):,} labels this week, {int(row['n_reference']):,} on "
            f"reference items ({int(row['n_reference_previous']):,} in the previous "
            f"{HISTORY_WEEKS} weeks).",
            styles.small,
        ),
        _table(rows, [w * left for w in (0.18, 0.14, 0.27, 0.08, 0.17, 0.16)], styles),
        Spacer(1, 3),
        _p(f"Top confusions (committee → given): {confusions}", styles.small),
    ]
    if len(mine):
        detail.append(
            Paragraph(
                f'<font color="{ALERT_HEX}">Drift alert (this week or '
                f"last) on: {escape(', '.join(sorted(set(mine))))}</font>",
                styles.small,
            )
        )
    history = report.annotator_weeks[report.annotator_weeks["annotator_id"] == who]
    long = charts.rates_long(history)
    right: Flowable = _p("No reference labels in these weeks.", styles.small)
    if long["value"].notna().any():
        chart = charts.rate_over_time(long, title="").properties(width=190, height=130)
        right = _Chart(chart.configure_legend(orient="bottom"), WIDTH - left - 8, styles.pool)
    body = Table([[detail, right]], colWidths=[left + 8, WIDTH - left - 8], hAlign="LEFT")
    body.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (0, 0), 8),
            ]
        )
    )
    return KeepTogether([_p(title, styles.h2), body])


def _needs_log(report: WeeklyReport, section: str) -> str:
    """The line saying ``section`` needs the label log, when the report left it out; else ""."""
    return needs_log_message(NEEDS_LOG[section]) if section in report.needs_log else ""


def _agreement(report: WeeklyReport, styles: _Styles) -> list[Flowable]:
    """Team coefficients with intervals, the prevalence note and the coefficient chart."""
    if "agreement" in report.needs_log:
        heading = _p("Agreement between annotators", styles.h1)
        return [heading, _p(_needs_log(report, "agreement"), styles.note), *_pairs(report, styles)]
    table = report.agreement.set_index("metric")
    names = [m for m in COEFFICIENTS if m in table.index]
    rows = [["Coefficient", "Value", "95 % CI", "n items", "Raters"]]
    for metric in names:
        row = table.loc[metric]
        as_percent = metric == "percent_agreement"
        rows.append(
            [
                COEFFICIENTS[metric],
                percent(row["value"]) if as_percent else number(row["value"]),
                interval(row["ci_low"], row["ci_high"], as_percent=as_percent),
                f"{int(row['n_items']):,}",
                f"{int(row['n_raters']):,}",
            ]
        )
    flow: list[Flowable] = [
        _p("Agreement between annotators", styles.h1),
        _p(
            "Items labelled by two or more people this week (each person's latest label), "
            "whatever the committee decided.",
            styles.small,
        ),
        _table(rows, [w * WIDTH for w in (0.36, 0.14, 0.26, 0.12, 0.12)], styles),
    ]
    if report.prevalence_paradox:
        flow.append(_p(PARADOX_NOTE, styles.note))
    reasons = table["reason"].dropna()
    if len(reasons):
        flow.append(_p(f"Not enough data: {reasons.iloc[0]}.", styles.small))
    shown = table.loc[names].reset_index().assign(metric=lambda d: d["metric"].map(COEFFICIENTS))
    if shown["value"].notna().any():
        chart = charts.coefficient_chart(shown, title="").properties(width=440, height=220)
        flow.append(_Chart(chart, WIDTH * 0.8, styles.pool))
    return flow + _pairs(report, styles)


def _lower(text: str) -> str:
    """A heading-case name inside a sentence: "Spammer (MACE)" -> "spammer (MACE)"."""
    return text[:1].lower() + text[1:]


def _decided(report: WeeklyReport) -> str:
    """Trainees the sequential test decided this week, with the labels it took."""
    shown = report.display_names()
    return "; ".join(
        f"{shown.get(row.annotator_id, row.annotator_id)} {row.decision.replace('_', ' ')} "
        f"after {int(row.n_to_decision):,} reference labels"
        for row in report.sequential.itertuples()
    )


def _shortfall(report: WeeklyReport) -> str:
    """Who got fewer control labels this week than the planner asks."""
    gold = report.gold
    if gold.empty:
        return "no control labels in production yet"
    short = gold[gold["shortfall"] > 0]
    needed = int(gold["needed_per_week"].max())
    if short.empty:
        return f"everyone got the {needed:,} control labels a week the plan asks"
    return (
        f"{len(short):,} of {len(gold):,} annotators got fewer than the {needed:,} a week the "
        f"plan asks: {_names(report, short['annotator_id'])}"
    )


def _people_lines(report: WeeklyReport, styles: _Styles) -> list[Flowable]:
    """Behaviour flags with their evidence, the trainees the sequential test decided, and the
    control labels each annotator got against the plan."""
    shown = report.display_names()
    flow: list[Flowable] = [
        _p("Behaviour, sequential onboarding and control items", styles.h1),
        _p(
            "Flags on this week's labels, each with its evidence: answers too fast for their "
            "label (unless they are right), runs of one answer longer than the person's own mix "
            "explains, a label mix unlike the team's on the same batches, MACE's spam "
            "probability, disagreement with oneself on items seen twice.",
            styles.small,
        ),
    ]
    if "behaviour" in report.needs_log:
        flow.append(_p(_needs_log(report, "behaviour"), styles.note))
    elif report.flags.empty:
        flow.append(_p(f"No flags among {len(report.behaviour):,} annotators.", styles.body))
    else:
        rows = [["Annotator", "Flag", "Evidence"]]
        rows += [
            [shown.get(r.annotator_id, r.annotator_id), FLAG_TEXT[r.flag], r.evidence]
            for r in report.flags.itertuples()
        ]
        flow.append(_table(rows, [w * WIDTH for w in (0.25, 0.16, 0.59)], styles))
    flow += [
        _p("Trainees decided by the sequential test this week", styles.h2),
        _p(
            "Wald's sequential test on TPR and FPR over each trainee's reference labels: "
            "released as soon as the evidence allows, flagged as soon as a rate is clearly "
            "below the objective.",
            styles.small,
        ),
    ]
    if report.sequential.empty:
        flow.append(_p("No trainee was decided this week.", styles.body))
    else:
        rows = [["Trainee", "Decision", "Reference labels", "Decided", "Expected labels"]]
        rows += [
            [
                shown.get(r.annotator_id, r.annotator_id),
                r.decision.replace("_", " "),
                f"{int(r.n_to_decision):,}",
                f"{r.decided_at:%a %d %b %H:%M}",
                f"{r.expected_n:,.0f}" if pd.notna(r.expected_n) else "not enough data",
            ]
            for r in report.sequential.itertuples()
        ]
        flow.append(_table(rows, [w * WIDTH for w in (0.3, 0.16, 0.18, 0.18, 0.18)], styles))
    flow += [
        _p("Control items against the plan", styles.h2),
        _p(_shortfall(report) + ".", styles.body),
    ]
    short = report.gold[report.gold["shortfall"] > 0]
    if len(short):
        rows = [["Annotator", "Control labels this week", "Needed a week", "Short by"]]
        rows += [
            [
                shown.get(r.annotator_id, r.annotator_id),
                f"{int(r.controls_this_week):,}",
                f"{int(r.needed_per_week):,}",
                f"{int(r.shortfall):,}",
            ]
            for r in short.itertuples()
        ]
        flow.append(_table(rows, [w * WIDTH for w in (0.4, 0.2, 0.2, 0.2)], styles))
        first = short.iloc[0]
        flow.append(
            _p(
                f"Needed: the larger of {int(first['needed_for_width']):,} (weekly TPR and FPR "
                f"intervals of the planned width at the team's rates) and "
                f"{int(first['needed_for_delay']):,} (a drift on {first['drift_class']} "
                "alerted within the planned delay).",
                styles.small,
            )
        )
    return flow


LOWEST_PAIRS = 5


def _pairs(report: WeeklyReport, styles: _Styles) -> list[Flowable]:
    """The pairs of annotators with the lowest Cohen's kappa this week."""
    pairs = report.pairs.sort_values(["kappa", "n_items"], ascending=[True, False])
    pairs = pairs[pairs["kappa"].notna()].head(LOWEST_PAIRS)
    if pairs.empty:
        return []
    shown = report.display_names()
    rows = [["Pair", "Cohen's kappa", "95 % CI", "n items", "Raw agreement"]]
    for row in pairs.itertuples():
        rows.append(
            [
                f"{shown.get(row.annotator_a, row.annotator_a)} & "
                f"{shown.get(row.annotator_b, row.annotator_b)}",
                number(row.kappa),
                interval(row.kappa_ci_low, row.kappa_ci_high, as_percent=False),
                f"{int(row.n_items):,}",
                percent(row.percent_agreement),
            ]
        )
    return [
        _p(f"Pairs with the lowest kappa (of {len(report.pairs):,} sharing items)", styles.h2),
        _table(rows, [w * WIDTH for w in (0.42, 0.14, 0.2, 0.1, 0.14)], styles),
    ]


def _review(report: WeeklyReport, styles: _Styles) -> list[Flowable]:
    """The top of the committee's review queue."""
    flow: list[Flowable] = [
        _p("Review queue", styles.h1),
        _p(
            f"{report.review_queue_size:,} items labelled this week on which annotators split "
            f"or said they were unsure; the top {len(report.review):,} by score (vote entropy "
            "in bits plus the share of unsure flags). '?' marks an unsure label.",
            styles.small,
        ),
    ]
    if report.review.empty:
        return flow
    rows = [["Item", "Votes (who)", "Majority", "Committee", "Entropy", "Unsure", "Score"]]
    for row in report.review.itertuples():
        rows.append(
            [
                str(row.item_id),
                votes_text(row.votes, report.display_names()),
                str(row.majority_label),
                row.reference_label if isinstance(row.reference_label, str) else "—",
                number(row.vote_entropy),
                percent(row.unsure_share, 0),
                number(row.score),
            ]
        )
    widths = [w * WIDTH for w in (0.12, 0.35, 0.11, 0.13, 0.1, 0.09, 0.1)]
    flow.append(_table(rows, widths, styles))
    return flow


def _with_interval(value: object, low: object, high: object) -> str:
    """ "72.7 % (43.4 to 90.3 %)", or "not enough data" alone."""
    if not is_number(value):
        return percent(value)
    return f"{percent(value)} ({interval(low, high)})"


def _boxes(report: WeeklyReport, styles: _Styles, images: bool) -> list[Flowable]:
    """The boxes section: team and per-person scores against the committee this week and the
    weeks before, errors by type, open box drift alerts and example images with overlays."""
    names = box_names(report)
    flow: list[Flowable] = [
        _p("Boxes", styles.h1),
        _p(
            f"{report.n_box_images:,} box submissions this week. Boxes scored against the "
            "committee's on committee images, a match = same label at IoU >= 0.5: precision = "
            "their boxes matched, recall = the committee's boxes found, mean IoU of the "
            "matched pairs; 95 % intervals (Wilson; Student t for the IoU) and denominators.",
            styles.small,
        ),
        _p(f"Team, this week and the {HISTORY_WEEKS} before", styles.h2),
    ]
    rows = [["Week", "Precision", "Recall", "Mean IoU", "n images"]]
    team = report.box_team_weeks
    for row in team.itertuples():
        rows.append(
            [
                row.week,
                _with_interval(row.precision, row.precision_ci_low, row.precision_ci_high),
                _with_interval(row.recall, row.recall_ci_low, row.recall_ci_high),
                number(row.mean_iou),
                f"{int(row.n_reference_images):,}",
            ]
        )
    widths = [w * WIDTH for w in (0.14, 0.3, 0.3, 0.12, 0.14)]
    flow.append(_table(rows, widths, styles, bold_rows=[len(rows) - 1]))
    long = box_charts.box_rates_long(team, [], "week_start").drop(columns="entity")
    if long["value"].notna().any():
        goal = BoxObjective()
        objectives = pd.DataFrame(
            {"metric": ["Recall", "Precision"], "value": [goal.recall, goal.precision]}
        )
        chart = charts.rate_over_time(
            long, objectives, title="", colors=box_charts.box_rate_colors()
        )
        flow.append(_Chart(chart.properties(width=540, height=170), WIDTH * 0.92, styles.pool))
        flow.append(
            _p("Dashed: the box onboarding objective (recall 85 %, precision 90 %).", styles.small)
        )
    people = report.box_people[report.box_people["n_items"] > 0]
    if len(people):
        status = report.box_onboarding.set_index("annotator_id")["status"]
        rows = [
            [
                "Annotator",
                "Precision",
                "Recall",
                "Mean IoU",
                f"Previous {HISTORY_WEEKS} wk",
                "Status",
            ]
        ]
        for row in people.itertuples():
            rows.append(
                [
                    names.get(row.annotator_id, row.annotator_id),
                    f"{percent(row.precision)} (n = {int(row.precision_n):,})",
                    f"{percent(row.recall)} (n = {int(row.recall_n):,})",
                    number(row.mean_iou),
                    f"P {percent(row.precision_previous)} · R {percent(row.recall_previous)}",
                    STATUS.get(status.get(row.annotator_id, ""), "—"),
                ]
            )
        flow += [
            _p("Annotators with boxes on committee images this week", styles.h2),
            _table(rows, [w * WIDTH for w in (0.24, 0.16, 0.16, 0.1, 0.2, 0.14)], styles),
        ]
    gold_free = len(report.box_people) - len(people)
    if gold_free:
        flow.append(
            _p(
                f"{gold_free:,} more boxed only images without the committee's boxes "
                "(box_annotators.csv; the dashboard scores them against the others' consensus).",
                styles.small,
            )
        )
    errors = report.box_errors
    if len(errors):
        table = errors.pivot_table(
            index="annotator_id", columns="error", values="n", aggfunc="sum", fill_value=0
        ).reindex(columns=list(BOX_ERRORS), fill_value=0)
        rows = [["Annotator", *(ERROR_NAMES[e] for e in BOX_ERRORS)]]
        for who, counts in table.iterrows():
            rows.append([names.get(who, who), *(f"{int(v):,}" for v in counts)])
        flow += [
            _p("Box errors this week, by type", styles.h2),
            _table(rows, [0.25 * WIDTH, *([0.15 * WIDTH] * len(BOX_ERRORS))], styles),
        ]
    alerts = report.box_alerts
    flow.append(_p("Box drift alerts on control images", styles.h2))
    if alerts.empty:
        flow.append(_p("None open at the week's end: nobody's boxes drift.", styles.small))
    else:
        rows = [["Who", "Label", "Week of", "1 - F1", "n boxes"]]
        for row in alerts.itertuples():
            who = row.annotator_id if isinstance(row.annotator_id, str) else None
            rows.append(
                [
                    names.get(who, who) if who else "whole team",
                    str(row.label),
                    f"{pd.Timestamp(row.week_start):%d %b}",
                    percent(row.divergence),
                    f"{int(row.n):,}",
                ]
            )
        flow.append(_table(rows, [w * WIDTH for w in (0.3, 0.2, 0.15, 0.15, 0.2)], styles))
    if images and len(report.box_examples):
        flow.append(_p("Examples: images with errors this week", styles.h2))
        for row, png in zip(report.box_examples.itertuples(), box_overlays(report), strict=True):
            pixels_w, pixels_h = ImageReader(io.BytesIO(png)).getSize()
            width = WIDTH * 0.7
            flow.append(Image(io.BytesIO(png), width=width, height=width * pixels_h / pixels_w))
            found = ", ".join(
                f"{getattr(row, e)} {ERROR_NAMES[e].lower()}"
                for e in BOX_ERRORS
                if getattr(row, e) > 0
            )
            flow.append(
                _p(
                    f"{row.item_id}: {names.get(row.annotator_id, row.annotator_id)}'s boxes "
                    f"(orange, with the IoU of each match) and the committee's (blue): {found}.",
                    styles.small,
                )
            )
    return flow


def _rate(row: object, rate: str) -> str:
    """``66.7 % (40.1 to 85.2 %, n 12)``: a rate with its interval and denominator."""
    value = getattr(row, rate)
    low, high, n = (getattr(row, f"{rate}{s}") for s in ("_ci_low", "_ci_high", "_n"))
    if not is_number(value):
        return f"{percent(value)} (n {int(n):,})"
    return f"{percent(value)} ({interval(low, high)}, n {int(n):,})"


def _models(report: WeeklyReport, styles: _Styles) -> list[Flowable]:
    """Each model version's week against the committee, and where it and the people disagree."""
    flow: list[Flowable] = [
        _p("Models", styles.h1),
        _p(
            "Each model version's predictions made this week, against the committee's "
            "reference (95 % Wilson intervals, n), the expected calibration error of its scores "
            "(10 equal-width bins, bootstrap interval), the share corrected by a person by "
            "Sunday, and the items where it and the people's majority fall on different sides.",
            styles.small,
        ),
    ]
    if "models" in report.needs_log:
        return [*flow, _p(_needs_log(report, "models"), styles.note)]
    if report.models.empty:
        return [*flow, _p("No model predictions this week.", styles.body)]
    scored = "ece" in report.models.columns
    rows = [["Model", "Predictions", "TPR", "FPR", "ECE", "Fixed", "Disagree (model flags)"]]
    for row in report.models.itertuples():
        ece = "—"
        if scored and is_number(row.ece):
            low, high = number(row.ece_ci_low, 3), number(row.ece_ci_high, 3)
            ece = f"{number(row.ece, 3)} ({low} to {high})"
        rows.append(
            [
                str(row.model),
                f"{int(row.n_predictions):,}",
                _rate(row, "tpr"),
                _rate(row, "fpr"),
                ece,
                _rate(row, "fix_rate"),
                f"{int(row.n_disagreements):,} ({int(row.n_model_flagged):,})",
            ]
        )
    widths = [w * WIDTH for w in (0.17, 0.1, 0.17, 0.17, 0.14, 0.15, 0.1)]
    flow.append(_table(rows, widths, styles))
    if report.model_queue.empty:
        return flow
    flow.append(_p("Where a model and the people disagree, most confident first", styles.h2))
    rows = [["Item", "Model", "Model says", "Votes (who)", "Committee"]]
    for row in report.model_queue.itertuples():
        score = f" ({number(row.score)})" if is_number(row.score) else ""
        rows.append(
            [
                str(row.item_id),
                model_name(row.model_id, row.model_version),
                f"{row.model_label}{score}",
                votes_text(row.votes, report.display_names()),
                row.reference_label if isinstance(row.reference_label, str) else "—",
            ]
        )
    flow.append(_table(rows, [w * WIDTH for w in (0.13, 0.2, 0.15, 0.39, 0.13)], styles))
    return flow


# ---------------------------------------------------------------------------------------------
# Document


def _title(report: WeeklyReport, generated_at: datetime, styles: _Styles) -> list[Flowable]:
    scope = f"team {report.team}" if report.team else "all teams"
    subtitle = (
        f"{report.project} · {scope} · Monday {report.monday:%d %B %Y} to Sunday "
        f"{report.sunday:%d %B %Y} · generated {generated_at:%Y-%m-%d %H:%M %Z}".rstrip()
    )
    if report.pseudonymized:
        subtitle += " · annotators shown by pseudonym"
    return [
        _p(f"Weekly quality report {report.week}", styles.title),
        _p(subtitle, styles.small),
        Spacer(1, 6),
    ]


def _empty(report: WeeklyReport, styles: _Styles) -> list[Flowable]:
    scope = f" for team {report.team}" if report.team else ""
    return [
        Spacer(1, 20),
        _p(f"{NO_LABELS} ({report.week}){scope}.", styles.empty),
        _p(
            "Nobody labelled anything between Monday and Sunday of this week, so there is "
            "nothing to measure. Check the week (ISO weeks start on Monday), the team, or "
            "whether this week's labels were imported. The CSV tables are written with their "
            "headers and no rows.",
            styles.body,
        ),
    ]


def _story(
    report: WeeklyReport, generated_at: datetime, styles: _Styles, images: bool = True
) -> list[Flowable]:
    story = _title(report, generated_at, styles)
    if report.empty:
        return story + _empty(report, styles)
    if report.n_labels == 0:  # boxes only this week
        return story + _boxes(report, styles, images)
    story += _summary(report, styles)
    story += [PageBreak(), *_people_lines(report, styles)]
    story += [PageBreak(), _p("Annotators active this week", styles.h1)]
    story.append(
        _p(
            "Rates against the committee's reference on this week's labels (training and "
            "production), with 95 % Wilson intervals and their denominators; change is in "
            f"percentage points against the {HISTORY_WEEKS} weeks before. The chart shows "
            f"weekly TPR and FPR over the last {HISTORY_WEEKS + 1} weeks.",
            styles.small,
        )
    )
    story += [_annotator(report, row, styles) for _, row in report.annotators.iterrows()]
    story += [PageBreak(), *_agreement(report, styles), Spacer(1, 8), *_review(report, styles)]
    if report.has_boxes:
        story += [PageBreak(), *_boxes(report, styles, images)]
    if report.has_models or "models" in report.needs_log:
        story += [Spacer(1, 8), *_models(report, styles)]
    return story


def _numbered(header: str, footer: str, font: str) -> type[Canvas]:
    """A canvas class that writes the running header and "page i of n" on every page."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, object]] = []

        def showPage(self) -> None:  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for page_number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self.setFont(font, 7.5)
                self.setFillColor(MUTED)
                self.drawString(MARGIN, PAGE[1] - 10 * mm, header)
                self.drawString(MARGIN, 9 * mm, footer)
                self.drawRightString(
                    PAGE[0] - MARGIN, 9 * mm, f"page {page_number} of {len(self._pages)}"
                )
                super().showPage()
            super().save()

    return NumberedCanvas


def pdf_bytes(report: WeeklyReport, generated_at: datetime, images: bool = True) -> bytes:
    """The report as PDF bytes; identical for the same report and ``generated_at``.
    ``images``: draw the example box images (read from their URIs)."""
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=f"Weekly quality report {report.week}",
        author="qualitylib",
        subject=report.project,
        creator="qualitylib",
        invariant=1,
    )
    scope = f"team {report.team}" if report.team else "all teams"
    header = f"qualitylib weekly report · {report.project} · {report.week} · {scope}"
    footer = f"generated {generated_at:%Y-%m-%d %H:%M %Z}".rstrip()
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        styles = _Styles(pool)
        doc.build(
            _story(report, generated_at, styles, images),
            canvasmaker=_numbered(header, footer, styles.font),
        )
    return buffer.getvalue()


def write_pdf(
    report: WeeklyReport, path: Path, generated_at: datetime, images: bool = True
) -> None:
    """Write :func:`pdf_bytes` to ``path``."""
    path.write_bytes(pdf_bytes(report, generated_at, images))
