"""Review queue, for the committee: items where annotators split or say they are unsure,
most contested first, to rule on (and to download)."""

import pandas as pd
import streamlit as st

from dashboard import box_views, common, data, people_data
from qualitylib.display import votes_text
from qualitylib.export import with_votes_text

store = common.store()
filters = common.filters()
st.title("Review queue")
st.caption(
    "Items ranked by vote entropy (how evenly the labels split, in bits) plus the share of "
    "'unsure' flags. Items the committee ruled on after their latest label are left out."
)
if box_views.kind(store, "review_kind") == "Boxes":
    box_views.review(store, filters)
    common.stop()


def suspect_references() -> None:
    """Control items everyone fails: the reference itself may be wrong."""
    suspect = people_data.suspect_references(store, filters)
    if suspect.empty:
        return
    st.subheader("Control items everyone fails")
    st.caption(
        "Reference items at least 3 people labelled, whose accuracy's 95 % interval lies "
        "below 50 %: the committee's decision may be the mistake. Rule on them again."
    )
    st.dataframe(
        pd.DataFrame(
            {
                "Item": suspect["item_id"],
                "Shown": suspect["n_shown"],
                "People": suspect["n_annotators"],
                "Accuracy": [common.percent(v) for v in suspect["accuracy"]],
                "95 % CI up to": [common.percent(v) for v in suspect["accuracy_ci_high"]],
            }
        ),
        hide_index=True,
        key="suspect_references",
    )


items = data.queue(store, filters)
if items.empty:
    st.success("Nothing to review under these filters.", icon=":material/check_circle:")
    suspect_references()
    common.stop()

left, middle, right = st.columns(3)
split_only = left.toggle("Only flagged-vs-safe splits", help="Votes on both sides of the policy")
unsure_only = middle.toggle("Only items flagged unsure")
undecided = right.toggle("Only items without a committee decision")
most = int(items["n_annotators"].max())
minimum = st.slider("At least this many annotators", 1, most, 1) if most > 1 else 1
if common.needs_log("Estimating each item's confidence and 'More labels' (all its answers)"):
    needs = pd.DataFrame(columns=["item_id", "confidence", "more_labels"])
else:
    target = st.number_input(
        "Target confidence",
        0.5,
        0.999,
        0.95,
        0.01,
        key="needs_target",
        help="Posterior confidence an item should reach (Dawid-Skene with each annotator's "
        "confusion from the reference set); 'More labels' is how many more it likely needs.",
    )
    needs = data.label_needs(store, filters, target)

shown = common.only_labels(items, "majority_label")
shown = shown.merge(needs[["item_id", "confidence", "more_labels"]], on="item_id", how="left")
shown = shown[shown["n_annotators"] >= minimum]
if split_only:
    shown = shown[shown["split"]]
if unsure_only:
    shown = shown[shown["n_unsure"] > 0]
if undecided:
    shown = shown[shown["reference_label"].isna()]

total = data.queue_size(store, filters)
listed = f" (the top {len(items):,} are listed)" if total > len(items) else ""
st.markdown(f"**{len(shown):,}** of {total:,} items in the queue match{listed}.")
hide = st.toggle("Hide images", value=True, help="Images can be distasteful: off shows them.")
names = common.display_names(data.annotators(store)["annotator_id"])
table = shown.drop(columns="votes").assign(
    image=[common.thumbnail(u, hide) for u in shown["uri"]],
    labels=[votes_text(v, names) for v in shown["votes"]],
    reference_label=shown["reference_label"].fillna(""),
)
st.dataframe(
    table,
    hide_index=True,
    column_order=[
        "image",
        "item_id",
        "score",
        "vote_entropy",
        "confidence",
        "more_labels",
        "n_labels",
        "n_unsure",
        "majority_label",
        "labels",
        "reference_label",
        "last_label_at",
    ],  # fmt: skip
    column_config={
        "image": st.column_config.ImageColumn("Image"),
        "item_id": "Item",
        "score": st.column_config.NumberColumn("Score", format="%.2f"),
        "vote_entropy": st.column_config.NumberColumn("Entropy (bits)", format="%.2f"),
        "confidence": st.column_config.NumberColumn(
            "Confidence", format="%.3f", help="Empty: already at the target, or a reference item"
        ),
        "more_labels": st.column_config.NumberColumn("More labels", format="%d"),
        "n_labels": st.column_config.NumberColumn("n labels", format="%d"),
        "n_unsure": st.column_config.NumberColumn("Unsure", format="%d"),
        "majority_label": "Majority",
        "labels": st.column_config.TextColumn("Who said what", help="? marks an unsure label"),
        "reference_label": "Committee",
        "last_label_at": st.column_config.DatetimeColumn("Last label", format="YYYY-MM-DD"),
    },
)
pseudonymous = names if common.pseudonyms_on() else {}  # downloads keep ids otherwise
st.download_button(
    "Download the queue (CSV)",
    common.csv_bytes(with_votes_text(shown, pseudonymous)),
    file_name="review_queue.csv",
    mime="text/csv",
)
suspect_references()
