"""Cached loaders of the people-analytics pages (behaviour, sequential onboarding), as in
:mod:`dashboard.data`: per store version, filters and the session's scope."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.data import Store, _read
from qualitylib.metrics.behaviour import behaviour as behaviour_table
from qualitylib.metrics.behaviour import flag_evidence
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.gold import GoldPlan, gold_budget, gold_exposure
from qualitylib.metrics.onboarding import Objective
from qualitylib.metrics.sprt import SPRT, sprt_onboarding, sprt_paths
from qualitylib.metrics.time_on_task import time_on_task


@st.cache_data(show_spinner="Checking behaviour…")
def behaviour(store: Store, filters: Filters) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The :func:`qualitylib.metrics.behaviour.behaviour` table and its flag evidence."""
    with _read(store) as con:
        table = behaviour_table(con, store.only(filters))
    return table, flag_evidence(table)


@st.cache_data(show_spinner=False)
def sequential(
    store: Store, filters: Filters, objective: Objective, sprt: SPRT
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each annotator's SPRT decision and every reference label's running LLRs."""
    filters = store.only(filters)
    with _read(store) as con:
        return (
            sprt_onboarding(con, objective, sprt, filters),
            sprt_paths(con, objective, sprt, filters),
        )


@st.cache_data(show_spinner=False)
def gold(store: Store, filters: Filters, plan: GoldPlan) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The gold budget per person and the exposure of each control item."""
    filters = store.only(filters)
    with _read(store) as con:
        return gold_budget(con, filters, plan), gold_exposure(con, filters, plan)


@st.cache_data(show_spinner=False)
def suspect_references(store: Store, filters: Filters) -> pd.DataFrame:
    """Control items everyone fails (:func:`gold_exposure`'s ``suspect_reference``): the
    committee's queue of references to rule on again."""
    with _read(store) as con:
        exposure = gold_exposure(con, store.only(filters))
    return exposure[exposure["suspect_reference"]].reset_index(drop=True)


@st.cache_data(show_spinner=False)
def weekly_time(store: Store, filters: Filters) -> pd.DataFrame:
    """Time on task per annotator and ISO week (``time_on_task(by="week")``)."""
    with _read(store) as con:
        return time_on_task(con, store.only(filters), by="week")
