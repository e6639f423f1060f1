"""First and cached render time of every dashboard page, with Streamlit's AppTest.

    python benchmarks/dashboard_render.py --db data/demo.duckdb [--repeat 3]

"First" clears Streamlit's data cache and runs the page (every query computed); "cached" is
the best of ``--repeat`` reruns with the cache warm. Targets (issue 5): first under 2 s,
cached under 0.3 s at 10 million labels.

    python benchmarks/dashboard_render.py --db data/demo.duckdb --fresh-server [--runs 5]

times the Overview's first view on a freshly started server, as a person sees it (issue 13),
in headless Chromium with an empty cache, ``--runs`` times (a new server each). It starts
``qualitylib dashboard --db STORE`` the way a user does: that command has the new server run
the app once, then opens the browser (here ``BROWSER`` points to a script that notes the
moment and the run's Chromium goes there). Printed per run, in seconds: the command's start
to the browser being opened (warm-up done), then from the page's request to its first card
number, to the four cards' numbers, and to everything drawn; and the load average.
``--bare`` starts a plain ``streamlit run`` instead (no warm-up; the page is requested as soon
as the server answers, as Streamlit opens the browser); ``--floor`` serves a one-file app
with four fixed cards and the sidebar's widgets, drawn in the dashboard's order: the same
times for no work at all, what Streamlit and the machine's load alone cost at that moment.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
PAGES = ["overview", "annotator", "onboarding", "agreement", "controls", "review", "imports"]


def _run(at: AppTest) -> float:
    started = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - started
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    return elapsed


def render_times(page: str, repeat: int) -> tuple[float, float]:
    """``(first, cached)`` seconds for one page."""
    at = AppTest.from_file(str(APP), default_timeout=600)
    at.run()  # the default page, to register the others
    if page != "overview":
        at.switch_page(f"views/{page}.py")
    st.cache_data.clear()
    first = _run(at)
    cached = min(_run(at) for _ in range(repeat))
    return first, cached


FLOOR_APP = """
from datetime import date

import streamlit as st

filters = st.sidebar.container()  # drawn after the cards, as dashboard/app.py does
st.title("Overview")
for card in st.columns(4, border=True):
    with card:
        st.metric("Team agreement", "93.1 %", "+1.2 pts vs last week")
        st.caption("n = 1,234 control labels")
with filters:
    st.date_input("Date range", value=(date(2026, 9, 1), date(2026, 11, 30)))
    for name in ("Team", "Policy version", "Label"):
        st.multiselect(name, ["a", "b"])
    st.toggle("Pseudonyms")
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command(db: Path, port: int, mode: str, folder: Path) -> list[str]:
    """The server's command line for ``mode`` (``cli``, ``bare`` or ``floor``)."""
    if mode == "cli":
        return [
            sys.executable,
            "-c",
            "from qualitylib.cli import main; raise SystemExit(main())",
            "dashboard",
            "--db",
            str(db),
            "--port",
            str(port),
        ]
    app = APP
    if mode == "floor":
        app = folder / "floor.py"
        app.write_text(FLOOR_APP)
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
    ]


def fresh_server(db: Path, mode: str, folder: Path) -> tuple[float, float, float, float]:
    """``(visit, first number, four cards, all drawn)`` seconds of one new server: ``visit``
    from the command's start to the page being requested, the rest from that request."""
    from playwright.sync_api import sync_playwright

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    opened = folder / "opened"
    opened.unlink(missing_ok=True)
    browser_hook = folder / "browser"
    browser_hook.write_text(f"#!/bin/sh\ndate +%s.%N > {opened}.new && mv {opened}.new {opened}\n")
    browser_hook.chmod(0o755)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1400})
        started, started_wall = time.perf_counter(), time.time()
        server = subprocess.Popen(
            _command(db, port, mode, folder),
            env={**os.environ, "QUALITYLIB_DB": str(db), "BROWSER": str(browser_hook)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped whole (streamlit too)
        )
        try:
            while not _ready(url, opened, mode):
                if server.poll() is not None:
                    raise RuntimeError(f"the server ended with {server.returncode}")
                time.sleep(0.02)
            visit = (
                float(opened.read_text()) - started_wall
                if mode == "cli"
                else time.perf_counter() - started
            )
            asked = time.perf_counter()
            page.goto(url, wait_until="commit")
            page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=120_000)
            first = time.perf_counter() - asked
            page.wait_for_function(
                "document.querySelectorAll('[data-testid=\"stMetricValue\"]').length >= 4",
                timeout=120_000,
            )
            cards = time.perf_counter() - asked
            if mode != "floor":
                page.wait_for_function(
                    "document.querySelectorAll('.vega-embed canvas, .vega-embed svg').length >= 1"
                    " && document.querySelector('[data-testid=\"stDataFrame\"]') !== null",
                    timeout=120_000,
                )
            page.wait_for_selector(
                '[data-testid="stStatusWidget"]', state="detached", timeout=120_000
            )
            done = time.perf_counter() - asked
        finally:
            browser.close()
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    return visit, first, cards, done


def _ready(url: str, opened: Path, mode: str) -> bool:
    """Whether to visit: the command opened the browser (``cli``), or the server answers."""
    if mode == "cli":
        return opened.exists()
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
            return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="the store to render")
    parser.add_argument("--repeat", type=int, default=3, help="cached reruns per page")
    parser.add_argument("--page", action="append", choices=PAGES, help="only these pages")
    parser.add_argument(
        "--fresh-server", action="store_true", help="the Overview's first view on a new server"
    )
    parser.add_argument("--bare", action="store_true", help="plain streamlit run (no warm-up)")
    parser.add_argument("--floor", action="store_true", help="a one-file app with fixed cards")
    parser.add_argument("--runs", type=int, default=3, help="fresh servers, one after another")
    args = parser.parse_args()
    if args.fresh_server:
        mode = "floor" if args.floor else "bare" if args.bare else "cli"
        print(f"{mode}: visit after (s), then from the request: first number, four cards, all")
        with tempfile.TemporaryDirectory() as folder:
            for run in range(1, args.runs + 1):
                load = os.getloadavg()[0]
                visit, first, cards, done = fresh_server(args.db.resolve(), mode, Path(folder))
                print(
                    f"run {run}: visit {visit:5.2f}  first number {first:5.2f}  "
                    f"four cards {cards:5.2f}  all drawn {done:5.2f}  (load {load:.1f})"
                )
        return
    logging.getLogger("streamlit").setLevel(logging.ERROR)  # AppTest's bare-mode warnings
    os.environ["QUALITYLIB_DB"] = str(args.db.resolve())
    print(f"{'page':<12} {'first (s)':>10} {'cached (s)':>11}")
    for page in args.page or PAGES:
        first, cached = render_times(page, args.repeat)
        print(f"{page:<12} {first:>10.2f} {cached:>11.3f}")


if __name__ == "__main__":
    main()
