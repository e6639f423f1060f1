"""Onboarding decided by Wald's sequential probability ratio test on TPR and FPR.

The fixed window (:mod:`qualitylib.metrics.onboarding`) judges the last 100 reference labels and
controls no error rate. Here each rate is a sequential test (Wald 1945; 1947, ch. 5) with the
error rates stated:

* TPR, on the trainee's positive reference items (success: flagged): H1 ``TPR = tpr_min`` ("at
  or above the objective") against H0 ``TPR = tpr_min - margin_tpr``;
* FPR, on the negative reference items (success: a false flag): H1 ``FPR = fpr_max`` ("at or
  below") against H0 ``FPR = fpr_max + margin_fpr``.

Each answer adds its log-likelihood ratio :math:`\\ln \\frac{P(x \\mid H_1)}{P(x \\mid H_0)}`
to the rate's running sum; the test accepts H1 when the sum reaches
:math:`A = \\ln\\frac{1 - \\beta/2}{\\alpha}` and H0 when it falls to
:math:`B = \\ln\\frac{\\beta/2}{1 - \\alpha}`, then stops. ``alpha`` bounds the chance of
releasing a trainee with a rate at H0 (or worse): both tests must accept H1, so one test's
alpha bounds it. ``beta`` bounds the chance of holding back a trainee at H1 (or better) on
both rates: either test can do that, so each gets ``beta / 2`` (Bonferroni).

A trainee is ``aligned`` when both tests accept H1, ``not_aligned`` as soon as either accepts
H0, ``undecided`` before; a decision is final over the selection (restart it with ``since``).
The running sums are SQL window sums over the scored
reference labels; ``expected_n`` is Wald's average sample number at the trainee's current rates
(operating characteristic and ASN approximations, Wald 1947 §3.8), in reference labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
from scipy.optimize import brentq

from qualitylib.metrics.counts import label_index, scored_sql
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.onboarding import Objective

__all__ = ["DECISIONS", "SPRT", "average_sample_number", "sprt_onboarding", "sprt_paths"]

DECISIONS = ("aligned", "not_aligned", "undecided")


@dataclass(frozen=True)
class SPRT:
    """Error rates and indifference margins of the two sequential tests.

    With the defaults, a trainee exactly at the objective (TPR 0.85, FPR 0.05) is decided after
    about 45 positive and 55 negative reference items on average.
    """

    alpha: float = 0.05
    beta: float = 0.05
    margin_tpr: float = 0.15
    margin_fpr: float = 0.10

    def __post_init__(self) -> None:
        if not (0 < self.alpha < 0.5 and 0 < self.beta < 0.5):
            raise ValueError(
                f"alpha and beta are error rates between 0 and 0.5 (got {self.alpha}, {self.beta})"
            )
        if not (self.margin_tpr > 0 and self.margin_fpr > 0):
            raise ValueError("margins must be positive")

    @property
    def upper(self) -> float:
        """A: accept H1 at or above this log-likelihood ratio."""
        return float(np.log((1 - self.beta / 2) / self.alpha))

    @property
    def lower(self) -> float:
        """B: accept H0 at or below this log-likelihood ratio."""
        return float(np.log(self.beta / 2 / (1 - self.alpha)))

    def hypotheses(self, objective: Objective) -> dict[str, tuple[float, float]]:
        """``{"tpr": (p0, p1), "fpr": (p0, p1)}``: P(success) under H0 and H1 per test."""
        p0_tpr = objective.tpr_min - self.margin_tpr
        p0_fpr = objective.fpr_max + self.margin_fpr
        if not (0 < p0_tpr < objective.tpr_min < 1 and 0 < objective.fpr_max < p0_fpr < 1):
            raise ValueError(
                "the objective and margins must leave both hypotheses strictly between 0 and 1 "
                f"(TPR {p0_tpr:g} vs {objective.tpr_min:g}, FPR {p0_fpr:g} vs "
                f"{objective.fpr_max:g})"
            )
        return {"tpr": (p0_tpr, objective.tpr_min), "fpr": (p0_fpr, objective.fpr_max)}

    def steps(self, objective: Objective) -> dict[str, tuple[float, float]]:
        """``{"tpr": (on_success, on_failure), "fpr": ...}``: each answer's LLR increment."""
        out = {}
        for rate, (p0, p1) in self.hypotheses(objective).items():
            out[rate] = (float(np.log(p1 / p0)), float(np.log((1 - p1) / (1 - p0))))
        return out


def average_sample_number(
    p: np.ndarray, p0: float, p1: float, upper: float, lower: float
) -> np.ndarray:
    """Wald's expected number of trials to a decision when the true success rate is ``p``.

    With :math:`z` the LLR of one trial, :math:`h(p) \\ne 0` solving
    :math:`p (p_1/p_0)^h + (1-p)((1-p_1)/(1-p_0))^h = 1`, OC :math:`L = (e^{hA} - 1) /
    (e^{hA} - e^{hB})` (P(accept H0)) and :math:`E[N] = (L B + (1 - L) A) / E[z]`; where
    :math:`E[z] = 0`, :math:`E[N] = -AB / E[z^2]` (Wald 1947, §3.8 and A.2).

    >>> round(float(average_sample_number(np.array([0.85]), 0.7, 0.85, np.log(19),
    ...     np.log(1 / 19))[0]), 1)
    43.4
    """
    a, b = np.log(p1 / p0), np.log((1 - p1) / (1 - p0))
    out = np.full(np.shape(p), np.nan)
    for i, rate in np.ndenumerate(np.asarray(p, dtype=float)):  # a root per rate: a few people
        if not 0 <= rate <= 1:
            continue
        drift = rate * a + (1 - rate) * b
        if abs(drift) < 1e-9:
            out[i] = -upper * lower / (rate * a**2 + (1 - rate) * b**2)
            continue

        # h = 1 at p0 and h = -1 at p1; the root has the sign opposite to the drift
        def moment(h: float, rate: float = rate) -> float:
            return rate * np.exp(h * a) + (1 - rate) * np.exp(h * b) - 1

        lo, hi = (1e-6, 50.0) if drift < 0 else (-50.0, -1e-6)
        try:
            h = brentq(moment, lo, hi)
        except ValueError:  # p at 0 or 1: no root, every trial moves one way
            out[i] = (upper if drift > 0 else lower) / drift
            continue
        oc = (np.exp(h * upper) - 1) / (np.exp(h * upper) - np.exp(h * lower))
        out[i] = (oc * lower + (1 - oc) * upper) / drift
    return out


def _paths_sql(
    con: duckdb.DuckDBPyConnection, objective: Objective, sprt: SPRT, filters: Filters
) -> tuple[str, dict[str, object]]:
    """CTE ``paths``: every reference label with its running LLR per test and ``seq``."""
    scored, params = scored_sql(filters)
    index = label_index(con)
    positive = [int(k) for k in index.labels.loc[index.positive, "label_key"]]
    steps = sprt.steps(objective)
    sql = f"""
        s AS (
            SELECT annotator_key, item_key, annotated_at,
                   list_contains($positive, ref_label_key) AS ref_pos,
                   list_contains($positive, label_key) AS given_pos
            FROM {scored} AS x
        ), paths AS (
            SELECT *, row_number() OVER o AS seq,
                   sum(CASE WHEN NOT ref_pos THEN 0 WHEN given_pos THEN $tpr_hit ELSE $tpr_miss
                       END) OVER o AS llr_tpr,
                   sum(CASE WHEN ref_pos THEN 0 WHEN given_pos THEN $fpr_hit ELSE $fpr_miss
                       END) OVER o AS llr_fpr,
                   sum(ref_pos::INT) OVER o AS n_positive,
                   sum((NOT ref_pos)::INT) OVER o AS n_negative
            FROM s
            WINDOW o AS (PARTITION BY annotator_key ORDER BY annotated_at, item_key
                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        )"""
    params = params | {
        "positive": positive,
        "tpr_hit": steps["tpr"][0],
        "tpr_miss": steps["tpr"][1],
        "fpr_hit": steps["fpr"][0],
        "fpr_miss": steps["fpr"][1],
    }
    return sql, params


def sprt_onboarding(
    con: duckdb.DuckDBPyConnection,
    objective: Objective | None = None,
    sprt: SPRT = SPRT(),
    filters: Filters | None = None,
) -> pd.DataFrame:
    """Each annotator's sequential decision over their reference labels (time order).

    Columns: ``annotator_id, decision`` (:data:`DECISIONS`), ``n_to_decision`` (reference
    labels until decided; NA while undecided), ``decided_at``, ``llr_tpr, llr_fpr`` (at each
    test's stop, else now), ``n_reference_labels`` and ``expected_n`` (Wald's average number of
    reference labels to a decision at the trainee's current rates and mix of items).
    """
    objective = objective or Objective()
    paths, params = _paths_sql(con, objective, sprt, filters or Filters())
    table = con.execute(
        f"""WITH {paths}, stops AS (
                SELECT annotator_key, count(*) AS n_reference_labels,
                       min(seq) FILTER (WHERE llr_tpr >= $upper) AS tpr_h1,
                       min(seq) FILTER (WHERE llr_tpr <= $lower) AS tpr_h0,
                       min(seq) FILTER (WHERE llr_fpr >= $upper) AS fpr_h1,
                       min(seq) FILTER (WHERE llr_fpr <= $lower) AS fpr_h0,
                       arg_max(llr_tpr, seq) AS llr_tpr_now, arg_max(llr_fpr, seq) AS llr_fpr_now,
                       sum(ref_pos::INT) AS n_positive, sum((ref_pos AND given_pos)::INT) AS tp,
                       sum((NOT ref_pos AND given_pos)::INT) AS fp
                FROM paths GROUP BY annotator_key
            ), tests AS (
                SELECT *,
                       least(tpr_h1, tpr_h0) AS tpr_stop, least(fpr_h1, fpr_h0) AS fpr_stop,
                       tpr_h1 IS NOT NULL AND (tpr_h0 IS NULL OR tpr_h1 < tpr_h0) AS tpr_ok,
                       tpr_h0 IS NOT NULL AND (tpr_h1 IS NULL OR tpr_h0 < tpr_h1) AS tpr_bad,
                       fpr_h1 IS NOT NULL AND (fpr_h0 IS NULL OR fpr_h1 < fpr_h0) AS fpr_ok,
                       fpr_h0 IS NOT NULL AND (fpr_h1 IS NULL OR fpr_h0 < fpr_h1) AS fpr_bad
                FROM stops
            ), decided AS (
                SELECT *,
                       CASE WHEN tpr_bad OR fpr_bad THEN 'not_aligned'
                            WHEN tpr_ok AND fpr_ok THEN 'aligned'
                            ELSE 'undecided' END AS decision,
                       CASE WHEN tpr_bad OR fpr_bad THEN
                                least(CASE WHEN tpr_bad THEN tpr_stop END,
                                      CASE WHEN fpr_bad THEN fpr_stop END)
                            WHEN tpr_ok AND fpr_ok THEN greatest(tpr_stop, fpr_stop)
                       END AS n_to_decision
                FROM tests
            )
            SELECT a.annotator_id, d.decision, d.n_to_decision,
                   (SELECT p.annotated_at FROM paths p WHERE p.annotator_key = d.annotator_key
                      AND p.seq = d.n_to_decision) AS decided_at,
                   coalesce((SELECT p.llr_tpr FROM paths p WHERE p.annotator_key = d.annotator_key
                               AND p.seq = d.tpr_stop), d.llr_tpr_now) AS llr_tpr,
                   coalesce((SELECT p.llr_fpr FROM paths p WHERE p.annotator_key = d.annotator_key
                               AND p.seq = d.fpr_stop), d.llr_fpr_now) AS llr_fpr,
                   d.n_reference_labels, d.n_positive, d.tp, d.fp
            FROM decided d JOIN annotators a USING (annotator_key)
            ORDER BY a.annotator_id""",
        params | {"upper": sprt.upper, "lower": sprt.lower},
    ).df()
    table["n_to_decision"] = table["n_to_decision"].astype("Int64")
    table["expected_n"] = _expected_n(table, objective, sprt)
    return table.drop(columns=["n_positive", "tp", "fp"])


def _expected_n(table: pd.DataFrame, objective: Objective, sprt: SPRT) -> np.ndarray:
    """Reference labels to a decision at each trainee's rates (Laplace-smoothed estimates):
    the slower of the two tests, each in positive (negative) items over that side's share."""
    n = table["n_reference_labels"].to_numpy(dtype=float)
    pos = table["n_positive"].to_numpy(dtype=float)
    neg = n - pos
    tpr = (table["tp"].to_numpy() + 0.5) / (pos + 1)
    fpr = (table["fp"].to_numpy() + 0.5) / (neg + 1)
    hyp = sprt.hypotheses(objective)
    with np.errstate(invalid="ignore", divide="ignore"):
        need_pos = average_sample_number(tpr, *hyp["tpr"], sprt.upper, sprt.lower) / (pos / n)
        need_neg = average_sample_number(fpr, *hyp["fpr"], sprt.upper, sprt.lower) / (neg / n)
    return np.where((pos > 0) & (neg > 0), np.ceil(np.maximum(need_pos, need_neg)), np.nan)


def sprt_paths(
    con: duckdb.DuckDBPyConnection,
    objective: Objective | None = None,
    sprt: SPRT = SPRT(),
    filters: Filters | None = None,
) -> pd.DataFrame:
    """Every reference label of the selected annotators with the running ``llr_tpr, llr_fpr``
    (``annotator_id, seq, annotated_at``), for the chart against the boundaries ``A, B``."""
    paths, params = _paths_sql(con, objective or Objective(), sprt, filters or Filters())
    return con.execute(
        f"""WITH {paths}
            SELECT a.annotator_id, p.seq, p.annotated_at, p.llr_tpr, p.llr_fpr
            FROM paths p JOIN annotators a USING (annotator_key)
            ORDER BY a.annotator_id, p.seq""",
        params,
    ).df()
