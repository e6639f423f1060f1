"""The Reference set page with AppTest: gold difficulty and committee reliability are the
library's numbers, on the hand-made stores of tests/test_gold.py and tests/test_committee.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_committee import store  # noqa: F401  (the module-scoped committee store)
from test_gold import START, difficulty_db  # noqa: F401

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


def _open(db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("QUALITYLIB_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("views/reference.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_gold_difficulty_lists_the_doubtful_reference_first(
    difficulty_db: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from qualitylib.metrics.onboarding import Objective

    monkeypatch.setenv("QUALITYLIB_DB", str(difficulty_db))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.session_state["objective"] = Objective(min_positives=2, min_negatives=2)
    at.switch_page("views/reference.py").run()
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric} == {
        "Reference may be wrong": "1",
        "Reference items labelled by trained annotators": "16",
    }
    doubtful = at.dataframe[0].value
    assert doubtful["Item"].tolist() == ["wrong"]
    assert doubtful.iloc[0]["Disagree"] == "100.0 %" and doubtful.iloc[0]["They gave"] == "safe"
    assert doubtful.iloc[0]["95 % CI"] == "56.6 to 100.0 %"
    at.toggle(key="doubtful").set_value(False).run()
    every = at.dataframe[0].value
    assert every["Item"].tolist()[:3] == ["wrong", "few", "hard"] and len(every) == 16
    assert every.iloc[2]["Disagree"] == "40.0 %"


def test_committee_reliability_tables(
    store: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    at = _open(store, monkeypatch)
    assert "not enough data" in at.info[0].value  # no annotations: no trained annotator
    agreement = at.dataframe[0].value.set_index("Policy version")
    assert agreement.loc["v1", "Kappa"] == f"{34 / 52:.2f}" and agreement.loc["v1", "Items"] == 3
    assert agreement.loc["v2", "Kappa"] == "not enough data"
    assert agreement.loc["v2", "Why empty"].startswith("fewer than 2 items")
    reversals = at.dataframe[1].value.set_index("Policy version")
    assert reversals.loc["v1", "Reversed"] == "60.0 %"
    assert reversals.loc["v2", "Same version: reversed"] == "50.0 %"
