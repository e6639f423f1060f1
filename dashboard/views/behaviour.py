"""Behaviour, for the team lead: who raised which flag, the evidence, and a link to the
person's debrief; then speed against accuracy and the full table."""

from urllib.parse import quote

import pandas as pd
import streamlit as st

from dashboard import common, people_data
from qualitylib.behaviour_charts import median_time_weekly, speed_accuracy
from qualitylib.display import FLAG_TEXT
from qualitylib.metrics.behaviour import FLAGS
from qualitylib.metrics.gold import GoldPlan

store = common.store()
filters = common.filters()
st.title("Behaviour")
st.caption(
    "Flags on the selected labels: answers too fast for their label (unless they are right), "
    "runs of one answer longer than the person's own mix explains, a label mix unlike the "
    "team's on the same batches, MACE's spam probability, and disagreement with oneself on "
    "items seen twice. Each flag's rule and false-alarm rate is in the README."
)


def flags_and_time() -> None:
    """The flags, their evidence, speed against accuracy and time on task (the whole log)."""
    table, evidence = people_data.behaviour(store, filters)
    if table.empty:
        st.info("No labels under these filters: not enough data.")
        common.stop()

    cards = st.columns(len(FLAGS), border=True)
    for card, flag in zip(cards, FLAGS, strict=True):
        card.metric(FLAG_TEXT[flag], f"{int(table[flag].sum()):,}", help="people flagged")

    st.subheader("Who is flagged")
    if evidence.empty:
        st.success(f"No flags among {len(table):,} people under these filters.")
    else:
        shown = common.people(evidence.assign(who=evidence["annotator_id"]), ["who"])
        rows = pd.DataFrame(
            {
                "Annotator": shown["who"],
                "Flag": shown["flag"].map(FLAG_TEXT),
                "Evidence": shown["evidence"],
            }
        )
        columns: dict[str, object] = {"Evidence": st.column_config.TextColumn(width="large")}
        if not common.pseudonyms_on():  # a link names the person: not under pseudonyms
            rows["Debrief"] = [f"/annotator?annotator={quote(a)}" for a in evidence["annotator_id"]]
            columns["Debrief"] = st.column_config.LinkColumn(display_text="open debrief")
        st.dataframe(rows, hide_index=True, column_config=columns, key="flagged")

    st.subheader("Speed against accuracy")
    points = common.with_who(table)
    st.altair_chart(speed_accuracy(points), width="stretch")
    st.caption(
        "One point per person with timed answers and reference answers; dashed: the team's "
        "medians. A fast expert sits to the left and high; a careless clicker to the left and low."
    )

    weeks = people_data.weekly_time(store, filters)
    timed = weeks[weeks["n_timed"] > 0]
    if not timed.empty:
        picked = st.multiselect(
            "Median time per item, week by week, for",
            sorted(timed["annotator_id"].unique()),
            default=sorted(evidence["annotator_id"].unique())[:5],
            format_func=common.display_names(timed["annotator_id"]).get,
            key="time_people",
        )
        if picked:
            chosen = common.with_who(timed[timed["annotator_id"].isin(picked)])
            st.altair_chart(median_time_weekly(chosen), width="stretch")

    with st.expander("All evidence, one row per person"):
        full = common.people(table.assign(shown=table["annotator_id"]), ["shown"])
        st.dataframe(
            pd.DataFrame(
                {
                    "Annotator": full["shown"],
                    "Labels": full["n_labels"],
                    "Median s": full["median_duration_s"].round(1),
                    "Too fast": [common.percent(v) for v in full["share_too_fast"]],
                    "Fast answers right": [common.percent(v) for v in full["too_fast_accuracy"]],
                    "Longest run": full["longest_same_run"],
                    "Label mix JS": full["label_mix_divergence"].round(4),
                    "Mix p": full["label_mix_p"].round(3),
                    "Spam probability": [common.percent(v) for v in full["spam_probability"]],
                    "Self kappa": [common.number(v) for v in full["self_kappa"]],
                    "Flags": full["flags"],
                }
            ),
            hide_index=True,
        )
    st.download_button(
        "Download the behaviour table (CSV)",
        common.csv_bytes(common.for_download(table)),
        file_name="behaviour.csv",
        mime="text/csv",
    )


if not common.needs_log("The section on behaviour flags and time on task"):
    flags_and_time()

st.subheader("Control items: budget and exposure")
left, right = st.columns(2)
width = left.number_input("Weekly TPR/FPR interval width", 0.05, 0.5, 0.2, 0.05, key="gold_width")
delay = right.number_input("Drift detected within … weeks", 0.5, 8.0, 2.0, 0.5, key="gold_delay")
budget, exposure = people_data.gold(store, filters, GoldPlan(width=width, delay_weeks=delay))
if budget.empty:
    st.info("No production labels on control items under these filters: not enough data.")
else:
    need = budget.iloc[0]
    st.caption(
        f"Each person needs about {need['needed_per_week']:,} control labels a week: "
        f"{need['needed_for_width']:,} for intervals {width:.2f} wide at the team's TPR "
        f"{common.percent(need['team_tpr'])} and FPR {common.percent(need['team_fpr'])}, "
        f"{need['needed_for_delay']:,} to catch a drift on {need['drift_class']} within "
        f"{delay:g} weeks. Week of {need['week_start']}:"
    )
    got = common.people(budget.assign(shown=budget["annotator_id"]), ["shown"])
    st.dataframe(
        pd.DataFrame(
            {
                "Annotator": got["shown"],
                "Control labels": got["controls_last_week"],
                "Positives": got["positives_last_week"],
                "Negatives": got["negatives_last_week"],
                "Needed": got["needed_per_week"],
                "Enough": got["enough"],
            }
        ),
        hide_index=True,
        key="gold_budget",
    )
    leaked = exposure[exposure["leaked"] | exposure["suspect_reference"]]
    st.metric("Control items to check", f"{len(leaked):,}", help="leaked or suspect reference")
    if not leaked.empty:
        st.dataframe(
            pd.DataFrame(
                {
                    "Item": leaked["item_id"],
                    "Why": [
                        "accuracy climbs with exposure (leaked?)" if lk else "everyone fails it"
                        for lk in leaked["leaked"]
                    ],
                    "Shown": leaked["n_shown"],
                    "People": leaked["n_annotators"],
                    "Accuracy": [common.percent(v) for v in leaked["accuracy"]],
                    "Trend z": leaked["trend_z"].round(2),
                }
            ),
            hide_index=True,
            key="gold_items",
        )
