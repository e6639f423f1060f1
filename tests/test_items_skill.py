"""Item lists (misses, a pair's disagreements, the long table) and skill without a reference
(Dawid-Skene from the store's integer keys), against hand-counted and independent values."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qualitylib.cli import main
from qualitylib.dawid_skene import DawidSkene
from qualitylib.ingest import import_exports
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.items import disagreements, long_table, misses
from qualitylib.metrics.skill import annotator_skill, skill_agreement, vote_triples
from qualitylib.store import connect

CROWD = Path(__file__).resolve().parent / "data" / "crowd"
LABELS = "label,is_positive\nsafe,false\nnudity,true\nweapons,true\n"
REFERENCE = "item_id,label,decided_at,reason\nr1,safe,2026-08-01,clean\nr2,nudity,2026-08-01,\n"
# alice misses r2 twice (the second time she changes her mind to weapons); bob misses r1.
# On p1 and r2 alice and bob disagree; on p2 they agree.
ANNOTATIONS = """item_id,annotator_id,label,annotated_at,reason
r1,alice,safe,2026-09-07T09:00:00Z,
r2,alice,safe,2026-09-08T09:00:00Z,looked fine
r2,alice,weapons,2026-09-09T09:00:00Z,
p1,alice,nudity,2026-09-10T09:00:00Z,
p2,alice,safe,2026-09-10T10:00:00Z,
r1,bob,nudity,2026-09-08T10:00:00Z,
r2,bob,nudity,2026-09-08T11:00:00Z,
p1,bob,safe,2026-09-08T12:00:00Z,
p2,bob,safe,2026-09-08T13:00:00Z,
"""


@pytest.fixture
def store(build_store) -> Path:
    return build_store(LABELS, REFERENCE, ANNOTATIONS)


def test_misses_latest_first_with_total(store: Path) -> None:
    with connect(store, read_only=True) as con:
        found = misses(con, Filters(), "alice")
        one = misses(con, Filters(), "alice", limit=1)
        safe_only = misses(con, Filters(), "alice", labels=("safe",))
        bob = misses(con, Filters(until=date(2026, 9, 7)), "bob")
    assert found.total == 2 and one.total == 2 and len(one.items) == 1
    assert found.items[["item_id", "given_label", "reference_label"]].values.tolist() == [
        ["r2", "weapons", "nudity"],
        ["r2", "safe", "nudity"],
    ]
    assert found.items["given_reason"].tolist()[1] == "looked fine"
    assert safe_only.total == 0 and bob.total == 0
    with pytest.raises(ValueError, match="limit must be a positive integer"):
        with connect(store, read_only=True) as con:
            misses(con, Filters(), "alice", limit=0)


def test_disagreements_name_each_side(store: Path) -> None:
    with connect(store, read_only=True) as con:
        found = disagreements(con, Filters(), "bob", "alice")
        window = disagreements(con, Filters(since=date(2026, 9, 10)), "alice", "bob")
    # current answers: r1 safe/nudity, r2 weapons/nudity, p1 nudity/safe (alice/bob)
    assert found.total == 3
    assert found.items[["item_id", "label_a", "label_b"]].values.tolist() == [
        ["p1", "safe", "nudity"],
        ["r1", "nudity", "safe"],
        ["r2", "nudity", "weapons"],
    ]
    assert window.total == 0  # bob's answers were all given before the 10th


def test_long_table_is_the_current_answers(store: Path) -> None:
    with connect(store, read_only=True) as con:
        table = long_table(con)
        alice = long_table(con, Filters(annotators=("alice",)))
    assert table.values.tolist() == [
        ["p1", "alice", "nudity"],
        ["p1", "bob", "safe"],
        ["p2", "alice", "safe"],
        ["p2", "bob", "safe"],
        ["r1", "alice", "safe"],
        ["r1", "bob", "nudity"],
        ["r2", "alice", "weapons"],
        ["r2", "bob", "nudity"],
    ]
    assert alice["label"].tolist() == ["nudity", "safe", "safe", "weapons"]


@pytest.fixture(scope="module")
def rte(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("rte") / "rte.duckdb"
    import_exports(
        db,
        "crowd-csv",
        [CROWD / "rte_labels.csv"],
        gold=[CROWD / "rte_gold.csv"],
        at=datetime(2008, 10, 1),
    )
    return db


def test_skill_from_the_store_equals_the_long_table_fit(rte: Path) -> None:
    labels = pd.read_csv(CROWD / "rte_labels.csv", dtype=str)
    gold = pd.read_csv(CROWD / "rte_gold.csv", dtype=str).set_index("task")["label"]
    with connect(rte, read_only=True) as con:
        skill = annotator_skill(con).set_index("annotator_id")
        answers = vote_triples(con)
    assert len(answers.item) == 8000 and len(answers.items) == 800
    expected = DawidSkene().fit(labels).accuracy_
    assert len(skill) == 164
    np.testing.assert_allclose(skill["ds_accuracy"], expected.reindex(skill.index), atol=1e-9)
    # Against the committee (the gold answers): the share of each worker's labels equal to it.
    right = labels["label"].to_numpy() == gold.reindex(labels["task"]).to_numpy()
    by_worker = pd.Series(right).groupby(labels["worker"].to_numpy())
    np.testing.assert_allclose(skill["accuracy"], by_worker.mean().reindex(skill.index))
    assert (skill["accuracy_n"] == by_worker.size().reindex(skill.index)).all()
    assert (skill["n_labels"] == skill["n_items"]).all()  # one answer per worker and task
    assert skill.loc["9", ["n_labels", "ds_accuracy"]].tolist() == [800, pytest.approx(0.488, 1e-3)]
    agreement = skill_agreement(skill.reset_index())
    assert agreement.n == 164 and agreement.value > 0.9 and agreement.reason is None
    assert agreement.ci_low < agreement.value < agreement.ci_high


def test_cli_export_skill(rte: Path) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["export", "--db", str(rte), "skill"]) == 0
    table = pd.read_csv(io.StringIO(out.getvalue()), dtype={"annotator_id": str})
    assert list(table.columns[:6]) == [
        "annotator_id", "name", "team", "n_labels", "n_items", "ds_accuracy",
    ]  # fmt: skip
    assert {"accuracy_ci_low", "accuracy_ci_high", "accuracy_n"} <= set(table.columns)
    assert len(table) == 164


def test_skill_of_an_empty_selection(rte: Path) -> None:
    with connect(rte, read_only=True) as con:
        skill = annotator_skill(con, Filters(since=date(2030, 1, 1)))
    assert skill.empty and "ds_accuracy" in skill.columns
    assert skill_agreement(skill).reason == "fewer than 4 annotators with reference labels"
