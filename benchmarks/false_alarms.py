"""Measure the drift rule: false alarms on drift-free teams, detection delay on the personas.

Each seed builds a demo store through the real import path (``qualitylib.demo.build``),
reads its weekly control counts with :func:`qualitylib.metrics.drift.weekly_controls` and when
each annotator was first aligned (onboarding, the default objective), and runs the rule as
``drift_alerts`` does (individuals watched from their first aligned week). ``--team steady``
(the default) has experts only, so every alert is a false alarm;
``--team personas`` reports how many weeks after ``drift_start`` the drifter is first alerted
on its drift class, and which steady experts were flagged.

``--kind boxes`` does the same for box drift (:func:`qualitylib.metrics.box_timeline.
box_drift_alerts`: 1 - F1 on control images, the same rule) on the demo's box project
(:mod:`qualitylib.demo_boxes`): ``--team steady`` is 10 careful box experts, ``--team
steady-loose`` 10 steady loose boxers (IoU about 0.6, near the match threshold), ``--team
personas`` the demo's box personas (the drifter stops boxing people in week 5).

    python benchmarks/false_alarms.py --seeds 40
    python benchmarks/false_alarms.py --team personas --seeds 20
    python benchmarks/false_alarms.py --sweep 3 4 5 6      # thresholds h (= team_h)
    python benchmarks/false_alarms.py --kind boxes --team steady-loose --seeds 40

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

from qualitylib import demo, demo_boxes
from qualitylib.metrics.box_timeline import box_onboarding, box_weekly_controls
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
STEADY_BOXERS = 10
STEADY_BOX_TEAMS = {
    "steady": demo_boxes.BoxPersona("", "", "steady"),
    "steady-loose": demo_boxes.BoxPersona("", "", "steady", pad=0.13, jitter=0.06),
}
CACHE = Path(tempfile.gettempdir()) / "qualitylib-false-alarms"


def controls_for(
    seed: int, n_annotations: int, team: str, kind: str = "tags"
) -> tuple[WeeklyControls, pd.DataFrame, dict[str, np.datetime64]]:
    """Weekly control counts, personas and first-aligned times of one seeded demo store
    (cached); ``kind="boxes"``: of the box project (``n_annotations`` unused)."""
    CACHE.mkdir(exist_ok=True)
    name = f"{team}-{n_annotations}" if kind == "tags" else f"boxes-{team}"
    stem = CACHE / f"{name}-{seed}-aligned"
    if not stem.with_suffix(".npz").exists():
        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder) / "demo.duckdb"
            if kind == "tags":
                data = demo.build(db, seed=seed, n_annotations=n_annotations, team=team)
            else:
                people = (
                    demo_boxes.BOX_TEAM
                    if team == "personas"
                    else demo_boxes.steady_team(STEADY_BOXERS, STEADY_BOX_TEAMS[team])
                )
                data = demo_boxes.build(db, seed=seed, team=people, crowd=(), draw=False)
            with connect(db, read_only=True) as con:
                status = onboarding_status(con) if kind == "tags" else box_onboarding(con)
                controls = weekly_controls(con) if kind == "tags" else box_weekly_controls(con)
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


def false_alarms(
    seeds: list[int], n_annotations: int, rule: DriftRule, kind: str = "tags", team: str = "steady"
) -> dict[str, float]:
    """Alert rates of ``rule`` on drift-free (steady) teams."""
    alerts = team_alerts = annotator_weeks = team_weeks = flagged = people = 0
    for seed in seeds:
        controls, personas, aligned_at = controls_for(seed, n_annotations, team, kind)
        table = alerts_from_controls(controls, rule, aligned_at)
        steady = personas["persona"].isin(["expert", "steady"])
        experts = set(personas.loc[steady, "annotator_id"])
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


def detection(
    seeds: list[int], n_annotations: int, rule: DriftRule, kind: str = "tags"
) -> pd.DataFrame:
    """Per seed: weeks from drift start to the drifter's first alert, experts flagged, and
    the other personas flagged."""
    rows = []
    for seed in seeds:
        controls, personas, aligned_at = controls_for(seed, n_annotations, "personas", kind)
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
                "others_flagged": sorted(
                    set(table["annotator_id"].dropna()) - experts - {drifter["annotator_id"]}
                ),
                "team_alerts": int((table["scope"] == "team").sum()),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40, help="number of seeded campaigns")
    parser.add_argument("--annotations", type=int, default=200_000, help="labels per campaign")
    parser.add_argument("--kind", choices=["tags", "boxes"], default="tags")
    parser.add_argument("--team", choices=["steady", "steady-loose", "personas"], default="steady")
    parser.add_argument("--sweep", type=float, nargs="*", help="thresholds h (= team_h) to try")
    args = parser.parse_args()
    if args.kind == "tags" and args.team == "steady-loose":
        parser.error("--team steady-loose is a box team: add --kind boxes")
    seeds = list(range(1000, 1000 + args.seeds))
    rules = (
        [DriftRule()]
        if not args.sweep
        else [replace(DriftRule(), h=h, team_h=h) for h in args.sweep]
    )
    started = time.perf_counter()
    for rule in rules:
        if args.team != "personas":
            result = false_alarms(seeds, args.annotations, rule, args.kind, args.team)
            print(
                f"h={rule.h:g} team_h={rule.team_h:g}: "
                f"{result['alerts_per_annotator_quarter']:.3f} false alerts per annotator-quarter "
                f"({result['annotator_quarters']:.0f} annotator-quarters), "
                f"{result['share_of_annotators_flagged_in_campaign']:.1%} of experts flagged at "
                f"least once in a 12-week campaign, {result['team_alerts_per_quarter']:.3f} false "
                f"team alerts per quarter ({result['team_quarters']:.0f} team-quarters)"
            )
        else:
            table = detection(seeds, args.annotations, rule, args.kind)
            delays = table["delay_weeks"]
            with_expert = (table["experts_flagged"].str.len() > 0).mean()
            print(
                f"h={rule.h:g}: drifter alerted in {delays.notna().mean():.0%} of campaigns; "
                f"delay (weeks after drift start, 0 = the first drifting week) median "
                f"{delays.median():g}, 90th percentile {delays.quantile(0.9):g}, "
                f"within 1 week {(delays <= 1).mean():.0%}; "
                f"campaigns with an expert flagged {with_expert:.0%}, "
                f"with a team alert {(table['team_alerts'] > 0).mean():.0%}, "
                f"with another persona flagged {(table['others_flagged'].str.len() > 0).mean():.0%}"
            )
    print(f"({time.perf_counter() - started:.0f} s, seeds {seeds[0]}..{seeds[-1]})")


if __name__ == "__main__":
    main()
