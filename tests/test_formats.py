"""Tool exports: each sample imports to exactly its canonical rows; bad exports change nothing."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stdout
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import fingerprint

from qualitylib.cli import main
from qualitylib.errors import ValidationError
from qualitylib.ingest import detect_format, import_exports
from qualitylib.store import connect

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
SAGEMAKER = sorted((SAMPLES / "sagemaker").rglob("*.json"))
AT = datetime(2026, 3, 1, 12, 0)


def _annotations(db: Path) -> list[tuple[str, str, str, bool]]:
    with connect(db, read_only=True) as con:
        return con.execute(
            """SELECT i.item_id, a.annotator_id, l.label, x.unsure
               FROM annotations x JOIN items i USING (item_key)
               JOIN annotators a USING (annotator_key) JOIN labels l USING (label_key)
               ORDER BY ALL"""
        ).fetchall()


def _reference(db: Path) -> list[tuple[str, str, str | None, datetime]]:
    with connect(db, read_only=True) as con:
        return con.execute(
            """SELECT i.item_id, l.label, r.decided_by, r.decided_at
               FROM reference r JOIN items i USING (item_key) JOIN labels l USING (label_key)
               ORDER BY ALL"""
        ).fetchall()


def _rows(text: str) -> list[tuple[str, str, str, bool]]:
    """``item annotator label[ unsure]; ...`` as sorted annotation tuples."""
    rows = []
    for entry in text.split(";"):
        item, annotator, label, *flag = entry.split()
        rows.append((item, annotator, label, flag == ["unsure"]))
    return sorted(rows)


def test_label_studio_sample(db: Path) -> None:
    summary = import_exports(db, "label-studio", [SAMPLES / "label_studio.json"])
    assert _annotations(db) == _rows(
        "101 1 safe; 101 2 safe; 101 3 safe; 102 1 weapons; 102 2 safe; 102 3 weapons;"
        "103 1 nudité; 103 2 nudité; 104 1 safe; 104 2 weapons; 104 3 safe;"
        "105 1 safe; 105 3 nudité; 106 1 weapons; 106 2 weapons; 106 3 weapons"
    )
    # ground_truth annotations are the reference, decided by their author at created_at
    assert [row[:3] for row in _reference(db)] == [
        ("101", "safe", "4"),
        ("102", "weapons", "4"),
        ("106", "weapons", "4"),
    ]
    assert _reference(db)[0][3] == datetime(2026, 3, 2, 12, 14, 5, 5004)
    (result,) = summary.files
    assert dict(result.rows) == {"annotations": 16, "reference": 3}
    assert dict(result.skipped) == {"cancelled": 2}
    assert result.n_dated == 0
    assert "label_studio.json (label-studio): 16 annotations, 3 reference decisions; " in str(
        summary
    )


def test_prodigy_sample(db: Path) -> None:
    summary = import_exports(db, "prodigy", [SAMPLES / "prodigy.jsonl"])
    rows = _annotations(db)
    assert len(rows) == 15
    assert {row[1] for row in rows} == {"ad_safety-alice", "ad_safety-bruno", "ad_safety-chloé"}
    # ignore is kept, as an unsure "ignore"; a rejected choice task keeps "reject"
    assert [row for row in rows if row[2] in ("ignore", "reject")] == [
        ("-887316574", "ad_safety-chloé", "reject", False),
        ("1561072909", "ad_safety-bruno", "ignore", True),
    ]
    assert ("-1180329347", "ad_safety-alice", "safe", False) in rows
    with connect(db, read_only=True) as con:
        first = con.execute("SELECT min(annotated_at) FROM annotations").fetchall()
    assert first == [(datetime(2026, 3, 2, 9, 0),)]  # _timestamp 1772442000
    assert summary.files[0].skipped == {} and _reference(db) == []


def test_toloka_sample(db: Path) -> None:
    summary = import_exports(db, "toloka", [SAMPLES / "toloka.tsv"])
    rows = _annotations(db)
    assert len(rows) == 12
    assert {row[1] for row in rows} == {"a1b2c3d4e5f60718", "0f9e8d7c6b5a4321", "77aa88bb99cc00dd"}
    assert "5e6f7a8b9c0d1e2f" not in {row[1] for row in rows}  # rejected assignment
    url = "https://cdn.example.org/ads/"
    assert _reference(db) == [
        (url + "ad_301.jpg", "safe", None, datetime(2026, 3, 3, 10, 2, 0, 512000)),
        (url + "ad_303.jpg", "nudité", None, datetime(2026, 3, 3, 10, 2, 14, 512000)),
    ]
    assert summary.files[0].skipped == {"rejected": 4}


def test_sagemaker_sample(db: Path) -> None:
    summary = import_exports(db, "sagemaker", SAGEMAKER)
    w = "private.eu-west-1."
    assert _annotations(db) == _rows(
        f"0 {w}4c1d2e3f5a6b7c8d safe; 0 {w}9a8b7c6d5e4f3a2b safe; 0 {w}0123456789abcdef weapons;"
        f"1 {w}4c1d2e3f5a6b7c8d nudité; 1 {w}9a8b7c6d5e4f3a2b nudité;"
        f"1 {w}0123456789abcdef nudité; 2 {w}4c1d2e3f5a6b7c8d weapons;"
        f"2 {w}9a8b7c6d5e4f3a2b safe; 2 {w}0123456789abcdef weapons"
    )
    assert summary.n_rows == 9 and len(summary.files) == 3


def test_crowd_csv_sample_with_gold_and_at(db: Path) -> None:
    summary = import_exports(
        db, "crowd-csv", [SAMPLES / "crowd_labels.csv"], gold=[SAMPLES / "crowd_gold.csv"], at=AT
    )
    assert len(_annotations(db)) == 15
    assert _reference(db) == [
        ("t1", "safe", None, AT),
        ("t2", "nudité", None, AT),
        ("t3", "weapons", None, AT),
    ]
    with connect(db, read_only=True) as con:
        stamps = con.execute("SELECT DISTINCT annotated_at FROM annotations").fetchall()
    assert stamps == [(AT,)]
    assert [f.n_dated for f in summary.files] == [15, 3]
    assert "15 rows without a timestamp dated 2026-03-01T12:00:00Z (--at)" in str(summary)


def test_missing_timestamps_default_to_file_time(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("task,worker,label\nt1,w1,a\n", encoding="utf-8")
    mtime = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC).timestamp()
    os.utime(path, (mtime, mtime))
    summary = import_exports(db, "crowd-csv", [path])
    expected = datetime(2026, 2, 3, 4, 5, 6)
    with connect(db, read_only=True) as con:
        assert con.execute("SELECT annotated_at FROM annotations").fetchall() == [(expected,)]
    assert "(file modification time)" in str(summary)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (SAMPLES / "label_studio.json", "label-studio"),
        (SAMPLES / "prodigy.jsonl", "prodigy"),
        (SAMPLES / "toloka.tsv", "toloka"),
        (SAGEMAKER[0], "sagemaker"),
        (SAMPLES / "crowd_labels.csv", "crowd-csv"),
    ],
)
def test_auto_detects_each_sample(path: Path, expected: str) -> None:
    assert detect_format(path) == expected


def test_auto_imports_like_explicit_formats(db: Path, tmp_path: Path) -> None:
    files = [SAMPLES / name for name in ("label_studio.json", "prodigy.jsonl", "toloka.tsv")]
    summary = import_exports(db, "auto", [*files, *SAGEMAKER])
    assert [f.kind for f in summary.files] == [
        "label-studio",
        "prodigy",
        "toloka",
        *["sagemaker"] * 3,
    ]
    other = tmp_path / "explicit.duckdb"
    for fmt, paths in (
        ("label-studio", files[:1]),
        ("prodigy", files[1:2]),
        ("toloka", files[2:]),
        ("sagemaker", SAGEMAKER),
    ):
        import_exports(other, fmt, paths)
    assert _annotations(db) == _annotations(other)
    assert _reference(db) == _reference(other)


def test_auto_rejects_unknown_content_and_points_gold_to_option(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"crowd_gold\.csv: .*pass it with --gold"):
        detect_format(SAMPLES / "crowd_gold.csv")
    other = tmp_path / "x.json"
    other.write_text('[{"foo": 1}]', encoding="utf-8")
    with pytest.raises(ValidationError, match=r"x\.json: JSON from an unknown tool .*foo"):
        detect_format(other)


def test_reimport_is_a_noop(db: Path) -> None:
    import_exports(db, "label-studio", [SAMPLES / "label_studio.json"])
    before = fingerprint(db)
    summary = import_exports(db, "auto", [SAMPLES / "label_studio.json"])
    assert summary.n_rows == 0 and "already imported" in str(summary)
    assert fingerprint(db) == before


LS_TASK = (
    '{{"id": {id}, "annotations": [{{"completed_by": {by}, "created_at": "2026-03-02T10:00:00Z",'
    ' "result": [{result}]}}]}}'
)
LS_CHOICE = '{{"from_name": "{name}", "type": "choices", "value": {{"choices": {choices}}}}}'


def _ls(*tasks: tuple[object, object, str]) -> str:
    return "[" + ",\n".join(LS_TASK.format(id=i, by=b, result=r) for i, b, r in tasks) + "]"


GOOD_LS = (1, 7, LS_CHOICE.format(name="category", choices='["safe"]'))
BAD_EXPORTS = [
    pytest.param(
        "label-studio",
        "ls.json",
        _ls(GOOD_LS, (2, '{"first_name": "Zoë"}', GOOD_LS[2])),
        r"^ls\.json record 2, field 'annotations\[\]\.completed_by': completed_by has neither",
        id="ls-completed-by-object",
    ),
    pytest.param(
        "label-studio",
        "ls.json",
        _ls(GOOD_LS, ("null", 7, GOOD_LS[2])),
        r"^ls\.json record 2, field 'id': empty item_id",
        id="ls-missing-task-id",
    ),
    pytest.param(
        "label-studio",
        "ls.json",
        _ls(GOOD_LS, (2, 7, LS_CHOICE.format(name="category", choices='["safe", "weapons"]'))),
        r"^ls\.json record 2, field 'annotations\[\]\.result\[\]\.value\.choices': several "
        r"choices.*got '\[\"safe\",\"weapons\"\]'",
        id="ls-multiple-choices",
    ),
    pytest.param(
        "label-studio",
        "ls.json",
        _ls(GOOD_LS, (2, 7, LS_CHOICE.format(name="quality", choices='["good"]'))),
        r"^ls\.json: several choices control \(from_name\)s \('category', 'quality'\); choose "
        r"one with --control NAME",
        id="ls-ambiguous-control",
    ),
    pytest.param(
        "label-studio",
        "ls.json",
        '[{"id": 1, "annotations": []},\n{"id": 2, "annotations": [}]',
        r"^ls\.json record 2: not valid JSON",
        id="ls-broken-json",
    ),
    pytest.param(
        "prodigy",
        "p.jsonl",
        '{"_input_hash": 1, "answer": "accept", "_annotator_id": "d-a", "_timestamp": 1772442000}\n'
        '{"_input_hash": 2, "answer": "maybe", "_annotator_id": "d-a", "_timestamp": 1772442000}\n',
        r"^p\.jsonl record 2, field 'answer': answer must be accept, reject or ignore "
        r"\(got 'maybe'\)",
        id="prodigy-bad-answer",
    ),
    pytest.param(
        "prodigy",
        "p.jsonl",
        '{"_input_hash": 1, "answer": "accept", "_annotator_id": "d-a", '
        '"_timestamp": 1772442000000}\n',
        r"^p\.jsonl record 1, field '_timestamp': not an ISO 8601 timestamp",
        id="prodigy-milliseconds",
    ),
    pytest.param(
        "prodigy",
        "p.jsonl",
        '{"_input_hash": 1, "answer": "accept", "_timestamp": 1772442000}\n',
        r"^p\.jsonl record 1, field '_annotator_id': empty annotator_id",
        id="prodigy-no-annotator",
    ),
    pytest.param(
        "toloka",
        "t.tsv",
        "INPUT:image\tOUTPUT:result\tASSIGNMENT:worker_id\tASSIGNMENT:status\tASSIGNMENT:submitted\n"
        "a.jpg\tsafe\tw1\tACCEPTED\t2026-03-03T10:02:00.512\n"
        "b.jpg\tsafe\t\tACCEPTED\t2026-03-03T10:02:00.512\n",
        r"^t\.tsv row 2, column 'ASSIGNMENT:worker_id': empty annotator_id",
        id="toloka-no-worker",
    ),
    pytest.param(
        "toloka",
        "t.tsv",
        "INPUT:image\tOUTPUT:result\tASSIGNMENT:worker_id\tASSIGNMENT:submitted\n"
        "a.jpg\tsafe\tw1\t2026-03-03T10:02:00.512\n",
        r"^t\.tsv row 0 \(header\): missing column\(s\) ASSIGNMENT:status",
        id="toloka-no-status-column",
    ),
    pytest.param(
        "sagemaker",
        "r.json",
        '{"answers": [{"workerId": "w1", "submissionTime": "2026-03-04T14:02:12.871Z", '
        '"answerContent": {"crowd-image-classifier": {"label": "safe"}}}, {"workerId": "w2", '
        '"submissionTime": "2026-03-04T14:03:12.871Z", "answerContent": '
        '{"crowd-image-classifier": {"label": ["safe", "weapons"]}}}]}',
        r"^r\.json record 1, field 'answers\[\]\.answerContent\.crowd-image-classifier\.label': "
        r"not one label",
        id="sagemaker-multi-label",
    ),
    pytest.param(
        "sagemaker",
        "r.json",
        '{"answers": [{"submissionTime": "2026-03-04T14:02:12.871Z", '
        '"answerContent": {"crowd-image-classifier": {"label": "safe"}}}]}',
        r"^r\.json record 1, field 'answers\[\]\.workerId': empty annotator_id",
        id="sagemaker-no-worker",
    ),
    pytest.param(
        "crowd-csv",
        "c.csv",
        "task,worker,label\nt1,w1,safe\nt2,w1,\n",
        r"^c\.csv row 2, column 'label': empty label",
        id="crowd-empty-label",
    ),
    pytest.param(
        "crowd-csv",
        "c.csv",
        "task,annotator,label\nt1,w1,safe\n",
        r"^c\.csv row 0 \(header\): missing column\(s\) worker",
        id="crowd-missing-column",
    ),
]


@pytest.mark.parametrize(("fmt", "name", "content", "message"), BAD_EXPORTS)
def test_malformed_export_is_rejected_and_changes_nothing(
    db: Path, tmp_path: Path, fmt: str, name: str, content: str, message: str
) -> None:
    import_exports(db, "crowd-csv", [SAMPLES / "crowd_labels.csv"], at=AT)
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    before = fingerprint(db)
    with pytest.raises(ValidationError, match=message) as caught:
        import_exports(db, fmt, [path])  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)
    assert fingerprint(db) == before


def test_bad_file_undoes_the_good_ones_of_the_call(db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "gold.csv"
    bad.write_text("task,label\nt1,\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"^gold\.csv row 1, column 'label': empty label"):
        import_exports(db, "auto", [SAMPLES / "label_studio.json"], gold=[bad])
    assert all(count == 0 for count, _ in fingerprint(db).values())


def test_control_picks_among_several(db: Path, tmp_path: Path) -> None:
    path = tmp_path / "ls.json"
    path.write_text(
        _ls(GOOD_LS, (2, 7, LS_CHOICE.format(name="quality", choices='["good"]'))),
        encoding="utf-8",
    )
    summary = import_exports(db, "label-studio", [path], control="quality")
    assert _annotations(db) == [("2", "7", "good", False)]
    assert summary.files[0].skipped == {"without a choice": 1}


def test_cli_imports_tool_exports_and_checks_options(db: Path, capsys) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(
            [
                "import",
                "--db",
                str(db),
                "--format",
                "crowd-csv",
                str(SAMPLES / "crowd_labels.csv"),
                "--gold",
                str(SAMPLES / "crowd_gold.csv"),
                "--at",
                "2026-03-01T12:00:00Z",
            ]
        )
    assert code == 0 and out.getvalue().startswith("imported 2 file(s): 18 rows")
    assert main(["import", "--db", str(db), "--kind", "annotations", "--at", "2026-03-01"]) == 2
    assert "--at go with --format" in capsys.readouterr().err
