"""Results: every rate from its counts, with its interval and ``n``, in one place and two shapes.

A number the library reports is an :class:`Estimate`: ``value, ci_low, ci_high, n`` (arrays,
one entry per entity x period). Proportions get theirs from :func:`proportion` (95 % Wilson
from successes and trials, NaN where ``n`` is 0); coefficients wrap their own interval with
:meth:`Estimate.of`.

Shapes, both derived from the estimates:

* **wide** (what tables, exports and pages read): one row per entity (x period) and, per
  metric, the columns ``<metric>, <metric>_ci_low, <metric>_ci_high, <metric>_n``
  (:meth:`Estimate.columns`). Wide is the stored form because a row then holds everything
  said about one person in one week, which is what every page, report section and CSV shows.
* **long** (one row per number, for charts, comparisons and stacking metrics of different
  tables): ``entity, period, metric, value, ci_low, ci_high, n`` (:data:`LONG`), from any wide
  table by :func:`to_long`; :func:`to_wide` is its inverse.

A column belongs to the pattern when its three companions exist, so a new metric anywhere is
found by :func:`metric_names` without a list to update.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from qualitylib.intervals import wilson

__all__ = [
    "LONG",
    "SUFFIXES",
    "Estimate",
    "metric_names",
    "proportion",
    "rate_columns",
    "to_long",
    "to_wide",
]

SUFFIXES = ("_ci_low", "_ci_high", "_n")
LONG = ["entity", "period", "metric", "value", "ci_low", "ci_high", "n"]


@dataclass(frozen=True)
class Estimate:
    """Values with their 95 % interval and the count behind each (arrays of one shape)."""

    value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    n: np.ndarray

    @classmethod
    def of(cls, value: ArrayLike, ci_low: ArrayLike, ci_high: ArrayLike, n: ArrayLike) -> Estimate:
        """An estimate whose interval was computed elsewhere (e.g. a kappa's analytic CI)."""
        return cls(
            np.asarray(value, dtype=float),
            np.asarray(ci_low, dtype=float),
            np.asarray(ci_high, dtype=float),
            np.asarray(n).astype(np.int64),
        )

    def columns(self, name: str) -> dict[str, np.ndarray]:
        """The wide columns ``name, name_ci_low, name_ci_high, name_n``."""
        return {
            name: self.value,
            f"{name}_ci_low": self.ci_low,
            f"{name}_ci_high": self.ci_high,
            f"{name}_n": self.n,
        }


def proportion(successes: ArrayLike, n: ArrayLike) -> Estimate:
    """``successes / n`` with its 95 % Wilson interval; NaN (never 0) where ``n`` is 0."""
    successes = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(n > 0, successes / np.where(n > 0, n, 1), np.nan)
    low, high = wilson(successes, n)
    return Estimate(value, np.asarray(low), np.asarray(high), n.astype(np.int64))


def rate_columns(name: str, successes: ArrayLike, n: ArrayLike) -> dict[str, np.ndarray]:
    """The wide columns of :func:`proportion` named ``name``."""
    return proportion(successes, n).columns(name)


def metric_names(frame: pd.DataFrame) -> list[str]:
    """Columns of ``frame`` that follow the pattern (their three companions exist), in order."""
    present = set(frame.columns)
    return [str(c) for c in frame.columns if all(f"{c}{suffix}" in present for suffix in SUFFIXES)]


def to_long(
    frame: pd.DataFrame,
    entity: str | Sequence[str] = "annotator_id",
    period: str | None = None,
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The long shape :data:`LONG` of a wide result table (one row per entity x period x metric).

    ``entity``: the column naming who a row is about (several columns are joined with
    `` / ``; a missing or null entity, e.g. a team row, reads ``"team"``). ``period``: the
    column of the period start (None: no period, NaT). ``metrics``: which (default: every
    column of the pattern, :func:`metric_names`).
    """
    names = list(metrics) if metrics is not None else metric_names(frame)
    entities = [entity] if isinstance(entity, str) else list(entity)
    if all(column in frame.columns for column in entities):
        who = frame[entities].astype(object).where(frame[entities].notna(), None)
        labels = [
            " / ".join(str(v) for v in row if v is not None) or "team"
            for row in who.itertuples(index=False)
        ]
    else:
        labels = ["team"] * len(frame)
    when = pd.to_datetime(frame[period]) if period is not None else pd.Series(pd.NaT, frame.index)
    parts = [
        pd.DataFrame(
            {
                "entity": labels,
                "period": when.to_numpy(),
                "metric": name,
                "value": frame[name].to_numpy(dtype=float),
                "ci_low": frame[f"{name}_ci_low"].to_numpy(dtype=float),
                "ci_high": frame[f"{name}_ci_high"].to_numpy(dtype=float),
                "n": frame[f"{name}_n"].to_numpy(dtype=np.int64),
            }
        )
        for name in names
    ]
    if not parts:
        return pd.DataFrame(columns=LONG)
    return pd.concat(parts, ignore_index=True)[LONG]


def to_wide(long: pd.DataFrame) -> pd.DataFrame:
    """Inverse of :func:`to_long`: ``entity, period`` then the pattern's columns per metric."""
    metrics = list(dict.fromkeys(long["metric"]))
    keys = long[["entity", "period"]].drop_duplicates().reset_index(drop=True)
    out = keys.copy()
    for name in metrics:
        part = long[long["metric"] == name]
        merged = keys.merge(part, on=["entity", "period"], how="left")
        out[name] = merged["value"].to_numpy(dtype=float)
        out[f"{name}_ci_low"] = merged["ci_low"].to_numpy(dtype=float)
        out[f"{name}_ci_high"] = merged["ci_high"].to_numpy(dtype=float)
        out[f"{name}_n"] = merged["n"].fillna(0).to_numpy(dtype=np.int64)
    return out
