"""The tables behind the weekly PDF, as CSV files with a README.txt describing every column.

Values are the model's, unrounded (the PDF rounds them for reading). Cells a spreadsheet
would run as a formula are neutralised (:func:`qualitylib.export.neutralise`). The bytes
depend only on the report, so a scheduled run over an unchanged store rewrites the same files.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd

from qualitylib.export import neutralise, with_votes_text
from qualitylib.log_scope import needs_log_message
from qualitylib.reports.weekly import (
    HISTORY_WEEKS,
    NEEDS_LOG,
    REVIEW_TOP,
    WeeklyReport,
    box_overlays,
)

__all__ = [
    "BOX_FILES",
    "FILES",
    "MODEL_FILES",
    "csv_files",
    "csv_zip",
    "describe",
    "frames",
    "readme",
    "write_csvs",
]

_RATE = "{} (share, 0 to 1)"
_RATES = {
    "accuracy": _RATE.format("labels equal to the committee's reference decision"),
    "tpr": _RATE.format("true-positive rate: reference-flagged items the annotator flagged"),
    "fpr": _RATE.format("false-positive rate: reference-safe items the annotator flagged"),
}
_ID = "annotator id (a stable pseudonym in a pseudonymized report)"
_BOX_RATES = {
    "precision": _RATE.format("box precision: their boxes matching a committee box (IoU >= 0.5)"),
    "recall": _RATE.format("box recall: committee boxes they matched (IoU >= 0.5)"),
    "mean_iou": "mean IoU of the matched box pairs (0 to 1; Student t interval)",
}
_BOX_COUNTS = {
    "tp": "matched boxes (same label, IoU >= 0.5, one-to-one)",
    "fp": "their boxes left unmatched",
    "fn": "committee boxes left unmatched",
    "f1": "2 tp / (2 tp + fp + fn)",
    "f1_n": "boxes given + committee boxes",
}
_BOX_ERRORS = {
    "missed": "committee boxes nobody matched (no box of theirs near it)",
    "extra": "their boxes on background",
    "wrong_class": "their boxes on a committee box of another label (IoU >= 0.5)",
    "poor_localization": "their boxes of the right label at 0.1 <= IoU < 0.5",
    "duplicate": "their second box on an already matched object",
}


def _rates(*names: str) -> dict[str, str]:
    """Descriptions of rates (their ``_ci_low, _ci_high, _n`` companions follow the pattern,
    see :func:`describe`)."""
    return {name: _RATES[name] for name in names}


# file name -> (model table, what a row is, {column: description})
FILES: dict[str, tuple[str, str, dict[str, str]]] = {
    "summary.csv": (
        "",
        "one row: the report's identity and headline counts",
        {
            "project": "project name printed in the title",
            "week": "ISO week of the report (e.g. 2026-W47), Monday to Sunday, UTC",
            "week_start": "Monday of the week",
            "week_end": "Sunday of the week",
            "team": "team the report is restricted to (empty: all teams)",
            "pseudonymized": "true when annotator ids are pseudonyms and names are left out",
            "n_labels": "labels made in the week",
            "n_active_annotators": "annotators (not committee) with labels in the week",
            "n_open_alerts": "drift alerts open at the week's end: annotator (or team) x class "
            "alerted in the week or the week before",
            "n_in_training": "annotators who labelled in the week and are in training at its end",
            "n_raters": "annotators who share an item labelled in the week with someone",
            "review_queue_size": "items of the week annotators split on or were unsure about",
            "policy_in_force": "newest policy version labelled under by the week's end",
        },
    ),
    "team_weeks.csv": (
        "team_weeks",
        f"one row per week, the report's week and the {HISTORY_WEEKS} before: the annotators' "
        "(not the committee's) production labels on control items, pooled",
        {"week": "ISO week", "week_start": "Monday of the week"} | _rates("accuracy", "tpr", "fpr"),
    ),
    "control_divergence.csv": (
        "divergence",
        f"one row per annotator x week (and per week for the team) over the last "
        f"{HISTORY_WEEKS + 1} weeks: production labels on control items that differ from the "
        "committee",
        {
            "scope": "annotator, or team (all annotators together)",
            "annotator_id": f"{_ID}; empty for team rows",
            "week_start": "Monday of the week",
            "divergence": "share of control labels differing from the committee (0 to 1)",
            "divergence_ci_low": "95 % Wilson interval, low",
            "divergence_ci_high": "95 % Wilson interval, high",
            "divergence_n": "control labels",
            "errors": "control labels differing from the committee",
            "own_baseline": "divergence over the same annotator's (team's) earlier weeks",
            "rest_of_team": "divergence of the other annotators that week",
        },
    ),
    "drift_alerts.csv": (
        "alerts",
        "one row per drift alert open at the week's end: annotator (or the team) x class "
        "alerted in the report's week or the week before, its latest alert (CUSUM on control "
        "items, see qualitylib.metrics.drift.open_alerts)",
        {
            "scope": "annotator, or team (the whole group drifts)",
            "annotator_id": f"{_ID}; empty for team alerts",
            "week_start": "Monday of the week of the latest alert",
            "label": "reference class the annotator departs from",
            "divergence": "that week's disagreement rate on the class",
            "baseline": "expected disagreement rate (own history, adjusted for the team)",
            "n": "control labels of the class that week",
            "errors": "of which differing from the committee",
            "cusum": "CUSUM statistic when it crossed the threshold",
            "threshold": "alert threshold of the CUSUM",
            "alert_weeks": "weeks of the two that alerted on this annotator and class",
        },
    ),
    "onboarding.csv": (
        "onboarding",
        "one row per annotator: onboarding status after their last reference label up to the "
        "week's end (window of recent reference labels against the objective)",
        {
            "annotator_id": _ID,
            "name": "display name (left out when pseudonymized)",
            "team": "team",
            "status": "in_training, aligned, regressed or not_enough_data",
            "since": "time the status was reached (UTC)",
            "first_aligned": "first time aligned (empty: never)",
            "n_reference_labels": "reference labels so far",
            "window_n": "reference labels in the judged window",
            "n_positive": "of which on reference-flagged items",
            "n_negative": "of which on reference-safe items",
            "became_aligned": "true when the annotator became aligned during the report's week",
        }
        | _rates("tpr", "fpr"),
    ),
    "policy_versions.csv": (
        "policy",
        "one row per policy version labelled under up to the week's end, oldest first",
        {
            "policy_version": "policy version recorded with the labels",
            "first_label_at": "first label made under it (UTC)",
            "n_labels_week": "labels made under it in the report's week",
        },
    ),
    "stale_policy.csv": (
        "stale",
        "one row per annotator who labelled, in the week, items whose committee decision "
        "changed (after the change)",
        {
            "annotator_id": _ID,
            "n_changed": "labels on changed items made after the change",
            "n_old": "of which giving the old decision's label",
            "n_new": "of which giving the new decision's label",
            "last_old_at": "latest label following the old decision (UTC)",
            "old_share": "n_old / n_changed (0 to 1)",
            "old_share_ci_low": "95 % Wilson interval, low",
            "old_share_ci_high": "95 % Wilson interval, high",
            "old_share_n": "denominator (n_changed)",
            "stale": "true when the interval's low end is at least 0.5: still the old policy",
        },
    ),
    "annotators.csv": (
        "annotators",
        "one row per annotator (not committee) active in the week: rates against the "
        "committee's reference on the week's labels (training and production) and the change "
        f"against the {HISTORY_WEEKS} weeks before",
        {
            "annotator_id": _ID,
            "name": "display name (left out when pseudonymized)",
            "team": "team",
            "n_labels": "labels made in the week",
            "n_reference": "of which on reference items (scored against the committee)",
        }
        | _rates("accuracy", "tpr", "fpr")
        | {
            "kappa": "Cohen's kappa against the reference",
            "kappa_ci_low": "95 % interval (Fleiss, Cohen & Everitt 1969), low",
            "kappa_ci_high": "95 % interval, high",
            "kappa_n": "labels on reference items",
            "n_reference_previous": f"labels on reference items in the {HISTORY_WEEKS} weeks "
            "before",
            "accuracy_previous": f"accuracy over the {HISTORY_WEEKS} weeks before",
            "tpr_previous": f"TPR over the {HISTORY_WEEKS} weeks before",
            "fpr_previous": f"FPR over the {HISTORY_WEEKS} weeks before",
            "accuracy_change": "accuracy minus accuracy_previous",
            "tpr_change": "tpr minus tpr_previous",
            "fpr_change": "fpr minus fpr_previous",
        },
    ),
    "annotator_weeks.csv": (
        "annotator_weeks",
        f"one row per active annotator x week over the last {HISTORY_WEEKS + 1} weeks (the "
        "charts of the annotator sections)",
        {
            "annotator_id": _ID,
            "week": "ISO week",
            "period_start": "Monday of the week",
            "n_labels": "labels made that week",
            "n_reference": "of which on reference items",
        }
        | _rates("accuracy", "tpr", "fpr"),
    ),
    "confusions.csv": (
        "confusions",
        "one row per active annotator x (reference label, given label) with labels in the "
        "week, errors first",
        {
            "annotator_id": _ID,
            "reference_label": "the committee's decision",
            "label": "the annotator's label",
            "n": "labels",
            "share_of_reference": "n over the annotator's labels on items with this reference",
            "is_error": "true when label differs from reference_label",
            "error_rank": "rank among the annotator's errors by n (1 = most frequent)",
        },
    ),
    "agreement.csv": (
        "agreement",
        "one row per team agreement coefficient over items labelled by two or more people in "
        "the week (each person's latest label)",
        {
            "metric": "coefficient (fleiss_kappa, krippendorff_alpha_*, gwet_ac1, "
            "gwet_ac2_quadratic, pabak, percent_agreement)",
            "value": "the coefficient (empty: not enough data, see reason)",
            "ci_low": "95 % interval, low",
            "ci_high": "95 % interval, high",
            "se": "standard error",
            "n_items": "items with two or more labels",
            "n_raters": "distinct annotators",
            "prevalence_paradox": "true when high raw agreement comes with a low kappa-type "
            "value because one label dominates",
            "reason": "why value is undefined",
        },
    ),
    "pairwise_kappa.csv": (
        "pairs",
        "one row per pair of annotators sharing items labelled in the week (each person's "
        "latest label): Cohen's kappa",
        {
            "annotator_a": _ID,
            "annotator_b": _ID,
            "n_items": "items both labelled",
            "kappa": "Cohen's kappa between the two (empty: not enough data, see reason)",
            "kappa_ci_low": "95 % interval (Fleiss, Cohen & Everitt 1969), low",
            "kappa_ci_high": "95 % interval, high",
            "kappa_n": "items both labelled",
            "percent_agreement": "share of those items they labelled alike",
            "prevalence_paradox": "true when high raw agreement comes with a low kappa",
            "reason": "why kappa is undefined",
        },
    ),
    "review_queue.csv": (
        "review",
        f"the top {REVIEW_TOP} items of the week's review queue, highest score first",
        {
            "item_id": "item id",
            "n_labels": "labels on the item in the week",
            "n_annotators": "distinct annotators",
            "vote_entropy": "entropy of the votes, bits",
            "n_unsure": "labels flagged unsure",
            "unsure_share": "n_unsure / n_labels",
            "split": "true when votes fall on both the flagged and the safe side",
            "majority_label": "most given label",
            "labels": "who gave which label ('?' marks an unsure label)",
            "reference_label": "committee decision in force before the labels, if any",
            "last_label_at": "latest label on the item (UTC)",
            "score": "vote_entropy + unsure_share",
        },
    ),
    "behaviour.csv": (
        "behaviour",
        "one row per annotator active in the week: the evidence of each behaviour flag on the "
        "week's labels (qualitylib.metrics.behaviour, default rule; see the README for each "
        "flag's rule and its false-alarm rate)",
        {
            "annotator_id": _ID,
            "n_labels": "labels made in the week",
            "n_timed": "of which with a time on task (duration_s)",
            "median_duration_s": "median seconds per item (exact order-statistic 95 % interval; "
            "empty below 6 timed answers)",
            "n_too_fast": "timed answers too fast for their label: log-duration more than k "
            "robust SDs (median/MAD) below the team's log-median for that label",
            "share_too_fast": "n_too_fast / n_timed",
            "too_fast_accuracy": "share of the too-fast answers on reference items equal to the "
            "committee's decision",
            "accuracy": "share of all the week's answers on reference items equal to the "
            "committee's decision",
            "longest_same_run": "longest run of one answer in time order",
            "run_p": "chance of a run that long under the person's own label mix (Poisson "
            "approximation); straight_lining below 0.001",
            "run_label": "the answer repeated in the longest run",
            "label_mix_divergence": "Jensen-Shannon divergence (bits) of the person's label mix "
            "from the team's on the same batches",
            "label_mix_p": "permutation p-value of the divergence (999 permutations)",
            "n_mix_labels": "labels in batches other people labelled too",
            "spam_probability": "1 - MACE competence (Hovy et al. 2013), on items with two or "
            "more annotators",
            "n_mace_labels": "answers MACE was fitted on",
            "self_kappa": "Cohen's kappa of first against latest answer on items seen twice",
            "n_repeats": "items answered twice or more",
            "too_fast_p": "one-sided binomial p-value of the too-fast answers' accuracy against "
            "the median person's accuracy",
            "flags": "raised flags joined by ';' (too_fast, straight_lining, label_mix, spammer, "
            "inconsistent); empty: none",
        },
    ),
    "behaviour_flags.csv": (
        "flags",
        "one row per behaviour flag an active annotator raised on the week's labels",
        {
            "annotator_id": _ID,
            "flag": "too_fast, straight_lining, label_mix, spammer or inconsistent",
            "evidence": "the numbers behind the flag, in one sentence (as in the PDF)",
        },
    ),
    "sequential_onboarding.csv": (
        "sequential",
        "one row per trainee (labels in the training phase) whose sequential test decided in "
        "the week: Wald's SPRT on TPR and FPR over their reference labels up to the week's end "
        "(qualitylib.metrics.sprt, alpha = beta = 0.05 by default)",
        {
            "annotator_id": _ID,
            "decision": "aligned (both tests accept the objective) or not_aligned (either "
            "accepts the rate a margin worse)",
            "n_to_decision": "reference labels it took to decide",
            "decided_at": "time of the deciding label (UTC)",
            "llr_tpr": "log-likelihood ratio of the TPR test when it stopped (or now)",
            "llr_fpr": "log-likelihood ratio of the FPR test when it stopped (or now)",
            "n_reference_labels": "reference labels up to the week's end",
            "expected_n": "Wald's expected number of reference labels to a decision at the "
            "trainee's current rates",
        },
    ),
    "gold_budget.csv": (
        "gold",
        "one row per annotator active in the week who has had production control labels: the "
        "control labels they got this week against what the planner asks "
        "(qualitylib.metrics.gold, interval width 0.2 and detection within 2 weeks by default)",
        {
            "annotator_id": _ID,
            "controls_this_week": "production labels on control items in the week",
            "positives_this_week": "of which on reference-flagged items",
            "negatives_this_week": "of which on reference-safe items",
            "needed_for_width": "control labels a week for weekly TPR and FPR intervals of the "
            "planned width at the team's rates",
            "needed_for_delay": "control labels a week for the drift CUSUM to alert within the "
            "planned delay on the most demanding class",
            "needed_per_week": "the larger of the two",
            "drift_class": "the class that sets needed_for_delay",
            "team_tpr": "the team's TPR on production control labels up to the week's end",
            "team_fpr": "the team's FPR on production control labels up to the week's end",
            "positive_share": "share of reference-flagged items among the control labels",
            "shortfall": "needed_per_week minus controls_this_week (0 when enough)",
        },
    ),
}

# The boxes section (written when the store holds boxes), at IoU 0.5.
BOX_FILES: dict[str, tuple[str, str, dict[str, str]]] = {
    "box_team_weeks.csv": (
        "box_team_weeks",
        f"one row per week, the report's week and the {HISTORY_WEEKS} before: every "
        "annotator's boxes on committee images pooled",
        {
            "week": "ISO week",
            "week_start": "Monday of the week",
            "n_reference_images": "box submissions on committee images",
        }
        | _BOX_COUNTS
        | _BOX_RATES,
    ),
    "box_annotators.csv": (
        "box_people",
        "one row per annotator with boxes in the week: scores against the committee this week "
        f"and over the {HISTORY_WEEKS} weeks before",
        {"annotator_id": _ID, "n_items": "committee images boxed in the week"}
        | _BOX_COUNTS
        | _BOX_RATES
        | {f"{r}_previous": f"{r} over the {HISTORY_WEEKS} weeks before" for r in _BOX_RATES}
        | {f"{r}_change": f"{r} minus {r}_previous" for r in _BOX_RATES},
    ),
    "box_annotator_weeks.csv": (
        "box_people_weeks",
        f"one row per annotator with boxes in the week x week over the last {HISTORY_WEEKS + 1} "
        "weeks",
        {
            "annotator_id": _ID,
            "week": "ISO week",
            "period_start": "Monday of the week",
            "n_images": "box submissions that week",
            "n_reference_images": "of which on committee images",
        }
        | _BOX_COUNTS
        | _BOX_RATES,
    ),
    "box_errors.csv": (
        "box_errors",
        "one row per annotator x error type x labels: the week's unmatched boxes explained",
        {
            "annotator_id": _ID,
            "error": "missed, extra, wrong_class, poor_localization or duplicate: "
            + "; ".join(f"{k} = {v}" for k, v in _BOX_ERRORS.items()),
            "reference_label": "the committee box's label (empty: none)",
            "label": "their box's label (empty: none)",
            "n": "boxes",
        },
    ),
    "box_onboarding.csv": (
        "box_onboarding",
        "one row per annotator with boxes in the week: box onboarding status up to the week's "
        "end (last 30 committee images: recall >= 0.85 and precision >= 0.90)",
        {
            "annotator_id": _ID,
            "name": "display name (left out when pseudonymized)",
            "team": "team",
            "status": "in_training, aligned, regressed or not_enough_data",
            "since": "time the status was reached (UTC)",
            "first_aligned": "first time aligned (empty: never)",
            "n_reference_images": "committee images boxed so far",
            "window_n": "committee images in the judged window",
        }
        | _BOX_COUNTS
        | _BOX_RATES,
    ),
    "box_drift_alerts.csv": (
        "box_alerts",
        "one row per box drift alert open at the week's end (CUSUM on 1 - F1 on control images, "
        "per label)",
        {
            "scope": "annotator, or team",
            "annotator_id": f"{_ID}; empty for team alerts",
            "week_start": "Monday of the week of the latest alert",
            "label": "label whose boxes diverge",
            "divergence": "that week's 1 - F1 on the label's boxes",
            "baseline": "expected divergence",
            "n": "boxes given + committee boxes of the label that week",
            "errors": "of which unmatched (fp + fn)",
            "cusum": "CUSUM statistic when it crossed the threshold",
            "threshold": "alert threshold of the CUSUM",
            "alert_weeks": "weeks of the two that alerted",
        },
    ),
    "box_examples.csv": (
        "box_examples",
        "one row per example image of the PDF (box-example-N.png): the latest image with "
        "errors of each of the annotators with the most box errors in the week",
        {
            "example": "example number (0 first)",
            "annotator_id": _ID,
            "item_id": "image id",
            "uri": "image location",
            "width": "image width, pixels",
            "height": "image height, pixels",
            "annotated_at": "when they drew the boxes (UTC)",
            "tp": _BOX_COUNTS["tp"],
        }
        | {k: f"boxes: {v}" for k, v in _BOX_ERRORS.items()},
    ),
    "box_example_boxes.csv": (
        "box_example_boxes",
        "one row per box drawn on the example images",
        {
            "example": "example number (box_examples.csv)",
            "side": "annotator or committee",
            "label": "the box's label",
            "x_min": "left edge, pixels",
            "y_min": "top edge, pixels",
            "x_max": "right edge, pixels",
            "y_max": "bottom edge, pixels",
            "iou": "IoU with its partner (matched, wrong class or poorly localised)",
            "error": "match, or the box's error type",
        },
    ),
}
# Written only when the store holds model predictions (WeeklyReport.has_models).
_MODEL_RATE = "{} of the model version's predictions made this week (share, 0 to 1)"
MODEL_FILES: dict[str, tuple[str, str, dict[str, str]]] = {
    "models.csv": (
        "models",
        "one row per model version with predictions made in the week, against the committee",
        {
            "model_id": "model id",
            "model_version": "model version (empty: none given)",
            "model": "how the model version is shown: model:<id>@<version>",
            "n_predictions": "predictions made in the week",
            "n_fixed": "of those, corrected by a person (a manual fix) by the week's end",
            "fix_rate": _MODEL_RATE.format("n_fixed / n_predictions: fixed share"),
            "n_reference": "predictions on reference items",
            "tpr": _MODEL_RATE.format("true-positive rate against the committee"),
            "fpr": _MODEL_RATE.format("false-positive rate against the committee"),
            "ece": "expected calibration error of the scored predictions (10 equal-width bins)",
            "n_disagreements": "items on which the model and the people's majority fall on "
            "different sides (flagged vs safe)",
            "n_model_flagged": "of those, items the model flags and the people called safe",
        },
    ),
    "model_disagreements.csv": (
        "model_queue",
        "the items where a model version and the people's majority disagree this week, most "
        "confident first (the first few)",
        {
            "item_id": "item id",
            "model_id": "model id",
            "model_version": "model version",
            "direction": "model_flagged (the model flags, people said safe) or model_negative",
            "model_label": "the model's label",
            "score": "the model's probability of its label",
            "majority_label": "the people's most given label",
            "n_people": "people with a current answer on the item",
            "n_flagged": "of those, who flagged it",
            "labels": "who gave which label",
            "reference_label": "committee decision in force now, if any",
        },
    ),
}


def _files(report: WeeklyReport) -> dict[str, tuple[str, str, dict[str, str]]]:
    """The report's files: :data:`FILES`, :data:`BOX_FILES` when it has boxes and
    :data:`MODEL_FILES` when it has models."""
    return (
        FILES | (BOX_FILES if report.has_boxes else {}) | (MODEL_FILES if report.has_models else {})
    )


def _summary(report: WeeklyReport) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "project": [report.project],
            "week": [report.week],
            "week_start": [report.monday.isoformat()],
            "week_end": [report.sunday.isoformat()],
            "team": [report.team],
            "pseudonymized": [report.pseudonymized],
            "n_labels": [report.n_labels],
            "n_active_annotators": [len(report.annotators)],
            "n_open_alerts": [len(report.alerts)],
            "n_in_training": [int((report.onboarding["status"] == "in_training").sum())],
            "n_raters": [
                None if report.agreement.empty else int(report.agreement["n_raters"].iloc[0])
            ],
            "review_queue_size": [report.review_queue_size],
            "policy_in_force": [report.policy_in_force],
        }
    )


UNDOCUMENTED = "undocumented"
_COMPANIONS = {
    "_ci_low": "95 % interval of {}, low end",
    "_ci_high": "95 % interval of {}, high end",
    "_n": "denominator of {} (the count behind it)",
    "_se": "standard error of {}",
}


def describe(name: str, column: str) -> str:
    """What ``column`` of file ``name`` means: its documented text, or for the companions of a
    documented rate (``<rate>_ci_low``, ``_ci_high``, ``_n``, ``_se``) the pattern's text."""
    documented = (FILES | BOX_FILES | MODEL_FILES)[name][2]
    if column in documented:
        return documented[column]
    for suffix, text in _COMPANIONS.items():
        rate = column.removesuffix(suffix)
        if column.endswith(suffix) and rate in documented:
            return text.format(rate)
    return UNDOCUMENTED


def frames(report: WeeklyReport) -> dict[str, pd.DataFrame]:
    """Each file's table: every column of the model's table, in its order (a new metric
    column reaches the CSV without a list to update); who said what as text."""
    out = {}
    for name, (table, _, _) in _files(report).items():
        frame = _summary(report) if not table else getattr(report, table)
        if "votes" in frame.columns:
            frame = with_votes_text(frame)
        out[name] = frame
    return out


def readme(report: WeeklyReport) -> str:
    """README.txt: what each file holds and what each of its columns means."""
    lines = [
        f"qualitylib weekly report {report.week} ({report.project}) - the tables behind the PDF",
        "",
        "UTF-8 CSV, one header row. Numbers are unrounded; empty cells are undefined values",
        "(not enough data). Text cells starting with = + - @ are prefixed with ' so that a",
        "spreadsheet shows them instead of running them.",
        "",
    ]
    for section in report.needs_log:  # left out: their files hold headers and no rows
        lines += [needs_log_message(NEEDS_LOG[section]), ""]
    for name, frame in frames(report).items():
        lines += [name, f"  {(FILES | BOX_FILES | MODEL_FILES)[name][1]}."]
        lines += [f"  - {column}: {describe(name, str(column))}" for column in frame.columns]
        lines.append("")
    if report.has_boxes:
        lines += [
            "box-example-N.png",
            "  the example images of box_examples.csv with both sets of boxes drawn (left out "
            "with --no-images).",
            "",
        ]
    return "\n".join(lines)


def csv_files(report: WeeklyReport, images: bool = True) -> dict[str, bytes]:
    """``{file name: bytes}`` for every table and ``README.txt`` (and, with boxes and
    ``images``, the example overlays as ``box-example-N.png``)."""
    files = {
        name: neutralise(frame).to_csv(index=False, lineterminator="\n").encode("utf-8")
        for name, frame in frames(report).items()
    }
    pictures = {
        f"box-example-{n + 1}.png": png
        for n, png in enumerate(box_overlays(report) if images else [])
    }
    return files | pictures | {"README.txt": readme(report).encode("utf-8")}


def write_csvs(report: WeeklyReport, folder: Path, images: bool = True) -> list[Path]:
    """Write :func:`csv_files` into ``folder`` (created if missing); return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in csv_files(report, images).items():
        path = folder / name
        path.write_bytes(content)
        paths.append(path)
    return paths


def csv_zip(report: WeeklyReport) -> bytes:
    """The CSV folder as a zip (fixed timestamps, so the same report gives the same bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in csv_files(report).items():
            info = zipfile.ZipInfo(f"report-{report.week}/{name}", date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()
