"""Concurrent use: dashboard sessions keep reading while the CLI imports into the same file.

What DuckDB allows across processes: one process holds a file for writing, and then no other
process can open it at all, not even read-only; several processes (or threads of one) may
hold it read-only together, and then no process can open it for writing. Inside one process,
threads share one database instance, so the file stays locked while any thread has a
connection open. qualitylib therefore opens short-lived connections (read-only for every
read) and retries a refused open for a bounded time, saying "store ... is busy, retrying"
instead of surfacing DuckDB's lock error. This test runs N simulated dashboard sessions
(threads calling the metrics the dashboard pages call) while a subprocess runs several CLI
imports, and checks that no read fails, every read sees whole imports only, and no import
is lost.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qualitylib.check import check_store
from qualitylib.cli import main
from qualitylib.errors import QualitylibError
from qualitylib.ingest import import_files
from qualitylib.metrics.reference import annotator_summary
from qualitylib.metrics.review import review_queue
from qualitylib.metrics.team_agreement import pairwise_kappa
from qualitylib.store import WRITER_WAITING, WRITER_WAITING_STALE_SECONDS, connect, scalar

N_SESSIONS = 5
N_IMPORTS = 4
N_ANNOTATORS = 10
ITEMS_PER_IMPORT = 1_000
LABELS = ("safe", "nudity", "weapons")
READER_HOLDS_FILE = (
    "import sys, time, duckdb\n"
    "con = duckdb.connect(sys.argv[1], read_only=True)\n"
    "print('open', flush=True)\n"
    "time.sleep(30)\n"
)


def _annotations(prefix: str, n_items: int, start: pd.Timestamp, seed: int) -> pd.DataFrame:
    """Every annotator labels every item once; mostly ``safe``, as in production."""
    rng = np.random.default_rng(seed)
    n = n_items * N_ANNOTATORS
    return pd.DataFrame(
        {
            "item_id": [f"{prefix}-{i}" for i in np.repeat(np.arange(n_items), N_ANNOTATORS)],
            "annotator_id": [f"ann-{a}" for a in np.tile(np.arange(N_ANNOTATORS), n_items)],
            "label": rng.choice(LABELS, n, p=[0.8, 0.1, 0.1]),
            "annotated_at": (start + pd.to_timedelta(np.arange(n), unit="s")).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
        }
    )


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, list[Path], int]:
    """A store with a label set, reference decisions and a first batch; the files to import
    next; and the number of annotations stored so far."""
    db = tmp_path / "store.duckdb"
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"label": LABELS, "is_positive": [False, True, True]}).to_csv(labels, index=False)
    reference = tmp_path / "reference.csv"
    pd.DataFrame(
        {
            "item_id": [f"base-{i}" for i in range(200)],
            "label": np.random.default_rng(0).choice(LABELS, 200, p=[0.8, 0.1, 0.1]),
            "decided_at": "2026-01-01T00:00:00Z",
        }
    ).to_csv(reference, index=False)
    base = tmp_path / "base.csv"
    _annotations("base", 200, pd.Timestamp("2026-01-05"), 1).to_csv(base, index=False)
    import_files(db, "labels", [labels])
    import_files(db, "reference", [reference])
    import_files(db, "annotations", [base])
    files = []
    for k in range(N_IMPORTS):
        path = tmp_path / f"batch-{k}.csv"
        start = pd.Timestamp("2026-02-01") + pd.Timedelta(days=k)
        _annotations(f"batch{k}", ITEMS_PER_IMPORT, start, 10 + k).to_csv(path, index=False)
        files.append(path)
    return db, files, 200 * N_ANNOTATORS


@dataclass
class Session:
    """One simulated dashboard session: what it saw and what went wrong."""

    counts: list[int] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def run(self, db: Path, stop: threading.Event, seed: int) -> None:
        """Render pages until told to stop (and at least two): open, read, close, idle."""
        rng = random.Random(seed)
        while not (stop.is_set() and len(self.counts) >= 2):
            try:
                with connect(db, read_only=True, on_busy=self.busy.append) as con:
                    self.counts.append(int(scalar(con, "SELECT count(*) FROM annotations")))
                    summary = annotator_summary(con)
                    kappa = pairwise_kappa(con)
                    queue = review_queue(con, limit=20)
                assert len(summary) == N_ANNOTATORS and len(kappa) > 0 and len(queue) == 20
            except BaseException as error:  # noqa: BLE001 - every failure is reported
                self.errors.append(error)
                return
            time.sleep(rng.uniform(0.1, 0.4))  # a person reading the page


def _holder(db: Path, release: threading.Event) -> None:
    """A long dashboard query: keep a read-only connection until ``release``."""
    with connect(db, read_only=True, on_busy=None):
        release.wait(timeout=30)


def test_dashboard_reads_while_the_cli_imports(store: tuple[Path, list[Path], int]) -> None:
    db, files, base = store
    # one subprocess runs the CLI imports one after another, as a cron job would
    script = (
        "import sys\nfrom qualitylib.cli import main\n"
        "for path in sys.argv[2:]:\n"
        "    code = main(['import', '--db', sys.argv[1], '--kind', 'annotations', path])\n"
        "    if code:\n        sys.exit(code)\n"
    )
    release = threading.Event()
    holder = threading.Thread(target=_holder, args=(db, release))
    holder.start()
    writer = subprocess.Popen(
        [sys.executable, "-c", script, str(db), *map(str, files)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # the first import meets the held file and must say it is waiting, then get through
    assert writer.stderr is not None
    first_line = writer.stderr.readline()
    release.set()
    holder.join()
    stop = threading.Event()
    sessions = [Session() for _ in range(N_SESSIONS)]
    threads = [
        threading.Thread(target=session.run, args=(db, stop, seed))
        for seed, session in enumerate(sessions)
    ]
    for thread in threads:
        thread.start()
    try:
        out, rest = writer.communicate(timeout=300)  # a bound for a hung test, not a timing
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    assert first_line.startswith(f"store {db} is busy, retrying"), first_line
    stderr = first_line + rest
    assert writer.returncode == 0, stderr
    assert "lock" not in stderr.lower() and "Traceback" not in stderr
    assert out.count("imported 1 file(s)") == N_IMPORTS

    # no failed page; every read saw whole imports only, in order
    assert [error for session in sessions for error in session.errors] == []
    batch = ITEMS_PER_IMPORT * N_ANNOTATORS
    allowed = {base + k * batch for k in range(N_IMPORTS + 1)}
    for session in sessions:
        assert len(session.counts) >= 2 and set(session.counts) <= allowed
        assert session.counts == sorted(session.counts)
    # readers that met the writer waited with the clear message, not a lock error
    busy = [message for session in sessions for message in session.busy]
    assert all(message.startswith(f"store {db} is busy, retrying") for message in busy)

    # no lost import: every row is there and the store passes its integrity check
    with connect(db, read_only=True) as con:
        assert scalar(con, "SELECT count(*) FROM annotations") == base + N_IMPORTS * batch
        assert scalar(con, "SELECT count(*) FROM imports WHERE kind = 'annotations'") == (
            1 + N_IMPORTS
        )
    assert all(finding.ok for finding in check_store(db))
    assert main(["check", "--db", str(db)]) == 0


def test_a_waiting_writer_holds_back_new_readers(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    with connect(db):
        pass
    marker = Path(f"{db}{WRITER_WAITING}")
    marker.touch()
    threading.Timer(0.5, marker.unlink).start()
    messages: list[str] = []
    started = time.monotonic()
    with connect(db, read_only=True, on_busy=messages.append):
        waited = time.monotonic() - started
    assert waited >= 0.45 and messages == [f"store {db} is busy, retrying for up to 30 s"]
    # a marker left by a writer that died is ignored once stale
    marker.touch()
    stale = time.time() - WRITER_WAITING_STALE_SECONDS - 1
    os.utime(marker, (stale, stale))
    with connect(db, read_only=True, on_busy=messages.append):
        pass
    assert len(messages) == 1


def test_a_refused_writer_marks_itself_waiting_then_gives_up(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    with connect(db):
        pass
    reader = subprocess.Popen(
        [sys.executable, "-c", READER_HOLDS_FILE, str(db)], stdout=subprocess.PIPE, text=True
    )
    assert reader.stdout is not None and reader.stdout.readline() == "open\n"
    marker = Path(f"{db}{WRITER_WAITING}")
    seen: list[bool] = []
    try:
        with pytest.raises(QualitylibError, match=r"is busy .* gave up after 1 s"):
            with connect(db, retry_seconds=1.0, on_busy=lambda _: seen.append(marker.exists())):
                pass
    finally:
        reader.kill()
        reader.wait()
    assert seen == [True] and not marker.exists()
