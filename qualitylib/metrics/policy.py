"""Policy versions: before/after comparison per annotator, and stale-policy detection.

Every metric can already be split with ``Filters(policy_versions=...)``. Here SQL groups the
reference-scored labels by annotator x ``policy_version`` (the version the label was made
under), and finds labels on items whose committee decision changed, made after the change,
that still follow the old decision.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from qualitylib.metrics.counts import label_index, scored_sql
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.reference import rate_columns, rates_from_counts
from qualitylib.metrics.timeline import _grouped_confusion

__all__ = ["policy_comparison", "stale_policy"]


def policy_comparison(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None
) -> pd.DataFrame:
    """Per annotator (and the whole team, ``annotator_id`` None) x policy version.

    Versions are ordered by when their first label was made. Columns: ``annotator_id,
    policy_version, version_start`` (first label under it, any annotator), ``n_reference``,
    ``accuracy, tpr, fpr`` with ``_ci_low, _ci_high, _n``, and ``accuracy_change,
    tpr_change, fpr_change``: the difference with the same annotator's previous version
    (NaN for the first).
    """
    scored, params = scored_sql(filters or Filters())
    table = con.execute(
        f"""WITH s AS (SELECT * FROM {scored} AS x WHERE policy_version IS NOT NULL)
            SELECT a.annotator_id, s.policy_version, s.ref_label_key, s.label_key,
                   count(*) AS n
            FROM s JOIN annotators a USING (annotator_key)
            GROUP BY GROUPING SETS ((a.annotator_id, s.policy_version, s.ref_label_key,
                                     s.label_key),
                                    (s.policy_version, s.ref_label_key, s.label_key))""",
        params,
    ).df()
    starts = con.execute(
        f"""SELECT policy_version, min(annotated_at) AS version_start
            FROM {scored} AS x WHERE policy_version IS NOT NULL GROUP BY ALL""",
        params,
    ).df()
    index = label_index(con)
    table["annotator_id"] = table["annotator_id"].astype(object).fillna("\x00team")
    keys = ["annotator_id", "policy_version"]
    groups, counts = _grouped_confusion(table, keys, index)
    out = pd.concat(
        [
            groups,
            pd.DataFrame({"n_reference": counts.sum(axis=(1, 2))}),
            pd.DataFrame(rates_from_counts(counts, index.names, index.positive, per_class=())),
        ],
        axis=1,
    ).merge(starts, on="policy_version", how="left")
    out["_team"] = out["annotator_id"] == "\x00team"
    out = out.sort_values(["_team", "annotator_id", "version_start"], ignore_index=True)
    for rate in ("accuracy", "tpr", "fpr"):
        out[f"{rate}_change"] = out.groupby("annotator_id")[rate].diff()
    out["annotator_id"] = out["annotator_id"].astype(object).where(~out["_team"], None)
    out = out.drop(columns="_team")
    lead = ["annotator_id", "policy_version", "version_start", "n_reference"]
    return out[lead + [c for c in out.columns if c not in lead]]


def stale_policy(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None, min_share: float = 0.5
) -> pd.DataFrame:
    """Annotators still labelling changed items the way the old decision said.

    Looks at labels on items whose committee decision changed label, made while the new
    decision was in force. Per annotator: ``n_changed`` such labels, ``n_old`` that give the
    old decision's label, ``n_new`` that give the new one, ``old_share`` (= n_old / n_changed,
    with ``_ci_low, _ci_high, _n``, 95 % Wilson), ``last_old_at`` (the latest such label) and
    ``stale``: the Wilson lower bound of ``old_share`` is at least ``min_share`` (most of their
    labels on changed items, with evidence, still follow the old policy). Sorted by share.
    """
    # Changed items are reference items: ``scored`` holds every label on them.
    source, params = scored_sql(filters or Filters())
    table = con.execute(
        f"""WITH decisions AS (
                SELECT item_key, label_key, decided_at,
                       lag(label_key) OVER (PARTITION BY item_key ORDER BY decided_at) AS old_key
                FROM reference
            ), changed AS (
                SELECT * FROM decisions WHERE old_key IS NOT NULL AND old_key <> label_key
            ), x AS (
                SELECT f.* FROM {source} AS f
                WHERE f.item_key IN (SELECT item_key FROM changed)
            ), in_force AS (
                SELECT x.annotator_key, x.annotated_at, x.label_key AS given,
                       d.label_key AS new_key, d.old_key
                FROM x ASOF JOIN decisions d
                  ON x.item_key = d.item_key AND x.annotated_at >= d.decided_at
            )
            SELECT a.annotator_id, count(*) AS n_changed,
                   count(*) FILTER (WHERE given = old_key) AS n_old,
                   count(*) FILTER (WHERE given = new_key) AS n_new,
                   max(annotated_at) FILTER (WHERE given = old_key) AS last_old_at
            FROM in_force i JOIN annotators a USING (annotator_key)
            WHERE i.old_key IS NOT NULL AND i.old_key <> i.new_key
            GROUP BY a.annotator_id ORDER BY a.annotator_id""",
        params,
    ).df()
    share = rate_columns("old_share", table["n_old"].to_numpy(), table["n_changed"].to_numpy())
    out = pd.concat([table, pd.DataFrame(share)], axis=1)
    out["stale"] = np.nan_to_num(out["old_share_ci_low"].to_numpy(dtype=float)) >= min_share
    return out.sort_values(
        ["old_share", "annotator_id"], ascending=[False, True], ignore_index=True
    )
