"""`cubes` on the embedded engine: the contract's tables from a Parquet lake equal an import's."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from qualitylib import demo
from qualitylib.check import check_store
from qualitylib.cli import main
from qualitylib.engines import build_cubes
from qualitylib.engines.contract import import_kind
from qualitylib.engines.lake import demo_tables, write_lake
from qualitylib.errors import QualitylibError
from qualitylib.export import EXPORTS
from qualitylib.ingest import import_files
from qualitylib.ingest.undo import remove_import
from qualitylib.log_scope import (
    LOG_SECTIONS_NOTE,
    OMITTED,
    SERVED_EXPORTS,
    log_omitted,
)
from qualitylib.metrics.drift import DriftRule, drift_alerts
from qualitylib.metrics.filters import Filters
from qualitylib.store import connect

N_ANNOTATIONS = 3_000
SEED = 3
APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
# Exports compared between a cubes store and an imported one (every export the tables hold),
# without the provenance columns that name the import (a lake folder against a file).
COMPARED = tuple(EXPORTS)
PROVENANCE = ["source_name", "imported_at", "imported_by", "import_id"]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo as a Parquet lake (its model and box project too), and the store
    `qualitylib import` builds from the same data."""
    folder = tmp_path_factory.mktemp("lake")
    data = demo.generate(seed=SEED, n_annotations=N_ANNOTATIONS)
    # Label keys follow rank in a lake (Parquet rows have no order), file rows in an import;
    # the label file in rank order makes them the same keys, so key-order ties (the review
    # queue's majority label) break alike.
    data = replace(data, labels=data.labels.sort_values("rank", ignore_index=True))
    write_lake(data, folder / "lake", seed=SEED)
    imported = folder / "imported.duckdb"
    for kind, frames in demo_tables(data, SEED).items():
        paths = [folder / "files" / f"{kind}-{number}.parquet" for number in range(len(frames))]
        paths[0].parent.mkdir(exist_ok=True)
        for frame, path in zip(frames, paths, strict=True):
            frame.to_parquet(path, index=False)
        import_files(imported, import_kind(kind), paths)
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


# The model and box tables by id (keys and box ids may differ from an import's; nothing else).
_ITEM = "JOIN items i USING (item_key)"
_MODEL = "JOIN models m USING (model_key)"
BY_ID = {
    "models": "SELECT model_id, model_version FROM models",
    "predictions": f"""SELECT i.item_id, m.model_id, m.model_version, l.label, t.score,
        t.predicted_at FROM predictions t {_ITEM} {_MODEL} JOIN labels l USING (label_key)""",
    "prediction_scores": f"""SELECT i.item_id, m.model_id, m.model_version, t.predicted_at,
        l.label, t.score FROM prediction_scores t {_ITEM} {_MODEL}
        JOIN labels l USING (label_key)""",
    "fixes": f"""SELECT i.item_id, m.model_id, m.model_version, ml.label, fl.label, t.fixed_by,
        t.fixed_at FROM fixes t {_ITEM} {_MODEL}
        JOIN labels ml ON ml.label_key = t.model_label_key
        JOIN labels fl ON fl.label_key = t.fixed_label_key""",
    "box_reference": f"""SELECT i.item_id, l.label, t.* EXCLUDE (box_id, item_key, label_key,
        import_id) FROM box_reference t {_ITEM} LEFT JOIN labels l USING (label_key)""",
    "boxes": f"""SELECT i.item_id, a.annotator_id, l.label, t.* EXCLUDE (box_id, item_key,
        annotator_key, label_key, import_id) FROM boxes t {_ITEM}
        JOIN annotators a USING (annotator_key) LEFT JOIN labels l USING (label_key)""",
    "box_sets": f"""SELECT i.item_id, a.annotator_id, t.* EXCLUDE (item_key, annotator_key)
        FROM box_sets t {_ITEM} JOIN annotators a USING (annotator_key)""",
    "box_candidates": f"""SELECT i.item_id, a.annotator_id, t.annotated_at, l.label,
        r.label, t.iou FROM box_candidates t {_ITEM} JOIN annotators a USING (annotator_key)
        JOIN labels l USING (label_key) JOIN labels r ON r.label_key = t.ref_label_key""",
    "box_pairs": f"""SELECT i.item_id, a.annotator_id, b.annotator_id, la.label, lb.label, t.iou
        FROM box_pairs t {_ITEM} JOIN annotators a ON a.annotator_key = t.key_a
        JOIN annotators b ON b.annotator_key = t.key_b
        JOIN labels la ON la.label_key = t.label_a JOIN labels lb ON lb.label_key = t.label_b""",
}
# The exports of the model and box tables, each with rows to compare (see test_engines_spark).
MODEL_AND_BOX_EXPORTS = tuple(
    name
    for name in EXPORTS
    if name.startswith(("model-", "box-")) or name in ("consensus-boxes", "label-needs")
)


def test_embedded_cubes_model_and_box_rows_equal_an_import(
    lake: tuple[Path, Path], tmp_path: Path
) -> None:
    source, imported = lake
    out = tmp_path / "cubes.duckdb"
    summary = build_cubes(source, out)
    assert summary.rows["boxes"] == 4_611 and summary.rows["fixes"] > 0
    with connect(out, read_only=True) as con:
        con.execute(f"ATTACH '{imported}' AS imported (READ_ONLY)")
        for table, sql in BY_ID.items():
            n_rows, differ = con.execute(
                f"""WITH c AS ({sql}), x AS ({
                    sql.replace(" FROM ", " FROM imported.").replace(" JOIN ", " JOIN imported.")
                })
                SELECT (SELECT count(*) FROM c), count(*) FROM (
                    (SELECT * FROM c EXCEPT ALL SELECT * FROM x)
                    UNION ALL (SELECT * FROM x EXCEPT ALL SELECT * FROM c))"""
            ).fetchone()
            assert n_rows > 0 and differ == 0, (table, n_rows, differ)
        # a folder is one import, of the kind `qualitylib import` records
        assert con.execute(
            "SELECT kind, n_rows FROM imports WHERE kind IN ('reference-boxes', 'predictions')"
            " ORDER BY kind"
        ).fetchall() == [("predictions", 4_246), ("reference-boxes", 408)]
    # the exports compared by test_embedded_cubes_equal_an_import are not empty
    got = export_tables(out)
    assert all(len(got[name]) > 0 for name in MODEL_AND_BOX_EXPORTS), MODEL_AND_BOX_EXPORTS


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


AT = pd.Timestamp("2026-09-01T10:00:00Z")
# A small lake beside its label log: two box submissions, the committee's boxes, a prediction
# with its distribution and a fix.
SMALL = {
    "items": {"item_id": ["b1", "b2"], "width": [10, 10], "height": [10, 10]},
    "annotations": {
        "item_id": ["i1"],
        "annotator_id": ["x"],
        "label": ["safe"],
        "annotated_at": [AT],
    },
    "boxes": {
        "item_id": ["b1", "b1", "b2"],
        "annotator_id": ["x", "x", "y"],
        "label": ["car", "dog", None],
        "x_min": [1.0, 5.0, None],
        "y_min": [1.0, 5.0, None],
        "x_max": [4.0, 9.0, None],
        "y_max": [4.0, 9.0, None],
        "annotated_at": [AT, AT, AT],
    },
    "reference_boxes": {
        "item_id": ["b1"],
        "label": ["car"],
        "x_min": [1.0],
        "y_min": [1.0],
        "x_max": [4.5],
        "y_max": [4.0],
        "decided_at": [AT],
    },
    "predictions": {
        "item_id": ["i1"],
        "model_id": ["m"],
        "label": ["safe"],
        "predicted_at": [AT],
        "score_safe": [0.75],
        "score_nudity": [0.25],
    },
    "fixes": {
        "item_id": ["i1"],
        "model_id": ["m"],
        "model_label": ["safe"],
        "fixed_label": ["nudity"],
        "fixed_at": [AT],
    },
}


def small_lake(folder: Path, **changes: dict[str, list[object]]) -> Path:
    """:data:`SMALL` under ``folder``, each table's columns updated by ``changes``."""
    for kind, columns in SMALL.items():
        (folder / kind).mkdir(parents=True)
        # pyarrow, not pandas: a NaN stays NaN (pandas would write it as null)
        table = pa.Table.from_pydict(columns | changes.get(kind, {}))
        pq.write_table(table, folder / kind / "part-0.parquet")
    return folder


def test_small_lake_keys_boxes_predictions_and_fixes(tmp_path: Path) -> None:
    out = tmp_path / "cubes.duckdb"
    summary = build_cubes(small_lake(tmp_path / "lake"), out)
    assert summary.rows["boxes"] == 3 and summary.rows["box_candidates"] == 1
    with connect(out, read_only=True) as con:
        # without a score cell, the prediction takes its label's probability
        assert con.execute(
            """SELECT m.model_id, m.model_version, p.score, s.n FROM predictions p
               JOIN models m USING (model_key)
               CROSS JOIN (SELECT count(*) AS n FROM prediction_scores) s"""
        ).fetchall() == [("m", "", 0.75, 2)]
        assert con.execute("SELECT iou FROM box_candidates").fetchall() == [(9 / 10.5,)]
        assert con.execute("SELECT n_boxes, n_ref FROM box_sets ORDER BY item_key").fetchall() == [
            (2, 1),
            (0, None),
        ]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        (
            {"boxes": {"x_max": [4.0, 5.0, None]}},
            r"lake/boxes: column 'x_max' is not greater than 'x_min' in 1 rows",
        ),
        (
            {"boxes": {"y_min": [1.0, None, None]}},
            r"lake/boxes: a box without y_min in 1 rows",
        ),
        (
            {"boxes": {"item_id": ["b1", "b1", "b1"], "annotator_id": ["x", "x", "x"]}},
            r"lake/boxes: an empty row \('nothing here'\) is beside boxes of the same "
            r"\(item_id, annotator_id, annotated_at\) in 1 rows",
        ),
        (
            {"reference_boxes": {"x_min": [float("nan")]}},
            r"lake/reference_boxes: column 'x_min' is negative, NaN or infinite in 1 rows",
        ),
        (
            {"items": {"width": [6, 10]}},
            r"lake/boxes: a box reaches past its image's width or height \(of the items folder\) "
            r"by more than 2 px in 1 rows",
        ),
        (
            {"boxes": {"y_max": [4.0, float("inf"), None]}},
            r"lake/boxes: column 'y_max' is negative, NaN or infinite in 1 rows",
        ),
        (
            {"predictions": {"score_nudity": [0.5]}},
            r"lake/predictions: the score_<label> cells do not sum to 1 \(within 0.01\) in 1 rows",
        ),
        (
            {"predictions": {"score": [1.5]}},
            r"lake/predictions: column 'score' is not a probability between 0 and 1 in 1 rows",
        ),
        (
            {"predictions": {"score_nudty": [0.0]}},
            r"lake/predictions: column 'score_nudty' names no label of the lake",
        ),
        (
            {"fixes": {"fixed_label": [None]}},
            r"lake/fixes: column 'fixed_label' is empty in 1 rows",
        ),
        (
            {
                "fixes": {
                    "item_id": ["i1", "i1"],
                    "model_id": ["m", "m"],
                    "model_label": ["safe"] * 2,
                    "fixed_label": ["nudity"] * 2,
                    "fixed_at": [AT, AT],
                }
            },
            r"lake/fixes: rows repeat \(item_id, model_id, model_version, fixed_at\) in 1 rows",
        ),
    ],
)
def test_bad_box_prediction_and_fix_folders_are_named_and_nothing_written(
    tmp_path: Path, changes: dict[str, dict[str, list[object]]], error: str
) -> None:
    out = tmp_path / "cubes.duckdb"
    with pytest.raises(QualitylibError, match=error):
        build_cubes(small_lake(tmp_path / "lake", **changes), out)
    assert not list(tmp_path.glob("cubes.duckdb*"))


def test_no_log_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(QualitylibError, match="annotations: no such folder"):
        build_cubes(tmp_path, tmp_path / "cubes.duckdb")


# Selections the served exports are compared under: everything, a date window (statuses as of
# its end) and one team's production labels under policy v2.
SELECTIONS = (
    Filters(),
    Filters(since=date(2026, 9, 14), until=date(2026, 10, 20)),
    Filters(teams=("team-a",), phases=("production",), policy_versions=("v2",)),
)


@pytest.fixture(scope="module")
def no_log(lake: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The lake as a store with the log and as one without (`cubes --no-log`)."""
    source, _ = lake
    folder = tmp_path_factory.mktemp("no-log")
    full, thin = folder / "full.duckdb", folder / "thin.duckdb"
    build_cubes(source, full)
    summary = build_cubes(source, thin, log=False)
    assert summary.rows["annotations"] == N_ANNOTATIONS and "votes" not in summary.rows
    assert "it serves the exports annotator-summary, audit" in str(summary)
    return full, thin


def test_no_log_store_leaves_the_log_out_and_checks_clean(no_log: tuple[Path, Path]) -> None:
    full, thin = no_log
    with connect(thin, read_only=True) as con:
        assert log_omitted(con)
        assert [con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in OMITTED] == [
            0
        ] * len(OMITTED)
        n_kept = con.execute(
            "SELECT (SELECT count(*) FROM scored) + (SELECT count(*) FROM contested)"
        )
        assert 0 < n_kept.fetchone()[0] < N_ANNOTATIONS / 5
        # only the items the kept tables name (the item dimension is log-sized too)
        n_items, n_named = con.execute(
            """SELECT (SELECT count(*) FROM items), count(*) FROM (
                   SELECT item_key FROM reference UNION SELECT item_key FROM scored
                   UNION SELECT item_key FROM contested UNION SELECT item_key FROM fixes
                   UNION SELECT item_key FROM boxes UNION SELECT item_key FROM box_reference)"""
        ).fetchone()
    with connect(full, read_only=True) as con:
        assert not log_omitted(con)
        # (the box project's 448 images are all kept: each has boxes)
        assert n_items == n_named < con.execute("SELECT count(*) FROM items").fetchone()[0] / 2
    findings = check_store(thin)
    assert all(finding.ok for finding in findings), findings
    assert "left out by `cubes --no-log` (3,000 labels in the lake)" in str(findings[1])


@pytest.mark.parametrize("name", sorted(SERVED_EXPORTS))
def test_no_log_store_serves_its_exports_as_the_full_store(
    no_log: tuple[Path, Path], name: str
) -> None:
    full, thin = no_log
    assert name in EXPORTS
    n_rows = 0
    for filters in SELECTIONS:
        with connect(full, read_only=True) as con:
            want = EXPORTS[name](con, filters).drop(columns=PROVENANCE, errors="ignore")
        with connect(thin, read_only=True) as con:
            got = EXPORTS[name](con, filters).drop(columns=PROVENANCE, errors="ignore")
        pd.testing.assert_frame_equal(got, want, obj=f"{name} {filters}")
        n_rows += len(want)
    assert n_rows > 0 or name == "drift-alerts"  # no alert in 3,000 labels: see the next test


def test_no_log_store_serves_drift_alerts(no_log: tuple[Path, Path]) -> None:
    """3,000 labels raise no alert under the default rule: a sensitive one raises some."""
    sensitive = DriftRule(h=0.5, team_h=0.5, burn_in_weeks=1, min_errors=1, odds_ratio=2.0)
    frames = []
    for db in no_log:
        with connect(db, read_only=True) as con:
            frames.append(drift_alerts(con, Filters(), sensitive))
    assert len(frames[0]) > 0
    pd.testing.assert_frame_equal(frames[1], frames[0])


def test_no_log_store_says_what_needs_the_log(
    no_log: tuple[Path, Path], tmp_path: Path, capsys
) -> None:
    full, thin = no_log
    for db in (full, thin):  # a filter's values are known without the log too
        served = ["export", "--db", str(db), "review-queue", "--policy-version", "v2"]
        assert main([*served, "--out", str(tmp_path / f"{db.stem}.csv")]) == 0
    assert (tmp_path / "thin.csv").read_text() == (tmp_path / "full.csv").read_text()
    needs_log = "needs the label log, which this store leaves out (built by `qualitylib cubes"
    for argv, what in (
        (["export", "--db", str(thin), "agreement"], "export agreement"),
        (["export", "--db", str(thin), "skill"], "export skill"),  # Dawid-Skene over the log
        (["export", "--db", str(thin), "annotations"], "export annotations"),
    ):
        capsys.readouterr()
        assert main(argv) == 1, argv
        error = capsys.readouterr().err
        assert error.startswith(f"error: {what} {needs_log}") and "review-queue" in error


def test_no_log_store_refuses_imports_and_changes_nothing(
    no_log: tuple[Path, Path], tmp_path: Path
) -> None:
    _, thin = no_log
    copy = tmp_path / "thin.duckdb"
    copy.write_bytes(thin.read_bytes())
    labels = tmp_path / "labels.csv"
    labels.write_text("item_id,annotator_id,label,annotated_at\ni1,a1,safe,2026-09-01T10:00:00Z\n")
    with pytest.raises(QualitylibError, match="^an import needs the label log"):
        import_files(copy, "annotations", [labels])
    with pytest.raises(QualitylibError, match="^removing an import needs the label log"):
        remove_import(copy, 1)
    assert copy.read_bytes() == thin.read_bytes()


def test_dashboard_command_serves_a_no_log_store(
    no_log: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The command starts the app (tests/test_no_log_pages.py: what its pages show), saying
    which sections need the log."""
    _, thin = no_log
    started = []
    monkeypatch.setattr("qualitylib.cli._serve", lambda command, env: started.append(env) or 0)
    monkeypatch.setattr("qualitylib.cli._warm_dashboard", lambda url, open_browser: None)
    assert main(["dashboard", "--db", str(thin), "--headless"]) == 0
    assert started[0]["QUALITYLIB_DB"] == str(thin.resolve())
    assert f"note: {LOG_SECTIONS_NOTE}" in capsys.readouterr().err
