"""Box matching at scale: 1M annotator boxes against 250k committee boxes, against the usual way.

    python benchmarks/boxes.py [--committee 250000] [--annotators 4] [--folder /tmp/boxbench]

A seeded synthetic campaign: 100k images with 2.5 committee boxes on average (2 % crowded
images of 20 boxes packed side by side), each image boxed by 4 annotators who copy the committee
boxes with jitter, miss some, duplicate some, swap labels and draw extras. It is imported
through the canonical path (``--kind reference-boxes`` then ``--kind boxes``, Parquet), then

- ours: ``box_summary`` (TP/FP/FN at IoU 0.5, the COCO-style means over 10 thresholds,
  Wilson intervals) and ``box_errors``, from the ``box_candidates`` table kept at import;
- the usual way: the boxes read into pandas, then a Python loop per (image, annotator) and per
  label doing pycocotools-style matching (``pycocotools.mask.iou`` for the IoU matrix, COCOeval's
  greedy loop for the matches) at IoU 0.5.

Both count true positives per annotator; they differ only where greedy matching leaves a pair a
maximum matching finds (crowded images), and the script prints that difference.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections import Counter
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from qualitylib.ingest import import_files
from qualitylib.metrics.boxes import (
    _compact,
    _dense,
    _reference_edges,
    _submissions,
    box_agreement,
    box_errors,
    box_summary,
    match,
)
from qualitylib.metrics.filters import Filters
from qualitylib.store import connect

LABELS = np.array(["car", "person", "bicycle", "dog", "sign"])


def _committee(rng: np.random.Generator, n_boxes: int) -> pd.DataFrame:
    """Committee boxes: mostly 1-4 per image on a grid; 2 % of images crowded (20 boxes)."""
    n_images = int(n_boxes / 2.5)
    crowded = rng.random(n_images) < 0.02
    per_image = np.where(crowded, 20, rng.integers(1, 4, n_images))
    per_image = np.maximum(
        1, np.round(per_image * n_boxes / per_image.sum()).astype(int)
    )  # scale to about n_boxes
    image = np.repeat(np.arange(n_images), per_image)
    slot = np.arange(len(image)) - np.repeat(np.cumsum(per_image) - per_image, per_image)
    dense = np.repeat(crowded, per_image)
    # sparse images: one box per 300 px cell; crowded: 20 boxes of 60 px, 22 px apart
    # (neighbours at IoU ~0.46, so jitter makes some ambiguous)
    x = np.where(dense, 20 + slot * 22, 20 + (slot % 4) * 300) + rng.uniform(0, 10, len(image))
    y = np.where(dense, 100 + rng.uniform(0, 10, len(image)), 20 + (slot // 4) * 300)
    w = np.where(dense, 60, rng.uniform(40, 250, len(image)))
    h = np.where(dense, 90, rng.uniform(40, 250, len(image)))
    return pd.DataFrame(
        {
            "item_id": [f"img-{i}" for i in image],
            "label": rng.choice(LABELS, len(image)),
            "x_min": x.round(2),
            "y_min": y.round(2),
            "x_max": (x + w).round(2),
            "y_max": (y + h).round(2),
            "decided_at": pd.Timestamp("2026-09-01", tz="UTC"),
        }
    )


def _annotators(rng: np.random.Generator, ref: pd.DataFrame, n_annotators: int) -> pd.DataFrame:
    """Each annotator copies each committee box with jitter; 5 % missed, 3 % duplicated,
    4 % relabelled; plus 5 % extra boxes."""
    parts = []
    for a in range(n_annotators):
        keep = rng.random(len(ref)) > 0.05
        copies = ref[keep]
        copies = pd.concat([copies, copies[rng.random(len(copies)) < 0.03]], ignore_index=True)
        size = (copies["x_max"] - copies["x_min"]).to_numpy()
        jitter = rng.normal(0, 0.06, (len(copies), 4)) * size[:, None]
        corners = copies[["x_min", "y_min", "x_max", "y_max"]].to_numpy() + jitter
        corners = np.maximum(corners, 0)
        corners[:, 2:] = np.maximum(corners[:, 2:], corners[:, :2] + 2)
        labels = copies["label"].to_numpy().copy()
        swap = rng.random(len(labels)) < 0.04
        labels[swap] = rng.choice(LABELS, swap.sum())
        extra = ref.sample(frac=0.05, random_state=a)
        parts.append(
            pd.DataFrame(
                {
                    "item_id": np.r_[copies["item_id"].to_numpy(), extra["item_id"].to_numpy()],
                    "annotator_id": f"ann-{a}",
                    "label": np.r_[labels, rng.choice(LABELS, len(extra))],
                    "x_min": np.r_[corners[:, 0], np.full(len(extra), 1300.0)].round(2),
                    "y_min": np.r_[corners[:, 1], np.full(len(extra), 1300.0)].round(2),
                    "x_max": np.r_[corners[:, 2], np.full(len(extra), 1400.0)].round(2),
                    "y_max": np.r_[corners[:, 3], np.full(len(extra), 1400.0)].round(2),
                    "annotated_at": pd.Timestamp("2026-09-02", tz="UTC") + pd.Timedelta(minutes=a),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def ours_one_threshold(con: duckdb.DuckDBPyConnection, threshold: float = 0.5) -> dict:
    """The usual way's job done our way: true positives per annotator at one threshold."""
    _submissions(con, Filters())
    edges = _reference_edges(con, threshold, low=threshold)
    keep = edges.label == edges.ref_label
    hit = match(_compact(edges.left[keep]), _dense(edges.right[keep]), edges.iou[keep])
    who, n = np.unique(edges.who[keep][hit], return_counts=True)
    return dict(zip(who.tolist(), n.tolist(), strict=True))


def usual_way(db: Path, threshold: float = 0.5) -> tuple[dict[str, int], float, float]:
    """True positives per annotator by a per-image Python loop of pycocotools-style matching,
    with the wall and the CPU seconds it took."""
    from pycocotools import mask as coco_mask

    started, cpu = time.perf_counter(), time.process_time()
    with connect(db, read_only=True) as con:
        given = con.execute(
            """SELECT i.item_id, a.annotator_id, l.label, x_min, y_min, x_max - x_min AS w,
                      y_max - y_min AS h
               FROM boxes b JOIN items i USING (item_key) JOIN annotators a USING (annotator_key)
               JOIN labels l USING (label_key)"""
        ).df()
        ref = con.execute(
            """SELECT i.item_id, l.label, x_min, y_min, x_max - x_min AS w, y_max - y_min AS h
               FROM box_reference b JOIN items i USING (item_key) JOIN labels l USING (label_key)"""
        ).df()
    # group once by sorting (not a pandas lookup per group, which would dominate), then loop
    # in Python per (image, annotator, label); pycocotools reads the raw buffer, so C order
    ref = ref.sort_values(["item_id", "label"], kind="stable")
    ref_xywh = np.ascontiguousarray(ref[["x_min", "y_min", "w", "h"]].to_numpy())
    ref_keys = list(zip(ref["item_id"], ref["label"], strict=True))
    committee: dict[tuple[str, str], np.ndarray] = {}
    for position, key in enumerate(ref_keys):
        if key not in committee:
            committee[key] = position
    bounds = {key: (committee[key], committee[key] + n) for key, n in Counter(ref_keys).items()}
    given = given.sort_values(["item_id", "annotator_id", "label"], kind="stable")
    xywh = np.ascontiguousarray(given[["x_min", "y_min", "w", "h"]].to_numpy())
    keys = list(zip(given["item_id"], given["annotator_id"], given["label"], strict=True))
    tp: dict[str, int] = {}
    first = 0
    for end in range(1, len(keys) + 1):
        if end < len(keys) and keys[end] == keys[first]:
            continue
        item, who, label = keys[first]
        span = bounds.get((item, label))
        if span is not None:
            d, gts = xywh[first:end], ref_xywh[span[0] : span[1]]
            ious = coco_mask.iou(d, gts, [0] * len(gts))
            matched = np.zeros(len(gts), dtype=bool)
            for di in range(len(d)):  # COCOeval.evaluateImg: best unmatched committee box >= t
                best, best_iou = -1, min(threshold, 1 - 1e-10)
                for gi in range(len(gts)):
                    if matched[gi] or ious[di, gi] < best_iou:
                        continue
                    best, best_iou = gi, ious[di, gi]
                if best >= 0:
                    matched[best] = True
                    tp[who] = tp.get(who, 0) + 1
        first = end
    return tp, time.perf_counter() - started, time.process_time() - cpu


# The ASOF JOIN form of `box_sets` used before `cubes` read boxes (schema 9, session 4): the
# portable form in store.py must give the same rows, as fast.
ASOF_BOX_SETS_SQL = """
    WITH s AS (
        SELECT item_key, annotator_key, annotated_at, count(label_key) AS n_boxes,
               any_value(policy_version) AS policy_version, any_value(phase) AS phase
        FROM boxes GROUP BY ALL
    ), d AS (
        SELECT item_key, decided_at, count(label_key) AS n_ref FROM box_reference GROUP BY ALL
    ), first AS (SELECT item_key, min(decided_at) AS decided_at FROM d GROUP BY ALL
    ), as_of AS (
        SELECT s.*, d.decided_at AS in_force FROM s ASOF LEFT JOIN d
          ON s.item_key = d.item_key AND s.annotated_at >= d.decided_at
    ), decided AS (
        SELECT a.* EXCLUDE (in_force), coalesce(a.in_force, f.decided_at) AS ref_decided_at
        FROM as_of a LEFT JOIN first f USING (item_key)
    )
    SELECT x.item_key, x.annotator_key, x.annotated_at, x.n_boxes, x.policy_version, x.phase,
           row_number() OVER (PARTITION BY x.item_key, x.annotator_key
                              ORDER BY x.annotated_at DESC) = 1 AS is_current,
           x.ref_decided_at, d.n_ref
    FROM decided x LEFT JOIN d ON d.item_key = x.item_key AND d.decided_at = x.ref_decided_at
"""


def box_sets_forms(con: duckdb.DuckDBPyConnection) -> None:
    """Print `box_sets` by ASOF JOIN against the portable form (best of 3 each), and that both
    give the same rows."""
    from qualitylib.store import BOX_SETS_SQL

    portable = BOX_SETS_SQL.format(scope="true")
    for name, sql in (("ASOF JOIN", ASOF_BOX_SETS_SQL), ("window spans + join", portable)):
        times = []
        for _ in range(3):
            started, cpu = time.perf_counter(), time.process_time()
            con.execute(f"SELECT count(*) FROM ({sql})").fetchall()
            times.append((time.perf_counter() - started, time.process_time() - cpu))
        wall, cpu_s = min(times)
        print(f"`box_sets` by {name}: {wall:.2f} s (best of 3; CPU {cpu_s:.2f} s)")
    differ = sum(
        con.execute(f"SELECT count(*) FROM (({a}) EXCEPT ALL ({b}))").fetchall()[0][0]
        for a, b in ((ASOF_BOX_SETS_SQL, portable), (portable, ASOF_BOX_SETS_SQL))
    )
    print(f"rows that differ between the two forms: {differ}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--committee", type=int, default=250_000)
    parser.add_argument("--annotators", type=int, default=4)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/boxbench"))
    parser.add_argument(
        "--box-sets-only", action="store_true", help="stop after the two forms of box_sets"
    )
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    ref = _committee(rng, args.committee)
    boxes = _annotators(rng, ref, args.annotators)
    ref_path, boxes_path = args.folder / "reference.parquet", args.folder / "boxes.parquet"
    ref.to_parquet(ref_path, index=False)
    boxes.to_parquet(boxes_path, index=False)
    db = args.folder / "boxes.duckdb"
    db.unlink(missing_ok=True)
    print(f"load average at start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"machine: {duckdb.__version__=} {platform.python_version()} {platform.machine()}; "
        f"{len(ref):,} committee boxes on {ref['item_id'].nunique():,} images, "
        f"{len(boxes):,} annotator boxes"
    )
    started = time.perf_counter()
    import_files(db, "reference-boxes", [ref_path])
    import_files(db, "boxes", [boxes_path])
    print(f"import (validated, candidates with IoU derived): {time.perf_counter() - started:.1f} s")
    with connect(db, read_only=True) as con:
        box_sets_forms(con)
    if args.box_sets_only:
        return
    with connect(db, read_only=True) as con:
        n_candidates = con.execute("SELECT count(*) FROM box_candidates").fetchall()[0][0]
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            summary = box_summary(con)
            timings.append(time.perf_counter() - started)
        ours = float(np.median(timings))
        started = time.perf_counter()
        box_errors(con)
        errors = time.perf_counter() - started
        one = []
        for _ in range(3):
            started, cpu = time.perf_counter(), time.process_time()
            ours_one_threshold(con)
            one.append((time.perf_counter() - started, time.process_time() - cpu))
        ours_one, ours_one_cpu = (float(np.median(x)) for x in zip(*one, strict=True))
        gold_free = {}
        for name, run in (
            ("box_agreement (6 pairs per image)", lambda: box_agreement(con)),
            (
                "box_summary --against consensus (leave-one-out)",
                lambda: box_summary(con, against="consensus"),
            ),
        ):
            started = time.perf_counter()
            run()
            gold_free[name] = time.perf_counter() - started
    print(f"box_candidates: {n_candidates:,} overlapping pairs")
    print(f"ours: box_summary {ours:.2f} s (median of 3; 11 matchings), box_errors {errors:.2f} s")
    print(
        f"ours, TP at IoU 0.5 only (the usual way's job): {ours_one:.2f} s (median of 3; "
        f"CPU {ours_one_cpu:.2f} s)"
    )
    for name, seconds in gold_free.items():
        print(f"ours: {name} {seconds:.2f} s")
    tp, usual, usual_cpu = usual_way(db)
    print(
        f"usual way (pandas + per-image pycocotools-style loop, IoU 0.5 only): {usual:.1f} s "
        f"(CPU {usual_cpu:.1f} s)"
    )
    print(
        f"speed-up: {usual / ours_one:.0f}x on the same job (CPU time: "
        f"{usual_cpu / ours_one_cpu:.0f}x, {ours_one_cpu:.2f} s); the whole box_summary in "
        f"{ours:.1f} s"
    )
    ours_tp = dict(zip(summary["annotator_id"], summary["tp"], strict=True))
    diff = {who: int(ours_tp[who] - tp.get(who, 0)) for who in ours_tp}
    print(f"TP ours - greedy per annotator (maximum matching finds these more): {diff}")
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
