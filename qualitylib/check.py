"""Integrity check of a store: schema version, keys, and the log against the imports audit.

Run after a crash or before trusting a copied file: every row of the log must join its item,
annotator and label, ids must be unique, and every import must hold exactly the rows it says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from qualitylib.log_scope import MARKER, OMITTED, log_omitted
from qualitylib.store import (
    BOX_CANDIDATES_SQL,
    BOX_PAIRS_SQL,
    BOX_SETS_SQL,
    CONTESTED_SQL,
    PAIRS_SQL,
    SCHEMA_VERSION,
    connect,
    scalar,
    schema_version,
)

DIMENSION_KINDS = ("labels", "items", "annotators")


def _differences(table: str, derivation: str) -> str:
    """SQL counting rows of ``table`` that its ``derivation`` lacks, and the other way round."""
    return f"""SELECT count(*) FROM (
        (SELECT * FROM {table} EXCEPT ALL SELECT * FROM ({derivation}))
        UNION ALL
        (SELECT * FROM ({derivation}) EXCEPT ALL SELECT * FROM {table}))"""


# (name, SQL counting offending rows, what an offence means)
RULES: tuple[tuple[str, str, str], ...] = (
    (
        "annotations -> items",
        "SELECT count(*) FROM annotations x ANTI JOIN items i USING (item_key)",
        "annotations whose item is missing",
    ),
    (
        "annotations -> annotators",
        "SELECT count(*) FROM annotations x ANTI JOIN annotators a USING (annotator_key)",
        "annotations whose annotator is missing",
    ),
    (
        "annotations -> labels",
        "SELECT count(*) FROM annotations x ANTI JOIN labels l USING (label_key)",
        "annotations whose label is missing",
    ),
    (
        "reference -> items",
        "SELECT count(*) FROM reference r ANTI JOIN items i USING (item_key)",
        "reference decisions whose item is missing",
    ),
    (
        "reference -> labels",
        "SELECT count(*) FROM reference r ANTI JOIN labels l USING (label_key)",
        "reference decisions whose label is missing",
    ),
    (
        "predictions -> items",
        "SELECT count(*) FROM predictions p ANTI JOIN items i USING (item_key)",
        "model predictions whose item is missing",
    ),
    (
        "predictions -> models",
        "SELECT count(*) FROM predictions p ANTI JOIN models m USING (model_key)",
        "model predictions whose model version is missing",
    ),
    (
        "predictions -> labels",
        "SELECT count(*) FROM predictions p ANTI JOIN labels l USING (label_key)",
        "model predictions whose label is missing",
    ),
    (
        "fixes -> predictions' keys",
        "SELECT count(*) FROM fixes f WHERE item_key NOT IN (SELECT item_key FROM items) "
        "OR model_key NOT IN (SELECT model_key FROM models) "
        "OR model_label_key NOT IN (SELECT label_key FROM labels) "
        "OR fixed_label_key NOT IN (SELECT label_key FROM labels)",
        "manual fixes whose item, model version or labels are missing",
    ),
    (
        "unique model versions",
        "SELECT count(*) - count(DISTINCT (model_id, model_version)) + count(*) "
        "- count(DISTINCT model_key) FROM models",
        "duplicated (model id, version) pairs or model keys",
    ),
    (
        "prediction_scores -> predictions",
        "SELECT count(*) FROM prediction_scores s ANTI JOIN predictions p "
        "USING (item_key, model_key, predicted_at)",
        "score_<label> rows whose prediction is missing",
    ),
    (
        "unique predictions",
        "SELECT count(*) - count(DISTINCT (item_key, model_key, predicted_at)) FROM predictions",
        "the same model version predicting the same item at the same time twice",
    ),
    (
        "boxes -> items, annotators, labels",
        """SELECT count(*) FROM boxes b
           WHERE b.item_key NOT IN (SELECT item_key FROM items)
              OR b.annotator_key NOT IN (SELECT annotator_key FROM annotators)
              OR (b.label_key IS NOT NULL AND b.label_key NOT IN (SELECT label_key FROM labels))""",
        "boxes whose item, annotator or label is missing",
    ),
    (
        "committee boxes -> items, labels",
        """SELECT count(*) FROM box_reference b
           WHERE b.item_key NOT IN (SELECT item_key FROM items)
              OR (b.label_key IS NOT NULL AND b.label_key NOT IN (SELECT label_key FROM labels))""",
        "committee boxes whose item or label is missing",
    ),
    (
        "boxes well formed",
        """SELECT count(*) FROM (SELECT * FROM boxes UNION ALL BY NAME SELECT * FROM box_reference)
           WHERE CASE WHEN label_key IS NULL
                      THEN coalesce(x_min, y_min, x_max, y_max) IS NOT NULL
                      ELSE NOT (x_min >= 0 AND y_min >= 0 AND x_max > x_min AND y_max > y_min)
                      END""",
        "boxes with a label but a bad shape, or coordinates without a label",
    ),
    (
        "unique box ids",
        "SELECT (SELECT count(*) - count(DISTINCT box_id) FROM boxes) "
        "+ (SELECT count(*) - count(DISTINCT box_id) FROM box_reference)",
        "duplicated box ids",
    ),
    (
        "box sets up to date",
        _differences("box_sets", BOX_SETS_SQL.format(scope="true")),
        "box submissions missing from, or stale in, table box_sets",
    ),
    (
        "box candidates up to date",
        _differences("box_candidates", BOX_CANDIDATES_SQL.format(scope="true")),
        "overlapping (annotator, committee) box pairs missing from, or stale in, box_candidates",
    ),
    (
        "box pairs up to date",
        _differences("box_pairs", BOX_PAIRS_SQL.format(scope="true")),
        "overlapping box pairs between annotators missing from, or stale in, table box_pairs",
    ),
    (
        "unique item ids",
        "SELECT count(*) - count(DISTINCT item_id) + count(*) - count(DISTINCT item_key) "
        "FROM items",
        "duplicated item ids or keys",
    ),
    (
        "unique annotator ids",
        "SELECT count(*) - count(DISTINCT annotator_id) + count(*) - count(DISTINCT "
        "annotator_key) FROM annotators",
        "duplicated annotator ids or keys",
    ),
    (
        "log rows belong to an import",
        "SELECT count(*) FROM (SELECT import_id FROM annotations UNION ALL "
        "SELECT import_id FROM reference UNION ALL SELECT import_id FROM predictions "
        "UNION ALL SELECT import_id FROM fixes UNION ALL SELECT import_id FROM boxes "
        "UNION ALL SELECT import_id FROM box_reference) AS x ANTI JOIN imports USING (import_id)",
        "rows from an import that the imports table does not record",
    ),
    (
        "scores up to date",
        """SELECT count(*) FROM (
               (SELECT item_key, annotator_key, annotated_at FROM annotations
                WHERE item_key IN (SELECT item_key FROM reference)
                EXCEPT ALL SELECT item_key, annotator_key, annotated_at FROM scored)
               UNION ALL
               (SELECT item_key, annotator_key, annotated_at FROM scored
                EXCEPT ALL SELECT item_key, annotator_key, annotated_at FROM annotations))""",
        "annotations on reference items missing from, or extra in, table scored",
    ),
    (
        "votes up to date",
        """SELECT count(*) FROM (
               (SELECT item_key, annotator_key, max(annotated_at), count(*) FROM annotations
                GROUP BY ALL EXCEPT ALL
                SELECT item_key, annotator_key, annotated_at, n_labels FROM votes)
               UNION ALL
               (SELECT item_key, annotator_key, annotated_at, n_labels FROM votes
                EXCEPT ALL SELECT item_key, annotator_key, max(annotated_at), count(*)
                FROM annotations GROUP BY ALL))""",
        "answers per (item, annotator) missing from, or stale in, table votes",
    ),
    (
        "pairs up to date",
        _differences("pairs", PAIRS_SQL.format(scope="true")),
        "pairs of answers on one item missing from, or stale in, table pairs",
    ),
    (
        "contested up to date",
        _differences("contested", CONTESTED_SQL.format(scope="true")),
        "labels of disputed items missing from, or extra in, table contested",
    ),
    (
        "imports hold their rows",
        f"""SELECT count(*) FROM imports m
            LEFT JOIN (SELECT import_id, count(*) AS n FROM annotations GROUP BY ALL) a
                USING (import_id)
            LEFT JOIN (SELECT import_id, count(*) AS n FROM reference GROUP BY ALL) r
                USING (import_id)
            LEFT JOIN (SELECT import_id, count(*) AS n FROM predictions GROUP BY ALL) p
                USING (import_id)
            LEFT JOIN (SELECT import_id, count(*) AS n FROM fixes GROUP BY ALL) f
                USING (import_id)
            LEFT JOIN (SELECT import_id, count(*) AS n FROM boxes GROUP BY ALL) b
                USING (import_id)
            LEFT JOIN (SELECT import_id, count(*) AS n FROM box_reference GROUP BY ALL) c
                USING (import_id)
            WHERE m.kind NOT IN {DIMENSION_KINDS}
              AND CASE m.status WHEN 'removed' THEN 0 ELSE m.n_rows END
                  <> coalesce(a.n, 0) + coalesce(r.n, 0) + coalesce(p.n, 0)
                  + coalesce(f.n, 0) + coalesce(b.n, 0) + coalesce(c.n, 0)""",
        "imports whose row count differs from the rows stored",
    ),
)


@dataclass(frozen=True)
class Finding:
    """One check: its name, whether it passed, and what was found."""

    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


def check_connection(con: duckdb.DuckDBPyConnection) -> list[Finding]:
    """Every integrity rule on an open store."""
    version = schema_version(con)
    findings = [
        Finding(
            "schema version",
            version == SCHEMA_VERSION,
            f"{version} (this qualitylib expects {SCHEMA_VERSION})",
        )
    ]
    omitted = log_omitted(con)
    if omitted:  # `cubes --no-log`: the rules that read the log cannot be checked
        n_labels = scalar(con, f"SELECT n_rows FROM {MARKER} WHERE table_name = 'annotations'")
        findings.append(
            Finding(
                "label log",
                True,
                f"left out by `cubes --no-log` ({n_labels:,} labels in the lake): the rules "
                "that read it are skipped",
            )
        )
    for name, sql, meaning in RULES:
        if omitted and re.search(rf"\b({'|'.join(OMITTED)})\b", sql):
            continue
        bad = int(scalar(con, sql))
        findings.append(Finding(name, bad == 0, f"{bad:,} {meaning}" if bad else "ok"))
    return findings


def check_store(db_path: str | Path) -> list[Finding]:
    """Open the store read-only and run every integrity rule."""
    with connect(db_path, read_only=True) as con:
        return check_connection(con)
