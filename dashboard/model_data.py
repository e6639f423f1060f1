"""Cached loaders of the Models page (model versions against the committee and the people).

Kept apart from :mod:`dashboard.data` but built the same way: a :class:`~dashboard.data.Store`
first (cached per store version and scope), one short read-only connection per query.
Comparisons with people follow the session's scope.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.data import MAX_ROWS, Store, _read
from qualitylib.metrics.alt_test import alt_test
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.fixes import fix_rates
from qualitylib.metrics.models import (
    calibration_table,
    distribution_labels,
    has_predictions,
    model_confusion,
    model_disagreements,
    model_name,
    model_summary,
    model_timeline,
    pairwise_kappa_with_models,
)


def _named(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``model``: ``model:<id>@<version>``, how a model version is shown."""
    return frame.assign(
        model=[
            model_name(i, v) for i, v in zip(frame["model_id"], frame["model_version"], strict=True)
        ]
    )


@st.cache_data(show_spinner=False)
def summary(
    store: Store, filters: Filters, threshold: float, positive: str | None = None
) -> pd.DataFrame:
    """Per model version against the committee (``model_summary``), with ``model``; rates at
    the threshold for ``positive`` against the rest when given."""
    with _read(store) as con:
        return _named(model_summary(con, filters, threshold, threshold_label=positive))


@st.cache_data(show_spinner=False)
def confusion(store: Store, filters: Filters) -> pd.DataFrame:
    """Tidy confusion counts per model version against the committee (``model_confusion``)."""
    with _read(store) as con:
        return _named(model_confusion(con, filters))


@st.cache_data(show_spinner=False)
def weekly(store: Store, filters: Filters) -> pd.DataFrame:
    """Rates per model version and week (``model_timeline``), with ``model``."""
    with _read(store) as con:
        return _named(model_timeline(con, filters, "week"))


@st.cache_data(show_spinner=False)
def present(store: Store) -> bool:
    """Whether the store holds model predictions (``has_predictions``)."""
    with _read(store) as con:
        return has_predictions(con)


@st.cache_data(show_spinner=False)
def pairs(store: Store, filters: Filters) -> pd.DataFrame:
    """Cohen's kappa of every pair of raters, model versions among them, with ``kind``
    (``pairwise_kappa_with_models``) for the people in scope."""
    filters = store.only(filters)
    with _read(store) as con:
        return pairwise_kappa_with_models(con, filters)


@st.cache_data(show_spinner=False)
def calibration(store: Store, filters: Filters, label: str | None = None) -> pd.DataFrame:
    """The reliability table per model version (``calibration_table``), with ``model``: of the
    predicted label's score, or of P(``label``) from the distributions."""
    with _read(store) as con:
        return _named(calibration_table(con, filters, label=label))


@st.cache_data(show_spinner=False)
def distributions(store: Store) -> list[str]:
    """Labels the predictions give a probability for (``score_<label>`` columns)."""
    with _read(store) as con:
        return distribution_labels(con)


@st.cache_data(show_spinner=False)
def replaceable(store: Store, filters: Filters, epsilon: float) -> pd.DataFrame:
    """The Alternative Annotator Test (``alt_test``) against the people in scope."""
    filters = store.only(filters)
    with _read(store) as con:
        return _named(alt_test(con, filters, epsilon=epsilon))


@st.cache_data(show_spinner=False)
def disagreements(store: Store, filters: Filters) -> pd.DataFrame:
    """Items where a model and the people in scope disagree, most confident first."""
    filters = store.only(filters)
    with _read(store) as con:
        return _named(model_disagreements(con, filters, MAX_ROWS))


@st.cache_data(show_spinner=False)
def fixes(store: Store, filters: Filters) -> pd.DataFrame:
    """Fix rates per model version, predicted label and week (``fix_rates``), with ``model``."""
    with _read(store) as con:
        return _named(fix_rates(con, filters, "week"))
