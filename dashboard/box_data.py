"""Cached loaders of the box views (debrief, agreement, consensus, review queue) and their
overlay images.

Built like :mod:`dashboard.data`: a :class:`~dashboard.data.Store` first (cached per store
version and scope; every query narrowed to the session's scope), one short read-only
connection per query, the numbers from :mod:`qualitylib.metrics.boxes` and
:mod:`qualitylib.metrics.box_items`, the pictures from :mod:`qualitylib.box_overlay`.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from dashboard.data import MAX_ROWS, Store, _read
from qualitylib.box_overlay import COLOURS, Layer, item_overlay, overlay_png
from qualitylib.metrics import box_items, box_timeline, boxes
from qualitylib.metrics.filters import Filters


@st.cache_data(show_spinner=False)
def has_boxes(store: Store) -> bool:
    """Whether the store holds any box submission."""
    with _read(store) as con:
        return box_items.has_boxes(con)


@st.cache_data(show_spinner=False)
def has_tags(store: Store) -> bool:
    """Whether the store holds any tag annotation."""
    with _read(store) as con:
        return box_items.has_tags(con)


@st.cache_data(show_spinner=False)
def gold_free(store: Store, filters: Filters) -> int:
    """Images without the committee's boxes that two or more workers boxed."""
    with _read(store) as con:
        return box_items.gold_free_images(con, store.only(filters))


@st.cache_data(show_spinner=False)
def kept(store: Store, filters: Filters) -> list[str]:
    """Annotators (not the committee) with box submissions under ``filters``."""
    with _read(store) as con:
        return box_items.box_annotators_kept(con, store.only(filters))


@st.cache_data(show_spinner=False)
def summary(
    store: Store, filters: Filters, iou: float, by_label: bool = False, against: str = "reference"
) -> pd.DataFrame:
    """Box precision, recall, F1, mean IoU per annotator (``box_summary``)."""
    with _read(store) as con:
        return boxes.box_summary(con, store.only(filters), iou, against, by_label)


@st.cache_data(show_spinner=False, max_entries=16)  # ~25 MB a person at 1M boxes
def history(store: Store, filters: Filters, iou: float) -> box_timeline.BoxHistory:
    """The selection's scored submissions matched once (``box_history``, weeks): what the
    debrief's scores, week by week, onboarding, drift alerts and images with errors are
    derived from."""
    with _read(store) as con:
        return box_timeline.box_history(con, store.only(filters), iou, "week")


@st.cache_data(show_spinner=False)
def scores(store: Store, filters: Filters, iou: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Box scores per annotator and per annotator and label (``box_scores``)."""
    return history(store, filters, iou).scores()


@st.cache_data(show_spinner=False)
def errors(store: Store, filters: Filters, iou: float) -> pd.DataFrame:
    """Box errors by type and label per annotator (``box_errors``)."""
    with _read(store) as con:
        return boxes.box_errors(con, store.only(filters), iou)


@st.cache_data(show_spinner=False)
def confusion(store: Store, filters: Filters, iou: float) -> pd.DataFrame:
    """Detection confusion counts per annotator (``box_confusion``)."""
    with _read(store) as con:
        return boxes.box_confusion(con, store.only(filters), iou)


@st.cache_data(show_spinner=False)
def misses(
    store: Store, filters: Filters, person: str, labels: tuple[str, ...], iou: float
) -> tuple[pd.DataFrame, int]:
    """A person's images with box errors, latest first, and their count (``box_misses``, told
    which have errors by the matching of :func:`history`)."""
    matched = history(store, filters, iou)
    with _read(store) as con:
        found = box_items.box_misses(
            con, store.only(filters), person, labels, iou, MAX_ROWS, history=matched
        )
    return found.items, found.total


@st.cache_data(show_spinner=False)
def agreement(store: Store, filters: Filters, iou: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Detection F1, mean IoU and label kappa of every pair of annotators and of the team
    (``box_agreement_and_team``)."""
    with _read(store) as con:
        return boxes.box_agreement_and_team(con, store.only(filters), iou)


@st.cache_data(show_spinner=False)
def differences(
    store: Store, filters: Filters, a: str, b: str, iou: float
) -> tuple[pd.DataFrame, int]:
    """Images two annotators box differently, and their count (``box_differences``)."""
    with _read(store) as con:
        found = box_items.box_differences(con, store.only(filters), a, b, iou, MAX_ROWS)
    return found.items, found.total


@st.cache_data(show_spinner=False)
def weak(
    store: Store, filters: Filters, iou: float, min_support: float
) -> tuple[pd.DataFrame, int, pd.DataFrame]:
    """Gold-free images whose consensus is weak, their count, and their clusters."""
    with _read(store) as con:
        found, clusters = box_items.weak_consensus(
            con, store.only(filters), iou, min_support, MAX_ROWS
        )
    return found.items, found.total, clusters


@st.cache_data(show_spinner=False, max_entries=256)
def overlay(
    store: Store,
    item_id: str,
    person: str,
    other: str | None,
    at: datetime | None,
    iou: float,
    hidden: bool,
    names: tuple[str, str],
) -> bytes:
    """PNG of ``person``'s boxes on an image beside the committee's (or ``other``'s), named
    ``names`` in the legend (pseudonyms when switched on)."""
    who = (person,) if other is None else (person, other)
    if store.scope is not None and not set(who) <= set(store.scope):
        raise PermissionError("these boxes are not for this account")
    with _read(store) as con:
        item = box_items.item_boxes(con, item_id, person, other, at, iou)
    return item_overlay(item, *names, hidden=hidden)


@st.cache_data(show_spinner=False, max_entries=256)
def consensus_overlay(
    uri: str | None, size: tuple[int, int] | None, clusters: pd.DataFrame, hidden: bool
) -> bytes:
    """PNG of an image's consensus clusters: the objects a majority drew, and the splits."""
    majority = clusters["majority"]
    note = [
        f"{n} of {k}" for n, k in zip(clusters["n_workers"], clusters["item_workers"], strict=True)
    ]
    shown = clusters.assign(label=clusters["label"] + " · " + pd.Series(note, clusters.index))
    layers = [
        Layer("Drawn by a majority", shown[majority], COLOURS[1]),
        Layer("Drawn by fewer", shown[~majority], COLOURS[0]),
    ]
    return overlay_png(uri, layers, hidden=hidden, size=size)


@st.cache_data(show_spinner=False)
def timeline(store: Store, filters: Filters, iou: float) -> pd.DataFrame:
    """Box precision, recall, F1 and mean IoU per annotator and week (``box_timeline``)."""
    return history(store, filters, iou).timeline()


@st.cache_data(show_spinner=False)
def onboarding(
    store: Store, filters: Filters, recall: float, precision: float, iou: float
) -> pd.DataFrame:
    """Box onboarding status against the objective (``box_onboarding``)."""
    return history(store, filters, iou).onboarding(recall, precision)


@st.cache_data(show_spinner=False)
def alerts(
    store: Store, filters: Filters, recall: float, precision: float, iou: float
) -> pd.DataFrame:
    """Box drift alerts on control images raised in the window (``box_drift_alerts``)."""
    return history(store, filters, iou).drift_alerts(
        recall_objective=recall, precision_objective=precision
    )
