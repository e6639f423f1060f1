"""What the store holds: people, teams, label counts, weeks, policy versions, imports.

The small look-ups that pages and reports need beside the metrics (filter choices, who
labelled, how many labels), so that no renderer writes SQL of its own.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import duckdb
import pandas as pd

from qualitylib.metrics.counts import activity_sql
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.periods import iso_week
from qualitylib.store import label_set

__all__ = [
    "annotators",
    "filter_options",
    "import_history",
    "last_day",
    "last_week_with_labels",
    "latest_week",
    "n_labels",
    "newcomers",
    "people",
    "policy_versions",
    "teams",
]


BOX_LABELS_SQL = """
    SELECT label FROM labels WHERE label_key IN (
        SELECT label_key FROM boxes UNION SELECT label_key FROM box_reference)
    ORDER BY label
"""


def filter_options(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """What a filter can choose: ``first_day, last_day`` (of the labels, the boxes and the
    model predictions, so the Models page can select their days; UTC; None when there are none),
    ``teams``, ``policy_versions``, ``labels`` (the tag label set, in rank order) and
    ``box_labels`` (the classes of boxes, sorted)."""
    labelled, params = activity_sql(con, Filters())
    first, last = con.execute(
        "SELECT min(lo)::DATE, max(hi)::DATE FROM ("
        f"SELECT min(first_at) AS lo, max(last_at) AS hi FROM {labelled} AS f "
        "UNION ALL SELECT min(predicted_at), max(predicted_at) FROM predictions "
        "UNION ALL SELECT min(annotated_at), max(annotated_at) FROM boxes)",
        params,
    ).fetchall()[0]
    policies = con.execute(
        f"SELECT DISTINCT policy_version FROM (SELECT policy_version FROM {labelled} AS f "
        "UNION ALL SELECT policy_version FROM boxes) "
        "WHERE policy_version IS NOT NULL ORDER BY policy_version",
        params,
    ).fetchall()
    return {
        "first_day": first,
        "last_day": last,
        "teams": teams(con),
        "policy_versions": [row[0] for row in policies],
        "labels": label_set(con)["label"].tolist(),  # the tag labels (no box classes)
        "box_labels": [row[0] for row in con.execute(BOX_LABELS_SQL).fetchall()],
    }


def teams(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The teams annotators belong to, sorted."""
    rows = con.execute(
        "SELECT DISTINCT team FROM annotators WHERE team IS NOT NULL ORDER BY team"
    ).fetchall()
    return [row[0] for row in rows]


def annotators(
    con: duckdb.DuckDBPyConnection, scope: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """Everyone in the store (or in ``scope``): ``annotator_id, name, team, role, started_at``."""
    return con.execute(
        "SELECT annotator_id, name, team, role, started_at FROM annotators "
        "WHERE $everyone OR annotator_id IN (SELECT unnest($scope)) ORDER BY annotator_id",
        {"everyone": scope is None, "scope": list(scope or ())},
    ).df()


def people(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> pd.DataFrame:
    """Everyone with labels under ``filters``: ``annotator_id, name, team, role``."""
    source, params = activity_sql(con, filters or Filters())
    return con.execute(
        f"""SELECT annotator_id, name, team, role FROM annotators
            WHERE annotator_key IN (SELECT annotator_key FROM {source} AS f)
            ORDER BY annotator_id""",
        params,
    ).df()


def n_labels(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> int:
    """Labels made under ``filters`` (every label, on reference items or not)."""
    source, params = activity_sql(con, filters or Filters())
    found = con.execute(f"SELECT sum(n_labels) FROM {source} AS f", params).fetchall()[0][0]
    return int(found or 0)


def latest_week(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> date | None:
    """Monday of the latest ISO week with labels under ``filters`` (None when there are none)."""
    source, params = activity_sql(con, filters or Filters())
    return con.execute(
        f"SELECT date_trunc('week', max(last_at))::DATE FROM {source} AS f", params
    ).fetchall()[0][0]


def last_day(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> date | None:
    """The day a selection ends: ``filters.until`` (a date, or a time's day), else the day of
    its latest label; None when it holds no label. Statuses and open alerts are as of it."""
    filters = filters or Filters()
    if filters.until is not None:
        until = filters.until
        return until.date() if isinstance(until, datetime) else until
    source, params = activity_sql(con, filters)
    return con.execute(f"SELECT max(last_at)::DATE FROM {source} AS f", params).fetchall()[0][0]


def last_week_with_labels(
    con: duckdb.DuckDBPyConnection, filters: Filters | None, before: date
) -> str | None:
    """The last complete ISO week (``2026-W47``) ending before ``before`` in which ``filters``
    select labels: a report's default week (older than last week when the feed stopped).
    None when there are none."""
    sunday = before - timedelta(days=before.isoweekday())
    chosen = replace(filters or Filters(), until=sunday)
    source, params = activity_sql(con, chosen)
    latest = con.execute(f"SELECT max(last_at) FROM {source} AS f", params).fetchall()[0][0]
    where, box_params = chosen.where("s")  # boxes are labels too
    boxed = con.execute(
        f"SELECT max(s.annotated_at) FROM box_sets s WHERE {where}", box_params
    ).fetchall()[0][0]
    latest = max((t for t in (latest, boxed) if t is not None), default=None)
    return None if latest is None else iso_week(latest.date())


def newcomers(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> list[str]:
    """Annotators with labels in the training phase under ``filters``, sorted."""
    source, params = activity_sql(con, filters or Filters())
    rows = con.execute(
        f"""SELECT DISTINCT a.annotator_id FROM {source} AS f
            JOIN annotators a USING (annotator_key)
            WHERE f.phase = 'training' ORDER BY 1""",
        params,
    ).fetchall()
    return [row[0] for row in rows]


def policy_versions(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None, counted_from: date | None = None
) -> pd.DataFrame:
    """Policy versions labelled under ``filters``, oldest first: ``policy_version,
    first_label_at, n_labels_week`` (labels under it from ``counted_from`` on; all without)."""
    source, params = activity_sql(con, filters or Filters())
    return con.execute(
        f"""SELECT policy_version, min(first_at) AS first_label_at,
                   CAST(coalesce(sum(n_labels) FILTER (
                       WHERE $since IS NULL OR first_at >= $since), 0) AS BIGINT)
                       AS n_labels_week
            FROM {source} AS f WHERE policy_version IS NOT NULL
            GROUP BY policy_version ORDER BY first_label_at, policy_version""",
        params | {"since": counted_from},
    ).df()


def import_history(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every import, newest first (the ``imports`` table)."""
    return con.execute("SELECT * FROM imports ORDER BY import_id DESC").df()
