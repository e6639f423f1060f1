"""``qualitylib export`` of the stored rows and ``qualitylib imports list|remove``: the rows
come back as the file held them, and removing an import leaves the store as if it had never
been imported (derived tables rescored, ``qualitylib check`` passing, the removal audited)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from conftest import fingerprint

from qualitylib.check import check_store
from qualitylib.cli import main
from qualitylib.export import CANONICAL
from qualitylib.ingest import import_files
from qualitylib.ingest.undo import remove_import
from qualitylib.store import connect

FILES = {
    "labels": "label,is_positive,rank,color\nsafe,false,0,#0a0\nnudity,true,1,\nweapons,true,2,\n",
    "annotators": "annotator_id,name,team,role,started_at\n"
    "alice,Alice,t1,annotator,2026-08-01T00:00:00Z\ncarol,Carol,t1,committee,\n",
    "items": 'item_id,uri,source\nimg-1,s3://b/1.png,web\nimg-9,,"app, ios"\n',
    "reference": "item_id,label,decided_at,policy_version,reason,decided_by\n"
    "img-1,safe,2026-08-01T00:00:00Z,v1,clear,carol\nimg-2,weapons,2026-08-01T00:00:00Z,v1,,carol\n",
    "week1": "item_id,annotator_id,label,annotated_at,reason,unsure,phase,batch\n"
    'img-1,alice,safe,2026-09-01T10:00:00Z," spaced ",false,training,b1\n'
    'img-2,alice,nudity,2026-09-01T10:05:00.250000Z,"two\nlines",true,production,b1\n'
    "img-3,bob,weapons,2026-09-01T10:06:00Z,,false,production,\n",
    "week2": "item_id,annotator_id,label,annotated_at\n"
    "img-1,bob,nudity,2026-09-08T10:00:00Z\nimg-2,bob,weapons,2026-09-08T10:05:00Z\n",
}


def _write(folder: Path, name: str) -> Path:
    path = folder / f"{name}.csv"
    path.write_text(FILES[name], encoding="utf-8")
    return path


def _build(db: Path, folder: Path, weeks: tuple[str, ...]) -> None:
    for kind in ("labels", "annotators", "items", "reference"):
        import_files(db, kind, [_write(folder, kind)])
    for week in weeks:
        import_files(db, "annotations", [_write(folder, week)])


def _export(db: Path, kind: str, out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["export", "--db", str(db), kind, "--out", str(out)]) == 0
    capsys.readouterr()
    return out.read_text(encoding="utf-8")


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(text.splitlines(keepends=True)))


def test_export_gives_the_files_values_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "store.duckdb"
    _build(db, tmp_path, ("week1",))
    stored = _rows(_export(db, "annotations", tmp_path / "out.csv", capsys))
    written = _rows(FILES["week1"])
    assert [{k: row[k] for k in written[0]} for row in stored] == written
    assert _rows(_export(db, "items", tmp_path / "items.csv", capsys))[:2] == [
        {"item_id": "img-1", "uri": "s3://b/1.png", "source": "web"},
        {"item_id": "img-9", "uri": "", "source": "app, ios"},
    ]
    reference = _rows(_export(db, "reference", tmp_path / "ref.csv", capsys))
    assert reference == _rows(FILES["reference"])


def test_exported_rows_import_into_an_empty_store_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "first.duckdb", tmp_path / "second.duckdb"
    _build(first, tmp_path, ("week1", "week2"))
    exported = {}
    for kind in ("labels", "annotators", "items", "reference", "annotations"):
        exported[kind] = _export(first, kind, tmp_path / f"first-{kind}.csv", capsys)
        import_files(second, kind, [tmp_path / f"first-{kind}.csv"])
    for kind in exported:  # predictions and fixes: tests/test_models_import.py
        assert _export(second, kind, tmp_path / f"second-{kind}.csv", capsys) == exported[kind]


def test_remove_leaves_the_store_as_if_never_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, without = tmp_path / "store.duckdb", tmp_path / "without.duckdb"
    _build(db, tmp_path, ("week1", "week2"))
    _build(without, tmp_path, ("week2",))
    assert main(["imports", "remove", "--db", str(db), "5"]) == 0
    assert capsys.readouterr().out == "removed import #5: 3 rows; derived tables rescored\n"
    assert all(finding.ok for finding in check_store(db))
    for kind in CANONICAL:
        assert _export(db, kind, tmp_path / "a.csv", capsys) == _export(
            without, kind, tmp_path / "b.csv", capsys
        ), kind
    with connect(db, read_only=True) as con, connect(without, read_only=True) as other:
        for table in ("scored", "votes", "pairs", "contested"):
            assert (
                con.execute(f"SELECT count(*) FROM {table}").fetchall()
                == other.execute(f"SELECT count(*) FROM {table}").fetchall()
            ), table
        assert con.execute(
            "SELECT status, r.n_rows, r.removed_by IS NOT NULL FROM imports "
            "JOIN removals r USING (import_id)"
        ).fetchall() == [("removed", 3, True)]
    assert main(["imports", "list", "--db", str(db)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert "removed" in listed[5] and "week1.csv" in listed[5]
    # the same file may be imported again once removed
    summary = import_files(db, "annotations", [tmp_path / "week1.csv"])
    assert summary.n_rows == 3
    assert all(finding.ok for finding in check_store(db))


@pytest.mark.parametrize(
    ("import_id", "message"),
    [
        ("1", "updated the labels in place and cannot be removed"),
        ("99", r"no import #99"),
    ],
)
def test_what_cannot_be_removed_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], import_id: str, message: str
) -> None:
    db = tmp_path / "store.duckdb"
    _build(db, tmp_path, ("week1",))
    before = fingerprint(db)
    assert main(["imports", "remove", "--db", str(db), import_id]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert fingerprint(db) == before


def test_a_removal_that_fails_midway_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "store.duckdb"
    _build(db, tmp_path, ("week1", "week2"))
    copy = tmp_path / "copy.duckdb"
    shutil.copy(db, copy)
    before = fingerprint(copy)

    def crash(con: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr("qualitylib.ingest.undo.rescore_touched", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        remove_import(copy, 5)
    assert fingerprint(copy) == before


BOXES = (
    "item_id,annotator_id,label,x_min,y_min,x_max,y_max,annotated_at\n"
    "img-1,alice,weapons,10,10,50,50,2026-09-02T10:00:00Z\n"
    "img-7,dora,nudity,5,5,20,30,2026-09-02T10:01:00Z\n"
    "img-8,dora,,,,,,2026-09-02T10:02:00Z\n"
)
REFERENCE_BOXES = (
    "item_id,label,x_min,y_min,x_max,y_max,decided_at\n"
    "img-1,weapons,12,10,50,48,2026-08-01T00:00:00Z\nimg-7,nudity,0,0,9,9,2026-08-01T00:00:00Z\n"
)
PREDICTIONS = (
    "item_id,model_id,label,predicted_at,score\n"
    "img-1,clf,safe,2026-09-03T00:00:00Z,0.9\nimg-5,clf,weapons,2026-09-03T00:00:00Z,0.6\n"
)


@pytest.mark.parametrize(
    ("kind", "text", "n_rows"),
    [("boxes", BOXES, 3), ("reference-boxes", REFERENCE_BOXES, 2), ("predictions", PREDICTIONS, 2)],
)
def test_removing_boxes_or_predictions_leaves_the_store_as_before(
    tmp_path: Path, kind: str, text: str, n_rows: int
) -> None:
    db = tmp_path / "store.duckdb"
    _build(db, tmp_path, ("week1",))
    if kind == "boxes":  # committee boxes first, so the annotator's are scored against them
        (tmp_path / "refboxes.csv").write_text(REFERENCE_BOXES, encoding="utf-8")
        import_files(db, "reference-boxes", [tmp_path / "refboxes.csv"])
    before = fingerprint(db)
    path = tmp_path / f"{kind}.csv"
    path.write_text(text, encoding="utf-8")
    import_files(db, kind, [path])
    with connect(db, read_only=True) as con:
        import_id = con.execute("SELECT max(import_id) FROM imports").fetchone()[0]
    assert remove_import(db, import_id) == n_rows
    assert all(finding.ok for finding in check_store(db))
    after = fingerprint(db)
    changed = {table for table in before if before[table] != after[table]}
    # only the audit moved: the import is listed as removed; models keep their key
    assert changed <= {"imports", "models"}
