"""The contract between a lake and a store: every query `cubes` runs, written once in DuckDB SQL.

Each engine runs these same texts: DuckDB as they are, Spark after sqlglot transpiles them
(:func:`transpile`). The derived tables are the store's own :data:`qualitylib.store.DERIVED`
queries, so an imported store and a cubes-built store hold the same rows by construction.

Input tables ``src_<kind>`` hold a lake folder's canonical columns (absent optional columns
as NULL); the queries here give them the store's integer keys and types.
"""

from __future__ import annotations

from functools import cache

from qualitylib.ingest.validate import KINDS, Column
from qualitylib.store import DERIVED

# Lake folders in load order; annotations are required, the others read when present.
KIND_ORDER = ("labels", "annotators", "items", "reference", "annotations")
REQUIRED_KINDS = ("annotations",)

_SQL_TYPES = {
    "id": "VARCHAR",
    "text": "VARCHAR",
    "label": "VARCHAR",
    "choice": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "bool": "BOOLEAN",
    "int": "INTEGER",
    "seconds": "DOUBLE",
}


def _typed(column: Column, present: bool) -> str:
    """One canonical column of a source, cast to its store type; its default when absent."""
    sql_type = _SQL_TYPES[column.type]
    value = f"CAST({column.name} AS {sql_type})" if present else f"CAST(NULL AS {sql_type})"
    if column.default is not None:
        value = f"coalesce({value}, '{column.default}')"
    if column.type == "bool" and column.name == "unsure":
        value = f"coalesce({value}, false)"
    return f"{value} AS {column.name}"


def source_sql(kind: str, raw: str, columns: list[str] | None) -> str:
    """``src_<kind>`` from the raw folder ``raw`` with ``columns`` (None: the folder is absent).

    Items keep every other column as JSON ``metadata``, as ``qualitylib import`` does.
    """
    spec = KINDS[kind]
    present = set(columns or ())
    selects = [_typed(column, column.name in present) for column in spec]
    if kind == "items":
        known = {column.name for column in spec}
        extra = [name for name in columns or () if name not in known]
        # a struct literal, not json_object: Spark has no json_object, sqlglot maps to_json
        fields = ", ".join(f"'{name}': nullif(CAST(\"{name}\" AS VARCHAR), '')" for name in extra)
        selects.append(
            f"to_json({{{fields}}}) AS metadata" if extra else "CAST(NULL AS VARCHAR) AS metadata"
        )
    if columns is None:
        return f"SELECT {', '.join(selects)} WHERE false"
    return f"SELECT {', '.join(selects)} FROM {raw}"


def missing_columns(kind: str, columns: list[str]) -> list[str]:
    """The required canonical columns a folder lacks."""
    return [c.name for c in KINDS[kind] if c.required and c.name not in columns]


def problems_sql(kind: str) -> tuple[list[str], str]:
    """What can be wrong with ``src_<kind>`` (empty required cells, values outside a choice,
    repeated unique keys: the derived tables rely on one row per annotator, item and time),
    and one query counting the offending rows of each (one scan and one grouping, one job)."""
    from qualitylib.ingest.validate import UNIQUE

    problems, counts = [], []
    for column in KINDS[kind]:
        if column.required:
            problems.append(f"column {column.name!r} is empty")
            counts.append(f"{column.name} IS NULL")
        if column.choices:
            allowed = ", ".join(f"'{choice}'" for choice in column.choices)
            problems.append(f"column {column.name!r} is not one of {', '.join(column.choices)}")
            counts.append(f"{column.name} NOT IN ({allowed})")
    sums = ", ".join(
        f"coalesce(sum(CASE WHEN {c} THEN 1 ELSE 0 END), 0) AS n{i}" for i, c in enumerate(counts)
    )
    key = ", ".join(UNIQUE[kind])
    problems.append(f"rows repeat ({key})")
    repeats = (
        f"SELECT count(*) AS n_repeats FROM (SELECT {key} FROM src_{kind} GROUP BY {key} "
        "HAVING count(*) > 1) AS d"
    )
    return (
        problems,
        f"SELECT * FROM (SELECT {sums} FROM src_{kind}) AS c CROSS JOIN ({repeats}) AS r",
    )


def _carried(kind: str) -> str:
    """The log's canonical columns other than the ids that become keys, as they are."""
    keyed = {"item_id", "annotator_id", "label"}
    return ", ".join(f"t.{c.name}" for c in KINDS[kind] if c.name not in keyed)


# The dimensions with their store keys: numbered in id order, so both engines give every id
# the same key (a global sort; see docs/ARCHITECTURE.md, "Engines"). Labels are numbered in
# rank order, declared ones first, as an import of a label file in rank order numbers them
# (ties broken by key, e.g. the review queue's majority label, then agree).
KEYED: tuple[tuple[str, str], ...] = (
    (
        "labels",
        """
        WITH seen AS (
            SELECT label FROM src_labels UNION SELECT label FROM src_annotations
            UNION SELECT label FROM src_reference
        )
        SELECT CAST(row_number() OVER (ORDER BY d.label IS NULL, d.rank, s.label) AS SMALLINT)
                   AS label_key, s.label,
               d.is_positive, d.rank, d.color, d.label IS NOT NULL AS declared
        FROM seen s LEFT JOIN src_labels d ON d.label = s.label
        """,
    ),
    (
        "annotators",
        """
        WITH seen AS (
            SELECT annotator_id FROM src_annotators
            UNION SELECT annotator_id FROM src_annotations
        )
        SELECT CAST(row_number() OVER (ORDER BY s.annotator_id) AS INTEGER) AS annotator_key,
               s.annotator_id, d.name, d.team, d.role, d.started_at
        FROM seen s LEFT JOIN src_annotators d ON d.annotator_id = s.annotator_id
        """,
    ),
    (
        "items",
        """
        WITH seen AS (
            SELECT item_id FROM src_items UNION SELECT item_id FROM src_annotations
            UNION SELECT item_id FROM src_reference
        )
        SELECT CAST(row_number() OVER (ORDER BY s.item_id) AS INTEGER) AS item_key,
               s.item_id, d.uri, d.metadata
        FROM seen s LEFT JOIN src_items d ON d.item_id = s.item_id
        """,
    ),
    (
        "reference",
        f"""
        SELECT i.item_key, l.label_key, {_carried("reference")},
               CAST({{import_id}} AS INTEGER) AS import_id
        FROM src_reference t
        JOIN items i ON i.item_id = t.item_id
        JOIN labels l ON l.label = t.label
        """,
    ),
    (
        "annotations",
        f"""
        SELECT i.item_key, a.annotator_key, l.label_key, {_carried("annotations")},
               CAST({{import_id}} AS INTEGER) AS import_id
        FROM src_annotations t
        JOIN items i ON i.item_id = t.item_id
        JOIN annotators a ON a.annotator_id = t.annotator_id
        JOIN labels l ON l.label = t.label
        """,
    ),
)


# The count tables a store without the log keeps in its place (`cubes --no-log`, see
# qualitylib.log_scope), keyed by every filter dimension but the item: ``activity`` holds the
# labels per annotator, day (UTC), policy version and phase, so the sidebar's choices, who
# labelled in a window, its first and last label and label volumes are sums over its cells
# (qualitylib.metrics.counts.activity_sql reads it, or the log where there is one);
# ``pair_counts`` holds the pairs of current answers per annotator pair, label pair, and each
# answer's ISO week, policy version and phase, with each side's first and last time, so every
# pair's contingency table under a window that cuts no cell is a sum over its cells
# (qualitylib.metrics.counts.pair_counts_sql).
COUNTS: tuple[tuple[str, str], ...] = (
    (
        "activity",
        """
        SELECT annotator_key, CAST(annotated_at AS DATE) AS day, policy_version, phase,
               count(*) AS n_labels, count(CASE WHEN unsure THEN 1 END) AS n_unsure,
               count(duration_s) AS n_timed, sum(duration_s) AS seconds,
               min(annotated_at) AS first_at, max(annotated_at) AS last_at
        FROM annotations
        GROUP BY annotator_key, CAST(annotated_at AS DATE), policy_version, phase
        """,
    ),
    (
        "pair_counts",
        """
        SELECT key_a, key_b, label_a, label_b,
               CAST(date_trunc('week', at_a) AS DATE) AS week_a,
               CAST(date_trunc('week', at_b) AS DATE) AS week_b,
               policy_a, policy_b, phase_a, phase_b, count(*) AS n_items,
               min(at_a) AS first_a, max(at_a) AS last_a, min(at_b) AS first_b,
               max(at_b) AS last_b
        FROM pairs
        GROUP BY key_a, key_b, label_a, label_b, CAST(date_trunc('week', at_a) AS DATE),
                 CAST(date_trunc('week', at_b) AS DATE), policy_a, policy_b, phase_a, phase_b
        """,
    ),
)


def derived() -> tuple[tuple[str, str], ...]:
    """The store's derived tables over the whole log, in dependency order."""
    return tuple((table, sql.format(scope="true")) for table, sql in DERIVED)


@cache
def transpile(sql: str, dialect: str) -> str:
    """``sql`` (DuckDB) in ``dialect``; unsupported constructs raise instead of passing through."""
    if dialect == "duckdb":
        return sql
    import sqlglot  # in the spark extra: the embedded engine runs the text as it is

    return sqlglot.transpile(
        sql, read="duckdb", write=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE
    )[0]
