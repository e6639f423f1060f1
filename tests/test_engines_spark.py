"""`cubes --engine spark` (local mode): the same store, table for table, as the embedded engine.

One Spark session for the module; skipped only where there is no Java to run it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from conftest import TABLES
from test_engines import assert_same_exports, lake  # noqa: F401  (lake is a fixture)

from qualitylib.check import check_store
from qualitylib.engines import build_cubes
from qualitylib.engines.spark import session as spark_session

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(
        shutil.which("java") is None, reason="Spark needs Java (a JRE 17 or later) on PATH"
    ),
    # `cubes` passes no pandas through Spark: a pandas warning from pyspark here is a failure.
    pytest.mark.filterwarnings("error::FutureWarning"),
]
# Every column of every store table must match, except when and by whom `cubes` ran.
DIFFERS = {"imports": "* EXCLUDE (sha256, imported_by, imported_at)"}


# At 3,000 labels the time is the JVM compiling and Spark scheduling, not the data: the client
# compiler alone, two threads on two partitions, and one job per query (no adaptive re-planning
# or broadcast joins, which each add a job; the results cannot depend on the plan) take a build
# from 62 Spark jobs to 23 and the module from 70-90 s to 20-30 s on two busy cores.
TEST_CONFIG = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.autoBroadcastJoinThreshold": "-1",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    """One small local Spark for the module, as `cubes` starts it (see TEST_CONFIG)."""
    session = spark_session("local[2]", TEST_CONFIG)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_spark_store_equals_embedded_and_import(
    lake: tuple[Path, Path],  # noqa: F811
    spark: object,
    tmp_path: Path,
) -> None:
    source, _ = lake
    embedded, on_spark = tmp_path / "embedded.duckdb", tmp_path / "spark.duckdb"
    build_cubes(source, embedded, engine="duckdb")
    summary = build_cubes(source, on_spark, engine="spark", spark=spark)
    assert summary.engine == "spark" and summary.rows["pairs"] > 0
    con = duckdb.connect()
    con.execute(f"ATTACH '{embedded}' AS e (READ_ONLY)")
    con.execute(f"ATTACH '{on_spark}' AS s (READ_ONLY)")
    for table in TABLES:
        columns = DIFFERS.get(table, "*")
        n_rows = con.execute(f"SELECT count(*) FROM e.{table}").fetchone()[0]
        differ = con.execute(
            f"""SELECT count(*) FROM (
                (SELECT {columns} FROM e.{table} EXCEPT ALL SELECT {columns} FROM s.{table})
                UNION ALL
                (SELECT {columns} FROM s.{table} EXCEPT ALL SELECT {columns} FROM e.{table}))"""
        ).fetchone()[0]
        assert (table, differ) == (table, 0), f"{differ} of {n_rows} rows differ"
    assert all(finding.ok for finding in check_store(on_spark))
    # Every export, headlines included, as the embedded store's (which equal an import's:
    # test_engines.py).
    assert_same_exports(on_spark, embedded)
