"""Take the README's dashboard screenshots: serve the app on a store, shoot pages in Chromium.

python docs/screenshots.py --db data/demo.duckdb [--page annotator ...] [--out docs]
python docs/screenshots.py --db data/demo.duckdb --page boxes --height 2650 --person box05

The box debrief (written as ``box-debrief.png``, the README's) is shot with its images shown
(the "Hide images" switch turned off), whole page, of ``--person`` (default: the first person
of the picker; the README's is the demo's learner, box05, of the team-boxes).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
# screenshot name -> url path (the annotator page opens the demo's learner)
PAGES = {"overview": "", "annotator": "annotator?annotator=a07"}
FILES = {"boxes": "box-debrief"}  # page name -> screenshot name, where they differ


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"streamlit did not start at {url}")


def _show_images(page: object) -> None:
    """Turn the page's "Hide images" switch off and wait for the picture to load."""
    page.get_by_text("Hide images", exact=True).click()
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")
    page.wait_for_function(
        "[...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
        ".some(i => i.complete && i.naturalWidth > 0)",
        timeout=60_000,
    )


def shoot(
    db: Path, names: list[str], out: Path, width: int, height: int, person: str | None = None
) -> None:
    """Write ``out/<name>.png`` for each page name."""
    port = _free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true"]
    command += ["--server.port", str(port), "--browser.gatherUsageStats", "false"]
    env = {**os.environ, "QUALITYLIB_DB": str(db.resolve())}
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": width, "height": height})
            for name in names:
                path = PAGES.get(name, name)
                if name == "boxes" and person:
                    path = f"boxes?annotator={person}"
                page.goto(f"{url}/{path}")
                page.wait_for_selector("h1", timeout=60_000)
                page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")
                if name == "boxes":
                    _show_images(page)
                page.wait_for_timeout(1500)  # let charts finish their first layout
                shot = out / f"{FILES.get(name, name)}.png"
                page.screenshot(path=str(shot), full_page=False)
                print(f"wrote {shot}")
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="the store to show")
    parser.add_argument("--page", action="append", help="page url path (default: README's)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=1000)
    parser.add_argument("--person", help="boxes: whose debrief (an annotator id)")
    args = parser.parse_args()
    shoot(args.db, args.page or list(PAGES), args.out, args.width, args.height, args.person)


if __name__ == "__main__":
    main()
