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
    common.stop()
weekly = common.with_who(weekly)
alerted = sorted(
    set(common.with_who(data.alerts(store, filters)).query("scope == 'annotator'")["who"])
)

st.subheader("Divergence week by week")
people = sorted(set(weekly.loc[weekly["scope"] == "annotator", "who"]))
chosen = st.multiselect(
    "Highlight",
    people,
    default=alerted,
    help="Drawn in colour beside the team; everyone else is grey. Starts with anyone alerted.",
)
chart_data = charts.divergence_data(weekly.assign(annotator_id=weekly["who"]))
st.altair_chart(
    charts.divergence_chart(chart_data, highlight=[charts.TEAM, *chosen], title=""),
    width="stretch",
)

st.subheader("Open drift alerts")
opened, day = data.open_drift(store, filters)
st.caption(
    "An alert is raised when an annotator's (or the whole team's) divergence on one class "
    "rises well above their own baseline, beyond what the rest of the team shows that week "
    "(a one-sided CUSUM; the class is the committee decision they depart from). People are "
    "watched from their first week aligned with the onboarding objective: trainees are on the "
    "Onboarding page. An alert is open in the week it was raised and the week after."
)
column_config = {
    "week_start": st.column_config.DateColumn("Week of"),
    "who": "Who",
    "label": st.column_config.TextColumn("Class", help="The committee label they depart from"),
    "divergence": "Divergence that week",
    "baseline": "Expected",
    "errors": st.column_config.NumberColumn("Disagreements", format="%d"),
    "n": st.column_config.NumberColumn("n control labels", format="%d"),
    "alert_weeks": st.column_config.NumberColumn("Weeks alerted (of the last 2)", format="%d"),
}


def _table(alerts: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Alert rows as shown: the person's name (or pseudonym) and rates as percentages."""
    return common.with_who(alerts)[columns].assign(
        divergence=lambda d: [common.percent(v) for v in d["divergence"]],
        baseline=lambda d: [common.percent(v) for v in d["baseline"]],
    )


shown = common.only_labels(opened, "label")
st.markdown(
    f"**{len(opened):,}** open as of {day:%d %b %Y} (person x class)" if day else "**0** open"
)
if shown.empty:
    st.success("No open drift alert under these filters.", icon=":material/check_circle:")
else:
    st.dataframe(
        _table(shown, ["who", "label", "week_start", "alert_weeks", "divergence", "baseline",
                       "errors", "n"]),
        hide_index=True,
        column_config=column_config,
    )  # fmt: skip
found = common.only_labels(data.alerts(store, filters), "label")
with st.expander(f"Every alert raised in {common.date_range()} ({len(found):,} alert weeks)"):
    if found.empty:
        st.info("No drift alert was raised in the date range.")
    else:
        st.dataframe(
            _table(
                found.sort_values("week_start", ascending=False),
                ["week_start", "who", "label", "divergence", "baseline", "errors", "n"],
            ),
            hide_index=True,
            column_config=column_config,
        )
    st.download_button(
        "Download the alerts (CSV)",
        common.csv_bytes(common.for_download(found)),
        file_name="drift_alerts.csv",
        mime="text/csv",
        disabled=found.empty,
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
