"""Agreement between annotators, from the store: every pair's kappa and the team coefficients.

SQL delivers pair contingency tables and per-item count patterns
(:mod:`qualitylib.metrics.counts`); :mod:`qualitylib.agreement` computes on them.
"""

from __future__ import annotations

import math
from dataclasses import replace

import duckdb
import numpy as np
import pandas as pd

from qualitylib.agreement import (
    AgreementResult,
    brennan_prediger_counts,
    cohen_kappa_tables,
    fleiss_kappa_counts,
    gwet_ac_counts,
    krippendorff_alpha_levels,
    percent_agreement_counts,
    prevalence_paradox,
)
from qualitylib.metrics.counts import (
    LabelIndex,
    PairTables,
    item_patterns,
    pair_counts_sql,
    pair_tables,
)
from qualitylib.metrics.filters import Filters

AGREEMENT_COLUMNS = [
    "metric", "value", "ci_low", "ci_high", "se", "n_items", "n_raters", "prevalence_paradox",
    "reason",
]  # fmt: skip
WEIGHTINGS = {"": None, "_linear": "linear", "_quadratic": "quadratic"}
REASON_NO_RANK = (
    "the labels have no rank (no label set was imported), so the label order that weights "
    "and ordinal or interval alpha need is unknown; import a labels file (its rank column, "
    "else its row order, gives the order)"
)


def _ranks(labels: LabelIndex) -> np.ndarray | None:
    """The labels' ranks in array order; None when an order is needed (> 2 labels) but unknown.

    With one or two labels every order gives the same weights, so positions 0, 1 serve.
    """
    ranks = labels.labels["rank"].to_numpy(dtype=float, na_value=np.nan)
    if not np.isnan(ranks).any():
        return ranks
    return np.arange(len(ranks), dtype=float) if len(ranks) <= 2 else None


def pairwise_kappa(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> pd.DataFrame:
    """Cohen's kappa (unweighted, linear, quadratic) for every annotator pair sharing items.

    One row per pair: ``annotator_a, annotator_b, n_items, kappa, kappa_ci_low,
    kappa_ci_high, kappa_se, kappa_n`` (shared items), the same ``…_linear, …_quadratic``,
    ``percent_agreement, prevalence_paradox, reason, weighted_reason``. Weights follow the
    label set's rank order; without a rank for every label (and more than two labels) the
    weighted columns are NaN and ``weighted_reason`` says why, while the unweighted kappa stays.
    """
    return kappa_table(pair_tables(con, filters or Filters()))


def kappa_table(found: PairTables) -> pd.DataFrame:
    """The rows of :func:`pairwise_kappa` for the rater pairs of ``found`` (people or models)."""
    ranks = _ranks(found.labels)
    table = found.pairs[["annotator_a", "annotator_b"]].copy()
    table["n_items"] = found.tables.sum(axis=(1, 2)).astype(np.int64)
    unweighted = cohen_kappa_tables(found.tables)
    weighted_reason = unweighted.reason
    for suffix, weights in WEIGHTINGS.items():
        if weights is None:
            result = unweighted
        elif ranks is None:  # no order: NaN columns with the reason, not a guessed order
            for column in ("", "_ci_low", "_ci_high", "_se"):
                table[f"kappa{suffix}{column}"] = np.nan
            table[f"kappa{suffix}_n"] = table["n_items"]
            weighted_reason = np.full(len(table), REASON_NO_RANK, dtype=object)
            continue
        else:
            result = cohen_kappa_tables(found.tables, weights=weights, ranks=ranks)
            weighted_reason = result.reason
        table[f"kappa{suffix}"] = result.value
        table[f"kappa{suffix}_ci_low"] = result.ci_low
        table[f"kappa{suffix}_ci_high"] = result.ci_high
        table[f"kappa{suffix}_se"] = result.se
        table[f"kappa{suffix}_n"] = table["n_items"]
    table["percent_agreement"] = unweighted.p_o
    table["prevalence_paradox"] = [
        prevalence_paradox(p_o, kappa)
        for p_o, kappa in zip(unweighted.p_o, unweighted.value, strict=True)
    ]
    table["reason"] = unweighted.reason
    table["weighted_reason"] = weighted_reason
    return table


def _no_order(like: AgreementResult, metric: str, details: dict) -> AgreementResult:
    """``like`` (same items and raters) made NaN with :data:`REASON_NO_RANK`."""
    nan = math.nan
    return replace(
        like,
        metric=metric,
        value=nan,
        se=nan,
        ci_low=nan,
        ci_high=nan,
        p_observed=nan,
        p_expected=nan,
        reason=REASON_NO_RANK,
        details=details,
    )


def agreement_results(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None, n_boot: int = 1000
) -> dict[str, AgreementResult]:
    """The team coefficients over every item labelled by two or more annotators.

    Keys: ``fleiss_kappa, krippendorff_alpha_nominal, krippendorff_alpha_ordinal,
    krippendorff_alpha_interval, gwet_ac1, gwet_ac2_quadratic, pabak, percent_agreement``.
    Ordinal/interval use the label set's ranks as the ordered values; without a rank for
    every label (and more than two labels) they and AC2 are NaN with :data:`REASON_NO_RANK`.
    ``n_raters`` is the number of annotators who share an item with someone (the people of
    :func:`pairwise_kappa`).
    """
    filters = filters or Filters()
    patterns = item_patterns(con, filters)
    counts, weights = patterns.counts, patterns.weights
    ranks = _ranks(patterns.labels)
    results = {"fleiss_kappa": fleiss_kappa_counts(counts, unit_weights=weights)}
    levels = ("nominal", "ordinal", "interval") if ranks is not None else ("nominal",)
    alphas = krippendorff_alpha_levels(
        counts, levels, values=ranks, unit_weights=weights, n_boot=n_boot, random_state=0
    )
    for level in ("nominal", "ordinal", "interval"):
        results[f"krippendorff_alpha_{level}"] = alphas.get(level) or _no_order(
            alphas["nominal"], "krippendorff_alpha", {"level": level}
        )
    results["gwet_ac1"] = gwet_ac_counts(counts, unit_weights=weights)
    results["gwet_ac2_quadratic"] = (
        gwet_ac_counts(counts, weights="quadratic", ranks=ranks, unit_weights=weights)
        if ranks is not None
        else _no_order(results["gwet_ac1"], "gwet_ac2", {"weights": "quadratic"})
    )
    results["pabak"] = brennan_prediger_counts(counts, unit_weights=weights)
    results["percent_agreement"] = percent_agreement_counts(counts, unit_weights=weights)
    n_raters = raters(con, filters)
    return {name: replace(result, n_raters=n_raters) for name, result in results.items()}


def raters(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> int:
    """Annotators who share at least one item with another annotator under ``filters``."""
    paired, params = pair_counts_sql(con, filters or Filters())
    found = con.execute(f"SELECT DISTINCT key_a, key_b FROM {paired} AS p", params).fetchnumpy()
    return len(np.union1d(found["key_a"], found["key_b"]))


def agreement_table(results: dict[str, AgreementResult]) -> pd.DataFrame:
    """Tidy table of team coefficients, with the prevalence-paradox flag on each row."""
    p_o = results["percent_agreement"].value
    rows = [
        {
            "metric": name,
            "value": result.value,
            "ci_low": result.ci_low,
            "ci_high": result.ci_high,
            "se": result.se,
            "n_items": result.n_items,
            "n_raters": result.n_raters,
            "prevalence_paradox": name.startswith(("fleiss", "krippendorff"))
            and prevalence_paradox(p_o, result.value),
            "reason": result.reason,
        }
        for name, result in results.items()
    ]
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def agreement_summary(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None
) -> pd.DataFrame:
    """:func:`agreement_table` of :func:`agreement_results` from the store."""
    return agreement_table(agreement_results(con, filters))
