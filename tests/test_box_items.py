"""The images behind the box scores (tests/box_store.py): a person's images with errors, the
images two annotators box differently, one image's boxes matched, weak gold-free consensus."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qualitylib.metrics.box_items import (
    box_annotators_kept,
    box_differences,
    box_misses,
    box_scores,
    has_boxes,
    item_boxes,
    weak_consensus,
)
from qualitylib.metrics.boxes import (
    box_agreement,
    box_agreement_and_team,
    box_errors,
    box_summary,
    box_team_agreement,
)
from qualitylib.metrics.filters import Filters
from qualitylib.store import connect


def test_people_with_boxes_follow_the_filters(box_db: Path) -> None:
    with connect(box_db, read_only=True) as con:
        assert has_boxes(con)
        assert box_annotators_kept(con, Filters(teams=("team-boxes",))) == ["ann", "bob", "cy"]
        crowd = ["w1", "w2", "w3", "w4", "w5"]
        assert box_annotators_kept(con, Filters(since=date(2026, 9, 16))) == [
            "ann",
            "bob",
            "cy",
            *crowd,
        ]
        assert box_annotators_kept(con, Filters(until=date(2026, 9, 15))) == ["ann", "bob", "cy"]
        assert box_annotators_kept(con, Filters(since=date(2026, 9, 23))) == []


def test_misses_list_every_image_with_an_error_latest_first(box_db: Path) -> None:
    with connect(box_db, read_only=True) as con:
        found = box_misses(con, Filters(), "bob")
        errors = box_errors(con, Filters(annotators=("bob",)))
        assert box_misses(con, Filters(), "ann").total == 0
        assert box_misses(con, Filters(), "cy", labels=("person",)).total == 0
        assert box_misses(con, Filters(), "cy", labels=("truck",)).total == 6
        week = box_misses(con, Filters(since=date(2026, 9, 14), until=date(2026, 9, 20)), "bob")
    items = found.items
    assert found.total == 6
    assert items["item_id"].tolist() == ["img-6", "img-5", "img-4", "img-3", "img-2", "img-1"]
    first = items.set_index("item_id").loc["img-1"]
    assert (first.tp, first.missed, first.extra, first.wrong_class) == (1, 1, 1, 0)
    assert first.labels == "car, person" and (first.n_boxes, first.n_ref) == (2, 2)
    # the images' errors add up to the person's error table
    totals = errors.groupby("error")["n"].sum().to_dict()
    assert totals == {"extra": items["extra"].sum(), "missed": items["missed"].sum()}
    assert week.items["item_id"].tolist() == ["img-4", "img-3"]


def test_differences_between_two_annotators(box_db: Path) -> None:
    with connect(box_db, read_only=True) as con:
        found = box_differences(con, Filters(), "ann", "bob")
        with pytest.raises(ValueError, match="two different annotators"):
            box_differences(con, Filters(), "ann", "ann")
        with_cy = box_differences(con, Filters(), "cy", "ann")
    rows = found.items.set_index("item_id")
    assert found.total == 6 and rows.index[0] == "img-1"  # most differences first
    assert rows.loc["img-1", ["n_boxes_a", "n_boxes_b", "matched", "differences"]].tolist() == [
        2,
        2,
        1,
        2,
    ]
    assert rows.loc["img-2", "differences"] == 1
    # the truck is no match for the car: the person only
    assert with_cy.items["matched"].tolist() == [1] * 6 and with_cy.items["n_boxes_a"].iloc[0] == 2


def test_one_image_matched_and_classified_like_the_scores(box_db: Path) -> None:
    with connect(box_db, read_only=True) as con:
        bob = item_boxes(con, "img-1", "bob")
        cy = item_boxes(con, "img-2", "cy", other="ann")
        with pytest.raises(ValueError, match="'w1' has no boxes on item 'img-1'"):
            item_boxes(con, "img-1", "w1")
    assert bob.uri.endswith("img-1.png") and (bob.width, bob.height) == (640, 480)
    assert bob.mine[["label", "error"]].values.tolist() == [["car", "match"], ["car", "extra"]]
    assert bob.mine["iou"].iloc[0] == pytest.approx(2 / 3) and np.isnan(bob.mine["iou"].iloc[1])
    assert bob.theirs["error"].tolist() == ["match", "missed"]
    assert cy.mine[["label", "error"]].values.tolist() == [
        ["truck", "wrong_class"],
        ["person", "match"],
    ]
    assert cy.theirs["error"].tolist() == ["wrong_class", "match"]


def test_weak_consensus_queues_splits_and_images_nobody_agrees_on(box_db: Path) -> None:
    with connect(box_db, read_only=True) as con:
        found, clusters = weak_consensus(con, Filters())
        lenient, _ = weak_consensus(con, Filters(), min_support=0.5)
        with pytest.raises(ValueError, match="min_support"):
            weak_consensus(con, Filters(), min_support=0)
    rows = found.items.set_index("item_id")
    assert found.total == 2 and rows.index.tolist() == ["gf-3", "gf-2"]  # gf-1: all agree
    assert rows.loc["gf-2", ["n_workers", "n_objects", "n_split"]].tolist() == [5, 1, 2]
    assert rows.loc["gf-2", "lowest_support"] == pytest.approx(0.4)
    assert rows.loc["gf-2", "split_labels"] == "cat, dog"
    assert rows.loc["gf-3", "n_objects"] == 0 and np.isnan(rows.loc["gf-3", "lowest_support"])
    assert sorted(clusters["item_id"].unique()) == ["gf-2", "gf-3"]
    # at 0.5 the dog (3 of 5) is no longer split, the cat (2 of 5) still is
    assert lenient.items.set_index("item_id").loc["gf-2", "split_labels"] == "cat"


def test_page_scores_equal_the_library_summary_and_agreement(box_db: Path) -> None:
    with connect(box_db, read_only=True) as con:
        total, cells = box_scores(con, Filters(teams=("team-boxes",)))
        summary = box_summary(con, Filters(teams=("team-boxes",)))
        by_label = box_summary(con, Filters(teams=("team-boxes",)), by_label=True)
        pairs, team = box_agreement_and_team(con, Filters())
        expected_pairs, expected_team = box_agreement(con), box_team_agreement(con)
    shared = [c for c in total.columns if c in summary.columns]
    assert set(summary.columns) - set(shared) == {"precision_coco", "recall_coco"}
    pd.testing.assert_frame_equal(total[shared], summary[shared], check_dtype=False)
    pd.testing.assert_frame_equal(
        cells[shared[:1] + ["label"] + shared[1:]],
        by_label[shared[:1] + ["label"] + shared[1:]],
        check_dtype=False,
    )
    pd.testing.assert_frame_equal(pairs, expected_pairs)
    pd.testing.assert_frame_equal(team, expected_team)
