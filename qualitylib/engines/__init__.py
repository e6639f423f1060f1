"""`qualitylib cubes`: the store's keyed log and derived tables computed from a Parquet lake.

An engine (embedded DuckDB, or Spark) runs the queries of :mod:`qualitylib.engines.contract`
over the lake's folders; the results are loaded into a new DuckDB store in one transaction
and the file appears at its path only when complete.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

import duckdb

from qualitylib.engines import contract
from qualitylib.errors import QualitylibError
from qualitylib.log_scope import MARKER, OMITTED, SERVED_EXPORTS
from qualitylib.store import DERIVED, DERIVED_BOXES, connect, scalar

Engine = Literal["duckdb", "spark"]
# The kept tables whose items a store without the log keeps (the pages join no other).
KEEPS_ITEMS = ("reference", "scored", "contested", "fixes", "boxes", "box_reference")


class Runner(Protocol):
    """What the build needs of an engine (see embedded.py and spark.py)."""

    dialect: str

    def read(self, name: str, folder: str) -> list[str] | None: ...
    def table(self, name: str, sql: str) -> None: ...
    def view(self, name: str, sql: str) -> None: ...
    def counts(self, sql: str) -> list[int]: ...
    def relation(self, name: str) -> str: ...


@dataclass(frozen=True)
class CubesSummary:
    """What `cubes` wrote: rows per store table."""

    db: Path
    engine: str
    rows: dict[str, int]
    log: bool = True

    def __str__(self) -> str:
        counts = ", ".join(f"{n:,} {table}" for table, n in self.rows.items())
        written = f"{self.engine} wrote {self.db}: {counts}"
        if self.log:
            return written
        return (
            f"{written}; without the label log ({', '.join(OMITTED)} left out), it serves the "
            f"exports {', '.join(sorted(SERVED_EXPORTS))}, and the dashboard and the report "
            "from its count tables (each section that needs the log says so); the other "
            "exports need the log"
        )


def _folder(source: str, kind: str) -> str:
    return source.rstrip("/") + "/" + kind


def compute(runner: Runner, source: str, log: bool = True) -> list[str]:
    """Read the lake under ``source``, check it and compute every store table on ``runner``
    (without ``log``, the log-sized tables of :data:`OMITTED` are left out, and ``votes`` and
    ``pairs`` computed only as views the count tables read); return the kinds found."""
    found = []
    prediction_columns: list[str] | None = None
    checks: list[tuple[str, list[str], str]] = []  # (folder, problems, counting query)
    for kind in contract.KIND_ORDER:
        folder = _folder(source, kind)
        columns = runner.read(f"raw_{kind}", folder)
        if columns is None:
            if kind in contract.REQUIRED_KINDS:
                raise QualitylibError(f"{folder}: no such folder (the label log is required)")
        else:
            found.append(kind)
            missing = contract.missing_columns(kind, columns)
            if missing:
                raise QualitylibError(f"{folder}: missing required column {missing[0]!r}")
        if kind == "predictions":
            prediction_columns = columns
        runner.view(f"src_{kind}", contract.source_sql(kind, f"raw_{kind}", columns))
        if columns is not None:
            checks.append((folder, *contract.problems_sql(kind, columns)))
    # Every folder's counts in one query: one Spark job, not one per folder.
    counted = iter(
        runner.counts(
            "SELECT * FROM "
            + " CROSS JOIN ".join(f"({sql}) AS p{n}" for n, (_, _, sql) in enumerate(checks))
        )
    )
    for folder, problems, _ in checks:
        for problem, bad in zip(problems, counted, strict=False):
            if bad:
                raise QualitylibError(f"{folder}: {problem} in {bad:,} rows")
    for table, sql in contract.KEYED:
        import_id = _import_id(table, found)
        runner.table(table, sql.format(import_id=import_id))
    _check_score_labels(runner, source, prediction_columns)
    for table, sql in contract.keyed_more(prediction_columns):
        if log or table not in OMITTED:
            runner.table(table, sql.format(import_id=_import_id(table, found)))
    for table, sql in contract.derived() + contract.derived_boxes():
        if log or table not in OMITTED:
            runner.table(table, sql)
        else:  # computed only where a count table reads it, never stored
            runner.view(table, sql)
    if not log:
        for table, sql in contract.COUNTS:
            runner.table(table, sql)
    return found


def _check_score_labels(runner: Runner, source: str, columns: list[str] | None) -> None:
    """Each ``score_<label>`` column of the predictions names a label of the lake (a misspelt
    one is refused, as by the import, not added)."""
    from qualitylib.ingest.validate import SCORE_PREFIX, score_columns

    cells = score_columns("predictions", list(columns or ()))
    if not cells:
        return
    labels = [name.removeprefix(SCORE_PREFIX) for name in cells]
    found = runner.counts(
        "SELECT "
        + ", ".join(
            "count(CASE WHEN label = '" + label.replace("'", "''") + "' THEN 1 END)"
            for label in labels
        )
        + " FROM labels"
    )
    for name, n in zip(cells, found, strict=True):
        if not n:
            raise QualitylibError(
                f"{_folder(source, 'predictions')}: column {name!r} names no label of the lake "
                "(name each score column score_<label>)"
            )


def _import_id(table: str, found: list[str]) -> int:
    """Each lake folder is recorded as one import, numbered in load order (``table``: a store
    table, named as its folder or in :data:`contract.FOLDER_OF`)."""
    kind = contract.FOLDER_OF.get(table, table)
    return found.index(kind) + 1 if kind in found else 0


def _write(
    con: duckdb.DuckDBPyConnection,
    runner: Runner,
    source: str,
    found: list[str],
    engine: str,
    log: bool = True,
) -> dict[str, int]:
    """Load every computed table into the store (without ``log``, not the log-sized ones, and
    the marker that says so) and record one import per folder."""
    rows = {}
    tables = [
        table for table, _ in (*contract.KEYED, *contract.keyed_more([]), *DERIVED, *DERIVED_BOXES)
    ]
    tables = [table for table in tables if log or table not in OMITTED]
    # Qualified: the embedded engine's temp tables have the store tables' names.
    store = '"' + str(scalar(con, "SELECT current_database()")).replace('"', '""') + '".main'
    con.execute("BEGIN TRANSACTION")
    for table in tables:
        rows_of = f"SELECT * FROM {runner.relation(table)}"
        if table == "items" and not log:  # the item dimension is log-sized too: keep those named
            named = " UNION ".join(
                f"SELECT item_key FROM {runner.relation(kept)}" for kept in KEEPS_ITEMS
            )
            rows_of += f" WHERE item_key IN ({named})"
        con.execute(f"INSERT INTO {store}.{table} BY NAME {rows_of}")
        rows[table] = int(scalar(con, f"SELECT count(*) FROM {store}.{table}"))
    if not log:
        for table, _ in contract.COUNTS:  # not in the schema either: only such a store has them
            con.execute(f"CREATE TABLE {store}.{table} AS SELECT * FROM {runner.relation(table)}")
            rows[table] = int(scalar(con, f"SELECT count(*) FROM {store}.{table}"))
        rows["annotations"] = runner.counts("SELECT count(*) FROM annotations")[0]
        if "predictions" in found:  # every row keys: the lake's count is the table's
            rows["predictions"] = runner.counts("SELECT count(*) FROM src_predictions")[0]
        con.execute(f"CREATE TABLE {store}.{MARKER} (table_name VARCHAR, n_rows BIGINT)")
        for table in OMITTED:
            con.execute(f"INSERT INTO {store}.{MARKER} VALUES (?, ?)", [table, rows.get(table)])
    now = datetime.now(UTC).replace(tzinfo=None)
    for kind in found:
        folder = _folder(source, kind)
        n_rows = rows.get(contract.TABLE_OF.get(kind, kind), 0)
        # The digest names the folder, not its bytes: a lake's files can be terabytes.
        digest = hashlib.sha256(f"cubes:{engine}:{folder}".encode()).hexdigest()
        con.execute(
            f"INSERT INTO {store}.imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok')",
            [
                _import_id(kind, found),
                contract.import_kind(kind),
                folder,
                digest,
                n_rows if kind in contract.LOG_KINDS else 0,
                rows["annotators"] if kind == "annotations" else 0,
                rows["items"] if kind == "annotations" else 0,
                getpass.getuser(),
                now,
            ],
        )
    con.execute("COMMIT")
    return rows


def build_cubes(
    source: str | Path,
    db: str | Path,
    engine: Engine = "duckdb",
    spark_master: str | None = None,
    replace: bool = False,
    spark: object | None = None,
    log: bool = True,
) -> CubesSummary:
    """Compute the store tables of the lake at ``source`` on ``engine`` into a new store ``db``.

    ``spark``: an existing SparkSession to use (tests share one); else one is started on
    ``spark_master`` (local mode by default). Without ``log`` the store leaves out the
    log-sized tables (see :mod:`qualitylib.log_scope`). The store file appears only when
    complete.
    """
    db = Path(db)
    if db.exists() and not replace:
        raise QualitylibError(f"{db} already exists: remove it, choose another --db or --replace")
    if not db.parent.is_dir():
        raise QualitylibError(f"{db.parent}: no such folder for --db")
    source = str(source)
    partial = db.with_name(db.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        with (
            connect(partial) as con,
            tempfile.TemporaryDirectory(prefix="qualitylib-cubes-", dir=db.parent) as staging,
        ):
            runner: Runner
            if engine == "duckdb":
                from qualitylib.engines.embedded import EmbeddedEngine

                runner = EmbeddedEngine(con)
            elif engine == "spark":
                from qualitylib.engines.spark import SparkEngine, session

                runner = SparkEngine(spark or session(spark_master), Path(staging))
            else:
                raise QualitylibError(f"unknown engine {engine!r}: choose duckdb or spark")
            found = compute(runner, source, log)
            rows = _write(con, runner, source, found, engine, log)
        os.replace(partial, db)
    finally:
        partial.unlink(missing_ok=True)
    return CubesSummary(db, engine, rows, log)
