"""The demo's box project: each persona is found by the metric meant to find it, the careful
expert by none; the images are real pictures; the tag team's tables do not see the box team."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from qualitylib import demo_boxes
from qualitylib.metrics.box_items import box_misses, box_scores
from qualitylib.metrics.box_timeline import (
    box_drift_alerts,
    box_history,
    box_onboarding,
    box_sizes,
    box_timeline,
)
from qualitylib.metrics.boxes import box_errors, box_summary
from qualitylib.metrics.filters import Filters
from qualitylib.store import connect

TEAM = Filters(teams=(demo_boxes.TEAM_NAME,))


@pytest.fixture(scope="module")
def boxes_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The box project of seed 0 alone in a store (the demo builds it beside the tag team)."""
    path = tmp_path_factory.mktemp("boxes") / "demo.duckdb"
    demo_boxes.build(path, seed=0)
    return path


@pytest.fixture(scope="module")
def personas(boxes_db: Path) -> dict[str, str]:
    with connect(boxes_db, read_only=True) as con:
        rows = con.execute("SELECT persona, annotator_id FROM demo_box_personas").fetchall()
    return {persona: who for persona, who in rows if not persona.startswith("crowd")}


@pytest.fixture(scope="module")
def scores(boxes_db: Path) -> dict[str, pd.DataFrame]:
    with connect(boxes_db, read_only=True) as con:
        return {
            "summary": box_summary(con, TEAM).set_index("annotator_id"),
            "errors": box_errors(con, TEAM),
            "sizes": box_sizes(con, TEAM),
            "onboarding": box_onboarding(con, TEAM).set_index("annotator_id"),
            "alerts": box_drift_alerts(con, TEAM),
            "timeline": box_timeline(con, TEAM),
            "consensus": box_summary(con, TEAM, against="consensus").set_index("annotator_id"),
        }


def _flagged(values: pd.Series, condition: pd.Series) -> set[str]:
    return set(values.index[condition])


def test_the_loose_boxer_is_found_by_mean_iou_and_poor_localisation(
    scores: dict[str, pd.DataFrame], personas: dict[str, str]
) -> None:
    iou = scores["summary"]["mean_iou"].dropna()
    assert _flagged(iou, iou < 0.75) == {personas["loose"]}
    assert iou[personas["loose"]] == pytest.approx(0.64, abs=0.04)
    errors = scores["errors"]
    poor = errors[errors["error"] == "poor_localization"].groupby("annotator_id")["n"].sum()
    assert poor.idxmax() == personas["loose"] and poor.max() >= 10


def test_the_misser_is_found_by_recall_on_small_objects(
    scores: dict[str, pd.DataFrame], personas: dict[str, str]
) -> None:
    sizes = scores["sizes"].pivot(index="annotator_id", columns="size", values="recall")
    small = sizes["small"].dropna()
    assert _flagged(small, small < 0.6) == {personas["small_misser"]}
    # on medium objects the misser is as good as anyone careful
    assert sizes.loc[personas["small_misser"], "medium"] > 0.95


def test_the_confuser_is_found_by_wrong_class_truck_as_car(
    scores: dict[str, pd.DataFrame], personas: dict[str, str]
) -> None:
    errors = scores["errors"]
    wrong = errors[errors["error"] == "wrong_class"].groupby("annotator_id")["n"].sum()
    expected = scores["summary"]["recall_n"]
    share = (wrong.reindex(expected.index, fill_value=0) / expected).dropna()
    assert _flagged(share, share > 0.05) == {personas["confuser"]}
    mine = errors[
        (errors["annotator_id"] == personas["confuser"]) & (errors["error"] == "wrong_class")
    ]
    top = mine.sort_values("n").iloc[-1]
    assert (top.reference_label, top.label) == ("truck", "car")


def test_the_learner_becomes_aligned(
    boxes_db: Path, scores: dict[str, pd.DataFrame], personas: dict[str, str]
) -> None:
    learner = personas["learner"]
    timeline = scores["timeline"].set_index("annotator_id").loc[learner]
    recall = timeline["recall"].to_numpy()
    assert recall[0] < 0.7 and (recall[-4:] > 0.9).all()
    with connect(boxes_db, read_only=True) as con:
        early = box_onboarding(con, Filters(until=pd.Timestamp("2026-09-13").date()))
    assert early.set_index("annotator_id").loc[learner, "status"] == "in_training"
    status = scores["onboarding"]
    assert status.loc[learner, "status"] == "aligned"
    # the only ones never aligned: the misser and the confuser, by recall / precision
    never = set(status.index[status["first_aligned"].isna()])
    assert never == {personas["small_misser"], personas["confuser"]}


def test_the_drifter_is_found_by_box_drift_alerts(
    boxes_db: Path, scores: dict[str, pd.DataFrame], personas: dict[str, str]
) -> None:
    alerts = scores["alerts"]
    assert set(alerts["scope"]) == {"annotator"}
    assert set(alerts["annotator_id"]) == {personas["drifter"]}
    assert set(alerts["label"]) == {"person"}
    with connect(boxes_db, read_only=True) as con:
        start = con.execute(
            "SELECT drift_start FROM demo_box_personas WHERE persona = 'drifter'"
        ).fetchone()[0]
    assert alerts["week_start"].min() == pd.Timestamp(start)  # the drift's first week
    assert scores["onboarding"].loc[personas["drifter"], "status"] == "regressed"


def test_the_careful_expert_is_found_by_none(
    scores: dict[str, pd.DataFrame], personas: dict[str, str]
) -> None:
    expert = personas["expert"]
    me = scores["summary"].loc[expert]
    assert me.mean_iou > 0.9 and me.recall > 0.98 and me.precision > 0.98
    sizes = scores["sizes"].set_index(["annotator_id", "size"])
    assert sizes.loc[(expert, "small"), "recall"] > 0.95
    errors = scores["errors"]
    assert set(errors[errors["annotator_id"] == expert]["error"]) <= {"missed"}
    assert scores["onboarding"].loc[expert, "status"] == "aligned"
    assert expert not in set(scores["alerts"]["annotator_id"])


def test_the_gold_free_batch_finds_the_sloppy_worker_by_consensus(
    scores: dict[str, pd.DataFrame],
) -> None:
    crowd = scores["consensus"].loc[[p.annotator_id for p in demo_boxes.CROWD]]
    assert crowd["recall"].idxmin() == "w05" and crowd.loc["w05", "recall"] < 0.7
    assert (crowd.drop(index="w05")["recall"] > 0.85).all()
    assert (crowd["n_items"] == demo_boxes.CROWD_IMAGES).all()


@pytest.mark.parametrize(
    "filters",
    [
        TEAM,
        replace(TEAM, since=date(2026, 9, 21), until=date(2026, 10, 18)),  # weeks 3 to 6
        replace(TEAM, phases=("production",), policy_versions=()),
        replace(TEAM, phases=("training",), since=date(2026, 9, 7)),  # the learner's 2nd week
    ],
    ids=["team", "range", "production", "training-since"],
)
def test_one_matching_gives_what_the_separate_calls_give(
    boxes_db: Path, personas: dict[str, str], filters: Filters
) -> None:
    # the debrief's numbers from one matching (box_history) equal the separate calls, for the
    # team and for each persona alone (the drifter's alerts, the learner's onboarding, the
    # confuser's images with errors)
    chosen = [filters] + [replace(filters, annotators=(who,)) for who in personas.values()]
    shown = []
    with connect(boxes_db, read_only=True) as con:
        for f in chosen:
            history = box_history(con, f, iou_threshold=0.6)
            scores, by_label = box_scores(con, f, 0.6)
            shared_scores, shared_by_label = history.scores()
            pd.testing.assert_frame_equal(shared_scores, scores)
            pd.testing.assert_frame_equal(shared_by_label, by_label)
            pd.testing.assert_frame_equal(history.timeline(), box_timeline(con, f, "week", 0.6))
            pd.testing.assert_frame_equal(
                history.onboarding(0.8, 0.85),
                box_onboarding(con, f, 0.8, 0.85, iou_threshold=0.6),
            )
            pd.testing.assert_frame_equal(
                history.drift_alerts(recall_objective=0.8, precision_objective=0.85),
                box_drift_alerts(
                    con, f, recall_objective=0.8, precision_objective=0.85, iou_threshold=0.6
                ),
            )
            who = f.annotators[0] if f.annotators else personas["confuser"]
            for labels in [(), ("car",)]:  # the images with errors, told which by the matching
                alone = box_misses(con, f, who, labels, 0.6, limit=20)
                told = box_misses(con, f, who, labels, 0.6, limit=20, history=history)
                pd.testing.assert_frame_equal(told.items, alone.items)
                assert told.total == alone.total
            shown.append(len(by_label))
    assert shown[0] > 0  # the team's tables are not empty


def test_generation_is_seeded() -> None:
    one, again, other = demo_boxes.generate(0), demo_boxes.generate(0), demo_boxes.generate(1)
    pd.testing.assert_frame_equal(one.boxes, again.boxes)
    pd.testing.assert_frame_equal(one.reference, again.reference)
    assert not one.boxes.equals(other.boxes)


def test_images_are_drawn_next_to_the_store(boxes_db: Path) -> None:
    with connect(boxes_db, read_only=True) as con:
        items = con.execute("SELECT item_id, uri, width, height FROM items ORDER BY item_id").df()
        car = con.execute(
            """SELECT r.x_min, r.y_min, r.x_max, r.y_max, i.uri FROM box_reference r
               JOIN items i USING (item_key) JOIN labels l USING (label_key)
               WHERE l.label = 'car' ORDER BY r.box_id LIMIT 1"""
        ).fetchone()
    folder = demo_boxes.images_folder(boxes_db)
    assert folder == boxes_db.parent / "demo_images"
    assert items["uri"].tolist() == [str(folder / f"{i}.png") for i in items["item_id"]]
    assert len(list(folder.glob("*.png"))) == len(items)
    with Image.open(items["uri"].iloc[0]) as image:
        assert image.format == "PNG" and image.size == (demo_boxes.WIDTH, demo_boxes.HEIGHT)
    (x0, y0, x1, y1, uri) = car
    with Image.open(uri) as image:
        pixels = np.asarray(image.convert("RGB"))
    # the car's body is painted inside its committee box, and the road is outside it
    inside = pixels[int(y0) : int(y1), int(x0) : int(x1)].reshape(-1, 3)
    assert (inside == demo_boxes.PAINT["car"]).all(axis=1).mean() > 0.3


def test_the_tag_team_does_not_see_the_box_team(demo_db: Path) -> None:
    from qualitylib.metrics import catalog
    from qualitylib.metrics.filters import annotators_kept
    from qualitylib.metrics.onboarding import onboarding_status
    from qualitylib.store import label_set

    box_people = {p.annotator_id for p in (*demo_boxes.BOX_TEAM, *demo_boxes.CROWD)}
    with connect(demo_db, read_only=True) as con:
        kept = set(annotators_kept(con, Filters()))
        status = set(onboarding_status(con)["annotator_id"])
        labels = label_set(con)["label"].tolist()
        options = catalog.filter_options(con)
        n_box_people = len(box_summary(con, TEAM))
    assert not kept & box_people and not status & box_people
    assert labels == ["safe", "alcohol", "gambling", "drugs", "nudity", "weapons"]
    assert options["labels"] == labels and options["box_labels"] == sorted(demo_boxes.LABELS)
    assert demo_boxes.TEAM_NAME in options["teams"] and n_box_people == 6
