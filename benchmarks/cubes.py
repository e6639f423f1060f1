"""`cubes` against `import`: the same store from the same demo data, timed (printed, not asserted).

    python benchmarks/cubes.py --annotations 1000000 [--spark] [--folder DIR]

Also times the `scored` derivation the contract made portable (window spans and a join)
against DuckDB's ASOF JOIN it replaced, on the built store.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

from qualitylib import demo
from qualitylib.engines import build_cubes
from qualitylib.engines.lake import write_lake
from qualitylib.ingest import import_files
from qualitylib.store import SCORING_SQL

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


def _timed(step: str, action: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = action()
    print(f"| {step} | {time.perf_counter() - start:.2f} s |", flush=True)
    return result


def main() -> None:
    """Build the lake and the files, then the store each way; print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--annotations", type=int, default=1_000_000)
    parser.add_argument("--spark", action="store_true", help="also run --engine spark (local)")
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="qualitylib-cubes-bench-"))
    data = demo.generate(seed=0, n_annotations=args.annotations)
    write_lake(data, folder / "lake")
    files = demo.write_files(data, folder / "files")
    print(f"{len(data.annotations):,} labels, {folder}\n\n| step | time |\n|---|---|")

    def imported() -> None:
        for kind in demo.IMPORT_ORDER:
            import_files(folder / "imported.duckdb", kind, [files[kind]])

    _timed("import of the five Parquet files (validated)", imported)
    summary = _timed(
        "cubes --engine duckdb",
        lambda: build_cubes(folder / "lake", folder / "embedded.duckdb", replace=True),
    )
    if args.spark:
        from qualitylib.engines.spark import session

        spark = _timed("Spark session start (local[2])", lambda: session("local[2]"))
        _timed(
            "cubes --engine spark",
            lambda: build_cubes(
                folder / "lake", folder / "spark.duckdb", "spark", replace=True, spark=spark
            ),
        )
    con = duckdb.connect(str(folder / "embedded.duckdb"), read_only=True)
    for name, sql in (("ASOF JOIN", ASOF_SCORING_SQL), ("spans + join", SCORING_SQL)):
        best = min(_seconds(con, sql.format(scope="true")) for _ in range(3))
        print(f"| scored by {name} (best of 3) | {best:.2f} s |")
    print("\nrows:", ", ".join(f"{table} {n:,}" for table, n in summary.rows.items()))


def _seconds(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    start = time.perf_counter()
    con.execute(f"SELECT count(*) FROM ({sql})").fetchall()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
