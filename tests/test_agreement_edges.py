"""Agreement at the edges: missing ids, label order for weights, intervals at small n and at
perfect agreement, and the wording of reasons and errors (issue 16)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import cohen_kappa_score

from qualitylib import agreement as ag
from qualitylib.dawid_skene import DawidSkene
from qualitylib.ingest import import_files
from qualitylib.metrics.team_agreement import (
    REASON_NO_RANK,
    agreement_results,
    agreement_table,
    pairwise_kappa,
)
from qualitylib.store import connect

Z = stats.norm.ppf(0.975)

DATAFRAME_FUNCS: dict[str, Callable[[pd.DataFrame], ag.AgreementResult]] = {
    "cohen_kappa": ag.cohen_kappa,
    "fleiss_kappa": ag.fleiss_kappa,
    "krippendorff_alpha": lambda df: ag.krippendorff_alpha(df, n_boot=20, random_state=0),
    "gwet_ac1": ag.gwet_ac1,
    "gwet_ac2": lambda df: ag.gwet_ac2(df, categories=["x", "y", "z"]),
    "pabak": ag.pabak,
    "percent_agreement": ag.percent_agreement,
}


def _pairs(y1: list, y2: list) -> pd.DataFrame:
    n = len(y1)
    return pd.DataFrame(
        {
            "item_id": list(range(n)) * 2,
            "annotator_id": ["a"] * n + ["b"] * n,
            "label": list(y1) + list(y2),
        }
    )


# --------------------------------------------------------------------------------------------
# 1. Missing ids
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DATAFRAME_FUNCS))
@pytest.mark.parametrize("column", ["item_id", "annotator_id"])
def test_missing_id_is_refused_naming_column_and_rows(name: str, column: str) -> None:
    df = _pairs(["x", "y", "x", "z"], ["x", "y", "y", "z"])
    df[column] = df[column].astype(object)
    df.loc[[1, 6], column] = [None, np.nan]
    with pytest.raises(ValueError, match=rf"^2 row\(s\) have no {column} \(NaN or None; e\.g\. "):
        DATAFRAME_FUNCS[name](df)


def test_missing_annotator_no_longer_overwrites_a_label() -> None:
    # Before: the NaN annotator was merged into 'b' and replaced b's label (kappa 1.0 -> 0.667).
    df = _pairs(["x", "y", "x", "y"], ["x", "y", "x", "y"])
    extra = pd.DataFrame({"item_id": [0], "annotator_id": [None], "label": ["y"]})
    with pytest.raises(ValueError, match=r"1 row\(s\) have no annotator_id"):
        ag.cohen_kappa(pd.concat([df, extra], ignore_index=True))
    assert ag.cohen_kappa(df).value == 1.0


def test_dawid_skene_names_the_missing_column() -> None:
    df = pd.DataFrame({"item_id": [1, None, 2], "annotator_id": ["a", "b", "b"], "label": 0})
    with pytest.raises(ValueError, match=r"1 row\(s\) have no item_id"):
        DawidSkene().fit(df)


# --------------------------------------------------------------------------------------------
# 2. Label order
# --------------------------------------------------------------------------------------------

Y1 = [1, 2, 3, 10, 2, 3, 1, 10, 3, 2]
Y2 = [1, 3, 3, 10, 2, 2, 2, 3, 3, 1]


def _codes(y: list[int]) -> list[int]:
    return [[1, 2, 3, 10].index(v) for v in y]


@pytest.mark.parametrize("weights", ["linear", "quadratic"])
def test_numeric_strings_are_ordered_by_value(weights: ag.Weights) -> None:
    expected = cohen_kappa_score(_codes(Y1), _codes(Y2), weights=weights)
    as_text = ag.cohen_kappa(_pairs(list(map(str, Y1)), list(map(str, Y2))), weights=weights)
    as_numbers = ag.cohen_kappa(_pairs(Y1, Y2), weights=weights)
    assert as_text.details["categories"] == ["1", "2", "3", "10"]  # not '1', '10', '2', '3'
    assert as_text.value == pytest.approx(expected, abs=1e-12)
    assert as_numbers.value == pytest.approx(expected, abs=1e-12)
    alphabetical = ag.cohen_kappa(
        _pairs(list(map(str, Y1)), list(map(str, Y2))),
        categories=["1", "10", "2", "3"],
        weights=weights,
    )
    assert alphabetical.value != pytest.approx(expected, abs=1e-3)


NAMES = {1: "low", 2: "medium", 3: "high", 10: "critical"}
ORDER = ["low", "medium", "high", "critical"]


def _named() -> pd.DataFrame:
    return _pairs([NAMES[v] for v in Y1], [NAMES[v] for v in Y2])


@pytest.mark.parametrize(
    "call",
    [
        lambda df: ag.cohen_kappa(df, weights="linear"),
        lambda df: ag.gwet_ac2(df),
        lambda df: ag.pabak(df, weights="quadratic"),
        lambda df: ag.percent_agreement(df, weights="linear"),
        lambda df: ag.krippendorff_alpha(df, level="ordinal", n_boot=0),
        lambda df: ag.krippendorff_alpha(df, level="interval", n_boot=0),
    ],
    ids=["cohen", "ac2", "pabak", "percent", "alpha_ordinal", "alpha_interval"],
)
def test_text_labels_without_order_refuse_weighted_requests(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r"pass categories=\[\.\.\.\] in order, make label an "):
        call(_named())
    ordered = _named().assign(label=lambda d: pd.Categorical(d["label"], ORDER, ordered=True))
    assert math.isfinite(call(ordered).value)


def test_text_labels_are_fine_unweighted_and_nominal() -> None:
    df = _named()
    assert ag.cohen_kappa(df).value == pytest.approx(cohen_kappa_score(Y1, Y2))
    assert math.isfinite(ag.krippendorff_alpha(df, n_boot=0).value)
    # two labels: every order gives the same weights, so no order is asked for
    two = _pairs(["no", "yes", "yes", "no"], ["no", "yes", "no", "no"])
    assert ag.cohen_kappa(two, weights="quadratic").value == pytest.approx(
        ag.cohen_kappa(two).value
    )


def test_ordered_categorical_order_is_used() -> None:
    df = _named()
    ordered = df.assign(label=pd.Categorical(df["label"], categories=ORDER, ordered=True))
    got = ag.cohen_kappa(ordered, weights="quadratic")
    assert got.details["categories"] == ORDER
    assert got.value == pytest.approx(
        cohen_kappa_score(_codes(Y1), _codes(Y2), weights="quadratic"), abs=1e-12
    )
    assert got.value == pytest.approx(
        ag.cohen_kappa(df, categories=ORDER, weights="quadratic").value
    )
    # an unordered Categorical of text has no order either
    unordered = df.assign(label=pd.Categorical(df["label"], categories=ORDER))
    with pytest.raises(ValueError, match="no order"):
        ag.cohen_kappa(unordered, weights="quadratic")
    # its declared categories count (an unused one changes PABAK's chance level 1/q)
    wider = df.assign(label=pd.Categorical(df["label"], categories=[*ORDER, "unused"]))
    assert ag.pabak(wider).p_expected == pytest.approx(1 / 5)


def test_two_spellings_of_one_number_are_not_numeric() -> None:
    df = _pairs(["1", "01", "2", "3"], ["1", "1", "2", "2"])
    with pytest.raises(ValueError, match="no order"):
        ag.cohen_kappa(df, weights="linear")


# --------------------------------------------------------------------------------------------
# 3. The interval that covers; Wald kept in details
# --------------------------------------------------------------------------------------------


def test_cohen_interval_is_fisher_z_with_t_and_wald_is_kept() -> None:
    table = np.array([[12, 3, 1], [2, 9, 3], [0, 4, 16]])
    res = ag.cohen_kappa_tables(table, weights="quadratic")
    k, se, n = res.value[0], res.se[0], 50
    half = stats.t.ppf(0.975, n - 1) * se / (1 - k**2)
    assert res.ci_low[0] == pytest.approx(math.tanh(math.atanh(k) - half), abs=1e-12)
    assert res.ci_high[0] == pytest.approx(math.tanh(math.atanh(k) + half), abs=1e-12)
    assert res.wald_low[0] == pytest.approx(k - Z * se, abs=1e-12)
    assert res.wald_high[0] == pytest.approx(k + Z * se, abs=1e-12)
    assert res.ci_high[0] - k < k - res.ci_low[0]  # skewed away from the bound at 1


def _coverage(n: int, kappa: float, weights: ag.Weights, seed: int = 0) -> float:
    """Share of 4,000 simulated 3x3 tables whose interval holds the known kappa."""
    pi = np.array([0.5, 0.3, 0.2])
    p = kappa * np.diag(pi) + (1 - kappa) * np.outer(pi, pi)  # Cohen kappa = kappa
    tables = np.random.default_rng(seed).multinomial(n, p.ravel(), size=4000).reshape(-1, 3, 3)
    res = ag.cohen_kappa_tables(tables, weights=weights)
    return float(np.mean((res.ci_low <= kappa) & (kappa <= res.ci_high)))


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_coverage_at_n50_and_near_the_boundary(weights: ag.Weights) -> None:
    # benchmarks/coverage.py runs the full table; here one seeded draw per case (4,000 sets)
    assert 0.93 <= _coverage(50, 0.6, weights) <= 0.97
    assert 0.93 <= _coverage(20, 0.95, weights) <= 0.98  # half the samples agree perfectly


# --------------------------------------------------------------------------------------------
# 4. Perfect agreement: never a zero-width interval
# --------------------------------------------------------------------------------------------

PERFECT = _pairs(list("xxyyzzxyzx"), list("xxyyzzxyzx"))  # n = 10, every item agrees


@pytest.mark.parametrize(
    "call",
    [
        lambda df: ag.cohen_kappa(df),
        lambda df: ag.cohen_kappa(df, categories=["x", "y", "z"], weights="quadratic"),
        lambda df: ag.fleiss_kappa(df),
        lambda df: ag.gwet_ac1(df),
        lambda df: ag.gwet_ac2(df, categories=["x", "y", "z"]),
        lambda df: ag.pabak(df),
        lambda df: ag.percent_agreement(df),
        lambda df: ag.krippendorff_alpha(df, random_state=0),
        lambda df: ag.krippendorff_alpha(df, categories=["x", "y", "z"], level="ordinal"),
    ],
    ids=[
        "cohen",
        "cohen_quadratic",
        "fleiss",
        "ac1",
        "ac2",
        "pabak",
        "percent",
        "alpha_nominal",
        "alpha_ordinal",
    ],
)
def test_perfect_agreement_interval_has_width(call) -> None:  # type: ignore[no-untyped-def]
    res = call(PERFECT)
    assert res.value == 1.0 and res.ci_high == 1.0
    assert 0.0 < res.ci_low < 0.9  # ten items do not prove perfect agreement


def test_perfect_agreement_lower_bound_is_wilson_mapped() -> None:
    res = ag.cohen_kappa(PERFECT)
    n = 10
    wilson_low = n / (n + Z**2)  # Wilson lower bound of 10 / 10
    expected = (wilson_low - res.p_expected) / (1 - res.p_expected)
    assert res.se == 0.0 and res.ci_low == pytest.approx(expected, abs=1e-12)
    assert res.details["wald_ci"] == [1.0, 1.0]  # the Wald interval it replaces
    # percent agreement: the Wilson interval itself
    pa = ag.percent_agreement(PERFECT)
    assert (pa.ci_low, pa.ci_high) == pytest.approx((wilson_low, 1.0), abs=1e-12)


def test_zero_se_away_from_the_boundary_still_has_width() -> None:
    # one annotator always says 'x': kappa is exactly 0 and its analytic SE is 0
    res = ag.cohen_kappa(_pairs(["x"] * 8, list("xxyxyxxy")))
    assert res.value == pytest.approx(0.0) and res.se == pytest.approx(0.0, abs=1e-12)
    assert res.ci_low < 0.0 < res.ci_high


# --------------------------------------------------------------------------------------------
# 5. Messages and reasons
# --------------------------------------------------------------------------------------------


def test_ac1_reason_says_inferred_or_declared() -> None:
    one = _pairs(["x"] * 4, ["x"] * 4)
    inferred = ag.gwet_ac1(one)
    assert inferred.reason == ag.REASON_ONE_CATEGORY_SEEN
    assert "no label set was declared" in inferred.reason and "pass categories" in inferred.reason
    assert ag.gwet_ac1(one, categories=["x"]).reason == ag.REASON_ONE_CATEGORY


def test_duplicate_message_prints_plain_values() -> None:
    df = pd.DataFrame({"item_id": [0, 0], "annotator_id": [7, 7], "label": [1, 2]})
    with pytest.raises(ValueError, match=r"e\.g\. item 0 by 7; keep one label") as info:
        ag.fleiss_kappa(df)
    assert "np." not in str(info.value)


def test_cohen_with_an_annotator_with_only_missing_labels_is_nan() -> None:
    df = _pairs(["x", "y", "x"], [None, None, None])
    res = ag.cohen_kappa(df)
    assert math.isnan(res.value) and math.isnan(res.ci_low)
    assert res.reason == "annotator 'b' has no labels (all missing), so the two share no items"
    assert res.n_raters == 2 and res.n_items == 0


# --------------------------------------------------------------------------------------------
# Store level: no rank -> NaN with the reason, the rest of the table stays
# --------------------------------------------------------------------------------------------


def test_store_without_ranks_gives_nan_weighted_columns_with_reason(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    labels = np.array(["safe", "nudity", "weapons"])
    truth = rng.integers(0, 3, 40)
    rows = [
        (f"i{i}", who, labels[truth[i] if rng.random() < 0.8 else rng.integers(0, 3)])
        for i in range(40)
        for who in ("ann", "bob", "cem")
    ]
    frame = pd.DataFrame(rows, columns=["item_id", "annotator_id", "label"])
    frame["annotated_at"] = pd.Timestamp("2026-09-01T10:00:00")
    path = tmp_path / "annotations.csv"
    frame.to_csv(path, index=False)
    db = tmp_path / "store.duckdb"
    import_files(db, "annotations", [path])  # no label set: no rank
    with connect(db, read_only=True) as con:
        pairs = pairwise_kappa(con)
        results = agreement_results(con, n_boot=20)
    assert len(pairs) == 3 and pairs["kappa"].notna().all()
    assert pairs["kappa_quadratic"].isna().all() and pairs["kappa_linear_ci_low"].isna().all()
    assert (pairs["weighted_reason"] == REASON_NO_RANK).all() and pairs["reason"].isna().all()
    table = agreement_table(results).set_index("metric")
    for metric in (
        "krippendorff_alpha_ordinal",
        "krippendorff_alpha_interval",
        "gwet_ac2_quadratic",
    ):
        assert (
            math.isnan(table.loc[metric, "value"]) and table.loc[metric, "reason"] == REASON_NO_RANK
        )
        assert table.loc[metric, "n_items"] == 40
    for metric in ("fleiss_kappa", "krippendorff_alpha_nominal", "gwet_ac1", "pabak"):
        assert math.isfinite(table.loc[metric, "value"]) and pd.isna(table.loc[metric, "reason"])


def test_two_perfect_items_give_a_wide_interval_not_one_to_one() -> None:
    # the dashboard printed "kappa 1.00, 95 % CI 1.00 to 1.00" with n = 2
    res = ag.cohen_kappa_tables([[1, 0], [0, 1]])
    wilson_low = 2 / (2 + Z**2)
    assert res.value[0] == 1.0 and res.ci_high[0] == 1.0
    assert res.ci_low[0] == pytest.approx((wilson_low - 0.5) / 0.5, abs=1e-12)  # -0.31
