"""What a store without the label log (`qualitylib cubes --no-log`) serves, and the one-line
refusal of everything else.

Such a store holds the dimensions, the committee's decisions and the derived extracts a few
percent of the log's size: ``scored`` (the labels on reference items, with the decision in
force) and ``contested`` (the labels of disputed items); of ``items``, only those the kept
tables name. It leaves out the log-sized tables: ``annotations``, ``votes`` (each answer per
item) and ``pairs`` (pairs of answers per item), and a model's ``predictions`` with their
``prediction_scores`` (one row per item and model version: as many rows as the items, more
than the log when a model runs in several versions). It keeps count tables computed from the
log instead (:data:`qualitylib.engines.contract.COUNTS`: ``activity``, labels per annotator,
day, policy version and phase, which serves the filters' choices, who labelled when, and label
volumes; ``pair_counts``, pairs of answers per annotator pair, label pair and each side's week,
version and phase, which serves every pair's Cohen's kappa).
It keeps what is not the label log and stays small: ``models``, people's ``fixes`` (one row
per correction a person made) and the box project (``boxes``, ``box_reference`` and their
derived tables: boxes are drawn by people, far fewer than tags, and every box export reads
only them).
The exports in :data:`SERVED_EXPORTS` read only the kept tables and give the same rows as on
the full store under any filter (tests/test_engines.py); so do the dashboard's pages and the
weekly report's sections but those that need the log, which say so in one line
(:func:`needs_log_message`; tests/test_no_log_pages.py). Every other export (every model
export reads the predictions), Dawid-Skene skill and imports into the store need the log and
refuse.
"""

from __future__ import annotations

import duckdb

from qualitylib.errors import QualitylibError

# The marker table `cubes --no-log` writes (absent from every other store): each table left
# out, with the rows it has in the lake. Not in the schema: a store either has it or not.
MARKER = "log_omitted"
OMITTED = ("annotations", "votes", "pairs", "predictions", "prediction_scores")

# Exports read from `scored`, `contested`, `reference` and the dimensions only, and the box
# exports.
SERVED_EXPORTS = frozenset(
    {
        "annotator-summary",
        "confusion",
        "audit",
        "drift-alerts",
        "onboarding",
        "review-queue",
        "gold-budget",
        "gold-exposure",
        "timeline",  # its label volumes from the activity count table
        "stale-policy",  # labels on re-decided items: reference items, all in `scored`
    }
    # the box project's exports, from the box tables and the dimensions only
    | {
        "box-summary",
        "box-errors",
        "box-confusion",
        "box-agreement",
        "consensus-boxes",
        "box-timeline",
        "box-onboarding",
        "box-drift-alerts",
        "box-sizes",
        "box-time-on-task",
    }
)


# What the dashboard and the report say of such a store: they show what it serves.
LOG_SECTIONS_NOTE = (
    "this store leaves out the label log (built by `qualitylib cubes --no-log`): the dashboard "
    "and the report show what its kept tables serve, with the same numbers as the full store, "
    "and say in one line which sections need the log (team agreement coefficients, "
    "Dawid-Skene, behaviour, time on task, models)"
)


def log_omitted(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store was built without the label log."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main' "
        "AND database_name = current_database()",
        [MARKER],
    ).fetchone()
    return bool(found and found[0])


def left_out_rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Rows the lake held of ``table`` that the store left out (0 on a store with the log)."""
    if not log_omitted(con):
        return 0
    found = con.execute(f"SELECT n_rows FROM {MARKER} WHERE table_name = ?", [table]).fetchone()
    return int(found[0] or 0) if found else 0


def needs_log_message(what: str) -> str:
    """The one line that says ``what`` needs the log, and what the store serves instead."""
    return (
        f"{what} needs the label log, which this store leaves out (built by `qualitylib cubes "
        "--no-log`): build it again without --no-log, or export one of "
        f"{', '.join(sorted(SERVED_EXPORTS))}"
    )


class LogNeeded(QualitylibError):
    """``what`` needs the label log, which the store leaves out: the message says so."""

    def __init__(self, what: str) -> None:
        super().__init__(needs_log_message(what))


def require_log(con: duckdb.DuckDBPyConnection, what: str) -> None:
    """Refuse ``what`` on a store built without the label log."""
    if log_omitted(con):
        raise LogNeeded(what)
