"""The bad-input corpus: every malformed file, run through the real CLI, exits 1 with one line
naming the file, the row or record and the column or field, and changes nothing in the store.

``tests/data/bad/MANIFEST.csv`` lists each file with the import options it is given, the place
(``row 3``, ``record 2``, ``row 0 (header)``; empty for a problem of the whole file), the
column or field the message must name, and a pattern for the problem itself.
"""

from __future__ import annotations

import csv
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import fingerprint

from qualitylib.cli import main
from qualitylib.ingest import import_files

BAD = Path(__file__).resolve().parent / "data" / "bad"
MANIFEST = list(csv.DictReader((BAD / "MANIFEST.csv").open(encoding="utf-8")))
Fingerprint = dict[str, tuple[int, int]]
FORMAT_PREFIXES = {
    "ann": "canonical annotations",
    "ref": "canonical reference",
    "labels": "canonical labels",
    "items": "canonical items",
    "annotators": "canonical annotators",
    "boxes": "canonical boxes",
    "refboxes": "canonical reference boxes",
    "ls": "Label Studio",
    "prodigy": "Prodigy",
    "toloka": "Toloka",
    "sagemaker": "SageMaker",
    "crowd": "crowd CSV",
    "gold": "crowd CSV gold",
    "x": "auto-detect",
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with a label set, annotations and a reference decision (copied per test)."""
    folder = tmp_path_factory.mktemp("seed")
    files = {
        "labels": "label,is_positive\nsafe,false\nnudity,true\nweapons,true\ndrugs,true\n",
        "annotations": "item_id,annotator_id,label,annotated_at\n"
        "img-1,alice,safe,2026-09-01T10:00:00Z\nimg-2,bob,weapons,2026-09-01T11:00:00Z\n",
        "reference": "item_id,label,decided_at\nimg-2,weapons,2026-08-02T00:00:00Z\n",
        "items": "item_id,width,height\nimg-1,640,480\n",
    }
    db = folder / "seeded.duckdb"
    for kind, text in files.items():
        path = folder / f"{kind}.csv"
        path.write_text(text, encoding="utf-8")
        import_files(db, kind, [path])
    return db


@pytest.fixture(scope="module")
def before(seeded: Path) -> Fingerprint:
    """The seeded store's fingerprint, which every copy starts with."""
    return fingerprint(seeded)


@pytest.fixture
def store(seeded: Path, tmp_path: Path) -> Path:
    """A fresh copy of the seeded store."""
    db = tmp_path / "store.duckdb"
    shutil.copy(seeded, db)
    return db


def _run(db: Path, options: str, path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``qualitylib import --db DB OPTIONS PATH`` in-process: exit code and stderr."""
    code = main(["import", "--db", str(db), *shlex.split(options), str(path)])
    return code, capsys.readouterr().err


def _assert_one_line(err: str, entry: dict[str, str]) -> None:
    """One line: ``error: FILE PLACE...`` naming the column, with the expected problem."""
    assert err.endswith("\n") and err.count("\n") == 1, err
    line = err.rstrip("\n")
    place = f" {entry['place']}" if entry["place"] else ":"
    assert line.startswith(f"error: {entry['file']}{place}"), line
    assert entry["column"] in line, line
    assert re.search(entry["problem"], line), line
    assert "Traceback" not in line and "Error:" not in line.removeprefix("error: "), line


def test_corpus_covers_every_format() -> None:
    counts: dict[str, int] = {}
    for entry in MANIFEST:
        kind = FORMAT_PREFIXES[entry["file"].split("_")[0]]
        counts[kind] = counts.get(kind, 0) + 1
    assert set(counts) == set(FORMAT_PREFIXES.values())
    assert len(MANIFEST) >= 30
    assert {path.name for path in BAD.iterdir()} == {"MANIFEST.csv"} | {
        entry["file"] for entry in MANIFEST
    }
    suffixes = {Path(entry["file"]).suffix for entry in MANIFEST}
    assert {".csv", ".tsv", ".parquet", ".json", ".jsonl"} <= suffixes


@pytest.mark.parametrize("entry", MANIFEST, ids=[entry["file"] for entry in MANIFEST])
def test_bad_file_exits_1_with_one_line_and_changes_nothing(
    store: Path, before: Fingerprint, entry: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run(store, entry["options"], BAD / entry["file"], capsys)
    assert code == 1, err
    _assert_one_line(err, entry)
    assert fingerprint(store) == before


@pytest.mark.parametrize(
    ("content", "place", "column", "problem"),
    [
        pytest.param(
            lambda: (
                "item_id,annotator_id,label,annotated_at\n"
                + "img-9,"
                + "x" * 2_000_000
                + ",safe,2026-09-01\n"
            ),
            "row 1",
            "column 'annotator_id'",
            r"Maximum line size of 1048576 bytes exceeded",
            id="huge-row",
        ),
        pytest.param(
            lambda: "item_id," + "y" * 2_000_000 + "\n",
            "row 0 (header)",
            "column 2",
            r"not a CSV header \(field larger than field limit",
            id="huge-header-without-newline",
        ),
    ],
)
def test_huge_single_line(
    store: Path,
    before: Fingerprint,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: Callable[[], str],
    place: str,
    column: str,
    problem: str,
) -> None:
    path = tmp_path / "huge.csv"
    path.write_text(content(), encoding="utf-8")
    code, err = _run(store, "--kind annotations", path, capsys)
    assert code == 1, err[:500]
    entry = {"file": "huge.csv", "place": place, "column": column, "problem": problem}
    _assert_one_line(err, entry)
    assert len(err) < 1_000
    assert fingerprint(store) == before


def test_utf8_bom_at_the_start_is_accepted(store: Path, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(
        "\ufeffitem_id,annotator_id,label,annotated_at\nimg-9,zoë,safe,2026-09-01\n".encode()
    )
    assert main(["import", "--db", str(store), "--kind", "annotations", str(path)]) == 0


@pytest.mark.parametrize("name", ["ann_binary_garbage.csv", "ls_not_an_export.json"])
def test_console_script_exit_code_and_stderr(store: Path, before: Fingerprint, name: str) -> None:
    entry = next(entry for entry in MANIFEST if entry["file"] == name)
    done = subprocess.run(
        [sys.executable, "-m", "qualitylib.cli", "import", "--db", str(store)]
        + shlex.split(entry["options"])
        + [str(BAD / name)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    _assert_one_line(done.stderr, entry)
    assert fingerprint(store) == before
