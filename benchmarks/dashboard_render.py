"""First and cached render time of every dashboard page, with Streamlit's AppTest.

    python benchmarks/dashboard_render.py --db data/demo.duckdb [--repeat 3]

"First" clears Streamlit's data cache and runs the page (every query computed); "cached" is
the best of ``--repeat`` reruns with the cache warm. Targets (issue 5): first under 2 s,
cached under 0.3 s at 10 million labels.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="the store to render")
    parser.add_argument("--repeat", type=int, default=3, help="cached reruns per page")
    parser.add_argument("--page", action="append", choices=PAGES, help="only these pages")
    args = parser.parse_args()
    logging.getLogger("streamlit").setLevel(logging.ERROR)  # AppTest's bare-mode warnings
    os.environ["QUALITYLIB_DB"] = str(args.db.resolve())
    print(f"{'page':<12} {'first (s)':>10} {'cached (s)':>11}")
    for page in args.page or PAGES:
        first, cached = render_times(page, args.repeat)
        print(f"{page:<12} {first:>10.2f} {cached:>11.3f}")


if __name__ == "__main__":
    main()
