"""Measure the drift rule: false alarms on drift-free teams, detection delay on the personas.

Each seed builds a demo store through the real import path (``qualitylib.demo.build``),
reads its weekly control counts with :func:`qualitylib.metrics.drift.weekly_controls` and when
each annotator was first aligned (onboarding, the default objective), and runs the rule as
``drift_alerts`` does (individuals watched from their first aligned week). ``--team steady``
(the default) has experts only, so every alert is a false alarm;
``--team personas`` reports how many weeks after ``drift_start`` the drifter is first alerted
on its drift class, and which steady experts were flagged.

    python benchmarks/false_alarms.py --seeds 40
    python benchmarks/false_alarms.py --team personas --seeds 20
    python benchmarks/false_alarms.py --sweep 3 4 5 6      # thresholds h (= team_h)

Counts are cached per (team, seed, size) in the temp directory, so sweeps are quick.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from qualitylib import demo
from qualitylib.metrics.drift import (
    DriftRule,
    WeeklyControls,
    alerts_from_controls,
    only_aligned,
    weekly_controls,
)
from qualitylib.metrics.onboarding import onboarding_status
from qualitylib.store import connect

WEEKS_PER_QUARTER = 13
CACHE = Path(tempfile.gettempdir()) / "qualitylib-false-alarms"


def controls_for(
    seed: int, n_annotations: int, team: str
) -> tuple[WeeklyControls, pd.DataFrame, dict[str, np.datetime64]]:
    """Weekly control counts, personas and first-aligned times of one seeded demo store
    (cached)."""
    CACHE.mkdir(exist_ok=True)
    stem = CACHE / f"{team}-{n_annotations}-{seed}-aligned"
    if not stem.with_suffix(".npz").exists():
        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder) / "demo.duckdb"
            data = demo.build(db, seed=seed, n_annotations=n_annotations, team=team)
            with connect(db, read_only=True) as con:
                status = onboarding_status(con)
                controls = weekly_controls(con)
        aligned = status.set_index("annotator_id")["first_aligned"]
        np.savez(
            stem.with_suffix(".npz"),
            annotators=np.asarray(controls.annotators),
            weeks=controls.weeks,
            labels=np.asarray(controls.labels),
            x=controls.x,
            n=controls.n,
            aligned_at=aligned.reindex(controls.annotators).to_numpy(dtype="datetime64[ns]"),
        )
        data.personas.to_parquet(stem.with_suffix(".parquet"))
    saved = np.load(stem.with_suffix(".npz"))
    controls = WeeklyControls(
        saved["annotators"].tolist(),
        saved["weeks"],
        saved["labels"].tolist(),
        saved["x"],
        saved["n"],
    )
    aligned_at = dict(zip(controls.annotators, saved["aligned_at"], strict=True))
    return controls, pd.read_parquet(stem.with_suffix(".parquet")), aligned_at


def monitored_weeks(controls: WeeklyControls, rule: DriftRule) -> int:
    """Annotator-weeks the individual CUSUM tests (aligned, after burn-in, with control labels)."""
    active = controls.n.sum(axis=2) > 0
    before = np.cumsum(active, axis=1) - active
    return int((active & (before >= rule.burn_in_weeks)).sum())


def false_alarms(seeds: list[int], n_annotations: int, rule: DriftRule) -> dict[str, float]:
    """Alert rates of ``rule`` on drift-free (steady) teams."""
    alerts = team_alerts = annotator_weeks = team_weeks = flagged = people = 0
    for seed in seeds:
        controls, personas, aligned_at = controls_for(seed, n_annotations, "steady")
        table = alerts_from_controls(controls, rule, aligned_at)
        experts = set(personas.loc[personas["persona"] == "expert", "annotator_id"])
        individual = table[(table["scope"] == "annotator")]
        alerts += len(individual)
        team_alerts += int((table["scope"] == "team").sum())
        annotator_weeks += monitored_weeks(only_aligned(controls, aligned_at), rule)
        team_weeks += controls.n.shape[1]
        flagged += individual["annotator_id"].nunique()
        people += len(experts & set(controls.annotators))
    return {
        "alerts_per_annotator_quarter": alerts / annotator_weeks * WEEKS_PER_QUARTER,
        "share_of_annotators_flagged_in_campaign": flagged / people,
        "team_alerts_per_quarter": team_alerts / team_weeks * WEEKS_PER_QUARTER,
        "annotator_quarters": annotator_weeks / WEEKS_PER_QUARTER,
        "team_quarters": team_weeks / WEEKS_PER_QUARTER,
    }


def detection(seeds: list[int], n_annotations: int, rule: DriftRule) -> pd.DataFrame:
    """Per seed: weeks from drift start to the drifter's first alert, experts flagged."""
    rows = []
    for seed in seeds:
        controls, personas, aligned_at = controls_for(seed, n_annotations, "personas")
        table = alerts_from_controls(controls, rule, aligned_at)
        drifter = personas[personas["persona"] == "drifter"].iloc[0]
        start = pd.Timestamp(drifter["drift_start"]).tz_localize(None)
        hits = table[
            (table["annotator_id"] == drifter["annotator_id"])
            & (table["label"] == drifter["drift_label"])
            & (pd.to_datetime(table["week_start"]) >= start)
        ]
        first = hits["week_start"].min() if len(hits) else None
        experts = set(personas.loc[personas["persona"] == "expert", "annotator_id"])
        rows.append(
            {
                "seed": seed,
                "delay_weeks": (first - start).days / 7 if first is not None else np.nan,
                "experts_flagged": sorted(experts & set(table["annotator_id"].dropna())),
                "team_alerts": int((table["scope"] == "team").sum()),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40, help="number of seeded campaigns")
    parser.add_argument("--annotations", type=int, default=200_000, help="labels per campaign")
    parser.add_argument("--team", choices=["steady", "personas"], default="steady")
    parser.add_argument("--sweep", type=float, nargs="*", help="thresholds h (= team_h) to try")
    args = parser.parse_args()
    seeds = list(range(1000, 1000 + args.seeds))
    rules = (
        [DriftRule()]
        if not args.sweep
        else [replace(DriftRule(), h=h, team_h=h) for h in args.sweep]
    )
    started = time.perf_counter()
    for rule in rules:
        if args.team == "steady":
            result = false_alarms(seeds, args.annotations, rule)
            print(
                f"h={rule.h:g} team_h={rule.team_h:g}: "
                f"{result['alerts_per_annotator_quarter']:.3f} false alerts per annotator-quarter "
                f"({result['annotator_quarters']:.0f} annotator-quarters), "
                f"{result['share_of_annotators_flagged_in_campaign']:.1%} of experts flagged at "
                f"least once in a 12-week campaign, {result['team_alerts_per_quarter']:.3f} false "
                f"team alerts per quarter ({result['team_quarters']:.0f} team-quarters)"
            )
        else:
            table = detection(seeds, args.annotations, rule)
            delays = table["delay_weeks"]
            with_expert = (table["experts_flagged"].str.len() > 0).mean()
            print(
                f"h={rule.h:g}: drifter alerted in {delays.notna().mean():.0%} of campaigns; "
                f"delay (weeks after drift start, 0 = the first drifting week) median "
                f"{delays.median():g}, 90th percentile {delays.quantile(0.9):g}, "
                f"within 1 week {(delays <= 1).mean():.0%}; "
                f"campaigns with an expert flagged {with_expert:.0%}, "
                f"with a team alert {(table['team_alerts'] > 0).mean():.0%}"
            )
    print(f"({time.perf_counter() - started:.0f} s, seeds {seeds[0]}..{seeds[-1]})")


if __name__ == "__main__":
    main()
