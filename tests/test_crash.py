"""An import killed with SIGKILL leaves a store that opens, passes the check, and holds all
or none of that import; running the import again then succeeds."""

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

N_ROWS = 200_000
pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A canonical annotations CSV large enough that its import takes a noticeable time."""
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "item_id": [f"img-{i}" for i in rng.integers(0, 150_000, N_ROWS)],
            "annotator_id": [f"ann-{i}" for i in rng.integers(0, 40, N_ROWS)],
            "label": rng.choice(["safe", "nudity", "weapons"], N_ROWS, p=[0.9, 0.05, 0.05]),
            "annotated_at": pd.Timestamp("2026-09-01", tz="UTC")
            + pd.to_timedelta(np.arange(N_ROWS), unit="s"),
        }
    )
    path = tmp_path_factory.mktemp("crash") / "big.csv"
    frame.to_csv(path, index=False)
    return path


def _import_process(db: Path, csv: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "qualitylib.cli",
            "import",
            "--db",
            str(db),
            "--kind",
            "annotations",
            str(csv),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _annotation_count(db: Path) -> int:
    with connect(db, read_only=True) as con:
        return int(scalar(con, "SELECT count(*) FROM annotations"))


def test_sigkill_at_any_moment_is_all_or_nothing(big_csv: Path, tmp_path: Path, write) -> None:
    base = tmp_path / "base.duckdb"
    import_files(
        base,
        "annotations",
        [write("first.csv", "item_id,annotator_id,label,annotated_at\nx,ann-1,safe,2026-08-01")],
    )
    timing = tmp_path / "timing.duckdb"
    shutil.copy(base, timing)
    started = time.perf_counter()
    assert _import_process(timing, big_csv).wait() == 0
    duration = time.perf_counter() - started
    outcomes = []
    for fraction in (0.2, 0.5, 0.8):
        db = tmp_path / f"kill-{fraction}.duckdb"
        shutil.copy(base, db)
        process = _import_process(db, big_csv)
        time.sleep(duration * fraction)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert all(finding.ok for finding in check_store(db)), [str(f) for f in check_store(db)]
        count = _annotation_count(db)
        assert count in (1, 1 + N_ROWS)
        outcomes.append(count)
        # re-running the import finishes the job (or says it is already done)
        assert _import_process(db, big_csv).wait() == 0
        assert _annotation_count(db) == 1 + N_ROWS
        assert all(finding.ok for finding in check_store(db))
    assert 1 in outcomes  # at least one kill landed before the commit
