"""Calendar periods, defined once: a week is an ISO week, Monday 00:00 to Sunday 24:00 UTC.

SQL groups labels by ``date_trunc(period, annotated_at)`` (the Monday of the ISO week, the
first of the month); these helpers name and select the same weeks from Python.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Literal, get_args

from qualitylib.metrics.filters import Filters

__all__ = [
    "Period",
    "check_period",
    "iso_week",
    "last_complete_week",
    "monday_of",
    "parse_week",
    "week_filters",
]

Period = Literal["day", "week", "month"]
_WEEK = re.compile(r"(\d{4})-W(\d{2})")


def check_period(period: str) -> None:
    """Refuse a period other than day, week or month."""
    if period not in get_args(Period):
        raise ValueError(f"period must be one of {', '.join(get_args(Period))} (got {period!r})")


def monday_of(day: date) -> date:
    """The Monday of ``day``'s ISO week (what ``date_trunc('week', ...)`` gives in SQL)."""
    return day - timedelta(days=day.weekday())


def parse_week(text: str) -> date:
    """The Monday of an ISO week written ``2026-W47``.

    >>> parse_week("2026-W47")
    datetime.date(2026, 11, 16)
    """
    match = _WEEK.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"week must look like 2026-W47 (ISO year, W, week number); got {text!r}")
    try:
        return date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError as error:
        raise ValueError(f"{text!r} is not a week of ISO year {match[1]}") from error


def iso_week(day: date) -> str:
    """``2026-W47`` for any day of that ISO week.

    >>> iso_week(date(2026, 11, 22))
    '2026-W47'
    """
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def last_complete_week(today: date) -> str:
    """The last ISO week that ended before ``today`` (on a Monday: the week just finished)."""
    return iso_week(today - timedelta(days=today.isoweekday()))


def week_filters(filters: Filters, monday: date, weeks: int = 1) -> Filters:
    """``filters`` narrowed to ``weeks`` whole weeks ending with the week of ``monday``,
    within the date range ``filters`` already chose (so a range ending mid-week stays so)."""
    first = monday - timedelta(days=7 * (weeks - 1))
    sunday = monday + timedelta(days=6)
    since = filters.since if filters.since and _start(filters.since) > _start(first) else first
    until = filters.until if filters.until and _start(filters.until) < _start(sunday) else sunday
    return replace(filters, since=since, until=until)


def _start(value: date) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, time())
