"""Canonical import: every validation rule leaves the store unchanged; imports are idempotent."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from conftest import fingerprint

from qualitylib.errors import ValidationError
from qualitylib.ingest import import_files
from qualitylib.store import SCHEMA_VERSION, connect, label_set, schema_version

LABELS = """
label,is_positive,rank,color
safe,false,0,#999999
nudity,true,1,#d62728
weapons,true,2,#1f77b4
"""

ANNOTATIONS = """
item_id,annotator_id,label,annotated_at,reason,unsure,policy_version,phase,batch
img-1,alice,safe,2026-09-01T10:00:00Z,,false,v1,training,b1
img-1,bob,nudity,2026-09-01T12:00:00+02:00,skin,yes,v1,production,b1
img-2,alice,weapons,2026-09-02 09:30,knife,,v1,,b2
img-2,bob,weapons,2026-09-02,,0,v1,production,b2
"""


@pytest.fixture
def seeded(db: Path, write) -> Path:
    """A store holding the label set and four annotations."""
    import_files(db, "labels", [write("labels.csv", LABELS)])
    import_files(db, "annotations", [write("annotations.csv", ANNOTATIONS)])
    return db


def test_import_stores_keys_utc_and_defaults(seeded: Path) -> None:
    with connect(seeded, read_only=True) as con:
        rows = con.execute(
            """SELECT i.item_id, a.annotator_id, l.label, x.annotated_at, x.unsure, x.phase,
                      x.reason
               FROM annotations x JOIN items i USING (item_key)
               JOIN annotators a USING (annotator_key) JOIN labels l USING (label_key)
               ORDER BY x.annotated_at, a.annotator_id"""
        ).fetchall()
    assert rows == [
        ("img-1", "alice", "safe", datetime(2026, 9, 1, 10, 0), False, "training", None),
        # 12:00+02:00 is 10:00 UTC; a date alone is midnight UTC
        ("img-1", "bob", "nudity", datetime(2026, 9, 1, 10, 0), True, "production", "skin"),
        ("img-2", "bob", "weapons", datetime(2026, 9, 2, 0, 0), False, "production", None),
        ("img-2", "alice", "weapons", datetime(2026, 9, 2, 9, 30), False, "production", "knife"),
    ]


def test_utc_conversion_is_exact(seeded: Path) -> None:
    with connect(seeded, read_only=True) as con:
        bob = con.execute(
            """SELECT x.annotated_at FROM annotations x JOIN annotators a USING (annotator_key)
               JOIN items i USING (item_key) WHERE a.annotator_id = 'bob' AND i.item_id = 'img-1'"""
        ).fetchall()
    assert bob == [(datetime(2026, 9, 1, 10, 0),)]


def test_schema_is_versioned(seeded: Path) -> None:
    with connect(seeded, read_only=True) as con:
        assert schema_version(con) == SCHEMA_VERSION


def test_reimport_same_content_is_a_noop(seeded: Path, write) -> None:
    before = fingerprint(seeded)
    summary = import_files(seeded, "annotations", [write("copy.csv", ANNOTATIONS)])
    assert summary.n_rows == 0
    assert "already imported" in str(summary) and "import #2" in str(summary)
    assert fingerprint(seeded) == before


def test_summary_counts_new_people_and_items(db: Path, write) -> None:
    summary = import_files(db, "annotations", [write("a.csv", ANNOTATIONS)])
    assert (summary.n_rows, summary.n_new_annotators, summary.n_new_items) == (4, 2, 2)
    assert str(summary).startswith("imported 1 file(s): 4 rows, 2 new annotators, 2 new items")


def test_label_set_from_data_when_never_imported(db: Path, write) -> None:
    import_files(db, "annotations", [write("a.csv", ANNOTATIONS)])
    with connect(db, read_only=True) as con:
        labels = label_set(con).set_index("label")["is_positive"].to_dict()
    # weapons is the most frequent label (2 of 4), so it is the "negative" one
    assert labels == {"nudity": True, "safe": True, "weapons": False}


def test_all_or_nothing_across_files(seeded: Path, write) -> None:
    good = write(
        "good.csv",
        """item_id,annotator_id,label,annotated_at
        img-3,carol,safe,2026-09-03T10:00:00Z""",
    )
    bad = write(
        "bad.csv",
        """item_id,annotator_id,label,annotated_at
        img-4,carol,safe,not-a-date""",
    )
    before = fingerprint(seeded)
    with pytest.raises(ValidationError, match=r"bad\.csv row 1, column 'annotated_at'"):
        import_files(seeded, "annotations", [good, bad])
    assert fingerprint(seeded) == before
    # the good file alone still imports afterwards
    assert import_files(seeded, "annotations", [good]).n_rows == 1


BAD_ANNOTATIONS = [
    pytest.param(
        "item_id,annotator_id,label\nimg-9,alice,safe\n",
        r"missing required column\(s\) annotated_at",
        id="missing-column",
    ),
    pytest.param(
        "item_id;annotator_id;label;annotated_at\nimg-9;alice;safe;2026-09-01\n",
        r"missing required column\(s\) item_id, annotator_id, label, annotated_at",
        id="wrong-delimiter",
    ),
    pytest.param(
        "item_id,annotator_id,label,annotated_at,label\nimg-9,alice,safe,2026-09-01,safe\n",
        r"row 0 \(header\), column 'label': the column appears more than once",
        id="duplicated-column",
    ),
    pytest.param(
        "item_id,annotator_id,label,annotated_at,lable\nimg-9,alice,safe,2026-09-01,x\n",
        r"row 0 \(header\), column 'lable': unknown column",
        id="unknown-column",
    ),
    pytest.param(
        "item_id,annotator_id,label,annotated_at\nimg-9,alice,safe,2026-09-01\n,bob,safe,2026-09-01\n",
        r"row 2, column 'item_id': empty item_id",
        id="empty-item-id",
    ),
    pytest.param(
        "item_id,annotator_id,label,annotated_at\nimg-9,  ,safe,2026-09-01\n",
        r"row 1, column 'annotator_id': empty annotator_id",
        id="blank-annotator-id",
    ),
    pytest.param(
        "item_id,annotator_id,label,annotated_at\nimg-9,alice,safe,31/02/2026\n",
        r"row 1, column 'annotated_at': not an ISO 8601 timestamp .*got '31/02/2026'",
        id="unparseable-timestamp",
    ),
    pytest.param(
        "item_id,annotator_id,label,annotated_at\nimg-9,alice,safe,\n",
        r"row 1, column 'annotated_at': not an ISO 8601 timestamp",
        id="missing-timestamp",
    ),
    pytest.param(
        "item_id,annotator_id,label,annotated_at\nimg-9,alice,safe,1899-01-01\n",
        r"row 1, column 'annotated_at': timestamp out of range",
        id="out-of-range-timestamp",
    ),
    pytest.param(
        "item_id,annotator_id,label,annotated_at\nimg-9,alice,drugs,2026-09-01\n",
        r"row 1, column 'label': label outside the imported label set \(nudity, safe, weapons\)"
        r".*got 'drugs'",
        id="label-outside-set",
    ),
    pytest.param(
        "item_id,annotator_id,label,annotated_at\nimg-9,alice,safe,2026-09-01T10:00:00Z\n"
        "img-9,alice,nudity,2026-09-01T12:00:00+02:00\n",
        r"row 2, column 'annotated_at': duplicate row: the same \(item_id, annotator_id, "
        r"annotated_at\) appears earlier",
        id="duplicate-in-file",
    ),
    pytest.param(
        "item_id,annotator_id,label,annotated_at\nimg-1,alice,safe,2026-09-01T10:00:00Z\n",
        r"row 1, column 'annotated_at': already in the store",
        id="duplicate-of-stored-row",
    ),
    pytest.param(
        "item_id,annotator_id,label,annotated_at,unsure\nimg-9,alice,safe,2026-09-01,maybe\n",
        r"row 1, column 'unsure': not a boolean .*got 'maybe'",
        id="non-boolean-unsure",
    ),
    pytest.param(
        "item_id,annotator_id,label,annotated_at,phase\nimg-9,alice,safe,2026-09-01,warmup\n",
        r"row 1, column 'phase': must be one of training, production",
        id="bad-phase",
    ),
    pytest.param("", r"the file is empty", id="empty-file"),
    pytest.param(
        "item_id,annotator_id,label,annotated_at\n", r"has a header but no data rows", id="no-rows"
    ),
    pytest.param(
        "item_id,annotator_id,label,annotated_at\nimg-9,alice,safe,2026-09-01,extra\n",
        r"row 1: Expected Number of Columns: 4 Found: 5",
        id="ragged-row",
    ),
]


@pytest.mark.parametrize(("content", "message"), BAD_ANNOTATIONS)
def test_bad_annotation_file_is_rejected_and_changes_nothing(
    seeded: Path, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "annotations-bad.csv"
    path.write_text(content, encoding="utf-8")
    before = fingerprint(seeded)
    with pytest.raises(ValidationError, match=r"^annotations-bad\.csv") as caught:
        import_files(seeded, "annotations", [path])
    assert caught.match(message)
    assert "\n" not in str(caught.value)
    assert fingerprint(seeded) == before


def test_non_utf8_file_is_rejected(seeded: Path, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        "item_id,annotator_id,label,annotated_at\nimg-9,zoë,safe,2026-09-01\n".encode("latin-1")
    )
    before = fingerprint(seeded)
    with pytest.raises(ValidationError, match=r"latin1\.csv row 1: not UTF-8"):
        import_files(seeded, "annotations", [path])
    assert fingerprint(seeded) == before


def test_utf8_bom_is_accepted(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_text(
        "\ufeffitem_id,annotator_id,label,annotated_at\nimg-9,Zoë,safe,2026-09-01\n",
        encoding="utf-8",
    )
    assert import_files(db, "annotations", [path]).n_rows == 1


def test_reference_rejects_label_outside_set(seeded: Path, write) -> None:
    path = write(
        "reference.csv",
        """item_id,label,decided_at,policy_version
        img-1,safe,2026-08-01T00:00:00Z,v1
        img-2,alcohol,2026-08-01T00:00:00Z,v1""",
    )
    before = fingerprint(seeded)
    with pytest.raises(ValidationError, match=r"reference\.csv row 2, column 'label'"):
        import_files(seeded, "reference", [path])
    assert fingerprint(seeded) == before


def test_reference_versions_and_duplicate_decisions(seeded: Path, write) -> None:
    path = write(
        "reference.csv",
        """item_id,label,decided_at,policy_version,reason,decided_by
        img-2,weapons,2026-08-01T00:00:00Z,v1,knife,committee
        img-2,safe,2026-10-12T00:00:00Z,v2,toy,committee""",
    )
    assert import_files(seeded, "reference", [path]).n_rows == 2
    again = write(
        "reference2.csv",
        """item_id,label,decided_at
        img-2,nudity,2026-10-12T00:00:00Z""",
    )
    with pytest.raises(ValidationError, match=r"row 1, column 'decided_at': already in the store"):
        import_files(seeded, "reference", [again])


def test_items_keep_metadata_and_upsert(seeded: Path, write) -> None:
    path = write(
        "items.csv",
        """item_id,uri,source,region
        img-1,https://example.org/1.jpg,net-a,EU
        img-7,,net-b,US""",
    )
    summary = import_files(seeded, "items", [path])
    assert summary.n_new_items == 1
    with connect(seeded, read_only=True) as con:
        rows = con.execute(
            "SELECT item_id, uri, metadata->>'source', metadata->>'region' FROM items "
            "ORDER BY item_id"
        ).fetchall()
    assert rows == [
        ("img-1", "https://example.org/1.jpg", "net-a", "EU"),
        ("img-2", None, None, None),
        ("img-7", None, "net-b", "US"),
    ]


def test_annotators_upsert_and_role_check(seeded: Path, write) -> None:
    good = write(
        "people.csv",
        """annotator_id,name,team,role,started_at
        alice,Alice Martin,team-a,annotator,2026-08-31
        carol,Carol Diaz,committee,committee,""",
    )
    assert import_files(seeded, "annotators", [good]).n_new_annotators == 1
    with connect(seeded, read_only=True) as con:
        rows = con.execute(
            "SELECT annotator_id, name, role FROM annotators ORDER BY annotator_id"
        ).fetchall()
    assert rows == [
        ("alice", "Alice Martin", "annotator"),
        ("bob", None, None),
        ("carol", "Carol Diaz", "committee"),
    ]
    bad = write("people2.csv", "annotator_id,role\ndave,boss")
    with pytest.raises(ValidationError, match=r"people2\.csv row 1, column 'role': must be one of"):
        import_files(seeded, "annotators", [bad])


def test_labels_validate_types(db: Path, write) -> None:
    bad = write("labels.csv", "label,is_positive,rank\nsafe,false,0\nnudity,true,first")
    with pytest.raises(ValidationError, match=r"labels\.csv row 2, column 'rank': not an integer"):
        import_files(db, "labels", [bad])
    dup = write("labels2.csv", "label\nsafe\nsafe")
    with pytest.raises(ValidationError, match=r"labels2\.csv row 2, column 'label': duplicate"):
        import_files(db, "labels", [dup])


def test_parquet_import_matches_csv(db: Path, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "item_id": ["a", "b"],
            "annotator_id": ["x", "y"],
            "label": ["safe", "nudity"],
            "annotated_at": pd.to_datetime(["2026-09-01T10:00:00Z", "2026-09-01T11:00:00Z"]),
            "unsure": [False, True],
        }
    )
    path = tmp_path / "a.parquet"
    frame.to_parquet(path)
    assert import_files(db, "annotations", [path]).n_rows == 2
    with connect(db, read_only=True) as con:
        rows = con.execute("SELECT annotated_at, unsure FROM annotations ORDER BY 1").fetchall()
    assert rows == [(datetime(2026, 9, 1, 10), False), (datetime(2026, 9, 1, 11), True)]


def test_parquet_errors_name_the_row_and_a_file_row_number_column_is_metadata(
    db: Path, tmp_path: Path
) -> None:
    """Parquet rows are numbered by the reader (no copy); a column named like that number is
    ordinary item metadata, and the rows are still numbered right."""
    items = pd.DataFrame({"item_id": ["a", "b", "c"], "file_row_number": ["7", "8", "9"]})
    items.to_parquet(tmp_path / "items.parquet")
    import_files(db, "items", [tmp_path / "items.parquet"])
    with connect(db, read_only=True) as con:
        rows = con.execute(
            "SELECT item_id, metadata->>'file_row_number' FROM items ORDER BY 1"
        ).fetchall()
    assert rows == [("a", "7"), ("b", "8"), ("c", "9")]
    bad = pd.DataFrame({"item_id": ["d", " ", "e"], "file_row_number": ["1", "2", "3"]})
    bad.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(ValidationError, match=r"bad\.parquet row 2, column 'item_id': empty"):
        import_files(db, "items", [tmp_path / "bad.parquet"])
    frame = pd.DataFrame(
        {
            "item_id": ["a", "b", "c"],
            "annotator_id": ["x", "y", "z"],
            "label": ["safe", "safe", "safe"],
            "annotated_at": ["2026-09-01", "2026-09-01", "yesterday"],
        }
    )
    frame.to_parquet(tmp_path / "a.parquet")
    with pytest.raises(
        ValidationError,
        match=r"a\.parquet row 3, column 'annotated_at': not an ISO 8601.*got 'yesterday'",
    ):
        import_files(db, "annotations", [tmp_path / "a.parquet"])


def test_unknown_file_type_and_missing_file(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "a.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(ValidationError, match=r"a\.xlsx: unknown file type '\.xlsx'"):
        import_files(db, "annotations", [path])
    with pytest.raises(ValidationError, match=r"no such file"):
        import_files(db, "annotations", [tmp_path / "missing.csv"])


def test_every_boolean_word_in_any_case_and_padding(db: Path, write) -> None:
    words = {
        "True": True, " yes ": True, "Y": True, "1": True, "t": True, "yEs": True,
        "FALSE": False, " no": False, "n": False, "0": False, "f": False, "": False, "  ": False,
    }  # fmt: skip
    rows = "".join(
        f'img-{n},ann,safe,2026-09-01T{n:02d}:00:00Z,"{word}"\n' for n, word in enumerate(words)
    )
    import_files(
        db,
        "annotations",
        [write("a.csv", "item_id,annotator_id,label,annotated_at,unsure\n" + rows)],
    )
    with connect(db, read_only=True) as con:
        got = con.execute("SELECT unsure FROM annotations ORDER BY annotated_at").fetchall()
    assert [row[0] for row in got] == list(words.values())
    bad = write(
        "b.csv", "item_id,annotator_id,label,annotated_at,unsure\nimg-1,ann,safe,2026-09-02,on\n"
    )
    with pytest.raises(ValidationError, match=r"row 1, column 'unsure': not a boolean.*got 'on'"):
        import_files(db, "annotations", [bad])
