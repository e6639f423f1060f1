"""A boxes import killed with SIGKILL leaves a store that opens, passes the check (derived box
tables included), and holds all or none of that import; running it again then succeeds."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qualitylib.check import check_store
from qualitylib.ingest import import_files
from qualitylib.store import connect, scalar

N_ROWS = 150_000
pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")


def _import(db: Path, path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "qualitylib.cli", "import", "--db", str(db), "--kind", "boxes"]
        + [str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _count(db: Path) -> int:
    with connect(db, read_only=True) as con:
        return int(scalar(con, "SELECT count(*) FROM boxes"))


def test_sigkill_during_a_boxes_import_is_all_or_nothing(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    items = rng.integers(0, 30_000, N_ROWS)
    x, y = rng.uniform(0, 500, N_ROWS).round(1), rng.uniform(0, 500, N_ROWS).round(1)
    boxes = pd.DataFrame(
        {
            "item_id": [f"img-{i}" for i in items],
            "annotator_id": [f"ann-{i}" for i in rng.integers(0, 30, N_ROWS)],
            "label": rng.choice(["car", "person"], N_ROWS),
            "x_min": x,
            "y_min": y,
            "x_max": x + 50,
            "y_max": y + 40,
            "annotated_at": "2026-09-02T10:00:00Z",
        }
    )
    big = tmp_path / "boxes.csv"
    boxes.to_csv(big, index=False)
    committee = boxes.drop_duplicates("item_id").drop(columns=["annotator_id", "annotated_at"])
    ref = tmp_path / "ref.csv"
    committee.assign(decided_at="2026-09-01T00:00:00Z").to_csv(ref, index=False)
    base = tmp_path / "base.duckdb"
    import_files(base, "reference-boxes", [ref])
    timing = tmp_path / "timing.duckdb"
    shutil.copy(base, timing)
    started = time.perf_counter()
    assert _import(timing, big).wait() == 0
    duration = time.perf_counter() - started
    outcomes = []
    for fraction in (0.3, 0.7):
        db = tmp_path / f"kill-{fraction}.duckdb"
        shutil.copy(base, db)
        process = _import(db, big)
        time.sleep(duration * fraction)
        process.send_signal(signal.SIGKILL)
        process.wait()
        findings = check_store(db)
        assert all(f.ok for f in findings), [str(f) for f in findings if not f.ok]
        outcomes.append(_count(db))
        assert outcomes[-1] in (0, N_ROWS)
        assert _import(db, big).wait() == 0
        assert _count(db) == N_ROWS
        assert all(f.ok for f in check_store(db))
    assert 0 in outcomes  # at least one kill landed before the commit
