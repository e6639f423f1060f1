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

from qualitylib.metrics.counts import contested_sql, label_index
from qualitylib.metrics.filters import Filters

__all__ = ["review_queue", "review_queue_size"]


def _candidates(
    con: duckdb.DuckDBPyConnection, filters: Filters | None
) -> tuple[str, str, dict[str, object]]:
    """The filtered contested labels (a subquery), the CTEs ``per_label, per_item,
    ruled_after`` (items with something to review; those ruled after their last label), and
    their parameters."""
    # Table ``contested`` holds every item that can make the queue under any filter, with all
    # its labels: the queue reads those few percent of the log, filtered like the log.
    source, params = contested_sql(filters or Filters())
    index = label_index(con)
    positive = [int(k) for k in index.labels.loc[index.positive, "label_key"]]
    ctes = f"""per_label AS (
                SELECT item_key, label_key, count(*) AS n,
                       count(*) FILTER (WHERE unsure) AS n_unsure,
                       max(annotated_at) AS last_at
                FROM {source} AS f
                GROUP BY item_key, label_key
            ), per_item AS (
                SELECT item_key, sum(n) AS n_labels, sum(n_unsure) AS n_unsure,
                       max(last_at) AS last_label_at,
                       -- H = log2 N - sum(n_c log2 n_c) / N, with N = sum(n_c)
                       round(log2(sum(n)) - sum(n * log2(n)) / sum(n), 12) AS vote_entropy,
                       bool_or(list_contains($positive, label_key))
                           AND bool_or(NOT list_contains($positive, label_key)) AS split,
                       arg_max(label_key, n * 100000 - label_key) AS majority_key
                FROM per_label GROUP BY item_key
                HAVING count(*) > 1 OR sum(n_unsure) > 0
            ), ruled_after AS (
                SELECT DISTINCT r.item_key FROM reference r JOIN per_item i USING (item_key)
                WHERE r.decided_at >= i.last_label_at
            )"""
    return source, ctes, params | {"positive": positive}


def review_queue_size(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> int:
    """How many items :func:`review_queue` holds under ``filters`` (counted, never capped)."""
    _, ctes, params = _candidates(con, filters)
    return int(
        con.execute(
            f"""WITH {ctes}
                SELECT count(*) FROM per_item ANTI JOIN ruled_after USING (item_key)""",
            params,
        ).fetchall()[0][0]
    )


def votes_ctes(answers: str) -> str:
    """CTEs ``who`` and ``votes``: who said what on each item of ``answers`` (a relation of
    ``item_key, label_key, annotator_key, unsure``), one ``{label, annotators, unsure}`` entry
    per label, most given first (``display.votes_text`` writes it). Shared by every queue."""
    return f"""who AS (
                SELECT v.item_key, v.label_key, count(*) AS n,
                       list(a.annotator_id ORDER BY a.annotator_id, v.unsure) AS annotators,
                       list(v.unsure ORDER BY a.annotator_id, v.unsure) AS unsure
                FROM {answers} AS v JOIN annotators a USING (annotator_key) GROUP BY ALL
            ), votes AS (
                SELECT w.item_key,
                       list(struct_pack(label := l.label, annotators := w.annotators,
                                        unsure := w.unsure)
                            ORDER BY w.n DESC, l.label) AS votes
                FROM who w JOIN labels l USING (label_key) GROUP BY w.item_key
            )"""


def review_queue(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None, limit: int | None = None
) -> pd.DataFrame:
    """Items ranked by ``score`` (highest first; ties by more labels, then item id).

    Columns: ``item_id, uri, n_labels, n_annotators, vote_entropy`` (bits), ``n_unsure,
    unsure_share, split`` (votes on both the positive and negative side), ``majority_label,
    votes`` (who said what: one ``{"label", "annotators", "unsure"}`` entry per label given,
    most given first, annotators by id with their unsure flags;
    :func:`qualitylib.display.votes_text` writes it as ``"safe: alice, bob?; nudity: carol"``),
    ``reference_label`` (decision in force, if any, made before the
    labels), ``last_label_at, score``.
    """
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None (got {limit!r})")
    source, ctes, params = _candidates(con, filters)
    limit_sql = "LIMIT $limit" if limit is not None else ""
    if limit is not None:
        params = params | {"limit": limit}
    # Integers first: per (item, label) counts give every item's entropy, unsure share and
    # split; only the items that make the queue (and, with a limit, only the top ones) get
    # the string work of listing who gave which label.
    queue = con.execute(
        f"""WITH {ctes}, queue AS (
                SELECT p.*, it.item_id, it.uri,
                       round(abs(vote_entropy) + n_unsure / n_labels, 12) AS score
                FROM per_item p ANTI JOIN ruled_after USING (item_key)
                JOIN items it USING (item_key)
                ORDER BY score DESC, n_labels DESC, it.item_id
                {limit_sql}
            ), decided AS (
                SELECT q.item_key, r.label_key AS ref_key
                FROM queue q ASOF JOIN reference r
                  ON q.item_key = r.item_key AND q.last_label_at >= r.decided_at
            ), v AS (
                SELECT f.item_key, f.label_key, f.unsure, f.annotator_key
                FROM {source} AS f SEMI JOIN queue USING (item_key)
            ), {votes_ctes("v")}, people AS (
                SELECT item_key, count(DISTINCT annotator_key) AS n_annotators
                FROM v GROUP BY item_key
            )
            SELECT q.item_id, q.uri, q.n_labels, p.n_annotators,
                   abs(q.vote_entropy) AS vote_entropy, q.n_unsure,
                   q.n_unsure / q.n_labels AS unsure_share, q.split, ml.label AS majority_label,
                   vt.votes, rl.label AS reference_label, q.last_label_at, q.score
            FROM queue q JOIN votes vt USING (item_key) JOIN people p USING (item_key)
            JOIN labels ml ON ml.label_key = q.majority_key
            LEFT JOIN decided d USING (item_key) LEFT JOIN labels rl ON rl.label_key = d.ref_key
            ORDER BY q.score DESC, q.n_labels DESC, q.item_id""",
        params,
    ).df()
    queue["votes"] = [list(votes) for votes in queue["votes"]]
    return queue
