"""Box debrief, for the trainer of a box-drawing team: one person's boxes against the
committee (precision, recall, F1, mean IoU), their errors by type and label, and the images
they got wrong with both sets of boxes drawn, to debrief from the picture."""

from dataclasses import replace

import pandas as pd
import streamlit as st

from dashboard import box_data, common
from qualitylib import box_charts, charts
from qualitylib.box_charts import ERROR_NAMES
from qualitylib.display import STATUS
from qualitylib.metrics.boxes import ERRORS, NOTHING

store = common.store()
filters = common.filters()
st.title("Box debrief")
if not box_data.has_boxes(store):
    st.info("This store holds no boxes: import some with `qualitylib import --kind boxes`.")
    common.stop()

own = common.user().annotator_id  # an annotator sees their own debrief, and no picker
kept = [own] if own is not None else box_data.kept(store, filters)
names = common.display_names(kept)
if not names:
    st.info("Nobody has boxes under these filters: widen them, or import some.")
    common.stop()
left, right = st.columns([3, 1])
with left:
    if own is not None:
        person = own
        st.subheader(names[own])
    else:
        person = common.person_picker(kept, names, "box_annotator")
        common.link_to(person)
with right:
    iou = st.select_slider(
        "IoU threshold",
        options=[0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9],
        value=0.5,
        key="box_iou",
        help="A box matches the committee's when they overlap at least this much "
        "(intersection over union) and carry the same label.",
    )
name = names[person]

mine = replace(filters, annotators=(person,))


def _scored(frame: pd.DataFrame) -> bool:
    return not frame.empty and frame["precision_n"].iloc[0] + frame["recall_n"].iloc[0] > 0


summary, by_label = box_data.scores(store, mine, iou)
against = "the committee"
if not _scored(summary):
    # a gold-free worker: scored against the consensus of the others (leave-one-out)
    everyone = box_data.summary(store, filters, iou, against="consensus")  # the others too
    summary = everyone[everyone["annotator_id"] == person]
    against = "the consensus of the others"
    if not _scored(summary):
        st.info(
            f"{name} has no boxes on images the committee decided or other workers boxed, "
            "under these filters: not enough data."
        )
        common.stop()
    st.info(
        f"{name} has no boxes on images the committee decided: scored against the consensus "
        "of the other workers on the same images (each object a majority of them drew).",
        icon=":material/groups:",
    )
me = summary.iloc[0]
st.caption(
    f"{int(me['n_items']):,} images boxed ({common.date_range()}) · "
    f"{int(me['tp']):,} boxes matched, {int(me['fp']):,} given for nothing, "
    f"{int(me['fn']):,} of {against}'s missed, at IoU ≥ {iou:.2f}."
)
cards = st.columns(4, border=True)
for card, (rate, title, help_text) in zip(
    cards,
    [
        ("precision", "Precision", f"Their boxes that match one of {against}'s"),
        ("recall", "Recall", f"The boxes of {against} they found"),
        ("f1", "F1", f"2 matched / (their boxes + those of {against})"),
        ("mean_iou", "Mean IoU", f"How tightly their matched boxes fit those of {against}"),
    ],
    strict=True,
):
    with card:
        shown = common.number(me[rate]) if rate == "mean_iou" else common.percent(me[rate])
        st.metric(title, shown, help=help_text)
        if rate == "f1":
            st.caption(f"n = {int(me['f1_n']):,} boxes (theirs + {against}'s)")
        else:
            band = common.interval(
                me[f"{rate}_ci_low"], me[f"{rate}_ci_high"], as_percent=rate != "mean_iou"
            )
            unit = "matched pairs" if rate == "mean_iou" else "boxes"
            st.caption(f"n = {int(me[f'{rate}_n']):,} {unit} · {band}")

if against != "the committee":
    st.caption("Errors by label and the images with errors need the committee's boxes.")
    common.stop()
st.subheader("Week by week")
with st.expander("Onboarding objective for boxes"):
    goal_left, goal_right = st.columns(2)
    recall_min = goal_left.number_input(
        "Recall at least", 0.0, 1.0, 0.85, 0.01, key="box_recall_min",
        help="Share of the committee's boxes found, over the last 30 reference images.",
    )  # fmt: skip
    precision_min = goal_right.number_input(
        "Precision at least", 0.0, 1.0, 0.90, 0.01, key="box_precision_min",
        help="Share of their boxes matching the committee's, over the same images.",
    )  # fmt: skip
# a status judges the whole history up to the range's end (box_onboarding)
status = box_data.onboarding(store, mine, recall_min, precision_min, iou)
if len(status):
    row = status.iloc[0]
    since = f" since {row['since']:%d %b %Y}" if pd.notna(row["since"]) else ""
    st.markdown(
        f"Onboarding: **{STATUS[row['status']]}**{since} · last {int(row['window_n'])} "
        f"reference images: recall {common.percent(row['recall'])}, precision "
        f"{common.percent(row['precision'])} (objective {recall_min:.0%} and {precision_min:.0%})"
    )
weeks = box_data.timeline(store, mine, iou)
tidy = box_charts.box_rates_long(weeks, [], "period_start").drop(columns="entity")
if tidy["value"].notna().any():
    objectives = pd.DataFrame(
        {"metric": ["Recall", "Precision"], "value": [recall_min, precision_min]}
    )
    st.altair_chart(
        charts.rate_over_time(tidy, objectives, title="", colors=box_charts.box_rate_colors()),
        width="stretch",
    )
    st.caption(
        "Dashed: the onboarding objective. Bands: 95 % Wilson intervals. Weeks without "
        "committee images are left out."
    )
else:
    st.info("No week has boxes on committee images: not enough data.")
raised = box_data.alerts(store, mine, recall_min, precision_min, iou)
raised = common.only_labels(raised[raised["annotator_id"] == person], "label")
if len(raised):
    st.warning(
        f"Drift on control images: {len(raised)} alert(s) in the range, on "
        + ", ".join(
            f"{r.label} (week of {pd.Timestamp(r.week_start):%d %b}, 1 - F1 "
            f"{common.percent(r.divergence)}, n = {int(r.n)})"
            for r in raised.itertuples()
        ),
        icon=":material/trending_up:",
    )

focus = common.label_focus()
left, right = st.columns(2)
with left:
    by_label = common.only_labels(by_label, "label")
    st.markdown("**By label** (precision of their boxes, recall of the committee's)")
    if by_label.empty:
        st.info("No boxes of these labels: not enough data.")
    else:
        st.altair_chart(
            box_charts.box_rates(box_charts.box_rates_long(by_label, "label"), "Label"),
            width="stretch",
        )
with right:
    errors = box_data.errors(store, mine, iou)
    about = box_charts.error_labels(errors)
    about = common.only_labels(about, "label")
    st.markdown("**Errors by label**")
    if about.empty:
        st.success("No box errors under these filters.", icon=":material/check_circle:")
    else:
        st.altair_chart(box_charts.error_bars(about), width="stretch")
if st.toggle("Detection confusion with the committee", key="box_confusion_on"):
    confusion = box_data.confusion(store, mine, iou)
    labels = sorted(set(confusion["reference_label"]) | set(confusion["label"]) - {NOTHING})
    st.altair_chart(
        charts.confusion_heatmap(confusion, [*labels, NOTHING], title=""), width="stretch"
    )
    st.caption(
        "Rows: the committee's boxes; columns: theirs. Boxes matched at the IoU threshold "
        f"(same or another label) meet in a cell; every other box meets '{NOTHING}'."
    )

st.subheader("Images with errors")
misses, total = box_data.misses(store, mine, person, focus, iou)
about = f" involving {', '.join(focus)}" if focus else ""
more = f" (latest {len(misses):,} shown)" if total > len(misses) else ""
st.markdown(f"**{total:,}** images where {name}'s boxes differ from the committee's{about}{more}.")
if len(misses):
    table = misses.rename(columns={e: ERROR_NAMES[e] for e in ERRORS})
    st.dataframe(
        table[["annotated_at", "item_id", "tp", *ERROR_NAMES.values(), "labels"]],
        hide_index=True,
        column_config={
            "annotated_at": st.column_config.DatetimeColumn(
                "When (UTC)", format="YYYY-MM-DD HH:mm"
            ),
            "item_id": "Image",
            "tp": st.column_config.NumberColumn("Matched", format="%d"),
            "labels": "Labels involved",
        },
        height=min(38 + 35 * len(table), 320),
    )
    hide = st.toggle(
        "Hide images",
        value=True,
        key="box_hide",
        help="Images can be distasteful: off shows them.",
    )

    found = pd.Series("", index=misses.index)
    for e in ERRORS:  # "1 missed, 2 extra (background)": one column at a time, not per row
        count = misses[e].astype(int)
        part = count.astype(str) + f" {ERROR_NAMES[e].lower()}"
        found = found.where(count == 0, found.where(found == "", found + ", ") + part)
    choices = (
        misses["item_id"]
        + " · "
        + misses["annotated_at"].dt.strftime("%d %b %H:%M")
        + " · "
        + found
    ).tolist()

    position = st.selectbox(
        "Image", range(len(misses)), format_func=choices.__getitem__, key="box_image"
    )
    row = misses.iloc[position]
    png = box_data.overlay(
        store,
        row["item_id"],
        person,
        None,
        pd.Timestamp(row["annotated_at"]).to_pydatetime(),
        iou,
        hide,
        (name, "Committee"),
    )
    st.image(
        png,
        caption=f"{row['item_id']}: {name}'s boxes (orange, with the IoU of each match) and the "
        "committee's (blue).",
        output_format="PNG",
    )
debrief = common.for_download(misses.assign(annotator_id=person))
who = debrief["annotator_id"].iloc[0] if len(debrief) else person
st.download_button(
    "Download the images with errors (CSV)",
    common.csv_bytes(debrief),
    file_name=f"box_debrief_{who}.csv".replace(" ", "-"),
    mime="text/csv",
    disabled=debrief.empty,
)
