r"""Can a model version replace an annotator? The Alternative Annotator Test.

Calderon, Reichart & Dror (2025), "The Alternative Annotator Test for LLM-as-a-Judge: How to
Statistically Justify Replacing Human Annotators with LLMs", ACL 2025 (arXiv:2501.10970).
Notation from the paper: people :math:`h_1..h_m`, model :math:`f`, items :math:`x_i`.

Hold annotator :math:`h_j` out. On every item :math:`x_i` that :math:`h_j`, the model and at
least one other annotator labelled, the alignment of a rater with the others is the share of
the other annotators' labels it equals,

.. math::  S(f, x_i, j) = \frac{1}{|H_i^{-j}|} \sum_{k \in H_i^{-j}} [f(x_i) = h_k(x_i)],

and likewise :math:`S(h_j, x_i, j)`. The model wins the item when :math:`W^f_i = [S(f) \ge
S(h_j)]`, the person when :math:`W^h_i = [S(h_j) \ge S(f)]` (a tie is a win for both);
:math:`\rho^f_j, \rho^h_j` are their means over the items. With the cost-benefit parameter
:math:`\varepsilon` (the model's advantage in cost and speed), the test of annotator ``j`` is

.. math::  H_0: \rho^f_j \le \rho^h_j - \varepsilon \quad\text{vs}\quad
           H_1: \rho^f_j > \rho^h_j - \varepsilon,

a one-sided paired t-test on :math:`d_i = W^h_i - W^f_i` against :math:`\varepsilon`. The
:math:`m` p-values are corrected with the Benjamini-Yekutieli procedure (FDR at ``alpha``;
the tests share items, so they are dependent). The winning rate :math:`\omega` is the share of
annotators whose :math:`H_0` is rejected; the model passes when :math:`\omega \ge 0.5`. The
average advantage probability :math:`\rho = \frac{1}{m}\sum_j \rho^f_j` compares models.

Defaults: :math:`\varepsilon = 0.2` (the paper's value for expert annotators; 0.1 for crowd
workers), ``alpha = 0.05``; an annotator is tested with at least ``min_items = 30`` items
shared with the model and another annotator, and a verdict needs at least 3 tested annotators
(the paper's minimum). Each rater's current answer per item is used (table ``votes``; the
model's latest prediction).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from qualitylib.log_scope import require_log
from qualitylib.metrics.counts import latest_sql
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.models import _models, model_latest_sql

__all__ = ["alt_test", "alt_test_counts"]

EPSILON = 0.2
ALPHA = 0.05
MIN_ITEMS = 30
MIN_ANNOTATORS = 3
PASS_RATE = 0.5


def alt_test_counts(
    model_only: np.ndarray, ties: np.ndarray, person_only: np.ndarray, epsilon: float = EPSILON
) -> dict[str, np.ndarray]:
    r"""Per held-out annotator: :math:`\rho^f, \rho^h`, the t statistic and one-sided p-value.

    Parameters
    ----------
    model_only, ties, person_only : ndarray, shape ``(n_tests,)``
        Items where only the model wins (:math:`d_i = -1`), both win (:math:`d_i = 0`) and
        only the person wins (:math:`d_i = 1`).
    epsilon : float
        The cost-benefit parameter :math:`\varepsilon`.

    Returns
    -------
    dict of ndarray: ``n_items, rho_model, rho_annotator, t, p_value``. The t-test is written
    on the counts (the :math:`d_i` take three values), vectorised over tests, with
    :math:`t = (\bar d - \varepsilon) / (s_d / \sqrt n)` on ``n - 1`` degrees of freedom
    (as ``scipy.stats.ttest_1samp(d, epsilon, alternative="less")``). When every :math:`d_i`
    is equal the statistic is infinite: p is 0 if :math:`\bar d < \varepsilon`, else 1.

    Examples
    --------
    >>> r = alt_test_counts(np.array([7]), np.array([20]), np.array([3]))
    >>> round(float(r["t"][0]), 4), round(float(r["p_value"][0]), 6)
    (-3.1955, 0.001678)
    """
    f, tie, h = (np.asarray(a, dtype=float) for a in (model_only, ties, person_only))
    n = f + tie + h
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (h - f) / n
        variance = (h + f - n * mean**2) / (n - 1)
        t = (mean - epsilon) / np.sqrt(variance / n)
        p = stats.t.cdf(t, n - 1)
    constant = np.isclose(variance, 0) & (n > 1)
    p = np.where(constant, np.where(mean < epsilon, 0.0, 1.0), p)
    t = np.where(constant, np.where(mean < epsilon, -np.inf, np.inf), t)
    return {
        "n_items": n.astype(np.int64),
        "rho_model": (f + tie) / n,
        "rho_annotator": (h + tie) / n,
        "t": t,
        "p_value": p,
    }


def _win_counts(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Per model version x annotator: items where only the model, both, or only the person
    aligns best with the other annotators (one pass over current answers, in SQL).

    On an item, the others agreeing with the person are the people with the person's label
    minus the person; the others agreeing with the model are the people with the model's
    label, minus the person if they gave it too. Both shares have the same denominator, so
    comparing counts compares :math:`S`.
    """
    require_log(con, "Comparing models with the people (every answer on each item)")
    models, model_params = model_latest_sql(filters)
    people, people_params = latest_sql(filters)
    return con.execute(
        f"""WITH v AS (SELECT * FROM {people} AS v), per_label AS (
                SELECT item_key, label_key, count(*) AS n FROM v GROUP BY ALL
            ), shared AS (
                SELECT item_key FROM per_label GROUP BY item_key HAVING sum(n) >= 2
            ), x AS (
                SELECT m.model_key, v.annotator_key, pj.n - 1 AS person_agree,
                       coalesce(pm.n, 0) - (v.label_key = m.label_key)::INTEGER AS model_agree
                FROM v SEMI JOIN shared USING (item_key)
                JOIN {models} AS m ON m.item_key = v.item_key
                JOIN per_label pj ON pj.item_key = v.item_key AND pj.label_key = v.label_key
                LEFT JOIN per_label pm
                  ON pm.item_key = v.item_key AND pm.label_key = m.label_key
            )
            SELECT model_key, annotator_key,
                   count(*) FILTER (WHERE model_agree > person_agree) AS model_only,
                   count(*) FILTER (WHERE model_agree = person_agree) AS ties,
                   count(*) FILTER (WHERE model_agree < person_agree) AS person_only
            FROM x GROUP BY ALL ORDER BY ALL""",
        model_params | people_params,
    ).df()


def alt_test(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    epsilon: float = EPSILON,
    alpha: float = ALPHA,
    min_items: int = MIN_ITEMS,
) -> pd.DataFrame:
    """The Alternative Annotator Test of every model version against the annotators.

    One row per model version x held-out annotator: ``model_id, model_version, annotator_id,
    n_items, rho_model, rho_annotator, t, p_value, p_adjusted`` (Benjamini-Yekutieli),
    ``model_wins`` (H0 rejected), then the model's ``winning_rate, passes, epsilon, alpha,
    advantage_probability, n_annotators`` (tested) repeated on its rows, and ``reason`` (why
    an annotator was not tested or the model has no verdict; empty otherwise).
    """
    if not 0 <= epsilon < 1:
        raise ValueError(f"epsilon must be in [0, 1) (got {epsilon!r})")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1) (got {alpha!r})")
    if not isinstance(min_items, int) or min_items < 2:
        raise ValueError(f"min_items must be an integer of at least 2 (got {min_items!r})")
    counts = _win_counts(con, filters or Filters())
    result = alt_test_counts(
        counts["model_only"].to_numpy(),
        counts["ties"].to_numpy(),
        counts["person_only"].to_numpy(),
        epsilon,
    )
    table = pd.concat([counts[["model_key", "annotator_key"]], pd.DataFrame(result)], axis=1)
    tested = table["n_items"] >= min_items
    table.loc[~tested, ["t", "p_value"]] = np.nan  # too few items for the t-test to hold
    table["p_adjusted"] = np.nan
    table["model_wins"] = pd.array([pd.NA] * len(table), dtype="boolean")
    table["reason"] = np.where(
        tested, "", f"fewer than {min_items} items shared with the model and another annotator"
    )
    models = []
    for model_key, rows in table[tested].groupby("model_key", sort=True):
        rejected, adjusted, _, _ = multipletests(
            rows["p_value"].to_numpy(), alpha=alpha, method="fdr_by"
        )
        table.loc[rows.index, "p_adjusted"] = adjusted
        table.loc[rows.index, "model_wins"] = rejected
        n_tested = len(rows)
        enough = n_tested >= MIN_ANNOTATORS
        rate = float(rejected.mean())
        models.append(
            {
                "model_key": model_key,
                "winning_rate": rate,
                "passes": (rate >= PASS_RATE) if enough else pd.NA,
                "advantage_probability": float(rows["rho_model"].mean()),
                "n_annotators": n_tested,
                "verdict_reason": ""
                if enough
                else f"only {n_tested} annotator(s) tested; the test needs {MIN_ANNOTATORS}",
            }
        )
    summary = pd.DataFrame(
        models,
        columns=[
            "model_key",
            "winning_rate",
            "passes",
            "advantage_probability",
            "n_annotators",
            "verdict_reason",
        ],
    )
    table = table.merge(summary, on="model_key", how="left")
    table["passes"] = table["passes"].astype("boolean")
    table["n_annotators"] = table["n_annotators"].fillna(0).astype(np.int64)
    table["epsilon"] = epsilon
    table["alpha"] = alpha
    untested_model = table["verdict_reason"].isna()
    table["verdict_reason"] = table["verdict_reason"].where(
        ~untested_model, f"no annotator with {min_items} items shared with the model"
    )
    table["reason"] = [
        "; ".join(part for part in (own, verdict) if part)
        for own, verdict in zip(table["reason"], table["verdict_reason"], strict=True)
    ]
    people = con.execute("SELECT annotator_key, annotator_id FROM annotators").df()
    table = table.merge(people, on="annotator_key", how="left").merge(
        _models(con), on="model_key", how="left"
    )
    columns = [
        "model_id",
        "model_version",
        "annotator_id",
        "n_items",
        "rho_model",
        "rho_annotator",
        "t",
        "p_value",
        "p_adjusted",
        "model_wins",
        "winning_rate",
        "passes",
        "epsilon",
        "alpha",
        "advantage_probability",
        "n_annotators",
        "reason",
    ]
    return table[columns].sort_values(
        ["model_id", "model_version", "annotator_id"], ignore_index=True
    )
