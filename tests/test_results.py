"""The results layer on a hand-made store: rates from counts, the long and wide shapes, the
team's pooled rates, weeks, and the catalog look-ups, with exact expected values."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qualitylib.export import EXPORTS
from qualitylib.ingest import import_files
from qualitylib.metrics import catalog
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.periods import week_filters
from qualitylib.metrics.reference import annotator_summary, team_rates
from qualitylib.metrics.results import metric_names, proportion, to_long, to_wide
from qualitylib.metrics.team_agreement import agreement_results, pairwise_kappa
from qualitylib.metrics.timeline import timeline
from qualitylib.store import connect

LABELS = "label,is_positive\nsafe,false\nnudity,true\nweapons,true\n"
REFERENCE = """item_id,label,decided_at
r1,safe,2026-08-01
r2,nudity,2026-08-01
r3,weapons,2026-08-01
"""
# Week of Mon 2026-09-07: alice 2 of 3 right (misses r2), bob 2 of 2 right, the committee
# member cora 1 of 1; week of 2026-09-14: alice 1 of 1. p1 is not a reference item.
ANNOTATIONS = """item_id,annotator_id,label,annotated_at,phase
r1,alice,safe,2026-09-07T09:00:00Z,production
r2,alice,safe,2026-09-08T09:00:00Z,production
r3,alice,weapons,2026-09-09T09:00:00Z,training
p1,alice,nudity,2026-09-10T09:00:00Z,production
r1,bob,safe,2026-09-08T10:00:00Z,production
r2,bob,nudity,2026-09-08T11:00:00Z,production
r3,cora,safe,2026-09-08T12:00:00Z,production
r2,alice,nudity,2026-09-15T09:00:00Z,production
"""
ANNOTATORS = """annotator_id,name,team,role
alice,Alice,north,annotator
bob,Bob,south,annotator
cora,Cora,north,committee
"""


@pytest.fixture
def store(build_store, write) -> Path:
    db = build_store(LABELS, REFERENCE, ANNOTATIONS)
    import_files(db, "annotators", [write("annotators.csv", ANNOTATORS)])
    return db


def test_proportion_is_wilson_and_nan_without_trials() -> None:
    found = proportion([18, 0, 3], [20, 0, 3])
    assert found.value[0] == 0.9 and np.isnan(found.value[1]) and found.value[2] == 1.0
    # Wilson (1927), 18 of 20, z = 1.959964:
    # (0.9 + z²/40 ± z sqrt(0.0045 + z²/1600)) / (1 + z²/20)
    assert found.ci_low[0] == pytest.approx(0.698966, abs=1e-6)
    assert found.ci_high[0] == pytest.approx(0.972134, abs=1e-6)
    assert np.isnan(found.ci_low[1]) and found.n.tolist() == [20, 0, 3]


def test_long_and_wide_shapes_round_trip(store: Path) -> None:
    with connect(store, read_only=True) as con:
        weeks = timeline(con)
    names = metric_names(weeks)
    assert names[:4] == ["accuracy", "tpr", "fpr", "precision"]
    assert {"tpr_safe", "tpr_nudity", "tpr_weapons"} <= set(names)
    assert not any(name.startswith("recall_") for name in weeks.columns)
    long = to_long(weeks, period="period_start")
    assert list(long.columns) == ["entity", "period", "metric", "value", "ci_low", "ci_high", "n"]
    first = long[(long["entity"] == "alice") & (long["metric"] == "accuracy")].iloc[0]
    assert (first["period"], first["value"], first["n"]) == (pd.Timestamp("2026-09-07"), 2 / 3, 3)
    wide = to_wide(long)
    for name in names:
        np.testing.assert_array_equal(wide[name], weeks[name], err_msg=name)
        np.testing.assert_array_equal(wide[f"{name}_n"], weeks[f"{name}_n"], err_msg=name)


def test_n_labels_counts_every_label_and_n_reference_those_scored(store: Path) -> None:
    with connect(store, read_only=True) as con:
        people = annotator_summary(con).set_index("annotator_id")
        weeks = timeline(con).set_index("annotator_id")
        assert catalog.n_labels(con, Filters(annotators=("alice",))) == 5
    assert "n_labels" not in people.columns  # the summary only sees reference labels
    assert people.loc["alice", "n_reference"] == 4
    assert weeks.loc["alice", "n_labels"].tolist() == [4, 1]
    assert weeks.loc["alice", "n_reference"].tolist() == [3, 1]
    assert people.loc["alice", "kappa_n"] == 4 and "kappa_se" in people.columns


def test_team_rates_pool_members_without_the_committee(store: Path) -> None:
    with connect(store, read_only=True) as con:
        week = team_rates(con, week_filters(Filters(), date(2026, 9, 7)))
        weekly = team_rates(con, Filters(), "week")
        nothing = team_rates(con, Filters(since=date(2027, 1, 1)))
    # alice 2 of 3 and bob 2 of 2; cora (committee) is left out.
    assert week["accuracy"].tolist() == [4 / 5] and week["accuracy_n"].tolist() == [5]
    assert week["tpr_n"].tolist() == [3]  # r2 twice, r3 once
    assert weekly["period_start"].tolist() == [date(2026, 9, 7), date(2026, 9, 14)]
    assert weekly["accuracy_n"].tolist() == [5, 1]
    assert nothing["accuracy_n"].tolist() == [0] and np.isnan(nothing["accuracy"].iloc[0])


def test_week_filters_stay_inside_the_chosen_range() -> None:
    chosen = Filters(since=date(2026, 9, 9), until=date(2026, 9, 30), teams=("north",))
    week = week_filters(chosen, date(2026, 9, 7))
    assert (week.since, week.until, week.teams) == (date(2026, 9, 9), date(2026, 9, 13), ("north",))
    five = week_filters(Filters(), date(2026, 9, 28), weeks=5)
    assert (five.since, five.until) == (date(2026, 8, 31), date(2026, 10, 4))


def test_catalog_lookups(store: Path) -> None:
    with connect(store, read_only=True) as con:
        options = catalog.filter_options(con)
        assert (options["first_day"], options["last_day"]) == (date(2026, 9, 7), date(2026, 9, 15))
        assert options["teams"] == ["north", "south"]
        assert options["labels"] == ["safe", "nudity", "weapons"]  # the label set's order
        assert catalog.latest_week(con) == date(2026, 9, 14)
        assert catalog.latest_week(con, Filters(annotators=("bob",))) == date(2026, 9, 7)
        assert catalog.latest_week(con, Filters(since=date(2027, 1, 1))) is None
        assert catalog.newcomers(con) == ["alice"]
        assert catalog.people(con, Filters(teams=("north",)))["annotator_id"].tolist() == [
            "alice",
            "cora",
        ]
        assert catalog.annotators(con, ("bob",))["name"].tolist() == ["Bob"]


def test_raters_are_the_people_of_the_pair_table(store: Path) -> None:
    with connect(store, read_only=True) as con:
        team = agreement_results(con, Filters(), n_boot=10)
        pairs = pairwise_kappa(con, Filters())
        bob_window = agreement_results(con, Filters(until=date(2026, 9, 8)), n_boot=10)
    # alice shares r1, r2 with bob and r3 with cora: three raters, though no item has three.
    assert {result.n_raters for result in team.values()} == {3}
    assert set(pairs["annotator_a"]) | set(pairs["annotator_b"]) == {"alice", "bob", "cora"}
    assert (pairs["kappa_n"] == pairs["n_items"]).all() and "kappa_linear_n" in pairs.columns
    # by the 8th only r1 has two current answers (alice, bob): cora labels r3 alone then
    assert bob_window["fleiss_kappa"].n_raters == 2


def test_every_export_follows_the_rate_pattern(demo_db: Path) -> None:
    """A column with an interval also has its ``n`` (and the other bound): one shape for all."""
    with connect(demo_db, read_only=True) as con:
        tables = {name: exporter(con, Filters()) for name, exporter in EXPORTS.items()}
        labels = catalog.filter_options(con)["labels"]
    for name, table in tables.items():
        for column in (str(c) for c in table.columns if str(c).endswith("_ci_low")):
            rate = column.removesuffix("_ci_low")
            assert {f"{rate}_ci_high", f"{rate}_n"} <= set(table.columns), (name, rate)
        assert not {f"recall_{label}" for label in labels} & set(table.columns), name
    assert "kappa_n" in tables["pairwise-kappa"] and "kappa_se" in tables["annotator-summary"]


def test_last_week_with_labels(store: Path) -> None:
    with connect(store, read_only=True) as con:
        # Labels in the weeks of 7 and 14 September 2026; "today" a Wednesday weeks later.
        assert catalog.last_week_with_labels(con, None, date(2026, 10, 7)) == "2026-W38"
        assert catalog.last_week_with_labels(con, None, date(2026, 9, 16)) == "2026-W37"
        south = Filters(teams=("south",))
        assert catalog.last_week_with_labels(con, south, date(2026, 10, 7)) == "2026-W37"
        assert catalog.last_week_with_labels(con, None, date(2026, 9, 7)) is None
