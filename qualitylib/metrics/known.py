"""Filter values the store knows: a typo in a team or annotator is an error, not an empty table.

A filter naming a team, annotator, label or policy version that no row holds selects nothing,
and a command would then write an empty table and succeed; :func:`require_known` and
:func:`check_filters` raise a :class:`~qualitylib.errors.QualitylibError` naming the value and
listing the known ones instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import duckdb

from qualitylib.errors import QualitylibError
from qualitylib.metrics.filters import Filters

Kind = Literal["team", "annotator", "label", "policy version"]
KNOWN_SQL: dict[Kind, str] = {
    "team": "SELECT DISTINCT team FROM annotators WHERE team IS NOT NULL",
    "annotator": "SELECT annotator_id FROM annotators",
    "label": "SELECT label FROM labels",
    # scored and contested hold a subset of the log's versions, and all of them in a store
    # built without the log (`cubes --no-log`)
    "policy version": (
        "SELECT policy_version FROM annotations WHERE policy_version IS NOT NULL "
        "UNION SELECT policy_version FROM scored WHERE policy_version IS NOT NULL "
        "UNION SELECT policy_version FROM contested WHERE policy_version IS NOT NULL"
    ),
}
LISTED = 20  # known values named in the message; the rest are counted


def known_values(con: duckdb.DuckDBPyConnection, kind: Kind) -> list[str]:
    """Every value of ``kind`` in the store, sorted."""
    return sorted(str(row[0]) for row in con.execute(KNOWN_SQL[kind]).fetchall())


def _listing(values: list[str]) -> str:
    """``a, b, c`` (the first :data:`LISTED`, then how many more), or ``none``."""
    if not values:
        return "none"
    more = len(values) - LISTED
    return ", ".join(values[:LISTED]) + (f" and {more:,} more" if more > 0 else "")


def require_known(con: duckdb.DuckDBPyConnection, kind: Kind, given: Iterable[str]) -> None:
    """Raise when a value of ``given`` is not a ``kind`` of the store (message lists the known)."""
    wanted = list(dict.fromkeys(given))
    if not wanted:
        return
    known = known_values(con, kind)
    unknown = [value for value in wanted if value not in set(known)]
    if unknown:
        raise QualitylibError(
            f"no {kind} named {unknown[0]!r} in this store ({kind}s: {_listing(known)})"
        )


def check_filters(con: duckdb.DuckDBPyConnection, filters: Filters) -> None:
    """Raise when ``filters`` name a team, annotator or policy version the store lacks."""
    require_known(con, "team", filters.teams)
    require_known(con, "annotator", filters.annotators)
    require_known(con, "policy version", filters.policy_versions)
