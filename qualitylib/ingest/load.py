"""Write a validated, typed file (temp table ``_typed``) into the store, mapping ids to keys.

Dimension kinds (labels, items, annotators) are upserts; the log kinds (annotations,
reference) append. New ids met in the log get a key first, so every row joins.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from qualitylib.ingest.validate import SCORE_PREFIX, TYPED, quote, score_columns
from qualitylib.store import scalar


@dataclass(frozen=True)
class LoadCounts:
    """What one file added: rows, new annotators, new items."""

    n_rows: int
    n_new_annotators: int
    n_new_items: int


def _position(con: duckdb.DuckDBPyConnection, alias: str = TYPED) -> str:
    """SQL for a row's 1-based position in ``_typed``: unique, unlike ``_row`` (a tool export's
    record number, shared by the annotations of one record). Row ids inside a transaction
    start from a high base, hence the offset."""
    base = int(scalar(con, f"SELECT coalesce(min(rowid), 0) FROM {TYPED}"))
    return f"({alias}.rowid - {base} + 1)"


def _add_keys(
    con: duckdb.DuckDBPyConnection, table: str, key: str, id_column: str, source_column: str
) -> int:
    """Give every id of ``_typed.source_column`` not yet in ``table`` a new integer key.

    Key = the table's largest key + the position of the id's first row: unique, the same for
    the same file, and without the sort a dense numbering would cost (keys may have gaps).
    Known ids are dropped before grouping: a log usually names items imported before, and
    grouping only the unknown rows saves a GROUP BY over the whole file.
    """
    before = int(scalar(con, f"SELECT count(*) FROM {table}"))
    con.execute(
        f"""
        INSERT INTO {table} ({key}, {id_column})
        SELECT (SELECT coalesce(max({key}), 0) FROM {table}) + min(position), id
        FROM (
            SELECT {TYPED}.{source_column} AS id, {_position(con)} AS position
            FROM {TYPED} ANTI JOIN {table} t ON t.{id_column} = {TYPED}.{source_column}
        ) AS new
        GROUP BY id
        """
    )
    return int(scalar(con, f"SELECT count(*) FROM {table}")) - before


def _add_items(con: duckdb.DuckDBPyConnection) -> int:
    """Keys for the staged rows' new ``item_id``s; how many were added."""
    return _add_keys(con, "items", "item_key", "item_id", "item_id")


def _add_annotators(con: duckdb.DuckDBPyConnection) -> int:
    """Keys for the staged rows' new ``annotator_id``s; how many were added."""
    return _add_keys(con, "annotators", "annotator_key", "annotator_id", "annotator_id")


def _insert_new(
    con: duckdb.DuckDBPyConnection, table: str, key: str, id_column: str, columns: tuple[str, ...]
) -> int:
    """Insert the rows of ``_typed`` whose id is not in ``table`` yet, keyed by position
    (largest key + position, as in :func:`_add_keys`)."""
    before = int(scalar(con, f"SELECT count(*) FROM {table}"))
    con.execute(
        f"""
        INSERT INTO {table} ({key}, {id_column}, {", ".join(columns)})
        SELECT (SELECT coalesce(max({key}), 0) FROM {table}) + {_position(con, "t")}, t.{id_column},
               {", ".join(f"t.{column}" for column in columns)}
        FROM {TYPED} t ANTI JOIN {table} x ON x.{id_column} = t.{id_column}
        """
    )
    return int(scalar(con, f"SELECT count(*) FROM {table}")) - before


def _add_labels(con: duckdb.DuckDBPyConnection, columns: tuple[str, ...] = ("label",)) -> None:
    """Labels first met in the log (in ``columns`` of ``_typed``) join the label set as
    undeclared."""
    found = " UNION ALL ".join(f"SELECT {column} AS label FROM {TYPED}" for column in columns)
    con.execute(
        f"""
        INSERT INTO labels (label_key, label, declared)
        SELECT (SELECT coalesce(max(label_key), 0) FROM labels)
               + row_number() OVER (ORDER BY label), label, false
        FROM (SELECT DISTINCT label FROM ({found}) WHERE label IS NOT NULL) AS new
        WHERE NOT EXISTS (SELECT 1 FROM labels l WHERE l.label = new.label)
        """
    )


def _add_models(con: duckdb.DuckDBPyConnection) -> None:
    """Every (model_id, model_version) of ``_typed`` not yet known gets a new model key."""
    con.execute(
        f"""
        INSERT INTO models
        SELECT (SELECT coalesce(max(model_key), 0) FROM models)
               + row_number() OVER (ORDER BY model_id, model_version), model_id, model_version
        FROM (SELECT DISTINCT model_id, coalesce(model_version, '') AS model_version
              FROM {TYPED}) AS new
        ANTI JOIN models m USING (model_id, model_version)
        """
    )


def _load_predictions(con: duckdb.DuckDBPyConnection, import_id: int) -> None:
    """Predictions, and their ``score_<label>`` cells into ``prediction_scores``; without a
    ``score`` cell, a row with a distribution takes its predicted label's probability."""
    typed = [row[0] for row in con.execute(f"DESCRIBE {TYPED}").fetchall()]
    distribution = [
        name for name in score_columns("predictions", typed) if not name.endswith("__given")
    ]
    score = "t.score"
    if distribution:  # a label without a column has probability 0 in a given distribution
        cases = " ".join(
            f"WHEN l.label = $label_{n} THEN t.{quote(name)}" for n, name in enumerate(distribution)
        )
        given = f"t.{quote(distribution[0])} IS NOT NULL"
        score = f"coalesce(t.score, CASE {cases} WHEN {given} THEN 0 END)"
    labels = {f"label_{n}": name.removeprefix(SCORE_PREFIX) for n, name in enumerate(distribution)}
    keyed = f"""FROM {TYPED} t
                JOIN items i ON i.item_id = t.item_id
                JOIN models m ON m.model_id = t.model_id
                    AND m.model_version = coalesce(t.model_version, '')"""
    con.execute(
        f"""INSERT INTO predictions
            SELECT i.item_key, m.model_key, l.label_key, {score}, t.predicted_at, $import_id
            {keyed} JOIN labels l ON l.label = t.label""",
        labels | {"import_id": import_id},
    )
    if distribution:  # one pass: the cells unpivoted (empty ones dropped), then keyed
        cells = ", ".join(f"t.{quote(name)}" for name in distribution)
        con.execute(
            f"""INSERT INTO prediction_scores
                SELECT i.item_key, m.model_key, t.predicted_at, l.label_key, t.score, $import_id
                FROM (UNPIVOT (SELECT t.item_id, t.model_id, t.model_version, t.predicted_at,
                                      {cells} FROM {TYPED} t)
                      ON {", ".join(quote(name) for name in distribution)}
                      INTO NAME score_column VALUE score) t
                JOIN items i ON i.item_id = t.item_id
                JOIN models m ON m.model_id = t.model_id
                    AND m.model_version = coalesce(t.model_version, '')
                JOIN labels l ON l.label = substr(t.score_column, $skip)""",
            {"import_id": import_id, "skip": len(SCORE_PREFIX) + 1},
        )


def load(con: duckdb.DuckDBPyConnection, kind: str, import_id: int) -> LoadCounts:
    """Insert or upsert ``_typed`` as ``kind``; return what it added."""
    n_rows = int(scalar(con, f"SELECT count(*) FROM {TYPED}"))
    new_annotators = new_items = 0
    match kind:
        case "annotations":
            _add_labels(con)
            new_items = _add_items(con)
            new_annotators = _add_annotators(con)
            con.execute(
                f"""
                INSERT INTO annotations
                SELECT i.item_key, a.annotator_key, l.label_key, t.reason, t.unsure,
                       t.annotated_at, t.policy_version, t.phase, t.batch, ?, t.duration_s
                FROM {TYPED} t
                JOIN items i ON i.item_id = t.item_id
                JOIN annotators a ON a.annotator_id = t.annotator_id
                JOIN labels l ON l.label = t.label
                """,
                [import_id],
            )
        case "reference":
            _add_labels(con)
            new_items = _add_items(con)
            con.execute(
                f"""
                INSERT INTO reference
                SELECT i.item_key, l.label_key, t.reason, t.policy_version, t.decided_at,
                       t.decided_by, ?
                FROM {TYPED} t
                JOIN items i ON i.item_id = t.item_id
                JOIN labels l ON l.label = t.label
                """,
                [import_id],
            )
        case "predictions":
            _add_labels(con)
            new_items = _add_items(con)
            _add_models(con)
            _load_predictions(con, import_id)
        case "fixes":
            _add_labels(con, ("model_label", "fixed_label"))
            new_items = _add_items(con)
            _add_models(con)
            con.execute(
                f"""
                INSERT INTO fixes
                SELECT i.item_key, m.model_key, ml.label_key, fl.label_key, t.fixed_by,
                       t.fixed_at, ?
                FROM {TYPED} t
                JOIN items i ON i.item_id = t.item_id
                JOIN models m ON m.model_id = t.model_id
                    AND m.model_version = coalesce(t.model_version, '')
                JOIN labels ml ON ml.label = t.model_label
                JOIN labels fl ON fl.label = t.fixed_label
                """,
                [import_id],
            )
        case "boxes":
            _add_labels(con)
            new_items = _add_items(con)
            new_annotators = _add_annotators(con)
            con.execute(
                f"""
                INSERT INTO boxes
                SELECT (SELECT coalesce(max(box_id), 0) FROM boxes) + {_position(con, "t")},
                       i.item_key, a.annotator_key, l.label_key, t.x_min, t.y_min, t.x_max,
                       t.y_max, t.object_id, t.duration_s, t.reason, t.unsure, t.annotated_at,
                       t.policy_version, t.phase, t.batch, ?
                FROM {TYPED} t
                JOIN items i ON i.item_id = t.item_id
                JOIN annotators a ON a.annotator_id = t.annotator_id
                LEFT JOIN labels l ON l.label = t.label
                """,
                [import_id],
            )
        case "reference-boxes":
            _add_labels(con)
            new_items = _add_items(con)
            con.execute(
                f"""
                INSERT INTO box_reference
                SELECT (SELECT coalesce(max(box_id), 0) FROM box_reference)
                       + {_position(con, "t")}, i.item_key, l.label_key, t.x_min, t.y_min,
                       t.x_max, t.y_max, t.reason, t.policy_version, t.decided_at, t.decided_by, ?
                FROM {TYPED} t
                JOIN items i ON i.item_id = t.item_id
                LEFT JOIN labels l ON l.label = t.label
                """,
                [import_id],
            )
        case "labels":
            con.execute(
                f"""
                INSERT INTO labels (label_key, label, declared)
                SELECT (SELECT coalesce(max(label_key), 0) FROM labels)
                       + row_number() OVER (ORDER BY _row), label, true
                FROM {TYPED} t WHERE NOT EXISTS (SELECT 1 FROM labels l WHERE l.label = t.label)
                """
            )
            con.execute(
                f"""
                UPDATE labels SET is_positive = t.is_positive, rank = coalesce(t.rank, t._row - 1),
                       color = t.color, declared = true
                FROM {TYPED} t WHERE labels.label = t.label
                """
            )
        case "items":
            # Existing items get the new uri/metadata; new ones are inserted whole (an UPDATE
            # of millions of freshly keyed rows would cost more than the insert itself).
            con.execute(
                f"""
                UPDATE items SET uri = coalesce(t.uri, items.uri),
                       metadata = coalesce(t.metadata, items.metadata),
                       width = coalesce(t.width, items.width),
                       height = coalesce(t.height, items.height)
                FROM {TYPED} t WHERE items.item_id = t.item_id
                """
            )
            new_items = _insert_new(
                con, "items", "item_key", "item_id", ("uri", "metadata", "width", "height")
            )
        case "annotators":
            con.execute(
                f"""
                UPDATE annotators SET name = coalesce(t.name, annotators.name),
                       team = coalesce(t.team, annotators.team), role = t.role,
                       started_at = coalesce(t.started_at, annotators.started_at)
                FROM {TYPED} t WHERE annotators.annotator_id = t.annotator_id
                """
            )
            new_annotators = _insert_new(
                con,
                "annotators",
                "annotator_key",
                "annotator_id",
                ("name", "team", "role", "started_at"),
            )
    return LoadCounts(n_rows, new_annotators, new_items)
