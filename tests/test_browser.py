"""End to end: the dashboard served by ``streamlit run`` and loaded in headless Chromium.

Every page must draw its charts (a canvas or svg inside a vega-embed element) and show no
exception or error box. Skipped when Chromium is missing, unless ``CI`` is set.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote_plus

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
    "reports": ("Weekly report", 0),
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
    yield from _serve(demo_db)


@pytest.fixture(scope="module")
def box_server_url(box_db: Path) -> Iterator[str]:
    """The dashboard on the small box store (tests/box_store.py), on a free local port."""
    yield from _serve(box_db)


def _serve(db: Path) -> Iterator[str]:
    """Serve the dashboard on ``db`` until the generator is closed."""
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
        env={**os.environ, "QUALITYLIB_DB": str(db)},
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


def _people(db: Path) -> list[str]:
    """Every real name and annotator id of a store (committee included)."""
    from qualitylib.store import connect

    with connect(db, read_only=True) as con:
        rows = con.execute("SELECT annotator_id, name FROM annotators").fetchall()
    return sorted({value for row in rows for value in row if value})


def _found(texts: dict[str, str], people: list[str]) -> list[str]:
    """``where: who`` for every person named (as a whole word) in any of ``texts``."""
    pattern = re.compile(
        "|".join(rf"(?<![\w-]){re.escape(p)}(?![\w-])" for p in sorted(people, key=len)[::-1])
    )
    return [f"{where}: {m[0]}" for where, text in texts.items() for m in pattern.finditer(text)]


def _settle(page: object, timeout: float = 60) -> None:
    """Wait until the app is idle: no running indicator and the page's text unchanged for 0.5 s.

    The running indicator alone is not enough on a loaded machine: it can be gone before the
    rerun has started, and a test would then read a half-drawn page.
    """
    deadline = time.monotonic() + timeout
    previous = None
    while time.monotonic() < deadline:
        page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=60_000)
        current = page.evaluate(
            "[document.body.innerText, [...document.querySelectorAll('input')]"
            ".map(e => e.value).join('|')].join('#')"
        )
        if current == previous:
            return
        previous = current
        page.wait_for_timeout(500)
    raise TimeoutError(f"the page did not settle within {timeout:.0f} s")


def _downloads(page: object, where: str, folder: Path) -> dict[str, str]:
    """Click every download button of the page; the text of each file (zip members too)."""
    texts = {}
    buttons = page.locator('[data-testid="stDownloadButton"] button')
    for index in range(buttons.count()):
        button = buttons.nth(index)
        if button.is_disabled():
            continue
        with page.expect_download(timeout=60_000) as info:
            button.click()
        download = info.value
        path = folder / download.suggested_filename
        download.save_as(path)
        name = f"{where} download {download.suggested_filename}"
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    texts[f"{name}/{member}"] = archive.read(member).decode("utf-8", "replace")
        elif path.suffix == ".pdf":
            from pypdf import PdfReader

            texts[name] = "\n".join(p.extract_text() for p in PdfReader(path).pages)
        else:
            texts[name] = path.read_text(encoding="utf-8", errors="replace")
        texts[f"{name} (file name)"] = download.suggested_filename
    return texts


def test_pseudonyms_switch_leaves_no_real_name_or_id_anywhere(
    server_url: str, browser: object, demo_db: Path, tmp_path: Path
) -> None:
    """Issue 13: open a person by link, switch Pseudonyms on, and search every page's text,
    every widget value and option, the URL the app writes and every download for every real
    name and annotator id of the demo store. (Cells of tables and charts drawn on a canvas are
    checked whole in tests/test_dashboard_truth.py, through AppTest.)"""
    people = _people(demo_db)
    page = browser.new_page(viewport={"width": 1400, "height": 4000}, accept_downloads=True)
    try:
        page.goto(f"{server_url}/annotator?annotator=a09")
        page.get_by_role("heading", name="Annotator", exact=True).first.wait_for(timeout=60_000)
        page.wait_for_function(  # the picker is drawn after the heading
            "name => [...document.querySelectorAll('input')].some(e => e.value === name)",
            arg="Ivan Novak",
            timeout=60_000,
        )
        _settle(page)
        values = page.eval_on_selector_all("input", "els => els.map(e => e.value)")
        assert "Ivan Novak" in values  # the link opened Ivan (the picker is an input)
        page.locator('[data-testid="stSidebar"]').get_by_text("Pseudonyms").click()
        _settle(page)
        texts: dict[str, str] = {}
        for path, (title, _) in PAGES.items():
            if path:  # the app's own navigation keeps the session (and the switch)
                page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
            else:
                page.locator('[data-testid="stSidebarNav"] a', has_text="Overview").click()
            page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=60_000)
            _settle(page)
            texts[f"{title} text"] = page.locator("body").inner_text()
            # table cells too (the grids' accessible copy of the rows drawn on screen)
            texts[f"{title} cells"] = page.evaluate("document.body.textContent")
            texts[f"{title} url"] = page.url
            values = page.eval_on_selector_all("input, textarea", "els => els.map(e => e.value)")
            texts[f"{title} widget values"] = "\n".join(values)
            for index in range(page.locator('[data-testid="stSelectbox"]').count()):
                page.locator('[data-testid="stSelectbox"]').nth(index).click()
                options = page.locator('[role="option"]').all_inner_texts()
                texts[f"{title} options of picker {index}"] = "\n".join(options)
                page.keyboard.press("Escape")
            if title == "Weekly report":
                page.get_by_role("button", name="Prepare the PDF").click()
                page.locator('[data-testid="stDownloadButton"]').nth(1).wait_for(timeout=120_000)
                _settle(page)
            texts |= _downloads(page, title, tmp_path)
        from qualitylib.pseudonyms import pseudonym

        # back on the Annotator page: still Ivan, by pseudonym in the picker and the URL
        assert f"annotator={pseudonym('a09')}" in unquote_plus(texts["Annotator url"])
        assert pseudonym("a09") in texts["Annotator widget values"].splitlines()
        assert len(texts["Annotator options of picker 0"].splitlines()) == 13  # a01-a13
        assert not _found(texts, people), _found(texts, people)[:20]
    finally:
        page.close()


# url path -> (title, charts, images) on the box store
BOX_PAGES = {
    "boxes": ("Box debrief", 3, 1),
    "agreement": ("Agreement", 1, 1),  # the F1 heatmap (the consensus is on request)
    "review": ("Review queue", 0, 1),
}
IMAGES = '[data-testid="stImage"] img, [data-testid="stFullScreenFrame"] img'


def test_box_pages_draw_their_charts_and_images_and_hide_names(
    box_server_url: str, browser: object, box_db: Path
) -> None:
    """The box debrief, box agreement and the gold-free queue in Chromium: charts drawn, the
    overlay image loaded, no error; with Pseudonyms on, no real name or id on any of them."""
    page = browser.new_page(viewport={"width": 1400, "height": 3000})
    try:
        texts: dict[str, str] = {}
        for pseudonyms in (False, True):
            for path, (title, n_charts, n_images) in BOX_PAGES.items():
                if not texts:  # the first visit opens Bob's debrief by link, then navigates
                    page.goto(f"{box_server_url}/{path}?annotator=bob")
                else:
                    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
                page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=60_000)
                if n_charts:
                    page.wait_for_function(
                        f"document.querySelectorAll({CHARTS!r}).length >= {n_charts}",
                        timeout=60_000,
                    )
                page.wait_for_function(
                    f"[...document.querySelectorAll({IMAGES!r})]"
                    f".filter(i => i.complete && i.naturalWidth > 0).length >= {n_images}",
                    timeout=60_000,
                )
                _settle(page)
                assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
                if pseudonyms:
                    texts[f"{title} text"] = page.locator("body").inner_text()
                    values = page.eval_on_selector_all("input", "els => els.map(e => e.value)")
                    texts[f"{title} widget values"] = "\n".join(values)
                else:
                    texts[title] = ""
            if not pseudonyms:
                page.locator('[data-testid="stSidebar"]').get_by_text("Pseudonyms").click()
                _settle(page)
        people = [p for p in _people(box_db) if len(p) > 2]  # ids ann, bob, cy and the names
        found = _found({k: v for k, v in texts.items() if v}, [*people, "ann", "bob"])
        assert not found, found[:20]
    finally:
        page.close()
