"""The people-analytics export tables (behaviour, time on task, SPRT onboarding, gold), with the
exporter signature of :mod:`qualitylib.export` (options via ``functools.partial``)."""

from __future__ import annotations

import duckdb
import pandas as pd

from qualitylib.metrics.behaviour import EXPORT_COLUMNS, BehaviourRule, behaviour
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.gold import GoldPlan, gold_budget, gold_exposure
from qualitylib.metrics.onboarding import Objective, onboarding_status
from qualitylib.metrics.sprt import SPRT, sprt_onboarding
from qualitylib.metrics.time_on_task import box_time_on_task, time_on_task

SPRT_COLUMNS = ("decision", "n_to_decision", "llr_tpr", "llr_fpr", "expected_n")


def behaviour_export(
    con: duckdb.DuckDBPyConnection, filters: Filters, rule: BehaviourRule | None = None
) -> pd.DataFrame:
    """One row per annotator: the columns of :data:`EXPORT_COLUMNS` (``flags`` last)."""
    return behaviour(con, filters, rule or BehaviourRule())[list(EXPORT_COLUMNS)]


def time_on_task_export(
    con: duckdb.DuckDBPyConnection, filters: Filters, rule: BehaviourRule | None = None
) -> pd.DataFrame:
    """One row per annotator and ISO week: median time with its interval, too-fast answers."""
    return time_on_task(con, filters, (rule or BehaviourRule()).speed, by="week")


def box_time_on_task_export(
    con: duckdb.DuckDBPyConnection, filters: Filters, rule: BehaviourRule | None = None
) -> pd.DataFrame:
    """One row per annotator and ISO week of box work: median time per image, too-fast images."""
    return box_time_on_task(con, filters, (rule or BehaviourRule()).speed, by="week")


def onboarding_sprt_export(
    con: duckdb.DuckDBPyConnection,
    filters: Filters,
    objective: Objective | None = None,
    sprt: SPRT | None = None,
) -> pd.DataFrame:
    """The fixed-window onboarding table with the sequential decision beside its status."""
    objective = objective or Objective()
    status = onboarding_status(con, filters, objective)
    decided = sprt_onboarding(con, objective, sprt or SPRT(), filters)
    return status.merge(decided[["annotator_id", *SPRT_COLUMNS]], on="annotator_id", how="left")


def gold_budget_export(
    con: duckdb.DuckDBPyConnection, filters: Filters, plan: GoldPlan | None = None
) -> pd.DataFrame:
    """Control labels needed per person per week beside what each got last week."""
    return gold_budget(con, filters, plan or GoldPlan())


def gold_exposure_export(
    con: duckdb.DuckDBPyConnection, filters: Filters, plan: GoldPlan | None = None
) -> pd.DataFrame:
    """Each control item's exposure, accuracy trend, leaked and suspect-reference flags."""
    return gold_exposure(con, filters, plan or GoldPlan())
