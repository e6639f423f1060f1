"""False-alarm rate of each behaviour flag on simulated steady people, and how often the personas
are found (and the fast expert left alone).

    python benchmarks/behaviour_false_alarms.py [--seeds 40] [--people 12]

Each seed builds a campaign of ``qualitylib.demo_behaviour`` (12 batches of 60 items, each person
on about 75 % of the batches, 10 % of their items seen twice, 20 % reference items) into a
temporary store and runs ``qualitylib.metrics.behaviour.behaviour`` with the default rule.
Results are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from qualitylib import demo_behaviour
from qualitylib.metrics.behaviour import FLAGS, behaviour
from qualitylib.store import connect

EXPECTED = {
    "b07": {"too_fast", "spammer"},  # fast random clicker (label mix, inconsistency follow)
    "b08": {"straight_lining"},
    "b09": {"label_mix"},
    "b10": set(),  # fast expert
}


def _run(team: tuple[demo_behaviour.Persona, ...], seed: int) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "b.duckdb"
        demo_behaviour.build(db, team, seed, trainees=())
        with connect(db, read_only=True) as con:
            table = behaviour(con)
    table["seed"] = seed
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--people", type=int, default=12)
    args = parser.parse_args()
    started = time.perf_counter()
    steady = pd.concat(
        [_run(demo_behaviour.steady_team(args.people), seed) for seed in range(args.seeds)]
    )
    n = len(steady)
    print(f"steady people: {n} person-campaigns ({args.seeds} seeds x {args.people})")
    print("flag              false alarms   rate   95 % upper (exact)")
    from scipy.stats import beta

    for flag in (*FLAGS, "any"):
        raised = steady[list(FLAGS)].any(axis=1) if flag == "any" else steady[flag]
        k = int(raised.sum())
        upper = beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
        print(f"{flag:<17} {k:>5} / {n:<6} {k / n:6.3f}   {upper:.3f}")
    personas = pd.concat(
        [_run(demo_behaviour.BEHAVIOUR_TEAM, seed) for seed in range(args.seeds)]
    ).set_index("annotator_id")
    print(
        f"\npersonas ({args.seeds} seeds): share of campaigns raising the expected flags "
        "(b10: none)"
    )
    for person, expected in EXPECTED.items():
        rows = personas.loc[person]
        raised = [set(f for f in flags.split(";") if f) for flags in rows["flags"]]
        found = np.mean([bool(expected <= r and (expected or not r)) for r in raised])
        print(f"{person} expected {sorted(expected) or 'none'}: {found:.2f}")
        if person == "b10":
            print(f"    fast expert flagged too_fast in {np.mean(rows['too_fast']):.2f}")
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
