"""What keeps a session's first view quick (issue 13) without changing what it shows.

``app.py`` draws the sidebar's filters after the page (the cards' code then reaches the
browser first): a page's first run must ask for the very results every later run (and the
server's warm-up) asks for, and a page that ends early must still leave the filters drawn.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import data
from qualitylib.metrics import catalog
from qualitylib.metrics.filters import Filters
from qualitylib.store import connect

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "dashboard" / "app.py"


def _clean(at: AppTest) -> AppTest:
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    return at


def test_the_first_run_asks_the_cache_for_what_every_later_run_asks(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the date picker exists its default (the whole log) is the page's filter, so the
    rerun and a new session find the Overview's numbers cached: computed once."""
    monkeypatch.setenv("QUALITYLIB_DB", str(demo_db))
    asked: list[Filters] = []
    compute = data.metrics_headlines

    def counted(con, filters, objective):  # type: ignore[no-untyped-def]
        asked.append(filters)
        return compute(con, filters, objective)

    monkeypatch.setattr(data, "metrics_headlines", counted)
    with connect(demo_db, read_only=True) as con:
        options = catalog.filter_options(con)
    whole_log = (options["first_day"], options["last_day"])
    st.cache_data.clear()
    at = _clean(AppTest.from_file(str(APP), default_timeout=60).run())
    first_view = [m.value for m in at.metric]
    assert _clean(at.run()).session_state["f_dates"] == whole_log
    _clean(AppTest.from_file(str(APP), default_timeout=60).run())  # another session
    assert [m.value for m in at.metric] == first_view
    assert len(asked) == 1
    assert (asked[0].since, asked[0].until) == whole_log


def test_a_page_that_ends_early_still_draws_the_filters(
    build_store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An empty selection says so and keeps the date range and the other filters at hand."""
    db = build_store(
        "label,is_positive\nsafe,false\nnudity,true\n",
        "item_id,label,decided_at\nr1,safe,2026-08-01\n",
        "item_id,annotator_id,label,annotated_at\n"
        "r1,ann,safe,2026-09-07T09:00:00Z\nr1,bob,nudity,2026-09-21T09:00:00Z\n",
    )
    monkeypatch.setenv("QUALITYLIB_DB", str(db))
    at = _clean(AppTest.from_file(str(APP), default_timeout=60).run())
    at.session_state["f_dates"] = (date(2026, 9, 10), date(2026, 9, 12))  # no labels then
    _clean(at.run())
    assert [i.value for i in at.main.info] == [
        "No labels match the filters: widen the date range or clear the team filter."
    ]
    assert not at.metric
    assert at.sidebar.date_input(key="f_dates").value == (date(2026, 9, 10), date(2026, 9, 12))
    assert [m.key for m in at.sidebar.multiselect] == ["f_teams", "f_policies", "f_labels"]
    assert at.sidebar.toggle(key="pseudonyms").value is False


def test_pages_end_early_with_common_stop_never_st_stop() -> None:
    """``st.stop()`` in a page would end the run before the filters are drawn."""
    views = sorted((ROOT / "dashboard" / "views").glob("*.py"))
    assert views
    assert [path.name for path in views if "st.stop()" in path.read_text()] == []


def test_the_dashboard_starts_without_the_pdf_libraries() -> None:
    """The weekly report's PDF stack (reportlab, vl-convert) loads with its page, not with every
    session's first run: the warm-up before the browser opens is that much shorter."""
    probe = (
        "import sys\n"
        "from dashboard import auth, common, data\n"
        "print([m for m in ('qualitylib.reports', 'reportlab', 'vl_convert') if m in sys.modules])"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert run.stdout.splitlines() == ["[]"]


def test_the_browser_opens_after_the_warm_up_run_and_not_on_a_dead_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``qualitylib dashboard`` opens the page once the server has run the app (its first view
    then finds everything cached), and not at all when the server never answers."""
    import webbrowser
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    from qualitylib import cli

    events: list[str] = []

    class Streamlit(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            events.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    monkeypatch.setattr(webbrowser, "open", lambda url: events.append(f"browser {url}"))
    with ThreadingHTTPServer(("127.0.0.1", 0), Streamlit) as server:
        Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        cli._warm_dashboard(url, open_browser=True)
        server.shutdown()
    assert events == ["/_stcore/health", "/_stcore/script-health-check", f"browser {url}"]

    events.clear()
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    cli._warm_dashboard(f"http://127.0.0.1:{port}", open_browser=True, timeout=0.5)
    assert events == []
