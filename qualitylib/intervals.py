"""Confidence intervals for proportions.

Pure functions of counts (no database, no I/O). Agreement coefficients carry their own
intervals (analytic or bootstrap, see :mod:`qualitylib.agreement`).
"""

from __future__ import annotations

from typing import overload

import numpy as np
from numpy.typing import ArrayLike
from statsmodels.stats.proportion import proportion_confint

__all__ = ["wilson"]


@overload
def wilson(successes: int | float, n: int | float, alpha: float = ...) -> tuple[float, float]: ...


@overload
def wilson(
    successes: ArrayLike, n: ArrayLike, alpha: float = ...
) -> tuple[np.ndarray, np.ndarray]: ...


def wilson(
    successes: ArrayLike, n: ArrayLike, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray] | tuple[float, float]:
    r"""Wilson score interval for binomial proportions, vectorised.

    .. math::

        \frac{\hat p + \frac{z^2}{2n} \pm z\sqrt{\frac{\hat p(1-\hat p)}{n}
        + \frac{z^2}{4n^2}}}{1 + \frac{z^2}{n}}, \qquad z = z_{1-\alpha/2}

    without continuity correction (Wilson 1927; Newcombe 1998, method 3), computed by
    ``statsmodels.stats.proportion.proportion_confint(method="wilson")``.

    Parameters
    ----------
    successes : array_like
        Number of successes, shape broadcastable with ``n``; ``0 <= successes <= n``.
    n : array_like
        Number of trials. Where ``n == 0`` the interval is undefined and NaN is returned
        (no warning is emitted).
    alpha : float, default 0.05
        1 - confidence level (0.05 gives a 95 % interval).

    Returns
    -------
    (low, high) : tuple of ndarray, or of float when both inputs are scalars.

    Raises
    ------
    ValueError
        If ``alpha`` is not in (0, 1), counts are negative, or ``successes > n``.

    Examples
    --------
    >>> low, high = wilson(18, 20)
    >>> round(low, 4), round(high, 4)
    (0.699, 0.9721)
    >>> wilson([18, 0], [20, 0])[0]
    array([0.69896635,        nan])
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), e.g. 0.05 for a 95 % interval; got {alpha}")
    scalar = np.ndim(successes) == 0 and np.ndim(n) == 0
    x, nobs = np.broadcast_arrays(np.asarray(successes, dtype=float), np.asarray(n, dtype=float))
    if np.any(x < 0) or np.any(nobs < 0):
        raise ValueError("successes and n must be non-negative counts")
    if np.any(x > nobs):
        raise ValueError("successes must not exceed n (check that the counts are aligned)")
    empty = nobs == 0
    # Evaluate on a safe denominator and blank the undefined entries afterwards, so no
    # division-by-zero warning leaks out of statsmodels.
    low, high = proportion_confint(
        np.where(empty, 0.0, x), np.where(empty, 1.0, nobs), alpha=alpha, method="wilson"
    )
    low = np.where(empty, np.nan, np.asarray(low, dtype=float))
    high = np.where(empty, np.nan, np.asarray(high, dtype=float))
    if scalar:
        return float(low), float(high)
    return low, high
