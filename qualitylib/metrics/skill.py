"""Annotator skill without a reference set (Dawid-Skene) beside skill against the committee.

Dawid-Skene needs every ``(item, annotator, label)`` answer, not marginal counts: SQL hands
them over as integer keys from table ``votes`` (each annotator's current answer per item, as
agreement counts them), three integer arrays, never the string long table. The estimate is
then set beside the accuracy against the committee (:func:`annotator_summary`) with its
interval and ``n``, and :func:`skill_agreement` says how far the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
from scipy import stats

from qualitylib.dawid_skene import DawidSkene, Triples
from qualitylib.log_scope import require_log
from qualitylib.metrics.counts import filtered_sql, label_index, latest_sql
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.reference import annotator_summary

__all__ = ["SKILL_COLUMNS", "SkillAgreement", "annotator_skill", "skill_agreement", "vote_triples"]

SKILL_COLUMNS = [
    "annotator_id", "name", "team", "n_labels", "n_items", "ds_accuracy",
    "accuracy", "accuracy_ci_low", "accuracy_ci_high", "accuracy_n",
]  # fmt: skip


def vote_triples(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> Triples:
    """Each annotator's current answer per item under ``filters``, integer-coded.

    ``items`` holds item keys (not ids: naming millions of items is not needed to rate
    annotators), ``annotators`` annotator ids, ``classes`` label names.
    """
    require_log(con, "Dawid-Skene skill (every answer on each item)")
    latest, params = latest_sql(filters or Filters())
    found = con.execute(
        f"SELECT item_key, annotator_key, label_key FROM {latest} AS v", params
    ).fetchnumpy()
    item_keys, item = np.unique(np.asarray(found["item_key"], np.int64), return_inverse=True)
    person_keys, annotator = np.unique(
        np.asarray(found["annotator_key"], np.int64), return_inverse=True
    )
    label_keys, label = np.unique(np.asarray(found["label_key"], np.int64), return_inverse=True)
    ids = dict(
        con.execute(
            "SELECT annotator_key, annotator_id FROM annotators "
            "WHERE annotator_key IN (SELECT unnest($keys))",
            {"keys": person_keys.tolist()},
        ).fetchall()
    )
    index = label_index(con)
    names = np.asarray(index.names, dtype=object)[index.positions(label_keys)]
    return Triples(
        item.ravel(),
        annotator.ravel(),
        label.ravel(),
        pd.Index(item_keys, name="item_key"),
        pd.Index([ids[int(key)] for key in person_keys], name="annotator_id"),
        pd.Index(names, name="label"),
    )


def annotator_skill(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    n_iter: int = 100,
    tol: float = 1e-5,
) -> pd.DataFrame:
    """One row per annotator with answers under ``filters``: the Dawid-Skene accuracy
    estimated without the committee, beside the accuracy against the committee.

    Columns :data:`SKILL_COLUMNS`: ``n_labels`` (every label made), ``n_items`` (items in the
    fit: their current answers), ``ds_accuracy`` (:attr:`DawidSkene.accuracy_`), then
    ``accuracy`` with its 95 % Wilson interval and ``accuracy_n`` (labels on reference items;
    NaN and 0 without any).
    """
    filters = filters or Filters()
    answers = vote_triples(con, filters)
    if len(answers.item) == 0:
        return pd.DataFrame(columns=SKILL_COLUMNS)
    model = DawidSkene(n_iter=n_iter, tol=tol).fit_triples(answers)
    source, params = filtered_sql(filters)
    made = con.execute(
        f"""SELECT a.annotator_id, a.name, a.team, count(*) AS n_labels
            FROM {source} AS f JOIN annotators a USING (annotator_key) GROUP BY ALL""",
        params,
    ).df()
    fitted = pd.DataFrame(
        {
            "annotator_id": np.asarray(answers.annotators, dtype=object),
            "n_items": np.bincount(answers.annotator, minlength=len(answers.annotators)),
            "ds_accuracy": model.accuracy_.to_numpy(),
        }
    )
    committee = annotator_summary(con, filters)[
        ["annotator_id", "accuracy", "accuracy_ci_low", "accuracy_ci_high", "accuracy_n"]
    ]
    out = fitted.merge(made, on="annotator_id", how="left").merge(
        committee, on="annotator_id", how="left"
    )
    out["accuracy_n"] = out["accuracy_n"].fillna(0).astype(np.int64)
    return out[SKILL_COLUMNS].sort_values("annotator_id", ignore_index=True)


@dataclass(frozen=True)
class SkillAgreement:
    """Pearson correlation of the two skills over annotators with both, its 95 % interval
    (Fisher z) and ``n`` annotators; NaN with a ``reason`` when fewer than 4."""

    value: float
    ci_low: float
    ci_high: float
    n: int
    mean_abs_difference: float
    reason: str | None = None


def skill_agreement(skill: pd.DataFrame) -> SkillAgreement:
    """How far :func:`annotator_skill`'s two accuracies agree across annotators."""
    both = skill[(skill["accuracy_n"] > 0) & skill["ds_accuracy"].notna()]
    both = both[both["accuracy"].notna()]
    n = len(both)
    if n < 4:
        return SkillAgreement(
            np.nan, np.nan, np.nan, n, np.nan, "fewer than 4 annotators with reference labels"
        )
    x = both["ds_accuracy"].to_numpy(dtype=float)
    y = both["accuracy"].to_numpy(dtype=float)
    gap = float(np.abs(x - y).mean())
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return SkillAgreement(np.nan, np.nan, np.nan, n, gap, "one of the skills is constant")
    result = stats.pearsonr(x, y)
    interval = result.confidence_interval(0.95)
    return SkillAgreement(
        float(result.statistic), float(interval.low), float(interval.high), n, gap
    )
