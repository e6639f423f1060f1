"""Controls & drift, for the team lead: who diverges from the committee on control items,
week by week, and the drift alerts with the class they are about."""

import pandas as pd
import streamlit as st

from dashboard import common, data
from qualitylib import charts

store = common.store()
filters = common.filters()
st.title("Controls & drift")
st.caption(
    "Control items are reference items mixed unannounced into production work. Divergence is "
    "the share of production labels on them that differ from the committee's decision."
)

weekly = data.divergence(store, filters)
if weekly.empty:
    st.info("No production labels on control items under these filters: not enough data.")
    st.stop()
weekly = common.with_who(weekly)
found = common.with_who(data.alerts(store, filters))
alerted = sorted(set(found.loc[found["scope"] == "annotator", "who"]))

st.subheader("Divergence week by week")
people = sorted(set(weekly.loc[weekly["scope"] == "annotator", "who"]))
chosen = st.multiselect(
    "Highlight",
    people,
    default=alerted,
    help="Drawn in colour beside the team; everyone else is grey. Starts with anyone alerted.",
)
chart_data = weekly.assign(
    week_start=pd.to_datetime(weekly["week_start"]), n=weekly["divergence_n"]
)
st.altair_chart(
    charts.divergence_chart(chart_data, highlight=[charts.TEAM, *chosen], title=""),
    width="stretch",
)

st.subheader("Drift alerts")
st.caption(
    "An alert is raised when an annotator's (or the whole team's) divergence on one class "
    "rises well above their own baseline, beyond what the rest of the team shows that week "
    "(a one-sided CUSUM; the class is the committee decision they depart from)."
)
shown = common.only_labels(found, "label")
if shown.empty:
    st.success("No drift alerts under these filters.", icon=":material/check_circle:")
else:
    st.dataframe(
        shown.sort_values("week_start", ascending=False)[
            ["week_start", "who", "label", "divergence", "baseline", "errors", "n"]
        ].assign(
            divergence=lambda d: [common.percent(v) for v in d["divergence"]],
            baseline=lambda d: [common.percent(v) for v in d["baseline"]],
        ),
        hide_index=True,
        column_config={
            "week_start": st.column_config.DateColumn("Week of"),
            "who": "Who",
            "label": st.column_config.TextColumn(
                "Class", help="The committee label they depart from"
            ),
            "divergence": "Divergence that week",
            "baseline": "Expected",
            "errors": st.column_config.NumberColumn("Disagreements", format="%d"),
            "n": st.column_config.NumberColumn("n control labels", format="%d"),
        },
    )
    st.download_button(
        "Download alerts (CSV)",
        common.csv_bytes(common.for_download(found.drop(columns="who"))),
        file_name="drift_alerts.csv",
        mime="text/csv",
    )

st.subheader("Latest week")
latest = weekly["week_start"].max()
now = weekly[weekly["week_start"] == latest].sort_values("divergence", ascending=False)
st.caption(f"Week of {latest:%d %B %Y}.")
st.dataframe(
    pd.DataFrame(
        {
            "Who": now["who"],
            "n control labels": now["divergence_n"],
            "Divergence": [common.percent(v) for v in now["divergence"]],
            "Interval": [
                common.interval(lo, hi)
                for lo, hi in zip(now["divergence_ci_low"], now["divergence_ci_high"], strict=True)
            ],
            "Own baseline": [common.percent(v) for v in now["own_baseline"]],
            "Rest of team": [
                "" if scope == "team" else common.percent(v)
                for scope, v in zip(now["scope"], now["rest_of_team"], strict=True)
            ],
        }
    ),
    hide_index=True,
)
