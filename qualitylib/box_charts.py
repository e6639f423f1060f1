"""Altair charts of box quality, pure builders like :mod:`qualitylib.charts` (a tidy DataFrame
in, an ``alt.Chart`` out; NaN left out of marks; counts in the tooltips), shared by the
dashboard and the weekly report."""

from __future__ import annotations

import altair as alt
import pandas as pd

from qualitylib.charts import HEIGHT, RATE_AXIS, _symmetric, rate_scale
from qualitylib.metrics.boxes import ERRORS
from qualitylib.metrics.results import to_long

__all__ = [
    "BOX_COLORS",
    "ERROR_NAMES",
    "box_rate_colors",
    "box_rates",
    "box_rates_long",
    "error_bars",
    "error_labels",
    "f1_heatmap",
]

# precision and recall of boxes in every box chart (the TPR/FPR pair's colours are taken)
BOX_COLORS = {"Precision": "#1f6feb", "Recall": "#e07b39", "Mean IoU": "#2a9d8f"}
ERROR_NAMES = {
    "missed": "Missed",
    "extra": "Extra (background)",
    "wrong_class": "Wrong class",
    "poor_localization": "Poor localization",
    "duplicate": "Duplicate",
}
ERROR_COLORS = ["#d1495b", "#8e6bbf", "#e07b39", "#c9a227", "#9aa5b1"]


def box_rates_long(frame: pd.DataFrame, entity: str | list[str], period: str | None = None):
    """Precision and recall of a box result table (the ``<rate>, _ci_low, _ci_high, _n``
    pattern) in the long shape, metrics named ``Precision`` and ``Recall``."""
    long = to_long(frame, entity=entity, period=period, metrics=["precision", "recall"])
    return long.assign(metric=long["metric"].str.capitalize())


def box_rates(long: pd.DataFrame, y_title: str | None = None, title: str = "") -> alt.Chart:
    """Precision and recall with their 95 % Wilson intervals, one row per ``entity`` (a label
    or a person): ``entity, metric, value, ci_low, ci_high, n`` (:func:`box_rates_long`)."""
    data = long.dropna(subset=["value"])
    names = list(dict.fromkeys(data["entity"]))
    color = alt.Color(
        "metric:N",
        scale=alt.Scale(domain=["Precision", "Recall"], range=list(BOX_COLORS.values())[:2]),
        legend=alt.Legend(title=None, orient="top"),
    )
    base = alt.Chart(data).encode(
        y=alt.Y("entity:N", sort=names, title=y_title, axis=alt.Axis(labelOverlap=False)),
        yOffset=alt.YOffset("metric:N", sort=["Precision", "Recall"]),
        color=color,
    )
    bars = base.mark_rule(size=2, opacity=0.6).encode(
        x=alt.X("ci_low:Q", title="Rate (95 % interval)", scale=rate_scale(), axis=RATE_AXIS),
        x2="ci_high:Q",
    )
    points = base.mark_point(filled=True, size=70).encode(
        x=alt.X("value:Q", scale=rate_scale()),
        tooltip=[
            alt.Tooltip("entity:N", title=y_title or "Who"),
            alt.Tooltip("metric:N", title="Rate"),
            alt.Tooltip("value:Q", format=".1%"),
            alt.Tooltip("ci_low:Q", title="95 % CI low", format=".1%"),
            alt.Tooltip("ci_high:Q", title="95 % CI high", format=".1%"),
            alt.Tooltip("n:Q", title="n boxes", format=","),
        ],
    )
    return (bars + points).properties(height=alt.Step(18), title=title)


def error_labels(errors: pd.DataFrame) -> pd.DataFrame:
    """``error, label, n`` from :func:`~qualitylib.metrics.boxes.box_errors` rows: each error
    under the label it is about (the committee's box for missed, wrong class and poor
    localization; the given box for extra and duplicate)."""
    about = errors["reference_label"].where(
        errors["error"].isin(["missed", "wrong_class", "poor_localization"]), errors["label"]
    )
    return errors.assign(label=about).groupby(["error", "label"], as_index=False)["n"].sum()


def error_bars(errors: pd.DataFrame, title: str = "") -> alt.Chart:
    """Box errors by label, stacked by type: ``error, label, n`` where ``label`` is the label
    the error is about (the committee's for missed, wrong class and poor localization
    boxes, the given one for extra and duplicate boxes)."""
    data = errors.assign(kind=errors["error"].map(ERROR_NAMES))
    order = [ERROR_NAMES[e] for e in ERRORS]
    order = [*order[-1:], *order[:-1]]  # missed first
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("label:N", title=None, sort="-x", axis=alt.Axis(labelOverlap=False)),
            x=alt.X("sum(n):Q", title="Boxes"),
            color=alt.Color(
                "kind:N",
                title="Error",
                scale=alt.Scale(domain=order, range=ERROR_COLORS),
                legend=alt.Legend(orient="top", columns=3),
            ),
            order=alt.Order("kind:N", sort="ascending"),
            tooltip=[
                alt.Tooltip("label:N", title="Label"),
                alt.Tooltip("kind:N", title="Error"),
                alt.Tooltip("sum(n):Q", title="n boxes", format=","),
            ],
        )
        .properties(height=alt.Step(30), title=title)
    )


def f1_heatmap(
    pairs: pd.DataFrame, selection: alt.Parameter | None = None, title: str = ""
) -> alt.Chart:
    """Detection F1 of every pair of annotators as a square heatmap: ``annotator_a,
    annotator_b, f1, mean_iou, n_items, matched`` (one row per unordered pair, as from
    :func:`~qualitylib.metrics.boxes.box_agreement`); ``selection`` on the two names."""
    data = _symmetric(pairs[["annotator_a", "annotator_b", "f1", "mean_iou", "n_items", "matched"]])
    names = sorted(set(data["annotator_a"]))
    chart = (
        alt.Chart(data)
        .mark_rect(stroke="white")
        .encode(
            x=alt.X("annotator_a:N", sort=names, title=None, axis=alt.Axis(labelAngle=-40)),
            y=alt.Y("annotator_b:N", sort=names, title=None),
            color=alt.Color(
                "f1:Q", title="Detection F1", scale=alt.Scale(scheme="blues", domain=[0, 1])
            ),
            tooltip=[
                alt.Tooltip("annotator_a:N", title="Annotator"),
                alt.Tooltip("annotator_b:N", title="with"),
                alt.Tooltip("f1:Q", title="F1", format=".2f"),
                alt.Tooltip("mean_iou:Q", title="Mean IoU", format=".2f"),
                alt.Tooltip("matched:Q", title="matched boxes", format=","),
                alt.Tooltip("n_items:Q", title="n shared images", format=","),
            ],
        )
        .properties(height=max(HEIGHT, 26 * len(names)), title=title)
    )
    if selection is not None:
        chart = chart.add_params(selection).encode(
            opacity=alt.condition(selection, alt.value(1.0), alt.value(0.35))
        )
    return chart


def box_rate_colors() -> dict[str, str]:
    """Colours of the box rates over time (for :func:`qualitylib.charts.rate_over_time`)."""
    return {k: BOX_COLORS[k] for k in ("Precision", "Recall")}
