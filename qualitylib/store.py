"""The DuckDB store: connections (writer or read-only, bounded lock retry), schema, migrations.

One file holds everything. Ids (item, annotator, label) are stored once and referred to by
integer keys, so the log tables are narrow and counting maps onto dense arrays.
"""

from __future__ import annotations

import os
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from qualitylib.errors import QualitylibError

SCHEMA_VERSION = 9

# Every annotation on a reference item with the decision in force when it was made: each
# decision holds from its time until the next one, so a policy change never rescores history;
# the first decision also holds before its time (reference sets are often imported after use).
# ``scope`` limits the items. Written with window functions and a join, not DuckDB's ASOF JOIN,
# so that Spark runs the same query (qualitylib.engines); as fast at 1M labels.
SCORING_SQL = """
    WITH x AS (SELECT * FROM annotations WHERE {scope}), spans AS (
        SELECT item_key, label_key, policy_version, reason,
               CASE WHEN row_number() OVER (PARTITION BY item_key ORDER BY decided_at) > 1
                    THEN decided_at END AS valid_from,
               lead(decided_at) OVER (PARTITION BY item_key ORDER BY decided_at) AS valid_until
        FROM reference
    )
    SELECT x.*, s.label_key AS ref_label_key, s.policy_version AS ref_policy_version,
           s.reason AS ref_reason
    FROM x JOIN spans s ON x.item_key = s.item_key
        AND (s.valid_from IS NULL OR x.annotated_at >= s.valid_from)
        AND (s.valid_until IS NULL OR x.annotated_at < s.valid_until)
"""

# One row per (item, annotator): the latest label and when, version and phase it was given.
# (item, annotator, time) is unique, so the latest row is well defined; a window keeps that
# row whole, where a GROUP BY with an arg_max per column is slower (benchmarks/RESULTS.md).
VOTES_SQL = """
    SELECT item_key, annotator_key, label_key, annotated_at, policy_version, phase,
           count(*) OVER (PARTITION BY item_key, annotator_key) AS n_labels
    FROM annotations WHERE {scope}
    QUALIFY row_number() OVER (
        PARTITION BY item_key, annotator_key ORDER BY annotated_at DESC) = 1
"""

# One row per item and pair of its annotators (first key lower): both current answers, with
# when, under which version and in which phase each was given, and how many current answers
# the item has in all. A filter keeps a pair when it keeps both answers, so summing the rows
# gives any selection's pair tables exactly; an item with two answers in all is one row.
PAIRS_SQL = """
    WITH shared AS (
        SELECT item_key, count(*) AS n_answers FROM votes WHERE {scope}
        GROUP BY item_key HAVING count(*) >= 2
    ), v AS (SELECT * FROM votes JOIN shared USING (item_key))
    SELECT a.item_key, a.annotator_key AS key_a, b.annotator_key AS key_b,
           a.label_key AS label_a, b.label_key AS label_b,
           a.annotated_at AS at_a, b.annotated_at AS at_b,
           a.policy_version AS policy_a, b.policy_version AS policy_b,
           a.phase AS phase_a, b.phase AS phase_b, a.n_answers
    FROM v a JOIN v b ON a.item_key = b.item_key AND a.annotator_key < b.annotator_key
"""

# The labels of items whose labels differ or carry an unsure flag: a filter only removes
# labels, so every item the review queue can hold, under any filter, is here with all its labels
# (a few percent of the log; the queue reads them instead of the whole log).
CONTESTED_SQL = """
    WITH x AS (SELECT * FROM annotations WHERE {scope}), c AS (
        SELECT item_key FROM x
        GROUP BY item_key HAVING min(label_key) <> max(label_key) OR bool_or(unsure)
    )
    SELECT x.item_key, x.annotator_key, x.label_key, x.unsure, x.annotated_at,
           x.policy_version, x.phase
    FROM x SEMI JOIN c USING (item_key)
"""

# The intersection over union of boxes aliased ``a`` and ``b`` (pixels, x_max > x_min): the
# same arithmetic as :func:`qualitylib.metrics.boxes.iou`, so SQL and numpy agree bit for bit.
IOU_SQL = """
    (greatest(least(a.x_max, b.x_max) - greatest(a.x_min, b.x_min), 0)
     * greatest(least(a.y_max, b.y_max) - greatest(a.y_min, b.y_min), 0))
    / ((a.x_max - a.x_min) * (a.y_max - a.y_min) + (b.x_max - b.x_min) * (b.y_max - b.y_min)
       - greatest(least(a.x_max, b.x_max) - greatest(a.x_min, b.x_min), 0)
         * greatest(least(a.y_max, b.y_max) - greatest(a.y_min, b.y_min), 0))
"""
OVERLAP_SQL = """
    a.x_min < b.x_max AND b.x_min < a.x_max AND a.y_min < b.y_max AND b.y_min < a.y_max
"""

# One row per box submission (an annotator's boxes on an item at one time; an explicit empty
# row is a submission of 0 boxes): whether it is the annotator's latest on the item, and the
# committee's box set in force when it was made (as-of, like SCORING_SQL: the latest decision
# at or before it, else the item's first), NULL on items the committee has not decided.
# Window functions and a join, not DuckDB's ASOF JOIN, and min() of a submission's version and
# phase (its rows share them) rather than any_value: Spark runs the same query and picks the
# same rows (qualitylib.engines).
BOX_SETS_SQL = """
    WITH s AS (
        SELECT item_key, annotator_key, annotated_at, count(label_key) AS n_boxes,
               min(policy_version) AS policy_version, min(phase) AS phase
        FROM boxes WHERE {scope} GROUP BY item_key, annotator_key, annotated_at
    ), d AS (
        SELECT item_key, decided_at, count(label_key) AS n_ref,
               CASE WHEN row_number() OVER (PARTITION BY item_key ORDER BY decided_at) > 1
                    THEN decided_at END AS valid_from,
               lead(decided_at) OVER (PARTITION BY item_key ORDER BY decided_at) AS valid_until
        FROM box_reference WHERE {scope} GROUP BY item_key, decided_at
    )
    SELECT s.item_key, s.annotator_key, s.annotated_at, s.n_boxes, s.policy_version, s.phase,
           row_number() OVER (PARTITION BY s.item_key, s.annotator_key
                              ORDER BY s.annotated_at DESC) = 1 AS is_current,
           d.decided_at AS ref_decided_at, d.n_ref
    FROM s LEFT JOIN d ON d.item_key = s.item_key
        AND (d.valid_from IS NULL OR s.annotated_at >= d.valid_from)
        AND (d.valid_until IS NULL OR s.annotated_at < d.valid_until)
"""

# Every overlapping (annotator box, committee box) pair of a submission and the committee set
# in force for it, with its IoU: matching at any threshold reads these instead of boxes.
BOX_CANDIDATES_SQL = f"""
    SELECT s.item_key, s.annotator_key, s.annotated_at, a.box_id, b.box_id AS ref_box_id,
           a.label_key, b.label_key AS ref_label_key, {IOU_SQL} AS iou
    FROM (SELECT * FROM box_sets WHERE {{scope}}) s
    JOIN boxes a ON a.item_key = s.item_key AND a.annotator_key = s.annotator_key
                AND a.annotated_at = s.annotated_at
    JOIN box_reference b ON b.item_key = s.item_key AND b.decided_at = s.ref_decided_at
    WHERE a.label_key IS NOT NULL AND b.label_key IS NOT NULL
      AND {OVERLAP_SQL}
"""

# Every overlapping pair of boxes from two annotators' current submissions on one item (first
# annotator key lower), with its IoU: agreement between annotators reads these.
BOX_PAIRS_SQL = f"""
    WITH cur AS (
        SELECT b.* FROM boxes b SEMI JOIN (
            SELECT * FROM box_sets WHERE is_current AND {{scope}}
        ) s USING (item_key, annotator_key, annotated_at)
        WHERE b.label_key IS NOT NULL
    )
    SELECT a.item_key, a.annotator_key AS key_a, b.annotator_key AS key_b, a.box_id AS box_a,
           b.box_id AS box_b, a.label_key AS label_a, b.label_key AS label_b, {IOU_SQL} AS iou
    FROM cur a JOIN cur b ON a.item_key = b.item_key AND a.annotator_key < b.annotator_key
    WHERE {OVERLAP_SQL}
"""

# The box tables derived from the box log, rebuilt for the touched items by every import, in
# this order (candidates and pairs read box_sets).
DERIVED_BOXES: tuple[tuple[str, str], ...] = (
    ("box_sets", BOX_SETS_SQL),
    ("box_candidates", BOX_CANDIDATES_SQL),
    ("box_pairs", BOX_PAIRS_SQL),
)

# Tables derived from the log, rebuilt for the touched items by every import, in this order
# (pairs read votes).
DERIVED: tuple[tuple[str, str], ...] = (
    ("scored", SCORING_SQL),
    ("votes", VOTES_SQL),
    ("pairs", PAIRS_SQL),
    ("contested", CONTESTED_SQL),
)

# Forward migrations: MIGRATIONS[v] brings a store from version v to v + 1.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE schema_version (
            version INTEGER NOT NULL,
            applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
        """CREATE TABLE labels (
            label_key SMALLINT PRIMARY KEY,
            label VARCHAR NOT NULL UNIQUE,
            is_positive BOOLEAN,            -- NULL until a label set is imported
            rank INTEGER,                   -- ordinal position, for weighted coefficients
            color VARCHAR,
            declared BOOLEAN NOT NULL)      -- true when it came from a `labels` import""",
        """CREATE TABLE annotators (
            annotator_key INTEGER NOT NULL,
            annotator_id VARCHAR NOT NULL,
            name VARCHAR,
            team VARCHAR,
            role VARCHAR,                   -- annotator | committee
            started_at TIMESTAMP)""",
        """CREATE TABLE items (
            item_key INTEGER NOT NULL,
            item_id VARCHAR NOT NULL,
            uri VARCHAR,
            metadata JSON)                  -- every other column of an `items` import""",
        """CREATE TABLE annotations (
            item_key INTEGER NOT NULL,
            annotator_key INTEGER NOT NULL,
            label_key SMALLINT NOT NULL,
            reason VARCHAR,
            unsure BOOLEAN NOT NULL,
            annotated_at TIMESTAMP NOT NULL,  -- UTC
            policy_version VARCHAR,
            phase VARCHAR NOT NULL,           -- training | production
            batch VARCHAR,
            import_id INTEGER NOT NULL)""",
        """CREATE TABLE reference (
            item_key INTEGER NOT NULL,
            label_key SMALLINT NOT NULL,
            reason VARCHAR,
            policy_version VARCHAR,
            decided_at TIMESTAMP NOT NULL,    -- UTC; in force from then until the next decision
            decided_by VARCHAR,
            import_id INTEGER NOT NULL)""",
        """CREATE TABLE imports (
            import_id INTEGER PRIMARY KEY,
            kind VARCHAR NOT NULL,
            source_name VARCHAR NOT NULL,
            sha256 VARCHAR NOT NULL,
            n_rows BIGINT NOT NULL,
            n_new_annotators INTEGER NOT NULL,
            n_new_items INTEGER NOT NULL,
            imported_by VARCHAR,
            imported_at TIMESTAMP NOT NULL,
            status VARCHAR NOT NULL)""",
    ],
    [
        # Annotations on reference items with the decision in force when each was made,
        # kept up to date by every import: the metrics against the reference then read a few
        # percent of the log instead of joining all of it on every query.
        """CREATE TABLE scored (
            item_key INTEGER NOT NULL,
            annotator_key INTEGER NOT NULL,
            label_key SMALLINT NOT NULL,
            reason VARCHAR,
            unsure BOOLEAN NOT NULL,
            annotated_at TIMESTAMP NOT NULL,
            policy_version VARCHAR,
            phase VARCHAR NOT NULL,
            batch VARCHAR,
            import_id INTEGER NOT NULL,
            ref_label_key SMALLINT NOT NULL,
            ref_policy_version VARCHAR,
            ref_reason VARCHAR)""",
        "INSERT INTO scored " + SCORING_SQL.format(scope="true"),
    ],
    [
        # Each annotator's current answer per item (their latest label), kept up to date by
        # every import: agreement between annotators reads one row per (item, annotator)
        # instead of deduplicating the whole log on every query.
        """CREATE TABLE votes (
            item_key INTEGER NOT NULL,
            annotator_key INTEGER NOT NULL,
            label_key SMALLINT NOT NULL,
            annotated_at TIMESTAMP NOT NULL,
            policy_version VARCHAR,
            phase VARCHAR NOT NULL,
            n_labels INTEGER NOT NULL)      -- labels this annotator gave the item in all""",
        "INSERT INTO votes " + VOTES_SQL.format(scope="true"),
    ],
    [
        # Agreement between annotators sums pre-paired answers (a scan of a few million narrow
        # rows) instead of self-joining votes on every query; the review queue reads the labels
        # of the few items with something to review instead of grouping the whole log.
        """CREATE TABLE pairs (
            item_key INTEGER NOT NULL,
            key_a INTEGER NOT NULL,
            key_b INTEGER NOT NULL,
            label_a SMALLINT NOT NULL,
            label_b SMALLINT NOT NULL,
            at_a TIMESTAMP NOT NULL,
            at_b TIMESTAMP NOT NULL,
            policy_a VARCHAR,
            policy_b VARCHAR,
            phase_a VARCHAR NOT NULL,
            phase_b VARCHAR NOT NULL,
            n_answers INTEGER NOT NULL)     -- the item's current answers, all annotators""",
        "INSERT INTO pairs " + PAIRS_SQL.format(scope="true"),
        """CREATE TABLE contested (
            item_key INTEGER NOT NULL,
            annotator_key INTEGER NOT NULL,
            label_key SMALLINT NOT NULL,
            unsure BOOLEAN NOT NULL,
            annotated_at TIMESTAMP NOT NULL,
            policy_version VARCHAR,
            phase VARCHAR NOT NULL)""",
        "INSERT INTO contested " + CONTESTED_SQL.format(scope="true"),
    ],
    [
        # Time on task: seconds the annotator spent on the item, from the tools that record
        # it (NULL when unknown, never 0). `scored` is rebuilt so its columns stay the
        # annotation's followed by the decision's (derived tables are filled by position).
        "ALTER TABLE annotations ADD COLUMN duration_s DOUBLE",
        "DROP TABLE scored",
        """CREATE TABLE scored (
            item_key INTEGER NOT NULL,
            annotator_key INTEGER NOT NULL,
            label_key SMALLINT NOT NULL,
            reason VARCHAR,
            unsure BOOLEAN NOT NULL,
            annotated_at TIMESTAMP NOT NULL,
            policy_version VARCHAR,
            phase VARCHAR NOT NULL,
            batch VARCHAR,
            import_id INTEGER NOT NULL,
            duration_s DOUBLE,
            ref_label_key SMALLINT NOT NULL,
            ref_policy_version VARCHAR,
            ref_reason VARCHAR)""",
        "INSERT INTO scored " + SCORING_SQL.format(scope="true"),
    ],
    [
        # Boxes: image sizes, the annotators' boxes and the committee's, and derived tables
        # of submissions and of overlapping box pairs with their IoU (see DERIVED_BOXES).
        "ALTER TABLE items ADD COLUMN width INTEGER",
        "ALTER TABLE items ADD COLUMN height INTEGER",
        """CREATE TABLE boxes (
            box_id BIGINT NOT NULL,
            item_key INTEGER NOT NULL,
            annotator_key INTEGER NOT NULL,
            label_key SMALLINT,               -- NULL: an explicit "drew nothing" row
            x_min DOUBLE, y_min DOUBLE,       -- pixels, origin top-left; NULL when empty
            x_max DOUBLE, y_max DOUBLE,
            object_id VARCHAR,
            duration_s DOUBLE,
            reason VARCHAR,
            unsure BOOLEAN NOT NULL,
            annotated_at TIMESTAMP NOT NULL,  -- UTC; one submission = (item, annotator, time)
            policy_version VARCHAR,
            phase VARCHAR NOT NULL,
            batch VARCHAR,
            import_id INTEGER NOT NULL)""",
        """CREATE TABLE box_reference (
            box_id BIGINT NOT NULL,
            item_key INTEGER NOT NULL,
            label_key SMALLINT,               -- NULL: the committee says "nothing here"
            x_min DOUBLE, y_min DOUBLE,
            x_max DOUBLE, y_max DOUBLE,
            reason VARCHAR,
            policy_version VARCHAR,
            decided_at TIMESTAMP NOT NULL,    -- the item's whole box set from then on
            decided_by VARCHAR,
            import_id INTEGER NOT NULL)""",
        """CREATE TABLE box_sets (
            item_key INTEGER NOT NULL,
            annotator_key INTEGER NOT NULL,
            annotated_at TIMESTAMP NOT NULL,
            n_boxes INTEGER NOT NULL,
            policy_version VARCHAR,
            phase VARCHAR NOT NULL,
            is_current BOOLEAN NOT NULL,      -- the annotator's latest submission on the item
            ref_decided_at TIMESTAMP,         -- committee set in force; NULL: no decision
            n_ref INTEGER)""",
        """CREATE TABLE box_candidates (
            item_key INTEGER NOT NULL,
            annotator_key INTEGER NOT NULL,
            annotated_at TIMESTAMP NOT NULL,
            box_id BIGINT NOT NULL,
            ref_box_id BIGINT NOT NULL,
            label_key SMALLINT NOT NULL,
            ref_label_key SMALLINT NOT NULL,
            iou DOUBLE NOT NULL)""",
        """CREATE TABLE box_pairs (
            item_key INTEGER NOT NULL,
            key_a INTEGER NOT NULL,
            key_b INTEGER NOT NULL,
            box_a BIGINT NOT NULL,
            box_b BIGINT NOT NULL,
            label_a SMALLINT NOT NULL,
            label_b SMALLINT NOT NULL,
            iou DOUBLE NOT NULL)""",
    ],
    [
        # Models are raters of their own kind: one key per (model_id, model_version), their
        # labels in a table of their own, never in the team's log or its derived tables.
        """CREATE TABLE models (
            model_key INTEGER NOT NULL,
            model_id VARCHAR NOT NULL,
            model_version VARCHAR NOT NULL)  -- '' when the predictions gave none""",
        """CREATE TABLE predictions (
            item_key INTEGER NOT NULL,
            model_key INTEGER NOT NULL,
            label_key SMALLINT NOT NULL,
            score DOUBLE,                    -- the model's probability of label_key
            predicted_at TIMESTAMP NOT NULL, -- UTC
            import_id INTEGER NOT NULL)""",
        # People's corrections of a model version's labels (manual fixes), both labels kept.
        """CREATE TABLE fixes (
            item_key INTEGER NOT NULL,
            model_key INTEGER NOT NULL,
            model_label_key SMALLINT NOT NULL,
            fixed_label_key SMALLINT NOT NULL,
            fixed_by VARCHAR,
            fixed_at TIMESTAMP NOT NULL,     -- UTC
            import_id INTEGER NOT NULL)""",
    ],
    [
        # Undone imports (`qualitylib imports remove`): the import's row stays in `imports`
        # with status 'removed'; who removed it, when, and how many rows went.
        """CREATE TABLE removals (
            import_id INTEGER NOT NULL,
            n_rows BIGINT NOT NULL,
            removed_by VARCHAR,
            removed_at TIMESTAMP NOT NULL)""",
    ],
    [
        # A model's whole distribution when the predictions give ``score_<label>`` columns:
        # one row per prediction and label given (long, so a label added later needs no
        # schema change); ``predictions.score`` stays the predicted label's probability.
        """CREATE TABLE prediction_scores (
            item_key INTEGER NOT NULL,
            model_key INTEGER NOT NULL,
            predicted_at TIMESTAMP NOT NULL, -- with item and model: the prediction
            label_key SMALLINT NOT NULL,
            score DOUBLE NOT NULL,           -- the model's probability of label_key
            import_id INTEGER NOT NULL)""",
    ],
]

LOCK_RETRY_SECONDS = 30.0
MEMORY_LIMIT = os.environ.get("QUALITYLIB_MEMORY_LIMIT", "1GB")
# A writer refused by readers leaves this marker, refreshed at every attempt; new read-only
# opens wait while it is fresh, so a busy dashboard cannot starve an import (DuckDB locks the
# file per process: while any reader holds it, no writer gets in, and vice versa).
WRITER_WAITING = ".writer-waiting"
WRITER_WAITING_STALE_SECONDS = 5.0


def _is_lock_error(error: duckdb.Error) -> bool:
    """True when DuckDB refused the file because another process holds its lock."""
    return "lock" in str(error).lower()


def _writer_waiting(marker: Path) -> bool:
    """True while a writer waits for the file (its marker is fresh)."""
    try:
        return time.time() - marker.stat().st_mtime < WRITER_WAITING_STALE_SECONDS
    except FileNotFoundError:
        return False


def _open(
    path: str,
    read_only: bool,
    retry_seconds: float,
    on_busy: Callable[[str], None] | None,
) -> duckdb.DuckDBPyConnection:
    """Open the file, retrying while another process holds its lock or a writer waits."""
    deadline = time.monotonic() + retry_seconds
    marker = Path(path + WRITER_WAITING)
    delay = 0.05
    warned = False
    while True:
        error: duckdb.IOException | None = None
        if not (read_only and _writer_waiting(marker) and time.monotonic() < deadline):
            try:
                con = duckdb.connect(path, read_only=read_only)
            except duckdb.IOException as refused:
                if not _is_lock_error(refused):
                    first = str(refused).splitlines()[0]
                    raise QualitylibError(f"store {path}: cannot open it ({first})") from refused
                error = refused
            else:
                if not read_only:
                    marker.unlink(missing_ok=True)
                return con
            if not read_only:
                marker.touch()
            if time.monotonic() >= deadline:
                if not read_only:
                    marker.unlink(missing_ok=True)
                raise QualitylibError(
                    f"store {path} is busy (another process is using it); "
                    f"gave up after {retry_seconds:.0f} s, try again later"
                ) from error
        if not warned and on_busy is not None:
            on_busy(f"store {path} is busy, retrying for up to {retry_seconds:.0f} s")
            warned = True
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def _warn_stderr(message: str) -> None:
    print(message, file=sys.stderr)


DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file


def check_store_file(path: Path) -> None:
    """Refuse a ``--db`` that is not a store before DuckDB opens it: a directory, a FIFO or a
    device (which would hang), or a file that is not a DuckDB database (an import would
    otherwise end in a traceback). A missing path is a new store."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as error:
        raise QualitylibError(f"store {path}: cannot open it ({error.strerror})") from None
    if stat.S_ISDIR(mode):
        raise QualitylibError(f"store {path} is a directory: give --db the path of a store file")
    if not stat.S_ISREG(mode):
        raise QualitylibError(f"store {path} is not a regular file: give --db a store file")
    with path.open("rb") as handle:
        head = handle.read(12)
    if head and head[8:12] != DUCKDB_MAGIC:
        raise QualitylibError(
            f"store {path} is not a qualitylib store (not a DuckDB database file); "
            "give --db a store, or a new file name to create one"
        )


@contextmanager
def connect(
    db_path: str | Path,
    read_only: bool = False,
    retry_seconds: float = LOCK_RETRY_SECONDS,
    on_busy: Callable[[str], None] | None = _warn_stderr,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection to the store; a writer creates or migrates the schema.

    Read-only connections let the dashboard read while an import waits for its turn; both
    kinds retry for ``retry_seconds`` when another process holds the file's lock.
    """
    path = str(db_path)
    if read_only and not Path(path).exists():
        raise QualitylibError(
            f"no store at {path}: create one with `qualitylib import` or `qualitylib demo`"
        )
    check_store_file(Path(path))
    con = _open(path, read_only, retry_seconds, on_busy)
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")  # imports turn it on for a terminal
        # DuckDB spills what does not fit (next to the store file): a large import then peaks
        # near the limit instead of several times it (benchmarks/RESULTS.md has the numbers).
        con.execute("SET memory_limit = $limit", {"limit": MEMORY_LIMIT})
        if read_only:
            check_version(con)
        else:
            migrate(con)
        yield con
    finally:
        con.close()


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> object:
    """The first value of a one-row query (read fully, so the connection is free again)."""
    rows = con.execute(sql, params).fetchall()
    return rows[0][0] if rows else None


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    """The store's schema version; 0 for an empty file."""
    # duckdb_tables(), not information_schema (13 ms against 1 ms: every dashboard query opens
    # a short-lived connection, and this runs on each)
    exists = scalar(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'schema_version'")
    if not exists:
        return 0
    return int(scalar(con, "SELECT coalesce(max(version), 0) FROM schema_version"))


def check_version(con: duckdb.DuckDBPyConnection) -> None:
    """Refuse a store written by a newer qualitylib, or one that was never initialised."""
    version = schema_version(con)
    if version > SCHEMA_VERSION:
        raise QualitylibError(
            f"this store has schema version {version}, newer than this qualitylib "
            f"({SCHEMA_VERSION}): upgrade qualitylib"
        )
    if version < SCHEMA_VERSION:
        raise QualitylibError(
            f"this store has schema version {version}; open it once for writing "
            "(e.g. `qualitylib import`) to migrate it"
        )


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Apply every pending forward migration in one transaction; return the new version."""
    version = schema_version(con)
    if version > SCHEMA_VERSION:
        check_version(con)
    if version == SCHEMA_VERSION:
        return version
    con.execute("BEGIN TRANSACTION")
    try:
        for target in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[target]:
                con.execute(statement)
            con.execute("INSERT INTO schema_version (version) VALUES (?)", [target + 1])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION


def rescore(con: duckdb.DuckDBPyConnection, first_import_id: int) -> None:
    """Bring the :data:`DERIVED` tables up to date for the items touched by imports from
    ``first_import_id`` on; runs inside the importing transaction, so all commit together."""
    earlier = scalar(con, "SELECT count(*) FROM annotations WHERE import_id < ?", [first_import_id])
    if not earlier:  # the first log import: derive everything, no per-item bookkeeping
        for table, sql in DERIVED:
            con.execute(f"DELETE FROM {table}")
            con.execute(f"INSERT INTO {table} " + sql.format(scope="true"))
        return
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _touched AS
           SELECT item_key FROM annotations WHERE import_id >= $first
           UNION SELECT item_key FROM reference WHERE import_id >= $first""",
        {"first": first_import_id},
    )
    rescore_touched(con)


def rescore_touched(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the :data:`DERIVED` rows of the items in temp table ``_touched(item_key)``
    (then dropped), inside the caller's transaction."""
    scope = "item_key IN (SELECT item_key FROM _touched)"
    for table, sql in DERIVED:
        con.execute(f"DELETE FROM {table} WHERE {scope}")
        con.execute(f"INSERT INTO {table} " + sql.format(scope=scope))
    con.execute("DROP TABLE _touched")


def rescore_boxes(con: duckdb.DuckDBPyConnection, first_import_id: int) -> None:
    """Bring the :data:`DERIVED_BOXES` tables up to date for the items whose boxes or committee
    boxes imports from ``first_import_id`` on touched; inside the importing transaction."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _touched_boxes AS
           SELECT DISTINCT item_key FROM boxes WHERE import_id >= $first
           UNION SELECT item_key FROM box_reference WHERE import_id >= $first""",
        {"first": first_import_id},
    )
    rescore_touched_boxes(con)


def rescore_touched_boxes(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild the :data:`DERIVED_BOXES` rows of the items in temp table
    ``_touched_boxes(item_key)`` (then dropped), inside the caller's transaction."""
    if scalar(con, "SELECT count(*) FROM _touched_boxes"):
        scope = "item_key IN (SELECT item_key FROM _touched_boxes)"
        for table, sql in DERIVED_BOXES:
            con.execute(f"DELETE FROM {table} WHERE {scope}")
            con.execute(f"INSERT INTO {table} " + sql.format(scope=scope))
    con.execute("DROP TABLE _touched_boxes")


# Box classes: labels that boxes use and nothing else does (no label, reference decision,
# prediction or fix), so a store's tag label set leaves them out.
BOX_ONLY_LABELS_SQL = """
    SELECT label_key FROM (
        SELECT label_key FROM boxes UNION SELECT label_key FROM box_reference
    ) WHERE label_key IS NOT NULL
    EXCEPT
    SELECT label_key FROM (
        SELECT label_key FROM annotations UNION SELECT label_key FROM reference
        UNION SELECT label_key FROM predictions UNION SELECT model_label_key FROM fixes
        UNION SELECT fixed_label_key FROM fixes
    )
"""


def label_set(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The label set in rank order: ``label_key, label, is_positive, rank, color``.

    Without an imported label set, every label other than the most frequent one counts as
    positive (the usual "safe vs flagged reasons" shape of a policy); only then is the log
    scanned for label frequencies. Box classes (:data:`BOX_ONLY_LABELS_SQL`) are not part of
    it: a store holding a tagging and a box-drawing project keeps the tag tables unchanged.
    """
    labels = con.execute(
        "SELECT label_key, label, declared, is_positive, rank, color FROM labels "
        "ORDER BY rank NULLS LAST, label"
    ).df()
    if scalar(con, "SELECT EXISTS (SELECT 1 FROM boxes) OR EXISTS (SELECT 1 FROM box_reference)"):
        box_only = [row[0] for row in con.execute(BOX_ONLY_LABELS_SQL).fetchall()]
        labels = labels[~labels["label_key"].isin(box_only)].reset_index(drop=True)
    undeclared = ~labels["declared"].astype(bool)
    positive = labels["is_positive"].astype("boolean").fillna(False).astype(bool)
    if undeclared.any():
        majority = scalar(
            con,
            """SELECT l.label_key FROM labels l LEFT JOIN (
                   SELECT label_key, count(*) AS n FROM annotations GROUP BY label_key
               ) f USING (label_key)
               ORDER BY coalesce(f.n, 0) DESC, l.label LIMIT 1""",
        )
        positive = positive.where(~undeclared, labels["label_key"] != majority)
    labels["is_positive"] = positive.astype(bool)
    return labels.drop(columns="declared").reset_index(drop=True)
