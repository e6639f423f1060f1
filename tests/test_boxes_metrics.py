"""Box IoU, matching and scores: against pycocotools where the definitions agree, hand-worked
cases where they differ (crowded objects, ties, duplicates), properties, and the store path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given as hypothesis_given
from hypothesis import settings
from hypothesis import strategies as st
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from qualitylib.ingest import import_files
from qualitylib.metrics.boxes import (
    COCO_THRESHOLDS,
    Edges,
    box_agreement,
    box_confusion,
    box_errors,
    box_summary,
    box_team_agreement,
    classify,
    consensus_boxes,
    iou,
    iou_matrix,
    match,
)
from qualitylib.metrics.filters import Filters
from qualitylib.store import connect

Write = Callable[[str, str], Path]


def _xywh(boxes: np.ndarray) -> np.ndarray:
    return np.column_stack(
        [boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]]
    )


def _edges(images: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> Edges:
    """Edges of overlapping (given, reference) boxes per image: (boxes, labels, ref, ref labels)."""
    parts = []
    offset_l = offset_r = 0
    for given, labels, ref, ref_labels in images:
        m = iou_matrix(given, ref) if len(given) and len(ref) else np.zeros((len(given), len(ref)))
        i, j = np.nonzero(m > 0)
        parts.append((i + offset_l, j + offset_r, labels[i], ref_labels[j], m[i, j]))
        offset_l += len(given)
        offset_r += len(ref)
    cols = [np.concatenate([p[k] for p in parts]) for k in range(5)]
    return Edges(np.zeros(len(cols[0]), dtype=np.int64), *cols)


def _counts(edges: Edges, n_given: int, n_ref: int, t: float = 0.5) -> tuple[int, int, int]:
    tp = int(classify(edges, t)["tp"].sum())
    return tp, n_given - tp, n_ref - tp


# ------------------------------------------------------------------------------------------
# IoU and matching
# ------------------------------------------------------------------------------------------


def test_iou_equals_pycocotools() -> None:
    rng = np.random.default_rng(0)
    corner = rng.uniform(0, 500, (40, 2))
    a = np.column_stack([corner, corner + rng.uniform(1, 200, (40, 2))])
    corner = rng.uniform(0, 500, (30, 2))
    b = np.column_stack([corner, corner + rng.uniform(1, 200, (30, 2))])
    expected = coco_mask.iou(_xywh(a), _xywh(b), [0] * len(b))
    np.testing.assert_allclose(iou_matrix(a, b), expected, rtol=1e-12, atol=1e-15)


def test_iou_hand_worked() -> None:
    assert iou([0, 0, 10, 10], [5, 0, 15, 10])[0] == pytest.approx(50 / 150)
    assert iou([0, 0, 10, 10], [10, 0, 20, 10])[0] == 0.0  # touching edges do not overlap


def test_matching_maximises_pairs_where_greedy_coco_does_not() -> None:
    # committee A and B; box 0 overlaps A (0.9) and B (0.6), box 1 only A (0.6): greedy best-IoU
    # matching (COCO) gives 0 -> A and leaves 1 unmatched; the most pairs is 0 -> B, 1 -> A
    left, right, weight = np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([0.9, 0.6, 0.6])
    assert match(left, right, weight).tolist() == [False, True, True]


def test_matching_breaks_ties_in_cardinality_by_total_iou() -> None:
    # 2x2 all candidates: the pairing 0-0, 1-1 (1.7) beats 0-1, 1-0 (1.2)
    left, right = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    weight = np.array([0.9, 0.6, 0.6, 0.8])
    assert match(left, right, weight).tolist() == [True, False, False, True]


def test_matching_star_takes_the_best_box_and_leaves_duplicates() -> None:
    left, right, weight = np.array([0, 1, 2]), np.array([5, 5, 5]), np.array([0.7, 0.95, 0.8])
    assert match(left, right, weight).tolist() == [False, True, False]


def test_matching_is_one_to_one_and_maximum_on_random_crowds() -> None:
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(5)
    for _ in range(30):
        n, m = rng.integers(1, 7, 2)
        dense = np.where(rng.random((n, m)) < 0.5, rng.uniform(0.5, 1, (n, m)), 0)
        i, j = np.nonzero(dense)
        chosen = match(i, j, dense[i, j])
        assert len(set(i[chosen])) == chosen.sum() == len(set(j[chosen]))
        cost = np.where(dense > 0, 100 + dense, 0)
        r, c = linear_sum_assignment(cost, maximize=True)
        best = cost[r, c]
        assert chosen.sum() == (best > 0).sum()
        assert dense[i, j][chosen].sum() == pytest.approx(best[best > 0].sum() - 100 * chosen.sum())


def _tied_graph(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random sparse candidate edges over 12 x 12 boxes with IoUs from 4 values (many ties):
    single pairs, stars, 2 x 2 squares and larger crowds in one graph."""
    dense = np.where(rng.random((12, 12)) < 0.15, rng.choice([0.5, 0.6, 0.8, 1.0], (12, 12)), 0)
    i, j = np.nonzero(dense)
    return i * 3 + 7, j * 5 + 2, dense[i, j]  # ids need not be small or contiguous


def test_matching_equals_the_hungarian_method_on_every_component() -> None:
    from scipy.optimize import linear_sum_assignment
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(8)
    for _ in range(200):
        left, right, weight = _tied_graph(rng)
        chosen = match(left, right, weight)
        assert len(set(left[chosen])) == chosen.sum() == len(set(right[chosen]))
        graph = coo_matrix((np.ones(len(left)), (left, right + 100)), shape=(200, 200))
        component = connected_components(graph, directed=False)[1][left]
        for c in np.unique(component):
            on = component == c
            rows, cols = (
                np.unique(left[on], return_inverse=True)[1],
                np.unique(right[on], return_inverse=True)[1],
            )
            cost = np.zeros((rows.max() + 1, cols.max() + 1))
            cost[rows, cols] = 100 + weight[on]
            best = cost[linear_sum_assignment(cost, maximize=True)]
            assert chosen[on].sum() == (best > 0).sum()
            assert weight[on][chosen[on]].sum() == pytest.approx(
                best.sum() - 100 * (best > 0).sum()
            )


def test_matching_does_not_depend_on_the_order_of_the_edges() -> None:
    rng = np.random.default_rng(9)
    for _ in range(200):
        left, right, weight = _tied_graph(rng)
        order = rng.permutation(len(left))
        assert match(left[order], right[order], weight[order]).tolist() == (
            match(left, right, weight)[order].tolist()
        )


# ------------------------------------------------------------------------------------------
# Against pycocotools on scenes where each box meets at most one committee box
# ------------------------------------------------------------------------------------------


def _scene(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Committee boxes one per 200 px grid cell; annotator copies jittered, duplicated, missed,
    plus extras in empty cells (so no box overlaps two committee boxes)."""
    cells = rng.permutation(25)
    ref_cells, extra_cells = cells[:8], cells[8:11]

    def box_in(cell: int) -> np.ndarray:
        x, y = (cell % 5) * 200 + 30, (cell // 5) * 200 + 30
        w, h = rng.integers(40, 130, 2)
        return np.array([x, y, x + w, y + h], dtype=float)

    ref = np.array([box_in(c) for c in ref_cells])
    ref_labels = rng.integers(0, 2, len(ref))
    given, labels = [], []
    for box, label in zip(ref, ref_labels, strict=True):
        for _ in range(rng.choice([0, 1, 1, 1, 2])):
            given.append(box + rng.choice([0.0, 1.0, 4.0, 12.0]) * rng.uniform(-1, 1, 4))
            labels.append(label if rng.random() < 0.85 else 1 - label)
    for cell in extra_cells[: rng.integers(0, 3)]:
        given.append(box_in(cell))
        labels.append(rng.integers(0, 2))
    given_arr = np.array(given).reshape(-1, 4)
    given_arr[:, 2:] = np.maximum(given_arr[:, 2:], given_arr[:, :2] + 1)
    return given_arr, np.array(labels, dtype=int), ref, ref_labels


def _coco_tp(images: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """True positives per COCO threshold from pycocotools' own matching (equal scores)."""
    gt = {"images": [], "annotations": [], "categories": [{"id": 1}, {"id": 2}]}
    dt = []
    for number, (given, labels, ref, ref_labels) in enumerate(images, 1):
        gt["images"].append({"id": number, "width": 1000, "height": 1000})
        for box, label in zip(_xywh(ref), ref_labels, strict=True):
            gt["annotations"].append(
                {
                    "id": len(gt["annotations"]) + 1,
                    "image_id": number,
                    "category_id": int(label) + 1,
                    "bbox": box.tolist(),
                    "area": float(box[2] * box[3]),
                    "iscrowd": 0,
                }
            )
        for box, label in zip(_xywh(given), labels, strict=True):
            dt.append(
                {
                    "image_id": number,
                    "category_id": int(label) + 1,
                    "bbox": box.tolist(),
                    "score": 1.0,
                }
            )
    truth = COCO()
    truth.dataset = gt
    truth.createIndex()
    evaluation = COCOeval(truth, truth.loadRes(dt), "bbox")
    evaluation.params.maxDets = [1000]
    evaluation.evaluate()
    tp = np.zeros(len(COCO_THRESHOLDS), dtype=int)
    for result in evaluation.evalImgs:
        if result is None or result["aRng"] != [0, 1e10]:
            continue
        tp += ((result["dtMatches"] > 0) & ~result["dtIgnore"]).sum(axis=1)
    return tp


def test_true_positives_at_every_coco_threshold_equal_pycocotools() -> None:
    rng = np.random.default_rng(11)
    images = [_scene(rng) for _ in range(30)]
    edges = _edges(images)
    ours = [int(classify(edges, t)["tp"].sum()) for t in COCO_THRESHOLDS]
    assert ours == _coco_tp(images).tolist()
    assert ours[0] > ours[5] > ours[-1]  # the thresholds do discriminate on these scenes


# ------------------------------------------------------------------------------------------
# Properties
# ------------------------------------------------------------------------------------------

coords = st.integers(0, 300)


@st.composite
def image(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    def boxes(n: int) -> np.ndarray:
        corner = np.array(draw(st.lists(st.tuples(coords, coords), min_size=n, max_size=n)))
        size = np.array(
            draw(
                st.lists(
                    st.tuples(st.integers(1, 120), st.integers(1, 120)), min_size=n, max_size=n
                )
            )
        )
        return np.column_stack([corner, corner + size]).astype(float).reshape(-1, 4)

    n, m = draw(st.integers(0, 6)), draw(st.integers(0, 6))
    labels = np.array(draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)), dtype=int)
    ref_labels = np.array(draw(st.lists(st.integers(0, 2), min_size=m, max_size=m)), dtype=int)
    return boxes(n), labels, boxes(m), ref_labels


@settings(max_examples=60, deadline=None)
@hypothesis_given(
    st.lists(image(), min_size=1, max_size=4), st.integers(-500, 500), st.integers(-500, 500)
)
def test_translating_every_box_changes_nothing(images, dx: int, dy: int) -> None:
    shift = np.array([dx, dy, dx, dy], dtype=float) + 1000
    moved = [(g + shift, gl, r + shift, rl) for g, gl, r, rl in images]
    for t in (0.3, 0.5, 0.75):
        before = {k: int(v.sum()) for k, v in classify(_edges(images), t).items()}
        after = {k: int(v.sum()) for k, v in classify(_edges(moved), t).items()}
        assert before == after


@settings(max_examples=60, deadline=None)
@hypothesis_given(st.lists(image(), min_size=1, max_size=4))
def test_swapping_annotator_and_committee_swaps_precision_and_recall(images) -> None:
    n_given = sum(len(g) for g, *_ in images)
    n_ref = sum(len(r) for _, _, r, _ in images)
    swapped = [(r, rl, g, gl) for g, gl, r, rl in images]
    tp, fp, fn = _counts(_edges(images), n_given, n_ref)
    tp_s, fp_s, fn_s = _counts(_edges(swapped), n_ref, n_given)
    assert (tp_s, fp_s, fn_s) == (tp, fn, fp)


@settings(max_examples=40, deadline=None)
@hypothesis_given(st.lists(image(), min_size=1, max_size=4))
def test_a_perfect_copy_scores_one(images) -> None:
    copies = [(r, rl, r, rl) for _, _, r, rl in images]
    edges = _edges(copies)
    tp = classify(edges, 0.95)["tp"]
    n = sum(len(r) for _, _, r, _ in images)
    assert tp.sum() == n
    if n:
        assert edges.iou[tp].mean() == 1.0


# ------------------------------------------------------------------------------------------
# The store path: every error type, exact numbers
# ------------------------------------------------------------------------------------------

BOXES = "item_id,annotator_id,label,x_min,y_min,x_max,y_max,annotated_at"
REFERENCE = "item_id,label,x_min,y_min,x_max,y_max,decided_at"


@pytest.fixture
def scene(db: Path, write: Write) -> Path:
    """One committee image with car, person, car, dog; ``u`` makes one error of every kind,
    ``v`` copies the committee, ``w`` draws nothing on the empty control image."""
    import_files(
        db,
        "reference-boxes",
        [
            write(
                "ref.csv",
                f"""{REFERENCE}
                img-1,car,0,0,100,100,2026-09-01T00:00:00Z
                img-1,person,200,0,300,100,2026-09-01T00:00:00Z
                img-1,car,400,0,500,100,2026-09-01T00:00:00Z
                img-1,dog,600,0,700,100,2026-09-01T00:00:00Z
                img-2,,,,,,2026-09-01T00:00:00Z""",
            )
        ],
    )
    import_files(
        db,
        "boxes",
        [
            write(
                "boxes.csv",
                f"""{BOXES}
                img-1,u,car,0,0,100,100,2026-09-02T10:00:00Z
                img-1,u,car,2,2,100,100,2026-09-02T10:00:00Z
                img-1,u,car,200,0,300,100,2026-09-02T10:00:00Z
                img-1,u,car,400,0,440,100,2026-09-02T10:00:00Z
                img-1,u,car,800,0,900,100,2026-09-02T10:00:00Z
                img-2,u,car,10,10,50,50,2026-09-02T10:05:00Z
                img-1,v,car,0,0,100,100,2026-09-03T10:00:00Z
                img-1,v,person,200,0,300,100,2026-09-03T10:00:00Z
                img-1,v,car,400,0,500,100,2026-09-03T10:00:00Z
                img-1,v,dog,600,0,700,100,2026-09-03T10:00:00Z
                img-2,v,,,,,,2026-09-03T10:00:00Z
                img-2,w,,,,,,2026-09-03T10:00:00Z""",
            )
        ],
    )
    return db


def test_summary_counts_every_error_and_the_empty_control(scene: Path) -> None:
    with connect(scene, read_only=True) as con:
        summary = box_summary(con).set_index("annotator_id")
    u, v, w = summary.loc["u"], summary.loc["v"], summary.loc["w"]
    # u: 1 TP; FP = duplicate, wrong class, poor localisation, extra, the box on empty img-2
    assert (u.n_items, u.tp, u.fp, u.fn) == (2, 1, 5, 3)
    assert u.precision == pytest.approx(1 / 6) and u.recall == pytest.approx(1 / 4)
    assert u.f1 == pytest.approx(2 / (2 + 5 + 3)) and u.mean_iou == 1.0
    assert (u.precision_n, u.recall_n) == (6, 4)
    assert (v.tp, v.fp, v.fn, v.precision, v.recall, v.f1, v.mean_iou) == (4, 0, 0, 1, 1, 1, 1)
    assert v.precision_coco == 1.0 and v.recall_coco == 1.0
    # w saw the empty image and drew nothing: counted, nothing to score
    assert (w.n_items, w.tp, w.fp, w.fn) == (1, 0, 0, 0) and np.isnan(w.precision)


def test_summary_by_label(scene: Path) -> None:
    with connect(scene, read_only=True) as con:
        frame = box_summary(con, by_label=True)
    u = frame[frame["annotator_id"] == "u"].set_index("label")
    assert u[["tp", "fp", "fn"]].to_dict("index") == {
        "car": {"tp": 1, "fp": 5, "fn": 1},
        "dog": {"tp": 0, "fp": 0, "fn": 1},
        "person": {"tp": 0, "fp": 0, "fn": 1},
    }
    v = frame[frame["annotator_id"] == "v"]
    assert v["precision"].tolist() == [1.0, 1.0, 1.0] and v["label"].tolist() == [
        "car",
        "dog",
        "person",
    ]


def test_summary_by_label_with_large_annotator_keys(db: Path, tmp_path: Path) -> None:
    """Keys grow with the rows imported: an annotator first met after row 32,768 has a key
    that overflowed 32-bit arithmetic when combined with a label key."""
    lines = [BOXES, *(f"empty-{i},filler,,,,,,2026-09-02T10:00:00Z" for i in range(33_000))]
    lines += ["img-1,late,car,0,0,100,100,2026-09-02T10:00:00Z"]
    (tmp_path / "many.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    reference = tmp_path / "ref.csv"
    reference.write_text(f"{REFERENCE}\nimg-1,car,0,0,100,100,2026-09-01T00:00:00Z\n")
    import_files(db, "reference-boxes", [reference])
    import_files(db, "boxes", [tmp_path / "many.csv"])
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT max(annotator_key) FROM annotators").fetchone()[0] > 32_768
        frame = box_summary(con, by_label=True)
    assert frame[["annotator_id", "label", "tp", "fp", "fn"]].values.tolist() == [
        ["late", "car", 1, 0, 0]
    ]


def test_errors_explain_every_left_over_box(scene: Path) -> None:
    with connect(scene, read_only=True) as con:
        errors = box_errors(con)
    rows = [tuple(r) for r in errors.fillna("-").itertuples(index=False)]
    assert rows == [
        ("u", "wrong_class", "person", "car", 1),
        ("u", "poor_localization", "car", "car", 1),
        ("u", "duplicate", "car", "car", 1),
        ("u", "extra", "-", "car", 2),
        ("u", "missed", "dog", "-", 1),
    ]


def test_confusion_matrix_counts_nothing_on_both_sides(scene: Path) -> None:
    with connect(scene, read_only=True) as con:
        confusion = box_confusion(con)
    u = confusion[confusion["annotator_id"] == "u"]
    assert {(r.reference_label, r.label): r.n for r in u.itertuples()} == {
        ("car", "car"): 1,
        ("person", "car"): 1,
        ("nothing", "car"): 4,  # duplicate, poor localisation, two extras
        ("car", "nothing"): 1,  # the poorly localised car
        ("dog", "nothing"): 1,
    }


def test_iou_threshold_moves_poor_localisation_to_a_match(scene: Path) -> None:
    with connect(scene, read_only=True) as con:
        u = box_summary(con, iou_threshold=0.4).set_index("annotator_id").loc["u"]
    assert u.tp == 2  # IoU of (400,0,440,100) with (400,0,500,100) is exactly 0.4


def test_since_filters_submissions(scene: Path) -> None:
    with connect(scene, read_only=True) as con:
        summary = box_summary(con, Filters(since=pd_date("2026-09-03")))
    assert summary["annotator_id"].tolist() == ["v", "w"]


def pd_date(text: str):
    from datetime import date

    return date.fromisoformat(text)


def test_agreement_between_annotators(scene: Path) -> None:
    with connect(scene, read_only=True) as con:
        pairs = box_agreement(con).set_index(["annotator_a", "annotator_b"])
        team = box_team_agreement(con)
    uv = pairs.loc[("u", "v")]
    # same-label matches: the car at (0,0) only (u's (400,..440) is IoU 0.4 with v's car);
    # geometric: also u's car on v's person -> labels (car, car) and (car, person)
    assert (uv.n_items, uv.n_boxes_a, uv.n_boxes_b, uv.matched) == (2, 6, 4, 1)
    assert uv.f1 == pytest.approx(2 / 10) and uv.label_kappa_n == 2
    vw = pairs.loc[("v", "w")]
    assert (vw.n_items, vw.n_boxes_a, vw.n_boxes_b, vw.matched) == (1, 0, 0, 0)
    assert np.isnan(vw.f1)
    assert team.loc[0, "matched"] == 1 and team.loc[0, "n_pairs"] == 3


def test_agreement_and_consensus_keep_to_the_filtered_annotators(scene: Path) -> None:
    with connect(scene, read_only=True) as con:
        pairs = box_agreement(con, Filters(annotators=("v", "w")))
        consensus = consensus_boxes(con, Filters(annotators=("u",)), min_workers=1)
    assert pairs[["annotator_a", "annotator_b", "n_items", "matched"]].values.tolist() == [
        ["v", "w", 1, 0]
    ]
    # u alone: each of u's 6 boxes is a cluster of one worker (a worker's own boxes are never
    # linked, so the overlapping cars at (0,0) and (2,2) stay apart); v's copies are left out
    assert len(consensus) == 6 and consensus["n_workers"].tolist() == [1] * 6


def test_consensus_and_leave_one_out(db: Path, write: Write) -> None:
    # five workers, no committee: four draw the car (one shifted), one draws nothing; two draw
    # a dog that a majority (3 of 5) does not support
    import_files(
        db,
        "boxes",
        [
            write(
                "gt.csv",
                f"""{BOXES}
                img-1,w1,car,10,10,110,110,2026-09-02T10:00:00Z
                img-1,w2,car,12,10,112,110,2026-09-02T10:00:00Z
                img-1,w3,car,10,14,110,114,2026-09-02T10:00:00Z
                img-1,w4,car,30,30,130,130,2026-09-02T10:00:00Z
                img-1,w1,dog,300,300,350,350,2026-09-02T10:00:00Z
                img-1,w2,dog,302,300,352,350,2026-09-02T10:00:00Z
                img-1,w5,,,,,,2026-09-02T10:00:00Z""",
            )
        ],
    )
    with connect(db, read_only=True) as con:
        consensus = consensus_boxes(con)
        loo = box_summary(con, against="consensus").set_index("annotator_id")
        two = consensus_boxes(con, min_workers=2)
    assert consensus.to_dict("records") == [
        {
            "item_id": "img-1",
            "label": "car",
            "x_min": 11.0,
            "y_min": 12.0,
            "x_max": 111.0,
            "y_max": 112.0,
            "n_workers": 4,
            "support": 0.8,
        }
    ]
    assert sorted(two["label"]) == ["car", "dog"]
    # w1 against w2..w5 (K = 3 of 4): the car cluster (w2, w3, w4) stays, the dog (w2) does not
    assert (loo.loc["w1", "tp"], loo.loc["w1", "fp"], loo.loc["w1", "fn"]) == (1, 1, 0)
    # w5 drew nothing: misses the car the others agree on
    assert (loo.loc["w5", "tp"], loo.loc["w5", "fp"], loo.loc["w5", "fn"]) == (0, 0, 1)


def test_cli_exports_box_tables(scene: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qualitylib.cli import main

    assert main(["export", "--db", str(scene), "box-errors", "--iou", "0.4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "annotator_id,error,reference_label,label,n"
    assert "u,poor_localization,car,car,1" not in lines  # at 0.4 that car is a match
    assert "u,missed,dog,,1" in lines
    assert main(["export", "--db", str(scene), "box-summary", "--until", "2026-09-02"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in out[1:]] == ["u"]
    assert main(["export", "--db", str(scene), "consensus-boxes", "--min-workers", "2"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("img-1,car,0.0,0.0,100.0,100.0,2,")
    assert main(["export", "--db", str(scene), "box-agreement", "--iou", "0"]) == 2
