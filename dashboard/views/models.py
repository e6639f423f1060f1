"""Models, for the team lead: each model version against the committee like a person, its
calibration, whether it could replace an annotator, and the items where it and the people
disagree (the positives people may have missed)."""

import pandas as pd
import streamlit as st

from dashboard import common, data, model_data
from qualitylib import charts
from qualitylib.display import votes_text

store = common.store()
filters = common.filters()
st.title("Models")
st.caption(
    "Model versions are raters of their own kind: scored against the committee like a "
    "person, never part of the team's numbers."
)
common.require_log("The Models page (the models' predictions, left out with it)")

threshold = st.slider(
    "Score threshold",
    0.0,
    1.0,
    0.5,
    0.05,
    help="The model flags an item when its probability of a flagged label reaches this.",
)
FLAGGED = "any flagged label"
given = model_data.distributions(store)
positive = None
if given:
    choice = st.selectbox(
        "Positive class",
        [FLAGGED, *given],
        help="Rates at the threshold and calibration for one label against the rest, from "
        "the models' score_<label> distributions; 'any flagged label' sums the positive ones.",
        key="positive_class",
    )
    positive = None if choice == FLAGGED else choice
summary = model_data.summary(store, filters, threshold, positive)
if summary.empty:
    st.info(
        "No model predictions on reference items: import them with "
        "`qualitylib import --kind predictions`.",
        icon=":material/smart_toy:",
    )
    common.stop()

st.subheader("Against the committee")
rates = ["accuracy", "tpr", "fpr"]
scored = "ece" in summary.columns
if scored:
    rates += ["tpr_at_threshold", "fpr_at_threshold"]
table = common.rate_cells(summary, rates)
if scored:
    table["ece"] = [common.number(v, 3) for v in summary["ece"]]
    table["ece_interval"] = [
        common.interval(low, high, as_percent=False, prefix=False)
        for low, high in zip(summary["ece_ci_low"], summary["ece_ci_high"], strict=True)
    ]
st.dataframe(
    table,
    hide_index=True,
    column_order=["model", "n_labels", *rates, "kappa"]
    + (["ece", "ece_interval"] if scored else []),
    column_config={
        "model": "Model version",
        "n_labels": st.column_config.NumberColumn("n on reference", format="%d"),
        "accuracy": "Accuracy",
        "tpr": "TPR",
        "fpr": "FPR",
        "tpr_at_threshold": f"TPR at {threshold:.2f}",
        "fpr_at_threshold": f"FPR at {threshold:.2f}",
        "kappa": st.column_config.NumberColumn("κ vs committee", format="%.3f"),
        "ece": "ECE",
        "ece_interval": "ECE 95 % interval",
    },
)

st.subheader("One version, like a person")
version = st.selectbox("Model version", summary["model"].tolist(), key="model_version")
left, right = st.columns(2)
with left:
    confusion = model_data.confusion(store, filters)
    st.markdown("**Confusion with the committee** (rows: committee, columns: predicted)")
    st.altair_chart(
        charts.confusion_heatmap(
            confusion[confusion["model"] == version], data.options(store)["labels"], title=""
        ),
        width="stretch",
    )
with right:
    weeks = model_data.weekly(store, filters)
    tidy = charts.rates_long(weeks[weeks["model"] == version])
    st.markdown("**Week by week**")
    if tidy["value"].notna().any():
        goal = common.objective()
        objectives = pd.DataFrame({"metric": ["TPR", "FPR"], "value": [goal.tpr_min, goal.fpr_max]})
        st.altair_chart(charts.rate_over_time(tidy, objectives, title=""), width="stretch")
        st.caption(
            "Dashed: the onboarding objective. Bands: 95 % Wilson intervals. Weeks without "
            "predictions on reference items are left out."
        )
    else:
        st.info("No week has predictions on reference items: not enough data.")

if scored:
    calibration = model_data.calibration(store, filters, positive)
    if not calibration.empty:
        st.subheader("Calibration")
        st.caption(
            "Share of predictions equal to the committee per score bin (10 bins)."
            if positive is None
            else f"Share of items the committee labelled {positive} per bin of the models' "
            f"P({positive}) (10 bins)."
        )
        st.altair_chart(charts.reliability_diagram(calibration, title=""), width="stretch")

fixed = model_data.fixes(store, filters)
if fixed["n_fixed"].sum() > 0:
    st.subheader("Manual fixes")
    st.caption(
        "Share of each version's predictions a person later corrected, per predicted label "
        "and week of the prediction (95 % Wilson interval)."
    )
    st.dataframe(
        fixed.assign(
            fix_rate=[common.percent(v) for v in fixed["fix_rate"]],
            fix_interval=[
                common.interval(lo, hi, prefix=False)
                for lo, hi in zip(fixed["fix_rate_ci_low"], fixed["fix_rate_ci_high"], strict=True)
            ],
        ),
        hide_index=True,
        column_order=[
            "model",
            "label",
            "period_start",
            "n_predictions",
            "n_fixed",
            "fix_rate",
            "fix_interval",
            "top_fix",
        ],  # fmt: skip
        column_config={
            "model": "Model version",
            "label": "Model says",
            "period_start": st.column_config.DateColumn("Week of", format="YYYY-MM-DD"),
            "n_predictions": st.column_config.NumberColumn("Predictions", format="%d"),
            "n_fixed": st.column_config.NumberColumn("Fixed", format="%d"),
            "fix_rate": "Fix rate",
            "fix_interval": "95 % interval",
            "top_fix": "Most often fixed to",
        },
        key="fixes",
    )

st.subheader("Could it replace an annotator?")
epsilon = st.number_input(
    "ε (cost-benefit)",
    0.0,
    0.9,
    0.2,
    0.05,
    help="The model's advantage in cost and speed: 0.2 for experts, 0.1 for crowd workers "
    "(Calderon et al. 2025).",
)
tests = model_data.replaceable(store, filters, epsilon)
if tests.empty:
    st.info("No item labelled by the model and two annotators: not enough data.")
else:
    verdicts = tests.groupby("model", sort=True).first()
    cards = st.columns(len(verdicts), border=True)
    for card, (model, row) in zip(cards, verdicts.iterrows(), strict=True):
        with card:
            verdict = (
                "not enough data"
                if row.isna()["passes"]
                else ("passes" if row["passes"] else "does not pass")
            )
            st.metric(f"{model}: winning rate", common.percent(row["winning_rate"]), verdict)
            st.caption(f"{int(row['n_annotators'])} annotators tested · ε = {epsilon:.2f}")
    shown = common.people(tests)
    st.dataframe(
        shown,
        hide_index=True,
        column_order=[
            "model",
            "annotator_id",
            "n_items",
            "rho_model",
            "rho_annotator",
            "p_adjusted",
            "model_wins",
            "reason",
        ],  # fmt: skip
        column_config={
            "model": "Model version",
            "annotator_id": "Held-out annotator",
            "n_items": st.column_config.NumberColumn("n items", format="%d"),
            "rho_model": st.column_config.NumberColumn("Model wins (ρ)", format="%.2f"),
            "rho_annotator": st.column_config.NumberColumn("Annotator wins", format="%.2f"),
            "p_adjusted": st.column_config.NumberColumn("p (BY)", format="%.3f"),
            "model_wins": "Model wins",
            "reason": "Note",
        },
    )

st.subheader("Model and people disagree")
st.caption(
    "Items where the model and the people's majority fall on different sides, most "
    "confident first: where the model flags, people may have missed a positive."
)
queue = model_data.disagreements(store, filters)
if queue.empty:
    st.success("The models and the people agree under these filters.")
    common.stop()
names = common.display_names(
    [who for votes in queue["votes"] for vote in votes for who in vote["annotators"]]
)
hide = st.toggle("Hide images", value=True, help="Images can be distasteful: off shows them.")
st.dataframe(
    queue.assign(
        image=[common.thumbnail(u, hide) for u in queue["uri"]],
        labels=[votes_text(v, names) for v in queue["votes"]],
    ),
    hide_index=True,
    column_order=[
        "image",
        "item_id",
        "model",
        "direction",
        "model_label",
        "score",
        "majority_label",
        "labels",
        "reference_label",
    ],  # fmt: skip
    column_config={
        "image": st.column_config.ImageColumn("Image"),
        "item_id": "Item",
        "model": "Model version",
        "direction": "Direction",
        "model_label": "Model says",
        "score": st.column_config.NumberColumn("Score", format="%.2f"),
        "majority_label": "People's majority",
        "labels": "Who said what",
        "reference_label": "Committee",
    },
)
