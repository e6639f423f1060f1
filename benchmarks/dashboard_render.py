"""First and cached render time of every dashboard page, with Streamlit's AppTest.

    python benchmarks/dashboard_render.py --db data/demo.duckdb [--repeat 3]

"First" clears Streamlit's data cache and runs the page (every query computed); "cached" is
the best of ``--repeat`` reruns with the cache warm. Targets (issue 5): first under 2 s,
cached under 0.3 s at 10 million labels.

    python benchmarks/dashboard_render.py --db data/demo.duckdb --fresh-server

starts ``qualitylib dashboard --db STORE --headless`` (add ``--bare`` for a plain ``streamlit
run``, without the dashboard command's warm-up), waits ``--after`` seconds (a person opening
the link) and loads the Overview in headless Chromium (issue 13: the first view of a freshly
started server): the seconds from the request until the page shows its first number (the
Team agreement card) and until every card, chart and table is drawn.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
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


def fresh_server(db: Path, bare: bool, after: float) -> tuple[float, float, float]:
    """``(server up, first number, all drawn)`` seconds for the Overview on a new server."""
    from playwright.sync_api import sync_playwright

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    command = (
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(APP),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ]
        if bare
        else [
            sys.executable,
            "-c",
            "from qualitylib.cli import main; raise SystemExit(main())",
            "dashboard",
            "--db",
            str(db),
            "--headless",
            "--port",
            str(port),
        ]
    )
    server = subprocess.Popen(
        command,
        env={**os.environ, "QUALITYLIB_DB": str(db)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: stopped whole (streamlit included)
    )  # fmt: skip
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        up = time.perf_counter() - started
        time.sleep(after)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            page.goto(url, wait_until="commit")
            asked = time.perf_counter()
            page.locator('[data-testid="stMetricValue"]').first.wait_for(timeout=60_000)
            first = time.perf_counter() - asked
            page.wait_for_function(
                "document.querySelectorAll('.vega-embed canvas, .vega-embed svg').length >= 1",
                timeout=120_000,
            )
            page.wait_for_selector(
                '[data-testid="stStatusWidget"]', state="detached", timeout=120_000
            )
            done = time.perf_counter() - asked
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return up, first, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="the store to render")
    parser.add_argument("--repeat", type=int, default=3, help="cached reruns per page")
    parser.add_argument("--page", action="append", choices=PAGES, help="only these pages")
    parser.add_argument(
        "--fresh-server", action="store_true", help="the Overview's first view on a new server"
    )
    parser.add_argument("--bare", action="store_true", help="plain streamlit run (no warm-up)")
    parser.add_argument("--after", type=float, default=10.0, help="seconds before the visit")
    args = parser.parse_args()
    if args.fresh_server:
        up, first, done = fresh_server(args.db.resolve(), args.bare, args.after)
        print(f"server up {up:.2f} s; Overview: first number {first:.2f} s, all drawn {done:.2f} s")
        return
    logging.getLogger("streamlit").setLevel(logging.ERROR)  # AppTest's bare-mode warnings
    os.environ["QUALITYLIB_DB"] = str(args.db.resolve())
    print(f"{'page':<12} {'first (s)':>10} {'cached (s)':>11}")
    for page in args.page or PAGES:
        first, cached = render_times(page, args.repeat)
        print(f"{page:<12} {first:>10.2f} {cached:>11.3f}")


if __name__ == "__main__":
    main()
