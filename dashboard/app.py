"""The dashboard's entry file: page setup, sign-in, the shared sidebar, and routing to the
pages the signed-in user may see.

The sidebar's filters are drawn *after* the page, into a place kept for them above it: the
browser loads each kind of element's code when it first meets one, so the page's first
numbers (the Overview's cards) then arrive before the date picker's and the multiselects'
code, not after it. A page reads the filters' values from the session (their defaults on a
session's first run) and ends early with :func:`common.stop`, never ``st.stop()``, so the
filters are drawn whatever the page shows (:func:`common.run_page`).
"""

import importlib

import streamlit as st

from dashboard import auth, common, data
from qualitylib.access import Page, pages_for

st.set_page_config(page_title="qualitylib", page_icon=":material/fact_check:", layout="wide")

PAGES: dict[Page, tuple[str, st.Page]] = {
    "overview": (
        "Team",
        st.Page("views/overview.py", title="Overview", icon=":material/dashboard:"),
    ),
    "controls": (
        "Team",
        st.Page(
            "views/controls.py",
            title="Controls & drift",
            icon=":material/trending_up:",
            url_path="controls",
        ),
    ),
    "agreement": (
        "Team",
        st.Page("views/agreement.py", title="Agreement", icon=":material/handshake:"),
    ),
    "reports": (
        "Team",
        st.Page("views/reports.py", title="Weekly report", icon=":material/summarize:"),
    ),
    "annotator": (
        "People",
        st.Page("views/annotator.py", title="Annotator", icon=":material/person:"),
    ),
    "boxes": (
        "People",
        st.Page("views/boxes.py", title="Box debrief", icon=":material/crop_free:"),
    ),
    "onboarding": (
        "People",
        st.Page("views/onboarding.py", title="Onboarding", icon=":material/school:"),
    ),
    "behaviour": (
        "People",
        st.Page("views/behaviour.py", title="Behaviour", icon=":material/psychology_alt:"),
    ),
    "review": (
        "Committee",
        st.Page("views/review.py", title="Review queue", icon=":material/rule:"),
    ),
    "data": (
        "Committee",
        st.Page("views/imports.py", title="Data", icon=":material/upload_file:", url_path="data"),
    ),
    "reference": (
        "Committee",
        st.Page("views/reference.py", title="Reference set", icon=":material/gavel:"),
    ),
    "models": (
        "Team",
        st.Page("views/models.py", title="Models", icon=":material/smart_toy:"),
    ),
}

user = auth.sign_in()
sections: dict[str, list[st.Page]] = {}
for name in pages_for(user):  # only these exist for this session, even by URL
    if name == "boxes":
        if not common.store_has_boxes():
            continue  # the box debrief only where there are boxes
        # The box pages' code (Pillow and its image formats, the overlays, the box charts)
        # loads with this run, the server's warm-up, not with a person's first box page.
        importlib.import_module("dashboard.box_views")
    section, page = PAGES[name]
    sections.setdefault(section, []).append(page)
page = st.navigation(sections)
auth.sidebar(user)
sidebar_filters = st.sidebar.container()
writes = page.url_path == "data"  # the Data page imports into the store from this process
with data.held_open(hold=not writes):
    common.run_page(page)
    common.sidebar(sidebar_filters)
