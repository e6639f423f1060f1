"""First and cached render of the box pages at about 1M boxes, with Streamlit's AppTest.

    python benchmarks/box_pages.py [--committee 250000] [--folder /tmp/boxpages] [--repeat 3]
    python benchmarks/box_pages.py --folder /tmp/boxpages --loaders   # the debrief's loaders

The campaign of ``benchmarks/boxes.py`` (seeded: ~250k committee boxes, 4 annotators, ~1M
annotator boxes), spread over 8 weeks, with 2 % of the images left without the committee's
boxes (gold-free: their 4 workers' consensus). Timed pages: the box debrief (one person: cards,
by label, errors, confusion, week by week, onboarding, drift alerts, images with errors and
one overlay), the Agreement page's boxes (team figure, pairwise F1 heatmap, a pair's differing
images and one overlay, the leave-one-out consensus) and the Review queue's boxes (weak
gold-free consensus). "First" clears Streamlit's data cache and runs the page; "cached" is
the best of ``--repeat`` reruns; each with the CPU seconds of the process (the page's thread and
DuckDB's: the figure to compare on a shared machine) and the load average. Targets (issue 18):
first under 2 s, cached under 0.3 s. ``--loaders``: the box debrief's calls one by one, each
on a fresh connection as the dashboard opens them, for the first person.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import streamlit as st
from streamlit.testing.v1 import AppTest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from boxes import _annotators, _committee  # noqa: E402 (the same seeded campaign)

from qualitylib.ingest import import_files  # noqa: E402
from qualitylib.store import connect  # noqa: E402

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
PAGES = ["boxes", "agreement", "review"]


def build(folder: Path, committee: int) -> Path:
    """The campaign as a store in ``folder`` (reused when it exists)."""
    db = folder / "boxes.duckdb"
    if db.exists():
        return db
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    ref = _committee(rng, committee)
    boxes = _annotators(rng, ref, 4)
    image = boxes["item_id"].str.removeprefix("img-").astype(int)
    boxes["annotated_at"] += pd.to_timedelta((image % 8) * 7, unit="D")  # 8 weeks
    gold_free = ref["item_id"].str.removeprefix("img-").astype(int) % 50 == 0  # 2 %
    ref = ref[~gold_free]
    ref.to_parquet(folder / "reference.parquet", index=False)
    boxes.to_parquet(folder / "boxes.parquet", index=False)
    import_files(db, "reference-boxes", [folder / "reference.parquet"])
    import_files(db, "boxes", [folder / "boxes.parquet"])
    return db


def _run(at: AppTest) -> tuple[float, float]:
    """Wall and CPU seconds (this process: the page's thread and DuckDB's) of one run."""
    started, cpu = time.perf_counter(), time.process_time()
    at.run()
    elapsed = time.perf_counter() - started, time.process_time() - cpu
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    return elapsed


def render_times(page: str, repeat: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """``(first, cached)`` (wall, CPU) seconds for one page."""
    at = AppTest.from_file(str(APP), default_timeout=600)
    at.run()
    at.switch_page(f"views/{page}.py")
    st.cache_data.clear()
    first = _run(at)
    cached = min(_run(at) for _ in range(repeat))
    return first, cached


def loader_times(db: Path) -> None:
    """Wall and CPU seconds of each of the box debrief's calls, as its cached loaders make them
    (the first person, the whole date range)."""
    from dataclasses import replace

    from qualitylib.metrics import box_items, box_timeline, boxes
    from qualitylib.metrics.filters import Filters

    with connect(db, read_only=True) as con:
        first, last = con.execute(
            "SELECT min(annotated_at)::DATE, max(annotated_at)::DATE FROM box_sets"
        ).fetchone()
        person = box_items.box_annotators_kept(con, Filters())[0]
    mine = replace(Filters(since=first, until=last), annotators=(person,))
    found: dict[str, object] = {}
    calls = {
        "box_history": lambda con: found.setdefault(
            "history", box_timeline.box_history(con, mine, 0.5)
        ),
        "box_errors": lambda con: boxes.box_errors(con, mine, 0.5),
        "box_misses": lambda con: box_items.box_misses(
            con, mine, person, (), 0.5, 500, history=found["history"]
        ),
        # from the history (cached), no connection
        "scores": lambda _: found["history"].scores(),
        "timeline": lambda _: found["history"].timeline(),
        "onboarding": lambda _: found["history"].onboarding(0.85, 0.90),
        "drift_alerts": lambda _: found["history"].drift_alerts(None, 0.85, 0.90),
    }
    for name, call in calls.items():
        started, cpu = time.perf_counter(), time.process_time()
        if name.startswith("box_"):
            with connect(db, read_only=True) as con:
                call(con)
        else:
            call(None)
        print(
            f"{name:13s} {time.perf_counter() - started:5.2f} s (CPU "
            f"{time.process_time() - cpu:5.2f} s)   load {os.getloadavg()[0]:.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--committee", type=int, default=250_000)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/boxpages"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--loaders", action="store_true", help="time the debrief's calls")
    args = parser.parse_args()
    started = time.perf_counter()
    db = build(args.folder, args.committee)
    with connect(db, read_only=True) as con:
        n_boxes, n_ref = con.execute(
            "SELECT (SELECT count(*) FROM boxes), (SELECT count(*) FROM box_reference)"
        ).fetchall()[0]
    print(
        f"store: {n_boxes:,} annotator boxes, {n_ref:,} committee boxes "
        f"({time.perf_counter() - started:.0f} s to build or open); duckdb {duckdb.__version__}, "
        f"Python {platform.python_version()}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    if args.loaders:
        loader_times(db)
        return
    os.environ["QUALITYLIB_DB"] = str(db)
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    for page in PAGES:
        first, cached = render_times(page, args.repeat)
        print(
            f"{page:10s} first {first[0]:6.2f} s (CPU {first[1]:5.2f} s)   "
            f"cached {cached[0]:5.2f} s (CPU {cached[1]:5.2f} s)   "
            f"load {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
