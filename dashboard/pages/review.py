"""Review queue, for the committee: the items annotators split on."""

import streamlit as st

from dashboard import common

common.store()
st.title("Review queue")
common.not_available("The review queue")
