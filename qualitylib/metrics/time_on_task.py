"""Time on task: median seconds per item with an interval, and answers given too fast.

Counts come from one SQL pass over the timed annotations (``duration_s``, NULL when the tool
did not record it); only per-annotator (or per annotator x week) rows reach Python.

*Median with an interval*: the exact distribution-free interval for a median from order
statistics (Conover 1999, §3.2; Hahn & Meeker 1991): with ``n`` timed answers sorted,
``[x_(l), x_(n - l + 1)]`` where ``l`` is the ``alpha / 2`` quantile of Binomial(n, 1/2), so
its coverage is at least ``1 - alpha``. It needs ``n >= 6`` at 95 % (NaN below).

*Too fast*: an answer is too fast when, on a log scale, it lies more than ``k`` robust standard
deviations below the team's median time for the label the person gave:
``ln d < median(ln d) - k * 1.4826 * MAD(ln d)`` over every timed answer with that label in the
selection (durations below ``floor_s`` count as ``floor_s``). Log scale because times on task
are right-skewed (a lognormal is the usual model), so the rule is about ratios ("a third of the
team's usual time"), not seconds. The fast answers on reference items are scored against the
committee beside, since a fast expert is not a spammer.

*Boxes* (:func:`box_time_on_task`): the box tools time an image, not a box, so the answer is
the image submission; too fast is judged against the team's times on all images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import duckdb
import numpy as np
import pandas as pd
from scipy.stats import binom

from qualitylib.metrics.counts import filtered_sql, scored_sql
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.reference import rate_columns

__all__ = ["SpeedRule", "box_time_on_task", "median_rank_bounds", "time_on_task"]

MAD_SCALE = 1.4826  # MAD -> standard deviation for a normal distribution


@dataclass(frozen=True)
class SpeedRule:
    """When an answer is too fast: ``k`` robust SDs below the team's log-median for its label.

    ``k = 2.5`` marks about 0.6 % of a lognormal team's answers; ``floor_s`` keeps 0 s finite
    on the log scale; ``alpha`` sets the median's interval (0.05: 95 %).
    """

    k: float = 2.5
    floor_s: float = 0.05
    alpha: float = 0.05

    def __post_init__(self) -> None:
        if not self.k > 0:
            raise ValueError(f"k must be positive (got {self.k})")
        if not self.floor_s > 0:
            raise ValueError(f"floor_s must be positive seconds (got {self.floor_s})")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be between 0 and 1 (got {self.alpha})")


def median_rank_bounds(n: np.ndarray | int, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """1-based ranks ``(l, n - l + 1)`` of the order statistics bounding the median.

    ``l`` is the largest rank with ``P(Binomial(n, 1/2) <= l - 1) <= alpha / 2``; 0 where no
    interval reaches ``1 - alpha`` (n too small).

    >>> median_rank_bounds(10)
    (array([2]), array([9]))
    """
    n = np.atleast_1d(np.asarray(n, dtype=np.int64))
    low = binom.ppf(alpha / 2, n, 0.5).astype(np.int64)
    # ppf gives the smallest l with cdf(l) >= alpha/2; step down while cdf(l - 1) > alpha/2
    low = np.where(binom.cdf(low - 1, n, 0.5) > alpha / 2, low - 1, low)
    low = np.where(low >= 1, low, 0)
    return low, np.where(low >= 1, n - low + 1, 0)


def _thresholds_sql(rule: SpeedRule) -> str:
    """CTE ``t``: per label, the log-duration below which an answer is too fast."""
    return f"""
        t AS (
            SELECT label_key,
                   median(ln(greatest(duration_s, $floor))) - $k * {MAD_SCALE}
                       * mad(ln(greatest(duration_s, $floor))) AS fast_below
            FROM x WHERE duration_s IS NOT NULL GROUP BY label_key
        )"""


def _fast_sql(alias: str) -> str:
    """True when the answer ``alias`` is timed and too fast for its label; an untimed answer
    (NULL) is never fast (``greatest`` skips NULLs, so it is tested first)."""
    return (
        f"coalesce({alias}.duration_s IS NOT NULL "
        f"AND ln(greatest({alias}.duration_s, $floor)) < t.fast_below, false)"
    )


WEEK_SQL = "date_trunc('week', annotated_at)::DATE"  # the group of ``by="week"``


def _rank_bounds(
    con: duckdb.DuckDBPyConnection, answers: str, params: dict[str, object], rule: SpeedRule
) -> dict[str, object]:
    """The median's order-statistic ranks for every group size the answers have (``$low``,
    ``$high``, indexed by ``n + 1``), with the rule's parameters. ``answers``: CTEs ending in
    ``x(annotator_key, grp, duration_s)``."""
    max_n = con.execute(
        f"WITH {answers} SELECT coalesce(max(n), 0) FROM "
        "(SELECT count(duration_s) AS n FROM x GROUP BY annotator_key, grp)",
        params,
    ).fetchall()[0][0]
    low, high = median_rank_bounds(np.arange(int(max_n) + 1), rule.alpha)
    return params | {
        "floor": rule.floor_s,
        "k": rule.k,
        "low": [int(v) for v in low],
        "high": [int(v) for v in high],
    }


# CTEs ``ranked`` and ``per`` (one row per annotator and group: answers, timed answers, the
# median with its order-statistic interval, too-fast answers) from ``xf(annotator_key, grp,
# duration_s, fast)``.
PER_SQL = """
    ranked AS (
        SELECT annotator_key, grp, duration_s, fast,
               row_number() OVER w AS rk,
               count(duration_s) OVER (PARTITION BY annotator_key, grp) AS n_t
        FROM xf
        WINDOW w AS (PARTITION BY annotator_key, grp ORDER BY duration_s NULLS LAST)
    ), per AS (
        SELECT annotator_key, grp, count(*) AS n_answers, count(duration_s) AS n_timed,
               median(duration_s) AS median_duration_s,
               max(duration_s) FILTER (WHERE rk = $low[n_t + 1]) AS median_duration_s_ci_low,
               max(duration_s) FILTER (WHERE rk = $high[n_t + 1]) AS median_duration_s_ci_high,
               count(*) FILTER (WHERE fast) AS n_too_fast
        FROM ranked GROUP BY ALL
    )"""


def _share_too_fast(table: pd.DataFrame) -> np.ndarray:
    """``n_too_fast / n_timed``; NaN without timed answers."""
    timed = table["n_timed"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(timed > 0, table["n_too_fast"] / timed, np.nan)


def time_on_task(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    rule: SpeedRule = SpeedRule(),
    by: Literal["annotator", "week"] = "annotator",
) -> pd.DataFrame:
    """Time on task per annotator (``by="annotator"``) or per annotator and ISO week.

    Columns: ``annotator_id, name, team`` (``week_start`` by week), ``n_labels``, ``n_timed``
    (answers with a duration), ``median_duration_s`` with ``_ci_low, _ci_high`` (order-statistic
    interval, NaN below 6 timed answers) and ``_n`` (= ``n_timed``), ``n_too_fast``,
    ``share_too_fast`` (of the timed
    answers), ``too_fast_accuracy`` with ``_ci_low, _ci_high, _n`` (the fast answers on reference
    items, against the committee; Wilson) and ``accuracy`` with its interval over all of the
    person's reference answers, for comparison.
    """
    filters = filters or Filters()
    x_sql, params = filtered_sql(filters)
    s_sql, _ = scored_sql(filters)
    group = WEEK_SQL if by == "week" else "NULL::DATE"
    answers = f"x AS (SELECT *, {group} AS grp FROM {x_sql} x)"
    table = con.execute(
        f"""
        WITH {answers},
        {_thresholds_sql(rule)},
        xf AS (
            SELECT x.annotator_key, x.grp, x.duration_s, {_fast_sql("x")} AS fast
            FROM x LEFT JOIN t USING (label_key)
        ),
        {PER_SQL}, s AS (
            SELECT s.annotator_key, {group} AS grp,
                   s.label_key = s.ref_label_key AS correct,
                   {_fast_sql("s")} AS fast
            FROM {s_sql} s LEFT JOIN t USING (label_key)
        ), acc AS (
            SELECT annotator_key, grp, count(*) AS n_reference,
                   count(*) FILTER (WHERE correct) AS n_correct,
                   count(*) FILTER (WHERE fast) AS n_fast_reference,
                   count(*) FILTER (WHERE fast AND correct) AS n_fast_correct
            FROM s GROUP BY ALL
        )
        SELECT a.annotator_id, a.name, a.team, p.grp AS week_start, p.n_answers AS n_labels,
               p.n_timed, p.median_duration_s, p.median_duration_s_ci_low,
               p.median_duration_s_ci_high, p.n_timed AS median_duration_s_n, p.n_too_fast,
               coalesce(c.n_reference, 0) AS n_reference,
               coalesce(c.n_correct, 0) AS n_correct,
               coalesce(c.n_fast_reference, 0) AS n_fast_reference,
               coalesce(c.n_fast_correct, 0) AS n_fast_correct
        FROM per p JOIN annotators a USING (annotator_key)
        LEFT JOIN acc c ON c.annotator_key = p.annotator_key
                       AND c.grp IS NOT DISTINCT FROM p.grp
        ORDER BY a.annotator_id, p.grp
        """,
        _rank_bounds(con, answers, params, rule),
    ).df()
    table["share_too_fast"] = _share_too_fast(table)
    fast = pd.DataFrame(
        rate_columns("too_fast_accuracy", table["n_fast_correct"], table["n_fast_reference"])
    )
    overall = pd.DataFrame(rate_columns("accuracy", table["n_correct"], table["n_reference"]))
    table = pd.concat([table, fast, overall], axis=1).drop(
        columns=["n_reference", "n_correct", "n_fast_reference", "n_fast_correct"]
    )
    if by == "annotator":
        table = table.drop(columns="week_start")
    return table


def box_time_on_task(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    rule: SpeedRule = SpeedRule(),
    by: Literal["annotator", "week"] = "annotator",
) -> pd.DataFrame:
    """Time on task for boxes: one answer per image (a submission: an annotator's rows of one
    item and time, which the box tools time as a whole), per annotator or annotator and week.

    An image is too fast when ``ln d < median(ln d) - k * 1.4826 * MAD(ln d)`` over the team's
    timed images of the selection: one group, since an image carries many labels (or none).
    Columns: ``annotator_id, name, team`` (``week_start`` by week), ``n_images``, ``n_timed``,
    ``median_duration_s`` with ``_ci_low, _ci_high, _n``, ``n_too_fast, share_too_fast``. No
    accuracy of the fast images: box quality is per box (:mod:`qualitylib.metrics.boxes`).
    """
    where, params = (filters or Filters()).where("b")
    group = WEEK_SQL if by == "week" else "NULL::DATE"
    answers = f"""images AS (
            SELECT b.annotator_key, b.item_key, b.annotated_at,
                   max(b.duration_s) AS duration_s  -- every row of a submission has its time
            FROM boxes b WHERE {where} GROUP BY ALL
        ), x AS (SELECT *, {group} AS grp FROM images)"""
    table = con.execute(
        f"""
        WITH {answers},
        t AS (
            SELECT median(ln(greatest(duration_s, $floor))) - $k * {MAD_SCALE}
                       * mad(ln(greatest(duration_s, $floor))) AS fast_below
            FROM x WHERE duration_s IS NOT NULL
        ),
        xf AS (
            SELECT x.annotator_key, x.grp, x.duration_s, {_fast_sql("x")} AS fast
            FROM x CROSS JOIN t
        ),
        {PER_SQL}
        SELECT a.annotator_id, a.name, a.team, p.grp AS week_start, p.n_answers AS n_images,
               p.n_timed, p.median_duration_s, p.median_duration_s_ci_low,
               p.median_duration_s_ci_high, p.n_timed AS median_duration_s_n, p.n_too_fast
        FROM per p JOIN annotators a USING (annotator_key)
        ORDER BY a.annotator_id, p.grp
        """,
        _rank_bounds(con, answers, params, rule),
    ).df()
    table["share_too_fast"] = _share_too_fast(table)
    return table.drop(columns="week_start") if by == "annotator" else table
