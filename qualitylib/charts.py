"""Altair chart builders shared by the dashboard and the weekly report.

Each builder is pure: a tidy DataFrame (columns documented per function) in, an ``alt.Chart``
out, with no Streamlit and no store access, so the PDF report renders the same specs. Counts
(``n``) travel with every value and show in the tooltips; NaN values (undefined, "not enough
data") are left out of marks rather than drawn as zero.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

from qualitylib.metrics.results import to_long

HEIGHT = 280
TEAM = "team"  # how a team-level row (annotator_id None) is labelled in a chart
MUTED = "#9aa5b1"
ACCENT = "#1f6feb"
RATE_COLORS = {"TPR": "#1f6feb", "FPR": "#d1495b"}
HIGHLIGHT_COLORS = ["#1f2937", "#1f6feb", "#e07b39", "#2a9d8f", "#8e6bbf", "#c9a227", "#d1495b"]


# Streamlit's chart theme sets ``labelFlush``: the end labels of an axis are pushed inwards,
# so in the browser "100 %" sat below a TPR of 100 % and "0 %" above an FPR of 0 (vl-convert,
# without that theme, drew them level). Rate axes keep every label on its gridline.
RATE_AXIS = alt.Axis(format="%", labelFlush=False)


def rate_scale() -> alt.Scale:
    """The y scale of every rate: exactly 0 to 100 %, never padded, rounded or overdrawn
    (explicit in every layer of a chart, so no layer's data widens it)."""
    return alt.Scale(domain=[0, 1], nice=False, zero=True, clamp=True, padding=0)


def line_legend(title: str | None) -> alt.Legend:
    """A legend whose symbols are the lines' own colours, at full opacity, even when the
    first layer (whose mark the legend takes) is a pale interval band."""
    return alt.Legend(title=title, symbolType="stroke", symbolOpacity=1, symbolStrokeWidth=3)


def _with_share(confusion: pd.DataFrame) -> pd.DataFrame:
    """Add ``share``: each cell's count over its reference row total (NaN for empty rows)."""
    out = confusion.copy()
    totals = out.groupby("reference_label")["n"].transform("sum")
    out["share"] = out["n"] / totals.where(totals > 0)
    return out


def confusion_heatmap(
    confusion: pd.DataFrame,
    labels: Sequence[str] | None = None,
    title: str = "Confusion with the committee",
) -> alt.Chart:
    """Confusion matrix against the reference: rows = committee label, columns = given label.

    ``confusion``: ``reference_label, label, n`` (one annotator, zeros included). Colour is
    the share of the reference row, so rare classes read as clearly as the dominant one; the
    cell text is the count.
    """
    data = _with_share(confusion[["reference_label", "label", "n"]])
    order = list(labels) if labels is not None else None
    base = alt.Chart(data).encode(
        x=alt.X(
            "label:N",
            sort=order,
            title="Given label",
            axis=alt.Axis(labelAngle=-30, labelOverlap=False),
        ),
        y=alt.Y(
            "reference_label:N",
            sort=order,
            title="Committee (reference) label",
            axis=alt.Axis(labelOverlap=False),
        ),
    )
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color(
            "share:Q",
            title="Share of row",
            scale=alt.Scale(scheme="blues", domain=[0, 1]),
            legend=alt.Legend(format="%"),
        ),
        tooltip=[
            alt.Tooltip("reference_label:N", title="Reference"),
            alt.Tooltip("label:N", title="Given"),
            alt.Tooltip("n:Q", title="n", format=","),
            alt.Tooltip("share:Q", title="Share of row", format=".1%"),
        ],
    )
    text = base.mark_text(fontSize=12).encode(
        text=alt.Text("n:Q", format=","),
        color=alt.condition("datum.share > 0.5", alt.value("white"), alt.value("#333333")),
    )
    return (cells + text).properties(height=HEIGHT, title=title)


def rates_long(timeline: pd.DataFrame) -> pd.DataFrame:
    """TPR and FPR of a timeline (``period_start`` and the ``tpr``, ``fpr`` columns of the
    results pattern) as the long table :func:`rate_over_time` draws (:func:`~qualitylib.
    metrics.results.to_long`, metrics named ``TPR``, ``FPR``)."""
    long = to_long(timeline, entity=[], period="period_start", metrics=["tpr", "fpr"])
    return long.assign(metric=long["metric"].str.upper()).drop(columns="entity")


def rate_over_time(
    rates: pd.DataFrame,
    objectives: pd.DataFrame | None = None,
    x_title: str = "Week",
    title: str = "TPR and FPR over time",
    colors: Mapping[str, str] = RATE_COLORS,
) -> alt.Chart:
    """Rates over time with their 95 % interval bands and, optionally, objective lines.

    ``rates``: ``period`` (datetime), ``metric`` (e.g. "TPR", "FPR"), ``value``, ``ci_low``,
    ``ci_high``, ``n``. ``objectives``: ``metric, value``, drawn as dashed rules. ``colors``:
    each metric's colour (the metrics drawn).
    """
    data = rates.dropna(subset=["value"])
    scale = alt.Scale(domain=list(colors), range=list(colors.values()))
    color = alt.Color("metric:N", scale=scale, legend=line_legend(None))
    base = alt.Chart(data).encode(x=alt.X("period:T", title=x_title, axis=alt.Axis(format="%d %b")))
    band = base.mark_area(opacity=0.18).encode(
        y=alt.Y("ci_low:Q", title="Rate", scale=rate_scale(), axis=RATE_AXIS),
        y2="ci_high:Q",
        color=color,
    )
    line = base.mark_line(point=True).encode(
        y=alt.Y("value:Q", title="Rate", scale=rate_scale()),
        color=color,
        tooltip=[
            alt.Tooltip("period:T", title=x_title),
            alt.Tooltip("metric:N", title="Rate"),
            alt.Tooltip("value:Q", format=".1%"),
            alt.Tooltip("ci_low:Q", title="95 % CI low", format=".1%"),
            alt.Tooltip("ci_high:Q", title="95 % CI high", format=".1%"),
            alt.Tooltip("n:Q", title="n", format=","),
        ],
    )
    layers: list[alt.Chart] = [band, line]
    if objectives is not None and not objectives.empty:
        rule = (
            alt.Chart(objectives)
            .mark_rule(strokeDash=[6, 4], size=1.5)
            .encode(
                y=alt.Y("value:Q", scale=rate_scale()),
                color=color,
                tooltip=[
                    alt.Tooltip("metric:N", title="Objective"),
                    alt.Tooltip("value:Q", format=".0%"),
                ],
            )
        )
        layers.append(rule)
    return alt.layer(*layers).properties(height=HEIGHT, title=title)


def learning_curves(
    curves: pd.DataFrame,
    objective: float | None = None,
    metric_title: str = "Accuracy vs reference",
    title: str = "Learning curves",
) -> alt.Chart:
    """One curve per annotator over tenure (labels since start), with an optional objective.

    ``curves``: ``annotator``, ``tenure`` (e.g. n-th reference label, bin start), ``value``,
    ``ci_low``, ``ci_high``, ``n``.
    """
    data = curves.dropna(subset=["value"])
    base = alt.Chart(data).encode(x=alt.X("tenure:Q", title="Reference labels since start"))
    color = alt.Color("annotator:N", legend=line_legend("Annotator"))
    band = base.mark_area(opacity=0.12).encode(
        y=alt.Y("ci_low:Q", title=metric_title, scale=rate_scale(), axis=RATE_AXIS),
        y2="ci_high:Q",
        color=color,
    )
    line = base.mark_line(point=True).encode(
        y=alt.Y("value:Q", title=metric_title, scale=rate_scale()),
        color=color,
        tooltip=[
            alt.Tooltip("annotator:N"),
            alt.Tooltip("tenure:Q", title="Labels since start", format=","),
            alt.Tooltip("value:Q", title=metric_title, format=".1%"),
            alt.Tooltip("ci_low:Q", title="95 % CI low", format=".1%"),
            alt.Tooltip("ci_high:Q", title="95 % CI high", format=".1%"),
            alt.Tooltip("n:Q", title="n", format=","),
        ],
    )
    layers: list[alt.Chart] = [band, line]
    if objective is not None:
        rule = (
            alt.Chart(pd.DataFrame({"objective": [objective]}))
            .mark_rule(strokeDash=[6, 4], color=MUTED)
            .encode(
                y=alt.Y("objective:Q", scale=rate_scale()),
                tooltip=[alt.Tooltip("objective:Q", format=".0%")],
            )
        )
        layers.append(rule)
    return alt.layer(*layers).properties(height=HEIGHT, title=title)


def _symmetric(pairs: pd.DataFrame) -> pd.DataFrame:
    """Both halves of a pair table (a, b) and (b, a), so the heatmap is a full square."""
    swapped = pairs.rename(columns={"annotator_a": "annotator_b", "annotator_b": "annotator_a"})
    return pd.concat([pairs, swapped], ignore_index=True)


def kappa_heatmap(
    pairs: pd.DataFrame,
    selection: alt.Parameter | None = None,
    title: str = "Pairwise Cohen's κ",
) -> alt.Chart:
    """Cohen's kappa of every annotator pair as a square heatmap.

    ``pairs``: ``annotator_a, annotator_b, kappa, n_items, percent_agreement`` (one row per
    unordered pair, as from ``pairwise_kappa``). ``selection``: an optional point selection
    on ``annotator_a, annotator_b`` (the dashboard uses it to show a pair's disagreements).
    """
    data = _symmetric(
        pairs[["annotator_a", "annotator_b", "kappa", "n_items", "percent_agreement"]]
    )
    names = sorted(set(data["annotator_a"]))
    chart = (
        alt.Chart(data)
        .mark_rect(stroke="white")
        .encode(
            x=alt.X(
                "annotator_a:N",
                sort=names,
                title=None,
                axis=alt.Axis(labelAngle=-40, labelOverlap=False),
            ),
            y=alt.Y("annotator_b:N", sort=names, title=None, axis=alt.Axis(labelOverlap=False)),
            color=alt.Color(
                "kappa:Q",
                title="Cohen's κ",
                scale=alt.Scale(scheme="blues", domain=[0, 1], clamp=True),
            ),
            tooltip=[
                alt.Tooltip("annotator_a:N", title="Annotator"),
                alt.Tooltip("annotator_b:N", title="with"),
                alt.Tooltip("kappa:Q", title="κ", format=".2f"),
                alt.Tooltip("percent_agreement:Q", title="Raw agreement", format=".1%"),
                alt.Tooltip("n_items:Q", title="n shared items", format=","),
            ],
        )
        .properties(height=max(HEIGHT, 26 * len(names)), title=title)
    )
    if selection is not None:
        chart = chart.add_params(selection).encode(
            opacity=alt.condition(selection, alt.value(1.0), alt.value(0.35))
        )
    return chart


def coefficient_chart(table: pd.DataFrame, title: str = "Team agreement") -> alt.Chart:
    """Team agreement coefficients as points with 95 % interval bars.

    ``table``: ``metric`` (display name), ``value``, ``ci_low``, ``ci_high``, ``n_items``;
    rows with an undefined value are left out.
    """
    data = table.dropna(subset=["value"])
    base = alt.Chart(data).encode(
        y=alt.Y(
            "metric:N", sort=list(data["metric"]), title=None, axis=alt.Axis(labelOverlap=False)
        ),
    )
    bars = base.mark_rule(color=MUTED, size=2).encode(
        x=alt.X("ci_low:Q", title="Coefficient (95 % interval)", scale=alt.Scale(domain=[-0.2, 1])),
        x2="ci_high:Q",
    )
    points = base.mark_point(filled=True, size=80, color=ACCENT).encode(
        x="value:Q",
        tooltip=[
            alt.Tooltip("metric:N", title="Coefficient"),
            alt.Tooltip("value:Q", format=".3f"),
            alt.Tooltip("ci_low:Q", title="95 % CI low", format=".3f"),
            alt.Tooltip("ci_high:Q", title="95 % CI high", format=".3f"),
            alt.Tooltip("n_items:Q", title="n items", format=","),
        ],
    )
    return (bars + points).properties(height=40 * max(len(data), 1), title=title)


def divergence_chart(
    divergence: pd.DataFrame,
    highlight: Sequence[str] = (TEAM,),
    title: str = "Divergence on control items",
) -> alt.Chart:
    """Control-item divergence per week: one grey line per annotator, the team in colour.

    ``divergence``: ``week_start`` (datetime), ``who`` (annotator, or :data:`TEAM`),
    ``divergence`` (share of control labels that differ from the committee), ``n``.
    ``highlight``: the lines drawn in colour, in legend order (the team, anyone alerted);
    the first is drawn in the darkest colour.
    """
    data = divergence.dropna(subset=["divergence"]).assign(
        highlighted=lambda d: d["who"].isin(list(highlight))
    )
    base = alt.Chart(data).encode(
        x=alt.X("week_start:T", title="Week", axis=alt.Axis(format="%d %b")),
        y=alt.Y(
            "divergence:Q",
            title="Divergence from the committee",
            axis=RATE_AXIS,
            scale=alt.Scale(domainMin=0, zero=True, clamp=True, padding=0),
        ),
        detail="who:N",
        tooltip=[
            alt.Tooltip("who:N", title="Who"),
            alt.Tooltip("week_start:T", title="Week of"),
            alt.Tooltip("divergence:Q", format=".1%"),
            alt.Tooltip("n:Q", title="n control labels", format=","),
        ],
    )
    others = base.transform_filter("!datum.highlighted").mark_line(
        color=MUTED, opacity=0.45, strokeWidth=1
    )
    shown = (
        base.transform_filter("datum.highlighted")
        .mark_line(point=True, strokeWidth=2.5)
        .encode(
            color=alt.Color(
                "who:N",
                title=None,
                sort=list(highlight),
                scale=alt.Scale(domain=list(highlight), range=HIGHLIGHT_COLORS),
            )
        )
    )
    return (others + shown).properties(height=HEIGHT, title=title)


def divergence_data(weekly: pd.DataFrame, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """What :func:`divergence_chart` draws, from :func:`~qualitylib.metrics.drift.
    weekly_divergence` rows (one class or all): ``week_start`` (datetime), ``who`` (the name
    ``names`` gives an annotator id, else the id; :data:`TEAM` for team rows), ``divergence``
    and ``n`` (control labels)."""
    names = names or {}
    return pd.DataFrame(
        {
            "week_start": pd.to_datetime(weekly["week_start"]),
            "who": [
                TEAM if scope == "team" else names.get(who, who)
                for scope, who in zip(weekly["scope"], weekly["annotator_id"], strict=True)
            ],
            "divergence": weekly["divergence"],
            "n": weekly["divergence_n"],
        }
    )


def reliability_diagram(calibration: pd.DataFrame, title: str = "Calibration") -> alt.Chart:
    """Accuracy against mean score per score bin, one line per model version, with the
    diagonal of perfect calibration and 95 % interval bars.

    ``calibration``: ``model`` (display name), ``confidence, accuracy, accuracy_ci_low,
    accuracy_ci_high, n`` (as :func:`qualitylib.metrics.models.calibration_table`).
    """
    data = calibration.dropna(subset=["accuracy"])
    diagonal = (
        alt.Chart(pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0]}))
        .mark_line(color=MUTED, strokeDash=[4, 4])
        .encode(x="x:Q", y="y:Q")
    )
    base = alt.Chart(data).encode(
        x=alt.X("confidence:Q", title="Mean score in the bin", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("model:N", title="Model", scale=alt.Scale(range=HIGHLIGHT_COLORS)),
    )
    bars = base.mark_rule().encode(
        y=alt.Y("accuracy_ci_low:Q", title="Share right (95 % interval)"), y2="accuracy_ci_high:Q"
    )
    points = base.mark_line(point=True).encode(
        y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1])),
        tooltip=[
            alt.Tooltip("model:N", title="Model"),
            alt.Tooltip("confidence:Q", title="Mean score", format=".3f"),
            alt.Tooltip("accuracy:Q", title="Share right", format=".3f"),
            alt.Tooltip("n:Q", title="n predictions", format=","),
        ],
    )
    return (diagonal + bars + points).properties(height=HEIGHT, title=title)
