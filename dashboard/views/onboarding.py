"""Onboarding, for the trainer: who is aligned with the committee yet, since when, and the
learning curves (rates by number of reference labels done) of everyone still in training."""

from dataclasses import replace

import pandas as pd
import streamlit as st

from dashboard import common, data, people_data
from qualitylib import charts
from qualitylib.behaviour_charts import sprt_paths_chart
from qualitylib.display import STATUS
from qualitylib.metrics.onboarding import Objective
from qualitylib.metrics.sprt import SPRT

ORDER = {"in_training": 0, "regressed": 1, "not_enough_data": 2, "aligned": 3}

store = common.store()
filters = common.filters()
st.title("Onboarding")

current = common.objective()
with st.expander(
    f"Objective: TPR ≥ {current.tpr_min:.0%} and FPR ≤ {current.fpr_max:.0%} over the last "
    f"{current.window} reference labels"
):
    left, middle, right = st.columns(3)
    tpr_min = left.number_input("TPR at least", 0.0, 1.0, current.tpr_min, 0.01, format="%.2f")
    fpr_max = middle.number_input("FPR at most", 0.0, 1.0, current.fpr_max, 0.01, format="%.2f")
    window = right.number_input("Over the last … reference labels", 40, 1000, current.window, 10)
    try:
        chosen = Objective(tpr_min=tpr_min, fpr_max=fpr_max, window=int(window))
    except ValueError as error:
        st.error(f"error: {error}")
        chosen = current
st.session_state["objective"] = chosen  # the Annotator page draws the same objective

status = data.onboarding(store, filters, chosen)
if status.empty:
    st.info("No labels on reference items under these filters: not enough data.")
    common.stop()
trainees = set(data.newcomers(store, filters)) | set(
    status.loc[status["status"] != "aligned", "annotator_id"]
)
counts = status["status"].value_counts()
cards = st.columns(4, border=True)
for card, key in zip(
    cards, ("aligned", "in_training", "regressed", "not_enough_data"), strict=True
):
    card.metric(STATUS[key].capitalize(), f"{counts.get(key, 0):,}")
st.caption(
    "Aligned: the latest window meets the objective. Regressed: was aligned, and a later "
    "window clearly fails it (its 95 % interval is on the wrong side)."
)

st.subheader("Everyone in training")
st.caption("Newcomers (labels in the training phase) and anyone not aligned right now.")
focus = status[status["annotator_id"].isin(trainees)]
focus = focus.sort_values(
    ["status", "annotator_id"],
    key=lambda c: c.map(ORDER) if c.name == "status" else c,
)
table = common.people(focus.assign(shown=focus["annotator_id"]), ["shown"])
st.dataframe(
    pd.DataFrame(
        {
            "Annotator": table["shown"],
            "Team": table["team"],
            "Status": table["status"].map(STATUS),
            "Since": table["since"].dt.date,
            "First aligned": table["first_aligned"].dt.date,
            "Reference labels": table["n_reference_labels"],
            "TPR (window)": [common.percent(v) for v in table["tpr"]],
            "n positives": table["tpr_n"],
            "FPR (window)": [common.percent(v) for v in table["fpr"]],
            "n negatives": table["fpr_n"],
        }
    ),
    hide_index=True,
)

bin_size = st.select_slider("Bin size (reference labels)", [25, 50, 100, 200], value=50)
learning = data.curves(store, filters, bin_size)
learning = learning[learning["annotator_id"].isin(trainees)]
if learning.empty:
    st.info("Nobody in training has reference labels under these filters: not enough data.")
else:
    names = common.display_names(learning["annotator_id"])
    left, right = st.columns(2)
    for column, rate, limit, title in (
        (left, "tpr", chosen.tpr_min, "TPR (flagged items caught)"),
        (right, "fpr", chosen.fpr_max, "FPR (safe items flagged)"),
    ):
        curve = pd.DataFrame(
            {
                "annotator": learning["annotator_id"].map(names),
                "tenure": learning["tenure_start"],
                "value": learning[rate],
                "ci_low": learning[f"{rate}_ci_low"],
                "ci_high": learning[f"{rate}_ci_high"],
                "n": learning[f"{rate}_n"],
            }
        )
        column.altair_chart(
            charts.learning_curves(curve, objective=limit, metric_title=title, title=title),
            width="stretch",
        )
    st.caption(
        "x: reference labels done since the start (bins of the chosen size); dashed: the "
        "objective; bands: 95 % Wilson intervals."
    )
st.download_button(
    "Download the status table (CSV)",
    common.csv_bytes(common.for_download(status)),
    file_name="onboarding_status.csv",
    mime="text/csv",
)

st.subheader("Decided by a sequential test")
if not st.toggle("Show Wald's sequential test (SPRT) for everyone in training", key="sprt_on"):
    common.stop()

left, middle, right = st.columns(3)
alpha = left.number_input(
    "α: P(releasing a trainee below the objective)",
    0.001,
    0.2,
    0.05,
    0.005,
    format="%.3f",
    key="sprt_alpha",
)
beta = middle.number_input(
    "β: P(holding back one at the objective)", 0.001, 0.4, 0.05, 0.005, format="%.3f"
)
margin = right.number_input("TPR margin of H0", 0.01, 0.5, 0.15, 0.01, format="%.2f")
try:
    sprt = SPRT(alpha=alpha, beta=beta, margin_tpr=margin)
    sprt.hypotheses(chosen)
except ValueError as error:
    st.error(f"error: {error}")
    sprt = SPRT()
decided, paths = people_data.sequential(
    store, replace(filters, annotators=tuple(sorted(trainees))), chosen, sprt
)
if decided.empty:
    st.info("Nobody in training has reference labels under these filters: not enough data.")
else:
    names = common.display_names(decided["annotator_id"])
    st.dataframe(
        pd.DataFrame(
            {
                "Annotator": decided["annotator_id"].map(names),
                "Decision": decided["decision"].str.replace("_", " "),
                "Reference labels to decision": decided["n_to_decision"],
                "Decided": decided["decided_at"].dt.date,
                "Expected labels to decide": decided["expected_n"],
                "LLR TPR": decided["llr_tpr"].round(2),
                "LLR FPR": decided["llr_fpr"].round(2),
            }
        ),
        hide_index=True,
        key="sprt",
    )
    st.altair_chart(
        sprt_paths_chart(
            paths.assign(who=paths["annotator_id"].map(names)), sprt.upper, sprt.lower
        ),
        width="stretch",
    )
    st.caption(
        f"Wald's test per rate: H1 at the objective, H0 {sprt.margin_tpr:.0%} below it (TPR) or "
        f"{sprt.margin_fpr:.0%} above it (FPR). A trainee is released when both paths reach the "
        "upper line, flagged when either reaches the lower one; a decision is final."
    )
