"""The headline numbers of a selection, defined once: what the Overview's cards, the weekly
report's first page and ``qualitylib export headlines`` all show.

- **team agreement**: the team's pooled production labels on control items equal to the
  committee's decision (:func:`~qualitylib.metrics.reference.team_rates`), in the latest ISO
  week with labels under the filters, and in the week before;
- **open drift alerts** and **in training**: judged at the selection's last day on each
  person's history up to it (:mod:`~qualitylib.metrics.drift`,
  :mod:`~qualitylib.metrics.onboarding`), for the team members who labelled in the selection;
- **review queue size**: every item the queue holds (:func:`~qualitylib.metrics.review.
  review_queue_size`);
- **raters**: annotators who share an item with someone (the people of the pairwise kappas);
  None on a store without the label log for a window that cuts a week (its pair counts are
  per week).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import duckdb
import pandas as pd

from qualitylib.log_scope import LogNeeded
from qualitylib.metrics import catalog
from qualitylib.metrics.drift import ALERT_COLUMNS, DriftRule, drift_alerts, open_alerts
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.onboarding import Objective, onboarding_as_of
from qualitylib.metrics.periods import week_filters
from qualitylib.metrics.reference import team_rates
from qualitylib.metrics.review import review_queue_size
from qualitylib.metrics.team_agreement import raters

__all__ = ["HEADLINE_COLUMNS", "Headlines", "headlines", "open_drift_alerts"]

HEADLINE_COLUMNS = [
    "week_start", "as_of", "team_agreement", "team_agreement_ci_low", "team_agreement_ci_high",
    "team_agreement_n", "team_agreement_previous", "team_agreement_previous_n", "open_alerts",
    "in_training", "review_queue_size", "raters",
]  # fmt: skip


@dataclass(frozen=True)
class Headlines:
    """The headline numbers of one selection (see the module docstring for each definition).

    ``week`` and ``previous`` are one-row :func:`team_rates` tables (``accuracy`` is the team
    agreement), ``alerts`` the open drift alerts, ``status`` the onboarding status of the
    team members who labelled in the selection.
    """

    week_start: date | None
    as_of: date | None
    week: pd.DataFrame = field(repr=False)
    previous: pd.DataFrame = field(repr=False)
    alerts: pd.DataFrame = field(repr=False)
    status: pd.DataFrame = field(repr=False)
    review_queue_size: int
    raters: int | None

    @property
    def in_training(self) -> list[str]:
        """Who is in training, by id."""
        return self.status.loc[self.status["status"] == "in_training", "annotator_id"].tolist()

    def row(self) -> pd.DataFrame:
        """The numbers as one row of :data:`HEADLINE_COLUMNS` (``qualitylib export headlines``)."""
        week, previous = self.week.iloc[0], self.previous.iloc[0]
        return pd.DataFrame(
            [
                [
                    self.week_start,
                    self.as_of,
                    week["accuracy"],
                    week["accuracy_ci_low"],
                    week["accuracy_ci_high"],
                    int(week["accuracy_n"]),
                    previous["accuracy"],
                    int(previous["accuracy_n"]),
                    len(self.alerts),
                    len(self.in_training),
                    self.review_queue_size,
                    self.raters,
                ]
            ],
            columns=HEADLINE_COLUMNS,
        )


def open_drift_alerts(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    rule: DriftRule | None = None,
    objective: Objective | None = None,
) -> tuple[pd.DataFrame, date | None]:
    """The drift alerts open at the selection's last day (:func:`~qualitylib.metrics.drift.
    open_alerts` over the history up to it), and that day (None without labels)."""
    filters = filters or Filters()
    day = catalog.last_day(con, filters)
    if day is None:
        return pd.DataFrame(columns=[*ALERT_COLUMNS, "alert_weeks"]), None
    history = drift_alerts(con, replace(filters, since=None), rule or DriftRule(), objective)
    return open_alerts(history, day), day


def _raters(con: duckdb.DuckDBPyConnection, filters: Filters) -> int | None:
    """:func:`raters`; None where the store has no label log and its pair counts cannot tell
    (a window that cuts a week)."""
    try:
        return raters(con, filters)
    except LogNeeded:
        return None


def headlines(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    objective: Objective | None = None,
    rule: DriftRule | None = None,
) -> Headlines:
    """The headline numbers of ``filters`` (a week for the report, the sidebar's choice on the
    Overview); ``objective`` and ``rule`` as in onboarding and drift (the library's defaults)."""
    filters = filters or Filters()
    monday = catalog.latest_week(con, filters)
    production = replace(filters, phases=("production",))
    if monday is None:  # nothing selected: the counts are 0 and the rates NaN
        week = previous = team_rates(con, production)
    else:
        week = team_rates(con, week_filters(production, monday))
        previous = team_rates(con, week_filters(production, monday - timedelta(days=7)))
    alerts, day = open_drift_alerts(con, filters, rule, objective)
    status = onboarding_as_of(con, filters, objective or Objective())
    members = catalog.people(con, filters)
    members = members.loc[members["role"] != "committee", "annotator_id"]
    status = status[status["annotator_id"].isin(members)].reset_index(drop=True)
    return Headlines(
        week_start=monday,
        as_of=day,
        week=week,
        previous=previous,
        alerts=alerts,
        status=status,
        review_queue_size=review_queue_size(con, filters),
        raters=_raters(con, filters),
    )
