"""Cached loaders of the Reference set page (gold difficulty, committee reliability), as in
:mod:`dashboard.data`: per store version, filters and the session's scope."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.data import Store, _read
from qualitylib.metrics.committee import committee_agreement, committee_reversals
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.gold import gold_difficulty
from qualitylib.metrics.onboarding import Objective


@st.cache_data(show_spinner=False)
def difficulty(store: Store, filters: Filters, objective: Objective) -> pd.DataFrame:
    """Per reference item, the share of trained annotators in scope who disagree with it."""
    with _read(store) as con:
        return gold_difficulty(con, store.only(filters), objective=objective)


@st.cache_data(show_spinner=False)
def committee(store: Store, filters: Filters) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The committee members' agreement and the committee's reversals per policy version."""
    with _read(store) as con:
        return committee_agreement(con, filters), committee_reversals(con, filters)
