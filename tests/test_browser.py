"""End to end: the dashboard served by ``streamlit run`` and loaded in headless Chromium.

Every page must draw its charts (a canvas or svg inside a vega-embed element) and show no
exception or error box. Skipped when Chromium is missing, unless ``CI`` is set.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# url path -> (title, charts the page draws on the demo store)
PAGES = {
    "": ("Overview", 1),
    "annotator": ("Annotator", 2),
    "onboarding": ("Onboarding", 2),
    "agreement": ("Agreement", 2),
    "controls": ("Controls & drift", 1),
    "review": ("Review queue", 0),
    "data": ("Data", 0),
    "models": ("Models", 1),
}
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
CHARTS = ".vega-embed canvas, .vega-embed svg"

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing; CI must install chromium", pytrace=False)
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited: {server.stdout.read() if server.stdout else ''}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def server_url(demo_db: Path) -> Iterator[str]:
    """The dashboard on the demo store, served on a free local port."""
    port = _free_port()
    server = subprocess.Popen(
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
        ],  # fmt: skip
        env={**os.environ, "QUALITYLIB_DB": str(demo_db)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.mark.parametrize("path", list(PAGES))
def test_page_renders_in_chromium(server_url: str, browser: object, path: str) -> None:
    title, n_charts = PAGES[path]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{server_url}/{path}")
        page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=60_000)
        if n_charts:
            page.wait_for_function(
                f"document.querySelectorAll({CHARTS!r}).length >= {n_charts}", timeout=60_000
            )
        page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
        assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
        # Opened directly by URL, the page still runs inside the app: shared sidebar filters.
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("Date range", exact=True).wait_for(timeout=30_000)
    finally:
        page.close()
