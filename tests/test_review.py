"""Review queue: vote entropy, unsure flags, splits, who said what; ruled items left out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qualitylib.display import votes_text
from qualitylib.ingest import import_files
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.review import review_queue, review_queue_size
from qualitylib.store import connect

LABELS = "label,is_positive\nsafe,false\nnudity,true\nweapons,true\n"
ITEMS = "item_id,uri\nx1,img/x1.jpg\nx2,img/x2.jpg\nx3,img/x3.jpg\nx4,img/x4.jpg\nx5,img/x5.jpg\n"
# x1: 2 safe, 1 nudity (split); x2: unanimous; x3: safe vs weapons but ruled afterwards;
# x4: one unsure label; x5: three different labels, decided before the labels.
ANNOTATIONS = """
item_id,annotator_id,label,annotated_at,unsure
x1,bob,safe,2026-09-01T10:00:00Z,false
x1,alice,safe,2026-09-01T11:00:00Z,true
x1,carol,nudity,2026-09-01T12:00:00Z,false
x2,alice,safe,2026-09-01T10:00:00Z,false
x2,bob,safe,2026-09-01T11:00:00Z,false
x3,alice,safe,2026-09-01T10:00:00Z,false
x3,bob,weapons,2026-09-01T11:00:00Z,false
x4,carol,nudity,2026-09-02T10:00:00Z,true
x5,alice,safe,2026-09-03T10:00:00Z,false
x5,bob,nudity,2026-09-03T11:00:00Z,false
x5,carol,weapons,2026-09-03T12:00:00Z,false
"""
REFERENCE = """
item_id,label,decided_at
x3,weapons,2026-09-05
x5,safe,2026-08-01
"""


@pytest.fixture
def store(db: Path, write) -> Path:
    import_files(db, "labels", [write("labels.csv", LABELS)])
    import_files(db, "items", [write("items.csv", ITEMS)])
    import_files(db, "reference", [write("reference.csv", REFERENCE)])
    import_files(db, "annotations", [write("annotations.csv", ANNOTATIONS)])
    return db


def test_queue_ranks_by_entropy_plus_unsure_share(store: Path) -> None:
    with connect(store, read_only=True) as con:
        queue = review_queue(con)
        top = review_queue(con, limit=1)
        with pytest.raises(ValueError, match="limit"):
            review_queue(con, limit=0)
    assert queue["item_id"].tolist() == ["x5", "x1", "x4"]  # x2 unanimous, x3 already ruled
    h1 = -(2 / 3 * np.log2(2 / 3) + 1 / 3 * np.log2(1 / 3))
    x5, x1, x4 = (queue.iloc[i] for i in range(3))
    assert x5["vote_entropy"] == pytest.approx(np.log2(3)) and x5["score"] == pytest.approx(
        np.log2(3)
    )
    assert x5["reference_label"] == "safe" and x5["votes"] == [
        {"label": "nudity", "annotators": ["bob"], "unsure": [False]},
        {"label": "safe", "annotators": ["alice"], "unsure": [False]},
        {"label": "weapons", "annotators": ["carol"], "unsure": [False]},
    ]
    assert x1["vote_entropy"] == pytest.approx(h1)
    assert x1["score"] == pytest.approx(h1 + 1 / 3)
    assert (x1["n_labels"], x1["n_annotators"], x1["n_unsure"]) == (3, 3, 1)
    assert x1["votes"] == [
        {"label": "safe", "annotators": ["alice", "bob"], "unsure": [True, False]},
        {"label": "nudity", "annotators": ["carol"], "unsure": [False]},
    ]
    assert votes_text(x1["votes"]) == "safe: alice?, bob; nudity: carol"
    assert votes_text(x1["votes"], {"alice": "Amber Heron"}) == (
        "safe: Amber Heron?, bob; nudity: carol"
    )
    assert x1["majority_label"] == "safe" and x1["split"] and x1["uri"] == "img/x1.jpg"
    assert x4["score"] == 1.0 and x4["vote_entropy"] == 0 and not x4["split"]
    assert top["item_id"].tolist() == ["x5"]


def test_queue_size_counts_the_whole_queue(store: Path) -> None:
    with connect(store, read_only=True) as con:
        assert review_queue_size(con) == len(review_queue(con)) == 3
        assert review_queue_size(con, Filters(annotators=("carol",))) == 1  # x4, unsure
        assert review_queue_size(con, Filters(annotators=("bob",))) == 0
