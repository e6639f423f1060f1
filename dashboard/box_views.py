"""The box sections of shared pages: agreement between annotators' boxes (Agreement page) and
gold-free images whose consensus is weak (Review queue page). Each page shows them when its
"Labels | Boxes" switch says Boxes (:func:`kind`)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import box_data, common
from dashboard.data import Store
from qualitylib import box_charts
from qualitylib.metrics.box_items import WEAK_SUPPORT
from qualitylib.metrics.filters import Filters

IOU_OPTIONS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9]
IOU_HELP = (
    "Two boxes match when they overlap at least this much (intersection over union) and "
    "carry the same label."
)


def kind(store: Store, key: str) -> str:
    """``"Labels"`` or ``"Boxes"``: what a page shows, chosen by the user when the store holds
    both (Boxes when it holds boxes only)."""
    if not box_data.has_boxes(store):
        return "Labels"
    if not box_data.has_tags(store):
        return "Boxes"
    return st.radio("Annotations", ["Labels", "Boxes"], horizontal=True, key=key) or "Labels"


def _iou(key: str) -> float:
    return st.select_slider("IoU threshold", IOU_OPTIONS, value=0.5, key=key, help=IOU_HELP)


def agreement(store: Store, filters: Filters) -> None:
    """Pairwise detection F1 heatmap, a pair's differing images drawn, the team figure, and
    each worker against the consensus of the others."""
    iou = _iou("box_iou_agreement")
    pairs, team = box_data.agreement(store, filters, iou)
    team = team.iloc[0]
    cards = st.columns(3, border=True)
    with cards[0]:
        st.metric("Detection F1", common.percent(team["f1"]))
        st.caption(f"n = {int(team['n_items']):,} shared images · {int(team['n_pairs'])} pairs")
    with cards[1]:
        st.metric("Mean IoU of matched boxes", common.number(team["mean_iou"]))
        band = common.interval(team["mean_iou_ci_low"], team["mean_iou_ci_high"], False)
        st.caption(f"n = {int(team['mean_iou_n']):,} matched pairs · {band}")
    with cards[2]:
        st.metric("Label κ on overlapping boxes", common.number(team["label_kappa"]))
        band = common.interval(team["label_kappa_ci_low"], team["label_kappa_ci_high"], False)
        st.caption(f"n = {int(team['label_kappa_n']):,} box pairs · {band}")

    st.subheader("Pairs")
    pairs = pairs[pairs["n_boxes_a"] + pairs["n_boxes_b"] > 0].reset_index(drop=True)
    if pairs.empty:
        st.info("No two annotators boxed the same image under these filters: not enough data.")
    else:
        _pairs(store, filters, iou, pairs)

    st.subheader("Without a committee")
    st.caption(
        "Each worker's boxes against the consensus of the others on the same images (objects "
        "a majority of the other workers drew, corners their medians; leave-one-out, so "
        "nobody agrees with themselves): for gold-free jobs such as Ground Truth's five "
        "workers per object."
    )
    gold_free = box_data.gold_free(store, filters)
    if not st.toggle(
        "Score each worker against the others' consensus",
        key="box_consensus_on",
        help=f"{gold_free:,} images without the committee's boxes have two or more workers. "
        "Scored on every image (committee-decided ones too): on request, it takes a while "
        "on large stores.",
    ):
        return
    loo = box_data.summary(store, filters, iou, against="consensus")
    loo = loo[loo["precision_n"] + loo["recall_n"] > 0]
    if loo.empty:
        st.info("No image has boxes from two or more workers: not enough data.")
        return
    shown = common.with_who(loo)
    st.altair_chart(
        box_charts.box_rates(box_charts.box_rates_long(shown, "who"), "Worker"), width="stretch"
    )
    st.dataframe(
        pd.DataFrame(
            {
                "Worker": shown["who"],
                "Images": shown["n_items"],
                "Precision": [common.percent(v) for v in shown["precision"]],
                "Recall": [common.percent(v) for v in shown["recall"]],
                "F1": [common.percent(v) for v in shown["f1"]],
                "Mean IoU": [common.number(v) for v in shown["mean_iou"]],
                "n boxes": shown["precision_n"],
            }
        ),
        hide_index=True,
    )


def _pairs(store: Store, filters: Filters, iou: float, pairs: pd.DataFrame) -> None:
    """The F1 heatmap (click a pair), the chosen pair's figures and differing images."""
    display = common.people(pairs)
    selection = alt.selection_point(fields=["annotator_a", "annotator_b"], name="pair")
    event = st.altair_chart(
        box_charts.f1_heatmap(display, selection),
        on_select="rerun",
        selection_mode="pair",
        key="box_f1_map",
        width="stretch",
    )
    st.caption("Click a cell to list the images that pair boxed differently.")
    order = pairs.assign(name_a=display["annotator_a"], name_b=display["annotator_b"])
    order = order.sort_values("f1", na_position="first")
    picked = event.selection.get("pair", []) if event else []
    default = 0
    if picked:
        a, b = picked[0].get("annotator_a"), picked[0].get("annotator_b")
        found = order.index[
            ((order["name_a"] == a) & (order["name_b"] == b))
            | ((order["name_a"] == b) & (order["name_b"] == a))
        ]
        default = order.index.get_loc(found[0]) if len(found) else 0

    def _label(position: int) -> str:
        row = order.iloc[position]
        return (
            f"{row['name_a']} & {row['name_b']} · F1 {common.percent(row['f1'])} "
            f"(n = {row['n_items']:,} images)"
        )

    position = st.selectbox(
        "Pair (lowest F1 first)", range(len(order)), index=default, format_func=_label
    )
    pair = order.iloc[position]
    left, middle, right = st.columns(3, border=True)
    with left:
        st.metric("Detection F1", common.percent(pair["f1"]))
        st.caption(
            f"n = {int(pair['n_boxes_a'] + pair['n_boxes_b']):,} boxes on "
            f"{pair['n_items']:,} shared images"
        )
    with middle:
        st.metric("Mean IoU", common.number(pair["mean_iou"]))
        band = common.interval(pair["mean_iou_ci_low"], pair["mean_iou_ci_high"], False)
        st.caption(f"n = {int(pair['mean_iou_n']):,} matched pairs · {band}")
    with right:
        st.metric("Label κ", common.number(pair["label_kappa"]))
        st.caption(f"n = {int(pair['label_kappa_n']):,} overlapping box pairs")

    items, total = box_data.differences(
        store, filters, pair["annotator_a"], pair["annotator_b"], iou
    )
    more = f" (first {len(items):,} shown)" if total > len(items) else ""
    st.markdown(f"**{total:,} images** boxed differently{more}.")
    if total:
        st.dataframe(
            items[["item_id", "n_boxes_a", "n_boxes_b", "matched", "differences"]],
            hide_index=True,
            column_config={
                "item_id": "Image",
                "n_boxes_a": st.column_config.NumberColumn(f"{pair['name_a']}'s boxes"),
                "n_boxes_b": st.column_config.NumberColumn(f"{pair['name_b']}'s boxes"),
                "matched": st.column_config.NumberColumn("Matched"),
                "differences": st.column_config.NumberColumn(
                    "Unmatched", help="Boxes of either left without a same-label match"
                ),
            },
            height=min(38 + 35 * len(items), 320),
        )
        hide = st.toggle(
            "Hide images",
            value=True,
            key="box_pair_hide",
            help="Images can be distasteful: off shows them.",
        )
        shown = st.selectbox("Image", items["item_id"].tolist(), key="box_pair_image")
        png = box_data.overlay(
            store,
            shown,
            pair["annotator_a"],
            pair["annotator_b"],
            None,
            iou,
            hide,
            (pair["name_a"], pair["name_b"]),
        )
        st.image(
            png,
            caption=f"{shown}: {pair['name_a']}'s boxes (orange, with the IoU of each match) "
            f"and {pair['name_b']}'s (blue).",
            output_format="PNG",
        )
    st.dataframe(
        pd.DataFrame(
            {
                "Annotator": order["name_a"],
                "with": order["name_b"],
                "n shared images": order["n_items"],
                "F1": [common.percent(v) for v in order["f1"]],
                "Mean IoU": [common.number(v) for v in order["mean_iou"]],
                "Label κ": [common.number(v) for v in order["label_kappa"]],
            }
        ),
        hide_index=True,
    )


def review(store: Store, filters: Filters) -> None:
    """Gold-free images whose consensus is weak, queued for the committee, each drawable."""
    left, right = st.columns(2)
    with left:
        iou = _iou("box_iou_review")
    with right:
        support = st.slider(
            "Split below this share of workers",
            0.5,
            1.0,
            WEAK_SUPPORT,
            0.05,
            key="box_support",
            help="An object drawn by at least two workers but by fewer than this share of "
            "the image's workers is a split the committee should rule on.",
        )
    items, total, clusters = box_data.weak(store, filters, iou, support)
    st.caption(
        "Images without the committee's boxes, boxed by three or more workers, where an "
        "object is split (drawn by some workers, not by enough of them) or no object is "
        "drawn by a majority: weakest first."
    )
    if total == 0:
        st.success("No gold-free image with a weak consensus.", icon=":material/check_circle:")
        return
    shown = items
    if common.label_focus():  # images with a split about one of the focused labels
        focus = set(common.label_focus())
        shown = items[[bool(focus & set(v.split(", "))) for v in items["split_labels"]]]
    more = f" (the weakest {len(items):,} are listed)" if total > len(items) else ""
    st.markdown(f"**{len(shown):,}** of {total:,} images{more}.")
    st.dataframe(
        shown[["item_id", "n_workers", "n_objects", "n_split", "lowest_support", "split_labels"]],
        hide_index=True,
        column_config={
            "item_id": "Image",
            "n_workers": st.column_config.NumberColumn("Workers"),
            "n_objects": st.column_config.NumberColumn(
                "Agreed objects", help="Objects a majority of the workers drew"
            ),
            "n_split": st.column_config.NumberColumn("Split objects"),
            "lowest_support": st.column_config.NumberColumn(
                "Lowest support",
                format="percent",
                help="The smallest share of workers behind an object two or more drew",
            ),
            "split_labels": "Split labels",
        },
        height=min(38 + 35 * len(shown), 320),
    )
    st.download_button(
        "Download the box queue (CSV)",
        common.csv_bytes(shown.drop(columns=["width", "height"])),
        file_name="box_review_queue.csv",
        mime="text/csv",
    )
    if shown.empty:
        return
    hide = st.toggle(
        "Hide images",
        value=True,
        key="box_queue_hide",
        help="Images can be distasteful: off shows them.",
    )
    chosen = st.selectbox("Image", shown["item_id"].tolist(), key="box_queue_image")
    row = shown.set_index("item_id").loc[chosen]
    size = (int(row["width"]), int(row["height"])) if pd.notna(row["width"]) else None
    png = box_data.consensus_overlay(
        row["uri"], size, clusters[clusters["item_id"] == chosen].reset_index(drop=True), hide
    )
    st.image(
        png,
        caption=f"{chosen}: every object the workers drew, with how many drew it (blue: a "
        "majority, orange: fewer).",
        output_format="PNG",
    )
