"""The public crowd datasets (RTE, bluebirds) through the crowd-CSV import: published numbers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from qualitylib.ingest import import_exports
from qualitylib.metrics.reference import annotator_summary
from qualitylib.store import connect

CROWD = Path(__file__).resolve().parent / "data" / "crowd"
AT = datetime(2008, 10, 1)

# Majority vote against the reference; an item whose vote is tied counts as the share of
# tied labels that are right (one half for two labels), as in Snow et al. (2008).
MAJORITY_VOTE_ACCURACY = """
    WITH votes AS (
        SELECT item_key, label_key, count(*) AS n FROM annotations GROUP BY ALL
    ), winners AS (
        SELECT * FROM votes QUALIFY n = max(n) OVER (PARTITION BY item_key)
    )
    SELECT avg(right_share) FROM (
        SELECT w.item_key, avg(CAST(w.label_key = r.label_key AS DOUBLE)) AS right_share
        FROM winners w JOIN reference r USING (item_key) GROUP BY w.item_key
    )
"""


def _import(db: Path, name: str) -> None:
    summary = import_exports(
        db, "crowd-csv", [CROWD / f"{name}_labels.csv"], gold=[CROWD / f"{name}_gold.csv"], at=AT
    )
    assert summary.files[0].skipped == {}


@pytest.mark.parametrize(
    ("name", "n_labels", "n_workers", "n_items", "majority_vote"),
    [("rte", 8000, 164, 800, 0.896875), ("bluebirds", 4212, 39, 108, 0.7592592592592593)],
)
def test_crowd_dataset_imports_and_majority_vote(
    db: Path, name: str, n_labels: int, n_workers: int, n_items: int, majority_vote: float
) -> None:
    _import(db, name)
    with connect(db, read_only=True) as con:
        counts = con.execute(
            "SELECT (SELECT count(*) FROM annotations), (SELECT count(*) FROM annotators), "
            "(SELECT count(*) FROM items), (SELECT count(*) FROM reference)"
        ).fetchall()
        accuracy = con.execute(MAJORITY_VOTE_ACCURACY).fetchall()[0][0]
        people = annotator_summary(con)
    assert counts == [(n_labels, n_workers, n_items, n_items)]
    assert accuracy == pytest.approx(majority_vote, abs=1e-12)
    # per-worker accuracy against gold, from the store, equals a direct count on the CSVs
    labels = pd.read_csv(CROWD / f"{name}_labels.csv")
    gold = pd.read_csv(CROWD / f"{name}_gold.csv").set_index("task")["label"]
    right = labels["label"].to_numpy() == gold.reindex(labels["task"]).to_numpy()
    expected = pd.Series(right).groupby(labels["worker"].astype(str).to_numpy()).mean()
    got = people.set_index("annotator_id")["accuracy"]
    pd.testing.assert_series_equal(
        got.sort_index(), expected.sort_index(), check_names=False, check_index_type=False
    )


def test_rte_majority_vote_is_snow_et_al_89_7_percent(db: Path) -> None:
    _import(db, "rte")
    with connect(db, read_only=True) as con:
        accuracy = con.execute(MAJORITY_VOTE_ACCURACY).fetchall()[0][0]
    assert round(100 * accuracy, 1) == 89.7
