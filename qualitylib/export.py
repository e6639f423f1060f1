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
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.reference import annotator_summary, confusion_table
from qualitylib.metrics.team_agreement import agreement_summary, pairwise_kappa

Exporter = Callable[[duckdb.DuckDBPyConnection, Filters], pd.DataFrame]

EXPORTS: dict[str, Exporter] = {
    "annotator-summary": annotator_summary,
    "confusion": confusion_table,
    "pairwise-kappa": pairwise_kappa,
    "agreement": agreement_summary,
    "audit": reference_history,
}

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
