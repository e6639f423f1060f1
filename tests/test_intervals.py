"""Wilson intervals: statsmodels agreement, vectorisation, n = 0, validation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from qualitylib.intervals import wilson


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
