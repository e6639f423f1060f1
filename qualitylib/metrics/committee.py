"""Committee reliability: how far committee members agree among themselves, and how often the
committee reverses its own decisions, per policy version.

The reference table is append-only: a re-decision is a new row from its ``decided_at`` on, with
who decided it (``decided_by``) and under which ``policy_version``.

*Agreement*: the unit is an item under one policy version; each member counts with their latest
decision on it. On units two or more members decided, Fleiss' kappa with a varying number of
raters per unit (:func:`qualitylib.agreement.fleiss_kappa_counts`: Fleiss 1971, Gwet 2014
ch. 5) and the raw agreement. Decisions across policy versions are not compared: a new policy
is meant to change them. Decisions without ``decided_by`` are left out (nobody to compare).

*Reversals*: each decision after the item's first is a re-decision; it *reverses* the committee
when its label differs from the decision before it. Per policy version of the re-decision: the
share reversed, and the share reversed of those whose previous decision was under the same
version (the committee contradicting itself without a policy change), with Wilson intervals.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from qualitylib.agreement import fleiss_kappa_counts
from qualitylib.metrics.counts import label_index
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.reference import rate_columns

__all__ = ["committee_agreement", "committee_reversals"]

ALL_VERSIONS = "(all versions)"  # the policy_version of the row pooling every version

# Decisions in the selection's time window and policy versions; the previous decision of the
# item is looked up over all decisions, so one just outside the window still counts.
_DECISIONS = """
    WITH d AS (
        SELECT item_key, label_key, coalesce(policy_version, '') AS policy_version,
               decided_at, decided_by,
               lag(label_key) OVER w AS previous_label_key,
               coalesce(lag(policy_version) OVER w, '') AS previous_version,
               row_number() OVER w > 1 AS redecided
        FROM reference WINDOW w AS (PARTITION BY item_key ORDER BY decided_at)
    )
    SELECT * FROM d
    WHERE ($since IS NULL OR decided_at >= CAST($since AS TIMESTAMP))
      AND ($until IS NULL OR decided_at < CAST($until AS DATE) + INTERVAL 1 DAY)
      AND (len($versions) = 0 OR list_contains($versions, policy_version))
"""


def _params(filters: Filters) -> dict[str, object]:
    return {
        "since": filters.since,
        "until": filters.until,
        "versions": list(filters.policy_versions),
    }


def committee_agreement(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None
) -> pd.DataFrame:
    """Fleiss' kappa among committee members, per policy version and over all of them.

    One row per policy version with decisions (oldest first; ``""`` for decisions without
    one), then ``(all versions)`` pooling every version's units. Columns: ``policy_version,
    n_items`` (units two or more members decided), ``n_members`` (members with a decision on
    such a unit), ``kappa, kappa_ci_low, kappa_ci_high, kappa_n, kappa_se``, ``percent_agreement``
    (pairs of members agreeing) and ``reason`` (why kappa is empty). ``filters`` restricts
    by decision time and policy version only: committee decisions have no team.
    """
    filters = filters or Filters()
    params = _params(filters)
    shared = f"""WITH latest AS (
            SELECT item_key, policy_version, decided_by, arg_max(label_key, decided_at) AS k
            FROM ({_DECISIONS}) WHERE decided_by IS NOT NULL GROUP BY ALL
        ), shared AS (
            SELECT * FROM latest SEMI JOIN (
                SELECT item_key, policy_version FROM latest GROUP BY ALL HAVING count(*) >= 2
            ) USING (item_key, policy_version)
        )"""
    cells = con.execute(
        f"""{shared}
            SELECT policy_version, dense_rank() OVER (ORDER BY policy_version, item_key) AS unit,
                   label_key, n
            FROM (SELECT policy_version, item_key, k AS label_key, count(*) AS n
                  FROM shared GROUP BY ALL)""",
        params,
    ).df()
    members = dict(
        con.execute(
            f"""{shared}
                SELECT coalesce(policy_version, $pooled), count(DISTINCT decided_by)
                FROM shared GROUP BY GROUPING SETS ((policy_version), ())""",
            params | {"pooled": ALL_VERSIONS},
        ).fetchall()
    )
    versions = con.execute(
        f"SELECT policy_version FROM ({_DECISIONS}) GROUP BY ALL ORDER BY min(decided_at)",
        params,
    ).fetchall()
    index = label_index(con)
    position = pd.Series(np.arange(len(index.names)), index=index.labels["label_key"].astype(int))
    rows = []
    for version in [v for (v,) in versions] + [ALL_VERSIONS]:
        part = cells if version == ALL_VERSIONS else cells[cells["policy_version"] == version]
        units, unit = np.unique(part["unit"].to_numpy(dtype=np.int64), return_inverse=True)
        counts = np.zeros((len(units), len(index.names)))  # (n_units, k) ratings per label
        np.add.at(counts, (unit, position[part["label_key"]].to_numpy()), part["n"].to_numpy())
        result = fleiss_kappa_counts(counts) if len(units) else None
        rows.append(
            {
                "policy_version": version,
                "n_items": len(units),
                "n_members": int(members.get(version, 0)),
                "kappa": result.value if result else np.nan,
                "kappa_ci_low": result.ci_low if result else np.nan,
                "kappa_ci_high": result.ci_high if result else np.nan,
                "kappa_n": len(units),
                "kappa_se": result.se if result else np.nan,
                "percent_agreement": result.p_observed if result else np.nan,
                "reason": result.reason if result else "no item decided by two or more members",
            }
        )
    return pd.DataFrame(rows)


def committee_reversals(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None
) -> pd.DataFrame:
    """How often the committee reverses its own decisions, per policy version.

    One row per policy version with decisions, oldest first. Columns: ``policy_version,
    first_decided_at, n_decisions, n_items, n_redecisions`` (decisions after the item's first),
    ``n_reversed`` and ``reversal_rate`` (of the re-decisions, label changed: ``_ci_low,
    _ci_high, _n``), ``n_same_version_reversed`` and ``same_version_reversal_rate`` (of the
    re-decisions whose previous decision was under the same version). ``filters`` as in
    :func:`committee_agreement`.
    """
    filters = filters or Filters()
    table = con.execute(
        f"""SELECT policy_version, min(decided_at) AS first_decided_at,
                   count(*) AS n_decisions, count(DISTINCT item_key) AS n_items,
                   count(*) FILTER (WHERE redecided) AS n_redecisions,
                   count(*) FILTER (WHERE label_key <> previous_label_key) AS n_reversed,
                   count(*) FILTER (WHERE redecided AND previous_version = policy_version)
                       AS n_same_version,
                   count(*) FILTER (WHERE label_key <> previous_label_key
                                    AND previous_version = policy_version)
                       AS n_same_version_reversed
            FROM ({_DECISIONS}) GROUP BY policy_version ORDER BY first_decided_at""",
        _params(filters),
    ).df()
    rates = pd.DataFrame(
        rate_columns("reversal_rate", table["n_reversed"], table["n_redecisions"])
        | rate_columns(
            "same_version_reversal_rate", table["n_same_version_reversed"], table["n_same_version"]
        )
    )
    lead = ["policy_version", "first_decided_at", "n_decisions", "n_items", "n_redecisions"]
    out = pd.concat([table, rates], axis=1)
    return out[
        [
            *lead,
            "n_reversed",
            *[c for c in rates.columns if c.startswith("reversal_rate")],
            "n_same_version_reversed",
            *[c for c in rates.columns if c.startswith("same_version")],
        ]
    ]
