"""Reference set, for the committee: the reference items trained annotators disagree with (the
reference may be wrong), how far committee members agree among themselves, and how often the
committee reverses its own decisions."""

import pandas as pd
import streamlit as st

from dashboard import common, reference_data
from qualitylib.display import interval, number, percent

store = common.store()
filters = common.filters()
objective = common.objective()
st.title("Reference set")
st.caption(
    "Trained annotators are those aligned with the onboarding objective (set on the Onboarding "
    f"page: TPR ≥ {objective.tpr_min:.0%}, FPR ≤ {objective.fpr_max:.0%}) at the range's end."
)

st.subheader("Gold difficulty")
items = common.only_labels(reference_data.difficulty(store, filters, objective), "reference_label")
if items.empty:
    st.info("No trained annotator labelled a reference item under these filters: not enough data.")
else:
    doubtful = items[items["reference_may_be_wrong"]]
    left, right = st.columns(2)
    left.metric(
        "Reference may be wrong",
        f"{len(doubtful):,}",
        help="Items at least 3 trained annotators labelled whose disagreement's 95 % interval "
        "lies above 50 %",
    )
    right.metric("Reference items labelled by trained annotators", f"{len(items):,}")
    only = st.toggle(
        "Only items where the reference may be wrong", value=not doubtful.empty, key="doubtful"
    )
    shown = doubtful if only else items
    st.dataframe(
        pd.DataFrame(
            {
                "Item": shown["item_id"],
                "Committee": shown["reference_label"],
                "Trained annotators": shown["difficulty_n"],
                "Disagree": [percent(v) for v in shown["difficulty"]],
                "95 % CI": [
                    interval(lo, hi, prefix=False)
                    for lo, hi in zip(
                        shown["difficulty_ci_low"], shown["difficulty_ci_high"], strict=True
                    )
                ],
                "They gave": shown["top_other_label"],
                "May be wrong": shown["reference_may_be_wrong"],
            }
        ),
        hide_index=True,
        key="difficulty",
    )
    st.download_button(
        "Download gold difficulty (CSV)",
        common.csv_bytes(items),
        file_name="gold_difficulty.csv",
        mime="text/csv",
    )

st.subheader("Committee reliability")
agreement, reversals = reference_data.committee(store, filters)
st.caption(
    "Members' agreement among themselves on items two or more of them decided under one "
    "policy version (Fleiss' kappa, each member's latest decision)."
)
st.dataframe(
    pd.DataFrame(
        {
            "Policy version": agreement["policy_version"],
            "Items": agreement["n_items"],
            "Members": agreement["n_members"],
            "Kappa": [number(v) for v in agreement["kappa"]],
            "95 % CI": [
                interval(lo, hi, as_percent=False, prefix=False)
                for lo, hi in zip(
                    agreement["kappa_ci_low"], agreement["kappa_ci_high"], strict=True
                )
            ],
            "Raw agreement": [percent(v) for v in agreement["percent_agreement"]],
            "Why empty": agreement["reason"].fillna(""),
        }
    ),
    hide_index=True,
    key="committee_agreement",
)
st.caption(
    "Reversals: re-decisions that changed the label, of all re-decisions, and of those whose "
    "previous decision was under the same version (no policy change)."
)
st.dataframe(
    pd.DataFrame(
        {
            "Policy version": reversals["policy_version"],
            "Decisions": reversals["n_decisions"],
            "Re-decisions": reversals["n_redecisions"],
            "Reversed": [percent(v) for v in reversals["reversal_rate"]],
            "95 % CI": [
                interval(lo, hi, prefix=False)
                for lo, hi in zip(
                    reversals["reversal_rate_ci_low"],
                    reversals["reversal_rate_ci_high"],
                    strict=True,
                )
            ],
            "Same version: n": reversals["same_version_reversal_rate_n"],
            "Same version: reversed": [percent(v) for v in reversals["same_version_reversal_rate"]],
        }
    ),
    hide_index=True,
    key="committee_reversals",
)
