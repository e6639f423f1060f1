"""History of the reference set: every committee decision, the one it replaced, who and why.

The reference table is append-only (a re-decision is a new row from its ``decided_at`` on), so
the history is a window over it: nothing is overwritten, nothing needs a separate log.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from qualitylib.metrics.filters import Filters


def reference_history(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None
) -> pd.DataFrame:
    """One row per decision, newest first, with the decision it replaced.

    Columns: ``item_id, decided_at, label, policy_version, reason, decided_by,
    previous_label, previous_decided_at, previous_reason, changed, source_name, imported_by,
    imported_at``. ``filters`` restricts by decision time (``since``/``until``) only.
    """
    filters = filters or Filters()
    return con.execute(
        """
        SELECT i.item_id, r.decided_at, l.label, r.policy_version, r.reason, r.decided_by,
               lag(l.label) OVER w AS previous_label,
               lag(r.decided_at) OVER w AS previous_decided_at,
               lag(r.reason) OVER w AS previous_reason,
               coalesce(lag(l.label) OVER w <> l.label, false) AS changed,
               m.source_name, m.imported_by, m.imported_at
        FROM reference r
        JOIN items i USING (item_key)
        JOIN labels l USING (label_key)
        JOIN imports m USING (import_id)
        WHERE ($since IS NULL OR r.decided_at >= CAST($since AS TIMESTAMP))
          AND ($until IS NULL OR r.decided_at < CAST($until AS DATE) + INTERVAL 1 DAY)
        WINDOW w AS (PARTITION BY r.item_key ORDER BY r.decided_at)
        ORDER BY r.decided_at DESC, i.item_id
        """,
        {"since": filters.since, "until": filters.until},
    ).df()
