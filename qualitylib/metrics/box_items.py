"""Images behind the box scores: a person's images with errors against the committee, the
images two annotators box differently, gold-free images whose consensus is weak, and one
image's two sets of boxes matched (what an overlay draws).

Every error and match comes from the same classification as the scores
(:func:`qualitylib.metrics.boxes.classify`), so an image's list of errors adds up to the
person's ``box-errors``. Lists are cut at ``limit`` rows and carry their full count.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd

from qualitylib.log_scope import log_omitted
from qualitylib.metrics.boxes import (
    COORDINATES,
    ERRORS,
    Edges,
    _box_counts,
    _check_threshold,
    _clusters,
    _error_table,
    _names,
    _same_label_pairs,
    classify,
    iou_matrix,
    match,
)
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.items import LIMIT, ItemList, _check_limit

if TYPE_CHECKING:
    from qualitylib.metrics.box_timeline import BoxHistory

__all__ = [
    "ItemBoxes",
    "box_annotators_kept",
    "box_differences",
    "box_images",
    "box_misses",
    "box_scores",
    "box_team_timeline",
    "gold_free_images",
    "has_boxes",
    "has_tags",
    "item_boxes",
    "weak_consensus",
]

WEAK_SUPPORT = 0.7  # an object drawn by fewer than this share of an image's workers is split


def has_boxes(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store holds any box submission."""
    return bool(con.execute("SELECT EXISTS (SELECT 1 FROM box_sets)").fetchone()[0])


def has_tags(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store holds any tag (one label per item) annotation (a store without the
    log has them all in the lake: its label log is required)."""
    found = con.execute("SELECT EXISTS (SELECT 1 FROM annotations)").fetchone()[0]
    return bool(found) or log_omitted(con)


def box_images(con: duckdb.DuckDBPyConnection, filters: Filters) -> int:
    """Box submissions (an annotator's boxes on an image, empty ones included) under
    ``filters``."""
    where, params = filters.where("s")
    return int(con.execute(f"SELECT count(*) FROM box_sets s WHERE {where}", params).fetchone()[0])


def box_annotators_kept(con: duckdb.DuckDBPyConnection, filters: Filters) -> list[str]:
    """Ids of the annotators (not the committee) with box submissions under ``filters``."""
    where, params = filters.where("s")
    rows = con.execute(
        f"""SELECT annotator_id FROM annotators
            WHERE role IS DISTINCT FROM 'committee' AND annotator_key IN (
                SELECT s.annotator_key FROM box_sets s WHERE {where})
            ORDER BY annotator_id""",
        params,
    ).fetchall()
    return [row[0] for row in rows]


def box_misses(
    con: duckdb.DuckDBPyConnection,
    filters: Filters,
    annotator_id: str,
    labels: tuple[str, ...] = (),
    iou_threshold: float = 0.5,
    limit: int = LIMIT,
    history: BoxHistory | None = None,
) -> ItemList:
    """``annotator_id``'s submissions on committee-decided images with at least one error,
    latest first: ``item_id, uri, width, height, annotated_at, phase, policy_version,
    n_boxes, n_ref, tp`` and one count per error type (:data:`~qualitylib.metrics.boxes.
    ERRORS`), plus ``labels`` (the labels its errors involve, sorted).

    ``labels``: only errors that involve one of these labels, given or expected (all when
    empty). ``history``: :func:`~qualitylib.metrics.box_timeline.box_history` of these
    filters and threshold when the caller has it (its matching tells which submissions have
    an error, so only the listed ones are matched again).
    """
    from qualitylib.metrics.box_timeline import _SUBMISSION, _rows, grouped_box_counts

    _check_threshold(iou_threshold)
    _check_limit(limit)
    mine = replace(filters, annotators=(annotator_id,))
    if history is None:
        counts = grouped_box_counts(con, mine, _SUBMISSION, iou_threshold)
    else:
        key = history.people.loc[history.people["annotator_id"] == annotator_id, "annotator_key"]
        groups = history.counts.groups
        mask = groups["selected"].to_numpy(bool) & groups["annotator_key"].isin(key).to_numpy()
        counts = _rows(history.counts, mask)
    # a submission has an error when it has fewer matches than boxes on either side
    tp = counts.tp.sum(axis=1)
    wrong = (counts.given.sum(axis=1) > tp) | (counts.expected.sum(axis=1) > tp)
    con.register("_box_wrong_rows", counts.groups.loc[wrong, list(_SUBMISSION)])
    found = con.execute(
        """SELECT w.*, i.item_id FROM _box_wrong_rows w JOIN items i USING (item_key)
           ORDER BY w.annotated_at DESC, i.item_id"""
    ).df()
    con.unregister("_box_wrong_rows")
    columns = ["item_id", "uri", "width", "height", "annotated_at", "phase", "policy_version"]
    columns += ["n_boxes", "n_ref", "tp", *ERRORS, "labels"]
    if found.empty:
        return ItemList(pd.DataFrame(columns=columns), 0)
    # the error table of the listed submissions only (of all, when a label focus needs them)
    listed = found if labels else found.head(limit)
    con.register("_box_listed_rows", listed[list(_SUBMISSION)])
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _box_subs AS
           SELECT row_number() OVER () AS sub_id, s.* FROM box_sets s
           JOIN _box_listed_rows USING (item_key, annotator_key, annotated_at)"""
    )
    con.unregister("_box_listed_rows")
    arrays = con.execute(
        """SELECT s.sub_id AS who, c.box_id AS "left",
                  s.sub_id * 4294967296 + c.ref_box_id AS "right",
                  c.label_key AS label, c.ref_label_key AS ref_label, c.iou
           FROM box_candidates c JOIN _box_subs s USING (item_key, annotator_key, annotated_at)
           WHERE c.iou >= $low""",
        {"low": min(0.1, iou_threshold)},
    ).fetchnumpy()
    edges = Edges(**{k: np.asarray(v) for k, v in arrays.items()})
    given, reference = _box_counts(con, "sub_id")
    subs = con.execute(
        """SELECT s.sub_id AS who, i.item_id, i.uri, i.width, i.height, s.annotated_at,
                  s.phase, s.policy_version, s.n_boxes, coalesce(s.n_ref, 0) AS n_ref
           FROM _box_subs s JOIN items i USING (item_key)"""
    ).df()
    table = _error_table(edges, given, reference, iou_threshold)
    _, names = _names(con)
    table = table.assign(
        ref_name=table["ref_label"].map(lambda k: names.get(int(k))),
        name=table["label"].map(lambda k: names.get(int(k))),
    )
    errors = table[table["error"] != "tp"]
    if labels:
        errors = errors[errors["ref_name"].isin(labels) | errors["name"].isin(labels)]
    counts = table.pivot_table(index="who", columns="error", values="n", aggfunc="sum")
    counts = counts.reindex(columns=["tp", *ERRORS]).fillna(0).astype(int)
    involved = (
        pd.concat(
            [
                errors[["who", "ref_name"]].set_axis(["who", "l"], axis=1),
                errors[["who", "name"]].set_axis(["who", "l"], axis=1),
            ]
        )
        .dropna()
        .groupby("who")["l"]
        .agg(lambda values: ", ".join(sorted(set(values))))
    )
    out = subs[subs["who"].isin(errors["who"])].set_index("who").join(counts).join(involved)
    out = out.rename(columns={"l": "labels"}).sort_values(
        ["annotated_at", "item_id"], ascending=[False, True]
    )
    total = len(out) if labels else len(found)
    return ItemList(out[columns].head(limit).reset_index(drop=True), total)


def box_differences(
    con: duckdb.DuckDBPyConnection,
    filters: Filters,
    annotator_a: str,
    annotator_b: str,
    iou_threshold: float = 0.5,
    limit: int = LIMIT,
) -> ItemList:
    """Images ``annotator_a`` and ``annotator_b`` both boxed (current submissions) where their
    boxes differ, most differences first: ``item_id, uri, width, height, n_boxes_a,
    n_boxes_b, matched`` (same-label pairs at IoU >= t, one-to-one, as
    :func:`~qualitylib.metrics.boxes.box_agreement` counts them) and ``differences`` =
    boxes of either left unmatched."""
    _check_threshold(iou_threshold)
    _check_limit(limit)
    if annotator_a == annotator_b:
        raise ValueError(f"differences need two different annotators (got {annotator_a!r} twice)")
    where, params = replace(filters, annotators=(annotator_a, annotator_b)).where("s")
    shared = con.execute(
        f"""WITH cur AS (
                SELECT s.item_key, x.annotator_id, s.n_boxes FROM box_sets s
                JOIN annotators x USING (annotator_key) WHERE s.is_current AND {where}
            )
            SELECT i.item_key, i.item_id, i.uri, i.width, i.height,
                   a.n_boxes AS n_boxes_a, b.n_boxes AS n_boxes_b
            FROM cur a JOIN cur b ON a.item_key = b.item_key
            JOIN items i ON i.item_key = a.item_key
            WHERE a.annotator_id = $a AND b.annotator_id = $b""",
        params | {"a": annotator_a, "b": annotator_b},
    ).df()
    edges = con.execute(
        """SELECT p.item_key, p.box_a, p.box_b, p.iou FROM box_pairs p
           WHERE p.iou >= $t AND p.label_a = p.label_b
             AND p.key_a IN (SELECT annotator_key FROM annotators
                             WHERE annotator_id IN ($a, $b))
             AND p.key_b IN (SELECT annotator_key FROM annotators
                             WHERE annotator_id IN ($a, $b))""",
        {"t": iou_threshold, "a": annotator_a, "b": annotator_b},
    ).df()
    edges = edges[edges["item_key"].isin(shared["item_key"])]
    chosen = match(
        edges["box_a"].to_numpy(np.int64),
        edges["box_b"].to_numpy(np.int64),
        edges["iou"].to_numpy(),
    )
    matched = edges[chosen].groupby("item_key").size()
    shared["matched"] = matched.reindex(shared["item_key"]).fillna(0).astype(int).to_numpy()
    shared["differences"] = shared["n_boxes_a"] + shared["n_boxes_b"] - 2 * shared["matched"]
    out = shared[shared["differences"] > 0].sort_values(
        ["differences", "item_id"], ascending=[False, True]
    )
    return ItemList(out.drop(columns="item_key").head(limit).reset_index(drop=True), len(out))


@dataclass(frozen=True)
class ItemBoxes:
    """One image's two sets of boxes, matched: ``mine`` and ``theirs`` hold ``label, x_min,
    y_min, x_max, y_max, iou, error`` (``iou`` with the box's partner when it is matched,
    wrongly classed or poorly localised; ``error`` ``"match"`` or an error type), with the
    image's ``uri`` and size (``None`` when unknown)."""

    item_id: str
    uri: str | None
    width: int | None
    height: int | None
    mine: pd.DataFrame
    theirs: pd.DataFrame


def _boxes_of(
    con: duckdb.DuckDBPyConnection, item_id: str, annotator_id: str, at: datetime | None
) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """An annotator's boxes on an item at ``at`` (their current submission when ``None``), and
    the committee set in force for that submission."""
    found = con.execute(
        """SELECT s.item_key, s.annotated_at, s.ref_decided_at FROM box_sets s
           JOIN items i USING (item_key) JOIN annotators x USING (annotator_key)
           WHERE i.item_id = $item AND x.annotator_id = $who
             AND (s.annotated_at = $at OR ($at IS NULL AND s.is_current))""",
        {"item": item_id, "who": annotator_id, "at": at},
    ).fetchall()
    if not found:
        raise ValueError(f"{annotator_id!r} has no boxes on item {item_id!r} at that time")
    item_key, annotated_at, decided_at = found[0]
    boxes = con.execute(
        """SELECT l.label, b.x_min, b.y_min, b.x_max, b.y_max FROM boxes b
           JOIN labels l USING (label_key) JOIN annotators x USING (annotator_key)
           WHERE b.item_key = $key AND x.annotator_id = $who AND b.annotated_at = $at
           ORDER BY b.box_id""",
        {"key": item_key, "who": annotator_id, "at": annotated_at},
    ).df()
    return boxes, decided_at


def item_boxes(
    con: duckdb.DuckDBPyConnection,
    item_id: str,
    annotator_id: str,
    other: str | None = None,
    annotated_at: datetime | None = None,
    iou_threshold: float = 0.5,
) -> ItemBoxes:
    """``annotator_id``'s boxes on ``item_id`` (the submission made at ``annotated_at``, else
    their current one) matched to the committee's set in force for it, or to ``other``'s
    current boxes; classified as the scores classify them."""
    _check_threshold(iou_threshold)
    mine, decided_at = _boxes_of(con, item_id, annotator_id, annotated_at)
    if other is not None:
        theirs, _ = _boxes_of(con, item_id, other, None)
    else:
        theirs = con.execute(
            """SELECT l.label, r.x_min, r.y_min, r.x_max, r.y_max FROM box_reference r
               JOIN labels l USING (label_key) JOIN items i USING (item_key)
               WHERE i.item_id = $item AND r.decided_at = $at ORDER BY r.box_id""",
            {"item": item_id, "at": decided_at},
        ).df()
    uri, width, height = con.execute(
        "SELECT uri, width, height FROM items WHERE item_id = $item", {"item": item_id}
    ).fetchone()
    overlap = iou_matrix(
        mine[list(COORDINATES)].to_numpy(float), theirs[list(COORDINATES)].to_numpy(float)
    )
    i, j = np.nonzero(overlap > 0)
    codes = {label: k for k, label in enumerate(sorted(set(mine["label"]) | set(theirs["label"])))}
    edges = Edges(
        np.zeros(len(i), dtype=np.int64),
        i,
        j,
        mine["label"].map(codes).to_numpy()[i],
        theirs["label"].map(codes).to_numpy()[j],
        overlap[i, j],
    )
    masks = classify(edges, iou_threshold)
    out = []
    for frame, index, unmatched in ((mine, i, "extra"), (theirs, j, "missed")):
        frame = frame.assign(iou=np.nan, error=unmatched)
        for error in ("poor_localization", "wrong_class", "tp", "duplicate"):
            hit = masks[error]
            if error == "duplicate":  # a duplicate has no partner of its own
                if unmatched == "extra":
                    frame.loc[index[hit], "error"] = "duplicate"
                continue
            frame.loc[index[hit], "iou"] = edges.iou[hit]
            frame.loc[index[hit], "error"] = "match" if error == "tp" else error
        out.append(frame.reset_index(drop=True))
    return ItemBoxes(
        item_id,
        uri,
        int(width) if width is not None else None,
        int(height) if height is not None else None,
        *out,
    )


def _gold_free_scope(con: duckdb.DuckDBPyConnection, filters: Filters, min_workers: int) -> None:
    """Temp table ``_box_cur``: current submissions under ``filters`` on images without a
    committee set that ``min_workers`` or more workers boxed (the consensus helpers read it)."""
    where, params = filters.where("s")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _box_cur AS
            SELECT * FROM box_sets s
            WHERE s.is_current AND {where}
              AND s.item_key NOT IN (SELECT item_key FROM box_reference)
            QUALIFY count(*) OVER (PARTITION BY s.item_key) >= $k""",
        params | {"k": min_workers},
    )


def gold_free_images(con: duckdb.DuckDBPyConnection, filters: Filters) -> int:
    """Images without the committee's boxes that two or more workers boxed (current
    submissions under ``filters``): what a consensus is drawn from."""
    _gold_free_scope(con, filters, 2)
    return int(con.execute("SELECT count(DISTINCT item_key) FROM _box_cur").fetchone()[0])


def weak_consensus(
    con: duckdb.DuckDBPyConnection,
    filters: Filters,
    iou_threshold: float = 0.5,
    min_support: float = WEAK_SUPPORT,
    limit: int = LIMIT,
) -> tuple[ItemList, pd.DataFrame]:
    """Gold-free images (no committee set; three or more workers) whose consensus is weak,
    for the committee to rule on: an object drawn by at least two workers but by fewer than
    ``min_support`` of them (a split), or boxes drawn with no object a majority agrees on.

    Objects are the clusters of :func:`~qualitylib.metrics.boxes.consensus_boxes` with every
    cluster kept (the same clustering, on those images only). Returns the images, weakest
    first (``item_id, uri, width, height, n_workers, n_objects`` (objects a majority drew),
    ``n_split``, ``lowest_support``, ``split_labels``), and the clusters of the listed images
    (``item_id, label, x_min..y_max, n_workers, support, item_workers, majority``;
    ``majority``: drawn by more than half of the image's workers).
    """
    _check_threshold(iou_threshold)
    _check_limit(limit)
    if not 0 < min_support <= 1:
        raise ValueError(f"min_support must be in (0, 1], got {min_support}")
    _gold_free_scope(con, filters, 3)
    boxes = con.execute(
        """SELECT b.box_id, b.item_key, b.annotator_key AS who, b.label_key AS label,
                  b.x_min, b.y_min, b.x_max, b.y_max
           FROM boxes b SEMI JOIN _box_cur s USING (item_key, annotator_key, annotated_at)
           WHERE b.label_key IS NOT NULL ORDER BY b.box_id"""
    ).df()
    workers = con.execute("SELECT item_key, annotator_key AS who FROM _box_cur").df()
    pairs = _same_label_pairs(con, None, iou_threshold)  # _box_cur: the gold-free images
    clusters = _clusters(
        boxes.assign(scope=0), pairs.assign(scope=0), workers.assign(scope=0), 1
    ).drop(columns="scope")
    items = con.execute(
        """SELECT item_key, item_id, uri, width, height FROM items
           WHERE item_key IN (SELECT item_key FROM _box_cur)"""
    ).df()
    _, labels = _names(con)
    clusters["label"] = clusters["label"].map(lambda k: labels[int(k)])
    clusters = (
        items[["item_key", "item_id"]].merge(clusters, on="item_key").drop(columns="item_key")
    )
    clusters["item_workers"] = (clusters["n_workers"] / clusters["support"]).round().astype(int)
    majority = clusters["n_workers"] >= clusters["item_workers"] // 2 + 1
    split = (clusters["n_workers"] >= 2) & (clusters["support"] < min_support)
    seen = clusters[clusters["n_workers"] >= 2]
    per_item = pd.DataFrame(
        {
            "n_workers": clusters.groupby("item_id")["item_workers"].first(),
            "n_objects": majority.groupby(clusters["item_id"]).sum(),
            "n_split": split.groupby(clusters["item_id"]).sum(),
            "lowest_support": seen.groupby("item_id")["support"].min(),
            "split_labels": clusters[split]
            .groupby("item_id")["label"]
            .agg(lambda values: ", ".join(sorted(set(values)))),
        }
    )
    weak = per_item[(per_item["n_split"] > 0) | (per_item["n_objects"] == 0)].reset_index()
    weak[["n_objects", "n_split"]] = weak[["n_objects", "n_split"]].astype(int)
    weak["split_labels"] = weak["split_labels"].fillna("")
    weak = (
        items.drop(columns="item_key")
        .merge(weak, on="item_id")
        .sort_values(
            ["lowest_support", "n_split", "item_id"],
            ascending=[True, False, True],
            na_position="first",
        )
    )
    listed = weak.head(limit).reset_index(drop=True)
    shown = clusters[clusters["item_id"].isin(listed["item_id"])].assign(majority=majority)
    columns = ["item_id", "label", *COORDINATES, "n_workers", "support", "item_workers", "majority"]
    return ItemList(listed, len(weak)), shown[columns].reset_index(drop=True)


def box_team_timeline(
    con: duckdb.DuckDBPyConnection,
    filters: Filters,
    period: str = "week",
    iou_threshold: float = 0.5,
) -> pd.DataFrame:
    """The team's box scores per period, every annotator's boxes on committee images pooled:
    ``period_start, n_reference_images, tp, fp, fn``, precision and recall (Wilson), ``f1``,
    mean IoU (t), as :func:`~qualitylib.metrics.box_timeline.box_timeline` per person."""
    from qualitylib.metrics.box_timeline import box_rates, grouped_box_counts
    from qualitylib.metrics.periods import check_period

    check_period(period)
    counts = grouped_box_counts(
        con,
        filters,
        {"period_start": "date_trunc($period, s.annotated_at)::DATE"},
        iou_threshold,
        {"period": period},
    )
    rates = box_rates(
        *(a.sum(axis=1) for a in (counts.tp, counts.given, counts.expected)),
        counts.iou_sum.sum(axis=1),
        counts.iou_squares.sum(axis=1),
    )
    groups = counts.groups.rename(columns={"n_images": "n_reference_images"})
    return pd.concat([groups, pd.DataFrame(rates)], axis=1)


def box_scores(
    con: duckdb.DuckDBPyConnection, filters: Filters, iou_threshold: float = 0.5
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per annotator, and per annotator and label, from one matching: ``annotator_id``
    (``label``), ``n_items``, ``tp, fp, fn``, precision and recall (Wilson), ``f1, f1_n``,
    mean IoU (t). The values of :func:`~qualitylib.metrics.boxes.box_summary` (and its
    ``by_label``) without its ten COCO thresholds: what a page shows, at a page's speed."""
    from qualitylib.metrics.box_timeline import _scores, grouped_box_counts

    counts = grouped_box_counts(con, filters, {"annotator_key": "s.annotator_key"}, iou_threshold)
    people, _ = _names(con)
    return _scores(counts, people)
