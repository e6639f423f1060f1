"""Agreement between annotators, from the store: every pair's kappa and the team coefficients.

SQL delivers pair contingency tables and per-item count patterns
(:mod:`qualitylib.metrics.counts`); :mod:`qualitylib.agreement` computes on them.
"""

from __future__ import annotations

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
from qualitylib.metrics.counts import PairTables, item_patterns, pair_tables
from qualitylib.metrics.filters import Filters

WEIGHTINGS = {"": None, "_linear": "linear", "_quadratic": "quadratic"}


def pairwise_kappa(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> pd.DataFrame:
    """Cohen's kappa (unweighted, linear, quadratic) for every annotator pair sharing items.

    One row per pair: ``annotator_a, annotator_b, n_items, kappa, kappa_ci_low,
    kappa_ci_high, kappa_se, …_linear, …_quadratic, percent_agreement, prevalence_paradox,
    reason``. Weights follow the label set's rank order.
    """
    return kappa_table(pair_tables(con, filters or Filters()))


def kappa_table(found: PairTables) -> pd.DataFrame:
    """The rows of :func:`pairwise_kappa` for the rater pairs of ``found`` (people or models)."""
    ranks = found.labels.labels["rank"].to_numpy(dtype=float, na_value=np.nan)
    ranks = None if np.isnan(ranks).any() else ranks
    table = found.pairs[["annotator_a", "annotator_b"]].copy()
    table["n_items"] = found.tables.sum(axis=(1, 2)).astype(np.int64)
    unweighted = None
    for suffix, weights in WEIGHTINGS.items():
        result = cohen_kappa_tables(found.tables, weights=weights, ranks=ranks)
        unweighted = unweighted or result
        table[f"kappa{suffix}"] = result.value
        table[f"kappa{suffix}_ci_low"] = result.ci_low
        table[f"kappa{suffix}_ci_high"] = result.ci_high
        table[f"kappa{suffix}_se"] = result.se
    table["percent_agreement"] = unweighted.p_o
    table["prevalence_paradox"] = [
        prevalence_paradox(p_o, kappa)
        for p_o, kappa in zip(unweighted.p_o, unweighted.value, strict=True)
    ]
    table["reason"] = unweighted.reason
    return table


def agreement_results(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None, n_boot: int = 1000
) -> dict[str, AgreementResult]:
    """The team coefficients over every item labelled by two or more annotators.

    Keys: ``fleiss_kappa, krippendorff_alpha_nominal, krippendorff_alpha_ordinal,
    krippendorff_alpha_interval, gwet_ac1, gwet_ac2_quadratic, pabak, percent_agreement``.
    Ordinal/interval use the label set's ranks as the ordered values.
    """
    patterns = item_patterns(con, filters or Filters())
    counts, weights = patterns.counts, patterns.weights
    ranks = patterns.labels.labels["rank"].to_numpy(dtype=float, na_value=np.nan)
    if np.isnan(ranks).any():
        ranks = np.arange(len(ranks), dtype=float)
    results = {"fleiss_kappa": fleiss_kappa_counts(counts, unit_weights=weights)}
    alphas = krippendorff_alpha_levels(
        counts,
        ("nominal", "ordinal", "interval"),
        values=ranks,
        unit_weights=weights,
        n_boot=n_boot,
        random_state=0,
    )
    for level, result in alphas.items():
        results[f"krippendorff_alpha_{level}"] = result
    results["gwet_ac1"] = gwet_ac_counts(counts, unit_weights=weights)
    results["gwet_ac2_quadratic"] = gwet_ac_counts(
        counts, weights="quadratic", ranks=ranks, unit_weights=weights
    )
    results["pabak"] = brennan_prediger_counts(counts, unit_weights=weights)
    results["percent_agreement"] = percent_agreement_counts(counts, unit_weights=weights)
    return results


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
    return pd.DataFrame(rows)


def agreement_summary(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None
) -> pd.DataFrame:
    """:func:`agreement_table` of :func:`agreement_results` from the store."""
    return agreement_table(agreement_results(con, filters))
