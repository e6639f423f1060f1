"""Tidy tables out of the store, as CSV or Parquet, safe to open in a spreadsheet.

``EXPORTS`` maps each ``qualitylib export`` table name to the function that computes it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import duckdb
import pandas as pd

from qualitylib.errors import QualitylibError
from qualitylib.metrics.audit import reference_history
from qualitylib.metrics.boxes import (
    box_agreement,
    box_confusion,
    box_errors,
    box_summary,
    consensus_boxes,
)
from qualitylib.metrics.drift import DriftRule, drift_alerts
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.onboarding import Objective, onboarding_status
from qualitylib.metrics.policy import stale_policy
from qualitylib.metrics.reference import annotator_summary, confusion_table
from qualitylib.metrics.review import review_queue
from qualitylib.metrics.team_agreement import agreement_summary, pairwise_kappa
from qualitylib.metrics.timeline import timeline
from qualitylib.people_exports import (
    behaviour_export,
    gold_budget_export,
    gold_exposure_export,
    time_on_task_export,
)

Exporter = Callable[[duckdb.DuckDBPyConnection, Filters], pd.DataFrame]


def onboarding_export(
    con: duckdb.DuckDBPyConnection, filters: Filters, objective: Objective | None = None
) -> pd.DataFrame:
    """``onboarding_status`` with the exporter signature (``objective`` via functools.partial)."""
    return onboarding_status(con, objective or Objective(), filters)


def drift_alerts_export(
    con: duckdb.DuckDBPyConnection, filters: Filters, rule: DriftRule | None = None
) -> pd.DataFrame:
    """``drift_alerts`` with the exporter signature (``rule`` via functools.partial)."""
    return drift_alerts(con, rule or DriftRule(), filters)


EXPORTS: dict[str, Exporter] = {
    "annotator-summary": annotator_summary,
    "confusion": confusion_table,
    "pairwise-kappa": pairwise_kappa,
    "agreement": agreement_summary,
    "audit": reference_history,
    "drift-alerts": drift_alerts_export,
    "onboarding": onboarding_export,
    "timeline": timeline,
    "review-queue": review_queue,
    "stale-policy": stale_policy,
    "behaviour": behaviour_export,
    "behavior": behaviour_export,
    "time-on-task": time_on_task_export,
    "gold-budget": gold_budget_export,
    "gold-exposure": gold_exposure_export,
    "box-summary": box_summary,
    "box-errors": box_errors,
    "box-confusion": box_confusion,
    "box-agreement": box_agreement,
    "consensus-boxes": consensus_boxes,
}
BOX_TABLES = ("box-summary", "box-errors", "box-confusion", "box-agreement", "consensus-boxes")

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with ``'`` (OWASP)."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            values = safe[column]
            risky = values.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_PREFIXES))
            safe[column] = values.where(~risky, "'" + values.astype(str))
    return safe


def write_table(
    frame: pd.DataFrame, out: Path | None, fmt: Literal["csv", "parquet"] = "csv"
) -> None:
    """Write ``frame`` to ``out`` (CSV to stdout when ``out`` is None)."""
    if fmt == "parquet":
        if out is None:
            raise QualitylibError("Parquet needs a file: add --out FILE.parquet")
        frame.to_parquet(out, index=False)
        return
    neutralise(frame).to_csv(out if out is not None else sys.stdout, index=False)
