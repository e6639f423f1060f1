"""The store's schema migrates forward, and the reference scores follow every import."""

from __future__ import annotations

from pathlib import Path

import duckdb

from qualitylib.check import check_store
from qualitylib.ingest import import_files
from qualitylib.store import MIGRATIONS, SCHEMA_VERSION, connect, schema_version


def _scores(db: Path) -> list[tuple[str, str, str]]:
    with connect(db, read_only=True) as con:
        return con.execute(
            """SELECT a.annotator_id, strftime(s.annotated_at, '%m-%d'), l.label
               FROM scored s JOIN annotators a USING (annotator_key)
               JOIN labels l ON l.label_key = s.ref_label_key ORDER BY 1, 2"""
        ).fetchall()


def test_version_1_store_migrates_and_scores_its_history(db: Path, write) -> None:
    con = duckdb.connect(str(db))
    for statement in MIGRATIONS[0]:
        con.execute(statement)
    con.execute("INSERT INTO schema_version (version) VALUES (1)")
    con.execute("INSERT INTO labels VALUES (1, 'safe', false, 0, NULL, true)")
    con.execute("INSERT INTO labels VALUES (2, 'weapons', true, 1, NULL, true)")
    con.execute("INSERT INTO items VALUES (1, 'toy', NULL, NULL), (2, 'other', NULL, NULL)")
    con.execute("INSERT INTO annotators VALUES (1, 'ann', NULL, NULL, NULL, NULL)")
    con.execute(
        "INSERT INTO annotations VALUES (1, 1, 2, NULL, false, '2026-09-01', 'v1', "
        "'production', NULL, 2), (2, 1, 1, NULL, false, '2026-09-01', 'v1', 'production', "
        "NULL, 2)"
    )
    con.execute("INSERT INTO reference VALUES (1, 2, NULL, 'v1', '2026-08-01', NULL, 1)")
    con.execute(
        "INSERT INTO imports VALUES (1, 'reference', 'r.csv', 'x', 1, 0, 0, NULL, "
        "'2026-09-01', 'ok'), (2, 'annotations', 'a.csv', 'y', 2, 0, 0, NULL, '2026-09-01', 'ok')"
    )
    con.close()
    with connect(db) as writer:
        assert schema_version(writer) == SCHEMA_VERSION == 9
    assert _scores(db) == [("ann", "09-01", "weapons")]
    assert all(finding.ok for finding in check_store(db))


def test_a_later_decision_rescores_only_later_labels(db: Path, write) -> None:
    import_files(
        db,
        "annotations",
        [
            write(
                "a.csv",
                """item_id,annotator_id,label,annotated_at
                toy,ann,weapons,2026-09-01
                toy,ann,weapons,2026-10-20""",
            )
        ],
    )
    assert _scores(db) == []  # no reference yet: nothing to score
    import_files(
        db,
        "reference",
        [write("r1.csv", "item_id,label,decided_at\ntoy,weapons,2026-08-01")],
    )
    assert _scores(db) == [("ann", "09-01", "weapons"), ("ann", "10-20", "weapons")]
    import_files(
        db,
        "reference",
        [write("r2.csv", "item_id,label,decided_at,policy_version\ntoy,safe,2026-10-12,v2")],
    )
    assert _scores(db) == [("ann", "09-01", "weapons"), ("ann", "10-20", "safe")]
    assert all(finding.ok for finding in check_store(db))


def test_votes_hold_each_annotators_latest_answer(db: Path, write) -> None:
    import_files(
        db,
        "annotations",
        [
            write(
                "a.csv",
                """item_id,annotator_id,label,annotated_at
                img,ann,safe,2026-09-01
                img,bob,nudity,2026-09-01""",
            )
        ],
    )
    import_files(
        db,
        "annotations",
        [write("b.csv", "item_id,annotator_id,label,annotated_at\nimg,ann,nudity,2026-09-03")],
    )
    with connect(db, read_only=True) as con:
        votes = con.execute(
            """SELECT a.annotator_id, l.label, v.n_labels FROM votes v
               JOIN annotators a USING (annotator_key) JOIN labels l USING (label_key)
               ORDER BY 1"""
        ).fetchall()
    assert votes == [("ann", "nudity", 2), ("bob", "nudity", 1)]
    assert all(finding.ok for finding in check_store(db))
