"""The Behaviour page with AppTest: who is flagged, the evidence, the debrief link, filters."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from qualitylib.metrics.behaviour import behaviour, flag_evidence
from qualitylib.store import connect

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


@pytest.fixture(scope="module")
def behaviour_store(behaviour_db: Path) -> Path:
    return behaviour_db


def _open(store: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("QUALITYLIB_DB", str(store))
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.switch_page("views/behaviour.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_lists_each_flag_with_its_evidence_and_debrief_link(
    behaviour_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with connect(behaviour_store, read_only=True) as con:
        expected = flag_evidence(behaviour(con))
    at = _open(behaviour_store, monkeypatch)
    assert at.title[0].value == "Behaviour"
    metrics = {m.label: m.value for m in at.metric if m.label != "Control items to check"}
    assert metrics == {
        "Too fast": "1",
        "Straight-lining": "1",
        "Odd label mix": "2",
        "Spammer (MACE)": "1",
        "Inconsistent": "2",  # the random clicker and the straight-liner
    }
    flagged = at.dataframe[0].value
    assert flagged["Evidence"].tolist() == expected["evidence"].tolist()
    assert flagged["Annotator"].tolist()[:1] == ["too fast clicker b07"]
    liner = flagged[flagged["Flag"] == "Straight-lining"].iloc[0]
    assert liner["Annotator"] == "straight liner b08"
    assert liner["Debrief"] == "/annotator?annotator=b08"
    assert liner["Evidence"].startswith("81 'safe' answers in a row")
    # speed against accuracy, and the weekly median time of the flagged people
    assert at.multiselect(key="time_people").value == ["b07", "b08", "b09"]
    assert len(at.get("vega_lite_chart")) == 2


def test_pseudonyms_hide_names_and_links(
    behaviour_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _open(behaviour_store, monkeypatch)
    at.session_state["pseudonyms"] = True
    at.run()
    flagged = at.dataframe[0].value
    assert "Debrief" not in flagged.columns
    assert not any("b0" in name for name in flagged["Annotator"])


def test_a_date_filter_changes_the_evidence(
    behaviour_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import date

    at = _open(behaviour_store, monkeypatch)
    at.session_state["f_dates"] = (date(2026, 9, 7), date(2026, 9, 11))
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Inconsistent"] == "0"  # the repeats come after the last batch


def test_onboarding_page_shows_the_sequential_decision_on_request(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qualitylib.metrics.filters import Filters
    from qualitylib.metrics.sprt import SPRT, sprt_onboarding

    monkeypatch.setenv("QUALITYLIB_DB", str(demo_db))
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.switch_page("views/onboarding.py").run()
    charts_before = len(at.get("vega_lite_chart"))
    at.toggle(key="sprt_on").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[-1].value
    assert len(at.get("vega_lite_chart")) == charts_before + 1  # the LLR paths
    with connect(demo_db, read_only=True) as con:
        learner = sprt_onboarding(con, sprt=SPRT(), filters=Filters(annotators=("a07",)))
    row = table.set_index("Annotator").loc["Gabriel Sousa"]
    assert row["Decision"] == learner["decision"].iloc[0].replace("_", " ")
    assert row["Reference labels to decision"] == learner["n_to_decision"].iloc[0]
    at.number_input(key="sprt_alpha").set_value(0.01).run()  # a stricter test: more labels
    stricter = at.dataframe[-1].value.set_index("Annotator").loc["Gabriel Sousa"]
    assert stricter["Expected labels to decide"] > row["Expected labels to decide"]


def test_gold_section_shows_the_budget_and_the_items_to_check(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qualitylib.metrics.gold import GoldPlan, gold_budget, gold_exposure

    monkeypatch.setenv("QUALITYLIB_DB", str(demo_db))
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.switch_page("views/behaviour.py").run()
    assert not at.exception, [e.value for e in at.exception]
    with connect(demo_db, read_only=True) as con:
        budget = gold_budget(con)
        exposure = gold_exposure(con)
    shown = {m.label: m.value for m in at.metric}
    assert (
        shown["Control items to check"]
        == f"{int((exposure.leaked | exposure.suspect_reference).sum()):,}"
    )
    table = [d.value for d in at.dataframe if "Needed" in d.value.columns][0]
    assert table["Needed"].tolist() == budget["needed_per_week"].tolist()
    assert table["Control labels"].tolist() == budget["controls_last_week"].tolist()
    at.number_input(key="gold_width").set_value(0.1).run()
    wider = [d.value for d in at.dataframe if "Needed" in d.value.columns][0]
    with connect(demo_db, read_only=True) as con:
        expected = gold_budget(con, plan=GoldPlan(width=0.1))["needed_per_week"].iloc[0]
    assert wider["Needed"].iloc[0] == expected > table["Needed"].iloc[0]
