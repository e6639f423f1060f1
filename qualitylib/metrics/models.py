r"""Model versions as raters: against the committee like a person, calibrated, beside people.

A model version (``model_id`` at ``model_version``) is a rater of its own kind: its labels live
in table ``predictions``, never in the team's log, so no team rate moves when a model is
imported. Every function here reads the store through SQL that returns count tables and
reuses the per-annotator arithmetic (:mod:`qualitylib.metrics.reference`,
:mod:`qualitylib.metrics.timeline`, :func:`qualitylib.metrics.team_agreement.kappa_table`).

Scores. ``score`` is the model's probability of the label it predicted. The probability that
the item is *flagged* (any positive label) is taken as ``score`` when the predicted label is
positive and ``1 - score`` when it is negative: exact when the label set has one negative
label (``safe`` against the flagged reasons), otherwise a lower bound for positive predictions.

Calibration (Guo et al. 2017, "On calibration of modern neural networks"): predictions are
put in ``n_bins`` equal-width bins of ``score`` (bin ``b`` holds ``b/B <= score < (b+1)/B``,
the last bin includes 1); with ``N`` scored predictions, ``n_b`` of them in bin ``b``,
``acc_b`` the share of those equal to the reference and ``conf_b`` their mean score,

.. math::  ECE = \sum_b \frac{n_b}{N} |acc_b - conf_b|
               = \frac{1}{N} \sum_b \Big|\sum_{i \in b} (correct_i - score_i)\Big|.
"""

from __future__ import annotations

from dataclasses import replace

import duckdb
import numpy as np
import pandas as pd

from qualitylib.log_scope import require_log
from qualitylib.metrics.counts import LabelIndex, PairTables, label_index, latest_sql
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.periods import Period
from qualitylib.metrics.reference import rate_columns, summary_from_counts
from qualitylib.metrics.review import votes_ctes
from qualitylib.metrics.team_agreement import kappa_table, pairwise_kappa

# The timeline's grouping of count tables and its rates per period are reused as they are:
# a model version is grouped exactly like an annotator.
from qualitylib.metrics.timeline import _grouped_confusion, period_rates

__all__ = [
    "calibration_table",
    "distribution_labels",
    "expected_calibration_error",
    "has_predictions",
    "model_confusion",
    "model_disagreements",
    "model_summary",
    "model_timeline",
    "pairwise_kappa_with_models",
]

N_BINS = 10
N_BOOT = 1000
# Scores are rounded to this many decimals for the ECE bootstrap (patterns of at most
# 1,001 scores x right/wrong per bin come to Python, not one row per prediction); the point
# estimate uses exact sums. The rounding moves a bin's mean score by at most 0.0005.
BOOT_DECIMALS = 3
# Scores are summed as DECIMAL(38, 15): exact, so the same store gives the same bits on every
# run (DuckDB's parallel DOUBLE sums depend on the threads' order, in the last bit).

# Predictions on reference items with the decision in force when each was made, as the
# team's labels are scored (qualitylib.store.SCORING_SQL): the latest decision at or before
# the prediction, else the item's first decision.
MODEL_SCORED_SQL = """
    WITH p AS (
        SELECT p.* FROM predictions p
        WHERE p.item_key IN (SELECT item_key FROM reference) AND {where}
    ), first_decision AS (
        SELECT item_key, arg_min(label_key, decided_at) AS label_key
        FROM reference GROUP BY item_key
    ), as_of AS (
        SELECT p.*, r.label_key AS r_label
        FROM p ASOF LEFT JOIN reference r
          ON p.item_key = r.item_key AND p.predicted_at >= r.decided_at
    )
    SELECT a.* EXCLUDE (r_label), coalesce(a.r_label, d.label_key) AS ref_label_key
    FROM as_of a JOIN first_decision d USING (item_key)
"""

# Each model version's latest prediction per item (its current answer, like ``votes``).
MODEL_LATEST_SQL = """
    SELECT p.item_key, p.model_key, p.label_key, p.score FROM predictions p WHERE {where}
    QUALIFY row_number() OVER (
        PARTITION BY p.item_key, p.model_key ORDER BY p.predicted_at DESC) = 1
"""


def _where(filters: Filters, alias: str = "p") -> tuple[str, dict[str, object]]:
    """The parts of ``filters`` that apply to a model (time window, item slice), as SQL.

    Teams, people, policy versions and phases describe the team's labels: a model has none.
    """
    kept = replace(filters, teams=(), annotators=(), policy_versions=(), phases=())
    columns = {
        "annotated_at": "predicted_at",
        "annotator_key": "model_key",
        "policy_version": "NULL",
        "phase": "NULL",
        "item_key": "item_key",
    }
    return kept.where(alias, columns)


def model_scored_sql(filters: Filters) -> tuple[str, dict[str, object]]:
    """Predictions on reference items passing ``filters``, with ``ref_label_key``."""
    where, params = _where(filters)
    return f"({MODEL_SCORED_SQL.format(where=where)})", params


def model_latest_sql(filters: Filters) -> tuple[str, dict[str, object]]:
    """Each model version's latest prediction per item among those passing ``filters``."""
    where, params = _where(filters)
    return f"({MODEL_LATEST_SQL.format(where=where)})", params


def model_name(model_id: str, model_version: str) -> str:
    """``model:<id>@<version>`` (``model:<id>`` without a version): a model among people."""
    return f"model:{model_id}" + (f"@{model_version}" if model_version else "")


def _models(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("SELECT model_key, model_id, model_version FROM models").df()


def _positive_keys(index: LabelIndex) -> list[int]:
    return [int(key) for key in index.labels.loc[index.positive, "label_key"]]


def _with_models(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> pd.DataFrame:
    """``model_id, model_version`` first, in place of ``model_key``; sorted by them."""
    out = frame.merge(_models(con), on="model_key", how="left").drop(columns="model_key")
    lead = ["model_id", "model_version"]
    out = out[lead + [c for c in out.columns if c not in lead]]
    return out.sort_values(lead, kind="stable", ignore_index=True)


def _confusion(
    con: duckdb.DuckDBPyConnection, filters: Filters
) -> tuple[pd.DataFrame, np.ndarray, LabelIndex]:
    """Model keys and their confusion counts ``(n_models, k, k)`` against the reference."""
    scored, params = model_scored_sql(filters)
    table = con.execute(
        f"SELECT model_key, ref_label_key, label_key, count(*) AS n FROM {scored} AS s "
        "GROUP BY ALL",
        params,
    ).df()
    index = label_index(con)
    groups, counts = _grouped_confusion(table, ["model_key"], index)
    return groups, counts, index


def model_confusion(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> pd.DataFrame:
    """Tidy confusion counts per model version: ``model_id, model_version, reference_label,
    label, n`` (zeros included)."""
    groups, counts, index = _confusion(con, filters or Filters())
    n_models, k, _ = counts.shape
    names = np.asarray(index.names, dtype=object)
    m, r, g = np.meshgrid(np.arange(n_models), np.arange(k), np.arange(k), indexing="ij")
    frame = pd.DataFrame(
        {
            "model_key": groups["model_key"].to_numpy()[m.ravel()] if n_models else [],
            "reference_label": names[r.ravel()],
            "label": names[g.ravel()],
            "n": counts.ravel(),
        }
    )
    return _with_models(con, frame)


def expected_calibration_error(
    n: np.ndarray, correct: np.ndarray, score_sum: np.ndarray
) -> np.ndarray:
    r"""Expected calibration error from per-bin counts, vectorised over leading axes.

    Parameters
    ----------
    n, correct, score_sum : ndarray, shape ``(..., n_bins)``
        Predictions in each bin, how many equal the reference, and the sum of their scores.

    Returns
    -------
    ndarray, shape ``(...)``
        :math:`\frac{1}{N}\sum_b |correct_b - score\_sum_b|` (Guo et al. 2017); NaN where
        ``N = 0``.

    Examples
    --------
    >>> ece = expected_calibration_error(np.array([2, 2]), np.array([1, 2]), np.array([0.4, 1.8]))
    >>> round(float(ece), 6)  # (|1 - 0.4| + |2 - 1.8|) / 4
    0.2
    """
    total = np.asarray(n, dtype=float).sum(axis=-1)
    gap = np.abs(np.asarray(correct, dtype=float) - np.asarray(score_sum, dtype=float)).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, gap / np.where(total > 0, total, 1), np.nan)


def _bin_sql(n_bins: int) -> str:
    return f"least(floor(score * {n_bins}), {n_bins - 1})::INTEGER"


def _ece(
    con: duckdb.DuckDBPyConnection,
    filters: Filters,
    n_bins: int,
    n_boot: int,
    random_state: int,
) -> pd.DataFrame:
    """``model_key, ece, ece_ci_low, ece_ci_high, ece_n`` for models with scored predictions.

    The interval is the percentile bootstrap over predictions (``n_boot`` multinomial
    resamples of the distinct (bin, rounded score, right/wrong) patterns, seeded).
    """
    scored, params = model_scored_sql(filters)
    patterns = con.execute(
        f"""SELECT model_key, {_bin_sql(n_bins)} AS bin, round(score, {BOOT_DECIMALS}) AS score,
                   (label_key = ref_label_key)::INTEGER AS correct,
                   count(*) AS n, sum(score::DECIMAL(38, 15))::DOUBLE AS score_sum
            FROM {scored} AS s WHERE score IS NOT NULL
            GROUP BY ALL ORDER BY ALL""",
        params,
    ).df()
    rng = np.random.default_rng(random_state)
    rows = []
    for model_key, group in patterns.groupby("model_key", sort=True):
        bins = np.eye(n_bins)[group["bin"].to_numpy()]  # (P, n_bins)
        n = group["n"].to_numpy(dtype=float)
        correct = group["correct"].to_numpy(dtype=float)
        point = expected_calibration_error(
            n @ bins, (n * correct) @ bins, group["score_sum"].to_numpy() @ bins
        )
        total = int(n.sum())
        draws = rng.multinomial(total, n / total, size=n_boot).astype(float)  # (b, P)
        boot = expected_calibration_error(
            draws @ bins,
            (draws * correct) @ bins,
            (draws * group["score"].to_numpy(dtype=float)) @ bins,
        )
        low, high = np.percentile(boot, [2.5, 97.5])
        rows.append((model_key, float(point), low, high, total))
    return pd.DataFrame(rows, columns=["model_key", "ece", "ece_ci_low", "ece_ci_high", "ece_n"])


def _at_threshold(
    con: duckdb.DuckDBPyConnection,
    filters: Filters,
    threshold: float,
    index: LabelIndex,
    label: str | None = None,
) -> pd.DataFrame:
    """Binary TPR and FPR when the model flags an item at P(flagged) >= ``threshold``.

    P(flagged) is the sum of the positive labels' ``score_<label>`` when the prediction gives
    its distribution, else ``score`` (``1 - score`` for a negative predicted label). With
    ``label``, one class against the rest: the model flags at P(label) >= ``threshold``, a
    reference of ``label`` is positive, and only predictions with a distribution count.
    """
    scored, params = model_scored_sql(filters)
    if label is None:
        positive = _positive_keys(index)
        probability = """coalesce(d.p, CASE WHEN list_contains($positive, s.label_key)
                                        THEN s.score ELSE 1 - s.score END)"""
    else:
        positive = [_label_key(index, label)]
        probability = "d.p"
    table = con.execute(
        f"""WITH d AS (
                SELECT item_key, model_key, predicted_at,
                       coalesce(sum(score::DECIMAL(38, 15))
                                FILTER (WHERE list_contains($positive, label_key)), 0)::DOUBLE
                           AS p
                FROM prediction_scores GROUP BY ALL
            ), x AS (
                SELECT s.model_key, list_contains($positive, s.ref_label_key) AS ref_pos,
                       {probability} AS p_flagged
                FROM {scored} AS s LEFT JOIN d USING (item_key, model_key, predicted_at)
            )
            SELECT model_key,
                   count(*) FILTER (WHERE ref_pos AND p_flagged >= $threshold) AS tp,
                   count(*) FILTER (WHERE ref_pos AND p_flagged < $threshold) AS fn,
                   count(*) FILTER (WHERE NOT ref_pos AND p_flagged >= $threshold) AS fp,
                   count(*) FILTER (WHERE NOT ref_pos AND p_flagged < $threshold) AS tn
            FROM x WHERE p_flagged IS NOT NULL
            GROUP BY model_key""",
        params | {"positive": positive, "threshold": threshold},
    ).df()
    tp, fn, fp, tn = (table[c].to_numpy() for c in ("tp", "fn", "fp", "tn"))
    columns = {"model_key": table["model_key"].to_numpy(), "threshold": threshold}
    columns |= rate_columns("tpr_at_threshold", tp, tp + fn)
    columns |= rate_columns("fpr_at_threshold", fp, fp + tn)
    return pd.DataFrame(columns)


def model_summary(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    threshold: float = 0.5,
    n_bins: int = N_BINS,
    n_boot: int = N_BOOT,
    random_state: int = 0,
    threshold_label: str | None = None,
) -> pd.DataFrame:
    """One row per model version against the committee, as ``annotator_summary`` per person.

    Columns: ``model_id, model_version``, then those of
    :func:`qualitylib.metrics.reference.summary_from_counts` (``n_reference``: predictions
    on reference items, accuracy, kappa,
    binary and per-class TPR/FPR/precision with Wilson intervals). When any prediction has a
    ``score``: ``ece, ece_ci_low, ece_ci_high, ece_n`` (``n_bins`` equal-width bins, percentile
    bootstrap of ``n_boot`` resamples) and ``threshold, tpr_at_threshold…, fpr_at_threshold…``
    (the model flags an item when P(flagged) >= ``threshold``; P(flagged) from the
    ``score_<label>`` distribution where given). With ``threshold_label``, the rates at the
    threshold are that label's against the rest, on predictions with a distribution.
    Models without scores get NaN.
    """
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be between 0 and 1 (got {threshold!r})")
    filters = filters or Filters()
    groups, counts, index = _confusion(con, filters)
    table = pd.concat([groups, summary_from_counts(counts, index.names, index.positive)], axis=1)
    if _any_score(con):
        table = table.merge(
            _ece(con, filters, n_bins, n_boot, random_state), on="model_key", how="left"
        )
        table = table.merge(
            _at_threshold(con, filters, threshold, index, threshold_label),
            on="model_key",
            how="left",
        )
        table["threshold"] = threshold
        table.insert(table.columns.get_loc("threshold") + 1, "threshold_label", threshold_label)
        counted = ["ece_n", "tpr_at_threshold_n", "fpr_at_threshold_n"]
        table[counted] = table[counted].fillna(0).astype(np.int64)  # unscored: 0, rates NaN
    return _with_models(con, table)


def has_predictions(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the store holds any model prediction (pages and reports then show models)."""
    return bool(con.execute("SELECT count(*) > 0 FROM predictions").fetchall()[0][0])


def distribution_labels(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The labels some prediction gives a ``score_<label>`` for, in label-set order."""
    present = {
        row[0]
        for row in con.execute(
            "SELECT DISTINCT l.label FROM prediction_scores JOIN labels l USING (label_key)"
        ).fetchall()
    }
    return [label for label in label_index(con).names if label in present]


def _any_score(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether any stored prediction carries a score."""
    return bool(con.execute("SELECT count(score) > 0 FROM predictions").fetchall()[0][0])


def _label_key(index: LabelIndex, label: str) -> int:
    """The key of ``label``; ValueError listing the label set when it is not in it."""
    keys = index.labels.set_index("label")["label_key"]
    if label not in keys.index:
        raise ValueError(f"no label {label!r} in the label set ({', '.join(index.names)})")
    return int(keys[label])


def calibration_table(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    n_bins: int = N_BINS,
    label: str | None = None,
) -> pd.DataFrame:
    """The reliability diagram's table: one row per model version x score bin with predictions.

    Columns: ``model_id, model_version, bin, bin_low, bin_high, n, confidence`` (mean score),
    ``accuracy, accuracy_ci_low, accuracy_ci_high, accuracy_n`` (share equal to the
    reference, Wilson interval) and ``gap = accuracy - confidence``. With ``label``, the
    calibration of P(``label``) from the ``score_<label>`` distributions instead: bins of that
    probability on every prediction that gives it, ``accuracy`` the share whose reference is
    ``label`` (one class against the rest).
    """
    scored, params = model_scored_sql(filters or Filters())
    if label is None:
        source = f"SELECT model_key, score, label_key = ref_label_key AS hit FROM {scored} AS s"
    else:
        source = f"""SELECT s.model_key, d.score, s.ref_label_key = $label AS hit
                     FROM {scored} AS s JOIN prediction_scores d
                       ON d.item_key = s.item_key AND d.model_key = s.model_key
                      AND d.predicted_at = s.predicted_at AND d.label_key = $label"""
        params = params | {"label": _label_key(label_index(con), label)}
    table = con.execute(
        f"""SELECT model_key, {_bin_sql(n_bins)} AS bin, count(*) AS n,
                   count(*) FILTER (WHERE hit) AS correct,
                   avg(score::DECIMAL(38, 15))::DOUBLE AS confidence
            FROM ({source}) WHERE score IS NOT NULL GROUP BY ALL""",
        params,
    ).df()
    out = pd.DataFrame(
        {
            "model_key": table["model_key"],
            "bin": table["bin"].astype(np.int64),
            "bin_low": table["bin"] / n_bins,
            "bin_high": (table["bin"] + 1) / n_bins,
            "n": table["n"].astype(np.int64),
            "confidence": table["confidence"],
        }
        | rate_columns("accuracy", table["correct"].to_numpy(), table["n"].to_numpy())
    )
    out["gap"] = out["accuracy"] - out["confidence"]
    return _with_models(con, out.sort_values(["model_key", "bin"]))


def model_timeline(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None, period: Period = "week"
) -> pd.DataFrame:
    """One row per model version x period, as :func:`qualitylib.metrics.timeline.timeline`.

    Columns: ``model_id, model_version, period_start, n_labels`` (predictions),
    ``n_reference`` (predictions on reference items), then ``accuracy, tpr, fpr`` and
    ``tpr_<label>`` with ``_ci_low, _ci_high, _n``.
    """
    filters = filters or Filters()
    where, params = _where(filters)
    scored, scored_params = model_scored_sql(filters)
    out = period_rates(
        con,
        "model_key",
        (f"predictions p WHERE {where}", params, "predicted_at", "count(*)"),
        (scored, scored_params, "predicted_at"),
        period,
    )
    out = _with_models(con, out)
    return out.sort_values(["model_id", "model_version", "period_start"], ignore_index=True)


def model_pair_tables(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> PairTables:
    """Contingency tables of every (model version, annotator) pair sharing items.

    ``tables[p, i, j]``: items the model version labelled ``i`` (its latest prediction) and the
    annotator ``j`` (their current answer, table ``votes``). One GROUP BY over the join.
    """
    require_log(con, "Agreement between models and people (every answer on each item)")
    filters = filters or Filters()
    models, model_params = model_latest_sql(filters)
    people, people_params = latest_sql(filters)
    table = con.execute(
        f"""SELECT m.model_key, v.annotator_key, m.label_key AS label_m, v.label_key AS label_a,
                   count(*) AS n
            FROM {models} AS m JOIN {people} AS v USING (item_key) GROUP BY ALL""",
        model_params | people_params,
    ).df()
    index = label_index(con)
    table = table.rename(columns={"label_m": "ref_label_key", "label_a": "label_key"})
    groups, tables = _grouped_confusion(table, ["model_key", "annotator_key"], index)
    names = _models(con).set_index("model_key")
    ids = dict(con.execute("SELECT annotator_key, annotator_id FROM annotators").fetchall())
    pairs = pd.DataFrame(
        {
            "annotator_a": [
                model_name(names.at[key, "model_id"], names.at[key, "model_version"])
                for key in groups["model_key"]
            ],
            "annotator_b": [ids[int(key)] for key in groups["annotator_key"]],
            "key_a": groups["model_key"].to_numpy(),
            "key_b": groups["annotator_key"].to_numpy(),
        }
    )
    return PairTables(pairs, index, tables)


def pairwise_kappa_with_models(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None
) -> pd.DataFrame:
    """:func:`~qualitylib.metrics.team_agreement.pairwise_kappa` with every model version as a
    rater beside the people, named ``model:<id>@<version>`` in ``annotator_a``; column
    ``kind`` says ``human`` (a pair of annotators) or ``model`` (a model and an annotator)."""
    people = pairwise_kappa(con, filters).assign(kind="human")
    models = kappa_table(model_pair_tables(con, filters)).assign(kind="model")
    if models.empty:
        return people
    return pd.concat([people, models], ignore_index=True)


def model_disagreements(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None, limit: int | None = None
) -> pd.DataFrame:
    """Items where a model version and the people fall on different sides, most confident first.

    The people's side is the majority of their current answers (flagged = a positive label;
    items where they tie are left out); the model's is its latest prediction. ``direction``
    is ``model_flagged`` (the model flags, the people said negative: a positive they may have
    missed) or ``model_negative``. Ordered by ``score`` (the model's probability of its label,
    hence of its side; unscored last), then item id.

    Columns: ``item_id, uri, model_id, model_version, direction, model_label, score,
    majority_label, n_people, n_flagged, votes`` (who said what, structured as the review
    queue's: :func:`qualitylib.display.votes_text` writes it), ``reference_label`` (the
    decision in force now, if any).
    """
    require_log(con, "Where models and the people disagree (every answer on each item)")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None (got {limit!r})")
    filters = filters or Filters()
    models, model_params = model_latest_sql(filters)
    people, people_params = latest_sql(filters)
    positive = _positive_keys(label_index(con))
    limit_sql = "LIMIT $limit" if limit is not None else ""
    params = model_params | people_params | {"positive": positive}
    if limit is not None:
        params["limit"] = limit
    queue = con.execute(
        f"""WITH v AS (SELECT * FROM {people} AS v), per_label AS (
                SELECT item_key, label_key, count(*) AS n FROM v GROUP BY ALL
            ), per_item AS (
                SELECT item_key, sum(n)::BIGINT AS n_people,
                       sum(n) FILTER (WHERE list_contains($positive, label_key))::BIGINT
                           AS n_flagged,
                       arg_max(label_key, n * 100000 - label_key) AS majority_key
                FROM per_label GROUP BY item_key
            ), sides AS (
                SELECT m.*, p.n_people, coalesce(p.n_flagged, 0) AS n_flagged, p.majority_key,
                       list_contains($positive, m.label_key) AS model_flags
                FROM {models} AS m JOIN per_item p USING (item_key)
                WHERE 2 * coalesce(p.n_flagged, 0) <> p.n_people
                  AND list_contains($positive, m.label_key)
                      <> (2 * coalesce(p.n_flagged, 0) > p.n_people)
            ), queue AS (
                SELECT s.*, it.item_id, it.uri FROM sides s JOIN items it USING (item_key)
                ORDER BY s.score DESC NULLS LAST, it.item_id, s.model_key {limit_sql}
            ), answers AS (  -- current answers carry no unsure flag
                SELECT item_key, label_key, annotator_key, false AS unsure
                FROM v SEMI JOIN queue USING (item_key)
            ), {votes_ctes("answers")}, decided AS (
                SELECT item_key, arg_max(label_key, decided_at) AS ref_key FROM reference
                WHERE item_key IN (SELECT item_key FROM queue) GROUP BY item_key
            )
            SELECT q.item_id, q.uri, md.model_id, md.model_version,
                   CASE WHEN q.model_flags THEN 'model_flagged' ELSE 'model_negative' END
                       AS direction,
                   ml.label AS model_label, q.score, pl.label AS majority_label, q.n_people,
                   q.n_flagged, w.votes, rl.label AS reference_label
            FROM queue q JOIN models md USING (model_key) JOIN votes w USING (item_key)
            JOIN labels ml ON ml.label_key = q.label_key
            JOIN labels pl ON pl.label_key = q.majority_key
            LEFT JOIN decided d USING (item_key) LEFT JOIN labels rl ON rl.label_key = d.ref_key
            ORDER BY q.score DESC NULLS LAST, q.item_id, md.model_id, md.model_version""",
        params,
    ).df()
    queue["votes"] = [list(votes) for votes in queue["votes"]]
    return queue
