"""Each annotator against the committee reference: confusion, accuracy, kappa, TPR/FPR/precision.

Pure functions of the confusion tensor ``counts: (n_annotators, k, k)`` (reference x given),
plus the store-facing wrappers that fetch it. Every rate carries its denominator ``_n`` and a
95 % Wilson interval; kappa carries its Fleiss-Cohen-Everitt (1969) interval.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from qualitylib.agreement import cohen_kappa_tables
from qualitylib.metrics.counts import ConfusionCounts, confusion_counts, label_index, scored_sql
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.periods import Period
from qualitylib.metrics.results import SUFFIXES, Estimate, rate_columns

__all__ = [
    "annotator_summary",
    "binary_counts",
    "class_rates",
    "confusion_long",
    "confusion_table",
    "rate_columns",
    "rates_from_counts",
    "summary_from_counts",
    "team_rates",
]


def binary_counts(counts: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Collapse ``(..., k, k)`` confusion counts to ``(..., 2, 2)``: [negative, positive]."""
    side = positive.astype(int)
    collapse = np.zeros((len(side), 2))
    collapse[np.arange(len(side)), side] = 1
    return np.einsum("...rg,rs,gt->...st", counts, collapse, collapse)


def class_rates(counts: np.ndarray) -> dict[str, np.ndarray]:
    """One-vs-rest TP, FN, FP, TN per annotator and class, each ``(n_annotators, k)``."""
    tp = np.diagonal(counts, axis1=1, axis2=2)
    reference_total = counts.sum(axis=2)
    given_total = counts.sum(axis=1)
    n = counts.sum(axis=(1, 2))[:, None]
    fn = reference_total - tp
    fp = given_total - tp
    return {"tp": tp, "fn": fn, "fp": fp, "tn": n - tp - fn - fp}


def rates_from_counts(
    counts: np.ndarray,
    labels: list[str],
    positive: np.ndarray,
    per_class: tuple[str, ...] = ("tpr", "fpr", "precision"),
) -> dict[str, np.ndarray]:
    """Accuracy, the binary ``tpr, fpr, precision`` and per-class ``<rate>_<label>`` of
    ``(n, k, k)`` confusion counts (reference x given), in the results pattern.

    The binary view counts any positive label against the negative ones; per class, one
    label against the rest. Per-class recall is ``tpr_<label>`` everywhere.
    """
    n = counts.sum(axis=(1, 2))
    columns = rate_columns("accuracy", np.trace(counts, axis1=1, axis2=2), n)
    binary = class_rates(binary_counts(counts, positive))
    tp, fn, fp, tn = (binary[key][:, 1] for key in ("tp", "fn", "fp", "tn"))
    columns |= rate_columns("tpr", tp, tp + fn)
    columns |= rate_columns("fpr", fp, fp + tn)
    columns |= rate_columns("precision", tp, tp + fp)
    one_vs_rest = class_rates(counts)
    for c, label in enumerate(labels):
        tp, fn, fp, tn = (one_vs_rest[key][:, c] for key in ("tp", "fn", "fp", "tn"))
        denominators = {"tpr": (tp, tp + fn), "fpr": (fp, fp + tn), "precision": (tp, tp + fp)}
        for rate in per_class:
            columns |= rate_columns(f"{rate}_{label}", *denominators[rate])
    return columns


def summary_from_counts(
    counts: np.ndarray, labels: list[str], positive: np.ndarray
) -> pd.DataFrame:
    """One row per annotator: ``n_reference`` (labels on reference items), accuracy, Cohen's
    kappa against the reference (with ``kappa_se``) and :func:`rates_from_counts`.

    Columns follow ``<rate>, <rate>_ci_low, <rate>_ci_high, <rate>_n``.
    """
    n = counts.sum(axis=(1, 2))
    kappa = cohen_kappa_tables(counts)
    rates = rates_from_counts(counts, labels, positive)
    accuracy = {name: rates.pop(name) for name in ("accuracy", *(f"accuracy{s}" for s in SUFFIXES))}
    kappa_columns = Estimate.of(kappa.value, kappa.ci_low, kappa.ci_high, n).columns("kappa")
    return pd.DataFrame(
        {"n_reference": n} | accuracy | kappa_columns | {"kappa_se": kappa.se} | rates
    )


def annotator_summary(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None
) -> pd.DataFrame:
    """Per-annotator metrics against the reference, from the store."""
    confusion = confusion_counts(con, filters or Filters())
    return _with_people(
        confusion,
        summary_from_counts(confusion.counts, confusion.labels.names, confusion.labels.positive),
    )


# Who "the team" is when rates are pooled: every annotator but the committee (whose labels
# are the reference, not work to be measured); an annotator without a role is a member.
TEAM_MEMBER = "a.role IS DISTINCT FROM 'committee'"


def team_rates(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    period: Period | None = None,
) -> pd.DataFrame:
    """The team's pooled rates against the reference: the summed confusion counts of the
    team's members (every annotator but the committee), as :func:`summary_from_counts`.

    Without ``period`` one row (counts 0 and rates NaN when nothing matches); with one, a row
    per period that has labels, ``period_start`` first (a date, as in
    :func:`qualitylib.metrics.timeline.timeline`).
    """
    scored, params = scored_sql(filters or Filters())
    when = "date_trunc($period, s.annotated_at)::DATE" if period else "NULL::DATE"
    table = con.execute(
        f"""SELECT {when} AS period_start, s.ref_label_key, s.label_key, count(*) AS n
            FROM {scored} AS s JOIN annotators a USING (annotator_key)
            WHERE {TEAM_MEMBER} GROUP BY ALL ORDER BY period_start""",
        params | ({"period": period} if period else {}),
    ).df()
    index = label_index(con)
    k = len(index.labels)
    starts = np.unique(table["period_start"].to_numpy()) if period else np.array([None])
    counts = np.zeros((len(starts), k, k), dtype=np.int64)
    if len(table):
        rows = np.searchsorted(starts, table["period_start"].to_numpy()) if period else 0
        np.add.at(
            counts,
            (
                rows,
                index.positions(table["ref_label_key"].to_numpy()),
                index.positions(table["label_key"].to_numpy()),
            ),
            table["n"].to_numpy(),
        )
    out = summary_from_counts(counts, index.names, index.positive)
    if period:
        out.insert(0, "period_start", pd.to_datetime(starts).date if len(starts) else [])
    return out


def _with_people(confusion: ConfusionCounts, table: pd.DataFrame) -> pd.DataFrame:
    people = confusion.annotators[["annotator_id", "name", "team"]].reset_index(drop=True)
    return pd.concat([people, table.reset_index(drop=True)], axis=1)


def confusion_long(confusion: ConfusionCounts) -> pd.DataFrame:
    """Tidy confusion counts: ``annotator_id, reference_label, label, n`` (zeros included)."""
    n_annotators, k, _ = confusion.counts.shape
    names = np.asarray(confusion.labels.names, dtype=object)
    ids = confusion.annotators["annotator_id"].to_numpy(dtype=object)
    a, r, g = np.meshgrid(np.arange(n_annotators), np.arange(k), np.arange(k), indexing="ij")
    return pd.DataFrame(
        {
            "annotator_id": ids[a.ravel()],
            "reference_label": names[r.ravel()],
            "label": names[g.ravel()],
            "n": confusion.counts.ravel(),
        }
    )


def confusion_table(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> pd.DataFrame:
    """Tidy per-annotator confusion counts from the store."""
    return confusion_long(confusion_counts(con, filters or Filters()))
