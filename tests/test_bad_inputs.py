"""The bad-input corpus: every malformed file, run through the real CLI, exits 1 with one line
naming the file, the row or record and the column or field, and changes nothing in the store.

``tests/data/bad/MANIFEST.csv`` lists each file with the import options it is given, the place
(``row 3``, ``record 2``, ``row 0 (header)``; empty for a problem of the whole file), the
column or field the message must name, a pattern for the problem itself, and the outcome:
``refused``, or ``imports N`` for awkward files that must be stored exactly as written (a name
DuckDB would read as a glob, mixed line ends). Inputs too large or too special for the
repository (50 MB lines, FIFOs, devices, directories, 30 MB of base64 images) are made here.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import fingerprint

from qualitylib.cli import main
from qualitylib.export import write_canonical
from qualitylib.ingest import import_files
from qualitylib.ingest.read import MAX_LINE
from qualitylib.store import connect, scalar

BAD = Path(__file__).resolve().parent / "data" / "bad"
MANIFEST = list(csv.DictReader((BAD / "MANIFEST.csv").open(encoding="utf-8")))
REFUSED = [entry for entry in MANIFEST if entry["outcome"] == "refused"]
IMPORTED = [entry for entry in MANIFEST if entry["outcome"] != "refused"]
Fingerprint = dict[str, tuple[int, int]]
FORMAT_PREFIXES = {
    "ann": "canonical annotations",
    "ref": "canonical reference",
    "labels": "canonical labels",
    "items": "canonical items",
    "annotators": "canonical annotators",
    "pred": "canonical predictions",
    "fix": "canonical fixes",
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
    assert all(re.fullmatch(r"refused|imports \d+", entry["outcome"]) for entry in MANIFEST)


def _stored_import(db: Path, import_id: int) -> list[dict[str, str]]:
    """The canonical export of one import's annotations, read back as text."""
    out = db.parent / "export.csv"
    with connect(db, read_only=True) as con:
        write_canonical(con, "annotations", out, import_id=import_id)
    return list(csv.DictReader(out.open(encoding="utf-8", newline="")))


def _file_rows(path: Path) -> list[dict[str, str]]:
    """The file's rows as text, as Python's csv module reads them (a second parser)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _assert_stored_exactly(db: Path, path: Path) -> None:
    """The last import holds exactly the file's rows, each value the same text."""
    with connect(db, read_only=True) as con:
        import_id = int(scalar(con, "SELECT max(import_id) FROM imports"))
    stored = _stored_import(db, import_id)
    written = _file_rows(path)
    assert len(stored) == len(written)
    for got, want in zip(stored, written, strict=True):
        assert {column: got[column] for column in want} == want


@pytest.mark.parametrize("entry", IMPORTED, ids=[entry["file"] for entry in IMPORTED])
def test_awkward_file_is_stored_exactly(
    store: Path, entry: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _run(store, entry["options"], BAD / entry["file"], capsys)
    assert code == 0, err
    n_rows = int(entry["outcome"].removeprefix("imports "))
    _assert_stored_exactly(store, BAD / entry["file"])
    assert len(_file_rows(BAD / entry["file"])) == n_rows


ROW = "img-{n},carol,safe,2026-09-0{n}T10:00:00Z\n"
HEADER = "item_id,annotator_id,label,annotated_at\n"


@pytest.mark.parametrize("name", ["w?.csv", "w*.csv", "w[12].csv", "[w]1.csv"])
def test_a_file_name_is_never_a_glob_pattern(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    for n in (1, 2):  # siblings the pattern would match
        (tmp_path / f"w{n}.csv").write_text(HEADER + ROW.format(n=n) * 1, encoding="utf-8")
    (tmp_path / "w2.csv").write_text(HEADER + ROW.format(n=2) + ROW.format(n=3), encoding="utf-8")
    target = tmp_path / name
    target.write_text(HEADER + ROW.format(n=5), encoding="utf-8")
    code, err = _run(store, "--kind annotations", target, capsys)
    assert code == 0, err
    _assert_stored_exactly(store, target)


def test_a_parquet_file_name_is_never_a_glob_pattern(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for n, name in ((1, "p1.parquet"), (2, "p2.parquet"), (5, "p?.parquet")):
        frame = pd.read_csv(io.StringIO(HEADER + ROW.format(n=n)), dtype=str)
        frame.to_parquet(tmp_path / name, index=False)
    code, err = _run(store, "--kind annotations", tmp_path / "p1.parquet", capsys)
    assert code == 0, err
    code, out_err = _run(store, "--kind annotations", tmp_path / "p?.parquet", capsys)
    assert code == 0, out_err
    with connect(store, read_only=True) as con:
        import_id = int(scalar(con, "SELECT max(import_id) FROM imports"))
    assert [row["item_id"] for row in _stored_import(store, import_id)] == ["img-5"]


def test_json_file_name_is_never_a_glob_pattern(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = {
        "options": [{"id": "safe"}],
        "accept": ["safe"],
        "answer": "accept",
        "_annotator_id": "x",
        "_timestamp": 1780000000,
    }
    for n, name in ((1, "q1.jsonl"), (2, "q2.jsonl"), (9, "q?.jsonl")):
        lines = [json.dumps({**record, "_input_hash": n * 10 + k}) for k in range(n)]
        (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, err = _run(store, "--format auto", tmp_path / "q?.jsonl", capsys)
    assert code == 0, err
    with connect(store, read_only=True) as con:
        assert scalar(con, "SELECT n_rows FROM imports ORDER BY import_id DESC LIMIT 1") == 9


@pytest.mark.parametrize("position", ["last", "middle"])
def test_a_50_mb_line_is_refused_with_its_row_and_the_limit(
    store: Path,
    before: Fingerprint,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    position: str,
) -> None:
    path = tmp_path / "long.csv"
    huge = "img-3,carol,safe,2026-09-03T10:00:00Z," + "x" * (50 << 20) + "\n"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("item_id,annotator_id,label,annotated_at,reason\n")
        handle.write(
            "img-1,carol,safe,2026-09-01T10:00:00Z,ok\nimg-2,carol,safe,2026-09-02T10:00:00Z,ok\n"
        )
        handle.write(huge)
        if position == "middle":
            handle.write("img-4,carol,safe,2026-09-04T10:00:00Z,ok\n")
    code, err = _run(store, "--kind annotations", path, capsys)
    assert code == 1
    entry = {
        "file": "long.csv",
        "place": "row 3",
        "column": "'reason'",
        "problem": f"Maximum line size of {MAX_LINE} bytes exceeded \\(the line is 52,428,8",
    }
    _assert_one_line(err, entry)
    assert fingerprint(store) == before


def test_mixed_line_ends_keep_the_ragged_row_check(
    store: Path, before: Fingerprint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lf = (BAD / "ann_mixed_newlines_ragged.csv").read_bytes().replace(b"\r\n", b"\n")
    path = tmp_path / "lf_only.csv"
    path.write_bytes(lf)
    entry = next(e for e in MANIFEST if e["file"] == "ann_mixed_newlines_ragged.csv")
    code, err = _run(store, "--kind annotations", path, capsys)
    assert code == 1
    _assert_one_line(err, {**entry, "file": "lf_only.csv"})  # the same refusal as mixed ends
    assert fingerprint(store) == before


def _special(tmp_path: Path, kind: str) -> Path:
    """A directory, FIFO, or link to a device, named like a data file."""
    path = tmp_path / "d.csv"
    match kind:
        case "directory":
            path.mkdir()
        case "fifo":
            os.mkfifo(path)
        case "device":
            path.symlink_to("/dev/zero")
    return path


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("directory", "is a directory"),
        ("fifo", r"is a named pipe \(FIFO\)"),
        ("device", "is a character device"),
    ],
)
@pytest.mark.parametrize("options", ["--kind annotations", "--format auto", "--format prodigy"])
def test_fifo_device_or_directory_is_refused_at_once(
    store: Path, before: Fingerprint, tmp_path: Path, kind: str, problem: str, options: str
) -> None:
    path = _special(tmp_path, kind)
    done = subprocess.run(  # a subprocess with a timeout: a regression would hang
        [sys.executable, "-m", "qualitylib.cli", "import", "--db", str(store)]
        + shlex.split(options)
        + [str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    _assert_one_line(done.stderr, {"file": "d.csv", "place": "", "column": "", "problem": problem})
    assert fingerprint(store) == before


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_text("item_id\n1\n"), "not a qualitylib store"),
        (lambda p: p.write_bytes(b""), "cannot open it"),
    ],
    ids=["directory", "text-file", "empty-file"],
)
def test_db_that_is_not_a_store_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: Callable[[Path], None], problem: str
) -> None:
    db = tmp_path / "team.duckdb"
    make(db)
    data = tmp_path / "labels.csv"
    data.write_text("label\nsafe\n", encoding="utf-8")
    for argv in (
        ["import", "--db", str(db), "--kind", "labels", str(data)],
        ["check", "--db", str(db)],
        ["export", "--db", str(db), "labels"],
        ["imports", "list", "--db", str(db)],
    ):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"error: store {db}"), err
        assert re.search(problem, err), err


def test_prodigy_with_embedded_images_imports_under_the_memory_limit(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "images.jsonl"
    image = "data:image/png;base64," + base64.b64encode(os.urandom(2_250_000)).decode()
    with path.open("w", encoding="utf-8") as handle:
        for n in range(10):  # ten records of 3 MB
            record = {
                "image": image,
                "_input_hash": n,
                "_task_hash": n,
                "options": [{"id": "safe", "image": image[:1000]}, {"id": "nudity"}],
                "accept": ["safe"],
                "answer": "accept",
                "_annotator_id": "ds-alice",
                "_timestamp": 1780000000 + n,
            }
            handle.write(json.dumps(record) + "\n")
    code, err = _run(store, "--format prodigy", path, capsys)
    assert code == 0, err
    with connect(store, read_only=True) as con:
        assert con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0] in (
            "953.6 MiB",
            "1.0 GiB",
        )
        assert scalar(con, "SELECT n_rows FROM imports ORDER BY import_id DESC LIMIT 1") == 10


@pytest.mark.parametrize("entry", REFUSED, ids=[entry["file"] for entry in REFUSED])
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
