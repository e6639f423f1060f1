"""`cubes --engine spark` (local mode): the same store, table for table, as the embedded engine.

One Spark session for the module; skipped only where there is no Java to run it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import TABLES
from test_engines import (  # noqa: F401  (lake and no_log are fixtures)
    PROVENANCE,
    assert_same_exports,
    lake,
    no_log,
    small_lake,
)

from qualitylib.check import check_store
from qualitylib.engines import build_cubes
from qualitylib.engines.contract import COUNTS
from qualitylib.engines.spark import session as spark_session
from qualitylib.errors import QualitylibError
from qualitylib.export import EXPORTS
from qualitylib.log_scope import MARKER, SERVED_EXPORTS
from qualitylib.metrics.filters import Filters
from qualitylib.store import connect

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(
        shutil.which("java") is None, reason="Spark needs Java (a JRE 17 or later) on PATH"
    ),
    # `cubes` passes no pandas through Spark: a pandas warning from pyspark here is a failure.
    pytest.mark.filterwarnings("error::FutureWarning"),
]
# Every column of every store table must match, except when and by whom `cubes` ran.
DIFFERS = {
    "imports": "* EXCLUDE (sha256, imported_by, imported_at)",
    # a sum of doubles in another order: equal to 1e-6 s, not to the last bit
    "activity": "* REPLACE (round(seconds, 6) AS seconds)",
}


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


def assert_same_tables(embedded: Path, on_spark: Path, tables: tuple[str, ...]) -> None:
    """Every row of every table in ``tables`` of the two stores is the same."""
    con = duckdb.connect()
    con.execute(f"ATTACH '{embedded}' AS e (READ_ONLY)")
    con.execute(f"ATTACH '{on_spark}' AS s (READ_ONLY)")
    for table in tables:
        columns = DIFFERS.get(table, "*")
        n_rows = con.execute(f"SELECT count(*) FROM e.{table}").fetchone()[0]
        differ = con.execute(
            f"""SELECT count(*) FROM (
                (SELECT {columns} FROM e.{table} EXCEPT ALL SELECT {columns} FROM s.{table})
                UNION ALL
                (SELECT {columns} FROM s.{table} EXCEPT ALL SELECT {columns} FROM e.{table}))"""
        ).fetchone()[0]
        assert (table, differ) == (table, 0), f"{differ} of {n_rows} rows differ"


def test_spark_store_equals_the_embedded_one(
    lake: tuple[Path, Path],  # noqa: F811
    no_log: tuple[Path, Path],  # noqa: F811
    spark: object,
    tmp_path: Path,
) -> None:
    source, _ = lake
    embedded, on_spark = no_log[0], tmp_path / "spark.duckdb"
    summary = build_cubes(source, on_spark, engine="spark", spark=spark)
    assert summary.engine == "spark" and summary.rows["pairs"] > 0
    # the model and box tables are compared with rows (test_engines.py: equal to an import's)
    new = ("models", "prediction_scores", "fixes", "box_reference", "box_candidates", "box_pairs")
    assert all(summary.rows[table] > 0 for table in new), summary.rows
    assert_same_tables(embedded, on_spark, TABLES)
    assert all(finding.ok for finding in check_store(on_spark))
    # Every export, headlines included, as the embedded store's (which equal an import's:
    # test_engines.py).
    assert_same_exports(on_spark, embedded)


def test_spark_no_log_store_equals_the_embedded_one(
    no_log: tuple[Path, Path],  # noqa: F811
    lake: tuple[Path, Path],  # noqa: F811
    spark: object,
    tmp_path: Path,
) -> None:
    _, embedded = no_log
    on_spark = tmp_path / "spark.duckdb"
    summary = build_cubes(lake[0], on_spark, engine="spark", spark=spark, log=False)
    assert summary.rows["annotations"] == 3_000  # counted on Spark, not stored
    assert_same_tables(embedded, on_spark, (*TABLES, MARKER, *(t for t, _ in COUNTS)))
    assert all(finding.ok for finding in check_store(on_spark))
    for name in sorted(SERVED_EXPORTS):
        frames = []
        for db in (embedded, on_spark):
            with connect(db, read_only=True) as con:
                frames.append(
                    EXPORTS[name](con, Filters()).drop(columns=PROVENANCE, errors="ignore")
                )
        pd.testing.assert_frame_equal(frames[1], frames[0], rtol=1e-12, atol=1e-12, obj=name)


def test_spark_names_files_whose_types_disagree(spark: object, tmp_path: Path) -> None:
    """A folder of a UTC and a naive time: Spark cannot merge the files; one line says so."""
    folder = tmp_path / "lake" / "annotators"
    folder.mkdir(parents=True)
    for number, at in enumerate((pd.Timestamp("2026-09-01", tz="UTC"), pd.Timestamp("2026-09-01"))):
        frame = pd.DataFrame({"annotator_id": [f"a{number}"], "started_at": [at]})
        frame.to_parquet(folder / f"part-{number}.parquet")
    with pytest.raises(QualitylibError) as error:
        build_cubes(tmp_path / "lake", tmp_path / "cubes.duckdb", engine="spark", spark=spark)
    assert str(error.value).startswith(f"{folder}: [CANNOT_MERGE_INCOMPATIBLE_DATA_TYPE]")
    assert "TIMESTAMP_NTZ" in str(error.value) and "\n" not in str(error.value)
    assert not list(tmp_path.glob("cubes.duckdb*"))


def test_spark_refuses_a_nan_box_as_the_embedded_engine(spark: object, tmp_path: Path) -> None:
    """NaN compares differently in Spark and DuckDB: the transpiled check still finds it."""
    folder = small_lake(tmp_path / "lake", reference_boxes={"x_min": [float("nan")]})
    for engine in ("duckdb", "spark"):
        with pytest.raises(QualitylibError) as error:
            build_cubes(folder, tmp_path / "cubes.duckdb", engine=engine, spark=spark)
        assert str(error.value) == (
            f"{folder}/reference_boxes: column 'x_min' is negative, NaN or infinite in 1 rows"
        )
    assert not list(tmp_path.glob("cubes.duckdb*"))
