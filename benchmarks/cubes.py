"""`cubes` at scale: time, peak memory, and the size of what the store holds against the log.

    python benchmarks/cubes.py --annotations 1000000 [--spark] [--import] [--folder DIR]

Writes the demo's lake once, then runs each build in a fresh process (so its peak memory is its
own): `cubes --engine duckdb`, and with ``--spark`` `cubes --engine spark` in local mode, whose
Spark event log gives, per step of the contract, the task time (summed over tasks: the work a
cluster divides among its cores) and the bytes read, shuffled and written. Then it sizes every
store table as zstd Parquet beside the log (the store a `--no-log` build writes keeps the small
ones). Also times the `scored` derivation the contract made portable (window spans and a join)
against DuckDB's ASOF JOIN it replaced. Prints Markdown; not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import duckdb

T = TypeVar("T")

# The ASOF JOIN form of `scored` used before the contract (qualitylib 0.1, schema 4).
ASOF_SCORING_SQL = """
    WITH x AS (
        SELECT * FROM annotations WHERE item_key IN (SELECT item_key FROM reference)
    ), first_decision AS (
        SELECT item_key, arg_min(label_key, decided_at) AS label_key,
               arg_min(policy_version, decided_at) AS policy_version,
               arg_min(reason, decided_at) AS reason
        FROM reference GROUP BY item_key
    ), as_of AS (
        SELECT x.*, r.label_key AS r_label, r.policy_version AS r_policy, r.reason AS r_reason
        FROM x ASOF LEFT JOIN reference r
          ON x.item_key = r.item_key AND x.annotated_at >= r.decided_at
    )
    SELECT a.* EXCLUDE (r_label, r_policy, r_reason),
           coalesce(a.r_label, d.label_key) AS ref_label_key,
           CASE WHEN a.r_label IS NULL THEN d.policy_version ELSE a.r_policy END
               AS ref_policy_version,
           CASE WHEN a.r_label IS NULL THEN d.reason ELSE a.r_reason END AS ref_reason
    FROM as_of a JOIN first_decision d USING (item_key)
"""
# Local Spark for the benchmark: both cores, the driver's heap sized for 10M labels.
SPARK_CONFIG = {
    "spark.driver.memory": "3g",
    "spark.sql.shuffle.partitions": "8",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}


def _status_kb(pid: int | str, field: str) -> int:
    """A ``/proc/PID/status`` field in kB (0 when the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    """Every live process below ``pid`` (Spark's JVM is one)."""
    children: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children[int(fields[1])].append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@contextmanager
def _peak_memory() -> Iterator[dict[str, float]]:
    """Peak resident memory (MB) of this process and of its children together, sampled every
    0.2 s (the JVM's heap grows and is collected between samples: a lower bound)."""
    peak = {"mb": 0.0}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            pids = [os.getpid(), *_descendants(os.getpid())]
            peak["mb"] = max(peak["mb"], sum(_status_kb(p, "VmRSS") for p in pids) / 1024)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()
        peak["mb"] = max(peak["mb"], _status_kb("self", "VmHWM") / 1024)


def _run_embedded(lake: Path, db: Path, log: bool) -> dict[str, object]:
    from qualitylib.engines import build_cubes

    with _peak_memory() as peak:
        started = time.perf_counter()
        build_cubes(lake, db, replace=True, log=log)
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": peak["mb"]}


def _run_spark(lake: Path, db: Path, events: Path, log: bool) -> dict[str, object]:
    """`cubes --engine spark`, each engine call a Spark job group named after its step."""
    import qualitylib.engines.spark as spark_engine
    from qualitylib.engines import build_cubes

    def grouped(method: Callable[..., T], kind: str) -> Callable[..., T]:
        def call(self: spark_engine.SparkEngine, name: str, *rest: object) -> T:
            # a check's name is its SQL: name it by the folder it checks
            target = re.findall(r"src_\w+", name)[0] if kind == "check" else name
            step = f"{kind} {target}"
            self.spark.sparkContext.setJobGroup(step, step)
            return method(self, name, *rest)

        return call

    for attribute, kind in (("read", "read"), ("table", "table"), ("counts", "check")):
        method = getattr(spark_engine.SparkEngine, attribute)
        setattr(spark_engine.SparkEngine, attribute, grouped(method, kind))
    shutil.rmtree(events, ignore_errors=True)
    events.mkdir(parents=True)
    config = SPARK_CONFIG | {
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": events.as_uri(),
        "spark.eventLog.compress": "false",
    }
    with _peak_memory() as peak:
        started = time.perf_counter()
        spark = spark_engine.session("local[2]", config)
        spark.sparkContext.setLogLevel("ERROR")
        session_seconds = time.perf_counter() - started
        started = time.perf_counter()
        build_cubes(lake, db, "spark", replace=True, spark=spark, log=log)
        seconds = time.perf_counter() - started
        spark.stop()
    return {
        "seconds": seconds,
        "session_seconds": session_seconds,
        "peak_mb": peak["mb"],
        "steps": _event_log_steps(events),
    }


def _event_log_steps(events: Path) -> dict[str, dict[str, float]]:
    """Per job group, from Spark's event log: tasks, task time and CPU time (s, summed over
    tasks), the longest task, bytes spilled, read from files, shuffled (written by map tasks)
    and written to files."""
    group_of_stage: dict[int, str] = {}
    steps: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    # Spark 4 writes a folder per application of rolled files (events_1_..., events_2_...).
    for log in sorted(path for path in events.rglob("events_*") if path.is_file()):
        for line in log.read_text().splitlines():
            event = json.loads(line)
            if event["Event"] == "SparkListenerJobStart":
                group = (event.get("Properties") or {}).get("spark.jobGroup.id", "other")
                for stage in event["Stage IDs"]:
                    group_of_stage[stage] = group
            elif event["Event"] == "SparkListenerTaskEnd" and event.get("Task Metrics"):
                metrics, step = event["Task Metrics"], steps[group_of_stage[event["Stage ID"]]]
                step["tasks"] += 1
                step["task_seconds"] += metrics["Executor Run Time"] / 1000
                step["longest_task_seconds"] = max(
                    step["longest_task_seconds"], metrics["Executor Run Time"] / 1000
                )
                # CPU time, unlike task time, does not grow when other work shares the cores
                step["cpu_seconds"] += metrics["Executor CPU Time"] / 1e9
                step["spilled_bytes"] += metrics["Disk Bytes Spilled"]
                step["read_bytes"] += metrics["Input Metrics"]["Bytes Read"]
                step["shuffle_bytes"] += metrics["Shuffle Write Metrics"]["Shuffle Bytes Written"]
                step["shuffle_records"] += metrics["Shuffle Write Metrics"][
                    "Shuffle Records Written"
                ]
                step["written_bytes"] += metrics["Output Metrics"]["Bytes Written"]
    return {group: dict(values) for group, values in steps.items()}


def _print_steps(steps: dict[str, dict[str, float]]) -> None:
    """The per-step table of a Spark run."""
    print(
        "| Spark step | tasks | task time | CPU time | longest task | shuffled | shuffled rows "
        "| spilled | written |\n|---|---|---|---|---|---|---|---|---|"
    )
    for step, m in steps.items():
        print(
            f"| {step} | {m['tasks']:.0f} | {m['task_seconds']:.1f} s | {m['cpu_seconds']:.1f} s "
            f"| {m['longest_task_seconds']:.1f} s | {m['shuffle_bytes'] / 1e6:.1f} MB "
            f"| {m['shuffle_records']:,.0f} | {m['spilled_bytes'] / 1e6:.1f} MB "
            f"| {m['written_bytes'] / 1e6:.1f} MB |"
        )


def _in_subprocess(*argv: str) -> dict[str, object]:
    """Run this script with ``argv`` in a fresh process; its JSON result."""
    out = subprocess.run(
        [sys.executable, __file__, *argv], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _sizes(db: Path, folder: Path) -> dict[str, tuple[int, int]]:
    """Rows and zstd-Parquet bytes of every non-empty store table."""
    sizes = {}
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [row[0] for row in con.execute("SHOW TABLES").fetchall()]
        for table in tables:
            n_rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if not n_rows:
                continue
            path = folder / f"{table}.parquet"
            con.execute(f"COPY {table} TO '{path}' (FORMAT parquet, COMPRESSION zstd)")
            sizes[table] = (n_rows, path.stat().st_size)
            path.unlink()
    return sizes


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*.parquet"))


def main() -> None:
    """Build the lake, each store in its own process; print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--annotations", type=int, default=1_000_000)
    parser.add_argument("--spark", action="store_true", help="also run --engine spark (local)")
    parser.add_argument("--import", dest="imported", action="store_true", help="also import")
    parser.add_argument("--folder", type=Path, default=None)
    parser.add_argument("--no-log", action="store_true", help="build stores without the log")
    parser.add_argument("--run", choices=("duckdb", "spark"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--steps", type=Path, help="only print the step table of this Spark event-log folder"
    )
    args = parser.parse_args()
    if args.steps is not None:  # also reads the log of a run still going: the steps done
        _print_steps(_event_log_steps(args.steps))
        return
    folder = args.folder or Path(tempfile.mkdtemp(prefix="qualitylib-cubes-bench-"))
    suffix, log = ("-no-log", False) if args.no_log else ("", True)
    embedded_db, events = folder / f"embedded{suffix}.duckdb", folder / f"events{suffix}"
    if args.run == "duckdb":
        print(json.dumps(_run_embedded(folder / "lake", embedded_db, log)))
        return
    if args.run == "spark":
        print(
            json.dumps(_run_spark(folder / "lake", folder / f"spark{suffix}.duckdb", events, log))
        )
        return
    flags = ["--folder", str(folder)] + (["--no-log"] if args.no_log else [])

    from qualitylib import demo
    from qualitylib.engines.lake import write_lake

    started = time.perf_counter()
    files = None
    if not (folder / "lake").exists() or args.imported:  # a lake in --folder is used again
        data = demo.generate(seed=0, n_annotations=args.annotations)
        if not (folder / "lake").exists():
            write_lake(data, folder / "lake")
        files = demo.write_files(data, folder / "files") if args.imported else None
        del data
    print(
        f"{args.annotations:,} labels in {folder} (lake written in "
        f"{time.perf_counter() - started:.0f} s); load average {os.getloadavg()[0]:.1f}\n"
    )
    print("| step | time | peak memory |\n|---|---|---|")
    if files is not None:
        from qualitylib.ingest import import_files

        started = time.perf_counter()
        for kind in demo.IMPORT_ORDER:
            import_files(folder / "imported.duckdb", kind, [files[kind]])
        print(f"| import of the five Parquet files | {time.perf_counter() - started:.1f} s | |")
    embedded = _in_subprocess("--run", "duckdb", *flags)
    print(
        f"| cubes --engine duckdb{' --no-log' if args.no_log else ''} | "
        f"{embedded['seconds']:.1f} s | {embedded['peak_mb']:,.0f} MB |"
    )
    if args.spark:
        spark = _in_subprocess("--run", "spark", *flags)
        print(f"| Spark session start (local[2]) | {spark['session_seconds']:.1f} s | |")
        print(
            f"| cubes --engine spark | {spark['seconds']:.1f} s | {spark['peak_mb']:,.0f} MB "
            "(Python + JVM) |"
        )
        print(f"\nload average after: {os.getloadavg()[0]:.1f}\n")
        _print_steps(spark["steps"])
    lake_bytes = _folder_bytes(folder / "lake" / "annotations")
    print(f"\nthe log in the lake: {lake_bytes / 1e6:.1f} MB of Parquet\n")
    print("| store table | rows | zstd Parquet | of the log's size |\n|---|---|---|---|")
    for table, (n_rows, n_bytes) in _sizes(embedded_db, folder).items():
        print(f"| {table} | {n_rows:,} | {n_bytes / 1e6:.2f} MB | {n_bytes / lake_bytes:.1%} |")
    if args.no_log:
        return
    con = duckdb.connect(str(embedded_db), read_only=True)
    from qualitylib.store import SCORING_SQL

    for name, sql in (("ASOF JOIN", ASOF_SCORING_SQL), ("spans + join", SCORING_SQL)):
        best = min(_seconds(con, sql.format(scope="true")) for _ in range(3))
        print(f"\n`scored` by {name} (best of 3): {best:.2f} s")


def _seconds(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    start = time.perf_counter()
    con.execute(f"SELECT count(*) FROM ({sql})").fetchall()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
