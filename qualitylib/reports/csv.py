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
from qualitylib.reports.weekly import HISTORY_WEEKS, REVIEW_TOP, WeeklyReport

__all__ = [
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
    """The report's files: :data:`FILES`, and :data:`MODEL_FILES` when it has models."""
    return FILES | MODEL_FILES if report.has_models else FILES


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
            "n_raters": [int(report.agreement["n_raters"].iloc[0])],
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
    documented = (FILES | MODEL_FILES)[name][2]
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
    for name, frame in frames(report).items():
        lines += [name, f"  {(FILES | MODEL_FILES)[name][1]}."]
        lines += [f"  - {column}: {describe(name, str(column))}" for column in frame.columns]
        lines.append("")
    return "\n".join(lines)


def csv_files(report: WeeklyReport) -> dict[str, bytes]:
    """``{file name: bytes}`` for every table and ``README.txt``."""
    files = {
        name: neutralise(frame).to_csv(index=False, lineterminator="\n").encode("utf-8")
        for name, frame in frames(report).items()
    }
    return files | {"README.txt": readme(report).encode("utf-8")}


def write_csvs(report: WeeklyReport, folder: Path) -> list[Path]:
    """Write :func:`csv_files` into ``folder`` (created if missing); return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in csv_files(report).items():
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
