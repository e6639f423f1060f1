"""Slices: any metric restricted to, or broken down by, an item metadata column.

``Filters(slice_column=..., slice_values=...)`` already restricts every metric to items whose
metadata column has one of the values; :func:`breakdown` runs a metric once per value (a few
values, so a short Python loop over *values*, never over rows) and stacks the results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import duckdb
import pandas as pd

from qualitylib.log_scope import require_log
from qualitylib.metrics.counts import filtered_sql
from qualitylib.metrics.filters import Filters

__all__ = ["breakdown", "slice_values"]


def slice_values(
    con: duckdb.DuckDBPyConnection, filters: Filters | None, column: str
) -> pd.DataFrame:
    """Values of item metadata ``column`` among labelled items: ``value, n_items, n_labels``,
    most labels first (items without the column are left out)."""
    require_log(con, "A slice of items")
    source, params = filtered_sql(filters or Filters())
    return con.execute(
        f"""SELECT json_extract_string(i.metadata, '$.' || $column) AS value,
                   count(DISTINCT x.item_key) AS n_items, count(*) AS n_labels
            FROM {source} AS x JOIN items i USING (item_key)
            WHERE json_extract_string(i.metadata, '$.' || $column) IS NOT NULL
            GROUP BY ALL ORDER BY n_labels DESC, value""",
        params | {"column": column},
    ).df()


def breakdown(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None,
    fn: Callable[..., pd.DataFrame],
    column: str,
    values: Sequence[str] | None = None,
    **kwargs: object,
) -> pd.DataFrame:
    """``fn(con, filters=<restricted to one value>, **kwargs)`` for every value of ``column``
    (or the given ``values``), stacked with a leading ``slice`` column.

    Example: ``breakdown(con, Filters(), timeline, "source", period="month")``.
    """
    filters = filters or Filters()
    if values is None:
        values = slice_values(con, filters, column)["value"].tolist()
    frames = []
    for value in values:
        part = fn(
            con, filters=replace(filters, slice_column=column, slice_values=(value,)), **kwargs
        )
        frames.append(part.assign(slice=value)[["slice", *part.columns]])
    if not frames:
        return pd.DataFrame(columns=["slice"])
    return pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True)
