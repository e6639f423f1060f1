"""Which annotations a metric looks at: time window, team, policy version, phase, people, slice.

Filters become one SQL WHERE fragment with named, bound parameters (never formatted values),
applied in the single place every metric reads the log from (:mod:`qualitylib.metrics.counts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

# The annotation columns a filter reads; a table naming them differently passes its own names.
COLUMNS = {
    "annotated_at": "annotated_at",
    "annotator_key": "annotator_key",
    "policy_version": "policy_version",
    "phase": "phase",
    "item_key": "item_key",
}


def _start(value: date | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time())


@dataclass(frozen=True)
class Filters:
    """A selection of the label log; empty fields select everything.

    ``since``/``until`` are inclusive; a date ``until`` includes that whole day.
    ``slice_column``/``slice_values`` restrict to items whose metadata column has one of
    the values (e.g. ``source`` in ``("net-a",)``).
    """

    since: date | datetime | None = None
    until: date | datetime | None = None
    teams: tuple[str, ...] = ()
    policy_versions: tuple[str, ...] = ()
    phases: tuple[str, ...] = ()
    annotators: tuple[str, ...] = ()
    slice_column: str | None = None
    slice_values: tuple[str, ...] = ()

    def where(
        self, alias: str = "x", columns: Mapping[str, str] = COLUMNS
    ) -> tuple[str, dict[str, object]]:
        """SQL condition on annotations aliased ``alias``, and its parameters.

        ``columns`` maps the names in :data:`COLUMNS` to the table's own (one side of a pair).
        """
        clauses: list[str] = []
        params: dict[str, object] = {}
        at, who = f"{alias}.{columns['annotated_at']}", f"{alias}.{columns['annotator_key']}"
        if self.since is not None:
            clauses.append(f"{at} >= $f_since")
            params["f_since"] = _start(self.since)
        if self.until is not None:
            end = (
                self.until
                if isinstance(self.until, datetime)
                else _start(self.until) + timedelta(days=1)
            )
            op = "<=" if isinstance(self.until, datetime) else "<"
            clauses.append(f"{at} {op} $f_until")
            params["f_until"] = end
        if self.teams:
            clauses.append(
                f"{who} IN (SELECT annotator_key FROM annotators "
                "WHERE team IN (SELECT unnest($f_teams)))"
            )
            params["f_teams"] = list(self.teams)
        if self.annotators:
            clauses.append(
                f"{who} IN (SELECT annotator_key FROM annotators "
                "WHERE annotator_id IN (SELECT unnest($f_annotators)))"
            )
            params["f_annotators"] = list(self.annotators)
        if self.policy_versions:
            clauses.append(f"{alias}.{columns['policy_version']} IN (SELECT unnest($f_policies))")
            params["f_policies"] = list(self.policy_versions)
        if self.phases:
            clauses.append(f"{alias}.{columns['phase']} IN (SELECT unnest($f_phases))")
            params["f_phases"] = list(self.phases)
        if self.slice_column is not None:
            clauses.append(
                f"{alias}.{columns['item_key']} IN (SELECT item_key FROM items "
                "WHERE json_extract_string(metadata, '$.' || $f_slice_column) "
                "IN (SELECT unnest($f_slice_values)))"
            )
            params["f_slice_column"] = self.slice_column
            params["f_slice_values"] = list(self.slice_values)
        return (" AND ".join(clauses) or "true"), params


def annotators_kept(con: duckdb.DuckDBPyConnection, filters: Filters) -> list[str]:
    """Ids of the annotators (not the committee) with labels under ``filters``, sorted: the
    people a filtered view can be about (a person picker lists these and no one else)."""
    # here, not at the top: counts builds on this module
    from qualitylib.metrics.counts import activity_sql

    source, params = activity_sql(con, filters)
    rows = con.execute(
        f"""SELECT annotator_id FROM annotators
            WHERE role IS DISTINCT FROM 'committee' AND annotator_key IN (
                SELECT f.annotator_key FROM {source} AS f)
            ORDER BY annotator_id""",
        params,
    ).fetchall()
    return [row[0] for row in rows]
