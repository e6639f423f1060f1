"""The console script: exit codes, one-line errors, exports equal to the Python API."""

from __future__ import annotations

import io
import subprocess
import sys
from contextlib import redirect_stdout
from pathlib import Path

import pandas as pd
import pytest
from conftest import fingerprint

from qualitylib.cli import main
from qualitylib.metrics.reference import annotator_summary
from qualitylib.store import connect

ANNOTATIONS = """
item_id,annotator_id,label,annotated_at
a,=HYPERLINK("http://evil"),safe,2026-09-01T10:00:00Z
a,bob,safe,2026-09-01T11:00:00Z
b,=HYPERLINK("http://evil"),nudity,2026-09-02T10:00:00Z
b,bob,safe,2026-09-02T11:00:00Z
c,bob,nudity,2026-09-02T11:00:00Z
"""
REFERENCE = """
item_id,label,decided_at
a,safe,2026-08-01
b,nudity,2026-08-01
c,nudity,2026-08-01
"""


@pytest.fixture
def store(db: Path, write) -> Path:
    assert (
        main(["import", "--db", str(db), "--kind", "reference", str(write("r.csv", REFERENCE))])
        == 0
    )
    assert (
        main(["import", "--db", str(db), "--kind", "annotations", str(write("a.csv", ANNOTATIONS))])
        == 0
    )
    return db


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qualitylib.cli", *args], capture_output=True, text=True, check=False
    )


def test_help_lists_every_command() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for command in ("import", "demo", "export", "dashboard"):
        assert f"    {command}" in result.stdout


def test_bad_data_is_one_line_and_exit_1(store: Path, write) -> None:
    bad = write("bad.csv", "item_id,annotator_id,label,annotated_at\nz,bob,safe,soon\n")
    before = fingerprint(store)
    result = _run("import", "--db", str(store), "--kind", "annotations", str(bad))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: bad.csv row 1, column 'annotated_at'")
    assert "Traceback" not in result.stderr
    assert fingerprint(store) == before


def test_bad_usage_is_exit_2(store: Path) -> None:
    assert _run("import", "--db", str(store), "--kind", "labelz", "x.csv").returncode == 2
    assert _run("export", "--db", str(store), "nothing").returncode == 2


def test_import_prints_a_summary(db: Path, write) -> None:
    result = _run(
        "import", "--db", str(db), "--kind", "annotations", str(write("a.csv", ANNOTATIONS))
    )
    assert result.returncode == 0
    assert result.stdout.startswith("imported 1 file(s): 5 rows, 2 new annotators, 3 new items in")
    again = _run(
        "import", "--db", str(db), "--kind", "annotations", str(write("a.csv", ANNOTATIONS))
    )
    assert again.stdout.startswith("already imported, nothing to do: a.csv (import #1)")


def test_export_csv_is_the_api_table_and_neutralises_formulas(store: Path) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["export", "--db", str(store), "annotator-summary"]) == 0
    csv = pd.read_csv(io.StringIO(out.getvalue()))
    assert list(csv.columns[:8]) == [
        "annotator_id",
        "name",
        "team",
        "n_reference",
        "accuracy",
        "accuracy_ci_low",
        "accuracy_ci_high",
        "accuracy_n",
    ]
    assert sorted(csv["annotator_id"]) == ['\'=HYPERLINK("http://evil")', "bob"]
    with connect(store, read_only=True) as con:
        api = annotator_summary(con).set_index("annotator_id")
    assert csv.set_index("annotator_id").loc["bob", "accuracy"] == pytest.approx(
        api.loc["bob", "accuracy"]
    )


def test_export_parquet_round_trips(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "pairs.parquet"
    assert (
        main(
            [
                "export",
                "--db",
                str(store),
                "pairwise-kappa",
                "--format",
                "parquet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    pairs = pd.read_parquet(out)
    assert list(pairs.columns[:6]) == [
        "annotator_a",
        "annotator_b",
        "n_items",
        "kappa",
        "kappa_ci_low",
        "kappa_ci_high",
    ]
    assert pairs["n_items"].tolist() == [2]


def test_export_since_until_filters(store: Path) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        main(
            [
                "export",
                "--db",
                str(store),
                "confusion",
                "--since",
                "2026-09-02",
                "--until",
                "2026-09-02",
            ]
        )
    table = pd.read_csv(io.StringIO(out.getvalue()))
    assert table["n"].sum() == 3  # the three labels of 2 September


def test_export_missing_store_is_exit_1(tmp_path: Path) -> None:
    result = _run("export", "--db", str(tmp_path / "none.duckdb"), "agreement")
    assert result.returncode == 1
    assert "no store at" in result.stderr
