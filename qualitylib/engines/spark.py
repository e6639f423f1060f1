"""The Spark engine: the contract transpiled to Spark SQL, results staged as Parquet.

Each table is written to ``staging/<name>/`` and read back as the view later queries use
(so votes is computed once, not again for pairs); the store then loads the staged files.
The staging folder must be one the driver's DuckDB can read: local mode or a shared mount.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from qualitylib.engines.contract import transpile
from qualitylib.errors import QualitylibError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LOCAL_MASTER = "local[2]"


def session(master: str | None = None, config: dict[str, str] | None = None) -> SparkSession:
    """A Spark session for `cubes`: local mode unless ``master`` (or Spark's own configuration)
    names a cluster; UTC, no UI, few shuffle partitions unless ``config`` says otherwise."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as error:
        raise QualitylibError(
            "--engine spark needs pyspark: pip install 'qualitylib[spark]'"
        ) from error
    builder = SparkSession.builder.appName("qualitylib-cubes")
    if master is not None:
        builder = builder.master(master)
    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "8",
    } | (config or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    with warnings.catch_warnings():
        # pyspark 4 warns at start-up that it does not fully support pandas 3; `cubes` passes
        # no pandas through Spark (SQL in, Parquet out), so the warning does not apply.
        warnings.filterwarnings(
            "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
        )
        return builder.getOrCreate()


class SparkEngine:
    """Runs the contract on a Spark session; ``staging`` holds the results for the store."""

    dialect = "spark"

    def __init__(self, spark: SparkSession, staging: Path) -> None:
        self.spark = spark
        self.staging = Path(staging)

    def read(self, name: str, folder: str) -> list[str] | None:
        """View ``name`` over the Parquet dataset at ``folder`` (Hive partitions become columns);
        its columns, or None when there is no such folder."""
        from py4j.protocol import Py4JJavaError
        from pyspark.errors import AnalysisException

        try:
            frame = self.spark.read.option("mergeSchema", "true").parquet(folder)
        except AnalysisException as error:
            if "PATH_NOT_FOUND" in str(error) or "does not exist" in str(error):
                return None
            raise QualitylibError(f"{folder}: {str(error).splitlines()[0]}") from error
        except Py4JJavaError as error:  # the files' schemas do not merge: name the root cause
            cause = error.java_exception
            while cause.getCause() is not None:
                cause = cause.getCause()
            raise QualitylibError(f"{folder}: {str(cause.getMessage()).splitlines()[0]}") from error
        frame.createOrReplaceTempView(name)
        return list(frame.columns)

    def table(self, name: str, sql: str) -> None:
        """Compute ``sql`` into ``staging/name`` and make that the view ``name``."""
        path = str(self.staging / name)
        frame = self.spark.sql(transpile(sql, self.dialect))
        frame.write.mode("overwrite").parquet(path)
        # The schema is known: reading it back infers nothing (no job over the files' footers).
        self.spark.read.schema(frame.schema).parquet(path).createOrReplaceTempView(name)

    def view(self, name: str, sql: str) -> None:
        """Name ``sql`` as view ``name`` (computed where it is read)."""
        self.spark.sql(transpile(sql, self.dialect)).createOrReplaceTempView(name)

    def counts(self, sql: str) -> list[int]:
        """The numbers of a one-row counting query."""
        return [int(n) for n in self.spark.sql(transpile(sql, self.dialect)).collect()[0]]

    def relation(self, name: str) -> str:
        """How the store connection reads the staged table ``name``."""
        pattern = str(self.staging / name / "*.parquet").replace("'", "''")
        return f"read_parquet('{pattern}')"
