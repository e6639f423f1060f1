"""The embedded engine: DuckDB computes the contract inside the store being written."""

from __future__ import annotations

from pathlib import Path

import duckdb

from qualitylib.errors import QualitylibError


class EmbeddedEngine:
    """Runs the contract's DuckDB SQL as it is, on temp tables of the target store."""

    dialect = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def read(self, name: str, folder: str) -> list[str] | None:
        """View ``name`` over the Parquet files under ``folder``; its columns (None: no folder)."""
        if "://" in folder:
            raise QualitylibError(
                f"{folder}: --engine duckdb reads local folders; use --engine spark for object "
                "stores"
            )
        if not Path(folder).is_dir():
            return None
        if not any(Path(folder).rglob("*.parquet")):
            raise QualitylibError(f"{folder}: no Parquet files in this folder")
        pattern = str(Path(folder) / "**" / "*.parquet").replace("'", "''")
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM read_parquet('{pattern}', "
            "hive_partitioning = true, union_by_name = true)"
        )
        return [row[0] for row in self.con.execute(f"DESCRIBE {name}").fetchall()]

    def table(self, name: str, sql: str) -> None:
        """Materialise ``sql`` as temp table ``name``."""
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def view(self, name: str, sql: str) -> None:
        """Name ``sql`` as view ``name`` (computed where it is read)."""
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")

    def counts(self, sql: str) -> list[int]:
        """The numbers of a one-row counting query."""
        return [int(n) for n in self.con.execute(sql).fetchall()[0]]

    def relation(self, name: str) -> str:
        """How the store connection reads table ``name``."""
        return name
