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
from qualitylib.intervals import wilson
from qualitylib.metrics.counts import ConfusionCounts, confusion_counts
from qualitylib.metrics.filters import Filters


def rate_columns(name: str, successes: np.ndarray, n: np.ndarray) -> dict[str, np.ndarray]:
    """``name, name_ci_low, name_ci_high, name_n`` for successes out of n (NaN when n = 0)."""
    successes = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, successes / np.where(n > 0, n, 1), np.nan)
    low, high = wilson(successes, n)
    return {
        name: rate,
        f"{name}_ci_low": low,
        f"{name}_ci_high": high,
        f"{name}_n": n.astype(np.int64),
    }


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


def summary_from_counts(
    counts: np.ndarray, labels: list[str], positive: np.ndarray
) -> pd.DataFrame:
    """One row per annotator: accuracy, kappa vs reference, binary and per-class rates.

    Columns follow ``<rate>, <rate>_ci_low, <rate>_ci_high, <rate>_n``. ``tpr``/``fpr``/
    ``precision`` are the binary view (any positive class vs the negative ones); per-class
    one-vs-rest rates are ``tpr_<label>`` etc.
    """
    n = counts.sum(axis=(1, 2))
    correct = np.trace(counts, axis1=1, axis2=2)
    columns: dict[str, np.ndarray] = {"n_labels": n}
    columns |= rate_columns("accuracy", correct, n)
    kappa = cohen_kappa_tables(counts)
    columns |= {
        "kappa": kappa.value,
        "kappa_ci_low": kappa.ci_low,
        "kappa_ci_high": kappa.ci_high,
        "kappa_n": n,
    }
    binary = class_rates(binary_counts(counts, positive))
    tp, fn, fp, tn = (binary[key][:, 1] for key in ("tp", "fn", "fp", "tn"))
    columns |= rate_columns("tpr", tp, tp + fn)
    columns |= rate_columns("fpr", fp, fp + tn)
    columns |= rate_columns("precision", tp, tp + fp)
    per_class = class_rates(counts)
    for c, label in enumerate(labels):
        tp, fn, fp, tn = (per_class[key][:, c] for key in ("tp", "fn", "fp", "tn"))
        columns |= rate_columns(f"tpr_{label}", tp, tp + fn)
        columns |= rate_columns(f"fpr_{label}", fp, fp + tn)
        columns |= rate_columns(f"precision_{label}", tp, tp + fp)
    return pd.DataFrame(columns)


def annotator_summary(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None
) -> pd.DataFrame:
    """Per-annotator metrics against the reference, from the store."""
    confusion = confusion_counts(con, filters or Filters())
    return _with_people(
        confusion,
        summary_from_counts(confusion.counts, confusion.labels.names, confusion.labels.positive),
    )


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
