"""Wilson intervals (statsmodels agreement, vectorisation, n = 0, validation) and the
agreement-coefficient interval rules."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from qualitylib.intervals import agreement_interval, wilson


def test_scalar_in_float_out() -> None:
    low, high = wilson(18, 20)
    assert isinstance(low, float) and isinstance(high, float)
    assert (low, high) == pytest.approx((0.6989663547715127, 0.9721335187862318), abs=1e-12)


def test_vectorised_matches_statsmodels() -> None:
    x = np.array([[0, 1, 5], [10, 20, 7]])
    n = np.array([10, 20, 7])
    low, high = wilson(x, n, alpha=0.1)
    ref_low, ref_high = proportion_confint(x, n, alpha=0.1, method="wilson")
    np.testing.assert_allclose(low, ref_low, atol=1e-12)
    np.testing.assert_allclose(high, ref_high, atol=1e-12)
    assert low.shape == (2, 3)


def test_zero_trials_is_nan_without_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        low, high = wilson(np.array([0, 3]), np.array([0, 4]))
        s_low, s_high = wilson(0, 0)
    assert np.isnan(low[0]) and np.isnan(high[0]) and np.isfinite(low[1])
    assert np.isnan(s_low) and np.isnan(s_high)


@pytest.mark.parametrize(
    ("x", "n", "alpha", "message"),
    [(5, 4, 0.05, "exceed"), (-1, 4, 0.05, "non-negative"), (1, 4, 1.5, "alpha")],
)
def test_invalid_input(x: int, n: int, alpha: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        wilson(x, n, alpha=alpha)


def test_agreement_interval_rules_vectorised() -> None:
    value = np.array([0.6, 1.0, 0.0, np.nan, 0.5])
    se = np.array([0.1, 0.0, 0.0, 0.1, 0.1])
    p_o = np.array([0.8, 1.0, 0.5, 0.5, 0.75])
    p_e = np.array([0.5, 0.5, 0.5, 0.5, 0.5])
    n = np.array([50, 20, 20, 50, 1])
    low, high = agreement_interval(value, se, p_o, p_e, n)
    # Fisher z with t_{49}
    half = stats.t.ppf(0.975, 49) * 0.1 / (1 - 0.36)
    assert (low[0], high[0]) == pytest.approx(
        (np.tanh(np.arctanh(0.6) - half), np.tanh(np.arctanh(0.6) + half))
    )
    # se = 0: Wilson on p_o mapped through (x - p_e) / (1 - p_e)
    for i in (1, 2):
        w_low, w_high = proportion_confint(p_o[i] * 20, 20, method="wilson")
        assert low[i] == pytest.approx((w_low - 0.5) / 0.5) and high[i] == pytest.approx(
            min((w_high - 0.5) / 0.5, 1.0)
        )
    assert high[1] == 1.0 and low[1] < 1.0 and low[2] < 0.0 < high[2]
    # NaN value or fewer than 2 items: NaN
    assert np.isnan([low[3], high[3], low[4], high[4]]).all()
    with pytest.raises(ValueError, match="alpha"):
        agreement_interval(0.5, 0.1, 0.7, 0.4, 30, alpha=0)
