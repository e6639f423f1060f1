"""SPRT onboarding against the fixed window, in simulation: realised error rates and labels
needed.

    python benchmarks/sprt_onboarding.py [--trainees 10000] [--seed 0]

Each simulated trainee answers reference items in a random order (40 % positive, as the demo's
reference set), flagging a positive with probability TPR and a negative with probability FPR.
The SPRT uses :class:`qualitylib.metrics.sprt.SPRT`'s boundaries and steps (the numbers the SQL
uses). Part 1: at the hypotheses themselves (H1 = the objective, H0 = objective -/+ margin), the
realised error rates against the stated alpha and beta. Part 2: the comparison at matched
realised error rates: the fixed window (judged once, at its first full window with 20 positives
and 20 negatives: aligned if the point estimates meet the objective) has some error rate on a
good trainee (TPR 0.95, FPR 0.02) and a poor one (TPR 0.70, FPR 0.10); among SPRTs on a grid
of (alpha, beta) whose realised errors on both are no larger, the one needing the fewest labels
is shown, and the mean numbers of reference labels to a decision are compared. Results are in
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse

import numpy as np

from qualitylib.metrics.onboarding import Objective
from qualitylib.metrics.sprt import SPRT

POSITIVE_SHARE = 0.4
CAP = 1500  # reference labels simulated per trainee


def _answers(rng: np.random.Generator, n: int, tpr: float, fpr: float) -> tuple:
    is_pos = rng.random((n, CAP)) < POSITIVE_SHARE
    flagged = np.where(is_pos, rng.random((n, CAP)) < tpr, rng.random((n, CAP)) < fpr)
    return is_pos, flagged


def llr_paths(is_pos: np.ndarray, flagged: np.ndarray, sprt: SPRT, objective: Objective):
    """Running LLR of each test per trainee and label, ``{"tpr": (n, CAP), "fpr": ...}``."""
    steps = sprt.steps(objective)
    paths = {}
    for rate, side in (("tpr", is_pos), ("fpr", ~is_pos)):
        hit, miss = steps[rate]
        paths[rate] = np.where(side, np.where(flagged, hit, miss), 0.0).cumsum(axis=1)
    return paths


def sprt_decide(paths: dict[str, np.ndarray], sprt: SPRT):
    """(decision: 1 aligned, 0 not aligned, -1 undecided; labels to decision) per trainee."""
    stops = {}
    for rate, llr in paths.items():
        above, below = llr >= sprt.upper, llr <= sprt.lower
        up = np.where(above.any(axis=1), above.argmax(axis=1), CAP)
        low = np.where(below.any(axis=1), below.argmax(axis=1), CAP)
        stops[rate] = (up, low)
    bad_at = np.minimum(
        np.where(stops["tpr"][1] < stops["tpr"][0], stops["tpr"][1], CAP),
        np.where(stops["fpr"][1] < stops["fpr"][0], stops["fpr"][1], CAP),
    )
    ok_tpr = stops["tpr"][0] < stops["tpr"][1]
    ok_fpr = stops["fpr"][0] < stops["fpr"][1]
    ok_at = np.where(ok_tpr & ok_fpr, np.maximum(stops["tpr"][0], stops["fpr"][0]), CAP)
    decision = np.where(bad_at < CAP, 0, np.where(ok_at < CAP, 1, -1))
    n = np.where(decision == 0, bad_at, np.where(decision == 1, ok_at, CAP)) + 1
    return decision, n


def window_decide(is_pos: np.ndarray, flagged: np.ndarray, objective: Objective, window: int):
    """The fixed window judged once, at the first label from ``window`` on whose window holds
    enough positives and negatives: (1 aligned / 0 not, labels used)."""
    pos = np.cumsum(is_pos, axis=1)
    tp = np.cumsum(is_pos & flagged, axis=1)
    fp = np.cumsum(~is_pos & flagged, axis=1)

    def last(counts: np.ndarray) -> np.ndarray:
        lagged = np.pad(counts, ((0, 0), (window, 0)))[:, :CAP]
        return counts - lagged

    w_pos, w_tp, w_fp = last(pos), last(tp), last(fp)
    w_neg = np.minimum(np.arange(1, CAP + 1), window) - w_pos
    full = (np.arange(CAP) >= window - 1) & (w_pos >= objective.min_positives)
    full &= w_neg >= objective.min_negatives
    at = full.argmax(axis=1)
    rows = np.arange(len(at))
    meets = (w_tp[rows, at] >= objective.tpr_min * w_pos[rows, at]) & (
        w_fp[rows, at] <= objective.fpr_max * w_neg[rows, at]
    )
    return meets.astype(int), at + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainees", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    objective, n = Objective(), args.trainees
    print(f"{n} simulated trainees per case, {POSITIVE_SHARE:.0%} positive reference items\n")

    print("1. SPRT at its hypotheses (defaults: margins 0.15 TPR, 0.10 FPR)")
    print("alpha=beta  trainee (TPR, FPR)        error  stated  mean labels  undecided")
    for error in (0.05, 0.01):
        sprt = SPRT(alpha=error, beta=error)
        (t0, t1), (f0, f1) = sprt.hypotheses(objective).values()
        cases = {
            "at H1 (objective)": (t1, f1, 0),  # error: held back
            "TPR at H0": (t0, f1, 1),  # error: released
            "FPR at H0": (t1, f0, 1),
        }
        for name, (tpr, fpr, wrong) in cases.items():
            paths = llr_paths(*_answers(rng, n, tpr, fpr), sprt, objective)
            decision, labels = sprt_decide(paths, sprt)
            realised = np.mean(decision == wrong)
            print(
                f"{error:<10}  {name:<17} ({tpr:.2f}, {fpr:.2f})  {realised:.4f}  {error:<6}"
                f"  {labels[decision >= 0].mean():11.1f}  {np.mean(decision < 0):.4f}"
            )

    print("\n2. Matched realised error rates: good (0.95, 0.02) vs poor (0.70, 0.10) trainees")
    print("window  window errors (good, poor)  labels  | SPRT alpha, beta  SPRT errors"
          "        labels (good, poor)")  # fmt: skip
    good = _answers(rng, n, 0.95, 0.02)
    poor = _answers(rng, n, 0.70, 0.10)
    paths = (llr_paths(*good, SPRT(), objective), llr_paths(*poor, SPRT(), objective))
    alphas = (0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001)
    betas = (0.4, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)
    runs = {}
    for alpha in alphas:  # the LLR paths depend on the margins only; the grid moves A and B
        for beta in betas:
            (gd, gn), (pd_, pn) = (sprt_decide(p, SPRT(alpha, beta)) for p in paths)
            runs[alpha, beta] = (np.mean(gd != 1), np.mean(pd_ != 0), gn.mean(), pn.mean())
    for window in (50, 100, 150, 200):
        g_dec, g_n = window_decide(*good, objective, window)
        p_dec, p_n = window_decide(*poor, objective, window)
        e_good, e_poor = np.mean(g_dec == 0), np.mean(p_dec == 1)
        matched = [
            (r[2] + r[3], key, r) for key, r in runs.items() if r[0] <= e_good and r[1] <= e_poor
        ]
        line = (
            f"{window:<6}  {e_good:.4f}, {e_poor:.4f}              "
            f"{np.mean(np.r_[g_n, p_n]):6.1f}  | "
        )
        if not matched:
            print(line + "no SPRT in the grid is as accurate")
            continue
        _, (alpha, beta), (eg, ep, gn, pn) = min(matched)
        print(line + f"{alpha:<6}, {beta:<8}  {eg:.4f}, {ep:.4f}     {gn:.1f}, {pn:.1f}")


if __name__ == "__main__":
    main()
