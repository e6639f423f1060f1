"""Overview, for the team lead: the team against the committee this week, alerts, training,
the review queue, and the trend of divergence on control items."""

from dataclasses import replace
from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard import common, data
from qualitylib import charts

STATUS_TEXT = {
    "in_training": "in training",
    "regressed": "regressed",
    "not_enough_data": "not enough data",
    "aligned": "aligned",
}

store = common.store()
filters = common.filters()
st.title("Overview")

monday = data.latest_week(store, filters)
if monday is None:
    st.info("No labels match the filters: widen the date range or clear the team filter.")
    st.stop()
previous = monday - timedelta(days=7)
production = replace(filters, phases=("production",))
this_week = data.team_summary(store, data.week_filters(production, monday))
last_week = data.team_summary(store, data.week_filters(production, previous))
st.caption(
    f"Week of {monday:%A %d %B %Y}, the latest week with labels, against the week before. "
    "Agreement counts production labels on control items (reference items mixed into the work)."
)

agreement, low, high, n = data.weekly_pooled(this_week, "accuracy")
before, *_, n_before = data.weekly_pooled(last_week, "accuracy")
delta = (
    f"{(agreement - before) * 100:+.1f} pts vs last week"
    if common.is_number(agreement) and common.is_number(before)
    else None
)
cards = st.columns(4, border=True)
with cards[0]:
    st.metric(
        "Team agreement",
        common.percent(agreement),
        delta,
        help="Team production labels on control items equal to the committee's decision",
    )
    st.caption(f"week of {monday:%d %b %Y}, the latest in the date range")
    st.caption(f"n = {n:,} control labels · {common.interval(low, high)}")
    st.caption(f"last week {common.percent(before)} (n = {n_before:,})")
day = data.as_of(store, filters)
with cards[1]:
    opened, _ = data.open_drift(store, filters)
    st.metric(
        "Open drift alerts",
        f"{len(opened):,}",
        help="People (or the whole team) x class whose drift alert was raised in the week of "
        "the date range's end or the week before, judged on their history up to that day. "
        "The same list is on Controls & drift and in the weekly report.",
    )
    st.caption(f"as of {day:%d %b %Y}, person x class" if day else "")
    shown = common.with_who(opened)
    by_person = shown.groupby("who", sort=True)["label"].agg(lambda s: ", ".join(sorted(set(s))))
    st.caption(
        "  \n".join(f"{who}: {labels}" for who, labels in by_person.items())
        or "no open alert: nobody drifts"
    )
with cards[2]:
    status = data.onboarding(store, filters, common.objective())
    groups = {key: status.loc[status["status"] == key, "annotator_id"] for key in STATUS_TEXT}
    st.metric(
        "In training",
        f"{len(groups['in_training']):,}",
        help="Onboarding status at the date range's end, judged on each person's reference "
        "labels up to that day (not only those in the range), for everyone who labelled in "
        "the range. Not enough data is not aligned.",
    )
    names = common.display_names(status["annotator_id"])
    st.caption(f"as of {day:%d %b %Y}, of {len(status):,} people" if day else "")
    st.caption(
        "  \n".join(
            f"{STATUS_TEXT[key]} ({len(ids):,})"
            + (f": {', '.join(names[a] for a in ids)}" if key != "aligned" else "")
            for key, ids in groups.items()
            if len(ids)
        )
        or "nobody has labels on reference items: not enough data"
    )
with cards[3]:
    waiting = data.queue(store, filters)
    more = "+" if len(waiting) >= data.MAX_QUEUE else ""
    st.metric(
        "Review queue",
        f"{len(waiting):,}{more}",
        help="Items labelled in the date range that annotators split on or were unsure about",
    )
    st.caption(f"items labelled {common.date_range()}")
    st.caption(
        f"{int(waiting['split'].sum()):,} flagged-vs-safe splits · "
        f"{int((waiting['n_unsure'] > 0).sum()):,} with unsure flags"
    )

st.subheader("Team divergence on control items")
weekly = common.with_who(data.divergence(store, filters))
if weekly["divergence"].notna().any():
    st.altair_chart(
        charts.divergence_chart(
            weekly.assign(
                week_start=pd.to_datetime(weekly["week_start"]), n=weekly["divergence_n"]
            ),
            title="",
        ),
        width="stretch",
    )
    st.caption("The team in dark, each annotator in grey. Details on Controls & drift.")
else:
    st.info("No production labels on control items: not enough data.")

st.subheader("By annotator, this week")
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
