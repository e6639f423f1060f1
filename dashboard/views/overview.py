"""Overview, for the team lead: the team against the committee this week, alerts, training,
the review queue, and the trend of divergence on control items."""

from dataclasses import replace
from datetime import timedelta

import streamlit as st

from dashboard import common, data
from qualitylib import charts
from qualitylib.display import STATUS, alerted_labels, points

store = common.store()
filters = common.filters()
st.title("Overview")

top = data.headlines(store, filters, common.objective())
monday, day = top.week_start, top.as_of
if monday is None:
    st.info("No labels match the filters: widen the date range or clear the team filter.")
    common.stop()
previous = monday - timedelta(days=7)
st.caption(
    f"Week of {monday:%A %d %B %Y}, the latest week with labels, against the week before. "
    "Agreement counts production labels on control items (reference items mixed into the work)."
)

week, before = top.week.iloc[0], top.previous.iloc[0]
change = points(week["accuracy"] - before["accuracy"])
cards = st.columns(4, border=True)
with cards[0]:
    st.metric(
        "Team agreement",
        common.percent(week["accuracy"]),
        f"{change} vs last week" if change else None,
        help="Team production labels on control items equal to the committee's decision",
    )
    st.caption(f"week of {monday:%d %b %Y}, the latest in the date range")
    st.caption(
        f"n = {int(week['accuracy_n']):,} control labels · "
        f"{common.interval(week['accuracy_ci_low'], week['accuracy_ci_high'])}"
    )
    st.caption(
        f"last week {common.percent(before['accuracy'])} (n = {int(before['accuracy_n']):,})"
    )
with cards[1]:
    st.metric(
        "Open drift alerts",
        f"{len(top.alerts):,}",
        help="People (or the whole team) x class whose drift alert was raised in the week of "
        "the date range's end or the week before, judged on their history up to that day. "
        "The same list is on Controls & drift and in the weekly report.",
    )
    st.caption(f"as of {day:%d %b %Y}, person x class" if day else "")
    alerted = alerted_labels(top.alerts)
    team = alerted.pop(None, [])
    names = common.display_names(list(alerted))
    st.caption(
        "  \n".join(
            ([f"whole team: {', '.join(team)}"] if team else [])
            + [f"{names[who]}: {', '.join(labels)}" for who, labels in alerted.items()]
        )
        or "no open alert: nobody drifts"
    )
with cards[2]:
    status = top.status
    order = ("in_training", "regressed", "not_enough_data", "aligned")
    groups = {key: status.loc[status["status"] == key, "annotator_id"] for key in order}
    st.metric(
        "In training",
        f"{len(top.in_training):,}",
        help="Onboarding status at the date range's end, judged on each person's reference "
        "labels up to that day (not only those in the range), for everyone who labelled in "
        "the range. Not enough data is not aligned.",
    )
    names = common.display_names(status["annotator_id"])
    st.caption(f"as of {day:%d %b %Y}, of {len(status):,} people" if day else "")
    st.caption(
        "  \n".join(
            f"{STATUS[key]} ({len(ids):,})"
            + (f": {', '.join(names[a] for a in ids)}" if key != "aligned" else "")
            for key, ids in groups.items()
            if len(ids)
        )
        or "nobody has labels on reference items: not enough data"
    )
with cards[3]:
    fetched, splits, unsure = data.queue_counts(store, filters)
    st.metric(
        "Review queue",
        f"{top.review_queue_size:,}",
        help="Items labelled in the date range that annotators split on or were unsure about",
    )
    st.caption(f"items labelled {common.date_range()}")
    more = f" (of the top {fetched:,})" if top.review_queue_size > fetched else ""
    st.caption(f"{splits:,} flagged-vs-safe splits · {unsure:,} with unsure flags{more}")

st.subheader("Team divergence on control items")
weekly = data.divergence(store, filters)
if weekly["divergence"].notna().any():
    shown = common.display_names(weekly["annotator_id"].dropna())
    st.altair_chart(
        charts.divergence_chart(charts.divergence_data(weekly, shown), title=""),
        width="stretch",
    )
    st.caption("The team in dark, each annotator in grey. Details on Controls & drift.")
else:
    st.info("No production labels on control items: not enough data.")

st.subheader("By annotator, this week")
production = replace(filters, phases=("production",))
now = data.summary(store, data.week_filters(production, monday))
then = data.summary(store, data.week_filters(production, previous))
table = now[["annotator_id", "accuracy_n", "accuracy", "accuracy_ci_low", "accuracy_ci_high"]]
table = table.assign(tpr=now["tpr"], fpr=now["fpr"]).merge(
    then[["annotator_id", "accuracy"]].rename(columns={"accuracy": "last_week"}),
    on="annotator_id",
    how="left",
)
table["interval"] = [
    common.interval(lo, hi, prefix=False)
    for lo, hi in zip(table.pop("accuracy_ci_low"), table.pop("accuracy_ci_high"), strict=True)
]
table = common.rate_cells(table, ["accuracy", "last_week", "tpr", "fpr"])
st.dataframe(
    common.people(table),
    hide_index=True,
    column_order=["annotator_id", "accuracy_n", "accuracy", "interval", "last_week", "tpr", "fpr"],
    column_config={
        "annotator_id": "Annotator",
        "accuracy_n": st.column_config.NumberColumn("n control labels", format="%d"),
        "accuracy": "Agreement",
        "interval": "95 % CI",
        "last_week": "Last week",
        "tpr": st.column_config.TextColumn("TPR", help="Flagged items they flagged too"),
        "fpr": st.column_config.TextColumn("FPR", help="Safe items they flagged"),
    },
)
