"""Behaviour flags and time on task: the personas are found, steady people are not, and every
statistic matches an independent computation on the raw rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import median_abs_deviation, quantile_test
from sklearn.metrics import cohen_kappa_score

from qualitylib import demo_behaviour
from qualitylib.metrics.behaviour import (
    FLAGS,
    behaviour,
    jensen_shannon,
    label_mix,
    longest_run_p,
    longest_runs,
    self_consistency,
)
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.time_on_task import SpeedRule, median_rank_bounds, time_on_task
from qualitylib.store import connect


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    """The same campaign's annotations as generated, for independent recomputation."""
    frame = demo_behaviour.generate(seed=0)["annotations"]
    frame["annotated_at"] = pd.to_datetime(frame["annotated_at"])
    return frame


@pytest.fixture(scope="module")
def flags(behaviour_db: Path) -> pd.DataFrame:
    with connect(behaviour_db, read_only=True) as con:
        return behaviour(con)


def test_personas_raise_their_flags_and_steady_people_none(flags: pd.DataFrame) -> None:
    raised = dict(zip(flags["annotator_id"], flags["flags"], strict=True))
    assert raised == {
        "b01": "",
        "b02": "",
        "b03": "",
        "b04": "",
        "b05": "",
        "b06": "",
        "b07": "too_fast;label_mix;spammer;inconsistent",  # fast random clicker
        # The straight-liner gives the run's label whatever the item, so their repeats disagree
        # too: self-kappa 0.41 with 95 % CI up to 0.59 (Fisher-z interval), below 0.6.
        "b08": "straight_lining;inconsistent",
        "b09": "label_mix",
        "b10": "",  # fast expert: fast, but the fast answers are right
        "b11": "",  # trainees, on training items of their own, untimed: nothing to flag
        "b12": "",
        "b13": "",
    }
    expert = flags.set_index("annotator_id").loc["b10"]
    assert expert["share_too_fast"] >= 0.10 and expert["median_duration_s"] < 2
    assert set(FLAGS) <= set(flags.columns)


def test_median_interval_ranks_match_the_textbook_and_scipy(
    behaviour_db: Path, raw: pd.DataFrame
) -> None:
    low, high = median_rank_bounds(np.array([5, 6, 10, 20]))
    assert low.tolist() == [0, 1, 2, 6] and high.tolist() == [0, 6, 9, 15]  # Conover table A3
    with connect(behaviour_db, read_only=True) as con:
        table = time_on_task(con).set_index("annotator_id")
    for person in ("b01", "b07"):
        seconds = raw.loc[raw["annotator_id"] == person, "duration_s"].to_numpy()
        interval = quantile_test(seconds, q=np.median(seconds), p=0.5).confidence_interval(0.95)
        row = table.loc[person]
        assert row["median_duration_s"] == pytest.approx(np.median(seconds))
        assert (row["median_duration_s_ci_low"], row["median_duration_s_ci_high"]) == (
            pytest.approx(interval.low),
            pytest.approx(interval.high),
        )


def test_too_fast_counts_match_a_pandas_recount(behaviour_db: Path, raw: pd.DataFrame) -> None:
    rule = SpeedRule(k=2.0)
    logs = np.log(np.maximum(raw["duration_s"], rule.floor_s))
    by_label = logs.groupby(raw["label"])
    below = by_label.transform("median") - rule.k * 1.4826 * by_label.transform(
        lambda s: median_abs_deviation(s, nan_policy="omit")
    )  # the trainees' answers are untimed (NaN), as in the store (NULL)
    expected = (logs < below).groupby(raw["annotator_id"]).sum()
    with connect(behaviour_db, read_only=True) as con:
        table = time_on_task(con, rule=rule).set_index("annotator_id")
        weekly = time_on_task(con, rule=rule, by="week")
    assert table["n_too_fast"].to_dict() == expected.to_dict()
    assert weekly.groupby("annotator_id")["n_too_fast"].sum().to_dict() == expected.to_dict()
    assert weekly["n_labels"].sum() == len(raw)


def test_missing_durations_are_not_counted(db: Path, write) -> None:
    from qualitylib.ingest import import_files

    rows = "\n".join(
        f"i{i},ann,safe,2026-09-0{1 + i // 5}T10:0{i % 5}:00Z,{'' if i % 2 else i + 1}"
        for i in range(10)
    )
    path = write("a.csv", "item_id,annotator_id,label,annotated_at,duration_s\n" + rows)
    import_files(db, "annotations", [path])
    with connect(db, read_only=True) as con:
        row = time_on_task(con).iloc[0]
    assert (row["n_labels"], row["n_timed"], row["median_duration_s"]) == (10, 5, 5.0)
    assert (row["n_too_fast"], row["too_fast_accuracy_n"]) == (0, 0)  # untimed is not fast
    assert np.isnan(row["median_duration_s_ci_low"])  # 5 timed answers: no 95 % interval


def test_longest_runs_match_python_and_the_exact_tail(
    behaviour_db: Path, raw: pd.DataFrame
) -> None:
    ordered = raw.sort_values(["annotator_id", "annotated_at", "item_id"])
    expected = {}
    for person, labels in ordered.groupby("annotator_id")["label"]:
        values = labels.to_numpy()
        edges = np.flatnonzero(np.r_[True, values[1:] != values[:-1], True])
        expected[person] = int(np.diff(edges).max())
    with connect(behaviour_db, read_only=True) as con:
        runs = longest_runs(con)
        keys = dict(con.execute("SELECT annotator_key, annotator_id FROM annotators").fetchall())
    pairs = zip(runs["annotator_key"], runs["longest_same_run"], strict=True)
    assert {keys[k]: v for k, v in pairs} == expected
    # exact P(longest run >= L) for iid answers, by dynamic programming on (label, run length)
    for shares, n, big_l in (((0.5, 0.5), 100, 10), ((0.6, 0.15, 0.15, 0.1), 600, 30)):
        p = np.asarray(shares)
        state = np.zeros((p.size, big_l))
        state[:, 1] = p
        for _ in range(n - 1):
            by_label = state.sum(axis=1)
            new = np.zeros_like(state)
            new[:, 1] = p * (by_label.sum() - by_label)
            new[:, 2:] = p[:, None] * state[:, 1:-1]
            state = new
        exact = 1 - state.sum()
        approx = longest_run_p(np.array([big_l]), p[None], np.array([n]))[0]
        assert approx == pytest.approx(exact, rel=0.02)


def test_jensen_shannon_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    p, q = rng.dirichlet(np.ones(5), size=(2, 20))
    assert jensen_shannon(p, q) == pytest.approx(jensenshannon(p, q, base=2, axis=1) ** 2)


def test_label_mix_on_a_shifted_person(behaviour_db: Path) -> None:
    with connect(behaviour_db, read_only=True) as con:
        mix = label_mix(con, n_permutations=199, seed=1)
        odd = con.execute("SELECT annotator_key FROM annotators WHERE annotator_id = 'b09'")
        odd_key = odd.fetchall()[0][0]
    odd_row = mix.set_index("annotator_key").loc[odd_key]
    assert odd_row["label_mix_p"] == pytest.approx(1 / 200)
    assert odd_row["label_mix_divergence"] > 0.02
    # the trainees' batches are their own: no one to compare with, so not enough data
    assert mix["label_mix_p"].isna().sum() == len(demo_behaviour.TRAINEES)
    tested = mix["label_mix_p"].dropna()
    assert (tested > 0).all() and (tested <= 1).all()


def test_self_kappa_matches_sklearn(behaviour_db: Path, raw: pd.DataFrame) -> None:
    ordered = raw.sort_values("annotated_at")
    first = ordered.groupby(["annotator_id", "item_id"])["label"].agg(["first", "last", "size"])
    twice = first[first["size"] >= 2]
    expected = {
        person: cohen_kappa_score(group["first"], group["last"])
        for person, group in twice.groupby(level="annotator_id")
    }
    with connect(behaviour_db, read_only=True) as con:
        table = self_consistency(con)
        keys = dict(con.execute("SELECT annotator_key, annotator_id FROM annotators").fetchall())
    got = {keys[k]: v for k, v in zip(table["annotator_key"], table["self_kappa"], strict=True)}
    assert got == pytest.approx(expected)


def test_filters_restrict_every_flag_input(behaviour_db: Path) -> None:
    with connect(behaviour_db, read_only=True) as con:
        one = behaviour(con, Filters(annotators=("b08", "b01", "b02", "b03")))
    assert one["annotator_id"].tolist() == ["b01", "b02", "b03", "b08"]
    assert one.set_index("annotator_id").loc["b08", "straight_lining"]


def test_cli_behaviour_export_has_exactly_the_issue_columns(behaviour_db: Path) -> None:
    import io
    from contextlib import redirect_stdout

    from qualitylib.cli import main

    tables = {}
    for name in ("behaviour", "behavior"):
        out = io.StringIO()
        with redirect_stdout(out):
            assert main(["export", "--db", str(behaviour_db), name]) == 0
        tables[name] = pd.read_csv(io.StringIO(out.getvalue()), keep_default_na=False)
    table = tables["behaviour"]
    assert list(table.columns) == [
        "annotator_id",
        "n_labels",
        "median_duration_s",
        "share_too_fast",
        "too_fast_accuracy",
        "longest_same_run",
        "label_mix_divergence",
        "label_mix_p",
        "spam_probability",
        "self_kappa",
        "flags",
    ]
    assert table.equals(tables["behavior"])
    assert table.set_index("annotator_id").loc["b08", "flags"] == "straight_lining;inconsistent"
    assert table.set_index("annotator_id").loc["b01", "flags"] == ""


def test_demo_behaviour_cli_writes_the_personas_team(tmp_path: Path) -> None:
    from qualitylib.cli import main

    db = tmp_path / "b.duckdb"
    assert main(["demo", "--db", str(db), "--behaviour"]) == 0
    with connect(db, read_only=True) as con:
        teams = con.execute("SELECT team, count(*) FROM annotators GROUP BY team").fetchall()
        untimed = con.execute(
            """SELECT a.annotator_id, count(*) FROM annotations x JOIN annotators a
               USING (annotator_key) WHERE x.duration_s IS NULL GROUP BY ALL ORDER BY 1"""
        ).fetchall()
    # only the trainees' training tool records no time: missing stays missing, never 0
    assert untimed == [(t.annotator_id, 300) for t in demo_behaviour.TRAINEES]
    people = len(demo_behaviour.BEHAVIOUR_TEAM) + len(demo_behaviour.TRAINEES)
    assert teams == [("team-behaviour", people)]
