"""The Streamlit dashboard on the demo store, page by page, with AppTest.

Each test checks that the page runs without an exception, that its key numbers are the
library's numbers, and that a sidebar filter changes them.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from qualitylib.metrics.drift import DriftRule, drift_alerts, last_day, open_alerts
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.headlines import headlines
from qualitylib.metrics.onboarding import Objective, onboarding_status
from qualitylib.metrics.reference import annotator_summary
from qualitylib.metrics.review import review_queue
from qualitylib.metrics.skill import annotator_skill
from qualitylib.metrics.team_agreement import agreement_results
from qualitylib.pseudonyms import pseudonym
from qualitylib.store import connect

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"

Open = Callable[[str], AppTest]


@pytest.fixture
def open_page(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> Open:
    """Run the app on the demo store and switch to ``views/<name>.py``."""
    monkeypatch.setenv("QUALITYLIB_DB", str(demo_db))

    def _open(name: str) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=60).run()
        if name != "overview":  # the default page; AppTest cannot switch to it by file
            at.switch_page(f"views/{name}.py").run()
        _assert_clean(at)
        return at

    return _open


def _assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _choose(at: AppTest, key: str, value: object) -> None:
    """Set a sidebar widget and rerun (AppTest does not list the entry file's sidebar
    widgets after a page switch, so this goes through their session-state key)."""
    at.session_state[key] = value
    at.run()


def _metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r} in {[m.label for m in at.metric]}"
    return values[0]


def _texts(at: AppTest) -> str:
    parts = [c.value for c in at.caption] + [m.value for m in at.markdown]
    parts += [m.value for m in at.info] + [m.label for m in at.metric]
    return "\n".join(parts)


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def _team_accuracy(db: Path, filters: Filters) -> tuple[float, int]:
    """The library's team agreement of the latest week under ``filters`` (what the card shows)."""
    with connect(db, read_only=True) as con:
        week = headlines(con, filters).week.iloc[0]
    return week["accuracy"], int(week["accuracy_n"])


def test_overview_shows_this_weeks_team_agreement_and_the_team_filter_changes_it(
    open_page: Open, demo_db: Path
) -> None:
    at = open_page("overview")
    accuracy, n = _team_accuracy(demo_db, Filters())
    assert _metric(at, "Team agreement") == _pct(accuracy)
    assert f"n = {n:,} control labels" in _texts(at)
    assert at.get("vega_lite_chart"), "the divergence trend is drawn"

    at.sidebar.multiselect(key="f_teams").set_value(["team-b"]).run()  # the default page
    _assert_clean(at)
    team_b, n_b = _team_accuracy(demo_db, Filters(teams=("team-b",)))
    assert _metric(at, "Team agreement") == _pct(team_b)
    assert n_b < n


def test_annotator_page_debriefs_the_lenient_annotator(open_page: Open, demo_db: Path) -> None:
    at = open_page("annotator")
    at.selectbox(key="annotator").set_value("a09").run()  # Ivan Novak, misses positives
    _assert_clean(at)
    with connect(demo_db, read_only=True) as con:
        row = annotator_summary(con, Filters(annotators=("a09",))).iloc[0]
    assert _metric(at, "True positive rate") == _pct(row["tpr"])
    assert row["tpr"] < 0.75
    assert f"n = {row['tpr_n']:,}" in _texts(at)
    assert at.get("download_button"), "the debrief can be downloaded"
    assert "Ivan Novak" in at.selectbox(key="annotator").format_func("a09")

    _choose(at, "f_policies", ["v1"])
    _assert_clean(at)
    with connect(demo_db, read_only=True) as con:
        v1 = annotator_summary(con, Filters(annotators=("a09",), policy_versions=("v1",)))
    assert _metric(at, "True positive rate") == _pct(v1.iloc[0]["tpr"])


def test_pseudonym_switch_hides_names_everywhere(open_page: Open) -> None:
    at = open_page("annotator")
    _choose(at, "pseudonyms", True)
    _assert_clean(at)
    shown = at.selectbox(key="annotator_pseudonym").format_func("a09")
    assert shown == pseudonym("a09")
    everything = _texts(at) + "".join(str(d.value.to_dict()) for d in at.dataframe)
    assert "Ivan Novak" not in everything and "Alice Martin" not in everything


def test_agreement_page_shows_team_coefficients_and_pair_disagreements(
    open_page: Open, demo_db: Path
) -> None:
    at = open_page("agreement")
    with connect(demo_db, read_only=True) as con:
        results = agreement_results(con, Filters(), n_boot=10)
        team_a = agreement_results(con, Filters(teams=("team-a",)), n_boot=10)
    assert _metric(at, "Fleiss' kappa") == f"{results['fleiss_kappa'].value:.2f}"
    assert _metric(at, "Raw agreement") == _pct(results["percent_agreement"].value)
    assert f"n = {results['fleiss_kappa'].n_items:,} items" in _texts(at)
    # The random clicker's pairs come first (lowest kappa) and they disagree on many items.
    assert "Kevin Doyle" in at.selectbox[0].format_func(at.selectbox[0].value)
    assert "items** labelled differently" in _texts(at)

    _choose(at, "f_teams", ["team-a"])
    _assert_clean(at)
    assert _metric(at, "Fleiss' kappa") == f"{team_a['fleiss_kappa'].value:.2f}"
    # Skill without the committee beside skill against it, for everyone of team-a who answered.
    with connect(demo_db, read_only=True) as con:
        skill = annotator_skill(con, Filters(teams=("team-a",)))
    table = at.dataframe[-1].value
    assert len(table) == len(skill) > 3
    assert table["Dawid-Skene accuracy"].tolist() == [
        f"{v * 100:.1f} %" for v in skill["ds_accuracy"]
    ]
    assert "correlate at r = " in _texts(at)


def test_data_page_imports_uploads_and_the_pages_see_it_at_once(
    tmp_path: Path, demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(demo_db, db)
    monkeypatch.setenv("QUALITYLIB_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("views/imports.py").run()
    _assert_clean(at)
    # the demo's 12 imports: the team's 5, the model's and its fixes, the box project's 5
    assert len(at.dataframe[0].value) == 12

    bad = b"item_id,annotator_id,label,annotated_at\ni1,a01,safe,31/02/2026\n"
    at.file_uploader[0].set_value(("week47.csv", bad, "text/csv")).run()
    at.button[0].click().run()
    assert len(at.error) == 1
    message = at.error[0].value
    assert message.startswith("error: week47.csv row 1") and "\n" not in message
    assert len(at.dataframe[0].value) == 12  # nothing was written

    good = b"item_id,annotator_id,label,annotated_at\ni-new,a01,safe,2026-11-20T10:00:00Z\n"
    at.file_uploader[0].set_value(("week48.csv", good, "text/csv")).run()
    at.button[0].click().run()
    assert not at.error
    assert at.success[0].value.startswith("imported 1 file(s): 1 rows")
    history = at.dataframe[0].value
    assert len(history) == 13 and history.iloc[0]["source_name"] == "week48.csv"


def test_data_page_imports_a_tool_export_with_gold_and_a_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tool exports go through the same path as `qualitylib import --format`."""
    db = tmp_path / "crowd.duckdb"
    with connect(db):
        pass  # an empty store
    monkeypatch.setenv("QUALITYLIB_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("views/imports.py").run()
    at.selectbox[0].set_value("crowd CSV (task, worker, label)").run()
    votes = b"task,worker,label\n1,w1,yes\n1,w2,no\n2,w1,yes\n"
    at.file_uploader[0].set_value(("votes.csv", votes, "text/csv"))
    at.file_uploader[1].set_value(("gold.csv", b"task,label\n1,yes\n", "text/csv"))
    at.date_input[0].set_value(date(2026, 3, 1)).run()
    at.button[0].click().run()
    _assert_clean(at)
    assert at.success[0].value.startswith("imported 2 file(s): 4 rows")
    assert "3 rows without a timestamp dated 2026-03-01T00:00:00Z" in at.success[0].value
    with connect(db, read_only=True) as con:
        dated = con.execute("SELECT DISTINCT annotated_at FROM annotations").fetchall()
        gold = con.execute(
            "SELECT i.item_id, l.label FROM reference JOIN items i USING (item_key) "
            "JOIN labels l USING (label_key)"
        ).fetchall()
    assert dated == [(datetime(2026, 3, 1),)]
    assert gold == [("1", "yes")]
    kinds = at.dataframe[0].value["kind"].tolist()
    assert sorted(kinds) == ["crowd-csv", "crowd-csv-gold"]


def test_controls_page_lists_the_drifter_and_the_label_filter_narrows_alerts(
    personas_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUALITYLIB_DB", str(personas_db))  # 200,000 labels: the drifter shows
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("views/controls.py").run()
    _assert_clean(at)
    with connect(personas_db, read_only=True) as con:
        alerts = drift_alerts(con, Filters(), DriftRule())
        opened = open_alerts(alerts, last_day(con))
    table = at.dataframe[0].value
    assert len(table) == len(opened) > 0
    assert f"**{len(opened):,}** open as of 20 Nov 2026" in _texts(at)
    drifter = table[table["who"] == "Hannah Becker"]  # a08 starts calling alcohol `safe`
    assert set(drifter["label"]) == {"alcohol"}
    assert len(at.dataframe[1].value) == len(alerts)  # every alert of the range, below
    assert "Hannah Becker" in at.multiselect[0].value  # highlighted in the chart
    assert at.get("vega_lite_chart")

    _choose(at, "f_labels", ["safe"])
    _assert_clean(at)
    assert not (alerts["label"] == "safe").any()
    assert at.success[0].value == "No open drift alert under these filters."
    assert "No drift alert was raised in the date range." in [i.value for i in at.info]


def test_onboarding_page_shows_status_counts_and_learning_curves(
    open_page: Open, demo_db: Path
) -> None:
    at = open_page("onboarding")
    with connect(demo_db, read_only=True) as con:
        status = onboarding_status(con, Filters(), Objective())
        strict = onboarding_status(con, Filters(), Objective(tpr_min=0.99))
    counts = status["status"].value_counts()
    assert _metric(at, "Aligned") == f"{counts.get('aligned', 0):,}"
    assert _metric(at, "In training") == f"{counts.get('in_training', 0):,}"
    trainees = at.dataframe[0].value
    assert "Gabriel Sousa" in set(trainees["Annotator"])  # the learner, a newcomer
    assert "Ivan Novak" in set(trainees["Annotator"])  # lenient: never meets the objective
    assert len(at.get("vega_lite_chart")) == 2  # TPR and FPR learning curves

    at.number_input[0].set_value(0.99).run()  # a stricter TPR objective
    _assert_clean(at)
    assert _metric(at, "Aligned") == f"{(strict['status'] == 'aligned').sum():,}"
    assert (strict["status"] == "aligned").sum() < counts.get("aligned", 0)


def test_review_queue_page_filters_and_downloads(open_page: Open, demo_db: Path) -> None:
    at = open_page("review")
    with connect(demo_db, read_only=True) as con:
        queue = review_queue(con, Filters(), 5000)
    table = at.dataframe[0].value
    assert len(table) == len(queue)
    assert f"**{len(queue):,}** of {len(queue):,} items" in _texts(at)
    assert at.get("download_button")

    at.toggle[0].set_value(True).run()  # only flagged-vs-safe splits
    _assert_clean(at)
    assert len(at.dataframe[0].value) == queue["split"].sum() < len(queue)

    _choose(at, "f_labels", ["safe"])
    narrowed = at.dataframe[0].value
    assert set(narrowed["majority_label"]) == {"safe"}
    assert len(narrowed) == (queue["split"] & (queue["majority_label"] == "safe")).sum()


def test_data_page_shows_the_reference_history(open_page: Open, demo_db: Path) -> None:
    from qualitylib.metrics.audit import reference_history

    at = open_page("imports")
    with connect(demo_db, read_only=True) as con:
        history = reference_history(con)
    redecided = history[history["changed"]]
    assert len(redecided) > 0  # the demo's policy v2 re-decides the toy guns
    shown = at.dataframe[1].value
    assert len(shown) == len(redecided)
    assert set(shown["previous_label"]) == {"weapons"} and set(shown["label"]) == {"safe"}
    at.toggle[0].set_value(False).run()
    assert len(at.dataframe[1].value) == len(history)
