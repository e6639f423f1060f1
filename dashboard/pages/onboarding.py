"""Onboarding, for the trainer: everyone in training, their status and learning curves."""

import streamlit as st

from dashboard import common

common.store()
st.title("Onboarding")
common.not_available("Learning curves and onboarding status")
