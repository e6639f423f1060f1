"""The dashboard says nothing false: what each Overview card counts, as of which day, and the
same open drift alerts on the Overview, the Controls page and in the weekly report."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
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
