"""`cubes` on the embedded engine: the contract's tables from a Parquet lake equal an import's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from qualitylib import demo
from qualitylib.check import check_store
from qualitylib.cli import main
from qualitylib.engines import build_cubes
from qualitylib.engines.lake import write_lake
from qualitylib.errors import QualitylibError
from qualitylib.export import EXPORTS
from qualitylib.ingest import import_files
from qualitylib.metrics.filters import Filters
from qualitylib.store import connect

N_ANNOTATIONS = 3_000
# Exports compared between a cubes store and an imported one (every export the tables hold),
# without the provenance columns that name the import (a lake folder against a file).
COMPARED = tuple(EXPORTS)
PROVENANCE = ["source_name", "imported_at", "imported_by", "import_id"]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo as a Parquet lake, and the store `qualitylib import` builds from the same data."""
    folder = tmp_path_factory.mktemp("lake")
    data = demo.generate(seed=3, n_annotations=N_ANNOTATIONS)
    # Label keys follow rank in a lake (Parquet rows have no order), file rows in an import;
    # the label file in rank order makes them the same keys, so key-order ties (the review
    # queue's majority label) break alike.
    data = replace(data, labels=data.labels.sort_values("rank", ignore_index=True))
    write_lake(data, folder / "lake")
    files = demo.write_files(data, folder / "files")
    imported = folder / "imported.duckdb"
    for kind in demo.IMPORT_ORDER:
        import_files(imported, kind, [files[kind]])
    return folder / "lake", imported


def export_tables(db: Path) -> dict[str, pd.DataFrame]:
    """Every compared export of ``db``, rows in a canonical order."""
    with connect(db, read_only=True) as con:
        tables = {
            name: EXPORTS[name](con, Filters()).drop(columns=PROVENANCE, errors="ignore")
            for name in COMPARED
        }
    return {
        name: frame.sort_values(list(frame.columns)).reset_index(drop=True) if len(frame) else frame
        for name, frame in tables.items()
    }


def assert_same_exports(db: Path, expected: Path) -> None:
    """Every export of ``db`` equals that of ``expected``, to 1e-12."""
    got, want = export_tables(db), export_tables(expected)
    for name in COMPARED:
        pd.testing.assert_frame_equal(
            got[name], want[name], check_dtype=False, rtol=1e-12, atol=1e-12, obj=name
        )


def test_embedded_cubes_equal_an_import(lake: tuple[Path, Path], tmp_path: Path) -> None:
    source, imported = lake
    out = tmp_path / "cubes.duckdb"
    summary = build_cubes(source, out, engine="duckdb")
    assert summary.rows["annotations"] == N_ANNOTATIONS
    assert all(finding.ok for finding in check_store(out)), check_store(out)
    assert_same_exports(out, imported)


# The dimensions by id (keys may differ from an import's; every other column must not).
DIMENSIONS = {
    "labels": "label, is_positive, rank, color, declared",
    "annotators": "annotator_id, name, team, role, started_at",
    "items": "item_id, uri, metadata::VARCHAR",
}


def test_embedded_cubes_dimensions_equal_an_import(lake: tuple[Path, Path], tmp_path: Path) -> None:
    source, imported = lake
    out = tmp_path / "cubes.duckdb"
    build_cubes(source, out)
    with connect(out, read_only=True) as con:
        con.execute(f"ATTACH '{imported}' AS imported (READ_ONLY)")
        for table, columns in DIMENSIONS.items():
            n_rows, differ = con.execute(
                f"""SELECT (SELECT count(*) FROM {table}), count(*) FROM (
                    (SELECT {columns} FROM {table}
                     EXCEPT ALL SELECT {columns} FROM imported.{table})
                    UNION ALL
                    (SELECT {columns} FROM imported.{table}
                     EXCEPT ALL SELECT {columns} FROM {table}))"""
            ).fetchone()
            assert n_rows > 0 and differ == 0, (table, differ)


def test_cli_cubes_refuses_to_overwrite(lake: tuple[Path, Path], tmp_path: Path, capsys) -> None:
    source, _ = lake
    out = tmp_path / "cubes.duckdb"
    argv = ["cubes", "--engine", "duckdb", "--source", str(source), "--db", str(out)]
    assert main(argv) == 0
    assert "3,000 annotations" in capsys.readouterr().out
    assert main(argv) == 1
    assert "already exists" in capsys.readouterr().err
    assert main([*argv, "--replace"]) == 0


def test_missing_required_column_is_named_and_nothing_written(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (lake / "annotations").mkdir(parents=True)
    pd.DataFrame({"item_id": ["a"], "annotator_id": ["x"], "label": ["safe"]}).to_parquet(
        lake / "annotations" / "part-0.parquet"
    )
    out = tmp_path / "cubes.duckdb"
    with pytest.raises(
        QualitylibError, match=r"annotations: missing required column 'annotated_at'"
    ):
        build_cubes(lake, out)
    assert not out.exists()
    assert not list(tmp_path.glob("cubes.duckdb*"))


def test_repeated_answers_are_refused(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    (lake / "annotations").mkdir(parents=True)
    at = pd.Timestamp("2026-09-01T10:00:00Z")
    pd.DataFrame(
        {
            "item_id": ["a", "a"],
            "annotator_id": ["x", "x"],
            "label": ["safe", "nudity"],
            "annotated_at": [at, at],
        }
    ).to_parquet(lake / "annotations" / "part-0.parquet")
    with pytest.raises(
        QualitylibError, match=r"rows repeat \(item_id, annotator_id, annotated_at\) in 1 rows"
    ):
        build_cubes(lake, tmp_path / "cubes.duckdb")


def test_no_log_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(QualitylibError, match="annotations: no such folder"):
        build_cubes(tmp_path, tmp_path / "cubes.duckdb")
