"""Agreement between annotators: team coefficients with intervals, every pair's kappa, and
the items a chosen pair labelled differently."""

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import box_views, common, data, model_data
from qualitylib import charts
from qualitylib.agreement import PARADOX_NOTE
from qualitylib.display import COEFFICIENTS
from qualitylib.metrics.counts import TEAM_COEFFICIENTS

SHOWN = ["fleiss_kappa", "krippendorff_alpha_nominal", "gwet_ac1", "pabak", "percent_agreement"]

store = common.store()
filters = common.filters()
st.title("Agreement")
st.caption(
    "How much annotators agree with each other on items labelled by two or more people "
    "(each person's latest label per item), whatever the committee decided."
)
if box_views.kind(store, "agreement_kind") == "Boxes":
    box_views.agreement(store, filters)
    common.stop()


def team_coefficients() -> bool:
    """The team coefficients' cards and chart; whether kappa shows the prevalence paradox."""
    table, paradox = data.team_agreement(store, filters)
    shown = table.set_index("metric").loc[SHOWN].reset_index()
    shown["metric"] = shown["metric"].map(COEFFICIENTS)

    cards = st.columns(len(shown), border=True)
    for card, row in zip(cards, shown.itertuples(), strict=True):
        with card:
            as_percent = row.metric == COEFFICIENTS["percent_agreement"]
            st.metric(
                row.metric, common.percent(row.value) if as_percent else common.number(row.value)
            )
            st.caption(
                f"n = {row.n_items:,} items · {row.n_raters} raters  \n"
                f"{common.interval(row.ci_low, row.ci_high, as_percent=as_percent)}"
            )
    if shown["value"].notna().any():
        st.altair_chart(charts.coefficient_chart(shown, title=""), width="stretch")
    if paradox:
        st.info(PARADOX_NOTE, icon=":material/balance:")
    return paradox


st.subheader("Team coefficients")
paradox = not common.needs_log(TEAM_COEFFICIENTS) and team_coefficients()

st.subheader("Pairs")
pairs = data.pairs(store, filters)
if pairs.empty:
    st.info("No two annotators share an item under these filters: not enough data.")
    common.stop()
with_models = model_data.present(store) and st.toggle(
    "Include models",
    value=False,
    key="include_models",
    help="Each model version as a rater beside the people, named model:<id>@<version>; "
    "never part of the team coefficients above.",
)
if with_models:
    pairs = model_data.pairs(store, filters)
display = common.people(pairs)
if with_models:  # a model's name is no person's: it stays as it is
    is_model = pairs["kind"] == "model"
    display.loc[is_model, "annotator_a"] = pairs.loc[is_model, "annotator_a"]
selection = alt.selection_point(fields=["annotator_a", "annotator_b"], name="pair")
event = st.altair_chart(
    charts.kappa_heatmap(display, selection, title=""),
    on_select="rerun",
    selection_mode="pair",
    key="kappa_map",
    width="stretch",
)
st.caption(
    "Click a cell to list the items that pair labelled differently."
    + (
        " Models are named model:<id>@<version>; where they and the people disagree is on "
        "the Models page."
        if with_models
        else ""
    )
)

order = pairs.assign(name_a=display["annotator_a"], name_b=display["annotator_b"]).sort_values(
    "kappa", na_position="first"
)
people_pairs = order[order["kind"] == "human"] if with_models else order
picked = event.selection.get("pair", []) if event else []
default = 0
if picked:
    a, b = picked[0].get("annotator_a"), picked[0].get("annotator_b")
    match = people_pairs.index[
        ((people_pairs["name_a"] == a) & (people_pairs["name_b"] == b))
        | ((people_pairs["name_a"] == b) & (people_pairs["name_b"] == a))
    ]
    default = people_pairs.index.get_loc(match[0]) if len(match) else 0


def _pair_label(position: int) -> str:
    row = people_pairs.iloc[position]
    return (
        f"{row['name_a']} & {row['name_b']} · κ {common.number(row['kappa'])} "
        f"(n = {row['n_items']:,} items)"
    )


position = st.selectbox(
    "Pair (lowest kappa first)", range(len(people_pairs)), index=default, format_func=_pair_label
)
pair = people_pairs.iloc[position]
left, right = st.columns(2, border=True)
with left:
    st.metric("Cohen's κ", common.number(pair["kappa"]))
    st.caption(
        f"n = {pair['n_items']:,} shared items · "
        f"{common.interval(pair['kappa_ci_low'], pair['kappa_ci_high'], as_percent=False)}"
    )
    if isinstance(pair["reason"], str):
        st.caption(pair["reason"])
with right:
    st.metric("Raw agreement", common.percent(pair["percent_agreement"]))
    st.caption(f"n = {pair['n_items']:,} shared items")
if pair["prevalence_paradox"] and paradox:
    st.caption("High raw agreement with a low κ: see the prevalence paradox note above.")
elif pair["prevalence_paradox"]:
    st.info(PARADOX_NOTE, icon=":material/balance:")


def differences() -> None:
    """The items the chosen pair labelled differently, with images and a download."""
    items, total = data.disagreements(store, filters, pair["annotator_a"], pair["annotator_b"])
    hide = st.toggle("Hide images", value=True, help="Images can be distasteful: off shows them.")
    st.markdown(
        f"**{total:,} items** labelled differently"
        + (" (first 500 shown)" if total > len(items) else "")
    )
    if total:
        items = items.assign(image=[common.thumbnail(u, hide) for u in items["uri"]])
        st.dataframe(
            items[["image", "item_id", "label_a", "label_b", "uri"]],
            hide_index=True,
            column_config={
                "image": st.column_config.ImageColumn("Image"),
                "item_id": "Item",
                "label_a": pair["name_a"],
                "label_b": pair["name_b"],
                "uri": st.column_config.TextColumn("URI"),
            },
        )
        name = f"disagreements_{pair['name_a']}_{pair['name_b']}.csv".replace(" ", "-")
        st.download_button(
            "Download these items (CSV)",
            common.csv_bytes(
                items.drop(columns="image").rename(
                    columns={"label_a": pair["name_a"], "label_b": pair["name_b"]}
                )
            ),
            file_name=name,
            mime="text/csv",
        )


if not common.needs_log("The items a pair labelled differently"):
    differences()

st.dataframe(
    pd.DataFrame(
        {
            **({"Kind": order["kind"]} if with_models else {}),
            "Annotator": order["name_a"],
            "with": order["name_b"],
            "n shared items": order["n_items"],
            "κ": [common.number(v) for v in order["kappa"]],
            "Raw agreement": [common.percent(v) for v in order["percent_agreement"]],
        }
    ),
    hide_index=True,
)

st.subheader("Skill without the committee")


def skill() -> None:
    """Dawid-Skene accuracy beside accuracy against the committee."""
    skills, fit = data.skill(store, filters)
    if skills.empty:
        st.info("No answers under these filters: not enough data.")
    else:
        st.caption(
            "Each annotator's accuracy estimated from the answers alone (Dawid & Skene 1979: no "
            "reference needed), beside their accuracy against the committee on reference items. "
            + (
                f"Across {fit.n:,} annotators the two correlate at r = {common.number(fit.value)} "
                f"({common.interval(fit.ci_low, fit.ci_high, as_percent=False)}); mean gap "
                f"{common.percent(fit.mean_abs_difference)}."
                if fit.reason is None
                else f"Their agreement: not enough data ({fit.reason})."
            )
        )
        shown = common.people(skills)
        st.dataframe(
            pd.DataFrame(
                {
                    "Annotator": shown["annotator_id"],
                    "Answers": shown["n_items"],
                    "Dawid-Skene accuracy": [common.percent(v) for v in shown["ds_accuracy"]],
                    "Against the committee": [common.percent(v) for v in shown["accuracy"]],
                    "95 % CI": [
                        common.interval(lo, hi, prefix=False)
                        for lo, hi in zip(
                            shown["accuracy_ci_low"], shown["accuracy_ci_high"], strict=True
                        )
                    ],
                    "n reference labels": shown["accuracy_n"],
                }
            ),
            hide_index=True,
        )


if not common.needs_log("Skill without the committee (Dawid-Skene over every answer)"):
    skill()
