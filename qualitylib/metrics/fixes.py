"""Manual fixes of a model's labels: how often people correct each model version, per label.

A fix (``import --kind fixes``) records a person replacing a model version's label on an
item; both labels are kept. A prediction counts as *fixed* when a fix of that item and model
version, made at or after the prediction, gives another label than the prediction's. Each
model version's predictions are counted per predicted label and period (the prediction's), in
SQL; the rate carries its Wilson interval. With an end date (``Filters.until``), only fixes
made by then count, so a past week's rate does not change when later fixes are imported.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from qualitylib.metrics.filters import COLUMNS, Filters
from qualitylib.metrics.models import _where, _with_models
from qualitylib.metrics.periods import Period, check_period
from qualitylib.metrics.reference import rate_columns

__all__ = ["fix_rates"]


def fix_rates(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None, period: Period = "week"
) -> pd.DataFrame:
    """One row per model version x predicted label x period with predictions.

    Columns: ``model_id, model_version, label, period_start, n_predictions, n_fixed``, then
    ``fix_rate, fix_rate_ci_low, fix_rate_ci_high, fix_rate_n`` and ``top_fix`` (the label
    people most often put instead; empty without fixes).
    """
    check_period(period)
    filters = filters or Filters()
    where, params = _where(filters)
    # the same end as the predictions' (a date includes its day), on the fix's time
    fixed_by_then, until_params = Filters(until=filters.until).where(
        "f", {**COLUMNS, "annotated_at": "fixed_at"}
    )
    table = con.execute(
        f"""WITH p AS (SELECT p.* FROM predictions p WHERE {where}),
            fixed AS (
                SELECT p.item_key, p.model_key, p.predicted_at,
                       arg_max(f.fixed_label_key, f.fixed_at) AS fixed_label_key
                FROM p JOIN fixes f
                  ON f.item_key = p.item_key AND f.model_key = p.model_key
                 AND f.fixed_at >= p.predicted_at AND f.fixed_label_key <> p.label_key
                 AND {fixed_by_then}
                GROUP BY ALL
            ), counted AS (
                SELECT p.model_key, p.label_key,
                       date_trunc($period, p.predicted_at)::DATE AS period_start,
                       count(*) AS n_predictions, count(x.item_key) AS n_fixed,
                       mode(x.fixed_label_key) AS top_fix_key
                FROM p LEFT JOIN fixed x USING (item_key, model_key, predicted_at)
                GROUP BY ALL
            )
            SELECT c.model_key, l.label, c.period_start, c.n_predictions, c.n_fixed,
                   coalesce(t.label, '') AS top_fix
            FROM counted c JOIN labels l USING (label_key)
            LEFT JOIN labels t ON t.label_key = c.top_fix_key""",
        params | until_params | {"period": period},
    ).df()
    rates = pd.DataFrame(
        rate_columns("fix_rate", table["n_fixed"].to_numpy(), table["n_predictions"].to_numpy())
    )
    out = pd.concat([table, rates], axis=1)
    lead = ["model_key", "label", "period_start", "n_predictions", "n_fixed"]
    out = _with_models(con, out[[*lead, *rates.columns, "top_fix"]])
    return out.sort_values(
        ["model_id", "model_version", "label", "period_start"], ignore_index=True
    )
