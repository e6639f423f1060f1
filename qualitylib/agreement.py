"""Inter-rater agreement coefficients with standard errors and confidence intervals.

Two layers:

* **count level** (what the database layer calls; vectorised numpy, no loop over items or
  pairs): :func:`cohen_kappa_tables` on a stack of ``(n_pairs, k, k)`` contingency tables, and
  :func:`fleiss_kappa_counts`, :func:`gwet_ac_counts`, :func:`brennan_prediger_counts`,
  :func:`percent_agreement_counts`, :func:`krippendorff_alpha_counts` on per-item category
  counts ``counts: (n_items, k)`` with optional ``unit_weights: (n_items,)`` multiplicities
  (send each distinct count pattern once with its frequency instead of millions of rows).
* **DataFrame level** (what users call): :func:`cohen_kappa`, :func:`fleiss_kappa`,
  :func:`krippendorff_alpha`, :func:`gwet_ac1`, :func:`gwet_ac2`, :func:`pabak`,
  :func:`percent_agreement` take the long table ``item_id, annotator_id, label`` and are thin
  converters to counts.

Every function returns an :class:`AgreementResult` (or, for many pairs, :class:`KappaTables`).
Undefined values (0/0, too little data) are NaN with a ``reason``; nothing raises on
degenerate data and nothing returns 0 or 1 by accident. Invalid *input* raises ``ValueError``
saying what to do instead: a missing ``item_id`` or ``annotator_id`` (the column and the
number of rows are named; a missing ``label`` is a missing rating and is skipped), two
labels by one annotator on one item, a label outside ``categories``.

**Label order** (for weights and ordinal/interval alpha) comes from, in this order:
``categories=``; the categories of an ordered pandas ``Categorical`` label column; numeric
labels, and strings that are all numbers ("1", "2", "10": numeric order, as a CSV import
gives them); nothing else. Text labels with no order (``"low", "medium", "high"``) are fine
for unweighted and nominal coefficients, but a weighted or ordinal request on three or more
of them raises ``ValueError`` saying how to give the order, rather than silently using
alphabetical order. On a store, the label set's ``rank`` gives the order
(:mod:`qualitylib.metrics.team_agreement`). Weights use the positions ``0..k-1`` of that
order unless ``ranks=`` are given.

Notation follows the papers: ``p_o`` / ``p_e`` observed and chance agreement, ``w_kl``
agreement weights, ``r_ik`` number of raters who put item ``i`` in category ``k``, ``r_i``
ratings of item ``i`` (Gwet 2008), ``pi_k`` classification probabilities, ``o_ck`` Krippendorff's
coincidences, ``n_c`` their marginals, ``delta2`` the squared difference function.

Why not just call the peers: statsmodels ``cohens_kappa`` handles one table at a time and
``fleiss_kappa`` has no standard error and assumes equal raters per item; the ``krippendorff``
package has no confidence interval; irrCAC is R/pandas-row based. The formulas below reproduce
them (tests pin all of them) but work on stacked count arrays.

References
----------
Brennan RL, Prediger DJ (1981). Coefficient kappa: some uses, misuses, and alternatives.
    Educ Psychol Meas 41:687-699.
Byrt T, Bishop J, Carlin JB (1993). Bias, prevalence and kappa. J Clin Epidemiol 46:423-429.
Cicchetti DV, Allison T (1971). A new procedure for assessing reliability of scoring EEG sleep
    recordings. Am J EEG Technol 11:101-109.
Cohen J (1960). A coefficient of agreement for nominal scales. Educ Psychol Meas 20:37-46.
Cohen J (1968). Weighted kappa. Psychol Bull 70:213-220.
Feinstein AR, Cicchetti DV (1990). High agreement but low kappa: I. The problems of two
    paradoxes. J Clin Epidemiol 43:543-549.
Fleiss JL (1971). Measuring nominal scale agreement among many raters. Psychol Bull 76:378-382.
Fleiss JL, Cohen J, Everitt BS (1969). Large sample standard errors of kappa and weighted
    kappa. Psychol Bull 72:323-327.
Fleiss JL, Nee JCM, Landis JR (1979). Large sample variance of kappa in the case of different
    sets of raters. Psychol Bull 86:974-977.
Gwet KL (2008). Computing inter-rater reliability and its variance in the presence of high
    agreement. Br J Math Stat Psychol 61:29-48.
Gwet KL (2014). Handbook of Inter-Rater Reliability, 4th ed. Advanced Analytics (ch. 5-6:
    multiple raters with missing ratings; implemented in the R package irrCAC).
Korn EL, Graubard BI (1998). Confidence intervals for proportions with small expected
    number of positive counts estimated from survey data. Survey Methodology 24:193-201.
Krippendorff K (2011). Computing Krippendorff's alpha-reliability. Annenberg School for
    Communication, University of Pennsylvania.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from qualitylib.intervals import agreement_interval, wilson

__all__ = [
    "PARADOX_NOTE",
    "AgreementResult",
    "KappaTables",
    "Level",
    "Weights",
    "brennan_prediger_counts",
    "cohen_kappa",
    "cohen_kappa_tables",
    "fleiss_kappa",
    "fleiss_kappa_counts",
    "gwet_ac1",
    "gwet_ac2",
    "gwet_ac_counts",
    "krippendorff_alpha",
    "krippendorff_alpha_counts",
    "krippendorff_alpha_levels",
    "pabak",
    "percent_agreement",
    "percent_agreement_counts",
    "prevalence_paradox",
    "weight_matrix",
]

Weights = Literal[None, "linear", "quadratic"]
Level = Literal["nominal", "ordinal", "interval", "ratio"]

PARADOX_NOTE = (
    "High raw agreement with a low kappa is the prevalence paradox (Feinstein & Cicchetti "
    "1990): when one label dominates, chance agreement p_e is close to 1 and kappa collapses "
    "even though annotators rarely disagree. Read kappa beside the percent agreement, Gwet's "
    "AC1 and PABAK (Byrt, Bishop & Carlin 1993), which do not depend on the label balance in "
    "the same way."
)

_EPS = 1e-12
_REQUIRED_COLUMNS = ("item_id", "annotator_id", "label")

REASON_NO_ITEMS = "no item has at least 2 ratings, so there is nothing to compare"
REASON_FEW_ITEMS = "fewer than 2 items with at least 2 ratings: not enough data"
REASON_ONE_ANNOTATOR = "only one annotator: agreement needs at least two"
REASON_PE_ONE = (
    "chance agreement p_e is 1 (a single category is used throughout), so the coefficient "
    "is 0/0 and undefined"
)
REASON_ONE_CATEGORY = "only one category is declared, so chance agreement is undefined"
REASON_ONE_CATEGORY_SEEN = (
    "only one category occurs in the labels and no label set was declared, so chance "
    "agreement is undefined; pass categories=[...] with the full label set"
)
REASON_NO_LABELS = "annotator {!r} has no labels (all missing), so the two share no items"
REASON_NO_SHARED = "the two annotators share no items"
REASON_FEW_SHARED = "the two annotators share fewer than 2 items: not enough data"
REASON_DE_ZERO = (
    "all pairable values fall in a single category: expected disagreement D_e is 0, "
    "so alpha is 0/0 and undefined"
)


# --------------------------------------------------------------------------------------------
# Result objects
# --------------------------------------------------------------------------------------------


def _to_json_safe(obj: Any) -> Any:
    """Convert numpy scalars/arrays to Python, NaN/inf to None, recursively."""
    if isinstance(obj, dict):
        return {str(k): _to_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _to_json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        return _to_json_safe(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _none_to_nan(obj: Any) -> Any:
    """Inverse of the NaN -> None encoding inside ``details`` (None is never a real detail)."""
    if obj is None:
        return math.nan
    if isinstance(obj, dict):
        return {k: _none_to_nan(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_none_to_nan(v) for v in obj]
    return obj


@dataclass(frozen=True)
class AgreementResult:
    """One agreement coefficient with its uncertainty.

    Attributes
    ----------
    metric : str
        ``"cohen_kappa"``, ``"fleiss_kappa"``, ``"krippendorff_alpha"``, ``"gwet_ac1"``,
        ``"gwet_ac2"``, ``"pabak"`` or ``"percent_agreement"``.
    value : float
        The coefficient; NaN when undefined (then ``reason`` says why).
    se : float
        Standard error (analytic, or bootstrap SD for Krippendorff's alpha).
    ci_low, ci_high : float
        Confidence interval within [-1, 1], never of zero width: Fisher z with a t quantile
        for the kappa-type coefficients, Wilson for percent agreement, the bootstrap for
        Krippendorff's alpha, and at perfect agreement the Wilson bound on the observed
        agreement (:func:`qualitylib.intervals.agreement_interval`); the normal interval is
        in ``details["wald_ci"]`` where there is an analytic SE.
    n_items : int
        Items that entered the coefficient (shared items for Cohen; items with >= 2 ratings
        for the multi-rater coefficients).
    n_raters : int
        Distinct annotators (DataFrame level) or the largest number of ratings of an item
        (count level, where annotator identity is not known).
    p_observed, p_expected : float
        Observed and chance agreement (for Krippendorff: ``1 - D_o`` and ``1 - D_e`` for the
        nominal level, NaN otherwise; see ``details``).
    reason : str or None
        Why ``value`` is NaN; None when it is defined.
    details : dict
        Extras (JSON-safe): e.g. ``se0``, ``z``, ``p_value``, ``wald_ci``, per-category
        kappas.
    """

    metric: str
    value: float
    se: float
    ci_low: float
    ci_high: float
    n_items: int
    n_raters: int
    p_observed: float
    p_expected: float
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``json.dumps`` (strict JSON: NaN is encoded as None)."""
        return {f.name: _to_json_safe(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgreementResult:
        """Rebuild a result from :meth:`to_dict` output (None is decoded back to NaN)."""
        floats = {"value", "se", "ci_low", "ci_high", "p_observed", "p_expected"}
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            v = data.get(f.name)
            if f.name in floats:
                v = math.nan if v is None else float(v)
            elif f.name in {"n_items", "n_raters"}:
                v = int(v)
            elif f.name == "details":
                v = _none_to_nan(dict(v or {}))
            kwargs[f.name] = v
        return cls(**kwargs)


@dataclass(frozen=True)
class KappaTables:
    """Cohen's kappa for many pairs at once; every field has shape ``(n_pairs,)``.

    ``reason`` is an object array holding None where ``value`` is defined, else the reason.
    ``ci_low, ci_high`` is the interval of :func:`qualitylib.intervals.agreement_interval`;
    ``wald_low, wald_high`` the normal ``value -/+ z * se`` interval SAS prints.
    """

    value: np.ndarray
    se: np.ndarray
    se0: np.ndarray
    z: np.ndarray
    p_value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    wald_low: np.ndarray
    wald_high: np.ndarray
    p_o: np.ndarray
    p_e: np.ndarray
    n: np.ndarray
    reason: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """One row per pair, one column per field."""
        return pd.DataFrame({f.name: getattr(self, f.name) for f in fields(self)})


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def _check_alpha(alpha: float) -> float:
    """Validate the CI level and return the two-sided normal quantile z_{1-alpha/2}."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), e.g. 0.05 for a 95 % interval; got {alpha}")
    return float(stats.norm.ppf(1.0 - alpha / 2.0))


def _snap(value: ArrayLike) -> np.ndarray:
    """Remove floating-point overshoot at +/-1 (e.g. kappa = 1.0000000000000002)."""
    v = np.asarray(value, dtype=float)
    return np.where(np.abs(np.abs(v) - 1.0) < 1e-12, np.sign(v), v)


def _normal_ci(value: ArrayLike, se: ArrayLike, z: float) -> tuple[np.ndarray, np.ndarray]:
    """value -/+ z*se, clipped to [-1, 1] (NaN passes through)."""
    v = np.asarray(value, dtype=float)
    s = np.asarray(se, dtype=float)
    return np.clip(v - z * s, -1.0, 1.0), np.clip(v + z * s, -1.0, 1.0)


def weight_matrix(k: int, weights: Weights = None, ranks: ArrayLike | None = None) -> np.ndarray:
    r"""Agreement weights ``w_kl`` for ``k`` ordered categories.

    .. math::

        w_{kl} = 1 - \frac{|x_k - x_l|}{x_{max} - x_{min}} \ \text{(linear, Cicchetti-Allison)},
        \qquad
        w_{kl} = 1 - \left(\frac{x_k - x_l}{x_{max} - x_{min}}\right)^2
        \ \text{(quadratic, Fleiss-Cohen)}

    with positions ``x = ranks`` (default ``0..k-1``, i.e. ``1 - |k-l|/(k-1)``); identity
    (``w_kl = 1`` iff ``k == l``) when ``weights`` is None.

    Parameters
    ----------
    k : int
        Number of categories.
    weights : {None, "linear", "quadratic"}
    ranks : array_like of shape (k,), optional
        Numeric positions of the categories (e.g. the labels' ordinal ranks).

    Returns
    -------
    ndarray of shape (k, k)

    Examples
    --------
    >>> weight_matrix(3, "linear")
    array([[1. , 0.5, 0. ],
           [0.5, 1. , 0.5],
           [0. , 0.5, 1. ]])
    """
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"weights must be None, 'linear' or 'quadratic'; got {weights!r}")
    if weights is None:
        return np.eye(k)
    x = np.arange(k, dtype=float) if ranks is None else np.asarray(ranks, dtype=float)
    if x.shape != (k,) or not np.all(np.isfinite(x)):
        raise ValueError(f"ranks must be {k} finite numbers, one per category in order")
    span = x.max() - x.min() if k else 0.0
    if span == 0:
        return np.ones((k, k))  # one category (or all at one position): every pair agrees
    d = np.abs(x[:, None] - x[None, :]) / span
    return 1.0 - d if weights == "linear" else 1.0 - d**2


def _validate_counts(
    counts: ArrayLike, unit_weights: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray]:
    """Check (n_items, k) counts and (n_items,) multiplicities; drop items with no rating."""
    r = np.asarray(counts, dtype=float)
    if r.ndim != 2:
        raise ValueError(
            f"counts must be 2-D (n_items, k): one row per item, one column per category; "
            f"got shape {r.shape}"
        )
    if not np.all(np.isfinite(r)) or np.any(r < 0) or np.any(r != np.round(r)):
        raise ValueError("counts must be non-negative whole numbers of ratings")
    if unit_weights is None:
        w = np.ones(r.shape[0])
    else:
        w = np.asarray(unit_weights, dtype=float)
        if w.shape != (r.shape[0],):
            raise ValueError(
                f"unit_weights must have shape ({r.shape[0]},), one multiplicity per count row;"
                f" got {w.shape}"
            )
        if not np.all(np.isfinite(w)) or np.any(w < 0) or np.any(w != np.round(w)):
            raise ValueError(
                "unit_weights must be non-negative whole numbers (how many items share the row)"
            )
    keep = (r.sum(axis=1) > 0) & (w > 0)
    return r[keep], w[keep]


def _undefined(
    metric: str,
    reason: str,
    *,
    n_items: int = 0,
    n_raters: int = 0,
    p_observed: float = math.nan,
    p_expected: float = math.nan,
    details: dict[str, Any] | None = None,
) -> AgreementResult:
    """A NaN result carrying its reason."""
    return AgreementResult(
        metric=metric,
        value=math.nan,
        se=math.nan,
        ci_low=math.nan,
        ci_high=math.nan,
        n_items=int(n_items),
        n_raters=int(n_raters),
        p_observed=float(p_observed),
        p_expected=float(p_expected),
        reason=reason,
        details=_to_json_safe(details or {}),
    )


# --------------------------------------------------------------------------------------------
# Cohen's kappa on stacked contingency tables
# --------------------------------------------------------------------------------------------


def _difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a - b``, exactly 0 where it is rounding (within 1e-12 of their size): a variance that
    is 0 must read 0, not 1e-14, or its square root passes for a real standard error."""
    diff = a - b
    return np.where(np.abs(diff) <= 1e-12 * np.maximum(np.abs(a), np.abs(b)), 0.0, diff)


def cohen_kappa_tables(
    tables: ArrayLike,
    weights: Weights = None,
    ranks: ArrayLike | None = None,
    alpha: float = 0.05,
) -> KappaTables:
    r"""Cohen's (weighted) kappa with large-sample SEs for a stack of 2-rater tables.

    With ``p_kl = n_kl / n``, marginals ``p_k.`` and ``p_.l``, agreement weights ``w_kl``
    (:func:`weight_matrix`), ``wbar_k. = sum_l p_.l w_kl`` and ``wbar_.l = sum_k p_k. w_kl``:

    .. math::

        p_o = \sum w_{kl} p_{kl}, \quad p_e = \sum w_{kl} p_{k.} p_{.l}, \quad
        \kappa = \frac{p_o - p_e}{1 - p_e}

        \widehat{Var}(\kappa) = \frac{\sum p_{kl}\,[w_{kl} - (\bar w_{k.} + \bar w_{.l})
        (1-\kappa)]^2 - [\kappa - p_e(1-\kappa)]^2}{n (1-p_e)^2}

        \widehat{Var}_0(\kappa) = \frac{\sum p_{k.} p_{.l}\,[w_{kl} - (\bar w_{k.} +
        \bar w_{.l})]^2 - p_e^2}{n (1-p_e)^2}

    (Cohen 1960; Cohen 1968; Fleiss, Cohen & Everitt 1969). ``se`` is the non-null ASE that
    SAS prints and statsmodels ``cohens_kappa`` returns as ``std_kappa``; ``se0`` the SE under
    H0: kappa = 0, ``z = kappa / se0`` and ``p_value`` its two-sided normal p-value. The CI
    (``ci_low, ci_high``) is :func:`qualitylib.intervals.agreement_interval`: Fisher z with a
    ``t_{n-1}`` quantile, and at perfect agreement (se = 0) the Wilson interval of ``p_o``
    mapped through kappa, so it covers at n = 50 and never has zero width; the normal
    interval ``kappa -/+ z_{1-alpha/2} * se`` (clipped to [-1, 1]) that SAS prints is kept
    as ``wald_low, wald_high``.

    Written here rather than calling statsmodels because ``cohens_kappa`` takes one table at
    a time; this evaluates all pairs with array operations (no Python loop over pairs).

    Parameters
    ----------
    tables : array_like of shape (n_pairs, k, k) or (k, k)
        Counts; rows = first rater's category, columns = second rater's, categories in the
        same order on both axes (include unused categories as zero rows/columns).
    weights : {None, "linear", "quadratic"}
        Identity (unweighted), Cicchetti-Allison linear or Fleiss-Cohen quadratic weights.
    ranks : array_like of shape (k,), optional
        Positions of the categories for the weights (default ``0..k-1``).
    alpha : float, default 0.05
        1 - confidence level.

    Returns
    -------
    KappaTables
        Arrays of shape ``(n_pairs,)``: value, se, se0, z, p_value, ci_low, ci_high, wald_low,
        wald_high, p_o, p_e, n, reason. NaN with a reason for n < 2 or p_e = 1 (0/0).

    Examples
    --------
    >>> res = cohen_kappa_tables([[[0, 4, 1], [0, 8, 0], [0, 1, 5]]])  # SAS example
    >>> round(float(res.value[0]), 4), round(float(res.se[0]), 4), round(float(res.se0[0]), 4)
    (0.4842, 0.138, 0.1484)
    """
    z_crit = _check_alpha(alpha)
    t = np.asarray(tables, dtype=float)
    if t.ndim == 2:
        t = t[None]
    if t.ndim != 3 or t.shape[1] != t.shape[2]:
        raise ValueError(
            f"tables must have shape (n_pairs, k, k) (or (k, k) for one pair); got {t.shape}"
        )
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("tables must hold non-negative, finite counts")
    k = t.shape[1]
    w = weight_matrix(k, weights, ranks)

    n = t.sum(axis=(1, 2))
    ok_n = n >= 2
    safe_n = np.where(n > 0, n, 1.0)
    p = t / safe_n[:, None, None]
    p_row = p.sum(axis=2)  # p_k.
    p_col = p.sum(axis=1)  # p_.l
    p_o = np.einsum("kl,pkl->p", w, p)
    p_e = np.einsum("kl,pk,pl->p", w, p_row, p_col)
    ok_pe = (1.0 - p_e) > _EPS
    ok = ok_n & ok_pe
    one_m_pe = np.where(ok, 1.0 - p_e, 1.0)
    kappa = _snap(np.where(ok, (p_o - p_e) / one_m_pe, np.nan))

    wbar_row = p_col @ w.T  # wbar_k. = sum_l p_.l w_kl
    wbar_col = p_row @ w  # wbar_.l = sum_k p_k. w_kl
    wsum = wbar_row[:, :, None] + wbar_col[:, None, :]
    kap0 = np.where(ok, kappa, 0.0)
    term = (p * (w[None] - wsum * (1.0 - kap0)[:, None, None]) ** 2).sum(axis=(1, 2))
    var = _difference(term, (kap0 - p_e * (1.0 - kap0)) ** 2) / (safe_n * one_m_pe**2)
    term0 = (p_row[:, :, None] * p_col[:, None, :] * (w[None] - wsum) ** 2).sum(axis=(1, 2))
    var0 = _difference(term0, p_e**2) / (safe_n * one_m_pe**2)
    se = np.where(ok, np.sqrt(np.clip(var, 0.0, None)), np.nan)
    se0 = np.where(ok, np.sqrt(np.clip(var0, 0.0, None)), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        zval = np.where(ok & (se0 > 0), kappa / np.where(se0 > 0, se0, 1.0), np.nan)
    p_value = 2.0 * stats.norm.sf(np.abs(zval))
    wald_low, wald_high = _normal_ci(kappa, se, z_crit)
    ci_low, ci_high = agreement_interval(kappa, se, p_o, p_e, n, alpha)

    reason = np.full(t.shape[0], None, dtype=object)
    reason[~ok_pe] = REASON_PE_ONE
    reason[n < 2] = REASON_FEW_SHARED
    reason[n == 0] = REASON_NO_SHARED
    return KappaTables(
        value=kappa,
        se=se,
        se0=se0,
        z=zval,
        p_value=p_value,
        ci_low=ci_low,
        ci_high=ci_high,
        wald_low=wald_low,
        wald_high=wald_high,
        p_o=np.where(n > 0, p_o, np.nan),
        p_e=np.where(n > 0, p_e, np.nan),
        n=n,
        reason=reason,
    )


# --------------------------------------------------------------------------------------------
# Multi-rater coefficients on per-item counts (Gwet 2008 / 2014 framework)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ItemStats:
    """Per-item quantities shared by Fleiss, Gwet, Brennan-Prediger and percent agreement."""

    r: np.ndarray  # r_ik, (n, q)
    w_u: np.ndarray  # multiplicities, (n,)
    r_i: np.ndarray  # ratings per item, (n,)
    two: np.ndarray  # r_i >= 2, (n,)
    n: float  # items with >= 1 rating (weighted)
    n2: float  # items with >= 2 ratings (weighted)
    pa_i: np.ndarray  # per-item weighted agreement, 0 where r_i < 2
    pa: float  # Gwet's p_a
    pi: np.ndarray  # pi_k = (1/n) sum_i r_ik / r_i, (q,)


def _item_stats(r: np.ndarray, w_u: np.ndarray, w: np.ndarray) -> _ItemStats:
    """Gwet's p_a (over items with >= 2 ratings) and pi_k (over all rated items)."""
    r_i = r.sum(axis=1)
    two = r_i >= 2
    n = float(w_u.sum())
    n2 = float(w_u[two].sum())
    r_star = r @ w.T  # r*_ik = sum_l w_kl r_il
    den = np.where(two, r_i * (r_i - 1.0), 1.0)
    pa_i = np.where(two, (r * (r_star - 1.0)).sum(axis=1) / den, 0.0)
    pa = float((w_u * pa_i).sum() / n2) if n2 > 0 else math.nan
    pi = (w_u[:, None] * r / r_i[:, None]).sum(axis=0) / n if n > 0 else np.full(r.shape[1], 0.0)
    return _ItemStats(r, w_u, r_i, two, n, n2, pa_i, pa, pi)


def _linearised(
    s: _ItemStats, pe: float, pe_i: np.ndarray, coef: float
) -> tuple[float, np.ndarray]:
    """Gwet (2008) variance: 1/(n(n-1)) * sum_i (coef*_i - coef)^2, also returns coef*_i."""
    coef_i = (s.n / s.n2) * (s.pa_i - pe * s.two) / (1.0 - pe)
    coef_i_x = coef_i - 2.0 * (1.0 - coef) * (pe_i - pe) / (1.0 - pe)
    var = float((s.w_u * (coef_i_x - coef) ** 2).sum() / (s.n * (s.n - 1.0)))
    return math.sqrt(max(var, 0.0)), coef_i_x


def _multi_rater(
    metric: str,
    counts: ArrayLike,
    unit_weights: ArrayLike | None,
    w: np.ndarray | None,
    alpha: float,
    chance: Literal["fleiss", "gwet", "bp", "none"],
) -> tuple[AgreementResult, _ItemStats | None]:
    """Common driver for the Gwet-framework coefficients (p_a - p_e) / (1 - p_e)."""
    z_crit = _check_alpha(alpha)
    r, w_u = _validate_counts(counts, unit_weights)
    q = r.shape[1]
    w = np.eye(q) if w is None else w
    n_raters = int(r.sum(axis=1).max()) if r.size else 0
    n_single = float(w_u[r.sum(axis=1) < 2].sum())
    base = {"n_items_single_rating": n_single, "n_categories": q}
    if q == 0 or r.shape[0] == 0 or not np.any(r.sum(axis=1) >= 2):
        return _undefined(metric, REASON_NO_ITEMS, n_raters=n_raters, details=base), None
    s = _item_stats(r, w_u, w)
    if s.n2 < 2:
        res = _undefined(
            metric, REASON_FEW_ITEMS, n_items=int(s.n2), n_raters=n_raters, details=base
        )
        return res, s
    t_w = float(w.sum())
    if chance == "none":
        pe, pe_i = 0.0, np.zeros_like(s.r_i)
    elif chance == "bp":
        pe = t_w / q**2
        pe_i = np.full_like(s.r_i, pe)
    elif chance == "gwet":
        if q < 2:
            res = _undefined(
                metric,
                REASON_ONE_CATEGORY,
                n_items=int(s.n2),
                n_raters=n_raters,
                p_observed=s.pa,
                details=base,
            )
            return res, s
        pe = t_w * float((s.pi * (1.0 - s.pi)).sum()) / (q * (q - 1))
        pe_i = t_w / (q * (q - 1)) * (s.r @ (1.0 - s.pi)) / s.r_i
    else:  # fleiss
        pe = float(s.pi @ w @ s.pi)
        pi_w = (w @ s.pi + w.T @ s.pi) / 2.0
        pe_i = (s.r @ pi_w) / s.r_i
    if 1.0 - pe <= _EPS:
        res = _undefined(
            metric,
            REASON_PE_ONE,
            n_items=int(s.n2),
            n_raters=n_raters,
            p_observed=s.pa,
            p_expected=pe,
            details=base,
        )
        return res, s
    coef = float(_snap((s.pa - pe) / (1.0 - pe)))
    se, _ = _linearised(s, pe, pe_i, coef)
    wald = _normal_ci(coef, se, z_crit)
    lo, hi = agreement_interval(coef, se, s.pa, pe, s.n2, alpha)
    res = AgreementResult(
        metric=metric,
        value=float(coef),
        se=se,
        ci_low=float(lo),
        ci_high=float(hi),
        n_items=int(s.n2),
        n_raters=n_raters,
        p_observed=float(s.pa),
        p_expected=float(pe),
        reason=None,
        details=_to_json_safe({**base, "pi": s.pi, "wald_ci": wald}),
    )
    return res, s


def fleiss_kappa_counts(
    counts: ArrayLike, unit_weights: ArrayLike | None = None, alpha: float = 0.05
) -> AgreementResult:
    r"""Fleiss' kappa on per-item category counts, raters per item may differ.

    .. math::

        p_a = \frac{1}{n_2}\sum_{i: r_i \ge 2} \sum_k \frac{r_{ik}(r_{ik}-1)}{r_i(r_i-1)},
        \quad \pi_k = \frac{1}{n}\sum_i \frac{r_{ik}}{r_i}, \quad
        p_e = \sum_k \pi_k^2, \quad \kappa = \frac{p_a - p_e}{1 - p_e}

    This is Fleiss (1971) generalised to a varying number of ratings ``r_i`` per item as in
    Gwet (2014, ch. 5) and irrCAC ``fleiss.raw``: ``p_a`` averages over the ``n_2`` items with
    at least 2 ratings, ``pi_k`` over all ``n`` rated items (an item with a single rating
    informs the category prevalence but not agreement). With ``r_i = m`` for all items it is
    exactly Fleiss' (1971) ``(Pbar - Pbar_e) / (1 - Pbar_e)``.

    Uncertainty:

    * ``se`` is Gwet's (2008) linearisation variance, valid away from kappa = 0 and with
      missing ratings (irrCAC's SE); the CI is
      :func:`qualitylib.intervals.agreement_interval` on it (the normal interval is in
      ``details["wald_ci"]``);
    * ``details["se0"]`` is the Fleiss, Nee & Landis (1979) SE under H0: kappa = 0,
      :math:`\sqrt{2}\,\sqrt{(\sum p_jq_j)^2 - \sum p_jq_j(q_j-p_j)} / (\sum p_jq_j
      \sqrt{N m (m-1)})` with ``p_j = pi_j``; it assumes ``m`` raters per item, so with unequal
      ``r_i`` we plug in ``N = n_2`` and ``m`` = the mean of ``r_i`` over those items (an
      approximation, exact for equal ``r_i``); ``details["z"] = kappa / se0`` and its
      two-sided ``p_value``;
    * ``details["per_category_kappa"]``: kappa of category ``j`` versus the rest (the same
      estimator on the collapsed 2-column table):
      ``kappa_j = 1 - mean_i[r_ij (r_i - r_ij) / (r_i (r_i - 1))] / (p_j q_j)``, which is
      Fleiss' (1971) per-category kappa for equal ``r_i``; ``per_category_se0`` =
      :math:`\sqrt{2 / (N m (m-1))}` and ``per_category_z`` (FNL 1979). NaN for a category
      never or always used.

    statsmodels ``fleiss_kappa`` gives the same value for equal raters but has no SE and no
    missing ratings, hence this implementation.

    Parameters
    ----------
    counts : array_like of shape (n_items, k)
        ``r_ik``: number of ratings of item ``i`` in category ``k``.
    unit_weights : array_like of shape (n_items,), optional
        Multiplicity of each row (identical count patterns sent once with their frequency).
    alpha : float, default 0.05

    Returns
    -------
    AgreementResult
        metric ``"fleiss_kappa"``; ``n_items`` counts items with >= 2 ratings,
        ``details["n_items_single_rating"]`` the others.

    Examples
    --------
    >>> res = fleiss_kappa_counts([[3, 0], [0, 3], [2, 1], [3, 0]])
    >>> round(res.value, 4), round(res.p_observed, 4), round(res.p_expected, 4)
    (0.625, 0.8333, 0.5556)
    """
    res, s = _multi_rater("fleiss_kappa", counts, unit_weights, None, alpha, "fleiss")
    if s is None or res.reason is not None:
        return res
    kappa = res.value
    p_j = s.pi
    q_j = 1.0 - p_j
    pq = p_j * q_j
    N = s.n2  # noqa: N806 - FNL (1979) notation
    m = float((s.w_u * s.r_i)[s.two].sum() / N)
    nm = N * m * (m - 1.0)
    spq = float(pq.sum())
    var0 = 2.0 / nm * (spq**2 - float((pq * (q_j - p_j)).sum())) / spq**2
    se0 = math.sqrt(max(var0, 0.0))
    z = kappa / se0 if se0 > 0 else math.nan
    den = np.where(s.two, s.r_i * (s.r_i - 1.0), 1.0)
    # mean_i r_ij (r_i - r_ij) / (r_i (r_i - 1)) over items with >= 2 ratings
    dis_j = (s.w_u[:, None] * s.two[:, None] * s.r * (s.r_i[:, None] - s.r) / den[:, None]).sum(
        axis=0
    ) / N
    ok_j = pq > _EPS
    kappa_j = np.where(ok_j, 1.0 - dis_j / np.where(ok_j, pq, 1.0), np.nan)
    se0_j = math.sqrt(2.0 / nm)
    details = {
        **res.details,
        "se0": se0,
        "z": z,
        "p_value": float(2.0 * stats.norm.sf(abs(z))) if math.isfinite(z) else math.nan,
        "mean_raters_per_item": m,
        "per_category_kappa": kappa_j,
        "per_category_se0": se0_j,
        "per_category_z": kappa_j / se0_j,
    }
    return replace(res, details=_to_json_safe(details))


def gwet_ac_counts(
    counts: ArrayLike,
    weights: Weights = None,
    ranks: ArrayLike | None = None,
    unit_weights: ArrayLike | None = None,
    alpha: float = 0.05,
) -> AgreementResult:
    r"""Gwet's AC1 (``weights=None``) or AC2 (weighted) for multiple raters, missing allowed.

    .. math::

        p_a = \frac{1}{n_2}\sum_{i: r_i\ge2}\sum_k \frac{r_{ik}(r^\star_{ik}-1)}{r_i(r_i-1)},
        \quad r^\star_{ik} = \sum_l w_{kl} r_{il}, \quad
        p_e = \frac{T_w}{q(q-1)} \sum_k \pi_k (1-\pi_k), \quad
        AC = \frac{p_a - p_e}{1 - p_e}

    with ``T_w = sum_kl w_kl``, ``pi_k = (1/n) sum_i r_ik / r_i`` over all ``n`` rated items and
    ``n_2`` the items with >= 2 ratings (Gwet 2008; Gwet 2014 ch. 6; irrCAC ``gwet.raw``).
    Variance (Gwet 2008, linearisation, no finite-population correction):

    .. math::

        v = \frac{1}{n(n-1)}\sum_i (AC^\star_i - AC)^2, \quad
        AC^\star_i = \frac{n}{n_2}\frac{p_{a|i} - p_e 1[r_i\ge2]}{1-p_e}
        - 2(1-AC)\frac{p_{e|i} - p_e}{1-p_e}

    ``p_{e|i} = T_w/(q(q-1)) sum_k r_ik (1 - pi_k) / r_i``. CI:
    :func:`qualitylib.intervals.agreement_interval` (Fisher z with ``t_{n_2-1}``; Wilson on
    ``p_a`` mapped through AC at perfect agreement); ``AC -/+ z * se`` in ``details["wald_ci"]``.
    With 2 raters, Gwet's contingency-table SE equals ``se * sqrt((n-1)/n)``.

    Parameters
    ----------
    counts : array_like of shape (n_items, q)
    weights : {None, "linear", "quadratic"}
    ranks : array_like of shape (q,), optional
        Category positions for the weights (default ``0..q-1``).
    unit_weights : array_like of shape (n_items,), optional
    alpha : float, default 0.05

    Returns
    -------
    AgreementResult
        metric ``"gwet_ac1"`` or ``"gwet_ac2"``. NaN with a reason for a single declared
        category (q = 1: ``q(q-1) = 0``) or too few items.

    Examples
    --------
    >>> res = gwet_ac_counts([[2, 0]] * 80 + [[1, 1]] * 15 + [[0, 2]] * 5)
    >>> round(res.value, 3), round(res.p_expected, 5)
    (0.808, 0.21875)
    """
    metric = "gwet_ac1" if weights is None else "gwet_ac2"
    k = np.shape(counts)[1] if np.ndim(counts) == 2 else 0
    w = weight_matrix(k, weights, ranks)
    res, _ = _multi_rater(metric, counts, unit_weights, w, alpha, "gwet")
    return replace(res, details={**res.details, "weights": weights or "none"})


def brennan_prediger_counts(
    counts: ArrayLike,
    weights: Weights = None,
    ranks: ArrayLike | None = None,
    unit_weights: ArrayLike | None = None,
    alpha: float = 0.05,
) -> AgreementResult:
    r"""Brennan-Prediger coefficient (= PABAK for two categories), weighted, multi-rater.

    .. math::

        BP = \frac{p_a - p_e}{1 - p_e}, \quad p_e = \frac{T_w}{q^2} = \frac{\sum_{kl}
        w_{kl}}{q^2}\ (= 1/q\ \text{unweighted})

    (Brennan & Prediger 1981; Byrt, Bishop & Carlin 1993: PABAK = 2 p_o - 1 for q = 2), with
    Gwet's ``p_a`` over items with >= 2 ratings and Gwet's (2014) variance
    ``1/(n(n-1)) sum_i (BP*_i - BP)^2``, ``BP*_i = (n/n_2)(p_{a|i} - p_e 1[r_i>=2])/(1-p_e)``
    (irrCAC ``bp.coeff.raw``). ``q`` is the number of *declared* categories.

    Parameters
    ----------
    counts : array_like of shape (n_items, q)
    weights : {None, "linear", "quadratic"}
    ranks : array_like of shape (q,), optional
    unit_weights : array_like of shape (n_items,), optional
    alpha : float, default 0.05

    Returns
    -------
    AgreementResult
        metric ``"pabak"``; NaN with a reason when ``p_e = 1`` (a single category).

    Examples
    --------
    >>> res = brennan_prediger_counts([[2, 0]] * 80 + [[1, 1]] * 15 + [[0, 2]] * 5)
    >>> round(res.value, 4), round(res.p_expected, 4)
    (0.7, 0.5)
    """
    k = np.shape(counts)[1] if np.ndim(counts) == 2 else 0
    w = weight_matrix(k, weights, ranks)
    res, _ = _multi_rater("pabak", counts, unit_weights, w, alpha, "bp")
    return replace(res, details={**res.details, "weights": weights or "none"})


def percent_agreement_counts(
    counts: ArrayLike,
    weights: Weights = None,
    ranks: ArrayLike | None = None,
    unit_weights: ArrayLike | None = None,
    alpha: float = 0.05,
) -> AgreementResult:
    r"""Gwet's (weighted) percent agreement over items with at least 2 ratings.

    .. math::

        p_a = \frac{1}{n_2}\sum_{i: r_i\ge2}\sum_k \frac{r_{ik}(r^\star_{ik}-1)}{r_i(r_i-1)}

    i.e. for each item the share of ordered rater pairs that agree (credited ``w_kl`` with
    weights), averaged over items with >= 2 ratings (Gwet 2014; for 2 raters: the diagonal
    share of the table). This is not Krippendorff's pairable-value average, which weights
    items by ``r_i``. SE: ``1/(n(n-1)) sum_i ((n/n_2) p_{a|i} - p_a)^2`` (Gwet's linearisation
    with ``p_e = 0``; for 2 raters ``sqrt(p_a(1-p_a)/(n-1))``). CI: the Wilson interval on the
    effective number of items ``n_eff = p_a (1 - p_a) / se^2`` (at most ``n_2``; ``n_2`` when
    ``p_a`` is 0 or 1), as for a proportion from a clustered sample (Korn & Graubard 1998), so
    it stays in [0, 1] and is not of zero width at ``p_a = 1``; the normal interval is in
    ``details["wald_ci"]``.

    Parameters
    ----------
    counts : array_like of shape (n_items, q)
    weights : {None, "linear", "quadratic"}
    ranks : array_like of shape (q,), optional
    unit_weights : array_like of shape (n_items,), optional
    alpha : float, default 0.05

    Returns
    -------
    AgreementResult
        metric ``"percent_agreement"``, ``p_expected = 0``; defined (=1) even with one category.

    Examples
    --------
    >>> round(percent_agreement_counts([[2, 0], [1, 1], [0, 2], [2, 0]]).value, 2)
    0.75
    """
    k = np.shape(counts)[1] if np.ndim(counts) == 2 else 0
    w = weight_matrix(k, weights, ranks)
    res, _ = _multi_rater("percent_agreement", counts, unit_weights, w, alpha, "none")
    ci = (res.ci_low, res.ci_high)
    if res.reason is None:  # a proportion: Wilson on the effective number of items
        p_a, n_items = res.value, res.n_items
        inner = 0.0 < p_a < 1.0 and res.se > 0.0
        n_eff = min(p_a * (1.0 - p_a) / res.se**2, n_items) if inner else n_items
        ci = wilson(p_a * n_eff, n_eff, alpha)
    return replace(
        res, ci_low=ci[0], ci_high=ci[1], details={**res.details, "weights": weights or "none"}
    )


# --------------------------------------------------------------------------------------------
# Krippendorff's alpha from coincidences, with a pattern bootstrap
# --------------------------------------------------------------------------------------------


def _coincidences_per_unit(r: np.ndarray) -> np.ndarray:
    """o_ck contribution of each unit: (n_uc n_uk - [c==k] n_uc) / (m_u - 1), shape (n, k*k)."""
    m_u = r.sum(axis=1)
    k = r.shape[1]
    o = r[:, :, None] * r[:, None, :] - np.eye(k)[None] * r[:, :, None]
    return (o / (m_u - 1.0)[:, None, None]).reshape(r.shape[0], k * k)


def _delta2(level: Level, values: np.ndarray, n_c: np.ndarray) -> np.ndarray:
    """Squared difference function delta2_ck (Krippendorff 2011); (k,k) or (B,k,k) for ordinal."""
    k = values.shape[0]
    if level == "nominal":
        return 1.0 - np.eye(k)
    if level == "interval":
        return (values[:, None] - values[None, :]) ** 2
    if level == "ratio":
        s = values[:, None] + values[None, :]
        d = values[:, None] - values[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(s != 0, d / np.where(s != 0, s, 1.0), 0.0) ** 2
        return out
    # ordinal: (sum_{g=c}^{k} n_g - (n_c + n_k)/2)^2 with the (possibly resampled) marginals
    idx = np.arange(k)
    lo = np.minimum.outer(idx, idx)
    hi = np.maximum.outer(idx, idx)
    cum = np.cumsum(n_c, axis=-1)
    between = cum[..., hi] - cum[..., lo] + n_c[..., lo]
    return (between - (n_c[..., :, None] + n_c[..., None, :]) / 2.0) ** 2


def _alpha_from_o(
    o: np.ndarray, level: Level, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """alpha = 1 - (n.. - 1) sum o_ck d_ck / sum n_c n_k d_ck for a stack o: (B, k, k)."""
    n_c = o.sum(axis=2)
    n_dd = n_c.sum(axis=1)
    d = _delta2(level, values, n_c)
    if d.ndim == 2:
        d = d[None]
    num = (o * d).sum(axis=(1, 2))
    den = np.einsum("bc,bk,bck->b", n_c, n_c, d)
    ok = den > _EPS * np.maximum(n_dd, 1.0) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        d_o = np.where(n_dd > 0, num / n_dd, np.nan)
        d_e = np.where(n_dd > 1, den / (n_dd * (n_dd - 1.0)), np.nan)
        a = np.where(ok, 1.0 - (n_dd - 1.0) * num / np.where(ok, den, 1.0), np.nan)
    return a, d_o, d_e, n_dd


def _category_values(
    categories: Sequence[Any] | None, k: int, values: ArrayLike | None
) -> np.ndarray:
    """Numeric category values: explicit ``values``, else numeric labels, else 1..k."""
    if values is not None:
        v = np.asarray(values, dtype=float)
        if v.shape != (k,) or not np.all(np.isfinite(v)):
            raise ValueError(f"values must be {k} finite numbers, one per category in order")
        return v
    if categories is not None and len(categories) == k:
        try:
            v = np.asarray([float(c) for c in categories])
            if all(not isinstance(c, (bool, np.bool_)) for c in categories):
                return v
        except (TypeError, ValueError):
            pass
    return np.arange(1, k + 1, dtype=float)


def _collapsed_ci(
    value: float,
    o: np.ndarray,
    level: Level,
    v: np.ndarray,
    details: dict[str, Any],
    n_u: int,
    alpha: float,
) -> tuple[float, float]:
    """Wilson on 1 - D_o/max(delta2) mapped through alpha, for a bootstrap with no spread."""
    d_max = float(np.max(_delta2(level, v, o.sum(axis=2))))
    p_o = 1.0 - details["D_o"] / d_max
    p_e = 1.0 - details["D_e"] / d_max
    lo, hi = agreement_interval(value, 0.0, p_o, p_e, n_u, alpha)
    return float(lo), float(hi)


def krippendorff_alpha_counts(
    counts: ArrayLike,
    level: Level = "nominal",
    values: ArrayLike | None = None,
    unit_weights: ArrayLike | None = None,
    n_boot: int = 1000,
    random_state: int | np.random.Generator | None = None,
    alpha: float = 0.05,
    categories: Sequence[Any] | None = None,
) -> AgreementResult:
    r"""Krippendorff's alpha from per-unit value counts, any level, missing values allowed.

    Coincidences over pairable units (``m_u >= 2`` values):

    .. math::

        o_{ck} = \sum_u \frac{n_{uc} n_{uk} - [c=k]\, n_{uc}}{m_u - 1}, \quad
        n_c = \sum_k o_{ck}, \quad
        \alpha = 1 - \frac{D_o}{D_e} = 1 - (n_{..} - 1)
        \frac{\sum_{ck} o_{ck}\,\delta^2_{ck}}{\sum_{ck} n_c n_k\,\delta^2_{ck}}

    with ``delta2`` nominal ``[c != k]``, ordinal
    ``(sum_{g=c}^{k} n_g - (n_c + n_k)/2)^2`` (uses the coincidence marginals; an unused
    category has ``n_g = 0`` and changes nothing), interval ``(v_c - v_k)^2``, ratio
    ``((v_c - v_k)/(v_c + v_k))^2`` (Krippendorff 2011). Interval/ratio need numeric
    category values ``v``: ``values`` if given, else the category labels when numeric, else
    positions ``1..k`` (stated in ``details["values"]``).

    SE and CI by bootstrap over pairable units: identical count rows are grouped into
    patterns (``np.unique(axis=0)``), pattern multiplicities are drawn from
    ``Multinomial(n_u, freq / n_u)`` -- exactly resampling the ``n_u`` pairable units with
    replacement -- and all ``n_boot`` coincidence matrices come from one
    ``(B, n_patterns) @ (n_patterns, k*k)`` product (chunked to bound memory). ``se`` is the
    SD of the replicates, the CI their ``alpha/2, 1 - alpha/2`` percentiles (replicates with
    ``D_e = 0`` are dropped and counted in ``details["n_boot_undefined"]``). Boundary rule:
    when every replicate is equal (perfect agreement resamples to perfect agreement), the CI
    is the Wilson interval of ``1 - D_o / max(delta2)`` on the ``n_u`` units mapped through
    ``alpha = 1 - D_o / D_e`` (:func:`qualitylib.intervals.agreement_interval`), never a
    zero-width ``[1, 1]``; a unit's disagreement is at most ``max(delta2)``, so it is
    conservative.

    The ``krippendorff`` package gives the same point value but no interval and no
    pre-aggregated patterns with multiplicities, hence this implementation.

    Parameters
    ----------
    counts : array_like of shape (n_units, k)
        ``n_uc``: values of unit ``u`` in category ``c``.
    level : {"nominal", "ordinal", "interval", "ratio"}
    values : array_like of shape (k,), optional
        Numeric value of each category (interval/ratio).
    unit_weights : array_like of shape (n_units,), optional
        Multiplicity of each row.
    n_boot : int, default 1000
        Bootstrap replicates; 0 skips the bootstrap (se and CI are NaN).
    random_state : int or numpy Generator, optional
        Seed for a reproducible interval.
    alpha : float, default 0.05
    categories : sequence, optional
        Category labels in column order (used for numeric default values).

    Returns
    -------
    AgreementResult
        metric ``"krippendorff_alpha"``; ``details``: ``level``, ``D_o``, ``D_e``,
        ``n_pairable`` (n..), ``values``, ``n_boot``, ``n_boot_undefined``.

    Examples
    --------
    >>> res = krippendorff_alpha_counts([[2, 0], [0, 2], [1, 1], [2, 0]], random_state=0)
    >>> round(res.value, 4)
    0.5333
    """
    return krippendorff_alpha_levels(
        counts,
        (level,),
        values=values,
        unit_weights=unit_weights,
        n_boot=n_boot,
        random_state=random_state,
        alpha=alpha,
        categories=categories,
    )[level]


def krippendorff_alpha_levels(
    counts: ArrayLike,
    levels: Sequence[Level],
    values: ArrayLike | None = None,
    unit_weights: ArrayLike | None = None,
    n_boot: int = 1000,
    random_state: int | np.random.Generator | None = None,
    alpha: float = 0.05,
    categories: Sequence[Any] | None = None,
) -> dict[str, AgreementResult]:
    """:func:`krippendorff_alpha_counts` at several ``levels`` from one bootstrap.

    Each level's result equals a separate call with the same ``random_state`` (the replicates
    are the same draws); drawing them once saves the multinomial draws and the coincidence
    products, the bulk of the cost, for every level after the first.
    """
    _check_alpha(alpha)  # validates alpha; the bootstrap CI is a percentile interval
    for level in levels:
        if level not in ("nominal", "ordinal", "interval", "ratio"):
            raise ValueError(
                f"level must be 'nominal', 'ordinal', 'interval' or 'ratio'; got {level!r}"
            )
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0 (0 skips the bootstrap); got {n_boot}")
    r, w_u = _validate_counts(counts, unit_weights)
    k = r.shape[1]
    v = _category_values(categories, k, values)
    metric = "krippendorff_alpha"
    m_u = r.sum(axis=1)
    pairable = m_u >= 2
    n_raters = int(m_u.max()) if r.size else 0
    single = float(w_u[~pairable].sum())
    r, w_u = r[pairable], w_u[pairable]
    n_u = int(round(w_u.sum()))
    results: dict[str, AgreementResult] = {}
    if n_u < 2:
        reason = REASON_NO_ITEMS if n_u == 0 else REASON_FEW_ITEMS
        for level in levels:
            base = {"level": level, "values": v, "n_items_single_rating": single}
            results[level] = _undefined(
                metric, reason, n_items=n_u, n_raters=n_raters, details=base
            )
        return results

    patterns, inverse = np.unique(r, axis=0, return_inverse=True)
    freq = np.bincount(inverse.ravel(), weights=w_u, minlength=patterns.shape[0])
    c_pat = _coincidences_per_unit(patterns)  # (P, k*k)
    o = (freq @ c_pat).reshape(1, k, k)
    points: dict[str, tuple[float, float, float, dict[str, Any]]] = {}  # defined levels
    for level in levels:
        a, d_o, d_e, n_dd = _alpha_from_o(o, level, v)
        value = float(_snap(a[0]))
        nominal = level == "nominal"
        p_o = 1.0 - float(d_o[0]) if nominal else math.nan
        p_e = 1.0 - float(d_e[0]) if nominal else math.nan
        details = {
            "level": level,
            "values": v,
            "n_items_single_rating": single,
            "D_o": float(d_o[0]),
            "D_e": float(d_e[0]),
            "n_pairable": float(n_dd[0]),
            "n_patterns": int(patterns.shape[0]),
            "n_boot": int(n_boot),
        }
        if not math.isfinite(value):
            results[level] = _undefined(
                metric,
                REASON_DE_ZERO,
                n_items=n_u,
                n_raters=n_raters,
                p_observed=p_o,
                p_expected=p_e,
                details=details,
            )
        else:
            points[level] = (value, p_o, p_e, details)

    reps: dict[str, list[np.ndarray]] = {level: [] for level in points}
    if n_boot > 0 and points:
        rng = np.random.default_rng(random_state)
        p_pat = freq / freq.sum()
        chunk = max(1, min(n_boot, 20_000_000 // max(patterns.shape[0], k * k)))
        for start in range(0, n_boot, chunk):  # bounded-memory chunks of replicates
            size = min(chunk, n_boot - start)
            m = rng.multinomial(n_u, p_pat, size=size).astype(float)  # (b, P)
            o_boot = (m @ c_pat).reshape(size, k, k)
            for level in points:
                reps[level].append(_alpha_from_o(o_boot, level, v)[0])
    for level, (value, p_o, p_e, details) in points.items():
        se = lo = hi = math.nan
        n_undef = 0
        if reps[level]:
            boot = np.concatenate(reps[level])
            finite = boot[np.isfinite(boot)]
            n_undef = int(boot.size - finite.size)
            if finite.size >= 2:
                se = float(finite.std(ddof=1))
                lo, hi = (float(x) for x in np.quantile(finite, [alpha / 2.0, 1.0 - alpha / 2.0]))
                lo, hi = max(lo, -1.0), min(hi, 1.0)
            if se == 0.0:  # every replicate equal (e.g. perfect agreement): see _collapsed_ci
                lo, hi = _collapsed_ci(value, o, level, v, details, n_u, alpha)
        details["n_boot_undefined"] = n_undef
        results[level] = AgreementResult(
            metric=metric,
            value=value,
            se=se,
            ci_low=lo,
            ci_high=hi,
            n_items=n_u,
            n_raters=n_raters,
            p_observed=p_o,
            p_expected=p_e,
            reason=None,
            details=_to_json_safe(details),
        )
    return results


# --------------------------------------------------------------------------------------------
# DataFrame level: long table -> counts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Coded:
    """Integer-coded long table."""

    item: np.ndarray
    annotator: np.ndarray
    label: np.ndarray
    categories: list[Any]
    annotators: list[Any]  # annotators with at least one label
    n_annotators_listed: int  # annotators in the table, labelled or not
    n_items: int
    declared: bool  # categories came from the caller (argument or Categorical dtype)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, for messages (0, not np.int64(0))."""
    return value.item() if isinstance(value, np.generic) else value


def _check_ids(df: pd.DataFrame) -> None:
    """Refuse missing item or annotator ids: they would merge ratings or crash bincount."""
    for column in ("item_id", "annotator_id"):
        missing = int(df[column].isna().sum())
        if missing:
            rows = df.index[df[column].isna()][:3].tolist()
            raise ValueError(
                f"{missing} row(s) have no {column} (NaN or None; e.g. index "
                f"{', '.join(map(repr, map(_plain, rows)))}); each rating needs an item and "
                f"an annotator: drop or fill those rows before computing agreement"
            )


def _numeric_order(present: np.ndarray) -> list[Any] | None:
    """Labels sorted by numeric value when every one is a number or a numeric string."""
    if pd.api.types.is_bool_dtype(present) or any(isinstance(x, (bool, np.bool_)) for x in present):
        return None
    numbers = pd.to_numeric(pd.Series(present, dtype=object), errors="coerce")
    if numbers.isna().any() or numbers.nunique() != len(present):
        return None  # text, or two spellings of one number ("1", "01")
    return [present[i] for i in np.argsort(numbers.to_numpy(dtype=float), kind="stable")]


def _categories(
    labels: pd.Series, categories: Sequence[Any] | None, ordered_use: str | None
) -> tuple[list[Any], bool]:
    """The ordered label set and whether it was declared; refuse an order that is a guess.

    Order: ``categories=``; else a Categorical's categories (its order if ordered); else
    numeric order for numbers and numeric strings ("1" < "2" < "10"); else alphabetical,
    which is only acceptable when no weights or ordinal distances use the order
    (``ordered_use`` names the request that does, e.g. "linear weights").
    """
    present = pd.unique(labels.dropna())
    if categories is not None:
        cats = list(categories)
        if len(set(cats)) != len(cats):
            raise ValueError("categories contains duplicates; list each label once")
        unknown = set(present.tolist()) - set(cats)
        if unknown:
            raise ValueError(
                f"labels {sorted(map(str, unknown))} are not in categories; add them to "
                f"categories or drop those rows"
            )
        return cats, True
    declared = isinstance(labels.dtype, pd.CategoricalDtype)
    if declared and labels.dtype.ordered:
        return list(labels.dtype.categories), True
    values = np.asarray(labels.dtype.categories if declared else present, dtype=object)
    numeric = _numeric_order(values)
    if numeric is not None:
        return numeric, declared
    try:
        cats = sorted(values.tolist())
    except TypeError as exc:
        raise ValueError(
            "labels of mixed types cannot be ordered; pass categories=[...] explicitly"
        ) from exc
    if ordered_use is not None and len(cats) > 2:
        raise ValueError(
            f"{ordered_use} need the order of the labels, but {cats[:6]} are text with no "
            f"order (alphabetical would be a guess); pass categories=[...] in order, make "
            f"label an ordered pandas Categorical, or use numeric labels"
        )
    return cats, declared


def _encode(
    df: pd.DataFrame, categories: Sequence[Any] | None, ordered_use: str | None = None
) -> _Coded:
    """Validate the long table and map items, annotators and labels to dense integer codes.

    ``ordered_use`` describes a request that needs the label order (weights, ordinal or
    interval alpha); with labels whose order is unknown it raises ``ValueError``.
    """
    if not isinstance(df, pd.DataFrame):
        raise ValueError("expected a pandas DataFrame with columns item_id, annotator_id, label")
    missing = [c for c in _REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"DataFrame is missing column(s) {missing}; expected the long format "
            f"item_id, annotator_id, label (one row per rating)"
        )
    _check_ids(df)
    d = df.loc[df["label"].notna(), list(_REQUIRED_COLUMNS)]
    dup = d.duplicated(["item_id", "annotator_id"])
    if dup.any():
        first = d.loc[dup].iloc[0]
        raise ValueError(
            f"{int(dup.sum())} duplicate (item_id, annotator_id) rows, e.g. item "
            f"{_plain(first['item_id'])!r} by {_plain(first['annotator_id'])!r}; keep one "
            f"label per annotator and item (e.g. the latest) before computing agreement"
        )
    cats, declared = _categories(df["label"], categories, ordered_use)
    label = pd.Categorical(d["label"], categories=cats).codes.astype(np.int64)
    item, _items = pd.factorize(d["item_id"])
    annotator, annotators = pd.factorize(d["annotator_id"], sort=True)
    return _Coded(
        item=item.astype(np.int64),
        annotator=annotator.astype(np.int64),
        label=label,
        categories=_to_json_safe(list(cats)),
        annotators=_to_json_safe(list(annotators)),
        n_annotators_listed=int(df["annotator_id"].nunique()),
        n_items=len(_items),
        declared=declared,
    )


def _needs_order(weights: Weights) -> str | None:
    """What needs the label order for these weights (None when nothing does)."""
    return None if weights is None else f"{weights} weights"


def _item_counts(c: _Coded) -> np.ndarray:
    """(n_items, k) rating counts per item and category."""
    k = len(c.categories)
    flat = np.bincount(c.item * k + c.label, minlength=c.n_items * k)
    return flat.reshape(c.n_items, k).astype(float)


def _finish(res: AgreementResult, c: _Coded) -> AgreementResult:
    """Attach annotator count, categories and the one-annotator reason."""
    reason = res.reason
    if len(c.annotators) == 1 and reason is not None:
        reason = REASON_ONE_ANNOTATOR
    elif reason == REASON_ONE_CATEGORY and not c.declared:
        reason = REASON_ONE_CATEGORY_SEEN
    details = {**res.details, "categories": c.categories}
    return replace(res, n_raters=len(c.annotators), reason=reason, details=details)


def cohen_kappa(
    df: pd.DataFrame,
    categories: Sequence[Any] | None = None,
    weights: Weights = None,
    ranks: ArrayLike | None = None,
    alpha: float = 0.05,
) -> AgreementResult:
    r"""Cohen's (weighted) kappa between exactly two annotators on their shared items.

    :math:`\kappa = (p_o - p_e)/(1 - p_e)` with Fleiss-Cohen-Everitt (1969) ASE; see
    :func:`cohen_kappa_tables` for the formulas. Rows of the table are the first annotator in
    sorted order (``details["annotators"]``). ``details`` also holds ``se0`` (SE under H0),
    ``z``, ``p_value`` and, for two categories, Byrt et al.'s (1993) ``prevalence_index``
    ``|n_11 - n_22| / n`` and ``bias_index`` ``|n_12 - n_21| / n``.

    Parameters
    ----------
    df : DataFrame
        Long table ``item_id, annotator_id, label`` (rows with a null label are ignored).
    categories : sequence, optional
        Ordered label set; default: the labels present, ordered as the module docstring
        says. Unused categories are kept (they matter for weights).
    weights : {None, "linear", "quadratic"}
    ranks : array_like, optional
        Positions of the categories for the weights (default: their order).
    alpha : float, default 0.05

    Returns
    -------
    AgreementResult
        metric ``"cohen_kappa"``; NaN with a reason when there are < 2 shared items or
        ``p_e = 1``.

    Raises
    ------
    ValueError
        Unless exactly two annotators are present (one with only missing labels gives NaN
        with a reason), on missing ids, or on weights with text labels of unknown order.

    Examples
    --------
    >>> df = pd.DataFrame({"item_id": [1, 2, 3, 4] * 2, "annotator_id": ["a"] * 4 + ["b"] * 4,
    ...                    "label": ["x", "x", "y", "y", "x", "y", "y", "y"]})
    >>> round(cohen_kappa(df).value, 4)
    0.5
    """
    c = _encode(df, categories, _needs_order(weights))
    if c.n_annotators_listed != 2:
        raise ValueError(
            f"cohen_kappa needs exactly two annotators, got {c.n_annotators_listed} "
            f"({_to_json_safe(pd.unique(df['annotator_id']).tolist()[:5])}); filter the "
            f"DataFrame to one pair, or use fleiss_kappa, gwet_ac1 or krippendorff_alpha for "
            f"more raters"
        )
    if len(c.annotators) < 2:
        unlabelled = set(pd.unique(df["annotator_id"]).tolist()) - set(c.annotators)
        reason = REASON_NO_LABELS.format(_plain(sorted(unlabelled, key=str)[0]))
        details = {"categories": c.categories, "weights": weights or "none"}
        return _undefined("cohen_kappa", reason, n_raters=2, details=details)
    k = len(c.categories)
    first = np.full(c.n_items, -1, dtype=np.int64)
    second = np.full(c.n_items, -1, dtype=np.int64)
    is_a = c.annotator == 0
    first[c.item[is_a]] = c.label[is_a]
    second[c.item[~is_a]] = c.label[~is_a]
    shared = (first >= 0) & (second >= 0)
    table = np.bincount(first[shared] * k + second[shared], minlength=k * k).reshape(k, k)
    t = cohen_kappa_tables(table[None], weights=weights, ranks=ranks, alpha=alpha)
    n = float(t.n[0])
    details: dict[str, Any] = {
        "se0": t.se0[0],
        "wald_ci": [t.wald_low[0], t.wald_high[0]],
        "z": t.z[0],
        "p_value": t.p_value[0],
        "weights": weights or "none",
        "annotators": c.annotators,
        "categories": c.categories,
        "table": table,
    }
    if k == 2 and n > 0:
        details["prevalence_index"] = abs(table[0, 0] - table[1, 1]) / n
        details["bias_index"] = abs(table[0, 1] - table[1, 0]) / n
    return AgreementResult(
        metric="cohen_kappa",
        value=float(t.value[0]),
        se=float(t.se[0]),
        ci_low=float(t.ci_low[0]),
        ci_high=float(t.ci_high[0]),
        n_items=int(n),
        n_raters=2,
        p_observed=float(t.p_o[0]),
        p_expected=float(t.p_e[0]),
        reason=t.reason[0],
        details=_to_json_safe(details),
    )


def fleiss_kappa(
    df: pd.DataFrame, categories: Sequence[Any] | None = None, alpha: float = 0.05
) -> AgreementResult:
    """Fleiss' (1971) kappa for any number of annotators; items may have different raters.

    Thin converter to :func:`fleiss_kappa_counts` (see it for the formula, the unequal-raters
    generalisation, the Gwet SE used for the CI and the Fleiss-Nee-Landis SE under H0 in
    ``details["se0"]``, with ``z`` and per-category kappas).

    Parameters
    ----------
    df : DataFrame
        Long table ``item_id, annotator_id, label``.
    categories : sequence, optional
        Ordered label set (default: sorted labels present).
    alpha : float, default 0.05

    Returns
    -------
    AgreementResult

    Examples
    --------
    >>> df = pd.DataFrame({"item_id": [1, 1, 1, 2, 2, 2, 3, 3, 3],
    ...                    "annotator_id": ["a", "b", "c"] * 3,
    ...                    "label": ["x", "x", "x", "y", "y", "x", "y", "y", "y"]})
    >>> round(fleiss_kappa(df).value, 4)
    0.55
    """
    c = _encode(df, categories)
    return _finish(fleiss_kappa_counts(_item_counts(c), alpha=alpha), c)


def gwet_ac1(
    df: pd.DataFrame, categories: Sequence[Any] | None = None, alpha: float = 0.05
) -> AgreementResult:
    """Gwet's (2008) AC1 for any number of annotators, missing ratings allowed.

    Thin converter to :func:`gwet_ac_counts` (formula and variance there). ``q`` is the number
    of categories (declared ones included), which enters the chance agreement.

    Parameters
    ----------
    df : DataFrame
        Long table ``item_id, annotator_id, label``.
    categories : sequence, optional
    alpha : float, default 0.05

    Returns
    -------
    AgreementResult

    Examples
    --------
    >>> df = pd.DataFrame({"item_id": [1, 1, 2, 2, 3, 3, 4, 4],
    ...                    "annotator_id": ["a", "b"] * 4,
    ...                    "label": ["x", "x", "x", "x", "x", "y", "y", "y"]})
    >>> round(gwet_ac1(df).value, 4)
    0.5294
    """
    c = _encode(df, categories)
    return _finish(gwet_ac_counts(_item_counts(c), alpha=alpha), c)


def gwet_ac2(
    df: pd.DataFrame,
    categories: Sequence[Any] | None = None,
    weights: Weights = "quadratic",
    ranks: ArrayLike | None = None,
    alpha: float = 0.05,
) -> AgreementResult:
    """Gwet's AC2: AC1 with ordinal agreement weights (default quadratic).

    Thin converter to :func:`gwet_ac_counts`; ``weights=None`` gives AC1.

    Parameters
    ----------
    df : DataFrame
        Long table ``item_id, annotator_id, label``.
    categories : sequence, optional
        Ordered label set: the order defines the weights.
    weights : {None, "linear", "quadratic"}, default "quadratic"
    ranks : array_like, optional
        Positions of the categories (default: their order).
    alpha : float, default 0.05

    Returns
    -------
    AgreementResult

    Examples
    --------
    >>> df = pd.DataFrame({"item_id": [1, 1, 2, 2, 3, 3, 4, 4],
    ...                    "annotator_id": ["a", "b"] * 4,
    ...                    "label": [1, 1, 2, 3, 3, 3, 1, 2]})
    >>> round(gwet_ac2(df, weights="linear").value, 4)
    0.4483
    """
    c = _encode(df, categories, _needs_order(weights))
    res = gwet_ac_counts(_item_counts(c), weights=weights, ranks=ranks, alpha=alpha)
    return _finish(res, c)


def pabak(
    df: pd.DataFrame,
    categories: Sequence[Any] | None = None,
    weights: Weights = None,
    ranks: ArrayLike | None = None,
    alpha: float = 0.05,
) -> AgreementResult:
    """Prevalence- and bias-adjusted kappa (Byrt, Bishop & Carlin 1993) = Brennan-Prediger.

    ``2 p_o - 1`` for two categories, ``(p_a - 1/q) / (1 - 1/q)`` for ``q`` categories
    (Brennan & Prediger 1981), ``p_e = sum(W) / q^2`` with weights. Thin converter to
    :func:`brennan_prediger_counts`. ``q`` counts *declared* categories: declare the full
    label set so the chance level is the policy's, not the sample's.

    Parameters
    ----------
    df : DataFrame
        Long table ``item_id, annotator_id, label``.
    categories : sequence, optional
    weights : {None, "linear", "quadratic"}
    ranks : array_like, optional
    alpha : float, default 0.05

    Returns
    -------
    AgreementResult

    Examples
    --------
    >>> df = pd.DataFrame({"item_id": [1, 1, 2, 2, 3, 3, 4, 4],
    ...                    "annotator_id": ["a", "b"] * 4,
    ...                    "label": ["x", "x", "x", "x", "x", "y", "y", "y"]})
    >>> pabak(df).value
    0.5
    """
    c = _encode(df, categories, _needs_order(weights))
    res = brennan_prediger_counts(_item_counts(c), weights=weights, ranks=ranks, alpha=alpha)
    return _finish(res, c)


def percent_agreement(
    df: pd.DataFrame,
    categories: Sequence[Any] | None = None,
    weights: Weights = None,
    ranks: ArrayLike | None = None,
    alpha: float = 0.05,
) -> AgreementResult:
    """Share of agreeing rater pairs per item, averaged over items with >= 2 ratings.

    Gwet's (2014) percent agreement; thin converter to :func:`percent_agreement_counts`.
    With weights, partial credit ``w_kl`` for near misses.

    Parameters
    ----------
    df : DataFrame
        Long table ``item_id, annotator_id, label``.
    categories : sequence, optional
    weights : {None, "linear", "quadratic"}
    ranks : array_like, optional
    alpha : float, default 0.05

    Returns
    -------
    AgreementResult

    Examples
    --------
    >>> df = pd.DataFrame({"item_id": [1, 1, 2, 2, 3, 3, 4, 4],
    ...                    "annotator_id": ["a", "b"] * 4,
    ...                    "label": ["x", "x", "x", "x", "x", "y", "y", "y"]})
    >>> percent_agreement(df).value
    0.75
    """
    c = _encode(df, categories, _needs_order(weights))
    res = percent_agreement_counts(_item_counts(c), weights=weights, ranks=ranks, alpha=alpha)
    return _finish(res, c)


def krippendorff_alpha(
    df: pd.DataFrame,
    categories: Sequence[Any] | None = None,
    level: Level = "nominal",
    values: ArrayLike | None = None,
    n_boot: int = 1000,
    random_state: int | np.random.Generator | None = None,
    alpha: float = 0.05,
) -> AgreementResult:
    """Krippendorff's (2011) alpha with a bootstrap CI over items; missing ratings allowed.

    Thin converter to :func:`krippendorff_alpha_counts` (formula, metrics and bootstrap
    there). For ``interval``/``ratio`` the category values are ``values`` if given, else the
    labels when numeric, else positions ``1..k`` in category order.

    Parameters
    ----------
    df : DataFrame
        Long table ``item_id, annotator_id, label``.
    categories : sequence, optional
        Ordered label set (the order matters for ordinal).
    level : {"nominal", "ordinal", "interval", "ratio"}
    values : array_like, optional
        Numeric value per category.
    n_boot : int, default 1000
    random_state : int or Generator, optional
    alpha : float, default 0.05

    Returns
    -------
    AgreementResult

    Examples
    --------
    >>> df = pd.DataFrame({"item_id": [1, 1, 2, 2, 3, 3, 4, 4],
    ...                    "annotator_id": ["a", "b"] * 4,
    ...                    "label": ["x", "x", "y", "y", "x", "y", "x", "x"]})
    >>> round(krippendorff_alpha(df, random_state=0).value, 4)
    0.5333
    """
    c = _encode(df, categories, None if level == "nominal" else f"{level} alpha")
    res = krippendorff_alpha_counts(
        _item_counts(c),
        level=level,
        values=values,
        n_boot=n_boot,
        random_state=random_state,
        alpha=alpha,
        categories=c.categories,
    )
    return _finish(res, c)


def prevalence_paradox(
    p_observed: float, kappa: float, p_observed_min: float = 0.8, kappa_max: float = 0.4
) -> bool:
    """Flag the kappa prevalence paradox: high raw agreement but low kappa.

    Rule: ``p_observed >= p_observed_min`` (default 0.8) **and** ``kappa < kappa_max``
    (default 0.4, the upper end of "fair" agreement). Under such skewed marginals chance
    agreement ``p_e`` is near 1 and kappa understates agreement (Feinstein & Cicchetti 1990;
    Byrt, Bishop & Carlin 1993); show :data:`PARADOX_NOTE` and report AC1/PABAK beside kappa.
    NaN inputs give False.

    Parameters
    ----------
    p_observed : float
        Observed (percent) agreement.
    kappa : float
        Kappa-type coefficient on the same data.
    p_observed_min, kappa_max : float
        Thresholds of the rule.

    Returns
    -------
    bool

    Examples
    --------
    >>> prevalence_paradox(0.85, 0.318)
    True
    >>> prevalence_paradox(0.85, 0.7)
    False
    """
    if not (math.isfinite(p_observed) and math.isfinite(kappa)):
        return False
    return bool(p_observed >= p_observed_min and kappa < kappa_max)
