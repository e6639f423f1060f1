"""False-alarm rate of each behaviour flag on simulated steady people, and how often the personas
are found (and the fast expert left alone).

    python benchmarks/behaviour_false_alarms.py [--seeds 40] [--people 12]

Each seed builds a campaign of ``qualitylib.demo_behaviour`` (12 batches of 60 items, each person
on about 75 % of the batches, 10 % of their items seen twice, 20 % reference items) into a
temporary store and runs ``qualitylib.metrics.behaviour.behaviour`` with the default rule.
Each steady campaign is also judged week by week (each ISO week's labels alone, as the weekly
report does). Results are in benchmarks/RESULTS.md.
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
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.periods import week_filters
from qualitylib.store import connect

EXPECTED = {
    "b07": {"too_fast", "spammer"},  # fast random clicker (label mix, inconsistency follow)
    "b08": {"straight_lining"},
    "b09": {"label_mix"},
    "b10": set(),  # fast expert
}


def _run(team: tuple[demo_behaviour.Persona, ...], seed: int, weekly: bool = False) -> pd.DataFrame:
    """Flags on the whole campaign (``week`` empty), and with ``weekly`` on each ISO week's
    labels too (as the weekly report computes them)."""
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "b.duckdb"
        demo_behaviour.build(db, team, seed, trainees=())
        with connect(db, read_only=True) as con:
            tables = [behaviour(con).assign(week="")]
            mondays = con.execute(
                "SELECT DISTINCT date_trunc('week', annotated_at)::DATE FROM annotations ORDER BY 1"
            ).fetchall()
            for (monday,) in mondays if weekly else []:
                week = behaviour(con, week_filters(Filters(), monday))
                tables.append(week.assign(week=monday.isoformat()))
    return pd.concat(tables, ignore_index=True).assign(seed=seed)


def _false_alarms(steady: pd.DataFrame, unit: str) -> None:
    """Print each flag's false alarms among ``steady`` rows with an exact 95 % upper bound."""
    from scipy.stats import beta

    n = len(steady)
    print(f"flag              false alarms   rate   95 % upper (exact)   per {unit}")
    for flag in (*FLAGS, "any"):
        raised = steady[list(FLAGS)].any(axis=1) if flag == "any" else steady[flag]
        k = int(raised.sum())
        upper = beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
        print(f"{flag:<17} {k:>5} / {n:<6} {k / n:6.3f}   {upper:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--people", type=int, default=12)
    args = parser.parse_args()
    started = time.perf_counter()
    runs = pd.concat(
        [_run(demo_behaviour.steady_team(args.people), seed, True) for seed in range(args.seeds)]
    )
    steady = runs[runs["week"] == ""]
    print(f"steady people: {len(steady)} person-campaigns ({args.seeds} seeds x {args.people})")
    _false_alarms(steady, "person-campaign")
    weeks = runs[runs["week"] != ""]
    print(
        f"\non each ISO week's labels (as the weekly report): {len(weeks)} person-weeks, "
        f"median {int(weeks['n_labels'].median())} labels"
    )
    _false_alarms(weeks, "person-week")
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
