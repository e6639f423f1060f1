"""Bounding boxes: IoU, one-to-one matching, detection errors and agreement, on arrays.

Definitions (the README's "Boxes" section says the same):

- **IoU** of two boxes ``(x_min, y_min, x_max, y_max)`` in pixels: intersection area over union
  area (areas as ``(x_max - x_min) * (y_max - y_min)``, no "+1" pixel convention, as COCO).
- **Matching** of a submission's boxes to the committee's, per label: the one-to-one matching
  with the most pairs at IoU >= t, ties broken by the larger total IoU (then by the lowest box
  ids, so results never depend on row order). Components where every box has one candidate,
  where one box faces several (a "star"), or where two boxes face two are solved with array
  operations; only the other crowded components go to the Hungarian method
  (``scipy.optimize.linear_sum_assignment``) on the weight ``C + IoU`` with ``C`` larger than
  any total IoU, which puts the number of pairs first.
- **TP** = a matched pair; **FP** = an annotator box left over; **FN** = a committee box left
  over. The left-overs are then explained, in the spirit of TIDE (Bolya et al. 2020), each box
  once: ``wrong_class`` = a left-over pair at IoU >= t with different labels (one FP and one
  FN; matched one-to-one ignoring the label); ``poor_localization`` = a left-over pair of the
  same label with 0.1 <= IoU < t (one FP and one FN, matched one-to-one); ``duplicate`` = a
  left-over box at IoU >= t with a committee box of its label that is already matched (FP);
  ``extra`` = any other left-over annotator box (FP); ``missed`` = any other left-over committee
  box (FN).
- **Precision** = TP / (TP + FP), **recall** = TP / (TP + FN) with Wilson intervals;
  **F1** = 2 TP / (2 TP + FP + FN); **mean IoU** of the matched pairs with a t interval;
  ``precision_coco`` / ``recall_coco``: the mean over t = 0.50, 0.55, ..., 0.95 (human boxes have
  no scores, so no average precision).

Rows stay in DuckDB: the candidate pairs (overlapping boxes with their IoU) are derived at import
(tables ``box_candidates``, ``box_pairs``); only the pairs of the selection come here, as arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
from scipy import stats
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from qualitylib.agreement import cohen_kappa_tables
from qualitylib.intervals import wilson
from qualitylib.metrics.filters import Filters
from qualitylib.store import IOU_SQL

__all__ = [
    "COCO_THRESHOLDS",
    "ERRORS",
    "Edges",
    "box_agreement",
    "box_agreement_and_team",
    "box_confusion",
    "box_errors",
    "box_summary",
    "box_team_agreement",
    "classify",
    "consensus_boxes",
    "iou",
    "iou_matrix",
    "match",
]

COCO_THRESHOLDS = np.round(np.arange(0.5, 0.951, 0.05), 2)
POOR_IOU = 0.1  # lowest IoU at which a left-over pair of one label is a localisation error
ERRORS = ("wrong_class", "poor_localization", "duplicate", "extra", "missed")
NOTHING = "nothing"
COORDINATES = ("x_min", "y_min", "x_max", "y_max")
NO_FILTERS = Filters()  # the row / column of the confusion matrix for "no box"


# ------------------------------------------------------------------------------------------
# Geometry and matching (pure numpy)
# ------------------------------------------------------------------------------------------


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``a[i]`` and ``b[i]`` (shape ``(n, 4)``: x_min, y_min, x_max, y_max).

    The same arithmetic as the store's SQL (:data:`qualitylib.store.IOU_SQL`).
    """
    a = np.asarray(a, dtype=float).reshape(-1, 4)
    b = np.asarray(b, dtype=float).reshape(-1, 4)
    w = np.maximum(np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0)
    h = np.maximum(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return w * h / (area_a + area_b - w * h)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (n, 4) with every box of ``b`` (m, 4): shape (n, m)."""
    a = np.asarray(a, dtype=float).reshape(-1, 4)
    b = np.asarray(b, dtype=float).reshape(-1, 4)
    n, m = len(a), len(b)
    return iou(np.repeat(a, m, axis=0), np.tile(b, (n, 1))).reshape(n, m)


def _dense(ids: np.ndarray) -> np.ndarray:
    """Ranks 0..k-1 of the distinct values of ``ids`` (equal values, equal ranks), as
    ``np.unique(ids, return_inverse=True)[1]`` gives, in half its time (one stable argsort)."""
    ids = np.asarray(ids)
    if not len(ids):
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    ranks = np.empty(len(ids), dtype=np.int64)
    ranks[order] = np.concatenate(([0], np.cumsum(ordered[1:] != ordered[:-1])))
    return ranks


def _compact(ids: np.ndarray) -> np.ndarray:
    """``ids`` as small non-negative integers: unchanged when already small enough to count
    with ``np.bincount`` (a sort is the costliest step of a matching), else renumbered."""
    ids = np.asarray(ids)
    if len(ids) and ids.min() >= 0 and ids.max() < 4 * len(ids) + 1024:
        return ids.astype(np.int64, copy=False)
    return _dense(ids)


def match(left: np.ndarray, right: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The one-to-one matching with the most edges, then the largest total weight.

    ``left[e]``, ``right[e]`` are integer ids of the two boxes of candidate edge ``e`` (ids on
    the two sides are separate name spaces); ``weight`` is in [0, 1] (an IoU). Returns a
    boolean mask of the chosen edges. Edges whose two boxes have no other candidate are taken
    as they are; a component where one box faces several takes its heaviest edge (the lowest
    ids on ties, so the order of the edges never matters); two boxes facing two take the
    heavier of their two pairings; every other component is solved by
    ``linear_sum_assignment`` on ``C + weight``, ``C`` = the component's smaller side + 1, so
    one more pair always outweighs any gain in total IoU.
    """
    n = len(weight)
    chosen = np.zeros(n, dtype=bool)
    if n == 0:
        return chosen
    lid, rid = _compact(left), _compact(right)
    deg_l, deg_r = np.bincount(lid), np.bincount(rid)
    simple = (deg_l[lid] == 1) & (deg_r[rid] == 1)
    chosen[simple] = True
    rest = np.flatnonzero(~simple)
    if not len(rest):
        return chosen
    # components of the remaining edges, on their own boxes numbered from 0
    lid_rest, rid_rest = _compact(lid[rest]), _compact(rid[rest])
    n_l, n_r = int(lid_rest.max()) + 1, int(rid_rest.max()) + 1
    graph = coo_matrix(
        (np.ones(len(rest)), (lid_rest, rid_rest + n_l)), shape=(n_l + n_r, n_l + n_r)
    )
    n_comp, node_component = connected_components(graph, directed=False)
    component = node_component[lid_rest]
    lefts = np.bincount(node_component[:n_l], minlength=n_comp)
    rights = np.bincount(node_component[n_l:], minlength=n_comp)
    kind = np.where((lefts == 1) | (rights == 1), 1, np.where((lefts == 2) & (rights == 2), 2, 3))
    edge_kind = kind[component]
    # stars: the heaviest edge of each component, on ties the one with the lowest box ids (so
    # the result does not depend on the order of the edges)
    star = edge_kind == 1
    if star.any():
        order = np.lexsort((rid_rest[star], lid_rest[star], -weight[rest][star], component[star]))
        edges = rest[star][order]
        first = np.r_[True, np.diff(component[star][order]) != 0]
        chosen[edges[first]] = True
    square = edge_kind == 2
    if square.any():
        chosen[rest[square]] = _two_by_two(
            component[square], lid_rest[square], rid_rest[square], weight[rest][square]
        )
    crowded = edge_kind == 3
    if crowded.any():
        chosen[rest[crowded]] = _hungarian(
            component[crowded], lid_rest[crowded], rid_rest[crowded], weight[rest][crowded]
        )
    return chosen


def _two_by_two(
    component: np.ndarray, lid: np.ndarray, rid: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    """Chosen edges of components of two boxes facing two (3 or 4 edges): the pairing that
    exists, or the heavier of the two (the first one, lower ids together, on a tie, as
    ``linear_sum_assignment`` does)."""
    slot = _dense(component)
    k = int(slot.max()) + 1
    low_l, low_r = np.full(k, np.iinfo(np.int64).max), np.full(k, np.iinfo(np.int64).max)
    np.minimum.at(low_l, slot, lid)
    np.minimum.at(low_r, slot, rid)
    row, col = (lid != low_l[slot]).astype(int), (rid != low_r[slot]).astype(int)
    w = np.full((k, 2, 2), np.nan)
    w[slot, row, col] = weight
    straight, crossed = w[:, 0, 0] + w[:, 1, 1], w[:, 0, 1] + w[:, 1, 0]
    take_crossed = np.isnan(straight) | (crossed > straight)
    return (row == col) != take_crossed[slot]


def _hungarian(
    component: np.ndarray, lid: np.ndarray, rid: np.ndarray, weight: np.ndarray
) -> np.ndarray:
    """Chosen edges of crowded components: ``linear_sum_assignment`` per component on
    cardinality-first weights, boxes numbered from 0 within each component."""
    order = np.argsort(component, kind="stable")
    component, lid, rid, weight = component[order], lid[order], rid[order], weight[order]
    # each component's boxes numbered from 0, for all components at once: ranks of
    # (component, box) are contiguous per component, so subtracting its lowest rank works
    rows = _dense(component * (np.int64(lid.max()) + 1) + lid)
    cols = _dense(component * (np.int64(rid.max()) + 1) + rid)
    starts = np.flatnonzero(np.r_[True, np.diff(component) != 0])
    sizes = np.diff(np.r_[starts, len(rows)])
    rows -= np.repeat(np.minimum.reduceat(rows, starts), sizes)
    cols -= np.repeat(np.minimum.reduceat(cols, starts), sizes)
    n_rows = np.maximum.reduceat(rows, starts) + 1
    n_cols = np.maximum.reduceat(cols, starts) + 1
    bonus = np.repeat(np.minimum(n_rows, n_cols) + 1.0, sizes)
    value = bonus + weight
    picked = np.zeros(len(weight), dtype=bool)
    stops = [*starts[1:].tolist(), len(rows)]
    shapes = zip(n_rows.tolist(), n_cols.tolist(), strict=True)
    for start, stop, shape in zip(starts.tolist(), stops, shapes, strict=True):
        cost = np.zeros(shape)
        index = np.full(shape, -1)
        r, c = rows[start:stop], cols[start:stop]
        cost[r, c] = value[start:stop]
        index[r, c] = np.arange(start, stop)
        at = index[linear_sum_assignment(cost, maximize=True)]
        picked[at[at >= 0]] = True
    chosen = np.zeros(len(weight), dtype=bool)
    chosen[order] = picked
    return chosen


@dataclass(frozen=True)
class Edges:
    """Candidate pairs between given boxes (left) and reference boxes (right), as arrays.

    ``who``: the annotator key of the left box; ``left`` / ``right``: box ids, unique within
    the scored selection on each side (a committee box scored in two submissions is two ids);
    ``label`` / ``ref_label``: label keys; ``iou``: the pair's IoU (> 0).
    """

    who: np.ndarray
    left: np.ndarray
    right: np.ndarray
    label: np.ndarray
    ref_label: np.ndarray
    iou: np.ndarray


def _taken(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For each edge, whether its box (``ids``) is in an edge selected by ``mask``."""
    size = int(ids.max()) + 1 if len(ids) else 0
    hit = np.zeros(size, dtype=bool)
    hit[ids[mask]] = True
    return hit[ids]


def _alone(lid: np.ndarray, rid: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Edges of ``mask`` whose two boxes have no other edge in ``mask``: a pair on its own,
    which every matching of a subset of ``mask`` takes whenever the subset holds it."""
    deg_l = np.bincount(lid[mask], minlength=int(lid.max()) + 1 if len(lid) else 0)
    deg_r = np.bincount(rid[mask], minlength=int(rid.max()) + 1 if len(rid) else 0)
    return mask & (deg_l[lid] == 1) & (deg_r[rid] == 1)


def classify(edges: Edges, threshold: float = 0.5) -> dict[str, np.ndarray]:
    """Edge masks ``tp``, ``wrong_class``, ``poor_localization``, ``duplicate`` at IoU >= t.

    See the module docstring; a ``duplicate`` mask marks one edge per duplicate box. A pair
    whose boxes meet no other pair that counts (most of them) is classified by its own labels
    and IoU; only the others go through the matchings.
    """
    lid, rid = _compact(edges.left), _compact(edges.right)
    same = edges.label == edges.ref_label
    over = edges.iou >= threshold
    alone = _alone(lid, rid, over | (same & (edges.iou >= POOR_IOU)))
    masks = {
        "tp": alone & same & over,
        "wrong_class": alone & ~same & over,
        "poor_localization": alone & same & ~over,
        "duplicate": np.zeros(len(lid), dtype=bool),
    }
    linked = np.flatnonzero((over | (same & (edges.iou >= POOR_IOU))) & ~alone)
    found = _classify_linked(lid[linked], rid[linked], same[linked], edges.iou[linked], threshold)
    for name, mask in found.items():
        masks[name][linked] = mask
    return masks


def _classify_linked(
    lid: np.ndarray, rid: np.ndarray, same: np.ndarray, weight: np.ndarray, threshold: float
) -> dict[str, np.ndarray]:
    """:func:`classify` by successive matchings (pairs, wrong class, poor localisation)."""
    over = weight >= threshold
    tp = np.zeros(len(lid), dtype=bool)
    e1 = np.flatnonzero(same & over)
    tp[e1] = match(lid[e1], rid[e1], weight[e1])
    used_l, used_r = _taken(lid, tp), _taken(rid, tp)
    wrong = np.zeros_like(tp)
    e2 = np.flatnonzero(over & ~used_l & ~used_r)
    wrong[e2] = match(lid[e2], rid[e2], weight[e2])
    used_l |= _taken(lid, wrong)
    used_r |= _taken(rid, wrong)
    poor = np.zeros_like(tp)
    e3 = np.flatnonzero(same & ~over & (weight >= POOR_IOU) & ~used_l & ~used_r)
    poor[e3] = match(lid[e3], rid[e3], weight[e3])
    used_l |= _taken(lid, poor)
    matched_r = _taken(rid, tp)
    dup_edges = np.flatnonzero(same & over & ~used_l & matched_r)
    duplicate = np.zeros_like(tp)
    first = np.unique(lid[dup_edges], return_index=True)[1]
    duplicate[dup_edges[first]] = True
    return {"tp": tp, "wrong_class": wrong, "poor_localization": poor, "duplicate": duplicate}


def _tp_per_threshold(
    edges: Edges, at: np.ndarray, size: int, thresholds: np.ndarray
) -> np.ndarray:
    """True positives per threshold (ascending) and per group ``at``: shape (k, size).

    A same-label pair on its own at the lowest threshold stays on its own at higher ones, so
    it counts wherever its IoU reaches the threshold; the others are matched per threshold.
    """
    same = np.flatnonzero((edges.label == edges.ref_label) & (edges.iou >= thresholds[0]))
    lid, rid, weight, group = edges.left[same], edges.right[same], edges.iou[same], at[same]
    alone = _alone(lid, rid, np.ones(len(same), dtype=bool))
    linked = np.flatnonzero(~alone)
    # the linked pairs' boxes numbered once, so no matching below renumbers them
    lid[linked], rid[linked] = _dense(lid[linked]), _dense(rid[linked])
    k = len(thresholds)
    level = np.searchsorted(thresholds, weight[alone], side="right")  # thresholds reached
    reached = np.bincount(group[alone] * (k + 1) + level, minlength=size * (k + 1))
    # at threshold j: pairs that reach more than j thresholds, as integers
    tp = reached.reshape(size, k + 1)[:, ::-1].cumsum(axis=1)[:, ::-1][:, 1:].T.copy()
    for j, t in enumerate(thresholds):
        keep = linked[weight[linked] >= t]
        hit = match(lid[keep], rid[keep], weight[keep])
        tp[j] += np.bincount(group[keep][hit], minlength=size)
    return tp


def _t_interval(n: np.ndarray, total: np.ndarray, squares: np.ndarray, alpha: float = 0.05):
    """Mean and Student t interval from counts, sums and sums of squares (NaN where n < 2)."""
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        var = np.maximum(squares - n * mean**2, 0) / (n - 1)
        half = stats.t.ppf(1 - alpha / 2, np.maximum(n - 1, 1)) * np.sqrt(var / n)
    mean = np.where(n > 0, mean, np.nan)
    half = np.where(n > 1, half, np.nan)
    return mean, np.clip(mean - half, 0, 1), np.clip(mean + half, 0, 1)


# ------------------------------------------------------------------------------------------
# Reading the store
# ------------------------------------------------------------------------------------------


def _submissions(con: duckdb.DuckDBPyConnection, filters: Filters, current: bool = False) -> None:
    """Temp table ``_box_subs``: the selected submissions on committee-decided items, numbered."""
    where, params = filters.where("s")
    extra = " AND s.is_current" if current else ""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _box_subs AS
            SELECT row_number() OVER () AS sub_id,  -- an id only: no sort needed
                   s.* FROM box_sets s
            WHERE s.ref_decided_at IS NOT NULL AND {where}{extra}""",
        params,
    )


def _reference_edges(
    con: duckdb.DuckDBPyConnection, threshold: float, low: float | None = None
) -> Edges:
    """The candidate pairs of ``_box_subs`` that a scoring at IoU ``threshold`` looks at: any
    pair at IoU >= t, and same-label pairs down to ``low`` (default: the poor localisation
    floor, or t if lower); pairs of two labels below t are neither matched nor explained."""
    low = min(POOR_IOU, threshold) if low is None else low
    arrays = con.execute(
        """SELECT c.annotator_key AS who, c.box_id AS "left",
                  s.sub_id * 4294967296 + c.ref_box_id AS "right",
                  c.label_key AS label, c.ref_label_key AS ref_label, c.iou
           FROM box_candidates c JOIN _box_subs s USING (item_key, annotator_key, annotated_at)
           WHERE c.iou >= $t OR (c.iou >= $low AND c.label_key = c.ref_label_key)""",
        {"t": threshold, "low": low},
    ).fetchnumpy()
    return Edges(**{k: np.asarray(v) for k, v in arrays.items()})


def _box_counts(
    con: duckdb.DuckDBPyConnection, who: str = "annotator_key"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Annotator boxes per (``who``, label) and committee boxes per (``who``, label); ``who``:
    a column of ``_box_subs`` (the annotator, or ``sub_id``: one submission)."""
    given = con.execute(
        f"""SELECT s.{who} AS who, b.label_key AS label, count(*) AS n
           FROM boxes b JOIN _box_subs s USING (item_key, annotator_key, annotated_at)
           WHERE b.label_key IS NOT NULL GROUP BY ALL"""
    ).df()
    reference = con.execute(
        f"""SELECT s.{who} AS who, r.label_key AS label, count(*) AS n
           FROM box_reference r JOIN _box_subs s
             ON r.item_key = s.item_key AND r.decided_at = s.ref_decided_at
           WHERE r.label_key IS NOT NULL GROUP BY ALL"""
    ).df()
    return given, reference


def _names(con: duckdb.DuckDBPyConnection) -> tuple[dict[int, str], dict[int, str]]:
    """Annotator ids and labels by key."""
    people = dict(con.execute("SELECT annotator_key, annotator_id FROM annotators").fetchall())
    labels = dict(con.execute("SELECT label_key, label FROM labels").fetchall())
    return people, labels


def _n_items(con: duckdb.DuckDBPyConnection) -> pd.Series:
    """Items per annotator among ``_box_subs`` (empty submissions included)."""
    frame = con.execute(
        "SELECT annotator_key AS who, count(DISTINCT item_key) AS n FROM _box_subs GROUP BY ALL"
    ).df()
    return frame.set_index("who")["n"]


# ------------------------------------------------------------------------------------------
# Scores against a reference (the committee, or a consensus)
# ------------------------------------------------------------------------------------------


def _summary(
    edges: Edges,
    given: pd.DataFrame,
    reference: pd.DataFrame,
    n_items: pd.Series,
    threshold: float,
    people: dict[int, str],
) -> pd.DataFrame:
    """One row per annotator from candidate edges and box counts (see :func:`box_summary`)."""
    who = np.array(sorted(set(n_items.index)), dtype=np.int64)
    at = np.searchsorted(who, edges.who)
    size = len(who)
    n_given = np.bincount(
        np.searchsorted(who, given["who"].to_numpy(np.int64)),
        weights=given["n"].to_numpy(float),
        minlength=size,
    )
    n_ref = np.bincount(
        np.searchsorted(who, reference["who"].to_numpy(np.int64)),
        weights=reference["n"].to_numpy(float),
        minlength=size,
    )
    # box ids renumbered once, so no matching below sorts them again
    edges = Edges(
        edges.who,
        _compact(edges.left),
        _dense(edges.right),
        edges.label,
        edges.ref_label,
        edges.iou,
    )
    masks = classify(edges, threshold)
    tp_mask = masks["tp"]
    tp = np.bincount(at[tp_mask], minlength=size).astype(float)
    ious = edges.iou[tp_mask]
    sums = np.bincount(at[tp_mask], weights=ious, minlength=size)
    squares = np.bincount(at[tp_mask], weights=ious**2, minlength=size)
    mean, mean_low, mean_high = _t_interval(tp, sums, squares)
    coco_p, coco_r = np.zeros(size), np.zeros(size)
    for tp_t in _tp_per_threshold(edges, at, size, COCO_THRESHOLDS):
        with np.errstate(invalid="ignore", divide="ignore"):
            coco_p += tp_t / n_given
            coco_r += tp_t / n_ref
    fp, fn = n_given - tp, n_ref - tp
    frame = pd.DataFrame(
        {
            "annotator_id": [people[int(k)] for k in who],
            "key": who,
            "n_items": n_items.reindex(who).to_numpy(),
            "tp": tp.astype(int),
            "fp": fp.astype(int),
            "fn": fn.astype(int),
        }
    )
    for name, hits, n in (("precision", tp, n_given), ("recall", tp, n_ref)):
        low, high = wilson(hits, n)
        with np.errstate(invalid="ignore", divide="ignore"):
            frame[name] = np.where(n > 0, hits / np.where(n > 0, n, 1), np.nan)
        frame[f"{name}_ci_low"], frame[f"{name}_ci_high"], frame[f"{name}_n"] = low, high, n
        frame[f"{name}_n"] = frame[f"{name}_n"].astype(int)
    denominator = 2 * tp + fp + fn
    frame["f1"] = np.where(
        denominator > 0, 2 * tp / np.where(denominator > 0, denominator, 1), np.nan
    )
    frame["f1_n"] = denominator.astype(int)
    frame["mean_iou"], frame["mean_iou_n"] = mean, tp.astype(int)
    frame["mean_iou_ci_low"], frame["mean_iou_ci_high"] = mean_low, mean_high
    k = len(COCO_THRESHOLDS)
    frame["precision_coco"] = np.where(n_given > 0, coco_p / k, np.nan)
    frame["recall_coco"] = np.where(n_ref > 0, coco_r / k, np.nan)
    return frame.sort_values(["annotator_id", "key"]).reset_index(drop=True)


def box_summary(
    con: duckdb.DuckDBPyConnection,
    filters: Filters = NO_FILTERS,
    iou_threshold: float = 0.5,
    against: str = "reference",
    by_label: bool = False,
) -> pd.DataFrame:
    """One row per annotator: ``annotator_id, n_items, tp, fp, fn``, precision and recall with
    ``_ci_low, _ci_high, _n`` (Wilson), ``f1, f1_n, mean_iou, mean_iou_n, precision_coco,
    recall_coco`` and ``mean_iou_ci_low, mean_iou_ci_high`` (Student t, last, so the columns
    before them keep their places); ``by_label``: one row per annotator and label (a box of
    label L given or expected; the matches are per label already).

    ``against="reference"`` scores every selected submission on committee-decided items
    against the committee set in force when it was made; ``n_items`` counts those items (empty
    ones included). ``against="consensus"`` scores each annotator's current boxes against the
    consensus of the other annotators (leave-one-out, :func:`consensus_boxes`).
    """
    _check_threshold(iou_threshold)
    if against == "consensus":
        if by_label:
            raise ValueError("by_label is available against the reference only")
        return _leave_one_out(con, filters, iou_threshold)
    if against != "reference":
        raise ValueError(f"against must be 'reference' or 'consensus', got {against!r}")
    _submissions(con, filters)
    edges = _reference_edges(con, iou_threshold)
    given, reference = _box_counts(con)
    people, labels = _names(con)
    n_items = _n_items(con)
    if not by_label:
        frame = _summary(edges, given, reference, n_items, iou_threshold, people)
        return frame.drop(columns="key")
    # one "annotator" per (annotator, label): TP edges share the label on both sides
    step = np.int64(1 << 16)  # 64-bit: annotator keys grow with the rows imported
    keyed = [
        frame.assign(who=frame["who"].astype(np.int64) * step + frame["label"])
        for frame in (given, reference)
    ]
    keys = np.union1d(keyed[0]["who"], keyed[1]["who"]).astype(np.int64)
    edges = Edges(
        edges.who.astype(np.int64) * step + edges.label,
        *(getattr(edges, f) for f in Edges.__dataclass_fields__ if f != "who"),
    )
    names = {int(k): people[int(k) // step] for k in keys}
    frame = _summary(
        edges,
        *keyed,
        pd.Series(n_items.reindex(keys // step).to_numpy(), index=keys),
        iou_threshold,
        names,
    )
    frame.insert(1, "label", [labels[int(k) % step] for k in frame.pop("key")])
    return frame.sort_values(["annotator_id", "label"]).reset_index(drop=True)


def _check_threshold(threshold: float) -> None:
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"the IoU threshold must be in (0, 1], got {threshold}")


def _error_table(
    edges: Edges,
    given: pd.DataFrame,
    reference: pd.DataFrame,
    threshold: float,
) -> pd.DataFrame:
    """``who, error, ref_label, label, n`` with label keys (-1 = none), and TP as ``tp``."""
    masks = classify(edges, threshold)
    parts = []
    for error in ("tp", "wrong_class", "poor_localization", "duplicate"):
        mask = masks[error]
        ref = edges.ref_label[mask] if error != "duplicate" else edges.label[mask]
        parts.append(
            pd.DataFrame(
                {
                    "who": edges.who[mask],
                    "error": error,
                    "ref_label": ref,
                    "label": edges.label[mask],
                }
            )
        )
    found = pd.concat(parts, ignore_index=True)
    found = found.groupby(["who", "error", "ref_label", "label"]).size().rename("n").reset_index()
    keys = ["who", "label"]
    fp_used = found[found["error"] != "tp"].groupby(keys)["n"].sum()
    tp_used = found[found["error"] == "tp"].groupby(keys)["n"].sum()
    used = fp_used.add(tp_used, fill_value=0)
    extra = given.set_index(keys)["n"].sub(used, fill_value=0)
    fn_side = found[found["error"].isin(["tp", "wrong_class", "poor_localization"])]
    fn_used = fn_side.groupby(["who", "ref_label"])["n"].sum()
    fn_used.index = fn_used.index.set_names(keys)
    missed = reference.set_index(keys)["n"].sub(fn_used, fill_value=0)
    left = [
        extra.rename("n").reset_index().assign(error="extra", ref_label=-1),
        missed.rename("n")
        .reset_index()
        .assign(error="missed", ref_label=lambda f: f["label"], label=-1),
    ]
    table = pd.concat([found, *left], ignore_index=True)
    table["n"] = table["n"].astype(int)
    return table[table["n"] > 0]


def _labelled(table: pd.DataFrame, people: dict[int, str], labels: dict[int, str], none: object):
    """Replace keys by ids and labels (-1 by ``none``)."""
    out = table.copy()
    out.insert(0, "annotator_id", out.pop("who").map(lambda k: people[int(k)]))
    for column in ("ref_label", "label"):
        out[column] = out[column].map(lambda k: none if int(k) < 0 else labels[int(k)])
    return out.rename(columns={"ref_label": "reference_label"})


def box_errors(
    con: duckdb.DuckDBPyConnection, filters: Filters = NO_FILTERS, iou_threshold: float = 0.5
) -> pd.DataFrame:
    """``annotator_id, error, reference_label, label, n``: the FP and FN boxes against the
    committee explained as :data:`ERRORS` (labels blank where there is no box)."""
    _check_threshold(iou_threshold)
    _submissions(con, filters)
    edges = _reference_edges(con, iou_threshold)
    given, reference = _box_counts(con)
    people, labels = _names(con)
    table = _error_table(edges, given, reference, iou_threshold)
    table = table[table["error"] != "tp"]
    out = _labelled(table, people, labels, None)
    out["error"] = pd.Categorical(out["error"], categories=list(ERRORS), ordered=True)
    out = out.sort_values(["annotator_id", "error", "reference_label", "label"], na_position="last")
    out["error"] = out["error"].astype(str)
    return out[["annotator_id", "error", "reference_label", "label", "n"]].reset_index(drop=True)


def box_confusion(
    con: duckdb.DuckDBPyConnection, filters: Filters = NO_FILTERS, iou_threshold: float = 0.5
) -> pd.DataFrame:
    """Detection confusion matrix per annotator, long: ``annotator_id, reference_label, label,
    n``; boxes matched geometrically at IoU >= t (TP and wrong class), every other box against
    ``"nothing"``."""
    _check_threshold(iou_threshold)
    _submissions(con, filters)
    edges = _reference_edges(con, iou_threshold)
    given, reference = _box_counts(con)
    people, labels = _names(con)
    table = _error_table(edges, given, reference, iou_threshold)
    # a poorly localised pair is a box given for nothing and a committee box missed at t
    poor = table["error"] == "poor_localization"
    table = pd.concat(
        [
            table[~poor].assign(
                ref_label=table["ref_label"].where(table["error"] != "duplicate", -1)
            ),
            table[poor].assign(ref_label=-1),
            table[poor].assign(label=-1),
        ],
        ignore_index=True,
    )
    out = _labelled(table, people, labels, NOTHING)
    out = out.groupby(["annotator_id", "reference_label", "label"], as_index=False)["n"].sum()
    return out.sort_values(["annotator_id", "reference_label", "label"]).reset_index(drop=True)


# ------------------------------------------------------------------------------------------
# Agreement between annotators
# ------------------------------------------------------------------------------------------


def _pair_scope(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """Temp table ``_box_cur`` (current submissions in the selection) and the pairs' counts:
    ``key_a, key_b, n_items, n_a, n_b`` over the items both labelled."""
    where, params = filters.where("s")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _box_cur AS
            SELECT * FROM box_sets s WHERE s.is_current AND {where}""",
        params,
    )
    return con.execute(
        """SELECT a.annotator_key AS key_a, b.annotator_key AS key_b,
                  count(*) AS n_items, sum(a.n_boxes) AS n_a, sum(b.n_boxes) AS n_b
           FROM _box_cur a JOIN _box_cur b
             ON a.item_key = b.item_key AND a.annotator_key < b.annotator_key
           GROUP BY ALL ORDER BY ALL"""
    ).df()


def _in_selection(filters: Filters | None) -> str:
    """SQL keeping the ``box_pairs p`` of the submissions in ``_box_cur``: nothing to keep
    out when no filter is set (``box_pairs`` holds the current submissions only); ``None``:
    ``_box_cur`` was narrowed otherwise, always keep to it."""
    if filters is not None and filters.where("s")[0] == "true":
        return ""
    return """SEMI JOIN _box_cur a ON a.item_key = p.item_key AND a.annotator_key = p.key_a
              SEMI JOIN _box_cur b ON b.item_key = p.item_key AND b.annotator_key = p.key_b"""


def _pair_edges(
    con: duckdb.DuckDBPyConnection, filters: Filters, threshold: float
) -> dict[str, np.ndarray]:
    """Overlapping box pairs at IoU >= t between current boxes of the selection."""
    arrays = con.execute(
        f"""SELECT p.key_a, p.key_b, p.box_a, p.box_b, p.label_a, p.label_b, p.iou
            FROM box_pairs p {_in_selection(filters)}
            WHERE p.iou >= $t""",
        {"t": threshold},
    ).fetchnumpy()
    return {k: np.asarray(v) for k, v in arrays.items()}


def _pair_matches(e: dict[str, np.ndarray], people: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the same-label matches and of the geometric matches of the left-overs.

    A box meets each other annotator apart: its node is (box, the other annotator's rank in
    the sorted keys ``people``), numbered without a sort.
    """
    n = np.int64(len(people))
    left = e["box_a"].astype(np.int64) * n + np.searchsorted(people, e["key_b"])
    right = e["box_b"].astype(np.int64) * n + np.searchsorted(people, e["key_a"])
    same = e["label_a"] == e["label_b"]
    first = np.zeros(len(left), dtype=bool)
    idx = np.flatnonzero(same)
    first[idx] = match(left[idx], right[idx], e["iou"][idx])
    rest = np.flatnonzero(~_taken(left, first) & ~_taken(right, first))
    second = np.zeros_like(first)
    second[rest] = match(left[rest], right[rest], e["iou"][rest])
    return first, second


def _agreement_tables(
    con: duckdb.DuckDBPyConnection, filters: Filters, threshold: float
) -> tuple[pd.DataFrame, np.ndarray, list[int]]:
    """Per pair of annotators: counts, matches, IoU sums, and label tables (n_pairs, k, k)."""
    _check_threshold(threshold)
    pairs = _pair_scope(con, filters)
    e = _pair_edges(con, filters, threshold)
    first, second = _pair_matches(e, np.union1d(pairs["key_a"], pairs["key_b"]))
    label_keys = np.union1d(e["label_a"], e["label_b"]).astype(np.int64)
    k = max(len(label_keys), 1)
    step = np.int64(1) << 32
    pair_ids = pairs["key_a"].to_numpy(np.int64) * step + pairs["key_b"].to_numpy(np.int64)
    at = np.searchsorted(pair_ids, e["key_a"].astype(np.int64) * step + e["key_b"])
    size = len(pairs)
    pairs["matched"] = np.bincount(at[first], minlength=size)
    pairs["iou_sum"] = np.bincount(at[first], weights=e["iou"][first], minlength=size)
    pairs["iou_squares"] = np.bincount(at[first], weights=e["iou"][first] ** 2, minlength=size)
    geometric = first | second
    la = np.searchsorted(label_keys, e["label_a"][geometric])
    lb = np.searchsorted(label_keys, e["label_b"][geometric])
    cell = (at[geometric] * k + la) * k + lb
    tables = np.bincount(cell, minlength=size * k * k).reshape(size, k, k).astype(float)
    return pairs, tables, label_keys.tolist()


def _agreement_columns(
    n_items: np.ndarray,
    matched: np.ndarray,
    n_a: np.ndarray,
    n_b: np.ndarray,
    iou_sum: np.ndarray,
    iou_squares: np.ndarray,
    tables: np.ndarray,
) -> dict[str, np.ndarray]:
    """F1, mean IoU and label kappa columns from per-pair counts."""
    boxes = n_a + n_b
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(boxes > 0, 2 * matched / np.where(boxes > 0, boxes, 1), np.nan)
    mean, low, high = _t_interval(matched, iou_sum, iou_squares)
    kappa = cohen_kappa_tables(tables) if len(tables) else None
    return {
        "n_items": n_items.astype(int),
        "n_boxes_a": n_a.astype(int),
        "n_boxes_b": n_b.astype(int),
        "matched": matched.astype(int),
        "f1": f1,
        "mean_iou": mean,
        "mean_iou_ci_low": low,
        "mean_iou_ci_high": high,
        "mean_iou_n": matched.astype(int),
        "label_kappa": kappa.value if kappa is not None else np.array([]),
        "label_kappa_ci_low": kappa.ci_low if kappa is not None else np.array([]),
        "label_kappa_ci_high": kappa.ci_high if kappa is not None else np.array([]),
        "label_kappa_n": tables.sum(axis=(1, 2)).astype(int),
        "label_kappa_reason": kappa.reason if kappa is not None else np.array([], dtype=object),
    }


def box_agreement_and_team(
    con: duckdb.DuckDBPyConnection, filters: Filters = NO_FILTERS, iou_threshold: float = 0.5
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`box_agreement` and :func:`box_team_agreement` from one pass over the box pairs
    (a page shows both)."""
    pairs, tables, _ = _agreement_tables(con, filters, iou_threshold)
    people, _ = _names(con)
    columns = _agreement_columns(
        pairs["n_items"].to_numpy(),
        pairs["matched"].to_numpy(),
        pairs["n_a"].to_numpy(float),
        pairs["n_b"].to_numpy(float),
        pairs["iou_sum"].to_numpy(),
        pairs["iou_squares"].to_numpy(),
        tables,
    )
    frame = pd.DataFrame(
        {
            "annotator_a": [people[int(k)] for k in pairs["key_a"]],
            "annotator_b": [people[int(k)] for k in pairs["key_b"]],
            **columns,
        }
    )
    team = _agreement_columns(
        np.array([pairs["n_items"].sum()]),
        np.array([pairs["matched"].sum()]),
        np.array([pairs["n_a"].sum()], dtype=float),
        np.array([pairs["n_b"].sum()], dtype=float),
        np.array([pairs["iou_sum"].sum()]),
        np.array([pairs["iou_squares"].sum()]),
        tables.sum(axis=0, keepdims=True),
    )
    return frame, pd.DataFrame({"n_pairs": [len(pairs)], **team})


def box_agreement(
    con: duckdb.DuckDBPyConnection, filters: Filters = NO_FILTERS, iou_threshold: float = 0.5
) -> pd.DataFrame:
    """Pairs of annotators on the items both labelled (current boxes): ``annotator_a,
    annotator_b, n_items``, box counts, ``matched`` (same-label pairs at IoU >= t), ``f1`` =
    2 matched / (boxes of a + boxes of b) (symmetric), ``mean_iou`` of matched pairs with a
    t interval, ``label_kappa`` (Cohen) of the labels of boxes matched geometrically, ``_n``."""
    return box_agreement_and_team(con, filters, iou_threshold)[0]


def box_team_agreement(
    con: duckdb.DuckDBPyConnection, filters: Filters = NO_FILTERS, iou_threshold: float = 0.5
) -> pd.DataFrame:
    """The team figure: :func:`box_agreement` pooled over every pair (one row)."""
    return box_agreement_and_team(con, filters, iou_threshold)[1]


# ------------------------------------------------------------------------------------------
# Gold-free: consensus boxes and leave-one-out scores
# ------------------------------------------------------------------------------------------


def _current_boxes(
    con: duckdb.DuckDBPyConnection, filters: Filters
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Current boxes of the selection (``box_id, item_key, who, label, x_min..y_max``) and
    the workers per item (``item_key, who``, empty submissions included)."""
    where, params = filters.where("s")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _box_cur AS
            SELECT * FROM box_sets s WHERE s.is_current AND {where}""",
        params,
    )
    boxes = con.execute(
        """SELECT b.box_id, b.item_key, b.annotator_key AS who, b.label_key AS label,
                  b.x_min, b.y_min, b.x_max, b.y_max
           FROM boxes b SEMI JOIN _box_cur s USING (item_key, annotator_key, annotated_at)
           WHERE b.label_key IS NOT NULL ORDER BY b.box_id"""
    ).df()
    workers = con.execute("SELECT item_key, annotator_key AS who FROM _box_cur").df()
    return boxes, workers


def _clusters(
    boxes: pd.DataFrame, pairs: pd.DataFrame, workers: pd.DataFrame, min_workers: int | None
) -> pd.DataFrame:
    """Consensus boxes from ``boxes`` linked by ``pairs`` (``box_a, box_b``): connected
    components of same-label pairs at IoU >= t; kept with >= K distinct workers (K = a
    majority of the item's workers unless ``min_workers``); coordinates = medians.

    Every frame carries a ``scope`` column: clusters never cross scopes, so one call builds
    the consensus of every leave-one-out scope at once (``scope`` = the left-out worker).
    """
    columns = ["scope", "item_key", "label", *COORDINATES, "n_workers", "support"]
    if boxes.empty:
        return pd.DataFrame(columns=columns)
    scope_step = np.int64(1) << 32
    node = pd.Series(
        np.arange(len(boxes)),
        index=boxes["scope"].to_numpy(np.int64) * scope_step + boxes["box_id"].to_numpy(np.int64),
    )
    scope = pairs["scope"].to_numpy(np.int64) * scope_step
    a = node.reindex(scope + pairs["box_a"].to_numpy(np.int64)).to_numpy()
    b = node.reindex(scope + pairs["box_b"].to_numpy(np.int64)).to_numpy()
    keep = ~(np.isnan(a) | np.isnan(b))
    n = len(boxes)
    graph = coo_matrix(
        (np.ones(int(keep.sum())), (a[keep].astype(int), b[keep].astype(int))), shape=(n, n)
    )
    _, component = connected_components(graph, directed=False)
    grouped = boxes.assign(cluster=component).groupby("cluster")
    out = grouped[list(COORDINATES)].median()
    for column in ("scope", "item_key", "label"):
        out[column] = grouped[column].first()
    out["n_workers"] = grouped["who"].nunique()
    per_item = workers.groupby(["scope", "item_key"])["who"].nunique()
    out["item_workers"] = per_item.reindex(
        pd.MultiIndex.from_arrays([out["scope"], out["item_key"]])
    ).to_numpy()
    k = out["item_workers"] // 2 + 1 if min_workers is None else min_workers
    out = out[out["n_workers"] >= k].copy()
    out["support"] = out["n_workers"] / out["item_workers"]
    return out[columns].reset_index(drop=True)


def _same_label_pairs(
    con: duckdb.DuckDBPyConnection, filters: Filters | None, threshold: float
) -> pd.DataFrame:
    """Same-label overlapping pairs at IoU >= t among ``_box_cur``, with both workers."""
    return con.execute(
        f"""SELECT p.item_key, p.key_a, p.key_b, p.box_a, p.box_b
            FROM box_pairs p {_in_selection(filters)}
            WHERE p.iou >= $t AND p.label_a = p.label_b""",
        {"t": threshold},
    ).df()


def consensus_boxes(
    con: duckdb.DuckDBPyConnection,
    filters: Filters = NO_FILTERS,
    iou_threshold: float = 0.5,
    min_workers: int | None = None,
) -> pd.DataFrame:
    """Gold-free consensus: ``item_id, label, x_min, y_min, x_max, y_max, n_workers, support``.

    Current boxes of one label on one item are linked when their IoU >= t (boxes of two
    different workers) and clustered by connected components; a cluster is kept when at least
    K distinct workers drew it (K = a majority of the item's workers, empty submissions
    included, unless ``min_workers``); its corners are the medians of its boxes (human boxes
    carry no scores to weight a fusion by, and the median ignores one careless box).
    ``support`` = n_workers / the item's workers.
    """
    _check_threshold(iou_threshold)
    boxes, workers = _current_boxes(con, filters)
    pairs = _same_label_pairs(con, filters, iou_threshold)
    out = _clusters(
        boxes.assign(scope=0), pairs.assign(scope=0), workers.assign(scope=0), min_workers
    )
    items = dict(con.execute("SELECT item_key, item_id FROM items").fetchall())
    _, labels = _names(con)
    out.insert(0, "item_id", out.pop("item_key").map(lambda k: items[int(k)]))
    out["label"] = out["label"].map(lambda k: labels[int(k)])
    columns = ["item_id", "label", "x_min", "y_min", "x_max", "y_max", "n_workers", "support"]
    return out[columns].sort_values(["item_id", "label", "x_min"]).reset_index(drop=True)


def _leave_one_out(
    con: duckdb.DuckDBPyConnection, filters: Filters, threshold: float
) -> pd.DataFrame:
    """Each worker's current boxes scored against the consensus of the others (K = majority of
    the others), on items with at least one other worker; as :func:`box_summary`.

    The other workers' boxes are copied once per worker who labelled the item (scope = that
    worker), so every leave-one-out consensus comes from one clustering, without a loop.
    """
    boxes, workers = _current_boxes(con, filters)
    pairs = _same_label_pairs(con, filters, threshold)
    people, _ = _names(con)
    scorers = workers.rename(columns={"who": "scope"})
    theirs = boxes.merge(scorers, on="item_key").query("who != scope")
    linked = pairs.merge(scorers, on="item_key").query("key_a != scope and key_b != scope")
    others = workers.merge(scorers, on="item_key").query("who != scope")
    consensus = _clusters(theirs, linked, others, None)
    scored = others[["scope", "item_key"]].drop_duplicates().rename(columns={"scope": "who"})
    n_items = scored.groupby("who")["item_key"].size()
    mine = boxes.merge(scored, on=["who", "item_key"])
    given = mine.groupby(["who", "label"]).size().rename("n").reset_index()
    reference = consensus.groupby(["scope", "label"]).size().rename("n").reset_index()
    reference = reference.rename(columns={"scope": "who"})
    # each worker's boxes against the consensus clusters of their items: the join and the IoU
    # (IOU_SQL, the arithmetic of iou(), on doubles) in DuckDB, and only the overlapping pairs
    # back, in the order of the boxes, then of the clusters
    doubles = dict.fromkeys(COORDINATES, float)
    con.register("_loo_mine", mine.astype(doubles))
    con.register("_loo_consensus", consensus.reset_index(names="cluster").astype(doubles))
    arrays = con.execute(
        f"""SELECT * FROM (
                SELECT a.who, a.box_id AS "left", b.cluster AS "right", a.label,
                       b.label AS ref_label, {IOU_SQL} AS iou
                FROM _loo_mine a JOIN _loo_consensus b
                  ON a.who = b.scope AND a.item_key = b.item_key
            ) WHERE iou > 0 AND NOT isnan(iou)
            ORDER BY "left", "right"
        """
    ).fetchnumpy()
    con.unregister("_loo_mine")
    con.unregister("_loo_consensus")
    edges = Edges(
        *(np.asarray(arrays[k], dtype=np.int64) for k in ("who", "left", "right", "label")),
        np.asarray(arrays["ref_label"], dtype=np.int64),
        np.asarray(arrays["iou"], dtype=float),
    )
    frame = _summary(edges, given, reference, n_items.astype(np.int64), threshold, people)
    return frame.drop(columns="key")
