"""Controls & drift, for the team lead: divergence on control items and drift alerts."""

import streamlit as st

from dashboard import common

common.store()
st.title("Controls & drift")
common.not_available("Divergence on control items and drift alerts")
