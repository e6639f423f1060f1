"""The dashboard's entry file: page setup, the shared sidebar, and routing to the pages."""

import streamlit as st

from dashboard import common

st.set_page_config(page_title="qualitylib", page_icon=":material/fact_check:", layout="wide")

page = st.navigation(
    {
        "Team": [
            st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:"),
            st.Page(
                "pages/controls.py",
                title="Controls & drift",
                icon=":material/trending_up:",
                url_path="controls",
            ),
            st.Page("pages/agreement.py", title="Agreement", icon=":material/handshake:"),
        ],
        "People": [
            st.Page("pages/annotator.py", title="Annotator", icon=":material/person:"),
            st.Page("pages/onboarding.py", title="Onboarding", icon=":material/school:"),
        ],
        "Committee": [
            st.Page("pages/review.py", title="Review queue", icon=":material/rule:"),
            st.Page(
                "pages/imports.py", title="Data", icon=":material/upload_file:", url_path="data"
            ),
        ],
    }
)
common.sidebar()
page.run()
