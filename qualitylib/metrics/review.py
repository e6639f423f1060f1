r"""The committee's review queue: items on which annotators disagree or say they are unsure.

Per item, over the labels passing the filters (each annotation is a vote), SQL computes the
vote entropy

.. math::  H = -\sum_c \frac{n_c}{n} \log_2 \frac{n_c}{n}

in bits (Dagan & Engelson 1995, "committee-based sampling"), the share of ``unsure`` flags,
whether the votes split between the positive (flagged) and negative side, and who gave which
label. ``score = H + unsure_share``; items with score 0 (unanimous, nobody unsure) are left
out, and so are items the committee decided at or after their latest label (already ruled).
Items decided *before* their labels stay, with ``reference_label``: annotators disagreeing
with an existing decision may mean the decision needs another look.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from qualitylib.metrics.counts import filtered_sql, label_index
from qualitylib.metrics.filters import Filters

__all__ = ["review_queue"]


def review_queue(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None, limit: int | None = None
) -> pd.DataFrame:
    """Items ranked by ``score`` (highest first; ties by more labels, then item id).

    Columns: ``item_id, uri, n_labels, n_annotators, vote_entropy`` (bits), ``n_unsure,
    unsure_share, split`` (votes on both the positive and negative side), ``majority_label,
    labels`` (e.g. ``"safe: alice, bob?; nudity: carol"``, ``?`` marks an unsure label;
    most-given label first), ``reference_label`` (decision in force, if any, made before the
    labels), ``last_label_at, score``.
    """
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None (got {limit!r})")
    source, params = filtered_sql(filters or Filters())
    index = label_index(con)
    positive = [int(k) for k in index.labels.loc[index.positive, "label_key"]]
    limit_sql = "LIMIT $limit" if limit is not None else ""
    if limit is not None:
        params = params | {"limit": limit}
    return con.execute(
        f"""WITH v AS (
                SELECT f.item_key, f.label_key, f.unsure, f.annotated_at, a.annotator_id
                FROM {source} AS f JOIN annotators a USING (annotator_key)
            ), per_item AS (
                SELECT item_key, count(*) AS n_labels,
                       count(DISTINCT annotator_id) AS n_annotators,
                       count(*) FILTER (WHERE unsure) AS n_unsure,
                       max(annotated_at) AS last_label_at,
                       bool_or(list_contains($positive, label_key))
                           AND bool_or(NOT list_contains($positive, label_key)) AS split
                FROM v GROUP BY item_key
            ), per_label AS (
                SELECT item_key, label_key, count(*) AS n,
                       string_agg(annotator_id || CASE WHEN unsure THEN '?' ELSE '' END, ', '
                                  ORDER BY annotator_id) AS who
                FROM v GROUP BY item_key, label_key
            ), votes AS (
                SELECT p.item_key,
                       -sum(p.n / i.n_labels * log2(p.n / i.n_labels)) AS vote_entropy,
                       string_agg(l.label || ': ' || p.who, '; ' ORDER BY p.n DESC, l.label)
                           AS labels,
                       arg_max(l.label, p.n * 100000 - l.label_key) AS majority_label
                FROM per_label p JOIN per_item i USING (item_key) JOIN labels l USING (label_key)
                GROUP BY p.item_key
            ), decided AS (
                SELECT i.item_key, r.label_key AS ref_key, r.decided_at
                FROM per_item i ASOF JOIN reference r
                  ON i.item_key = r.item_key AND i.last_label_at >= r.decided_at
            ), ruled_after AS (
                SELECT DISTINCT r.item_key FROM reference r JOIN per_item i USING (item_key)
                WHERE r.decided_at >= i.last_label_at
            )
            SELECT it.item_id, it.uri, i.n_labels, i.n_annotators,
                   abs(v.vote_entropy) AS vote_entropy, i.n_unsure,
                   i.n_unsure / i.n_labels AS unsure_share, i.split, v.majority_label,
                   v.labels, rl.label AS reference_label, i.last_label_at,
                   abs(v.vote_entropy) + i.n_unsure / i.n_labels AS score
            FROM per_item i JOIN votes v USING (item_key) JOIN items it USING (item_key)
            LEFT JOIN decided d USING (item_key) LEFT JOIN labels rl ON rl.label_key = d.ref_key
            WHERE i.item_key NOT IN (SELECT item_key FROM ruled_after)
              AND abs(v.vote_entropy) + i.n_unsure / i.n_labels > 0
            ORDER BY score DESC, i.n_labels DESC, it.item_id
            {limit_sql}""",
        params | {"positive": positive},
    ).df()
