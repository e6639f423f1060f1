"""Item lists behind the rates: a person's misses against the committee, the items a pair of
annotators labelled differently, and the store as the long table the agreement API takes.

Lists are cut at ``limit`` rows (what a page can show) and carry the full count beside them,
so "1,204 misses (latest 500 shown)" needs one query.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import duckdb
import pandas as pd

from qualitylib.log_scope import LogNeeded, log_omitted, require_log
from qualitylib.metrics.counts import latest_sql, pairs_sql, scored_sql
from qualitylib.metrics.filters import Filters

__all__ = ["ItemList", "disagreements", "long_table", "misses"]

LIMIT = 500


@dataclass(frozen=True)
class ItemList:
    """The first ``limit`` rows of a list (``items``) and how many rows it has in all."""

    items: pd.DataFrame
    total: int


def _cut(frame: pd.DataFrame, column: str) -> ItemList:
    total = int(frame[column].iloc[0]) if len(frame) else 0
    return ItemList(frame.drop(columns=column), total)


def _check_limit(limit: int) -> None:
    if not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive integer (got {limit!r})")


def misses(
    con: duckdb.DuckDBPyConnection,
    filters: Filters,
    annotator_id: str,
    labels: tuple[str, ...] = (),
    limit: int = LIMIT,
) -> ItemList:
    """``annotator_id``'s labels that differ from the committee's decision in force, latest
    first (the trainer's debrief).

    ``labels``: only items whose reference label is one of these (all when empty). Columns:
    ``item_id, uri, annotated_at, phase, policy_version, reference_label, reference_reason,
    given_label, given_reason, unsure``.
    """
    _check_limit(limit)
    scored, params = scored_sql(replace(filters, annotators=(annotator_id,)))
    frame = con.execute(
        f"""SELECT i.item_id, i.uri, s.annotated_at, s.phase, s.policy_version,
                   r.label AS reference_label, s.ref_reason AS reference_reason,
                   g.label AS given_label, s.reason AS given_reason, s.unsure,
                   count(*) OVER () AS n_rows
            FROM {scored} AS s
            JOIN items i USING (item_key)
            JOIN labels r ON r.label_key = s.ref_label_key
            JOIN labels g ON g.label_key = s.label_key
            WHERE s.label_key <> s.ref_label_key
              AND (len($labels) = 0 OR r.label IN (SELECT unnest($labels)))
            ORDER BY s.annotated_at DESC, i.item_id
            LIMIT $limit""",
        params | {"labels": list(labels), "limit": limit},
    ).df()
    return _cut(frame, "n_rows")


def disagreements(
    con: duckdb.DuckDBPyConnection,
    filters: Filters,
    annotator_a: str,
    annotator_b: str,
    limit: int = LIMIT,
) -> ItemList:
    """Items ``annotator_a`` and ``annotator_b`` both answered, differently (each one's current
    answer, the pairs :func:`~qualitylib.metrics.team_agreement.pairwise_kappa` counts), by
    item id. Columns: ``item_id, uri, label_a, label_b`` (``label_a`` is ``annotator_a``'s)."""
    _check_limit(limit)
    if log_omitted(con):
        raise LogNeeded("The items a pair labelled differently")
    paired, params = pairs_sql(replace(filters, annotators=(annotator_a, annotator_b)))
    frame = con.execute(
        f"""WITH p AS (
                SELECT p.*, aa.annotator_id AS id_a FROM {paired} AS p
                JOIN annotators aa ON aa.annotator_key = p.key_a
                WHERE p.label_a <> p.label_b
            )
            SELECT i.item_id, i.uri,
                   CASE WHEN p.id_a = $first THEN la.label ELSE lb.label END AS label_a,
                   CASE WHEN p.id_a = $first THEN lb.label ELSE la.label END AS label_b,
                   count(*) OVER () AS n_rows
            FROM p JOIN items i USING (item_key)
            JOIN labels la ON la.label_key = p.label_a
            JOIN labels lb ON lb.label_key = p.label_b
            ORDER BY i.item_id
            LIMIT $limit""",
        params | {"first": annotator_a, "limit": limit},
    ).df()
    return _cut(frame, "n_rows")


def long_table(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> pd.DataFrame:
    """The store as ``item_id, annotator_id, label``: each annotator's current answer per item
    under ``filters`` (as agreement counts them), for :mod:`qualitylib.agreement` and other
    tools that take the long table. One row per answer: for small stores and samples; the
    store-facing metrics never need it."""
    require_log(con, "The long table of answers")
    latest, params = latest_sql(filters or Filters())
    return con.execute(
        f"""SELECT i.item_id, a.annotator_id, l.label FROM {latest} AS v
            JOIN items i USING (item_key) JOIN annotators a USING (annotator_key)
            JOIN labels l USING (label_key)
            ORDER BY i.item_id, a.annotator_id""",
        params,
    ).df()
