"""The gold budget (how many control items each person needs a week) and gold exposure (how
often each control item was shown, leaked gold, items everyone fails).

*Budget for an interval width*: the number of positive (negative) control labels whose 95 %
Wilson interval around the team's TPR (FPR) is at most ``width`` wide, divided by the share of
positive (negative) items among the controls: control labels a person needs in one week for
their weekly TPR and FPR to be that precise.

*Budget for a detection delay*: the drift CUSUM of :mod:`qualitylib.metrics.drift` (odds ratio
``R``, threshold ``h``) on a class whose team disagreement rate is :math:`p_0` gains, per
control label of that class once the person drifts to odds :math:`R` times higher
(:math:`p_1 = R p_0 / (1 - p_0 + R p_0)`), on average
:math:`E_1[w] = p_1 \\ln R - \\ln(1 - p_0 + R p_0)`; it reaches ``h`` after about
:math:`h / E_1[w]` such labels (Wald's approximation of the CUSUM's run length under drift,
ignoring the overshoot, so slightly optimistic; Page 1954). Spread over ``delay_weeks`` at that
class's share of the controls, that is the weekly need; the planner takes the most demanding
class among those with at least ``min_class_share`` of the controls (:math:`p_0` with half a
disagreement added, as the drift baselines).

*Exposure*: every control item's showings in time order; a Cochran-Armitage trend of being right
against the showing's rank (linear-by-linear association, :math:`z = r \\sqrt{n - 1}`, Agresti
2013 §3.4.7) flags items whose accuracy climbs with exposure (the answer has leaked); items that
at least ``min_annotators`` people label, and whose accuracy's 95 % Wilson interval lies below
0.5, are suspect references, queued for the committee.

*Difficulty*: per reference item, the share of *trained* annotators (aligned with the onboarding
objective as of the selection's end) who disagree with the decision in force, each counted once
with their latest label made since they became aligned, with its 95 % Wilson interval
(statsmodels ``proportion_confint``). The same rule as a suspect reference, on trained people
only: at least ``min_annotators`` of them and the interval above 0.5 (a majority of good
annotators consistently disagrees) flag it ``reference_may_be_wrong``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import duckdb
import numpy as np
import pandas as pd

from qualitylib.intervals import wilson
from qualitylib.metrics.counts import label_index, scored_sql
from qualitylib.metrics.drift import DriftRule, weekly_controls
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.onboarding import Objective, onboarding_status
from qualitylib.metrics.reference import rate_columns

__all__ = ["GoldPlan", "gold_budget", "gold_difficulty", "gold_exposure", "labels_for_width"]


@dataclass(frozen=True)
class GoldPlan:
    """Targets of the planner: interval ``width`` and detection delay in weeks."""

    width: float = 0.2
    delay_weeks: float = 2.0
    drift: DriftRule = field(default_factory=DriftRule)
    min_class_share: float = 0.05
    leak_z: float = 3.09  # one-sided 0.001
    min_showings: int = 10
    min_annotators: int = 3

    def __post_init__(self) -> None:
        if not 0 < self.width < 1:
            raise ValueError(f"width is an interval width between 0 and 1 (got {self.width})")
        if not self.delay_weeks > 0:
            raise ValueError(f"delay_weeks must be positive (got {self.delay_weeks})")


def labels_for_width(rate: float, width: float, limit: int = 1_000_000) -> int:
    """Fewest trials whose 95 % Wilson interval around ``rate`` is at most ``width`` wide.

    >>> labels_for_width(0.5, 0.2)
    93
    """
    if not 0 <= rate <= 1:
        raise ValueError(f"rate must be between 0 and 1 (got {rate})")
    n = np.unique(np.geomspace(1, limit, 4000).astype(np.int64))
    low, high = wilson(np.round(rate * n), n)
    ok = np.flatnonzero(high - low <= width)
    if ok.size == 0:
        raise ValueError(f"no sample of up to {limit:,} labels reaches width {width}")
    # refine between the last failing and the first passing grid point
    lo = int(n[ok[0] - 1]) if ok[0] > 0 else 1
    fine = np.arange(lo, int(n[ok[0]]) + 1)
    low, high = wilson(np.round(rate * fine), fine)
    return int(fine[np.flatnonzero(high - low <= width)[0]])


def _team_rates(con: duckdb.DuckDBPyConnection, filters: Filters) -> dict[str, float]:
    """The team's TPR, FPR and positive share on production control labels."""
    scored, params = scored_sql(replace(filters, phases=("production",)))
    index = label_index(con)
    positive = [int(k) for k in index.labels.loc[index.positive, "label_key"]]
    row = con.execute(
        f"""WITH s AS (
                SELECT list_contains($positive, label_key) AS given_pos,
                       list_contains($positive, ref_label_key) AS ref_pos
                FROM {scored} AS x
            )
            SELECT count(*) FILTER (WHERE ref_pos), count(*) FILTER (WHERE ref_pos AND given_pos),
                   count(*) FILTER (WHERE NOT ref_pos),
                   count(*) FILTER (WHERE NOT ref_pos AND given_pos)
            FROM s""",
        params | {"positive": positive},
    ).fetchall()[0]
    n_pos, tp, n_neg, fp = (int(v) for v in row)
    total = n_pos + n_neg
    return {
        "tpr": tp / n_pos if n_pos else np.nan,
        "fpr": fp / n_neg if n_neg else np.nan,
        "positive_share": n_pos / total if total else np.nan,
    }


def gold_budget(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None, plan: GoldPlan = GoldPlan()
) -> pd.DataFrame:
    """Control labels each person needs per week, beside what they got in the last week.

    Columns: ``annotator_id, week_start`` (the latest week with control labels),
    ``controls_last_week, positives_last_week, negatives_last_week``, ``needed_for_width``,
    ``needed_for_delay``, ``needed_per_week`` (the larger), ``enough`` and the team figures
    behind them: ``team_tpr, team_fpr, positive_share, drift_class`` (the class that sets the
    delay need). Labels whose positive side is undeclared follow :func:`label_set`'s rule.
    """
    filters = filters or Filters()
    team = _team_rates(con, filters)
    controls = weekly_controls(con, filters)
    columns = ["annotator_id", "week_start", "controls_last_week", "positives_last_week"]
    share = team["positive_share"]
    if not controls.annotators or not 0 < share < 1:  # NaN too: no TPR or no FPR to plan for
        return pd.DataFrame(columns=[*columns, "negatives_last_week", "needed_per_week"])
    need_width = max(
        labels_for_width(team["tpr"], plan.width) / share,
        labels_for_width(team["fpr"], plan.width) / (1 - share),
    )
    n_class = controls.n.sum(axis=(0, 1)).astype(float)
    # half a disagreement added, as the drift baselines do: a class nobody missed yet is not
    # taken to have a zero rate (which no finite number of labels could show rising)
    p0 = (controls.x.sum(axis=(0, 1)) + 0.5) / (n_class + 1)
    r = plan.drift.odds_ratio
    p1 = r * p0 / (1 - p0 + r * p0)
    gain = p1 * np.log(r) - np.log(1 - p0 + r * p0)
    class_share = n_class / n_class.sum()
    per_week = plan.drift.h / gain / (plan.delay_weeks * class_share)
    eligible = class_share >= plan.min_class_share
    hardest = int(np.argmax(np.where(eligible, per_week, -np.inf)))
    last = controls.n[:, -1, :]
    is_pos = label_index(con).positive  # controls.labels is the label set in the same order
    table = pd.DataFrame(
        {
            "annotator_id": controls.annotators,
            "week_start": pd.Timestamp(controls.weeks[-1]).date(),
            "controls_last_week": last.sum(axis=1),
            "positives_last_week": last[:, is_pos].sum(axis=1),
            "negatives_last_week": last[:, ~is_pos].sum(axis=1),
            "needed_for_width": int(np.ceil(need_width)),
            "needed_for_delay": int(np.ceil(per_week[hardest])),
        }
    )
    table["needed_per_week"] = table[["needed_for_width", "needed_for_delay"]].max(axis=1)
    table["enough"] = table["controls_last_week"] >= table["needed_per_week"]
    table["team_tpr"], table["team_fpr"] = team["tpr"], team["fpr"]
    table["positive_share"] = share
    table["drift_class"] = controls.labels[hardest]
    return table


def gold_exposure(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None, plan: GoldPlan = GoldPlan()
) -> pd.DataFrame:
    """One row per control item shown in the selection: exposure, accuracy, trend, flags.

    Columns: ``item_id, n_shown, n_annotators, annotators`` (ids, ``;``-joined), ``first_shown,
    last_shown``, ``accuracy`` with interval, ``trend_z`` (accuracy against the showing's rank),
    ``leaked`` and ``suspect_reference`` (see the module docstring), most shown first.
    """
    scored, params = scored_sql(filters or Filters())
    table = con.execute(
        f"""WITH s AS (
                SELECT item_key, annotator_key, annotated_at,
                       (label_key = ref_label_key)::DOUBLE AS y,
                       row_number() OVER (PARTITION BY item_key ORDER BY annotated_at,
                                          annotator_key)::DOUBLE AS j
                FROM {scored} AS x
            ), per AS (
                SELECT item_key, count(*) AS n_shown, count(DISTINCT annotator_key) AS n_annotators,
                       min(annotated_at) AS first_shown, max(annotated_at) AS last_shown,
                       sum(y) AS n_right, regr_sxy(y, j) AS sxy, regr_sxx(y, j) AS sxx,
                       regr_syy(y, j) AS syy
                FROM s GROUP BY item_key
            ), who AS (
                SELECT item_key, string_agg(DISTINCT a.annotator_id, ';' ORDER BY a.annotator_id)
                           AS annotators
                FROM s JOIN annotators a USING (annotator_key) GROUP BY item_key
            )
            SELECT i.item_id, p.n_shown, p.n_annotators, w.annotators, p.first_shown,
                   p.last_shown, p.n_right,
                   CASE WHEN p.sxx > 0 AND p.syy > 0
                        THEN p.sxy / sqrt(p.sxx * p.syy) * sqrt(p.n_shown - 1) END AS trend_z
            FROM per p JOIN who w USING (item_key) JOIN items i USING (item_key)
            ORDER BY p.n_shown DESC, i.item_id""",
        params,
    ).df()
    rates = pd.DataFrame(rate_columns("accuracy", table["n_right"], table["n_shown"]))
    table = pd.concat([table.drop(columns="n_right"), rates], axis=1)  # accuracy_n = n_shown
    table["leaked"] = (table["n_shown"] >= plan.min_showings) & (
        table["trend_z"].fillna(0) > plan.leak_z
    )
    table["suspect_reference"] = (table["n_annotators"] >= plan.min_annotators) & (
        table["accuracy_ci_high"] < 0.5
    )
    return table


def gold_difficulty(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    plan: GoldPlan = GoldPlan(),
    objective: Objective | None = None,
) -> pd.DataFrame:
    """One row per reference item labelled by trained annotators: how many disagree with it.

    Columns: ``item_id, reference_label`` (the decision in force now), ``n_disagree``,
    ``difficulty, difficulty_ci_low, difficulty_ci_high, difficulty_n`` (trained annotators
    who labelled it), ``top_other_label`` (what the disagreeing ones most often gave) and
    ``reference_may_be_wrong`` (see the module docstring); hardest first. Trained: aligned with
    ``objective`` as of the selection's end, judged on the whole history up to then.
    """
    filters = filters or Filters()
    status = onboarding_status(con, replace(filters, since=None), objective or Objective())
    trained = status[status["status"] == "aligned"]
    keys = dict(con.execute("SELECT annotator_id, annotator_key FROM annotators").fetchall())
    scored, params = scored_sql(filters)
    table = con.execute(
        f"""WITH trained AS (
                SELECT unnest($keys::INTEGER[]) AS annotator_key,
                       unnest($since::TIMESTAMP[]) AS since
            ), latest AS (
                SELECT s.item_key, s.label_key, s.ref_label_key
                FROM {scored} AS s JOIN trained t USING (annotator_key)
                WHERE s.annotated_at >= t.since
                QUALIFY row_number() OVER (
                    PARTITION BY s.item_key, s.annotator_key ORDER BY s.annotated_at DESC) = 1
            ), per AS (
                SELECT item_key, count(*) AS n,
                       count(*) FILTER (WHERE label_key <> ref_label_key) AS n_disagree,
                       mode(label_key) FILTER (WHERE label_key <> ref_label_key) AS other_key
                FROM latest GROUP BY item_key
            ), now AS (
                SELECT item_key, arg_max(label_key, decided_at) AS ref_key FROM reference
                GROUP BY item_key
            )
            SELECT i.item_id, rl.label AS reference_label, p.n_disagree, p.n,
                   coalesce(ol.label, '') AS top_other_label
            FROM per p JOIN items i USING (item_key) JOIN now USING (item_key)
            JOIN labels rl ON rl.label_key = now.ref_key
            LEFT JOIN labels ol ON ol.label_key = p.other_key""",
        params
        | {
            "keys": [int(keys[a]) for a in trained["annotator_id"]],
            "since": [pd.Timestamp(t).to_pydatetime() for t in trained["since"]],
        },
    ).df()
    rates = pd.DataFrame(rate_columns("difficulty", table["n_disagree"], table["n"]))
    out = pd.concat([table.drop(columns="n"), rates], axis=1)
    out = out[[c for c in out.columns if c != "top_other_label"] + ["top_other_label"]]
    out["reference_may_be_wrong"] = (out["difficulty_n"] >= plan.min_annotators) & (
        out["difficulty_ci_low"] > 0.5
    )
    return out.sort_values(
        ["difficulty", "difficulty_n", "item_id"], ascending=[False, False, True], ignore_index=True
    )
