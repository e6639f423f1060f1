"""Time on task: ``duration_s`` is read from files and tool exports, missing stays NULL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import fingerprint

from qualitylib.errors import ValidationError
from qualitylib.ingest import import_exports, import_files
from qualitylib.store import connect

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def _durations(db: Path) -> list[tuple[str, str, float | None]]:
    with connect(db, read_only=True) as con:
        return con.execute(
            """SELECT i.item_id, a.annotator_id, x.duration_s
               FROM annotations x JOIN items i USING (item_key)
               JOIN annotators a USING (annotator_key) ORDER BY 1, 2"""
        ).fetchall()


def test_canonical_duration_is_stored_and_missing_stays_null(db: Path, write) -> None:
    import_files(
        db,
        "annotations",
        [
            write(
                "a.csv",
                """item_id,annotator_id,label,annotated_at,duration_s
                i1,ann,safe,2026-09-01T10:00:00Z,4.5
                i2,ann,safe,2026-09-01T10:01:00Z,
                i3,ann,safe,2026-09-01T10:02:00Z,0""",
            )
        ],
    )
    assert _durations(db) == [("i1", "ann", 4.5), ("i2", "ann", None), ("i3", "ann", 0.0)]


def test_file_without_duration_column_gives_null(db: Path, write) -> None:
    import_files(
        db,
        "annotations",
        [write("a.csv", "item_id,annotator_id,label,annotated_at\ni1,b,x,2026-09-01")],
    )
    assert _durations(db) == [("i1", "b", None)]


@pytest.mark.parametrize("bad", ["-1", "abc", "inf", "nan"])
def test_bad_duration_is_refused_naming_row_and_column(db: Path, write, bad: str) -> None:
    good = write("g.csv", "item_id,annotator_id,label,annotated_at\ni0,b,x,2026-09-01")
    import_files(db, "annotations", [good])
    before = fingerprint(db)
    path = write(
        "a.csv",
        f"""item_id,annotator_id,label,annotated_at,duration_s
        i1,ann,safe,2026-09-01T10:00:00Z,3
        i2,ann,safe,2026-09-01T10:01:00Z,{bad}""",
    )
    with pytest.raises(ValidationError) as error:
        import_files(db, "annotations", [path])
    assert str(error.value) == (
        "a.csv row 2, column 'duration_s': not a non-negative number of seconds "
        f"(leave the cell empty when unknown) (got {bad!r})"
    )
    assert fingerprint(db) == before


def test_label_studio_lead_time(db: Path, tmp_path: Path) -> None:
    def annotation(who: int, choice: str, lead: object) -> dict[str, object]:
        out: dict[str, object] = {
            "completed_by": who,
            "created_at": f"2026-03-02T09:1{who}:00Z",
            "result": [{"from_name": "c", "type": "choices", "value": {"choices": [choice]}}],
        }
        if lead is not None:
            out["lead_time"] = lead
        return out

    tasks = [{"id": 1, "annotations": [annotation(1, "safe", 7.25), annotation(2, "safe", None)]}]
    path = tmp_path / "ls.json"
    path.write_text(json.dumps(tasks), encoding="utf-8")
    import_exports(db, "label-studio", [path])
    assert _durations(db) == [("1", "1", 7.25), ("1", "2", None)]

    tasks[0]["annotations"] = [annotation(3, "safe", -2)]
    bad = tmp_path / "ls_bad.json"
    bad.write_text(json.dumps(tasks), encoding="utf-8")
    with pytest.raises(ValidationError, match=r"ls_bad.json record 1, field 'annotations\[\]"):
        import_exports(db, "label-studio", [bad])


def test_sagemaker_time_spent(db: Path) -> None:
    import_exports(db, "sagemaker", sorted((SAMPLES / "sagemaker").rglob("*.json")))
    rows = _durations(db)
    assert len(rows) == 9
    # the three answers of each response spent 11.651, 12.651 and 13.651 s
    assert sorted({row[2] for row in rows}) == [11.651, 12.651, 13.651]


def test_toloka_spreads_the_assignment_span_over_its_tasks(db: Path) -> None:
    import_exports(db, "toloka", [SAMPLES / "toloka.tsv"])
    spans = {round(row[2], 4) for row in _durations(db)}
    # 10:00:00 -> 10:02:21.512 over 4 tasks; 10:10 -> 10:12:21.512; 11:00 -> 11:03:27.004
    assert spans == {round(141.512 / 4, 4), round(207.004 / 4, 4)}
