"""Onboarding: is each annotator aligned with the committee over their last reference labels?

A trainer sets an :class:`Objective`. At every reference label of an annotator (training and
production controls, time order) SQL evaluates the rolling window of the last ``window``
reference labels (``ROWS BETWEEN window - 1 PRECEDING AND CURRENT ROW``): binary TP/FN/FP/TN
against the decision in force. The status follows from the sequence of windows:

* ``not_enough_data``: no window yet held ``min_positives`` positive and ``min_negatives``
  negative reference items;
* ``aligned``: the last decisive window *met* the objective (``TPR >= tpr_min`` and
  ``FPR <= fpr_max``, point estimates, with enough positives and negatives);
* ``regressed``: was aligned, and a later window *clearly failed* it: the 95 % Wilson interval
  lies entirely on the wrong side (``tpr_ci_high < tpr_min`` or ``fpr_ci_low > fpr_max``);
* ``in_training``: enough data, never met the objective yet.

Meeting uses point estimates (training can stop when the window looks right); regressing needs
evidence (hysteresis), so a steady expert whose true FPR is 0.03 does not flicker between
``aligned`` and ``regressed`` each time three false positives fall in one window.
``since`` is the time of the label at which the current status was reached.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import duckdb
import numpy as np
import pandas as pd

from qualitylib.intervals import wilson
from qualitylib.metrics.counts import activity_sql, label_index, scored_sql
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.reference import rate_columns

__all__ = ["STATUSES", "Objective", "onboarding_as_of", "onboarding_history", "onboarding_status"]

STATUSES = ("not_enough_data", "in_training", "aligned", "regressed")


@dataclass(frozen=True)
class Objective:
    """What "aligned with the committee" means for a trainer.

    Attributes
    ----------
    tpr_min : the window's TPR (binary view: any positive label vs the negative ones) must be
        at least this (default 0.85).
    fpr_max : the window's FPR must be at most this (default 0.05).
    window : the last this many reference labels are judged (default 100).
    min_positives, min_negatives : reference items of each side the window must hold before
        it is judged (default 20 each: one mistake then moves a rate by at most 5 points, and
        the Wilson interval of a rate near the objective is about +-0.15 wide).
    """

    tpr_min: float = 0.85
    fpr_max: float = 0.05
    window: int = 100
    min_positives: int = 20
    min_negatives: int = 20

    def __post_init__(self) -> None:
        if not (0 <= self.tpr_min <= 1 and 0 <= self.fpr_max <= 1):
            raise ValueError("tpr_min and fpr_max are rates: give values between 0 and 1")
        if not isinstance(self.window, int) or self.window < 1:
            raise ValueError(f"window must be a positive number of labels (got {self.window!r})")
        if self.min_positives + self.min_negatives > self.window:
            raise ValueError(
                f"a window of {self.window} labels can never hold {self.min_positives} positive "
                f"and {self.min_negatives} negative items: raise window or lower the minimums"
            )


def _fail_thresholds(objective: Objective) -> tuple[list[int], list[int]]:
    """Per denominator n = 0..window: the largest TP count whose Wilson upper bound is below
    ``tpr_min`` (-1 if none), and the smallest FP count whose lower bound is above ``fpr_max``
    (n + 1 if none). SQL compares window counts with these lists."""
    n = np.arange(objective.window + 1)
    successes = np.arange(objective.window + 1)
    grid_n, grid_x = np.meshgrid(n, successes, indexing="ij")
    valid = grid_x <= grid_n
    low, high = wilson(np.where(valid, grid_x, 0), grid_n)
    tp_fail = valid & (high < objective.tpr_min)
    fp_fail = valid & (low > objective.fpr_max)
    tp_max = np.where(tp_fail.any(axis=1), np.where(tp_fail, grid_x, -1).max(axis=1), -1)
    fp_min = np.where(
        fp_fail.any(axis=1), np.where(fp_fail, grid_x, n.max() + 1).min(axis=1), n + 1
    )
    return tp_max.tolist(), fp_min.tolist()


ORDER = "PARTITION BY annotator_key ORDER BY annotated_at, item_key"


def _events_sql(
    con: duckdb.DuckDBPyConnection, objective: Objective, filters: Filters
) -> tuple[str, dict[str, object]]:
    """CTEs ending in ``events``: every reference label with its window counts, its sequence
    number ``seq`` and whether its window ``meets`` or clearly ``fails`` the objective."""
    scored, params = scored_sql(filters)
    index = label_index(con)
    positive = [int(k) for k in index.labels.loc[index.positive, "label_key"]]
    tp_max, fp_min = _fail_thresholds(objective)
    preceding = int(objective.window) - 1  # validated int: a frame offset cannot be bound
    sql = f"""
        s AS (
            SELECT annotator_key, item_key, annotated_at,
                   list_contains($positive, ref_label_key) AS ref_pos,
                   list_contains($positive, label_key) AS given_pos
            FROM {scored} AS x
        ), w AS (
            SELECT *, count(*) OVER win AS window_n,
                   sum(ref_pos::INT) OVER win AS n_positive,
                   sum((ref_pos AND given_pos)::INT) OVER win AS tp,
                   sum((NOT ref_pos AND given_pos)::INT) OVER win AS fp,
                   row_number() OVER ({ORDER}) AS seq
            FROM s
            WINDOW win AS ({ORDER} ROWS BETWEEN {preceding} PRECEDING AND CURRENT ROW)
        ), judged AS (
            SELECT *, window_n - n_positive AS n_negative,
                   n_positive >= $min_pos AND window_n - n_positive >= $min_neg AS enough
            FROM w
        ), events AS (
            SELECT *,
                   enough AND tp >= $tpr_min * n_positive
                          AND fp <= $fpr_max * n_negative AS meets,
                   enough AND (tp <= $tp_max[(n_positive + 1)::BIGINT]
                               OR fp >= $fp_min[(n_negative + 1)::BIGINT]) AS fails
            FROM judged
        )
    """
    params = params | {
        "positive": positive,
        "min_pos": objective.min_positives,
        "min_neg": objective.min_negatives,
        "tpr_min": objective.tpr_min,
        "fpr_max": objective.fpr_max,
        "tp_max": tp_max,
        "fp_min": fp_min,
    }
    return sql, params


def _evaluated_sql(
    con: duckdb.DuckDBPyConnection, objective: Objective, filters: Filters
) -> tuple[str, dict[str, object]]:
    """Every reference label with its window counts and the status reached at that label."""
    events, params = _events_sql(con, objective, filters)
    sql = f"""
        WITH {events}, marks AS (
            SELECT *,
                   last_value(CASE WHEN meets THEN 'met' WHEN fails THEN 'failed' END
                              IGNORE NULLS) OVER upto AS last_event,
                   bool_or(meets) OVER upto AS ever_met,
                   bool_or(enough) OVER upto AS ever_enough
            FROM events
            WINDOW upto AS ({ORDER} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        ), statuses AS (
            SELECT *,
                   CASE WHEN last_event = 'met' THEN 'aligned'
                        WHEN ever_met THEN 'regressed'
                        WHEN ever_enough THEN 'in_training'
                        ELSE 'not_enough_data' END AS status
            FROM marks
        ), runs AS (
            SELECT *,
                   CASE WHEN status IS DISTINCT FROM lag(status) OVER ({ORDER})
                        THEN annotated_at END AS run_start
            FROM statuses
        )
        SELECT *,
               last_value(run_start IGNORE NULLS) OVER (
                   {ORDER} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS since,
               min(annotated_at) FILTER (WHERE status = 'aligned') OVER (
                   {ORDER} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS first_aligned
        FROM runs
    """
    return sql, params


def _with_rates(table: pd.DataFrame) -> pd.DataFrame:
    """Window TPR/FPR with Wilson intervals from the window counts."""
    tp, fp = table["tp"].to_numpy(), table["fp"].to_numpy()
    rates = rate_columns("tpr", tp, table["n_positive"].to_numpy()) | rate_columns(
        "fpr", fp, table["n_negative"].to_numpy()
    )
    return pd.concat([table.reset_index(drop=True), pd.DataFrame(rates)], axis=1)


def onboarding_status(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    objective: Objective = Objective(),
) -> pd.DataFrame:
    """Each annotator's status against ``objective`` after their latest reference label.

    Columns: ``annotator_id, name, team, status`` (see the module docstring), ``since`` (time
    the status was reached), ``first_aligned`` (first time aligned, NaT if never),
    ``n_reference_labels``, ``window_n, n_positive, n_negative`` (the current window) and
    ``tpr, fpr`` with ``_ci_low, _ci_high, _n`` (95 % Wilson) over that window.
    """
    # Only the end state is needed, so the statuses of the module docstring come from per
    # annotator aggregates over the events instead of three more window passes (which cost
    # ~0.5 s on the 500k reference labels of a 10M-label store): the status is "aligned" when
    # the last decisive window met the objective, and each status's run began at the first
    # event that led to it after the last event of the other kind.
    events, params = _events_sql(con, objective, filters or Filters())
    table = con.execute(
        f"""WITH {events}, per AS (
                SELECT annotator_key, count(*) AS n_reference_labels,
                       max(seq) FILTER (WHERE meets) AS last_met,
                       max(seq) FILTER (WHERE fails AND NOT meets) AS last_failed,
                       min(annotated_at) AS first_at,
                       min(annotated_at) FILTER (WHERE enough) AS first_enough_at,
                       min(annotated_at) FILTER (WHERE meets) AS first_aligned,
                       arg_max(window_n, seq) AS window_n,
                       arg_max(n_positive, seq) AS n_positive,
                       arg_max(n_negative, seq) AS n_negative,
                       arg_max(tp, seq) AS tp, arg_max(fp, seq) AS fp
                FROM events GROUP BY annotator_key
            ), runs AS (
                SELECT e.annotator_key,
                       min(e.annotated_at) FILTER (
                           WHERE e.meets AND e.seq > coalesce(p.last_failed, 0)) AS aligned_at,
                       min(e.annotated_at) FILTER (
                           WHERE e.fails AND NOT e.meets AND e.seq > p.last_met) AS regressed_at
                FROM events e JOIN per p USING (annotator_key) GROUP BY e.annotator_key
            ), e AS (
                SELECT p.*, r.aligned_at, r.regressed_at,
                       CASE WHEN p.last_met > coalesce(p.last_failed, 0) THEN 'aligned'
                            WHEN p.last_met IS NOT NULL THEN 'regressed'
                            WHEN p.first_enough_at IS NOT NULL THEN 'in_training'
                            ELSE 'not_enough_data' END AS status
                FROM per p JOIN runs r USING (annotator_key)
            )
            SELECT a.annotator_id, a.name, a.team, e.status,
                   CASE e.status WHEN 'aligned' THEN e.aligned_at
                                 WHEN 'regressed' THEN e.regressed_at
                                 WHEN 'in_training' THEN e.first_enough_at
                                 ELSE e.first_at END AS since,
                   e.first_aligned, e.n_reference_labels, e.window_n, e.n_positive,
                   e.n_negative, e.tp, e.fp
            FROM e JOIN annotators a USING (annotator_key)
            ORDER BY a.annotator_id""",
        params,
    ).df()
    return _with_rates(table).drop(columns=["tp", "fp"])


def onboarding_as_of(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    objective: Objective = Objective(),
) -> pd.DataFrame:
    """The status at the end of a window of everyone who labelled inside it.

    A status is a fact about a person at a date: it is judged over the annotator's whole
    history up to ``filters.until`` (``filters.since`` only chooses who is listed), so a
    window that still holds a person's latest labels gives the same status as the full log.
    Columns as :func:`onboarding_status`.
    """
    filters = filters or Filters()
    status = onboarding_status(con, replace(filters, since=None), objective)
    source, params = activity_sql(con, filters)
    active = con.execute(
        f"""SELECT DISTINCT a.annotator_id FROM {source} AS f
            JOIN annotators a USING (annotator_key)""",
        params,
    ).fetchall()
    keep = status["annotator_id"].isin([row[0] for row in active])
    return status[keep].reset_index(drop=True)


def onboarding_history(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    objective: Objective = Objective(),
) -> pd.DataFrame:
    """Window rates and status at the end of each day an annotator made reference labels.

    Columns: ``annotator_id, day, status, n_reference_labels`` (so far), ``window_n,
    n_positive, n_negative`` and ``tpr, fpr`` with intervals: the trainer's progress chart.
    """
    sql, params = _evaluated_sql(con, objective, filters or Filters())
    table = con.execute(
        f"""WITH e AS ({sql})
            SELECT a.annotator_id, e.annotated_at::DATE AS day, e.status,
                   e.seq AS n_reference_labels, e.window_n, e.n_positive, e.n_negative,
                   e.tp, e.fp
            FROM e JOIN annotators a USING (annotator_key)
            QUALIFY row_number() OVER (
                PARTITION BY e.annotator_key, e.annotated_at::DATE ORDER BY e.seq DESC) = 1
            ORDER BY a.annotator_id, day""",
        params,
    ).df()
    return _with_rates(table).drop(columns=["tp", "fp"])
