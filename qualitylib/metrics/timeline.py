"""Metrics over time: per annotator and calendar period, and per tenure (learning curves).

SQL groups the label log by annotator x period (``date_trunc``) or by annotator x tenure bin
(``row_number() OVER (PARTITION BY annotator ORDER BY annotated_at)``) into confusion counts;
numpy turns the counts ``(n_groups, k, k)`` into rates with Wilson intervals
(:func:`qualitylib.metrics.reference.rates_from_counts`).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from qualitylib.metrics.counts import LabelIndex, activity_sql, label_index, scored_sql
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.periods import Period, check_period
from qualitylib.metrics.reference import rates_from_counts

__all__ = ["Period", "learning_curve", "timeline"]


def _grouped_confusion(
    table: pd.DataFrame, keys: list[str], index: LabelIndex
) -> tuple[pd.DataFrame, np.ndarray]:
    """Distinct ``keys`` rows of a ``keys + ref_label_key, label_key, n`` count table and the
    confusion counts ``(n_groups, k, k)`` of each group."""
    k = len(index.labels)
    if table.empty:
        return table[keys].iloc[:0].reset_index(drop=True), np.zeros((0, k, k), dtype=np.int64)
    groups = table[keys].drop_duplicates().sort_values(keys).reset_index(drop=True)
    group_of_row = (
        table[keys].merge(groups.reset_index(names="_group"), on=keys, how="left")["_group"]
    ).to_numpy()
    counts = np.zeros((len(groups), k, k), dtype=np.int64)
    np.add.at(
        counts,
        (
            group_of_row,
            index.positions(table["ref_label_key"].to_numpy()),
            index.positions(table["label_key"].to_numpy()),
        ),
        table["n"].to_numpy(),
    )
    return groups, counts


def _annotator_ids(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("SELECT annotator_key, annotator_id FROM annotators").df()


def timeline(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    period: Period = "week",
) -> pd.DataFrame:
    """One row per annotator x period: volume and rates against the reference.

    Columns: ``annotator_id, period_start`` (a date: the day, the Monday of an ISO week, or
    the first of the month, UTC), ``n_labels`` (all labels), ``n_reference`` (labels on
    reference items, scored against the decision in force when made), then ``accuracy``,
    ``tpr``, ``fpr``, ``precision`` (binary view) and ``tpr_<label>`` (recall of each label,
    one against the rest), each with
    ``_ci_low, _ci_high, _n`` (95 % Wilson interval and denominator; NaN when ``_n`` is 0).
    """
    filters = filters or Filters()
    source, source_params = activity_sql(con, filters)  # a day's cells fall in one period
    scored, scored_params = scored_sql(filters)
    out = period_rates(
        con,
        "annotator_key",
        (f"{source} AS f", source_params, "first_at", "sum(n_labels)"),
        (scored, scored_params, "annotated_at"),
        period,
    )
    out = out.merge(_annotator_ids(con), on="annotator_key", how="left")
    out = out.sort_values(["annotator_id", "period_start"], ignore_index=True)
    columns = ["annotator_id", "period_start", "n_labels", "n_reference"]
    return out[columns + [c for c in out.columns if c not in columns and c != "annotator_key"]]


def period_rates(
    con: duckdb.DuckDBPyConnection,
    key: str,
    labels: tuple[str, dict, str, str],
    scored: tuple[str, dict, str],
    period: Period,
) -> pd.DataFrame:
    """One row per rater ``key`` x period: ``n_labels`` counted over ``labels`` and the rates
    against the reference counted over ``scored``, each given as ``(FROM clause, parameters,
    time column)``, ``labels`` with its count (``count(*)`` over labels, ``sum(n_labels)``
    over count cells); a period without reference labels has counts 0 and rates NaN.

    The one computation behind the annotators' timeline and the models' (a rater is a person
    or a model version)."""
    check_period(period)
    source, params, at, count = labels
    volume = con.execute(
        f"""SELECT {key}, date_trunc($period, {at})::DATE AS period_start,
                   CAST({count} AS BIGINT) AS n_labels
            FROM {source} GROUP BY ALL""",
        params | {"period": period},
    ).df()
    source, params, at = scored
    table = con.execute(
        f"""SELECT {key}, date_trunc($period, {at})::DATE AS period_start,
                   ref_label_key, label_key, count(*) AS n
            FROM {source} AS s GROUP BY ALL""",
        params | {"period": period},
    ).df()
    index = label_index(con)
    keys = [key, "period_start"]
    groups, counts = _grouped_confusion(table, keys, index)
    rates = pd.DataFrame(
        {"n_reference": counts.sum(axis=(1, 2))}
        | rates_from_counts(counts, index.names, index.positive, per_class=("tpr",))
    )
    return _fill_unscored(volume.merge(pd.concat([groups, rates], axis=1), on=keys, how="left"))


def _fill_unscored(frame: pd.DataFrame) -> pd.DataFrame:
    """Groups without reference labels: counts 0, rates NaN (not 0)."""
    frame = frame.copy()
    count_columns = ["n_reference"] + [c for c in frame.columns if c.endswith("_n")]
    frame[count_columns] = frame[count_columns].fillna(0).astype(np.int64)
    return frame


def learning_curve(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    bin_size: int = 50,
) -> pd.DataFrame:
    """Rates by tenure: the n-th reference label of each annotator, in bins of ``bin_size``.

    Tenure counts every reference-scored label of the annotator in the store (training and
    production) in time order, whatever ``filters`` select, so learning curves of people who
    started on different dates line up; ``filters`` then choose which labels are counted.

    Columns: ``annotator_id, tenure_bin`` (0, 1, ...), ``tenure_start, tenure_end`` (the first
    and last label number in the bin, 1-based), ``first_at, last_at`` (time span of the labels
    in the bin), ``n_reference``, then ``accuracy, tpr, fpr, precision`` with ``_ci_low,
    _ci_high, _n``.
    """
    if not isinstance(bin_size, int) or bin_size < 1:
        raise ValueError(f"bin_size must be a positive integer, e.g. 50 (got {bin_size!r})")
    filters = filters or Filters()
    scored, _ = scored_sql(Filters())
    where, params = filters.where("t")
    table = con.execute(
        f"""WITH ranked AS (
                SELECT s.*, row_number() OVER (
                    PARTITION BY annotator_key ORDER BY annotated_at, item_key) AS tenure
                FROM {scored} AS s
            )
            SELECT annotator_key, (tenure - 1) // $bin AS tenure_bin,
                   ref_label_key, label_key, count(*) AS n,
                   min(annotated_at) AS first_at, max(annotated_at) AS last_at,
                   max(tenure) AS last_tenure
            FROM ranked t WHERE {where} GROUP BY ALL""",
        params | {"bin": bin_size},
    ).df()
    index = label_index(con)
    keys = ["annotator_key", "tenure_bin"]
    groups, counts = _grouped_confusion(table, keys, index)
    spans = (
        table.groupby(keys, as_index=False).agg(
            first_at=("first_at", "min"),
            last_at=("last_at", "max"),
            tenure_end=("last_tenure", "max"),
        )
        if len(table)
        else pd.DataFrame(columns=[*keys, "first_at", "last_at", "tenure_end"])
    )
    out = pd.concat(
        [
            groups,
            pd.DataFrame({"n_reference": counts.sum(axis=(1, 2))}),
            pd.DataFrame(rates_from_counts(counts, index.names, index.positive, per_class=())),
        ],
        axis=1,
    )
    out = out.merge(spans, on=keys, how="left").merge(
        _annotator_ids(con), on="annotator_key", how="left"
    )
    out["tenure_bin"] = out["tenure_bin"].astype(np.int64)
    out["tenure_start"] = out["tenure_bin"] * bin_size + 1
    out["tenure_end"] = out["tenure_end"].astype(np.int64)
    out = out.sort_values(["annotator_id", "tenure_bin"], ignore_index=True)
    lead = ["annotator_id", "tenure_bin", "tenure_start", "tenure_end", "first_at", "last_at"]
    return out[lead + [c for c in out.columns if c not in lead and c != "annotator_key"]]
