"""The dashboard's entry file: page setup, the shared sidebar, and routing to the pages."""

import streamlit as st

from dashboard import common

st.set_page_config(page_title="qualitylib", page_icon=":material/fact_check:", layout="wide")

page = st.navigation(
    {
        "Team": [
            st.Page("views/overview.py", title="Overview", icon=":material/dashboard:"),
            st.Page(
                "views/controls.py",
                title="Controls & drift",
                icon=":material/trending_up:",
                url_path="controls",
            ),
            st.Page("views/agreement.py", title="Agreement", icon=":material/handshake:"),
            st.Page("views/reports.py", title="Weekly report", icon=":material/summarize:"),
        ],
        "People": [
            st.Page("views/annotator.py", title="Annotator", icon=":material/person:"),
            st.Page("views/onboarding.py", title="Onboarding", icon=":material/school:"),
        ],
        "Committee": [
            st.Page("views/review.py", title="Review queue", icon=":material/rule:"),
            st.Page(
                "views/imports.py", title="Data", icon=":material/upload_file:", url_path="data"
            ),
        ],
    }
)
common.sidebar()
page.run()
