"""Policy versions: before/after per annotator, stale policy on a re-decided item; the demo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qualitylib.metrics.policy import policy_comparison, stale_policy
from qualitylib.store import connect

LABELS = "label,is_positive\nsafe,false\nweapons,true\n"
# g1 (a toy gun) is `weapons` under v1 and `safe` from 2026-09-10 under v2.
REFERENCE = """
item_id,label,decided_at,policy_version
g1,weapons,2026-08-01,v1
g2,weapons,2026-08-01,v1
s1,safe,2026-08-01,v1
g1,safe,2026-09-10,v2
"""
ANNOTATIONS = """
item_id,annotator_id,label,annotated_at,policy_version
g1,ann,weapons,2026-09-01,v1
s1,ann,safe,2026-09-02,v1
g1,ann,safe,2026-09-11,v2
g2,ann,weapons,2026-09-12,v2
g1,bob,weapons,2026-09-01,v1
g1,bob,weapons,2026-09-11,v2
g1,bob,weapons,2026-09-15,v2
s1,bob,safe,2026-09-16,v2
"""


@pytest.fixture
def store(build_store) -> Path:
    return build_store(LABELS, REFERENCE, ANNOTATIONS)


def test_before_after_per_annotator_and_team(store: Path) -> None:
    with connect(store, read_only=True) as con:
        table = policy_comparison(con)
    rows = table[["annotator_id", "policy_version", "n_reference", "accuracy"]]
    assert rows.values.tolist() == [
        ["ann", "v1", 2, 1.0],
        ["ann", "v2", 2, 1.0],
        ["bob", "v1", 1, 1.0],
        ["bob", "v2", 3, pytest.approx(1 / 3)],
        [None, "v1", 3, 1.0],
        [None, "v2", 5, pytest.approx(3 / 5)],
    ]
    bob_v2 = table.iloc[3]
    assert bob_v2["accuracy_change"] == pytest.approx(1 / 3 - 1)
    assert bob_v2["fpr"] == pytest.approx(2 / 3)  # g1 is safe under v2: two false flags
    assert np.isnan(table.iloc[2]["accuracy_change"])
    assert table.iloc[1]["version_start"] == pd.Timestamp("2026-09-11")


def test_stale_policy_counts_labels_that_follow_the_old_decision(store: Path) -> None:
    with connect(store, read_only=True) as con:
        table = stale_policy(con, min_share=0.3)
    assert table[["annotator_id", "n_changed", "n_old", "n_new"]].values.tolist() == [
        ["bob", 2, 2, 0],
        ["ann", 1, 0, 1],
    ]
    bob = table.iloc[0]
    assert bob["old_share"] == 1.0 and bob["last_old_at"] == pd.Timestamp("2026-09-15")
    assert bob["stale"] and not table.iloc[1]["stale"]  # Wilson low of 2/2 is 0.34


def test_demo_stale_policy_annotator_is_the_only_one_found(personas_db: Path) -> None:
    with connect(personas_db, read_only=True) as con:
        table = stale_policy(con)
        personas = con.execute("SELECT annotator_id, persona FROM demo_personas").df()
    stale = set(table.loc[table["stale"], "annotator_id"])
    assert stale == set(personas.loc[personas["persona"] == "stale_policy", "annotator_id"])
