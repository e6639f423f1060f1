"""Box metrics over time: per annotator x period, onboarding status, control-image drift; and
recall by object size (who misses small objects).

The counts behind every number here are one definition, :func:`grouped_box_counts`: the
scored submissions (an annotator's boxes on a committee-decided image, against the committee
set in force when drawn, as :func:`qualitylib.metrics.boxes.box_summary`) are grouped in SQL by
any keys (annotator x period, annotator x week, one submission); SQL counts the boxes given and
expected per group and label; the true positives come from the one-to-one matching
(:func:`qualitylib.metrics.boxes.classify`) on the same-label candidate pairs at IoU >= t and
are counted per group with ``np.bincount``. Rates are numpy on those count arrays:

* precision = TP / given, recall = TP / expected (95 % Wilson), F1 = 2 TP / (given +
  expected), mean IoU of the matched pairs (Student t interval), as in ``box_summary``;
* **onboarding** (:func:`box_onboarding`): the same status vocabulary and hysteresis as tag
  onboarding (:mod:`qualitylib.metrics.onboarding`), judged over the last ``window``
  reference images: *meets* when recall >= r and precision >= p (point estimates) with at least
  ``min_boxes`` committee boxes in the window, *clearly fails* when a Wilson upper bound is
  below its objective;
* **drift** (:func:`box_drift_alerts`): the divergence on production control images is
  1 - F1 = (FP + FN) / (given + expected) per annotator x ISO week x label. The tag drift
  rule (:func:`qualitylib.metrics.drift.alerts_from_controls`: the CUSUM, unchanged) reads it
  as ``x = (FP + FN) / 2`` mistakes out of ``n = (given + expected) / 2`` boxes per side, so a
  box drawn in the wrong place or with the wrong class (one FP *and* one FN) is one mistake,
  not two correlated ones: counted twice, steady loose boxers (IoU near the threshold) raised
  0.67 false alerts per annotator-quarter in ``benchmarks/false_alarms.py --kind boxes``,
  counted once 0.011. Annotators are watched from the week box onboarding first found them
  aligned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Literal

import duckdb
import numpy as np
import pandas as pd

from qualitylib.intervals import wilson
from qualitylib.metrics.boxes import (
    Edges,
    _check_threshold,
    _submissions,
    _t_interval,
    classify,
)
from qualitylib.metrics.drift import DriftRule, WeeklyControls, alerts_from_controls, from_week
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.onboarding import STATUSES
from qualitylib.metrics.periods import Period, check_period
from qualitylib.metrics.results import Estimate, proportion

__all__ = [
    "STATUSES",
    "BoxCounts",
    "BoxHistory",
    "BoxObjective",
    "SIZES",
    "box_drift_alerts",
    "box_history",
    "box_onboarding",
    "box_rates",
    "box_timeline",
    "box_sizes",
    "box_weekly_controls",
    "grouped_box_counts",
]

_STEP = 4294967296  # committee box ids made unique per submission: sub_id * 2^32 + box_id


@dataclass(frozen=True)
class BoxCounts:
    """Scored box counts per group and class: arrays of shape ``(n_groups, n_classes)``.

    ``groups``: one row per group (the key columns, ``n_images`` = scored submissions);
    ``classes``: names of the columns (labels, or :data:`SIZES`); ``given`` / ``expected``:
    the annotator's and the committee's boxes; ``tp``: matched pairs (counted in the class
    of their committee box); ``iou_sum`` / ``iou_squares``: of the matched pairs' IoU.
    """

    groups: pd.DataFrame
    classes: list[str]
    given: np.ndarray
    expected: np.ndarray
    tp: np.ndarray
    iou_sum: np.ndarray
    iou_squares: np.ndarray


# COCO's object sizes by area in pixels: small below 32^2, medium below 96^2, large above.
SIZES = ("small", "medium", "large")
SMALL_AREA, LARGE_AREA = 32**2, 96**2


def _class_sql(alias: str, classes: Literal["label", "size"]) -> str:
    """The class of box ``alias`` (a ``boxes`` or ``box_reference`` row) as a small integer."""
    if classes == "label":
        return f"{alias}.label_key"
    area = f"({alias}.x_max - {alias}.x_min) * ({alias}.y_max - {alias}.y_min)"
    return f"CASE WHEN {area} < {SMALL_AREA} THEN 0 WHEN {area} < {LARGE_AREA} THEN 1 ELSE 2 END"


def grouped_box_counts(
    con: duckdb.DuckDBPyConnection,
    filters: Filters,
    keys: Mapping[str, str],
    iou_threshold: float = 0.5,
    params: Mapping[str, object] | None = None,
    classes: Literal["label", "size"] = "label",
) -> BoxCounts:
    """:class:`BoxCounts` of the scored submissions under ``filters`` grouped by ``keys``
    (output column -> SQL expression over the submission ``s``, a ``box_sets`` row), groups in
    the order of their keys; columns per label, or per COCO object size (:data:`SIZES`)."""
    _check_threshold(iou_threshold)
    if classes not in ("label", "size"):
        raise ValueError(f"classes must be 'label' or 'size', got {classes!r}")
    _submissions(con, filters)
    exprs = ", ".join(keys.values())
    select = ", ".join(f"{sql} AS {name}" for name, sql in keys.items())
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _box_keyed AS
            SELECT s.sub_id, s.item_key, s.annotator_key, s.annotated_at, s.ref_decided_at,
                   dense_rank() OVER (ORDER BY {exprs}) - 1 AS gid, {select}
            FROM _box_subs s""",
        dict(params or {}),
    )
    names = ", ".join(keys)
    groups = con.execute(
        f"SELECT gid, {names}, count(*) AS n_images FROM _box_keyed GROUP BY ALL ORDER BY gid"
    ).df()
    given = con.execute(
        f"""SELECT k.gid, {_class_sql("b", classes)} AS cls, count(*) AS n
            FROM boxes b JOIN _box_keyed k USING (item_key, annotator_key, annotated_at)
            WHERE b.label_key IS NOT NULL GROUP BY ALL"""
    ).fetchnumpy()
    expected = con.execute(
        f"""SELECT k.gid, {_class_sql("r", classes)} AS cls, count(*) AS n
            FROM box_reference r JOIN _box_keyed k
              ON r.item_key = k.item_key AND r.decided_at = k.ref_decided_at
            WHERE r.label_key IS NOT NULL GROUP BY ALL"""
    ).fetchnumpy()
    # only same-label pairs at IoU >= t can be true positives (classify's first matching);
    # a pair's class is its committee box's
    arrays = con.execute(
        f"""SELECT k.gid AS who, c.box_id AS "left", k.sub_id * {_STEP} + c.ref_box_id AS "right",
                   c.label_key AS label, c.ref_label_key AS ref_label, c.iou,
                   {_class_sql("r", classes)} AS cls
            FROM box_candidates c JOIN _box_keyed k USING (item_key, annotator_key, annotated_at)
            JOIN box_reference r ON r.box_id = c.ref_box_id
            WHERE c.iou >= $t AND c.label_key = c.ref_label_key""",
        {"t": iou_threshold},
    ).fetchnumpy()
    cls = np.asarray(arrays.pop("cls"), dtype=np.int64)
    edges = Edges(**{k: np.asarray(v) for k, v in arrays.items()})
    if classes == "label":
        keys_present = np.union1d(given["cls"], expected["cls"]).astype(np.int64)
        label_names = dict(con.execute("SELECT label_key, label FROM labels").fetchall())
        class_names = [label_names[int(key)] for key in keys_present]
    else:
        keys_present, class_names = np.arange(len(SIZES)), list(SIZES)
    n_groups, k = len(groups), len(keys_present)

    def dense(gid: np.ndarray, key: np.ndarray, weights: np.ndarray) -> np.ndarray:
        cell = np.asarray(gid, dtype=np.int64) * k + np.searchsorted(keys_present, key)
        return np.bincount(cell, weights=weights, minlength=n_groups * k).reshape(n_groups, k)

    tp = classify(edges, iou_threshold)["tp"] if len(edges.iou) else np.zeros(0, dtype=bool)
    ious = edges.iou[tp]
    return BoxCounts(
        groups=groups.drop(columns="gid"),
        classes=class_names,
        given=dense(given["gid"], given["cls"], given["n"].astype(float)),
        expected=dense(expected["gid"], expected["cls"], expected["n"].astype(float)),
        tp=dense(edges.who[tp], cls[tp], np.ones(len(ious))),
        iou_sum=dense(edges.who[tp], cls[tp], ious),
        iou_squares=dense(edges.who[tp], cls[tp], ious**2),
    )


def box_rates(
    tp: np.ndarray,
    given: np.ndarray,
    expected: np.ndarray,
    iou_sum: np.ndarray,
    squares: np.ndarray,
) -> dict[str, np.ndarray]:
    """Wide columns: counts, precision, recall (Wilson), F1 and mean IoU (t) from counts."""
    fp, fn = given - tp, expected - tp
    boxes = given + expected
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(boxes > 0, 2 * tp / np.where(boxes > 0, boxes, 1), np.nan)
    mean, low, high = _t_interval(tp, iou_sum, squares)
    return (
        {"tp": tp.astype(np.int64), "fp": fp.astype(np.int64), "fn": fn.astype(np.int64)}
        | proportion(tp, given).columns("precision")
        | proportion(tp, expected).columns("recall")
        | {"f1": f1, "f1_n": boxes.astype(np.int64)}
        | Estimate.of(mean, low, high, tp).columns("mean_iou")
    )


def _scores(counts: BoxCounts, people: Mapping[int, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`~qualitylib.metrics.box_items.box_scores` from counts per annotator
    (``people``: annotator ids by key)."""
    ids = [people[int(k)] for k in counts.groups["annotator_key"]]
    n_items = counts.groups["n_images"].to_numpy(np.int64)
    arrays = (counts.tp, counts.given, counts.expected, counts.iou_sum, counts.iou_squares)
    total = pd.DataFrame(box_rates(*(a.sum(axis=1) for a in arrays)))
    total.insert(0, "annotator_id", ids)
    total.insert(1, "n_items", n_items)
    k = len(counts.classes)
    cells = pd.DataFrame(box_rates(*(a.ravel() for a in arrays)))
    cells.insert(0, "annotator_id", np.repeat(ids, k))
    cells.insert(1, "label", np.tile(counts.classes, len(ids)))
    cells.insert(2, "n_items", np.repeat(n_items, k))
    cells = cells[cells["f1_n"] > 0]
    order = ["annotator_id", "label"]
    return (
        total.sort_values("annotator_id", ignore_index=True),
        cells.sort_values(order, ignore_index=True),
    )


def _people(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("SELECT annotator_key, annotator_id, name, team FROM annotators").df()


def box_timeline(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    period: Period = "week",
    iou_threshold: float = 0.5,
) -> pd.DataFrame:
    """One row per annotator x period: box volume and scores against the committee.

    Columns: ``annotator_id, period_start`` (a date: the day, the Monday of an ISO week, or
    the first of the month, UTC), ``n_images`` (box submissions, decided images or not),
    ``n_reference_images`` (submissions on committee-decided images, scored against the set
    in force when drawn), ``tp, fp, fn``, ``precision`` and ``recall`` with ``_ci_low,
    _ci_high, _n`` (95 % Wilson; ``_n`` = boxes given / expected), ``f1, f1_n`` (given +
    expected), ``mean_iou`` with ``_ci_low, _ci_high, _n`` (t interval over the matched
    pairs). Rates are NaN (never 0) where their ``_n`` is 0. ``iou_threshold``: the IoU a match
    needs.
    """
    check_period(period)
    filters = filters or Filters()
    counts = grouped_box_counts(
        con,
        filters,
        {"annotator_key": "s.annotator_key", "period_start": _BUCKET},
        iou_threshold,
        {"period": period},
    )
    return _timeline(counts, _volume(con, filters, period), _people(con))


_BUCKET = "date_trunc($period, s.annotated_at)::DATE"  # a submission's period, as a date


def _volume(con: duckdb.DuckDBPyConnection, filters: Filters, period: Period) -> pd.DataFrame:
    """``annotator_key, period_start, n_images``: box submissions under ``filters``, decided
    images or not."""
    where, params = filters.where("s")
    return con.execute(
        f"""SELECT s.annotator_key, {_BUCKET} AS period_start, count(*) AS n_images
            FROM box_sets s WHERE {where} GROUP BY ALL""",
        params | {"period": period},
    ).df()


def _timeline(counts: BoxCounts, volume: pd.DataFrame, people: pd.DataFrame) -> pd.DataFrame:
    """:func:`box_timeline` from counts per annotator x period and :func:`_volume`."""
    scored = counts.groups.rename(columns={"n_images": "n_reference_images"})
    rates = box_rates(
        *(a.sum(axis=1) for a in (counts.tp, counts.given, counts.expected)),
        counts.iou_sum.sum(axis=1),
        counts.iou_squares.sum(axis=1),
    )
    scored = pd.concat([scored, pd.DataFrame(rates)], axis=1)
    out = volume.merge(scored, on=["annotator_key", "period_start"], how="left")
    counted = ["n_reference_images", "tp", "fp", "fn"] + [c for c in rates if c.endswith("_n")]
    out[counted] = out[counted].fillna(0).astype(np.int64)
    out = out.merge(people[["annotator_key", "annotator_id"]], on="annotator_key")
    out = out.sort_values(["annotator_id", "period_start"], ignore_index=True)
    lead = ["annotator_id", "period_start", "n_images", "n_reference_images"]
    return out[lead + list(rates)]


def box_sizes(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None, iou_threshold: float = 0.5
) -> pd.DataFrame:
    """Recall by object size: one row per annotator x COCO size of the committee's boxes
    (:data:`SIZES`: area below 32^2 px, below 96^2, above), so a person who misses small
    objects stands out. Columns: ``annotator_id, size, tp, fn``, ``recall`` and ``mean_iou``
    with ``_ci_low, _ci_high, _n`` (precision has no size: a given box's size is not its
    object's).
    """
    filters = filters or Filters()
    counts = grouped_box_counts(
        con, filters, {"annotator_key": "s.annotator_key"}, iou_threshold, classes="size"
    )
    n_groups, k = counts.tp.shape
    tp, expected = counts.tp.ravel(), counts.expected.ravel()
    mean, low, high = _t_interval(tp, counts.iou_sum.ravel(), counts.iou_squares.ravel())
    out = pd.DataFrame(
        {
            "annotator_key": np.repeat(counts.groups["annotator_key"].to_numpy(np.int64), k),
            "size": np.tile(np.asarray(counts.classes, dtype=object), n_groups),
            "tp": tp.astype(np.int64),
            "fn": (expected - tp).astype(np.int64),
        }
        | proportion(tp, expected).columns("recall")
        | Estimate.of(mean, low, high, tp).columns("mean_iou")
    )
    out = out.merge(_people(con)[["annotator_key", "annotator_id"]], on="annotator_key")
    out["size"] = pd.Categorical(out["size"], categories=list(SIZES), ordered=True)
    out = out.sort_values(["annotator_id", "size"], ignore_index=True)
    out["size"] = out["size"].astype(str)
    return out[
        ["annotator_id", *[c for c in out.columns if c not in ("annotator_id", "annotator_key")]]
    ]


# ------------------------------------------------------------------------------------------
# Onboarding
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoxObjective:
    """What "aligned with the committee" means for boxes (see :func:`box_onboarding`).

    ``recall`` / ``precision``: the window's must reach these; ``window``: the last this many
    reference images are judged; ``min_boxes``: committee boxes the window must hold first
    (50, about half a window of street scenes: one missed box then moves recall by at most
    2 points, and a short lucky run cannot align someone who confuses a rarer class).
    """

    recall: float = 0.85
    precision: float = 0.90
    window: int = 30
    min_boxes: int = 50

    def __post_init__(self) -> None:
        if not (0 <= self.recall <= 1 and 0 <= self.precision <= 1):
            raise ValueError("the recall and precision objectives are rates: give values 0 to 1")
        if not isinstance(self.window, int) or self.window < 1:
            raise ValueError(f"window must be a positive number of images (got {self.window!r})")
        if not isinstance(self.min_boxes, int) or self.min_boxes < 1:
            raise ValueError(f"min_boxes must be a positive number (got {self.min_boxes!r})")


def _windows(owner: np.ndarray, values: np.ndarray, window: int) -> np.ndarray:
    """Rolling sums of ``values`` over each row's last ``window`` rows of the same owner
    (rows sorted by owner, then time)."""
    position = np.arange(len(owner))
    first = np.r_[0, np.flatnonzero(np.diff(owner) != 0) + 1]
    start = np.repeat(first, np.diff(np.r_[first, len(owner)]))
    low = np.maximum(start, position - window + 1)
    total = np.r_[0.0, np.cumsum(values, dtype=float)]
    return total[position + 1] - total[low]


_SUBMISSION = {  # one group per submission, in time order per annotator
    "annotator_key": "s.annotator_key",
    "annotated_at": "s.annotated_at",
    "item_key": "s.item_key",
}


def _submission_windows(counts: BoxCounts, objective: BoxObjective) -> pd.DataFrame:
    """Every scored submission in time order per annotator (``counts`` grouped by
    :data:`_SUBMISSION`), with its window's counts and whether the window is ``enough``,
    ``meets`` or clearly ``fails`` the objective."""
    table = counts.groups[list(_SUBMISSION)].copy()
    owner = table["annotator_key"].to_numpy(np.int64)
    for name, array in (
        ("tp", counts.tp),
        ("given", counts.given),
        ("expected", counts.expected),
        ("iou_sum", counts.iou_sum),
        ("iou_squares", counts.iou_squares),
        ("images", np.ones((len(table), 1))),
    ):
        table[name] = _windows(owner, array.sum(axis=1), objective.window)
    tp, given, expected = table["tp"], table["given"], table["expected"]
    enough = expected >= objective.min_boxes
    _, recall_high = wilson(tp.to_numpy(), expected.to_numpy())
    _, precision_high = wilson(tp.to_numpy(), given.to_numpy())
    table["enough"] = enough
    table["meets"] = (
        enough & (tp >= objective.recall * expected) & (tp >= objective.precision * given)
    )
    table["fails"] = enough & (
        (np.asarray(recall_high) < objective.recall)
        | ((given > 0) & (np.asarray(precision_high) < objective.precision))
    )
    table["seq"] = table.groupby("annotator_key").cumcount() + 1
    return table


def _status(table: pd.DataFrame) -> pd.DataFrame:
    """Per annotator: status after the last window, ``since``, ``first_aligned`` (the rules of
    :mod:`qualitylib.metrics.onboarding`, on the window sequence)."""
    at = table["annotated_at"]
    failed = table["fails"] & ~table["meets"]
    seq = table["seq"]
    per = (
        pd.DataFrame(
            {
                "annotator_key": table["annotator_key"],
                "last_met": seq.where(table["meets"]),
                "last_failed": seq.where(failed),
            }
        )
        .groupby("annotator_key")[["last_met", "last_failed"]]
        .max()
    )
    last = table.groupby("annotator_key").tail(1).set_index("annotator_key")
    last_met = per["last_met"].reindex(table["annotator_key"]).to_numpy()
    last_failed = per["last_failed"].fillna(0).reindex(table["annotator_key"]).to_numpy()
    aligned_run = table["meets"].to_numpy() & (seq.to_numpy() > last_failed)
    regressed_run = failed.to_numpy() & (seq.to_numpy() > np.nan_to_num(last_met, nan=np.inf))
    key = table["annotator_key"]
    firsts = pd.DataFrame(
        {
            "first_at": at.groupby(key).min(),
            "first_enough_at": at.where(table["enough"]).groupby(key).min(),
            "first_aligned": at.where(table["meets"]).groupby(key).min(),
            "aligned_at": at.where(aligned_run).groupby(key).min(),
            "regressed_at": at.where(regressed_run).groupby(key).min(),
        }
    )
    met, fail = per["last_met"], per["last_failed"].fillna(0)
    status = np.select(
        [met > fail, met.notna(), firsts["first_enough_at"].notna()],
        ["aligned", "regressed", "in_training"],
        "not_enough_data",
    )
    since = np.select(
        [status == "aligned", status == "regressed", status == "in_training"],
        [firsts["aligned_at"], firsts["regressed_at"], firsts["first_enough_at"]],
        firsts["first_at"],
    )
    out = last.assign(
        status=status, since=pd.to_datetime(since), first_aligned=firsts["first_aligned"]
    )
    return out.reset_index()


def box_onboarding(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    recall_objective: float = 0.85,
    precision_objective: float = 0.90,
    window: int = 30,
    min_boxes: int = 50,
    iou_threshold: float = 0.5,
) -> pd.DataFrame:
    """Each annotator's box onboarding status after their latest reference image.

    The window is the annotator's last ``window`` scored submissions (reference images,
    training and production, time order). It *meets* the objective when it holds at least
    ``min_boxes`` committee boxes and recall >= ``recall_objective`` and precision >=
    ``precision_objective`` (point estimates); it *clearly fails* when the 95 % Wilson upper
    bound of either is below its objective. Statuses as tag onboarding
    (:data:`~qualitylib.metrics.onboarding.STATUSES`): ``not_enough_data`` (no window held
    ``min_boxes`` committee boxes), ``in_training``, ``aligned`` (the last decisive window
    met it), ``regressed`` (aligned once, then a window clearly failed).

    A status is a fact about a person at a date (as ``onboarding_as_of``): it is judged over
    the annotator's history up to ``filters.until``; ``filters.since`` only chooses who is
    listed (those with box submissions from then on).

    Columns: ``annotator_id, name, team, status, since`` (when the status was reached),
    ``first_aligned`` (NaT if never), ``n_reference_images``, ``window_n`` (images in the
    current window), ``tp, fp, fn``, ``precision, recall`` with ``_ci_low, _ci_high, _n``,
    ``f1, f1_n``, ``mean_iou`` with ``_ci_low, _ci_high, _n``, over the current window.
    """
    objective = BoxObjective(recall_objective, precision_objective, window, min_boxes)
    filters = filters or Filters()
    counts = grouped_box_counts(con, replace(filters, since=None), _SUBMISSION, iou_threshold)
    active = None
    if filters.since is not None:
        where, params = filters.where("s")
        rows = con.execute(
            f"SELECT DISTINCT annotator_key FROM box_sets s WHERE {where}", params
        ).fetchall()
        active = [row[0] for row in rows]
    return _onboarding(_submission_windows(counts, objective), _people(con), active)


def _onboarding(
    table: pd.DataFrame, people: pd.DataFrame, active: list[int] | None
) -> pd.DataFrame:
    """:func:`box_onboarding` from :func:`_submission_windows`, listing the annotators
    ``active`` (their keys; everyone when None)."""
    columns = ["annotator_id", "name", "team", "status", "since", "first_aligned"]
    counts = ["n_reference_images", "window_n"]
    if table.empty:
        empty = box_rates(*(np.zeros(0) for _ in range(5)))
        return pd.DataFrame(columns=[*columns, *counts, *empty])
    last = _status(table)
    rates = box_rates(
        *(last[c].to_numpy() for c in ("tp", "given", "expected", "iou_sum", "iou_squares"))
    )
    out = last.assign(
        n_reference_images=last["seq"].astype(np.int64),
        window_n=last["images"].astype(np.int64),
    )
    out = out[["annotator_key", "status", "since", "first_aligned", *counts]]
    out = pd.concat([out.reset_index(drop=True), pd.DataFrame(rates)], axis=1)
    out = people.merge(out, on="annotator_key")
    if active is not None:
        out = out[out["annotator_key"].isin(active)]
    return out.sort_values("annotator_id", ignore_index=True)[[*columns, *counts, *rates]]


# ------------------------------------------------------------------------------------------
# Drift on control images
# ------------------------------------------------------------------------------------------


def box_weekly_controls(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None, iou_threshold: float = 0.5
) -> WeeklyControls:
    """Production box submissions on control images as drift counts per annotator x ISO week
    x label: ``x`` = (FP + FN) / 2 mistakes, ``n`` = (given + expected) / 2 boxes per side
    (so ``x / n`` = 1 - F1; halves: see the module docstring)."""
    production = replace(filters or Filters(), phases=("production",))
    counts = grouped_box_counts(
        con,
        production,
        {"annotator_key": "s.annotator_key", "week_start": _WEEK},
        iou_threshold,
    )
    return _weekly_controls(counts, _people(con))


_WEEK = "date_trunc('week', s.annotated_at)"  # a submission's ISO week (its Monday)


def _weekly_controls(counts: BoxCounts, annotators: pd.DataFrame) -> WeeklyControls:
    """:func:`box_weekly_controls` from counts per annotator x :data:`_WEEK` (``annotators``:
    their keys and ids)."""
    k = len(counts.classes)
    if counts.groups.empty:
        empty = np.zeros((0, 0, k))
        return WeeklyControls([], np.array([], "datetime64[D]"), counts.classes, empty, empty)
    ids = annotators.set_index("annotator_key")["annotator_id"]
    who = ids.reindex(counts.groups["annotator_key"]).to_numpy(dtype=str)
    people, a = np.unique(who, return_inverse=True)
    days = counts.groups["week_start"].to_numpy().astype("datetime64[D]")
    first = days.min()
    w = ((days - first).astype(np.int64) // 7).astype(np.int64)
    n_weeks = int(w.max()) + 1
    x = np.zeros((len(people), n_weeks, k))
    n = np.zeros_like(x)
    np.add.at(x, (a, w), (counts.given + counts.expected) / 2 - counts.tp)
    np.add.at(n, (a, w), (counts.given + counts.expected) / 2)
    return WeeklyControls(people.tolist(), first + 7 * np.arange(n_weeks), counts.classes, x, n)


def box_drift_alerts(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    rule: DriftRule | None = None,
    recall_objective: float = 0.85,
    precision_objective: float = 0.90,
    iou_threshold: float = 0.5,
) -> pd.DataFrame:
    """Box drift alerts, individual and team, raised in the weeks ``filters`` select.

    The tag drift rule (:func:`qualitylib.metrics.drift.alerts_from_controls`) on
    :func:`box_weekly_controls`: the divergence is 1 - F1 against the committee on production
    control images, per label; the CUSUMs run over every week up to ``filters.until``
    (``filters.since`` only selects which alert weeks are returned); each annotator is
    monitored from the ISO week :func:`box_onboarding` (with these objectives) first found
    them aligned; ``rule`` defaults to :class:`~qualitylib.metrics.drift.DriftRule`'s.
    Columns as :func:`qualitylib.metrics.drift.drift_alerts` (``divergence`` = 1 - F1 of the
    label that week, ``n`` = boxes given + expected, ``errors`` = FP + FN).
    """
    filters = filters or Filters()
    history = replace(filters, since=None)
    status = box_onboarding(
        con,
        replace(history, phases=()),
        recall_objective=recall_objective,
        precision_objective=precision_objective,
        iou_threshold=iou_threshold,
    )
    controls = box_weekly_controls(con, history, iou_threshold)
    return _drift_alerts(status, controls, rule, filters.since)


def _drift_alerts(
    status: pd.DataFrame,
    controls: WeeklyControls,
    rule: DriftRule | None,
    since: date | datetime | None,
) -> pd.DataFrame:
    """:func:`box_drift_alerts` from the onboarding ``status`` (every phase) and the
    production ``controls``, over the history; the alerts of the weeks from ``since`` on."""
    aligned_at = dict(zip(status["annotator_id"], status["first_aligned"], strict=True))
    table = alerts_from_controls(controls, rule or DriftRule(), aligned_at)
    table["n"], table["errors"] = table["n"] * 2, table["errors"] * 2  # boxes, not halves
    table[["n", "errors"]] = table[["n", "errors"]].round().astype(np.int64)
    return from_week(table, since)


# ------------------------------------------------------------------------------------------
# One matching for a debrief
# ------------------------------------------------------------------------------------------


def _rows(counts: BoxCounts, rows: np.ndarray) -> BoxCounts:
    """The groups of ``counts`` where ``rows`` (a mask) holds."""
    return BoxCounts(
        counts.groups[rows].reset_index(drop=True),
        counts.classes,
        *(getattr(counts, f)[rows] for f in ("given", "expected", "tp", "iou_sum", "iou_squares")),
    )


def _sum_rows(gid: np.ndarray, n_groups: int, values: np.ndarray) -> np.ndarray:
    """Rows of ``values`` (shape ``(n, k)``) summed into ``n_groups`` rows by ``gid``."""
    out = np.zeros((n_groups, values.shape[1]))
    for j in range(values.shape[1]):  # one bincount per class (np.add.at is 10x slower)
        out[:, j] = np.bincount(gid, weights=values[:, j], minlength=n_groups)
    return out


def _regroup(counts: BoxCounts, rows: np.ndarray, keys: list[str]) -> BoxCounts:
    """The groups of ``counts`` where ``rows`` holds, summed by the columns ``keys``: what
    :func:`grouped_box_counts` gives for those keys over those submissions (groups in the
    order of their keys; the labels that have a box there)."""
    picked = _rows(counts, rows)
    by = picked.groups.groupby(keys, sort=True)
    gid, groups = by.ngroup().to_numpy(), by["n_images"].sum().reset_index()
    arrays = {
        name: _sum_rows(gid, len(groups), getattr(picked, name))
        for name in ("given", "expected", "tp", "iou_sum", "iou_squares")
    }
    held = (arrays["given"] + arrays["expected"]).sum(axis=0) > 0
    return BoxCounts(
        groups,
        [c for c, keep in zip(counts.classes, held, strict=True) if keep],
        **{name: array[:, held] for name, array in arrays.items()},
    )


@dataclass(frozen=True)
class BoxHistory:
    """A selection's scored submissions matched once (:func:`box_history`), and what the box
    debrief derives from them: the values of :func:`~qualitylib.metrics.box_items.box_scores`,
    :func:`box_timeline`, :func:`box_onboarding` and :func:`box_drift_alerts` on the same
    filters, from one matching instead of five.

    ``counts``: one group per scored submission (:data:`_SUBMISSION`) of the filters' people
    up to ``until`` (``since`` and ``phases`` dropped), with ``period_start``, ``week_start``
    and the flags ``selected`` (under the filters), ``in_phases`` (under their phases) and
    ``production``; ``volume``: :func:`_volume` under the filters; ``people``: annotator keys,
    ids, names and teams; ``since``: the filters' start.
    """

    counts: BoxCounts
    volume: pd.DataFrame
    people: pd.DataFrame
    since: date | datetime | None

    def scores(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """:func:`~qualitylib.metrics.box_items.box_scores`: per annotator, and per label."""
        selected = self.counts.groups["selected"].to_numpy(bool)
        counts = _regroup(self.counts, selected, ["annotator_key"])
        ids = dict(zip(self.people["annotator_key"], self.people["annotator_id"], strict=True))
        return _scores(counts, ids)

    def timeline(self) -> pd.DataFrame:
        """:func:`box_timeline` in the period :func:`box_history` was given."""
        selected = self.counts.groups["selected"].to_numpy(bool)
        counts = _regroup(self.counts, selected, ["annotator_key", "period_start"])
        return _timeline(counts, self.volume, self.people)

    def onboarding(
        self,
        recall_objective: float = 0.85,
        precision_objective: float = 0.90,
        window: int = 30,
        min_boxes: int = 50,
    ) -> pd.DataFrame:
        """:func:`box_onboarding`."""
        objective = BoxObjective(recall_objective, precision_objective, window, min_boxes)
        counts = _rows(self.counts, self.counts.groups["in_phases"].to_numpy(bool))
        active = None if self.since is None else self.volume["annotator_key"].unique().tolist()
        return _onboarding(_submission_windows(counts, objective), self.people, active)

    def drift_alerts(
        self,
        rule: DriftRule | None = None,
        recall_objective: float = 0.85,
        precision_objective: float = 0.90,
    ) -> pd.DataFrame:
        """:func:`box_drift_alerts`."""
        objective = BoxObjective(recall_objective, precision_objective)
        table = _submission_windows(self.counts, objective)  # every phase
        status = _onboarding(table, self.people, None)
        production = self.counts.groups["production"].to_numpy(bool)
        counts = _regroup(self.counts, production, ["annotator_key", "week_start"])
        return _drift_alerts(status, _weekly_controls(counts, self.people), rule, self.since)


def box_history(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    iou_threshold: float = 0.5,
    period: Period = "week",
) -> BoxHistory:
    """The scored submissions of ``filters``' people up to ``filters.until``, matched once
    (:class:`BoxHistory`): a debrief's scores, timeline (in ``period``), onboarding and drift
    alerts without matching the same boxes again for each."""
    check_period(period)
    filters = filters or Filters()
    selected, params = Filters(since=filters.since, phases=filters.phases).where("s")
    in_phases, _ = Filters(phases=filters.phases).where("s")
    keys = _SUBMISSION | {
        "period_start": _BUCKET,
        "week_start": _WEEK,
        "selected": f"coalesce({selected}, false)",
        "in_phases": f"coalesce({in_phases}, false)",
        "production": "coalesce(s.phase = 'production', false)",
    }
    history = replace(filters, since=None, phases=())
    counts = grouped_box_counts(con, history, keys, iou_threshold, params | {"period": period})
    return BoxHistory(counts, _volume(con, filters, period), _people(con), filters.since)
