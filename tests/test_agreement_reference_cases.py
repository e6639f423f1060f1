"""Agreement statistics pinned to the published worked examples in tests/data/reference
(copied from the project's shared reference set).

Each test is parametrised by case id so a failure names the case. Tolerances come from the
case (``tolerance.abs`` and ``tolerance.per_key``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from qualitylib import agreement as ag
from qualitylib.intervals import wilson

CASES_PATH = Path(__file__).resolve().parent / "data" / "reference" / "cases.json"
CASES: dict[str, dict[str, Any]] = {
    c["id"]: c for c in json.loads(CASES_PATH.read_text(encoding="utf-8"))
}


def _long(matrix: list[list[Any]]) -> pd.DataFrame:
    """items x raters matrix (None = no rating) -> long item_id, annotator_id, label."""
    rows = [
        (i, f"r{j}", v) for i, row in enumerate(matrix) for j, v in enumerate(row) if v is not None
    ]
    return pd.DataFrame(rows, columns=["item_id", "annotator_id", "label"])


def _tol(case: dict[str, Any], key: str) -> float:
    tol = case["tolerance"]
    return tol.get("per_key", {}).get(key, tol["abs"])


def _check(case: dict[str, Any], key: str, got: Any) -> None:
    expected = case["expected"][key]
    assert got == pytest.approx(expected, abs=_tol(case, key)), f"{case['id']}: {key}"


def _weights(case: dict[str, Any]) -> ag.Weights:
    w = case["params"].get("weights", "none")
    return None if w in ("none", "identity") else w


# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case_id", ["fleiss_diagnoses_fleiss1971"])
def test_fleiss(case_id: str) -> None:
    case = CASES[case_id]
    res = ag.fleiss_kappa(_long(case["data"]), categories=case["params"]["categories"])
    assert res.reason is None
    _check(case, "fleiss_kappa", res.value)
    _check(case, "observed_agreement_pbar", res.p_observed)
    _check(case, "expected_agreement_pe", res.p_expected)
    _check(case, "category_proportions", res.details["pi"])
    _check(case, "se_h0_fleiss_nee_landis_1979", res.details["se0"])
    _check(case, "z_h0", res.details["z"])
    _check(case, "per_category_kappa", res.details["per_category_kappa"])
    _check(case, "per_category_z", res.details["per_category_z"])
    # res.se is Gwet's non-null SE (used for the CI), which irrCAC reports for Fleiss' kappa.
    computed = case["verification"]["computed"]
    irr = next(v for k, v in computed.items() if k.startswith("irrCAC 0.4.4 raw.CAC.fleiss"))
    assert res.se == pytest.approx(irr["se"], abs=1e-8)
    assert res.n_items == 30 and res.n_raters == 6


@pytest.mark.parametrize(
    "case_id", ["cohen_sas_3x3_unweighted_unused_category", "cohen_sas_3x3_linear_unused_category"]
)
def test_cohen_sas(case_id: str) -> None:
    case = CASES[case_id]
    res = ag.cohen_kappa(_long(case["data"]), weights=_weights(case))
    # category set = union of both raters' labels: rater 2 never uses category 1
    assert res.details["categories"] == case["params"]["categories"]
    assert res.details["table"] == case["params"]["contingency_table_rows_rater1_cols_rater2"]
    _check(case, "cohen_kappa", res.value)
    _check(case, "se", res.se)
    # SAS prints the normal (Wald) interval; ci_low/ci_high is the Fisher z interval that
    # covers at small n (qualitylib.intervals.agreement_interval), which is asymmetric.
    _check(case, "ci95_low_normal", res.details["wald_ci"][0])
    _check(case, "ci95_high_normal", res.details["wald_ci"][1])
    assert res.ci_low < res.value < res.ci_high < 1.0
    assert res.ci_high - res.value < res.value - res.ci_low  # skewed away from the bound 1
    _check(case, "se_h0", res.details["se0"])
    _check(case, "z_h0", res.details["z"])
    _check(case, "p_two_sided", res.details["p_value"])
    _check(case, "p_one_sided", res.details["p_value"] / 2)
    # the count-level entry point on the printed table gives the same numbers
    t = ag.cohen_kappa_tables(
        case["params"]["contingency_table_rows_rater1_cols_rater2"], weights=_weights(case)
    )
    _check(case, "cohen_kappa", t.value[0])
    _check(case, "se", t.se[0])


@pytest.mark.parametrize(
    "case_id", [f"kripp_2011_{level}" for level in ("nominal", "ordinal", "interval", "ratio")]
)
def test_krippendorff(case_id: str) -> None:
    case = CASES[case_id]
    level = case["params"]["level_of_measurement"]
    res = ag.krippendorff_alpha(
        _long(case["data"]),
        categories=case["params"]["value_domain"],
        level=level,
        n_boot=200,
        random_state=0,
    )
    _check(case, "krippendorff_alpha", res.value)
    if "n_pairable_values" in case["expected"]:
        _check(case, "n_pairable_values", res.details["n_pairable"])
    assert res.n_items == 11  # unit 12 has a single value and is not pairable
    assert res.details["n_items_single_rating"] == 1
    assert res.ci_low <= res.value <= res.ci_high


def test_gwet_raw4raters_missing() -> None:
    case = CASES["gwet_ac1_raw4raters_missing"]
    df = _long(case["data"])
    cats = case["params"]["categories"]
    ac1 = ag.gwet_ac1(df, categories=cats)
    _check(case, "gwet_ac1", ac1.value)
    _check(case, "gwet_se", ac1.se)
    _check(case, "gwet_pe", ac1.p_expected)
    _check(case, "percent_agreement_gwet", ac1.p_observed)
    # Gwet's CI uses a t quantile with n-1 df (n = 12 rated subjects), capped at 1; ours uses
    # z. Pin Gwet's convention from our value and SE to show the same SE reproduces it.
    t = stats.t.ppf(0.975, 12 - 1)
    _check(case, "gwet_ci95_low_t", ac1.value - t * ac1.se)
    _check(case, "gwet_ci95_high_t_capped", min(ac1.value + t * ac1.se, 1.0))
    assert ac1.details["wald_ci"][1] == 1.0  # the normal interval is clipped at 1
    assert ac1.ci_low < ac1.value < ac1.ci_high < 1.0  # the Fisher z interval stays inside

    _check(case, "percent_agreement_gwet", ag.percent_agreement(df, categories=cats).value)
    # Fleiss' kappa with missing ratings = Gwet's generalisation (irrCAC fleiss.raw)
    fleiss = ag.fleiss_kappa(df, categories=cats)
    _check(case, "fleiss_kappa_gwet_missing", fleiss.value)
    computed = case["verification"]["computed"]
    assert fleiss.se == pytest.approx(computed["irrCAC 0.4.4 fleiss"]["se"], abs=1e-8)
    bp = ag.pabak(df, categories=cats)
    _check(case, "brennan_prediger", bp.value)
    _check(case, "pabak_multicategory_q5", bp.value)
    assert bp.se == pytest.approx(computed["irrCAC 0.4.4 bp"]["se"], abs=1e-8)
    alpha = ag.krippendorff_alpha(df, categories=cats, n_boot=0)
    _check(case, "krippendorff_alpha_weighted", alpha.value)
    assert math.isnan(alpha.se)  # n_boot=0 skips the bootstrap


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_gwet_table_abstractors(weights: ag.Weights) -> None:
    case = CASES["gwet_table_abstractors_3x3"]
    df = _long(case["data"])
    sfx = "" if weights is None else f"_{weights}"
    n = 100
    cohen = ag.cohen_kappa(df, weights=weights)
    _check(case, f"cohen_kappa{sfx}", cohen.value)
    _check(case, f"cohen_se{sfx}", cohen.se)
    ac = ag.gwet_ac2(df, weights=weights)
    _check(case, "gwet_ac1" if weights is None else f"gwet_ac2{sfx}", ac.value)
    # Expected SEs are irrCAC's contingency-table formula (1/n^2 normalisation); we use the
    # raw-data formula (1/(n(n-1))), which irrCAC also gives on the expanded data (see
    # verification). The two differ exactly by sqrt((n-1)/n): pin both.
    _check(case, f"gwet_se_table{sfx}", ac.se * math.sqrt((n - 1) / n))
    raw = case["verification"]["computed"][
        f"irrCAC 0.4.4 raw.CAC (expanded) gwet/conger {weights or 'identity'}"
    ]["gwet"]
    assert ac.se == pytest.approx(raw["se"], abs=1e-8)
    _check(case, f"percent_agreement{sfx}", ag.percent_agreement(df, weights=weights).value)
    _check(case, f"brennan_prediger{sfx}", ag.pabak(df, weights=weights).value)
    if weights is None:
        _check(case, "pabak_multicategory", ag.pabak(df).value)
        # CIs printed with Gwet's t quantile (99 df): reproduce from our value and SE
        t = stats.t.ppf(0.975, n - 1)
        _check(case, "cohen_ci95_t", [cohen.value - t * cohen.se, cohen.value + t * cohen.se])
        se_table = ac.se * math.sqrt((n - 1) / n)
        _check(case, "gwet_ac1_ci95_t", [ac.value - t * se_table, ac.value + t * se_table])
        _check(
            case, "krippendorff_alpha_weights_identity", ag.krippendorff_alpha(df, n_boot=0).value
        )
    if weights == "quadratic":  # alpha-interval equals quadratic-weighted alpha (case notes)
        alpha = ag.krippendorff_alpha(df, level="interval", n_boot=0)
        _check(case, "krippendorff_alpha_weights_quadratic", alpha.value)


def test_paradox_feinstein_cicchetti() -> None:
    case = CASES["paradox_feinstein_cicchetti_B_imbalanced"]
    df = _long(case["data"])
    cats = case["params"]["categories"]
    cohen = ag.cohen_kappa(df, categories=cats)
    _check(case, "cohen_kappa", cohen.value)
    _check(case, "cohen_pe", cohen.p_expected)
    _check(case, "percent_agreement", cohen.p_observed)
    _check(case, "prevalence_index", cohen.details["prevalence_index"])
    _check(case, "bias_index", cohen.details["bias_index"])
    ac1 = ag.gwet_ac1(df, categories=cats)
    _check(case, "gwet_ac1", ac1.value)
    _check(case, "gwet_pe", ac1.p_expected)
    _check(case, "gwet_se_table", ac1.se * math.sqrt(99 / 100))  # table vs raw SE, see above
    _check(case, "pabak", ag.pabak(df, categories=cats).value)
    _check(case, "percent_agreement", ag.percent_agreement(df, categories=cats).value)
    alpha = ag.krippendorff_alpha(df, categories=cats, n_boot=0)
    _check(case, "krippendorff_alpha_nominal", alpha.value)
    assert ag.prevalence_paradox(cohen.p_observed, cohen.value)
    assert not ag.prevalence_paradox(ac1.p_observed, ac1.value)


@pytest.mark.parametrize("categories", [["A"], ["A", "B"]], ids=["cats_A", "cats_AB"])
def test_degenerate_single_category(categories: list[str]) -> None:
    # Policy: 0/0 is NaN with a reason (like statsmodels/sklearn), never 1.0 (nltk) and never
    # an exception (krippendorff); coefficients that are defined stay defined.
    case = CASES["degenerate_two_raters_single_category"]
    df = _long(case["data"])
    cohen = ag.cohen_kappa(df, categories=categories)
    assert case["expected"]["cohen_kappa"] is None and case["expected"]["cohen_kappa_undefined"]
    assert math.isnan(cohen.value) and math.isnan(cohen.se) and math.isnan(cohen.ci_low)
    assert "p_e is 1" in cohen.reason and "0/0" in cohen.reason
    _check(case, "cohen_pe", cohen.p_expected)
    _check(case, "percent_agreement", cohen.p_observed)
    pa = ag.percent_agreement(df, categories=categories)
    _check(case, "percent_agreement", pa.value)
    assert pa.reason is None
    alpha = ag.krippendorff_alpha(df, categories=categories)
    assert math.isnan(alpha.value) and "D_e is 0" in alpha.reason
    if categories == ["A", "B"]:
        _check(case, "pabak_if_q2", ag.pabak(df, categories=categories).value)
        _check(case, "gwet_ac1_if_categories_AB", ag.gwet_ac1(df, categories=categories).value)
    else:
        assert "one category" in ag.gwet_ac1(df, categories=categories).reason
        assert "p_e is 1" in ag.pabak(df, categories=categories).reason


def test_wilson_18_of_20() -> None:
    case = CASES["wilson_ci_18_of_20"]
    gold = dict(case["params"]["gold_labels"])
    df = pd.DataFrame(case["data"], columns=["item_id", "annotator_id", "label"])
    correct = int((df["label"] == df["item_id"].map(gold)).sum())
    assert (correct, len(df)) == (case["params"]["count_correct"], case["params"]["nobs"])
    _check(case, "accuracy", correct / len(df))
    low, high = wilson(correct, len(df), alpha=1 - case["params"]["confidence_level"])
    _check(case, "wilson_low", low)
    _check(case, "wilson_high", high)
    lows, highs = wilson(np.array([correct, 0]), np.array([len(df), 0]))
    _check(case, "wilson_low", lows[0])
    assert np.isnan(lows[1]) and np.isnan(highs[1])


def test_every_agreement_case_is_covered() -> None:
    covered = {
        "fleiss_diagnoses_fleiss1971",
        "cohen_sas_3x3_unweighted_unused_category",
        "cohen_sas_3x3_linear_unused_category",
        "kripp_2011_nominal",
        "kripp_2011_ordinal",
        "kripp_2011_interval",
        "kripp_2011_ratio",
        "gwet_ac1_raw4raters_missing",
        "gwet_table_abstractors_3x3",
        "paradox_feinstein_cicchetti_B_imbalanced",
        "degenerate_two_raters_single_category",
        "wilson_ci_18_of_20",
    }
    mine = {
        cid
        for cid, c in CASES.items()
        if any(m in c["metric"] for m in ("kappa", "alpha", "gwet", "pabak", "agreement", "wilson"))
    }
    assert mine <= covered, f"new reference cases to pin: {mine - covered}"
