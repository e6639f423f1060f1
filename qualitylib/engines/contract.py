"""The contract between a lake and a store: every query `cubes` runs, written once in DuckDB SQL.

Each engine runs these same texts: DuckDB as they are, Spark after sqlglot transpiles them
(:func:`transpile`). The derived tables are the store's own :data:`qualitylib.store.DERIVED`
queries, so an imported store and a cubes-built store hold the same rows by construction.

Input tables ``src_<kind>`` hold a lake folder's canonical columns (absent optional columns
as NULL); the queries here give them the store's integer keys and types.
"""

from __future__ import annotations

from functools import cache

from qualitylib.ingest.validate import (
    BOX_KINDS,
    BOX_TOLERANCE_PX,
    COORDINATES,
    KINDS,
    SCORE_MATCH_TOLERANCE,
    SCORE_PREFIX,
    SCORE_SUM_TOLERANCE,
    Column,
    score_columns,
)
from qualitylib.store import DERIVED, DERIVED_BOXES

# Lake folders in load order; annotations are required, the others read when present.
KIND_ORDER = (
    "labels",
    "annotators",
    "items",
    "reference",
    "annotations",
    "predictions",
    "fixes",
    "reference_boxes",
    "boxes",
)
REQUIRED_KINDS = ("annotations",)
# The store tables keyed from a folder other than their own name (imports record the folder).
FOLDER_OF = {"prediction_scores": "predictions", "box_reference": "reference_boxes"}
# The folders whose rows an import counts (the log kinds), and the table each fills.
LOG_KINDS = ("reference", "annotations", "predictions", "fixes", "reference_boxes", "boxes")
TABLE_OF = {"reference_boxes": "box_reference"}

_SQL_TYPES = {
    "id": "VARCHAR",
    "text": "VARCHAR",
    "label": "VARCHAR",
    "choice": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "bool": "BOOLEAN",
    "int": "INTEGER",
    "seconds": "DOUBLE",
    "number": "DOUBLE",
    "probability": "DOUBLE",
    "box_label": "VARCHAR",
}


def import_kind(folder: str) -> str:
    """The `qualitylib import --kind` of lake folder ``folder`` (``reference_boxes`` is
    ``reference-boxes``)."""
    return folder.replace("_", "-")


def _quote(name: str) -> str:
    """A column name as an identifier (score columns are named after labels)."""
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    """Text as a SQL literal; braces doubled, as the keyed queries are format strings."""
    return "'" + text.replace("'", "''").replace("{", "{{").replace("}", "}}") + "'"


def _typed(column: Column, present: bool) -> str:
    """One canonical column of a source, cast to its store type; its default when absent."""
    sql_type = _SQL_TYPES[column.type]
    value = f"CAST({column.name} AS {sql_type})" if present else f"CAST(NULL AS {sql_type})"
    if column.default is not None:
        value = f"coalesce({value}, '{column.default}')"
    if column.type == "bool":  # an import reads a blank or absent flag as false
        value = f"coalesce({value}, false)"
    return f"{value} AS {column.name}"


def source_sql(kind: str, raw: str, columns: list[str] | None) -> str:
    """``src_<kind>`` from the raw folder ``raw`` with ``columns`` (None: the folder is absent).

    Items keep every other column as JSON ``metadata``, as ``qualitylib import`` does (none
    when a row gives none of them, as an import of a file without them); predictions keep
    their ``score_<label>`` columns.
    """
    spec = KINDS[import_kind(kind)]
    present = set(columns or ())
    selects = [_typed(column, column.name in present) for column in spec]
    if kind == "items":
        known = {column.name for column in spec}
        extra = [name for name in columns or () if name not in known]
        # a struct literal, not json_object: Spark has no json_object, sqlglot maps to_json
        cells = [f"nullif(CAST(\"{name}\" AS VARCHAR), '')" for name in extra]
        fields = ", ".join(f"'{name}': {cell}" for name, cell in zip(extra, cells, strict=True))
        selects.append(
            f"CASE WHEN coalesce({', '.join(cells)}) IS NOT NULL THEN to_json({{{fields}}}) "
            "END AS metadata"
            if extra
            else "CAST(NULL AS VARCHAR) AS metadata"
        )
    for name in score_columns(kind, list(columns or ())):
        selects.append(f"CAST({_quote(name)} AS DOUBLE) AS {_quote(name)}")
    if columns is None:
        return f"SELECT {', '.join(selects)} WHERE false"
    return f"SELECT {', '.join(selects)} FROM {raw}"


def missing_columns(kind: str, columns: list[str]) -> list[str]:
    """The required canonical columns a folder lacks."""
    return [c.name for c in KINDS[import_kind(kind)] if c.required and c.name not in columns]


def _box_problems() -> list[tuple[str, str]]:
    """(problem, SQL true on a bad row) for the shape of boxes, as the import's box rules:
    the IoU of the derived tables needs four coordinates and a positive area."""
    rules = [
        (
            "a box without a label (an empty row leaves the label and all four coordinates blank)",
            f"label IS NULL AND coalesce({', '.join(COORDINATES)}) IS NOT NULL",
        )
    ]
    for name in COORDINATES:
        rules.append((f"a box without {name}", f"label IS NOT NULL AND {name} IS NULL"))
        # NaN and infinity fall outside too, in both engines
        rules.append(
            (f"column {name!r} is negative, NaN or infinite", f"NOT ({name} BETWEEN 0 AND 1e308)")
        )
    for low, high in (("x_min", "x_max"), ("y_min", "y_max")):
        rules.append((f"column {high!r} is not greater than {low!r}", f"{high} <= {low}"))
    return rules


def _score_problems(columns: list[str]) -> list[tuple[str, str]]:
    """(problem, SQL true on a bad row) for a prediction's probabilities, as the import's."""
    cells = score_columns("predictions", columns)
    rules = [
        (
            f"column {name!r} is not a probability between 0 and 1",
            f"NOT ({_quote(name)} BETWEEN 0 AND 1)",
        )
        for name in ["score", *cells]
    ]
    if not cells:
        return rules
    given = [f"{_quote(name)} IS NOT NULL" for name in cells]
    rules.append(
        (
            "the score_<label> cells are given in part (give the whole distribution or none)",
            f"({' OR '.join(given)}) AND NOT ({' AND '.join(given)})",
        )
    )
    total = " + ".join(_quote(name) for name in cells)
    rules.append(
        (
            f"the score_<label> cells do not sum to 1 (within {SCORE_SUM_TOLERANCE:g})",
            f"abs({total} - 1) > {SCORE_SUM_TOLERANCE}",
        )
    )
    of_label = " ".join(
        f"WHEN {_literal(name.removeprefix(SCORE_PREFIX))} THEN {_quote(name)}" for name in cells
    )
    rules.append(
        (
            "column 'score' differs from the score_<label> cell of the predicted label",
            f"{given[0]} AND abs(score - coalesce(CASE label {of_label} END, 0)) "
            f"> {SCORE_MATCH_TOLERANCE}",
        )
    )
    return rules


def problems_sql(kind: str, columns: list[str] | None = None) -> tuple[list[str], str]:
    """What can be wrong with ``src_<kind>`` (empty required cells, values outside a choice,
    repeated unique keys: the derived tables rely on one row per annotator, item and time;
    boxes of the wrong shape, probabilities that are not; ``columns``: the folder's), and one
    query counting the offending rows of each (one scan and one grouping, one job)."""
    from qualitylib.ingest.validate import UNIQUE

    spec = KINDS[import_kind(kind)]
    rules: list[tuple[str, str]] = []
    for column in spec:
        # a box row's label and coordinates are blank on an empty row ("drew nothing")
        if column.required and column.type not in ("box_label", "number"):
            rules.append((f"column {column.name!r} is empty", f"{column.name} IS NULL"))
        if column.choices:
            allowed = ", ".join(f"'{choice}'" for choice in column.choices)
            rules.append(
                (
                    f"column {column.name!r} is not one of {', '.join(column.choices)}",
                    f"{column.name} NOT IN ({allowed})",
                )
            )
    if import_kind(kind) in BOX_KINDS:
        rules += _box_problems()
    if kind == "predictions":
        rules += _score_problems(list(columns or ()))
    problems = [problem for problem, _ in rules]
    sums = ", ".join(
        f"coalesce(sum(CASE WHEN {bad} THEN 1 ELSE 0 END), 0) AS n{i}"
        for i, (_, bad) in enumerate(rules)
    )
    if import_kind(kind) in BOX_KINDS:  # a submission is many rows: none repeats, none mixes
        key = "item_id, annotator_id, annotated_at" if kind == "boxes" else "item_id, decided_at"
        problems.append(f"an empty row ('nothing here') is beside boxes of the same ({key})")
        problems.append(
            "a box reaches past its image's width or height (of the items folder) by more "
            f"than {BOX_TOLERANCE_PX:g} px"
        )
        repeats = (
            "SELECT * FROM (SELECT coalesce(sum(n - n_boxes), 0) AS n_mixed FROM (SELECT "
            f"count(*) AS n, count(label) AS n_boxes FROM src_{kind} GROUP BY {key} "
            "HAVING count(label) > 0 AND count(*) > count(label)) AS m) AS d CROSS JOIN ("
            f"SELECT count(*) AS n_outside FROM src_{kind} t JOIN src_items i "
            f"ON i.item_id = t.item_id WHERE t.x_max > i.width + {BOX_TOLERANCE_PX} "
            f"OR t.y_max > i.height + {BOX_TOLERANCE_PX}) AS o"
        )
    else:
        key = ", ".join(UNIQUE[import_kind(kind)])
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
            UNION SELECT label FROM src_reference UNION SELECT label FROM src_predictions
            UNION SELECT model_label FROM src_fixes UNION SELECT fixed_label FROM src_fixes
            UNION SELECT label FROM src_boxes WHERE label IS NOT NULL
            UNION SELECT label FROM src_reference_boxes WHERE label IS NOT NULL
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
            UNION SELECT annotator_id FROM src_annotations UNION SELECT annotator_id FROM src_boxes
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
            UNION SELECT item_id FROM src_reference UNION SELECT item_id FROM src_predictions
            UNION SELECT item_id FROM src_fixes UNION SELECT item_id FROM src_boxes
            UNION SELECT item_id FROM src_reference_boxes
        )
        SELECT CAST(row_number() OVER (ORDER BY s.item_id) AS INTEGER) AS item_key,
               s.item_id, d.uri, d.metadata, d.width, d.height
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


# A model version's key joins (model_id, model_version): the store keeps '' for no version.
_MODEL = """JOIN models m ON m.model_id = t.model_id
            AND m.model_version = coalesce(t.model_version, '')"""
# The box log's ids: numbered in the order of every column, so both engines number alike
# (rows equal in all of them are interchangeable).
_BOX_ORDER = {
    "boxes": "t.item_id, t.annotator_id, t.annotated_at, t.label, t.x_min, t.y_min, t.x_max, "
    "t.y_max, t.object_id, t.duration_s, t.reason, t.unsure, t.policy_version, t.phase, t.batch",
    "reference_boxes": "t.item_id, t.decided_at, t.label, t.x_min, t.y_min, t.x_max, t.y_max, "
    "t.reason, t.policy_version, t.decided_by",
}


def _predictions_sql(cells: list[str]) -> str:
    """``predictions``, keyed; without a ``score`` cell a row with a distribution takes its
    predicted label's probability (a label without a column has 0), as the import does."""
    score = "t.score"
    if cells:
        cases = " ".join(
            f"WHEN t.label = {_literal(name.removeprefix(SCORE_PREFIX))} THEN t.{_quote(name)}"
            for name in cells
        )
        score = f"coalesce(t.score, CASE {cases} WHEN t.{_quote(cells[0])} IS NOT NULL THEN 0 END)"
    return f"""
        SELECT i.item_key, m.model_key, l.label_key, {score} AS score, t.predicted_at,
               CAST({{import_id}} AS INTEGER) AS import_id
        FROM src_predictions t
        JOIN items i ON i.item_id = t.item_id
        {_MODEL}
        JOIN labels l ON l.label = t.label
        """


def _prediction_scores_sql(cells: list[str]) -> str:
    """``prediction_scores``: each given ``score_<label>`` cell as a row (an unpivot written
    as a union, which both engines run alike)."""
    cell_rows = " UNION ALL ".join(
        f"SELECT item_id, model_id, model_version, predicted_at, "
        f"{_literal(name.removeprefix(SCORE_PREFIX))} AS label, {_quote(name)} AS score "
        f"FROM src_predictions WHERE {_quote(name)} IS NOT NULL"
        for name in cells
    )
    if not cell_rows:
        cell_rows = (
            "SELECT item_id, model_id, model_version, predicted_at, label, score "
            "FROM src_predictions WHERE false"
        )
    return f"""
        SELECT i.item_key, m.model_key, t.predicted_at, l.label_key, t.score,
               CAST({{import_id}} AS INTEGER) AS import_id
        FROM ({cell_rows}) AS t
        JOIN items i ON i.item_id = t.item_id
        {_MODEL}
        JOIN labels l ON l.label = t.label
        """


def keyed_more(prediction_columns: list[str] | None) -> tuple[tuple[str, str], ...]:
    """The model and box tables with the store's keys, after :data:`KEYED` (which keys their
    ids): models numbered in (model_id, model_version) order, box ids in the order of every
    column. ``prediction_columns``: the predictions folder's (for its ``score_<label>``)."""
    cells = score_columns("predictions", list(prediction_columns or ()))
    return (
        (
            "models",
            """
            WITH seen AS (
                SELECT model_id, coalesce(model_version, '') AS model_version
                FROM src_predictions
                UNION SELECT model_id, coalesce(model_version, '') FROM src_fixes
            )
            SELECT CAST(row_number() OVER (ORDER BY model_id, model_version) AS INTEGER)
                       AS model_key, model_id, model_version
            FROM seen
            """,
        ),
        ("predictions", _predictions_sql(cells)),
        ("prediction_scores", _prediction_scores_sql(cells)),
        (
            "fixes",
            f"""
            SELECT i.item_key, m.model_key, ml.label_key AS model_label_key,
                   fl.label_key AS fixed_label_key, t.fixed_by, t.fixed_at,
                   CAST({{import_id}} AS INTEGER) AS import_id
            FROM src_fixes t
            JOIN items i ON i.item_id = t.item_id
            {_MODEL}
            JOIN labels ml ON ml.label = t.model_label
            JOIN labels fl ON fl.label = t.fixed_label
            """,
        ),
        (
            "box_reference",
            f"""
            SELECT CAST(row_number() OVER (ORDER BY {_BOX_ORDER["reference_boxes"]})
                        AS BIGINT) AS box_id,
                   i.item_key, l.label_key, t.x_min, t.y_min, t.x_max, t.y_max, t.reason,
                   t.policy_version, t.decided_at, t.decided_by,
                   CAST({{import_id}} AS INTEGER) AS import_id
            FROM src_reference_boxes t
            JOIN items i ON i.item_id = t.item_id
            LEFT JOIN labels l ON l.label = t.label
            """,
        ),
        (
            "boxes",
            f"""
            SELECT CAST(row_number() OVER (ORDER BY {_BOX_ORDER["boxes"]}) AS BIGINT) AS box_id,
                   i.item_key, a.annotator_key, l.label_key, t.x_min, t.y_min, t.x_max,
                   t.y_max, t.object_id, t.duration_s, t.reason, t.unsure, t.annotated_at,
                   t.policy_version, t.phase, t.batch, CAST({{import_id}} AS INTEGER) AS import_id
            FROM src_boxes t
            JOIN items i ON i.item_id = t.item_id
            JOIN annotators a ON a.annotator_id = t.annotator_id
            LEFT JOIN labels l ON l.label = t.label
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


def derived_boxes() -> tuple[tuple[str, str], ...]:
    """The store's derived box tables over the whole box log, in dependency order."""
    return tuple((table, sql.format(scope="true")) for table, sql in DERIVED_BOXES)


@cache
def transpile(sql: str, dialect: str) -> str:
    """``sql`` (DuckDB) in ``dialect``; unsupported constructs raise instead of passing through."""
    if dialect == "duckdb":
        return sql
    import sqlglot  # in the spark extra: the embedded engine runs the text as it is

    return sqlglot.transpile(
        sql, read="duckdb", write=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE
    )[0]
