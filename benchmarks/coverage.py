"""Coverage of the 95 % intervals, by simulation from populations whose value is known.

Usage: ``python benchmarks/coverage.py [--reps-scale 1.0] [--seed 0]``; prints a Markdown
table (copied into benchmarks/RESULTS.md). Not part of the test run (1-3 min on 2 cores).

Populations (``pi`` = category prevalence, ``lam`` = agreement parameter):

* two raters: cell probabilities ``P = lam diag(pi) + (1 - lam) pi pi^T``, whose Cohen kappa is
  ``lam`` for every weighting (``w_kk = 1``), so the truth is known exactly;
* ``m`` exchangeable raters: item ``i`` has a class ``c_i ~ pi`` and each rater draws its label
  from ``theta_i = lam e_{c_i} + (1 - lam) pi``; pair agreement ``E sum theta^2 = lam^2 +
  (1 - lam^2) sum pi^2``, so Fleiss' kappa and nominal Krippendorff's alpha are ``lam^2`` in
  the population (ratings missing completely at random leave alpha unchanged) and AC1 is
  ``(p_a - p_e) / (1 - p_e)`` with ``p_e = sum pi (1 - pi) / (q - 1)``.

Every data set is drawn at once (``multinomial`` on stacked tables or item count rows); the
coefficients then run one data set at a time (they vectorise over items, not data sets),
except Cohen's kappa, whose count-level function takes the whole stack.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from qualitylib import agreement as ag
from qualitylib.intervals import wilson

PI3 = np.array([0.5, 0.3, 0.2])


def _row(
    name: str,
    truth: float,
    value: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    wald: tuple | None,
    started: float,
) -> dict:
    """Coverage (share of defined intervals holding the truth), its MC SE, Wald beside it."""
    ok = np.isfinite(low) & np.isfinite(high)
    hit = (low[ok] <= truth) & (truth <= high[ok])
    cov = float(hit.mean())
    row = {
        "case": name,
        "truth": truth,
        "data sets": int(ok.sum()),
        "coverage": cov,
        "mc_se": float(np.sqrt(cov * (1 - cov) / ok.sum())),
        "median width": float(np.median(high[ok] - low[ok])),
        "zero width": int(np.sum(high[ok] - low[ok] <= 0)),
        "at 1": float(np.mean(value[ok] >= 1.0 - 1e-12)),
        "wald": float("nan"),
        "seconds": time.perf_counter() - started,
    }
    if wald is not None:
        w_ok = np.isfinite(wald[0])
        row["wald"] = float(((wald[0] <= truth) & (truth <= wald[1]))[w_ok].mean())
    return row


def cohen(rng: np.random.Generator, n: int, lam: float, weights: ag.Weights, reps: int) -> dict:
    """Cohen's kappa on ``reps`` stacked 3x3 tables of ``n`` items."""
    started = time.perf_counter()
    p = lam * np.diag(PI3) + (1 - lam) * np.outer(PI3, PI3)
    tables = rng.multinomial(n, p.ravel(), size=reps).reshape(reps, 3, 3)
    res = ag.cohen_kappa_tables(tables, weights=weights)
    name = f"Cohen {weights or 'unweighted'}, 3 categories, n = {n}"
    wald = (res.wald_low, res.wald_high)
    return _row(name, lam, res.value, res.ci_low, res.ci_high, wald, started)


def _rater_counts(
    rng: np.random.Generator, n: int, m: int, lam: float, reps: int, missing: float = 0.0
) -> np.ndarray:
    """(reps, n, q) category counts of ``m`` exchangeable raters (each missing w.p. ``missing``)."""
    q = len(PI3)
    cls = rng.choice(q, size=(reps, n), p=PI3)
    theta = lam * np.eye(q)[cls] + (1 - lam) * PI3  # (reps, n, q)
    raters = rng.binomial(m, 1.0 - missing, size=(reps, n)) if missing else np.full((reps, n), m)
    # multinomial with per-item probabilities: sequential binomials (vectorised over items)
    counts = np.zeros((reps, n, q), dtype=np.int64)
    left = raters.copy()
    mass = np.ones((reps, n))
    for k in range(q - 1):
        pk = np.clip(theta[..., k] / mass, 0.0, 1.0)
        counts[..., k] = rng.binomial(left, pk)
        left -= counts[..., k]
        mass -= theta[..., k]
    counts[..., q - 1] = left
    return counts


def multi(
    rng: np.random.Generator,
    name: str,
    func: Callable[[np.ndarray], ag.AgreementResult],
    truth: float,
    n: int,
    m: int,
    lam: float,
    reps: int,
    missing: float = 0.0,
) -> dict:
    """A multi-rater coefficient on ``reps`` data sets of ``n`` items and ``m`` raters."""
    started = time.perf_counter()
    data = _rater_counts(rng, n, m, lam, reps, missing)
    value, low, high = (np.full(reps, np.nan) for _ in range(3))
    w_low, w_high = np.full(reps, np.nan), np.full(reps, np.nan)
    for i in range(reps):
        res = func(data[i])
        value[i], low[i], high[i] = res.value, res.ci_low, res.ci_high
        if "wald_ci" in res.details:
            w_low[i], w_high[i] = res.details["wald_ci"]
    wald = (w_low, w_high) if np.isfinite(w_low).any() else None
    return _row(name, truth, value, low, high, wald, started)


def fleiss_truth(lam: float) -> float:
    """Population Fleiss kappa (= nominal alpha) of the exchangeable-rater model."""
    return lam**2


def ac1_truth(lam: float) -> float:
    """Population AC1 of the exchangeable-rater model."""
    p_a = lam**2 + (1 - lam**2) * float(PI3 @ PI3)
    p_e = float((PI3 * (1 - PI3)).sum()) / (len(PI3) - 1)
    return (p_a - p_e) / (1 - p_e)


def rate(rng: np.random.Generator, n: int, p: float, reps: int) -> dict:
    """Wilson interval of a rate (e.g. an annotator's TPR) at ``n`` trials."""
    started = time.perf_counter()
    x = rng.binomial(n, p, size=reps)
    low, high = wilson(x, np.full(reps, n))
    return _row(f"rate, Wilson, n = {n}, p = {p}", p, x / n, low, high, None, started)


def main() -> None:
    """Run every case and print the Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps-scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    def reps(base: int) -> int:
        return max(200, int(base * args.reps_scale))

    rows = []
    for n in (50, 200):
        for weights in (None, "linear", "quadratic"):
            rows.append(cohen(rng, n, 0.6, weights, reps(10_000)))
    for weights in (None, "linear", "quadratic"):
        rows.append(cohen(rng, 20, 0.95, weights, reps(10_000)))
    for weights in (None, "quadratic"):  # below the n = 50 target: where the limit lies
        rows.append(cohen(rng, 20, 0.6, weights, reps(10_000)))
    lam = 0.6**0.5  # Fleiss kappa 0.6
    for n in (30, 100):
        rows.append(
            multi(
                rng,
                f"Fleiss, 5 raters, n = {n}",
                ag.fleiss_kappa_counts,
                fleiss_truth(lam),
                n,
                5,
                lam,
                reps(4_000),
            )
        )
    lam_hi = 0.95**0.5
    rows.append(
        multi(
            rng,
            "Fleiss, 5 raters, n = 20 (kappa 0.95)",
            ag.fleiss_kappa_counts,
            fleiss_truth(lam_hi),
            20,
            5,
            lam_hi,
            reps(4_000),
        )
    )
    for n in (30, 100):
        rows.append(
            multi(
                rng,
                f"Krippendorff nominal, 4 raters, 25 % missing, n = {n}",
                lambda c: ag.krippendorff_alpha_counts(c, n_boot=1000, random_state=1),
                fleiss_truth(lam),
                n,
                4,
                lam,
                reps(4_000),
                missing=0.25,
            )
        )
    for n, lam_ac, label in ((50, lam, ""), (20, lam_hi, " (kappa 0.95)")):
        truth = ac1_truth(lam_ac)
        rows.append(
            multi(
                rng,
                f"Gwet AC1, 3 raters, n = {n}{label}",
                ag.gwet_ac_counts,
                truth,
                n,
                3,
                lam_ac,
                reps(4_000),
            )
        )
    rows.append(rate(rng, 20, 0.9, reps(10_000)))

    print(
        "| case | true value | data sets | coverage (MC SE) | Wald coverage | estimate = 1 "
        "| median width | zero-width | time |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        wald = "—" if np.isnan(r["wald"]) else f"{r['wald']:.3f}"
        print(
            f"| {r['case']} | {r['truth']:.3f} | {r['data sets']:,} | {r['coverage']:.3f} "
            f"({r['mc_se']:.3f}) | {wald} | {r['at 1']:.0%} | {r['median width']:.3f} "
            f"| {r['zero width']} "
            f"| {r['seconds']:.1f} s |",
            flush=True,
        )


if __name__ == "__main__":
    main()
