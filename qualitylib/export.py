"""Tables out of the store, as CSV or Parquet.

``EXPORTS`` maps each ``qualitylib export`` metrics table to the function that computes it
(tidy, safe to open in a spreadsheet). ``CANONICAL`` are the stored rows themselves, in the
columns ``qualitylib import`` takes, written as they are (streamed from DuckDB, never whole in
memory): importing such a file into an empty store gives the same rows back.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import duckdb
import pandas as pd
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from qualitylib.display import votes_text
from qualitylib.errors import QualitylibError
from qualitylib.metrics.alt_test import alt_test
from qualitylib.metrics.audit import reference_history
from qualitylib.metrics.box_timeline import (
    box_drift_alerts,
    box_onboarding,
    box_sizes,
    box_timeline,
)
from qualitylib.metrics.boxes import (
    box_agreement,
    box_confusion,
    box_errors,
    box_summary,
    consensus_boxes,
)
from qualitylib.metrics.committee import committee_agreement, committee_reversals
from qualitylib.metrics.drift import DriftRule, drift_alerts
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.fixes import fix_rates
from qualitylib.metrics.gold import gold_difficulty
from qualitylib.metrics.headlines import headlines
from qualitylib.metrics.label_needs import label_needs
from qualitylib.metrics.models import (
    calibration_table,
    model_confusion,
    model_disagreements,
    model_summary,
    model_timeline,
    pairwise_kappa_with_models,
)
from qualitylib.metrics.onboarding import Objective, onboarding_status
from qualitylib.metrics.policy import stale_policy
from qualitylib.metrics.reference import annotator_summary, confusion_table
from qualitylib.metrics.review import review_queue
from qualitylib.metrics.skill import annotator_skill
from qualitylib.metrics.team_agreement import agreement_summary
from qualitylib.metrics.timeline import timeline
from qualitylib.people_exports import (
    behaviour_export,
    box_time_on_task_export,
    gold_budget_export,
    gold_exposure_export,
    time_on_task_export,
)

Exporter = Callable[[duckdb.DuckDBPyConnection, Filters], pd.DataFrame]


def onboarding_export(
    con: duckdb.DuckDBPyConnection, filters: Filters, objective: Objective | None = None
) -> pd.DataFrame:
    """``onboarding_status`` with the exporter signature (``objective`` via functools.partial)."""
    return onboarding_status(con, filters, objective or Objective())


def drift_alerts_export(
    con: duckdb.DuckDBPyConnection, filters: Filters, rule: DriftRule | None = None
) -> pd.DataFrame:
    """``drift_alerts`` with the exporter signature (``rule`` via functools.partial)."""
    return drift_alerts(con, filters, rule or DriftRule())


def headlines_export(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """The headline numbers of the selection as one row (``Headlines.row``)."""
    return headlines(con, filters).row()


def review_queue_export(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """``review_queue`` with who said what as text (``labels``) in place of the ``votes`` lists."""
    return with_votes_text(review_queue(con, filters))


def model_disagreements_export(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None
) -> pd.DataFrame:
    """``model_disagreements`` with who said what as text, as the review-queue export."""
    return with_votes_text(model_disagreements(con, filters))


def with_votes_text(queue: pd.DataFrame, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A review queue whose ``votes`` column is written as ``labels`` text (CSV cells hold text,
    not lists), people shown by ``names`` (ids when absent)."""
    out = queue.copy()
    out.insert(out.columns.get_loc("votes"), "labels", [votes_text(v, names) for v in out["votes"]])
    return out.drop(columns="votes")


EXPORTS: dict[str, Exporter] = {
    "annotator-summary": annotator_summary,
    "confusion": confusion_table,
    "pairwise-kappa": pairwise_kappa_with_models,
    "agreement": agreement_summary,
    "audit": reference_history,
    "drift-alerts": drift_alerts_export,
    "onboarding": onboarding_export,
    "timeline": timeline,
    "review-queue": review_queue_export,
    "stale-policy": stale_policy,
    "skill": annotator_skill,
    "headlines": headlines_export,
    "model-summary": model_summary,
    "model-confusion": model_confusion,
    "model-calibration": calibration_table,
    "model-timeline": model_timeline,
    "model-disagreements": model_disagreements_export,
    "model-vs-annotators": alt_test,
    "label-needs": label_needs,
    "model-fixes": fix_rates,
    "behaviour": behaviour_export,
    "behavior": behaviour_export,
    "time-on-task": time_on_task_export,
    "box-time-on-task": box_time_on_task_export,
    "gold-budget": gold_budget_export,
    "gold-exposure": gold_exposure_export,
    "gold-difficulty": gold_difficulty,
    "committee-agreement": committee_agreement,
    "committee-reversals": committee_reversals,
    "box-summary": box_summary,
    "box-errors": box_errors,
    "box-confusion": box_confusion,
    "box-agreement": box_agreement,
    "consensus-boxes": consensus_boxes,
    "box-timeline": box_timeline,
    "box-onboarding": box_onboarding,
    "box-drift-alerts": box_drift_alerts,
    "box-sizes": box_sizes,
}
BOX_TABLES = ("box-summary", "box-errors", "box-confusion", "box-agreement", "consensus-boxes")


def _stamp(column: str) -> str:
    """A stored (UTC) timestamp as ISO 8601 text with ``Z``, microseconds only when present."""
    return (
        f"CASE WHEN {column} IS NOT NULL THEN strftime({column}, '%Y-%m-%dT%H:%M:%S') || "
        f"CASE WHEN epoch_us({column}) % 1000000 <> 0 THEN strftime({column}, '.%f') ELSE '' "
        f"END || 'Z' END"
    )


# Each stored kind in the columns (and order) of its import; `{where}` narrows the log kinds.
CANONICAL: dict[str, str] = {
    "annotations": f"""
        SELECT i.item_id, a.annotator_id, l.label, {_stamp("x.annotated_at")} AS annotated_at,
               x.reason, x.unsure, x.policy_version, x.phase, x.batch
        FROM annotations x JOIN items i USING (item_key) JOIN annotators a USING (annotator_key)
        JOIN labels l USING (label_key) {{where}}
        ORDER BY x.import_id, x.rowid""",
    "reference": f"""
        SELECT i.item_id, l.label, {_stamp("r.decided_at")} AS decided_at, r.policy_version,
               r.reason, r.decided_by
        FROM reference r JOIN items i USING (item_key) JOIN labels l USING (label_key) {{where}}
        ORDER BY r.import_id, r.rowid""",
    "labels": """
        SELECT label, is_positive, rank, color FROM labels WHERE declared
        ORDER BY rank NULLS LAST, label""",
    "items": "SELECT item_id, uri{metadata} FROM items ORDER BY item_key",
    # the score_<label> columns ({scores}) come from the long prediction_scores, pivoted
    "predictions": f"""
        SELECT i.item_id, m.model_id, l.label, {_stamp("p.predicted_at")} AS predicted_at,
               p.score, nullif(m.model_version, '') AS model_version{{scores}}
        FROM predictions p JOIN items i USING (item_key) JOIN models m USING (model_key)
        JOIN labels l USING (label_key) {{scores_join}} {{where}}
        ORDER BY p.import_id, p.rowid""",
    "fixes": f"""
        SELECT i.item_id, m.model_id, ml.label AS model_label, fl.label AS fixed_label,
               {_stamp("f.fixed_at")} AS fixed_at, nullif(m.model_version, '') AS model_version,
               f.fixed_by
        FROM fixes f JOIN items i USING (item_key) JOIN models m USING (model_key)
        JOIN labels ml ON ml.label_key = f.model_label_key
        JOIN labels fl ON fl.label_key = f.fixed_label_key {{where}}
        ORDER BY f.import_id, f.rowid""",
    "annotators": f"""
        SELECT annotator_id, name, team, coalesce(role, 'annotator') AS role,
               {_stamp("started_at")} AS started_at
        FROM annotators ORDER BY annotator_key""",
}


def canonical_query(
    con: duckdb.DuckDBPyConnection, kind: str, import_id: int | None = None
) -> tuple[str, list[object]]:
    """SQL and parameters for the stored rows of ``kind`` (of one import, for the log kinds)."""
    if kind not in CANONICAL:
        raise QualitylibError(f"unknown kind {kind!r}; use one of {', '.join(CANONICAL)}")
    params: list[object] = []
    where = ""
    if import_id is not None:
        if kind not in ("annotations", "reference"):
            raise QualitylibError(f"{kind} rows do not belong to one import")
        where, params = "WHERE import_id = ?", [import_id]
    metadata = ""
    if kind == "items":  # the extra columns of items imports come back as columns
        keys = con.execute(
            "SELECT DISTINCT unnest(json_keys(metadata)) AS k FROM items ORDER BY k"
        ).fetchall()
        for (key,) in keys:
            path = "'$.\"" + key.replace("'", "''").replace('"', '\\"') + "\"'"
            name = '"' + key.replace('"', '""') + '"'
            metadata += f", json_extract_string(metadata, {path}) AS {name}"
    scores = scores_join = ""
    if kind == "predictions":  # one score_<label> column per label given a probability
        found = con.execute(
            """SELECT DISTINCT l.label_key, l.label, l.rank FROM prediction_scores
               JOIN labels l USING (label_key) ORDER BY l.rank NULLS LAST, l.label"""
        ).fetchall()
        if found:
            pivot = ", ".join(
                f"max(score) FILTER (WHERE label_key = {int(key)}) AS {_name('score_' + label)}"
                for key, label, _ in found
            )
            scores = "".join(f", d.{_name('score_' + label)}" for _, label, _ in found)
            scores_join = f"""LEFT JOIN (
                SELECT item_key, model_key, predicted_at, {pivot} FROM prediction_scores
                GROUP BY ALL) d USING (item_key, model_key, predicted_at)"""
    sql = CANONICAL[kind].format(
        where=where, metadata=metadata, scores=scores, scores_join=scores_join
    )
    return sql, params


def _name(column: str) -> str:
    """A column name as a DuckDB identifier."""
    return '"' + column.replace('"', '""') + '"'


def write_canonical(
    con: duckdb.DuckDBPyConnection,
    kind: str,
    out: Path | None,
    fmt: Literal["csv", "parquet"] = "csv",
    import_id: int | None = None,
) -> int:
    """Stream the stored rows of ``kind`` to ``out`` (CSV to stdout when None), exactly as
    stored (no formula neutralising: that would change the data); return the row count."""
    sql, params = canonical_query(con, kind, import_id)
    batches = con.sql(sql, params=params).to_arrow_reader(100_000)
    if fmt == "parquet":
        if out is None:
            raise QualitylibError("Parquet needs a file: add --out FILE.parquet")
        writer: pq.ParquetWriter | pa_csv.CSVWriter = pq.ParquetWriter(out, batches.schema)
    else:
        options = pa_csv.WriteOptions(quoting_style="needed")
        sink = out if out is not None else sys.stdout.buffer
        writer = pa_csv.CSVWriter(sink, batches.schema, write_options=options)
    n_rows = 0
    with writer:
        for batch in batches:
            writer.write_batch(batch)
            n_rows += batch.num_rows
    if out is None:
        sys.stdout.flush()
    return n_rows


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with ``'`` (OWASP)."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            values = safe[column]
            risky = values.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_PREFIXES))
            safe[column] = values.where(~risky, "'" + values.astype(str))
    return safe


def write_table(
    frame: pd.DataFrame, out: Path | None, fmt: Literal["csv", "parquet"] = "csv"
) -> None:
    """Write ``frame`` to ``out`` (CSV to stdout when ``out`` is None)."""
    if fmt == "parquet":
        if out is None:
            raise QualitylibError("Parquet needs a file: add --out FILE.parquet")
        frame.to_parquet(out, index=False)
        return
    neutralise(frame).to_csv(out if out is not None else sys.stdout, index=False)
