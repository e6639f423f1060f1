"""The dashboard and the weekly report on a store without the label log (`cubes --no-log`):
every number the kept tables and the activity count table serve equals the full store's, and
each section that needs the log says so in one line."""

from __future__ import annotations

import re
from dataclasses import fields, replace
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader
from streamlit.testing.v1 import AppTest
from test_engines import (  # noqa: F401  (lake and no_log are fixtures)
    APP,
    SELECTIONS,
    lake,
    no_log,
)

from qualitylib.cli import main
from qualitylib.errors import QualitylibError
from qualitylib.log_scope import LogNeeded, needs_log_message
from qualitylib.metrics import catalog
from qualitylib.metrics.counts import TEAM_COEFFICIENTS, activity_sql
from qualitylib.metrics.filters import Filters, annotators_kept
from qualitylib.metrics.headlines import headlines
from qualitylib.metrics.items import disagreements, long_table
from qualitylib.metrics.label_needs import label_needs
from qualitylib.metrics.onboarding import onboarding_as_of
from qualitylib.metrics.skill import annotator_skill
from qualitylib.metrics.slices import slice_values
from qualitylib.metrics.team_agreement import agreement_results, pairwise_kappa, raters
from qualitylib.metrics.timeline import timeline
from qualitylib.reports import build_weekly_report
from qualitylib.reports.weekly import NEEDS_LOG as REPORT_NEEDS_LOG
from qualitylib.reports.weekly import WeeklyReport
from qualitylib.store import connect

# What each page shows only with the log, in the page's one line (common.needs_log).
NEEDS_LOG = {
    "agreement": TEAM_COEFFICIENTS,
    "behaviour": "The section on behaviour flags and time on task",
    "review": "Estimating each item's confidence and 'More labels' (all its answers)",
    "imports": "An import",
    "models": "The Models page (the models' predictions, left out with it)",
}
# Pages the kept tables serve whole.
SERVED_PAGES = ("overview", "controls", "annotator", "onboarding", "reference")


@pytest.fixture(scope="module")
def stores(no_log: tuple[Path, Path]) -> tuple[Path, Path]:  # noqa: F811
    """The full store and the one without the log, of the same lake."""
    return no_log


def _both(stores: tuple[Path, Path], ask) -> tuple[object, object]:
    """``ask(con)`` on the full store and on the one without the log."""
    found = []
    for db in stores:
        with connect(db, read_only=True) as con:
            found.append(ask(con))
    return found[0], found[1]


def test_sidebar_choices_equal_the_full_stores(stores: tuple[Path, Path]) -> None:
    full, thin = _both(stores, catalog.filter_options)
    assert full == thin and thin["first_day"] is not None and thin["policy_versions"]


@pytest.mark.parametrize("filters", SELECTIONS, ids=["all", "window", "team-v2"])
def test_activity_serves_who_labelled_when_and_how_much(
    stores: tuple[Path, Path], filters: Filters
) -> None:
    for ask in (
        lambda con: annotators_kept(con, filters),
        lambda con: catalog.latest_week(con, filters),
        lambda con: catalog.last_day(con, Filters(teams=filters.teams, since=filters.since)),
        lambda con: catalog.newcomers(con, replace(filters, phases=(), policy_versions=())),
        lambda con: catalog.n_labels(con, filters),
        lambda con: catalog.last_week_with_labels(con, filters, date(2026, 11, 30)),
    ):
        full, thin = _both(stores, ask)
        assert full == thin and full  # each is something: the demo has labels in each
    for ask in (
        lambda con: catalog.people(con, filters),
        lambda con: catalog.policy_versions(con, filters, date(2026, 10, 1)),
        lambda con: timeline(con, filters, "week"),
        lambda con: onboarding_as_of(con, filters),
    ):
        full, thin = _both(stores, ask)
        assert len(full) > 0
        pd.testing.assert_frame_equal(thin, full)


@pytest.mark.parametrize(
    "filters",
    [SELECTIONS[0], SELECTIONS[2], Filters(since=date(2026, 9, 14), until=date(2026, 10, 25))],
    ids=["all", "team-v2", "whole-weeks"],
)
def test_pair_counts_serve_every_pairs_kappa(stores: tuple[Path, Path], filters: Filters) -> None:
    full, thin = _both(stores, lambda con: pairwise_kappa(con, filters))
    assert len(full) > 0
    pd.testing.assert_frame_equal(thin, full)
    full, thin = _both(stores, lambda con: raters(con, filters))
    assert full == thin > 0


def test_headlines_equal_the_full_stores_but_raters(stores: tuple[Path, Path]) -> None:
    full, thin = _both(stores, lambda con: headlines(con, SELECTIONS[1]).row())
    assert thin.loc[0, "raters"] is None and full.loc[0, "raters"] > 0
    pd.testing.assert_frame_equal(thin.drop(columns="raters"), full.drop(columns="raters"))


@pytest.mark.parametrize(
    ("filters", "what"),
    [
        (Filters(slice_column="source", slice_values=("net-a",)), "A slice of items"),
        (Filters(since=datetime(2026, 9, 14, 12)), "A window within a day"),
        (Filters(until=datetime(2026, 9, 14, 12)), "A window within a day"),
    ],
)
def test_activity_refuses_what_day_cells_cannot_tell(
    stores: tuple[Path, Path], filters: Filters, what: str
) -> None:
    with connect(stores[1], read_only=True) as con:
        with pytest.raises(QualitylibError, match=f"^{what} needs the label log"):
            activity_sql(con, filters)
        activity_sql(con, Filters(since=datetime(2026, 9, 14), until=date(2026, 9, 20)))


def _open(db: Path, page: str, monkeypatch: pytest.MonkeyPatch, **chosen: object) -> AppTest:
    """``page`` of the app on ``db``, with sidebar choices ``chosen`` (by session key)."""
    monkeypatch.setenv("QUALITYLIB_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    if page != "overview":  # the default page; AppTest cannot switch to it by file
        at.switch_page(f"views/{page}.py").run()
    for key, value in chosen.items():
        at.session_state[key] = value
    if chosen:
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _shown(at: AppTest) -> list[tuple[str, object]]:
    """What a page shows: its metrics, texts and tables, in order."""
    out: list[tuple[str, object]] = []
    for kind in ("metric", "subheader", "caption", "markdown", "info", "success", "warning"):
        for element in getattr(at, kind):
            value = (element.label, element.value) if kind == "metric" else element.value
            out.append((kind, value))
    out += [("dataframe", frame.value.to_csv()) for frame in at.dataframe]
    return out


@pytest.mark.parametrize("page", SERVED_PAGES)
def test_served_pages_show_what_the_full_store_shows(
    stores: tuple[Path, Path], page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    full, thin = stores
    chosen = {"f_teams": ["team-a"], "f_dates": (date(2026, 9, 14), date(2026, 10, 20))}
    for selection in ({}, chosen):
        want = _shown(_open(full, page, monkeypatch, **selection))
        got = _shown(_open(thin, page, monkeypatch, **selection))
        assert got == want
        assert any(kind in ("metric", "dataframe") for kind, _ in got)


@pytest.mark.parametrize("page", sorted(NEEDS_LOG))
def test_other_pages_say_which_section_needs_the_log(
    stores: tuple[Path, Path], page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    full, thin = stores
    at = _open(thin, page, monkeypatch)
    message = needs_log_message(NEEDS_LOG[page])
    assert [e.value for e in at.info if "label log" in e.value][0] == message
    assert message not in [e.value for e in _open(full, page, monkeypatch).info]


def test_review_queue_shows_the_full_stores_items(
    stores: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue itself is served; only the confidence columns need the log."""
    full, thin = stores
    tables = [_open(db, "review", monkeypatch).dataframe[0].value for db in (full, thin)]
    want, got = (t.drop(columns=["confidence", "more_labels"]) for t in tables)
    assert len(want) > 0 and tables[1]["confidence"].isna().all()
    pd.testing.assert_frame_equal(got, want)


def test_behaviour_page_still_plans_control_items(
    stores: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    full, thin = stores
    budgets = [
        [e.value for e in _open(db, "behaviour", monkeypatch).dataframe] for db in (full, thin)
    ]
    budgets = [[f for f in frames if "Control labels" in f.columns] for frames in budgets]
    assert len(budgets[1]) == 1 and len(budgets[1][0]) > 0
    pd.testing.assert_frame_equal(budgets[1][0], budgets[0][0])


@pytest.fixture(scope="module")
def week(stores: tuple[Path, Path]) -> str:
    """The demo's last complete week with labels."""
    with connect(stores[0], read_only=True) as con:
        found = catalog.last_week_with_labels(con, None, date(2026, 12, 31))
    assert found is not None
    return found


def test_report_without_the_log_equals_the_full_one_but_the_sections_needing_it(
    stores: tuple[Path, Path], week: str
) -> None:
    full, thin = _both(stores, lambda con: build_weekly_report(con, week))
    assert (full.needs_log, thin.needs_log) == ([], ["agreement", "behaviour", "models"])
    assert (full.has_models, thin.has_models) == (True, False)  # the predictions are left out
    left_out = {"agreement", "behaviour", "flags"}
    for name, table in thin.tables().items():
        if name in ("models", "model_queue"):
            assert table.empty
        elif name in left_out:
            assert table.empty and list(table.columns) == list(full.tables()[name].columns)
            assert len(full.tables()[name]) > 0 or name == "flags", name
        else:
            pd.testing.assert_frame_equal(table, full.tables()[name], obj=name)
    others = {f.name for f in fields(WeeklyReport)} - set(full.tables())
    others -= {"needs_log", "has_models"}
    assert {f: getattr(thin, f) for f in others} == {f: getattr(full, f) for f in others}
    assert WeeklyReport.from_json(thin.to_json()).needs_log == thin.needs_log


def test_report_command_writes_the_served_sections_and_says_which_need_the_log(
    stores: tuple[Path, Path], week: str, tmp_path: Path, capsys
) -> None:
    _, thin = stores
    assert main(["report", "--db", str(thin), "--week", week, "--out", str(tmp_path)]) == 0
    lines = [
        needs_log_message(REPORT_NEEDS_LOG[section])
        for section in ("agreement", "behaviour", "models")
    ]
    assert capsys.readouterr().err.splitlines() == [f"note: {line}" for line in lines]
    pdf = " ".join(page.extract_text() for page in PdfReader(tmp_path / f"report-{week}.pdf").pages)
    pdf = re.sub(r"\s+", " ", pdf)
    assert all(line in pdf for line in lines)
    assert "Review queue" in pdf and "Trainees decided by the sequential test" in pdf
    assert "Pairs with the lowest kappa" in pdf
    folder = tmp_path / f"report-{week}"
    readme = (folder / "README.txt").read_text()
    assert all(line in readme for line in lines)
    assert len(pd.read_csv(folder / "agreement.csv")) == 0
    assert len(pd.read_csv(folder / "annotators.csv")) > 0


def test_report_page_says_which_sections_need_the_log(
    stores: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _open(stores[1], "reports", monkeypatch)
    lines = [
        needs_log_message(REPORT_NEEDS_LOG[section])
        for section in ("agreement", "behaviour", "models")
    ]
    assert [e.value for e in at.info if "label log" in e.value] == lines
    assert [m.value for m in at.metric] == [
        m.value for m in _open(stores[0], "reports", monkeypatch).metric
    ]


def test_agreement_page_serves_the_pairs_and_says_what_needs_the_log(
    stores: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cohen's kappa of every pair comes from the pair counts; the team coefficients, the
    items a pair labelled differently and Dawid-Skene skill need the log."""
    full, thin = stores
    for chosen in ({}, {"f_teams": ["team-a"], "f_policies": ["v2"]}):
        got, want = (_open(db, "agreement", monkeypatch, **chosen) for db in (thin, full))
        assert [e.value for e in got.info if "label log" in e.value] == [
            needs_log_message(what)
            for what in (
                TEAM_COEFFICIENTS,
                "The items a pair labelled differently",
                "Skill without the committee (Dawid-Skene over every answer)",
            )
        ]
        tables = [
            [t.value for t in at.dataframe if "n shared items" in t.value] for at in (got, want)
        ]
        assert len(tables[0]) == 1 and len(tables[0][0]) > 0
        pd.testing.assert_frame_equal(tables[0][0], tables[1][0])
        kappas = [
            [(m.label, m.value) for m in at.metric if m.label == "Cohen's κ"] for at in (got, want)
        ]
        assert kappas[0] == kappas[1] and kappas[0]


def test_a_window_cutting_a_week_says_agreement_needs_the_log(
    stores: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    window = {"f_dates": (date(2026, 9, 14), date(2026, 10, 20))}  # Monday to a Tuesday
    at = _open(stores[1], "agreement", monkeypatch, **window)
    assert [e.value for e in at.info if "label log" in e.value][-1] == needs_log_message(
        "Agreement between annotators in a window that cuts a week"
    )
    whole_weeks = {"f_dates": (date(2026, 9, 14), date(2026, 10, 25))}  # Monday to a Sunday
    want, got = (_open(db, "agreement", monkeypatch, **whole_weeks) for db in stores)
    # the chosen pair's kappa and raw agreement (the full store's team cards come first)
    assert [m.value for m in got.metric] == [m.value for m in want.metric][-2:]
    assert [m.label for m in got.metric][0] == "Cohen's κ"


@pytest.mark.parametrize(
    "ask",
    [
        lambda con: annotator_skill(con, Filters()),
        lambda con: label_needs(con, Filters(), 0.95),
        lambda con: long_table(con),
        lambda con: disagreements(con, Filters(), "a", "b"),
        lambda con: agreement_results(con, Filters()),
        lambda con: slice_values(con, None, "source"),
    ],
    ids=["skill", "label-needs", "long-table", "disagreements", "team-coefficients", "slices"],
)
def test_what_needs_each_answer_says_so_instead_of_counting_nothing(
    stores: tuple[Path, Path], ask
) -> None:
    """On the left-out (empty) log these would count nothing: they say they need it."""
    with connect(stores[1], read_only=True) as con:
        with pytest.raises(LogNeeded, match=r"^[A-Z].* needs the label log, which this store"):
            ask(con)
