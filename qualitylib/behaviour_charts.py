"""Altair charts of the people analytics (speed against accuracy, SPRT paths), pure builders
like :mod:`qualitylib.charts`: a tidy DataFrame in, an ``alt.Chart`` out."""

from __future__ import annotations

import altair as alt
import pandas as pd

from qualitylib.charts import ACCENT, HEIGHT, MUTED, RATE_COLORS


def speed_accuracy(people: pd.DataFrame, title: str = "Speed against accuracy") -> alt.Chart:
    """One point per person: median seconds per item (log scale) against accuracy on the
    reference, with the team's medians as rules; flagged people in the accent colour.

    ``people``: ``who, median_duration_s, accuracy, accuracy_n, flags``. People without
    timed answers or reference answers are left out.
    """
    data = people.dropna(subset=["median_duration_s", "accuracy"]).assign(
        flagged=lambda f: f["flags"].fillna("").ne("")
    )
    points = (
        alt.Chart(data)
        .mark_circle(size=90)
        .encode(
            x=alt.X("median_duration_s:Q", scale=alt.Scale(type="log"), title="Median s per item"),
            y=alt.Y("accuracy:Q", title="Accuracy vs committee", axis=alt.Axis(format="%")),
            color=alt.Color(
                "flagged:N",
                scale=alt.Scale(domain=[False, True], range=[MUTED, ACCENT]),
                legend=alt.Legend(title="Flagged"),
            ),
            tooltip=[
                alt.Tooltip("who:N", title="Annotator"),
                alt.Tooltip("median_duration_s:Q", title="Median s", format=".1f"),
                alt.Tooltip("accuracy:Q", title="Accuracy", format=".1%"),
                alt.Tooltip("accuracy_n:Q", title="n reference"),
                alt.Tooltip("flags:N", title="Flags"),
            ],
        )
    )
    medians = pd.DataFrame(
        {"x": [data["median_duration_s"].median()], "y": [data["accuracy"].median()]}
    )
    x_rule = alt.Chart(medians).mark_rule(strokeDash=[4, 4], color=MUTED).encode(x="x:Q")
    y_rule = alt.Chart(medians).mark_rule(strokeDash=[4, 4], color=MUTED).encode(y="y:Q")
    return (points + x_rule + y_rule).properties(title=title, height=HEIGHT)


def sprt_paths_chart(
    paths: pd.DataFrame, upper: float, lower: float, title: str = "Sequential test"
) -> alt.Chart:
    """Each trainee's running log-likelihood ratios (TPR and FPR) by reference label, with the
    boundaries: at or above ``upper`` a test accepts "meets the objective", at or below
    ``lower`` "does not". ``paths``: ``who, seq, llr_tpr, llr_fpr``."""
    long = paths.melt(
        id_vars=["who", "seq"], value_vars=["llr_tpr", "llr_fpr"], var_name="rate", value_name="llr"
    )
    long["rate"] = long["rate"].map({"llr_tpr": "TPR", "llr_fpr": "FPR"})
    lines = (
        alt.Chart(long)
        .mark_line()
        .encode(
            x=alt.X("seq:Q", title="Reference labels"),
            y=alt.Y("llr:Q", title="Log-likelihood ratio"),
            color=alt.Color(
                "rate:N",
                scale=alt.Scale(domain=list(RATE_COLORS), range=list(RATE_COLORS.values())),
            ),
            detail="who:N",
            strokeDash=alt.StrokeDash("who:N", legend=alt.Legend(title="Trainee")),
            tooltip=["who:N", "rate:N", "seq:Q", alt.Tooltip("llr:Q", format=".2f")],
        )
    )
    bounds = pd.DataFrame({"y": [upper, lower], "what": ["meets", "does not meet"]})
    rules = alt.Chart(bounds).mark_rule(color=MUTED).encode(y="y:Q", tooltip=["what:N"])
    return (lines + rules).properties(title=title, height=HEIGHT)


def median_time_weekly(weeks: pd.DataFrame, title: str = "Median time per item") -> alt.Chart:
    """Median seconds per item week by week per person, with the order-statistic 95 %
    interval as a band. ``weeks``: ``who, week_start, median_duration_s,
    median_duration_s_ci_low, median_duration_s_ci_high, n_timed``."""
    data = weeks.dropna(subset=["median_duration_s"])
    base = alt.Chart(data).encode(
        x=alt.X("week_start:T", title="Week"), color=alt.Color("who:N", title="Annotator")
    )
    band = base.mark_area(opacity=0.15).encode(
        y=alt.Y("median_duration_s_ci_low:Q", title="Median s per item"),
        y2="median_duration_s_ci_high:Q",
    )
    line = base.mark_line(point=True).encode(
        y="median_duration_s:Q",
        tooltip=[
            alt.Tooltip("who:N", title="Annotator"),
            alt.Tooltip("week_start:T", title="Week"),
            alt.Tooltip("median_duration_s:Q", title="Median s", format=".1f"),
            alt.Tooltip("n_timed:Q", title="n timed"),
        ],
    )
    return (band + line).properties(title=title, height=HEIGHT)
