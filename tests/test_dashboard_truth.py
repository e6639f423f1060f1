"""The dashboard says nothing false: what each Overview card counts, as of which day, and the
same open drift alerts on the Overview, the Controls page and in the weekly report."""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from conftest import fingerprint
from streamlit.testing.v1 import AppTest

from qualitylib.ingest import import_exports
from qualitylib.metrics.drift import drift_alerts, open_alerts
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.onboarding import onboarding_as_of, onboarding_status
from qualitylib.reports import build_weekly_report
from qualitylib.store import connect

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "dashboard" / "app.py"
SAMPLES = ROOT / "data" / "samples"


def _run(db: Path, monkeypatch: pytest.MonkeyPatch, page: str = "overview") -> AppTest:
    monkeypatch.setenv("QUALITYLIB_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    if page != "overview":
        at.switch_page(f"views/{page}.py").run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    return at


def _rerun(at: AppTest, **state: object) -> AppTest:
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    return at


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _card(at: AppTest, label: str) -> str:
    """The metric's value and the captions of its card (the column it is drawn in)."""
    for column in at.columns:
        labels = [m.label for m in column.get("metric")]
        if label in labels:
            return "\n".join([_metric(at, label), *(c.value for c in column.get("caption"))])
    raise AssertionError(f"no card {label!r}")


def test_in_training_card_says_not_enough_data_instead_of_everyone_aligned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "samples.duckdb"
    files = [SAMPLES / "label_studio.json", SAMPLES / "toloka.tsv", SAMPLES / "prodigy.jsonl"]
    import_exports(db, "auto", files)
    with connect(db, read_only=True) as con:
        status = onboarding_status(con)
    assert set(status["status"]) == {"not_enough_data"}
    card = _card(_run(db, monkeypatch), "In training")
    assert card.startswith("0\n")
    assert f"not enough data ({len(status)})" in card
    assert "aligned" not in card.replace("not aligned", "")


def test_a_narrower_window_keeps_statuses_and_open_alerts(
    personas_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _run(personas_db, monkeypatch)
    training, alerts = _card(at, "In training"), _card(at, "Open drift alerts")
    assert "regressed (2): Hannah Becker, Julia Moreau" in training
    assert "as of 20 Nov 2026, of 13 people" in training
    assert alerts.startswith("1\n") and "Hannah Becker: alcohol" in alerts

    _rerun(at, f_dates=(date(2026, 11, 1), date(2026, 11, 20)))
    assert _card(at, "In training") == training  # their history up to 20 Nov, not only November
    assert _card(at, "Open drift alerts") == alerts
    with connect(personas_db, read_only=True) as con:
        november = onboarding_as_of(con, filters=Filters(since=date(2026, 11, 1)))
        narrow = onboarding_status(con, filters=Filters(since=date(2026, 11, 1)))
    assert (november["status"] == "regressed").sum() == 2
    assert (narrow["status"] == "regressed").sum() < 2  # what the window alone would say

    _rerun(at, f_dates=(date(2026, 9, 1), date(2026, 10, 4)))  # before the drift is alerted
    assert "as of 04 Oct 2026" in _card(at, "Open drift alerts")
    assert _metric(at, "Open drift alerts") == "0"


def test_open_alerts_are_the_same_on_the_overview_the_controls_page_and_the_report(
    personas_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sunday = date(2026, 11, 15)  # the end of ISO week 2026-W46
    with connect(personas_db, read_only=True) as con:
        expected = open_alerts(drift_alerts(con, filters=Filters(until=sunday)), sunday)
        report = build_weekly_report(con, "2026-W46")
    assert len(expected) == 1 and expected["alert_weeks"].iloc[0] == 2  # one pair, two weeks
    assert report.alerts[["annotator_id", "label", "week_start"]].equals(
        expected[["annotator_id", "label", "week_start"]]
    )
    at = _rerun(_run(personas_db, monkeypatch), f_dates=(date(2026, 8, 31), sunday))
    assert _metric(at, "Open drift alerts") == f"{len(report.alerts):,}"
    at.switch_page("views/controls.py").run()
    listed = at.dataframe[0].value
    assert listed[["who", "label"]].values.tolist() == [["Hannah Becker", "alcohol"]]
    assert listed["alert_weeks"].tolist() == [2]


def _rate_layers(at: AppTest) -> list[dict]:
    """Every layer of the page's charts whose y axis is a rate (0 to 100 %)."""
    specs = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    layers = [layer for spec in specs for layer in spec.get("layer", [spec])]
    return [
        layer
        for layer in layers
        if layer.get("encoding", {}).get("y", {}).get("type") == "quantitative"
    ]


def test_rate_charts_stay_within_0_and_100_percent_and_legends_use_line_colours(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for page in ("annotator", "onboarding"):
        at = _run(demo_db, monkeypatch, page)
        layers = _rate_layers(at)
        assert len(layers) >= 3 * (2 if page == "onboarding" else 1)
        for layer in layers:
            scale = layer["encoding"]["y"]["scale"]
            # exactly 0-100 %, no padding or nice rounding, clamped: a TPR of 1 and an FPR of 0
            # are drawn on the 100 % and 0 % gridlines in the browser as in the PDF
            assert (scale["domain"], scale["clamp"], scale["nice"], scale["padding"]) == (
                [0, 1],
                True,
                False,
                0,
            )
            axis = layer["encoding"]["y"].get("axis")
            if axis:  # Streamlit's theme flushes end labels off their gridlines
                assert axis["labelFlush"] is False
            legend = layer["encoding"].get("color", {}).get("legend")
            if legend:  # the legend shows the lines' colours, not the pale bands'
                assert (legend["symbolType"], legend["symbolOpacity"]) == ("stroke", 1)
    divergence = _rate_layers(_run(demo_db, monkeypatch, "controls"))
    assert all(layer["encoding"]["y"]["scale"]["domainMin"] == 0 for layer in divergence)
    assert all(layer["encoding"]["y"]["scale"]["clamp"] for layer in divergence)


def _strings(at: AppTest) -> list[str]:
    """Every string the page sends: element protos, dataframe cells and chart data."""
    out = []
    for element in at.get("dataframe"):
        frame = element.value
        out += [str(c) for c in frame.columns] + [str(v) for v in frame.to_numpy().ravel()]
    for chart in at.get("vega_lite_chart"):
        proto = chart.proto
        out.append(proto.spec)
        for dataset in proto.datasets:
            table = pa.ipc.open_stream(dataset.data.data).read_all().to_pandas()
            out += [str(c) for c in table.columns] + [str(v) for v in table.to_numpy().ravel()]
    for node in at._tree.main, at._tree.sidebar:  # every element's text, options, labels
        stack = [node]
        while stack:
            current = stack.pop()
            stack += list(getattr(current, "children", {}).values())
            proto = getattr(current, "proto", None)
            if proto is not None:
                out.append(str(proto))
    return out


def test_pseudonyms_leave_no_name_or_id_in_any_table_chart_or_widget(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with connect(demo_db, read_only=True) as con:
        rows = con.execute("SELECT annotator_id, name FROM annotators").fetchall()
    people = sorted({value for row in rows for value in row if value}, key=len, reverse=True)
    pattern = re.compile("|".join(rf"(?<![\w-]){re.escape(p)}(?![\w-])" for p in people))
    at = _run(demo_db, monkeypatch, "annotator")
    at.selectbox(key="annotator").set_value("a09").run()
    _rerun(at, pseudonyms=True)
    assert at.selectbox(key="annotator_pseudonym").value == "a09"  # the same person, renamed
    for page in ("annotator", "overview", "controls", "onboarding", "agreement", "review"):
        if page != "annotator":
            at.switch_page(f"views/{page}.py").run()
        found = {m[0] for text in _strings(at) for m in pattern.finditer(text)}
        assert not found, f"{page}: {sorted(found)}"
    at.switch_page("views/imports.py").run()
    at.toggle[0].set_value(False).run()  # every reference decision, with who decided
    found = {m[0] for text in _strings(at) for m in pattern.finditer(text)}
    assert not found, f"data: {sorted(found)}"


def test_annotator_picker_lists_whom_the_filters_keep_and_remembers_the_choice(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with connect(demo_db, read_only=True) as con:
        rows = con.execute("SELECT annotator_id, name, team FROM annotators").fetchall()
    team = {name: team for _, name, team in rows}
    at = _run(demo_db, monkeypatch, "annotator")
    at.selectbox(key="annotator").set_value("a09").run()  # Ivan Novak, team-b
    at.switch_page("views/overview.py").run()
    at.switch_page("views/annotator.py").run()
    assert at.selectbox(key="annotator").value == "a09"  # back from another page: still Ivan
    assert at.query_params["annotator"] == "a09"  # and the URL links to him

    _rerun(at, f_teams=["team-a"])
    picker = at.selectbox(key="annotator")
    assert {team[name] for name in picker.options} == {"team-a"}  # no one from team-b
    assert len(picker.options) == sum(t == "team-a" and a[0] == "a" for a, _, t in rows)
    assert picker.value != "a09" and team[picker.format_func(picker.value)] == "team-a"
    assert not [i.value for i in at.info if "no labels" in i.value]


def test_data_page_shows_every_bad_files_error(
    tmp_path: Path, demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(demo_db, db)
    before = fingerprint(db)
    at = _run(db, monkeypatch, "imports")
    header = b"item_id,annotator_id,label,annotated_at\n"
    files = [
        ("week46.csv", header + b"i1,a01,safe,31/02/2026\n", "text/csv"),
        ("week47.csv", header + b"i-new,a01,safe,2026-11-20T10:00:00Z\n", "text/csv"),
        ("week48.csv", header + b"i2,a01,sarcasm,2026-11-21T10:00:00Z\n", "text/csv"),
    ]
    at.file_uploader[0].set_value(files).run()
    at.button[0].click().run()
    errors = [e.value for e in at.error]
    assert len(errors) == 2  # the two bad files, each with its own row and column
    assert errors[0].startswith("error: week46.csv row 1, column 'annotated_at'")
    assert errors[1].startswith("error: week48.csv row 1") and "sarcasm" in errors[1]
    assert fingerprint(db) == before  # all or nothing: the good file is not imported either


@pytest.mark.parametrize("headless", [True, False])
def test_dashboard_command_has_the_new_server_run_the_app_once(
    build_store, monkeypatch: pytest.MonkeyPatch, headless: bool
) -> None:
    """The first view of a fresh server finds the imports and the Overview's queries done:
    the browser is opened (unless --headless) after that run, never by Streamlit at once."""
    import threading

    from qualitylib import cli

    db = build_store(
        "label,is_positive\nsafe,false\nnudity,true\n",
        "item_id,label,decided_at\nr1,safe,2026-08-01\n",
        "item_id,annotator_id,label,annotated_at\nr1,ann,safe,2026-09-07T09:00:00Z\n",
    )
    commands: list[list[str]] = []
    warmed: list[tuple[str, bool]] = []

    class Now(threading.Thread):  # runs its target at once, so the test need not wait
        def start(self) -> None:
            self.run()

    monkeypatch.setattr(threading, "Thread", Now)
    monkeypatch.setattr(cli, "_serve", lambda command, env: commands.append(command) or 0)
    monkeypatch.setattr(cli, "_warm_dashboard", lambda url, browse: warmed.append((url, browse)))
    flags = ["--headless"] if headless else []
    assert cli.main(["dashboard", "--db", str(db), *flags, "--port", "8999"]) == 0
    command = commands[0]
    assert command[command.index("--server.scriptHealthCheckEnabled") + 1] == "true"
    assert command[command.index("--server.headless") + 1] == "true"
    assert warmed == [("http://127.0.0.1:8999", not headless)]
