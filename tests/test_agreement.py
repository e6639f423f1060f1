"""Agreement coefficients: property tests against peer packages, count-level contracts,
degenerate inputs and JSON round-trips."""

from __future__ import annotations

import json
import math
import warnings

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from qualitylib import agreement as ag

PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _pairs_df(y1: list[int], y2: list[int]) -> pd.DataFrame:
    n = len(y1)
    return pd.DataFrame(
        {
            "item_id": list(range(n)) * 2,
            "annotator_id": ["a"] * n + ["b"] * n,
            "label": list(y1) + list(y2),
        }
    )


def _matrix_df(m: np.ndarray) -> pd.DataFrame:
    """units x raters float matrix with NaN = missing -> long table."""
    i, j = np.nonzero(~np.isnan(m))
    return pd.DataFrame({"item_id": i, "annotator_id": j, "label": m[i, j].astype(int)})


@st.composite
def rater_pairs(draw: st.DrawFn) -> tuple[int, list[int], list[int]]:
    k = draw(st.integers(2, 5))
    n = draw(st.integers(2, 40))
    labels = st.lists(st.integers(0, k - 1), min_size=n, max_size=n)
    return k, draw(labels), draw(labels)


@st.composite
def reliability_matrices(draw: st.DrawFn) -> np.ndarray:
    """units x raters with values 1..k and missing ratings (NaN)."""
    k = draw(st.integers(2, 5))
    n_units = draw(st.integers(2, 25))
    n_raters = draw(st.integers(2, 5))
    cells = st.one_of(st.none(), st.integers(1, k))
    rows = draw(
        st.lists(
            st.lists(cells, min_size=n_raters, max_size=n_raters),
            min_size=n_units,
            max_size=n_units,
        )
    )
    return np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)


# --------------------------------------------------------------------------------------------
# Cohen vs scikit-learn and statsmodels
# --------------------------------------------------------------------------------------------


@PROPERTY
@given(rater_pairs(), st.sampled_from([None, "linear", "quadratic"]))
def test_cohen_matches_sklearn_and_statsmodels(
    data: tuple[int, list[int], list[int]], weights: ag.Weights
) -> None:
    k, y1, y2 = data
    cats = list(range(k))
    res = ag.cohen_kappa(_pairs_df(y1, y2), categories=cats, weights=weights)
    table = np.zeros((k, k))
    np.add.at(table, (y1, y2), 1)
    assume(res.reason is None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = cohen_kappa_score(y1, y2, labels=cats, weights=weights)
        sm = sm_cohens_kappa(table, wt=weights)
    assert res.value == pytest.approx(ref, abs=1e-9)
    assert res.value == pytest.approx(sm.kappa, abs=1e-9)
    # sqrt amplifies rounding where the variance is ~0: compare SEs at 1e-7
    if np.isfinite(sm.std_kappa):
        assert res.se == pytest.approx(sm.std_kappa, abs=1e-7)
    else:  # statsmodels takes sqrt of a rounding-negative 0; the limit is 0
        assert res.se == pytest.approx(0.0, abs=1e-7)
    if np.isfinite(sm.std_kappa0):
        assert res.details["se0"] == pytest.approx(sm.std_kappa0, abs=1e-7)
    else:
        assert res.details["se0"] == pytest.approx(0.0, abs=1e-7)
    assert -1.0 <= res.ci_low <= res.value <= res.ci_high <= 1.0


@PROPERTY
@given(st.lists(rater_pairs(), min_size=1, max_size=6), st.sampled_from([None, "quadratic"]))
def test_cohen_tables_stack_equals_one_at_a_time(
    pairs: list[tuple[int, list[int], list[int]]], weights: ag.Weights
) -> None:
    k = 5
    tables = np.zeros((len(pairs), k, k))
    for p, (_, y1, y2) in enumerate(pairs):
        np.add.at(tables[p], (y1, y2), 1)
    stacked = ag.cohen_kappa_tables(tables, weights=weights)
    for p in range(len(pairs)):
        single = ag.cohen_kappa_tables(tables[p], weights=weights)
        for name in ("value", "se", "se0", "z", "ci_low", "ci_high", "p_o", "p_e", "n"):
            # sqrt amplifies rounding where a variance is ~0, hence 1e-6 for SE-derived fields
            atol = 1e-6 if name in ("se", "se0", "ci_low", "ci_high") else 1e-12
            np.testing.assert_allclose(
                getattr(stacked, name)[p], getattr(single, name)[0], atol=atol, equal_nan=True
            )
        assert stacked.reason[p] == single.reason[0]
    frame = stacked.to_frame()
    assert len(frame) == len(pairs) and "se0" in frame.columns


def test_cohen_tables_reasons_and_ranks() -> None:
    tables = np.array(
        [
            [[5, 1, 0], [1, 5, 1], [0, 1, 5]],
            [[0, 0, 0], [0, 0, 0], [0, 0, 0]],
            [[1, 0, 0], [0, 0, 0], [0, 0, 0]],
            [[7, 0, 0], [0, 0, 0], [0, 0, 0]],
        ]
    )
    res = ag.cohen_kappa_tables(tables)
    assert res.reason[0] is None and np.isfinite(res.value[0])
    assert res.reason[1] == ag.REASON_NO_SHARED
    assert res.reason[2] == ag.REASON_FEW_SHARED
    assert res.reason[3] == ag.REASON_PE_ONE
    assert np.isnan(res.value[1:]).all() and np.isnan(res.se[1:]).all()
    # ranks define the category positions; evenly spaced ranks = the default order
    table = [[5, 3, 1], [1, 5, 1], [0, 1, 5]]
    even = ag.cohen_kappa_tables(table, weights="linear", ranks=[10, 20, 30])
    default = ag.cohen_kappa_tables(table, weights="linear")
    assert even.value[0] == pytest.approx(default.value[0])
    uneven = ag.cohen_kappa_tables(table, weights="linear", ranks=[0, 1, 5])
    assert uneven.value[0] != pytest.approx(default.value[0])
    with pytest.raises(ValueError, match="shape"):
        ag.cohen_kappa_tables(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="ranks"):
        ag.cohen_kappa_tables(tables, weights="linear", ranks=[1, 2])


def test_weight_matrix() -> None:
    np.testing.assert_allclose(ag.weight_matrix(3, "quadratic")[0], [1.0, 0.75, 0.0])
    np.testing.assert_array_equal(ag.weight_matrix(2), np.eye(2))
    with pytest.raises(ValueError, match="weights"):
        ag.weight_matrix(3, "cubic")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Multi-rater coefficients
# --------------------------------------------------------------------------------------------


@PROPERTY
@given(st.integers(2, 5), st.integers(2, 6), st.integers(2, 30), st.integers(0, 2**32 - 1))
def test_fleiss_matches_statsmodels_equal_raters(k: int, m: int, n_items: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    prevalence = rng.dirichlet(np.ones(k))
    counts = rng.multinomial(m, prevalence, size=n_items)  # m raters per item
    res = ag.fleiss_kappa_counts(counts)
    assume(res.reason is None)
    assert res.value == pytest.approx(sm_fleiss_kappa(counts), abs=1e-9)
    # per-category kappas of a 2-category table both equal the overall kappa
    if k == 2:
        np.testing.assert_allclose(res.details["per_category_kappa"], res.value, atol=1e-9)


@PROPERTY
@given(reliability_matrices(), st.sampled_from(["nominal", "ordinal", "interval", "ratio"]))
def test_krippendorff_matches_package(m: np.ndarray, level: ag.Level) -> None:
    k = int(np.nanmax(m)) if np.isfinite(m).any() else 1
    df = _matrix_df(m)
    assume(len(df) > 0)
    res = ag.krippendorff_alpha(df, categories=list(range(1, k + 1)), level=level, n_boot=0)
    if res.reason is not None:  # undefined here; the package raises or returns nan
        return
    ref = krippendorff.alpha(
        reliability_data=m.T, value_domain=list(range(1, k + 1)), level_of_measurement=level
    )
    assert res.value == pytest.approx(ref, abs=1e-9)


@PROPERTY
@given(rater_pairs())
def test_two_rater_ac1_bp_pa_against_table_formulas(data: tuple[int, list[int], list[int]]) -> None:
    # Independent 2-rater table formulas (Gwet 2008 eq. for two raters; Byrt et al. 1993).
    k, y1, y2 = data
    df = _pairs_df(y1, y2)
    cats = list(range(k))
    n = len(y1)
    t = np.zeros((k, k))
    np.add.at(t, (y1, y2), 1)
    p_a = np.trace(t) / n
    pi = (t.sum(0) + t.sum(1)) / (2 * n)
    pe = float((pi * (1 - pi)).sum() / (k - 1))
    ac1 = ag.gwet_ac1(df, categories=cats)
    assert ac1.p_observed == pytest.approx(p_a)
    if 1 - pe > 1e-12:
        assert ac1.value == pytest.approx((p_a - pe) / (1 - pe), abs=1e-9)
    bp = ag.pabak(df, categories=cats)
    assert bp.value == pytest.approx((p_a - 1 / k) / (1 - 1 / k), abs=1e-9)
    pa = ag.percent_agreement(df, categories=cats)
    assert pa.value == pytest.approx(p_a)
    assert pa.se == pytest.approx(math.sqrt(p_a * (1 - p_a) / (n - 1)), abs=1e-9)


COUNT_FUNCS = {
    "fleiss": lambda c, w: ag.fleiss_kappa_counts(c, unit_weights=w),
    "ac1": lambda c, w: ag.gwet_ac_counts(c, unit_weights=w),
    "ac2": lambda c, w: ag.gwet_ac_counts(c, weights="quadratic", unit_weights=w),
    "bp": lambda c, w: ag.brennan_prediger_counts(c, weights="linear", unit_weights=w),
    "pa": lambda c, w: ag.percent_agreement_counts(c, unit_weights=w),
    "alpha": lambda c, w: ag.krippendorff_alpha_counts(
        c, level="ordinal", unit_weights=w, n_boot=50, random_state=3
    ),
}


@pytest.mark.parametrize("name", sorted(COUNT_FUNCS))
def test_unit_weights_equal_expanded_rows(name: str) -> None:
    rng = np.random.default_rng(7)
    patterns = np.array([[3, 0, 0], [2, 1, 0], [0, 2, 1], [0, 0, 2], [1, 0, 0], [1, 1, 1]])
    freq = np.array([40, 7, 5, 9, 3, 2])
    expanded = rng.permutation(np.repeat(patterns, freq, axis=0))
    a = COUNT_FUNCS[name](patterns, freq)
    b = COUNT_FUNCS[name](expanded, None)
    for attr in ("value", "se", "ci_low", "ci_high", "p_observed", "p_expected"):
        assert getattr(a, attr) == pytest.approx(getattr(b, attr), abs=1e-12, nan_ok=True)
    assert (a.n_items, a.reason) == (b.n_items, b.reason)
    assert a.details["n_items_single_rating"] == 3


def test_unequal_raters_fleiss_is_defined_and_reduces() -> None:
    counts = np.array([[3, 1, 0], [0, 2, 0], [1, 1, 3], [0, 0, 4], [2, 0, 0], [1, 0, 0]])
    res = ag.fleiss_kappa_counts(counts)
    assert res.reason is None and np.isfinite([res.value, res.se, res.details["se0"]]).all()
    assert res.n_items == 5 and res.details["n_items_single_rating"] == 1
    assert res.details["mean_raters_per_item"] == pytest.approx(17 / 5)
    # Equal raters: the FNL SE under H0 and per-category kappas are the classic ones.
    eq = np.array([[3, 1, 0], [0, 4, 0], [1, 0, 3], [0, 0, 4], [2, 2, 0]])
    res_eq = ag.fleiss_kappa_counts(eq)
    N, m = 5, 4  # noqa: N806
    p = eq.sum(0) / (N * m)
    kappa_j = 1 - (eq * (m - eq)).sum(0) / (N * m * (m - 1) * p * (1 - p))
    np.testing.assert_allclose(res_eq.details["per_category_kappa"], kappa_j, atol=1e-12)
    assert res_eq.value == pytest.approx(sm_fleiss_kappa(eq), abs=1e-12)


# --------------------------------------------------------------------------------------------
# Bootstrap
# --------------------------------------------------------------------------------------------


def test_bootstrap_reproducible_and_contains_value() -> None:
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 300)
    m = np.where(rng.random((300, 4)) < 0.8, truth[:, None], rng.integers(0, 3, (300, 4)))
    m = np.where(rng.random((300, 4)) < 0.15, np.nan, m + 1.0)
    df = _matrix_df(m)
    a = ag.krippendorff_alpha(df, random_state=42)
    b = ag.krippendorff_alpha(df, random_state=42)
    c = ag.krippendorff_alpha(df, random_state=43)
    assert a.to_dict() == b.to_dict()
    assert (a.ci_low, a.ci_high) != (c.ci_low, c.ci_high)
    assert a.ci_low < a.value < a.ci_high
    assert 0 < a.se < 0.1 and a.details["n_boot"] == 1000


def test_bootstrap_on_patterns_of_a_million_items() -> None:
    rng = np.random.default_rng(1)
    patterns = np.array([[3, 0], [2, 1], [1, 2], [0, 3], [2, 0], [1, 1], [0, 2]])
    freq = rng.multinomial(1_000_000, [0.6, 0.1, 0.05, 0.1, 0.1, 0.03, 0.02])
    res = ag.krippendorff_alpha_counts(patterns, unit_weights=freq, random_state=0)
    assert res.n_items == 1_000_000 and res.ci_low < res.value < res.ci_high
    assert res.ci_high - res.ci_low < 0.01


# --------------------------------------------------------------------------------------------
# DataFrame layer: categories, validation, degenerate inputs
# --------------------------------------------------------------------------------------------


def test_unused_declared_category() -> None:
    df = _pairs_df([0, 1, 1, 0, 1, 1], [0, 1, 0, 0, 1, 1])
    plain = ag.cohen_kappa(df)
    extra = ag.cohen_kappa(df, categories=[0, 1, 2])
    assert extra.value == pytest.approx(plain.value)  # unweighted kappa ignores empty rows
    assert extra.details["table"] == [[2, 0, 0], [1, 3, 0], [0, 0, 0]]
    # chance-corrected by the number of categories q: an unused category moves AC1 and PABAK
    assert ag.pabak(df, categories=[0, 1, 2]).p_expected == pytest.approx(1 / 3)
    assert ag.gwet_ac1(df, categories=[0, 1, 2]).value != pytest.approx(ag.gwet_ac1(df).value)


def test_cohen_needs_two_annotators() -> None:
    df = pd.DataFrame({"item_id": [1, 1, 1], "annotator_id": ["a", "b", "c"], "label": [0, 1, 0]})
    with pytest.raises(ValueError, match="exactly two annotators, got 3"):
        ag.cohen_kappa(df)
    with pytest.raises(ValueError, match="exactly two annotators, got 1"):
        ag.cohen_kappa(df[df["annotator_id"] == "a"])


@pytest.mark.parametrize(
    ("df", "kwargs", "message"),
    [
        (pd.DataFrame({"item": [1], "annotator_id": ["a"], "label": [0]}), {}, "missing column"),
        (
            pd.DataFrame({"item_id": [1, 1], "annotator_id": ["a", "a"], "label": [0, 1]}),
            {},
            "duplicate",
        ),
        (
            pd.DataFrame({"item_id": [1, 1], "annotator_id": ["a", "b"], "label": [0, 2]}),
            {"categories": [0, 1]},
            "not in categories",
        ),
        (
            pd.DataFrame({"item_id": [1, 1], "annotator_id": ["a", "b"], "label": [0, "x"]}),
            {},
            "pass categories",
        ),
    ],
    ids=["missing_column", "duplicate_rating", "unknown_label", "mixed_types"],
)
def test_invalid_input_says_what_to_do(df: pd.DataFrame, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ag.fleiss_kappa(df, **kwargs)


@pytest.mark.parametrize(
    "func",
    [
        ag.fleiss_kappa,
        ag.gwet_ac1,
        ag.gwet_ac2,
        ag.pabak,
        ag.percent_agreement,
        ag.krippendorff_alpha,
    ],
)
def test_multi_rater_degenerate_inputs(func) -> None:  # type: ignore[no-untyped-def]
    one_annotator = pd.DataFrame({"item_id": [1, 2, 3], "annotator_id": "a", "label": [0, 1, 0]})
    no_overlap = pd.DataFrame(
        {"item_id": [1, 2, 3], "annotator_id": list("abc"), "label": [0, 1, 0]}
    )
    one_item = pd.DataFrame({"item_id": [1, 1], "annotator_id": ["a", "b"], "label": [0, 1]})
    empty = pd.DataFrame({"item_id": [], "annotator_id": [], "label": []})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cases = {
            "one annotator": func(one_annotator),
            "no item has at least 2": func(no_overlap),
            "fewer than 2 items": func(one_item),
            "no item has at least 2 ": func(empty),
        }
    for fragment, res in cases.items():
        assert math.isnan(res.value) and math.isnan(res.se) and math.isnan(res.ci_low)
        assert fragment.strip() in res.reason


def test_cohen_degenerate_pairs() -> None:
    no_shared = pd.DataFrame({"item_id": [1, 2], "annotator_id": ["a", "b"], "label": [0, 1]})
    res = ag.cohen_kappa(no_shared)
    assert math.isnan(res.value) and res.reason == ag.REASON_NO_SHARED and res.n_items == 0
    one_shared = _pairs_df([0], [1])
    assert ag.cohen_kappa(one_shared).reason == ag.REASON_FEW_SHARED


def test_null_labels_are_missing_ratings() -> None:
    df = _pairs_df([0, 1, 1, 0, 1], [0, 1, 0, 0, 1])
    with_null = pd.concat(
        [df, pd.DataFrame({"item_id": [9, 9], "annotator_id": ["a", "b"], "label": [None, 1]})]
    )
    assert ag.cohen_kappa(with_null).value == pytest.approx(ag.cohen_kappa(df).value)


def test_string_labels_and_level_values() -> None:
    df = _pairs_df([0, 1, 2, 2, 1], [0, 2, 2, 1, 1])
    names = {0: "low", 1: "mid", 2: "high"}
    named = df.assign(label=df["label"].map(names))
    order = ["low", "mid", "high"]
    a = ag.krippendorff_alpha(named, categories=order, level="interval", n_boot=0)
    b = ag.krippendorff_alpha(df, categories=[0, 1, 2], level="interval", n_boot=0)
    assert a.value == pytest.approx(b.value)  # positions 1..k vs labels 0..2: same spacing
    assert a.details["values"] == [1.0, 2.0, 3.0]
    c = ag.krippendorff_alpha(
        named, categories=order, level="interval", values=[0, 1, 10], n_boot=0
    )
    assert c.value != pytest.approx(a.value)


# --------------------------------------------------------------------------------------------
# Result objects
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("nan_result", [False, True], ids=["defined", "undefined"])
def test_result_json_round_trip(nan_result: bool) -> None:
    df = pd.DataFrame(
        {
            "item_id": [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4],
            "annotator_id": list("abc") * 4,
            "label": ["x", "x", "y", "y", "y", "y", "x", "x", "x", "z", "y", "y"],
        }
    )
    if nan_result:
        df = df.assign(label="x")
    res = ag.fleiss_kappa(df, categories=["x", "y", "z", "w"])
    text = json.dumps(res.to_dict(), allow_nan=False)  # strict JSON: NaN encoded as null
    back = ag.AgreementResult.from_dict(json.loads(text))
    assert back.to_dict() == res.to_dict()
    assert isinstance(back.value, float) and math.isnan(back.value) == nan_result
    if not nan_result:
        per_cat = back.details["per_category_kappa"]
        assert math.isnan(per_cat[3]) and per_cat[0] == pytest.approx(
            res.details["per_category_kappa"][0]
        )
    else:
        assert back.reason == ag.REASON_PE_ONE
    with pytest.raises(AttributeError):
        res.value = 0.0  # type: ignore[misc]
    # string details survive too (weights=None is stored as "none", since null means NaN)
    pa = ag.percent_agreement(df)
    assert ag.AgreementResult.from_dict(json.loads(json.dumps(pa.to_dict()))).details[
        "weights"
    ] == ("none")


def test_prevalence_paradox_rule() -> None:
    assert ag.prevalence_paradox(0.85, 0.318)
    assert not ag.prevalence_paradox(0.79, 0.1)
    assert not ag.prevalence_paradox(0.95, 0.4)
    assert not ag.prevalence_paradox(math.nan, 0.1)
    assert "prevalence" in ag.PARADOX_NOTE and "AC1" in ag.PARADOX_NOTE


def test_krippendorff_levels_share_one_bootstrap_and_equal_separate_calls() -> None:
    """Several levels from one bootstrap give exactly what separate seeded calls give."""
    rng = np.random.default_rng(5)
    counts = rng.multinomial(3, [0.6, 0.2, 0.1, 0.1], size=40)
    counts[::7, 1:] = 0  # some unanimous items, some with one rating
    counts[::9] = [1, 0, 0, 0]
    together = ag.krippendorff_alpha_levels(
        counts, ("nominal", "ordinal", "interval"), n_boot=300, random_state=1
    )
    for level, result in together.items():
        alone = ag.krippendorff_alpha_counts(counts, level, n_boot=300, random_state=1)
        assert json.dumps(result.to_dict(), sort_keys=True) == json.dumps(
            alone.to_dict(), sort_keys=True
        )
        assert math.isfinite(result.ci_low) and result.ci_low < result.value < result.ci_high
