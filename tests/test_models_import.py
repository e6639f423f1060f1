"""Model predictions import as a rater of their own kind: validated, idempotent, kept apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import fingerprint

from qualitylib.check import check_store
from qualitylib.errors import ValidationError
from qualitylib.ingest import import_files
from qualitylib.store import connect

LABELS = "label,is_positive\nsafe,false\nnudity,true\nweapons,true"
REFERENCE = "item_id,label,decided_at\nimg-1,safe,2026-08-01\nimg-2,nudity,2026-08-01"
ANNOTATIONS = """item_id,annotator_id,label,annotated_at
img-1,ann,safe,2026-09-01
img-2,ann,safe,2026-09-01
img-2,bob,nudity,2026-09-01"""
PREDICTIONS = """item_id,model_id,label,predicted_at,score,model_version
img-1,clf,safe,2026-09-01T10:00:00Z,0.9,v1
img-2,clf,nudity,2026-09-01T10:00:00Z,0.7,v1
img-2,clf,safe,2026-09-01T10:00:00Z,0.6,v2
img-3,clf,weapons,2026-09-02T10:00:00Z,,"""


TEAM = ("labels", "annotators", "annotations", "reference", "scored", "votes", "pairs", "contested")


def _team(db: Path) -> dict[str, tuple[int, int]]:
    """Fingerprints of the team's tables, which a model's predictions must never touch."""
    return {table: value for table, value in fingerprint(db).items() if table in TEAM}


def test_predictions_are_stored_per_model_version_apart_from_the_team(build_store, write) -> None:
    db = build_store(LABELS, REFERENCE, ANNOTATIONS)
    team = _team(db)
    summary = import_files(db, "predictions", [write("p.csv", PREDICTIONS)])
    assert summary.n_rows == 4 and summary.n_new_items == 1 and summary.n_new_annotators == 0
    assert _team(db) == team
    with connect(db, read_only=True) as con:
        models = con.execute("SELECT model_id, model_version FROM models ORDER BY ALL").fetchall()
        rows = con.execute(
            """SELECT i.item_id, m.model_version, l.label, p.score FROM predictions p
               JOIN items i USING (item_key) JOIN models m USING (model_key)
               JOIN labels l USING (label_key) ORDER BY ALL"""
        ).fetchall()
        people = con.execute("SELECT annotator_id FROM annotators ORDER BY 1").fetchall()
    assert models == [("clf", ""), ("clf", "v1"), ("clf", "v2")]
    assert rows == [
        ("img-1", "v1", "safe", 0.9),
        ("img-2", "v1", "nudity", 0.7),
        ("img-2", "v2", "safe", 0.6),
        ("img-3", "", "weapons", None),
    ]
    assert people == [("ann",), ("bob",)]  # a model is never an annotator
    assert all(finding.ok for finding in check_store(db))


def test_reimport_is_a_no_op_and_a_stored_prediction_is_refused(build_store, write) -> None:
    db = build_store(LABELS, REFERENCE, ANNOTATIONS)
    import_files(db, "predictions", [write("p.csv", PREDICTIONS)])
    before = fingerprint(db)
    again = import_files(db, "predictions", [write("p.csv", PREDICTIONS)])
    assert again.files[0].skipped_as is not None
    assert fingerprint(db) == before
    clash = write(
        "q.csv",
        """item_id,model_id,label,predicted_at,model_version
        img-9,clf,safe,2026-09-03,v1
        img-2,clf,safe,2026-09-01T10:00:00Z,v1""",
    )
    with pytest.raises(ValidationError, match=r"q.csv row 2, column 'predicted_at': already in"):
        import_files(db, "predictions", [clash])
    assert fingerprint(db) == before


def test_check_counts_prediction_rows_against_their_import(build_store, write) -> None:
    db = build_store(LABELS, REFERENCE, ANNOTATIONS)
    import_files(db, "predictions", [write("p.csv", PREDICTIONS)])
    with connect(db) as con:
        con.execute("DELETE FROM predictions WHERE score = 0.6")
        con.execute("UPDATE predictions SET model_key = 99 WHERE score = 0.9")
    failed = {finding.name for finding in check_store(db) if not finding.ok}
    assert failed == {"imports hold their rows", "predictions -> models"}


DISTRIBUTION = """item_id,model_id,label,predicted_at,score,score_safe,score_nudity,score_weapons
img-1,clf,safe,2026-09-01T10:00:00Z,0.9,0.9,0.06,0.04
img-2,clf,nudity,2026-09-01T10:00:00Z,,0.25,0.7,0.05
img-3,clf,weapons,2026-09-01T10:00:00Z,0.5,,,"""


def test_score_columns_store_the_whole_distribution(build_store, write) -> None:
    db = build_store(LABELS, REFERENCE, ANNOTATIONS)
    summary = import_files(db, "predictions", [write("d.csv", DISTRIBUTION)])
    assert summary.n_rows == 3  # predictions, not their score cells
    with connect(db, read_only=True) as con:
        scores = con.execute(
            """SELECT i.item_id, l.label, s.score FROM prediction_scores s
               JOIN items i USING (item_key) JOIN labels l USING (label_key) ORDER BY ALL"""
        ).fetchall()
        predicted = con.execute(
            "SELECT i.item_id, p.score FROM predictions p JOIN items i USING (item_key) ORDER BY 1"
        ).fetchall()
    assert scores == [
        ("img-1", "nudity", 0.06),
        ("img-1", "safe", 0.9),
        ("img-1", "weapons", 0.04),
        ("img-2", "nudity", 0.7),
        ("img-2", "safe", 0.25),
        ("img-2", "weapons", 0.05),
    ]
    # without a score cell, the predicted label's cell is its score
    assert predicted == [("img-1", 0.9), ("img-2", 0.7), ("img-3", 0.5)]
    assert all(finding.ok for finding in check_store(db))


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "img-1,clf,safe,2026-09-01,0.9,0.9,1.2,-0.1",
            r"d.csv row 1, column 'score_nudity': not a probability between 0 and 1 \(got '1.2'\)",
        ),
        (
            "img-1,clf,safe,2026-09-01,0.9,0.9,0.05,",
            r"d.csv row 1, column 'score_weapons': empty while other score_<label> cells of the "
            "row are given",
        ),
        (
            "img-1,clf,safe,2026-09-01,0.9,0.9,0.2,0.1",
            r"d.csv row 1, column 'score_safe': the score_<label> cells of the row \(score_safe, "
            r"score_nudity, score_weapons\) must sum to 1 \(within 0.01\) \(got '0.9'\)",
        ),
        (
            "img-1,clf,safe,2026-09-01,0.8,0.9,0.06,0.04",
            r"d.csv row 1, column 'score': differs from the score_<label> cell of the predicted "
            r"label .* \(got '0.8'\)",
        ),
    ],
)
def test_a_bad_distribution_is_refused_naming_row_and_column(
    build_store, write, row: str, message: str
) -> None:
    db = build_store(LABELS, REFERENCE, ANNOTATIONS)
    before = fingerprint(db)
    header = "item_id,model_id,label,predicted_at,score,score_safe,score_nudity,score_weapons"
    with pytest.raises(ValidationError, match=message):
        import_files(db, "predictions", [write("d.csv", f"{header}\n{row}")])
    assert fingerprint(db) == before


def test_a_score_column_must_name_a_known_label(build_store, write) -> None:
    db = build_store(LABELS, REFERENCE, ANNOTATIONS)
    bad = write(
        "d.csv",
        """item_id,model_id,label,predicted_at,score_safe,score_nudty
        img-1,clf,safe,2026-09-01,0.9,0.1""",
    )
    with pytest.raises(
        ValidationError,
        match=r"d.csv row 0 \(header\), column 'score_nudty': no label 'nudty' in the imported "
        r"label set \(nudity, safe, weapons\)",
    ):
        import_files(db, "predictions", [bad])


def test_without_a_label_set_score_labels_come_from_the_store_or_the_file(db, write) -> None:
    ok = write(
        "ok.csv",
        """item_id,model_id,label,predicted_at,score_safe,score_spam
        img-1,clf,spam,2026-09-01,0.2,0.8
        img-2,clf,safe,2026-09-01,0.7,0.3""",
    )
    import_files(db, "predictions", [ok])
    bad = write(
        "bad.csv",
        """item_id,model_id,label,predicted_at,score_safe,score_ham
        img-3,clf,safe,2026-09-01,0.6,0.4""",
    )
    with pytest.raises(ValidationError, match=r"no label 'ham' in the store or this file's"):
        import_files(db, "predictions", [bad])


def test_check_finds_a_distribution_without_its_prediction(build_store, write) -> None:
    db = build_store(LABELS, REFERENCE, ANNOTATIONS)
    import_files(db, "predictions", [write("d.csv", DISTRIBUTION)])
    with connect(db) as con:
        con.execute("DELETE FROM predictions WHERE score = 0.7")
    failed = {finding.name for finding in check_store(db) if not finding.ok}
    assert failed == {"imports hold their rows", "prediction_scores -> predictions"}


def test_removing_a_predictions_import_removes_its_distribution(build_store, write) -> None:
    from qualitylib.ingest.undo import remove_import

    db = build_store(LABELS, REFERENCE, ANNOTATIONS)
    before = fingerprint(db)
    import_files(db, "predictions", [write("d.csv", DISTRIBUTION)])
    with connect(db, read_only=True) as con:
        import_id = con.execute("SELECT max(import_id) FROM imports").fetchall()[0][0]
    assert remove_import(db, import_id) == 3
    after = fingerprint(db)
    assert after["prediction_scores"] == (0, 0) and after["predictions"] == (0, 0)
    assert after["items"] == before["items"]  # img-3 came with the predictions only


def test_predictions_and_fixes_export_as_stored_and_import_back_unchanged(
    build_store, write, tmp_path: Path
) -> None:
    from qualitylib.export import write_canonical

    db = build_store(LABELS, REFERENCE, ANNOTATIONS)
    fixes = """item_id,model_id,model_label,fixed_label,fixed_at,model_version,fixed_by
    img-2,clf,nudity,safe,2026-09-02T08:00:00Z,,carol"""
    import_files(db, "predictions", [write("d.csv", DISTRIBUTION), write("p.csv", PREDICTIONS)])
    import_files(db, "fixes", [write("f.csv", fixes)])
    with connect(db, read_only=True) as con:
        write_canonical(con, "predictions", tmp_path / "back.csv")
        write_canonical(con, "fixes", tmp_path / "fixes-back.csv")
    header, first = (tmp_path / "back.csv").read_text().splitlines()[:2]
    assert header.replace('"', "") == (
        "item_id,model_id,label,predicted_at,score,model_version,"
        "score_safe,score_nudity,score_weapons"
    )
    assert first == '"img-1","clf","safe","2026-09-01T10:00:00Z",0.9,,0.9,0.06,0.04'
    again = tmp_path / "again.duckdb"
    import_files(again, "labels", [write("labels.csv", LABELS)])
    import_files(again, "predictions", [tmp_path / "back.csv"])
    import_files(again, "fixes", [tmp_path / "fixes-back.csv"])
    tables = ("predictions", "prediction_scores", "fixes")
    with connect(db, read_only=True) as con, connect(again, read_only=True) as other:
        for table in tables:
            query = f"""SELECT i.item_id, m.model_id, m.model_version, t.* EXCLUDE
                            (item_key, model_key, import_id)
                        FROM {table} t JOIN items i USING (item_key) JOIN models m
                        USING (model_key) ORDER BY ALL"""
            assert con.execute(query).fetchall() == other.execute(query).fetchall(), table
