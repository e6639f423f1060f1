"""Annotator debrief, for the trainer: one person against the committee, where they err
(classes and items), and how their rates move week by week."""

from dataclasses import replace

import pandas as pd
import streamlit as st

from dashboard import common, data
from qualitylib import charts

store = common.store()
filters = common.filters()
st.title("Annotator")

everyone = data.annotators(store)
workers = everyone[everyone["role"] != "committee"]
own = common.user().annotator_id  # an annotator sees their own debrief, and no picker
kept = [own] if own is not None else data.kept(store, filters)  # only whom the filters keep
names = common.display_names(kept)
if not names:
    st.info("No annotator has labels under these filters: widen them, or import some.")
    common.stop()
if own is not None:
    if own not in set(workers["annotator_id"]):
        st.info("You have no labels in the store yet: not enough data.")
        common.stop()
    person = own
    st.subheader(names[own])
else:
    person = common.person_picker(kept, names, "annotator")
    common.link_to(person)  # a link to this page opens this person
name = names[person]
row = workers.set_index("annotator_id").loc[person]
started = f"started {row['started_at']:%d %b %Y}" if pd.notna(row["started_at"]) else ""
st.caption(" · ".join(part for part in (f"team {row['team']}", started) if part))

mine = replace(filters, annotators=(person,))
summary = data.summary(store, mine)
if summary.empty:
    st.info(f"{name} has no labels on reference items under these filters: not enough data.")
    common.stop()
me = summary.iloc[0]
cards = st.columns(4, border=True)
for card, (rate, title, help_text) in zip(
    cards,
    [
        ("accuracy", "Agreement", "Labels equal to the committee's reference decision"),
        ("tpr", "True positive rate", "Flagged reference items they flagged (any reason)"),
        ("fpr", "False positive rate", "Safe reference items they flagged"),
        ("kappa", "Cohen's κ vs reference", "Agreement beyond chance with the committee"),
    ],
    strict=True,
):
    with card:
        value = me[rate]
        text = common.number(value) if rate == "kappa" else common.percent(value)
        st.metric(title, text, help=help_text)
        st.caption(
            f"n = {int(me[f'{rate}_n']):,} · "
            f"{common.interval(me[f'{rate}_ci_low'], me[f'{rate}_ci_high'], rate != 'kappa')}"
        )

left, right = st.columns(2)
with left:
    confusion = data.confusion(store, mine)
    labels = data.options(store)["labels"]
    st.markdown("**Confusion with the committee** (rows: committee, columns: given)")
    st.altair_chart(
        charts.confusion_heatmap(confusion[confusion["annotator_id"] == person], labels, title=""),
        width="stretch",
    )
with right:
    classes = pd.DataFrame(
        {
            "label": labels,
            "n": [int(me[f"tpr_{label}_n"]) for label in labels],
            "recall": [common.percent(me[f"tpr_{label}"]) for label in labels],
            "precision": [common.percent(me[f"precision_{label}"]) for label in labels],
        }
    )
    st.markdown("**By class** (one class against the rest)")
    st.dataframe(
        classes,
        hide_index=True,
        column_config={
            "label": "Reference label",
            "n": st.column_config.NumberColumn("n reference items", format="localized"),
            "recall": st.column_config.TextColumn(
                "Recall", help="Of items the committee gave this label"
            ),
            "precision": st.column_config.TextColumn(
                "Precision", help="Of items they gave this label"
            ),
        },
    )

st.subheader("Week by week")
weeks = data.weekly(store, mine)
tidy = charts.rates_long(weeks)
if tidy["value"].notna().any():
    goal = common.objective()
    objectives = pd.DataFrame({"metric": ["TPR", "FPR"], "value": [goal.tpr_min, goal.fpr_max]})
    st.altair_chart(charts.rate_over_time(tidy, objectives), width="stretch")
    st.caption(
        "Dashed: the onboarding objective (set on the Onboarding page). Bands: 95 % Wilson "
        "intervals. Weeks without reference labels are left out."
    )
else:
    st.info("No week has labels on reference items: not enough data.")

st.subheader("Misses on reference items")
focus = common.label_focus()
misses, total = data.misses(store, filters, person, focus)
hide = st.toggle("Hide images", value=True, help="Images can be distasteful: off shows them.")
more = f" (latest {len(misses):,} shown)" if total > len(misses) else ""
about = f" on items the committee labelled {', '.join(focus)}" if focus else ""
st.markdown(f"**{total:,}** labels differ from the committee{about}{more}.")
if len(misses):
    st.dataframe(
        misses.assign(
            image=[common.thumbnail(u, hide) for u in misses["uri"]],
            given_reason=misses["given_reason"].fillna(""),
            reference_reason=misses["reference_reason"].fillna(""),
        )[
            [
                "image",
                "item_id",
                "annotated_at",
                "reference_label",
                "reference_reason",
                "given_label",
                "given_reason",
                "unsure",
                "phase",
                "policy_version",
            ]
        ],
        hide_index=True,
        column_config={
            "image": st.column_config.ImageColumn("Image"),
            "item_id": "Item",
            "annotated_at": st.column_config.DatetimeColumn(
                "When (UTC)", format="YYYY-MM-DD HH:mm"
            ),
            "reference_label": "Committee said",
            "reference_reason": "Committee's reason",
            "given_label": f"{name} said",
            "given_reason": "Their reason",
            "unsure": "Unsure",
            "phase": "Phase",
            "policy_version": "Policy",
        },
    )
debrief = common.for_download(misses.assign(annotator_id=person))
file_name = f"debrief_{debrief['annotator_id'].iloc[0] if len(debrief) else person}.csv"
st.download_button(
    "Download the debrief (CSV)",
    common.csv_bytes(debrief),
    file_name=file_name.replace(" ", "-"),
    mime="text/csv",
    disabled=debrief.empty,
)
