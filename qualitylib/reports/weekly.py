"""The weekly report model: every number a team lead reads on Monday, computed, not rendered.

:func:`build_weekly_report` asks the metrics modules (SQL counts, numpy statistics) for one
ISO week and its four predecessors and keeps their tidy results in a :class:`WeeklyReport`.
Rendering lives apart (:mod:`qualitylib.reports.pdf`, :mod:`qualitylib.reports.csv`), so the
PDF, the CSV folder and the dashboard's downloads show the same values; the model round-trips
through JSON (:meth:`WeeklyReport.to_json`, :meth:`WeeklyReport.from_json`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from qualitylib.metrics.counts import confusion_counts, filtered_sql
from qualitylib.metrics.drift import DriftRule, drift_alerts, open_alerts, weekly_divergence
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.known import require_known
from qualitylib.metrics.onboarding import Objective, onboarding_status
from qualitylib.metrics.policy import stale_policy
from qualitylib.metrics.reference import annotator_summary, confusion_table, summary_from_counts
from qualitylib.metrics.review import review_queue
from qualitylib.metrics.team_agreement import agreement_results, agreement_table
from qualitylib.metrics.timeline import timeline
from qualitylib.pseudonyms import DEFAULT_KEY, pseudonym_map, pseudonymize
from qualitylib.store import label_set

__all__ = [
    "HISTORY_WEEKS",
    "WeeklyReport",
    "build_weekly_report",
    "iso_week",
    "last_complete_week",
    "last_week_with_labels",
    "parse_week",
    "project_name",
    "rename_votes",
]

HISTORY_WEEKS = 4  # the weeks before the report's week that "change" is measured against
REVIEW_TOP = 25  # review-queue items kept in the report (the queue size is counted in full)
RATES = ("accuracy", "tpr", "fpr")
RATE_SET = [f"{r}{s}" for r in RATES for s in ("", "_ci_low", "_ci_high", "_n")]
ID_COLUMNS = ("annotator_id",)
_WEEK = re.compile(r"(\d{4})-W(\d{2})")


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


def last_week_with_labels(
    con: duckdb.DuckDBPyConnection, today: date, team: str | None = None
) -> str | None:
    """The last complete ISO week before ``today`` in which ``team`` (None: anyone) labelled.

    The report's default week: when the label feed stops, this is older than last week
    (``last_complete_week(today)``) and the caller says so. None when no such labels exist.
    """
    end = parse_week(last_complete_week(today)) + timedelta(days=6)
    source, params = filtered_sql(Filters(until=end, teams=(team,) if team else ()))
    latest = con.execute(f"SELECT max(annotated_at) FROM {source} AS f", params).fetchall()[0][0]
    return None if latest is None else iso_week(latest.date())


def project_name(db_path: str | Path) -> str:
    """The project a store's reports are titled with: its file name without the suffix."""
    return Path(db_path).stem


def _frame_to_json(frame: pd.DataFrame) -> dict[str, object]:
    """A frame as JSON-ready columns in order (floats exact, NaN/NaT as null) and dtypes."""
    columns: dict[str, list[object]] = {}
    for name, values in frame.items():
        if pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
        columns[str(name)] = [None if pd.isna(v) else v for v in values.astype(object)]
    dtypes = [[str(c), str(t)] for c, t in frame.dtypes.items()]
    return {"dtypes": dtypes, "columns": [columns[name] for name, _ in dtypes]}


def _frame_from_json(value: dict[str, object]) -> pd.DataFrame:
    """Inverse of :func:`_frame_to_json`."""
    dtypes: list[list[str]] = value["dtypes"]  # type: ignore[assignment]
    columns: list[list[object]] = value["columns"]  # type: ignore[assignment]
    frame = pd.DataFrame(
        {
            name: pd.Series(values, dtype=object)
            for (name, _), values in zip(dtypes, columns, strict=True)
        }
    )
    for name, dtype in dtypes:
        if dtype.startswith("datetime64"):
            frame[name] = pd.to_datetime(frame[name]).astype(dtype)
        elif dtype != "object":
            frame[name] = frame[name].astype(dtype)
    return frame


@dataclass(frozen=True)
class WeeklyReport:
    """One ISO week of a team, against the committee, as tidy tables.

    Rates follow the library's column pattern ``<rate>, <rate>_ci_low, <rate>_ci_high,
    <rate>_n`` (95 % Wilson intervals); undefined values are NaN. ``annotator_id`` columns
    hold pseudonyms when ``pseudonymized`` (and ``name`` columns are gone).
    """

    project: str
    week: str  # ISO week, e.g. "2026-W47"
    team: str | None
    pseudonymized: bool
    labels: list[str]  # the label set in rank order
    n_labels: int  # all labels made in the week (under the team filter)
    policy_in_force: str | None  # the newest policy version labelled under by the week's end
    review_queue_size: int  # items of the week annotators split on or were unsure about
    people: pd.DataFrame = field(repr=False)
    team_weeks: pd.DataFrame = field(repr=False)
    divergence: pd.DataFrame = field(repr=False)
    alerts: pd.DataFrame = field(repr=False)
    onboarding: pd.DataFrame = field(repr=False)
    policy: pd.DataFrame = field(repr=False)
    stale: pd.DataFrame = field(repr=False)
    annotators: pd.DataFrame = field(repr=False)
    annotator_weeks: pd.DataFrame = field(repr=False)
    confusions: pd.DataFrame = field(repr=False)
    agreement: pd.DataFrame = field(repr=False)
    review: pd.DataFrame = field(repr=False)  # the top REVIEW_TOP items of the queue

    @property
    def monday(self) -> date:
        return parse_week(self.week)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def empty(self) -> bool:
        """True when nobody labelled anything in the week."""
        return self.n_labels == 0

    @property
    def prevalence_paradox(self) -> bool:
        """Whether kappa-type coefficients collapse because one label dominates."""
        return bool(self.agreement["prevalence_paradox"].any())

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table of the report by field name, in report order."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if isinstance(getattr(self, f.name), pd.DataFrame)
        }

    def display_names(self) -> dict[str, str]:
        """``{annotator_id: "Name (id)"}``; the pseudonym itself once pseudonymized."""
        if "name" not in self.people.columns:
            return {a: a for a in self.people["annotator_id"]}
        return {
            a: f"{n} ({a})" if isinstance(n, str) and n else a
            for a, n in zip(self.people["annotator_id"], self.people["name"], strict=True)
        }

    def pseudonymize(self, key: str = DEFAULT_KEY) -> WeeklyReport:
        """A copy with every annotator id replaced by its stable pseudonym and names dropped."""
        if self.pseudonymized:
            return self
        changed = {
            name: pseudonymize(frame, ID_COLUMNS, key) for name, frame in self.tables().items()
        }
        changed["review"] = changed["review"].assign(
            labels=_pseudonymize_votes(self.review["labels"], self.people["annotator_id"], key)
        )
        return replace(self, pseudonymized=True, **changed)

    def to_json(self) -> str:
        """The whole model as JSON (tables with their dtypes, so they come back equal)."""
        values = {
            f.name: _frame_to_json(value) if isinstance(value, pd.DataFrame) else value
            for f in fields(self)
            for value in [getattr(self, f.name)]
        }
        return json.dumps(values, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> WeeklyReport:
        """Inverse of :meth:`to_json`."""
        values = json.loads(text)
        tables = {f.name for f in fields(cls) if f.type == "pd.DataFrame"}
        return cls(
            **{
                name: _frame_from_json(value) if name in tables else value
                for name, value in values.items()
            }
        )


def _pseudonymize_votes(votes: pd.Series, ids: pd.Series, key: str) -> pd.Series:
    """Review-queue vote lists (``"safe: a01, a02?; nudity: a03"``) with pseudonyms for ids."""
    return rename_votes(votes, pseudonym_map(ids, key))


def rename_votes(votes: pd.Series, mapping: dict[str, str]) -> pd.Series:
    """Review-queue vote lists (``"safe: a01, a02?; nudity: a03"``) with ``mapping``'s names.

    Ids are matched whole between the list's separators, longest first, so an id that
    contains a separator or another id is still replaced as one; unmapped ids stay.
    """
    if votes.empty or not mapping:
        return votes
    alternatives = "|".join(re.escape(a) for a in sorted(mapping, key=len, reverse=True))
    pattern = re.compile(rf"(?<=: |, )({alternatives})(?=\?|, |; |$)")
    return votes.map(
        lambda text: pattern.sub(lambda m: mapping[m[1]], text) if isinstance(text, str) else text
    )


def _week_filters(base: Filters, monday: date, weeks: int = 1) -> Filters:
    """``base`` narrowed to ``weeks`` whole weeks ending with the week of ``monday``."""
    return replace(
        base, since=monday - timedelta(days=7 * (weeks - 1)), until=monday + timedelta(days=6)
    )


def _people(con: duckdb.DuckDBPyConnection, base: Filters) -> pd.DataFrame:
    """Everyone who labelled under ``base``: ``annotator_id, name, team, role``."""
    source, params = filtered_sql(base)
    return con.execute(
        f"""SELECT annotator_id, name, team, role FROM annotators
            WHERE annotator_key IN (SELECT annotator_key FROM {source} AS f)
            ORDER BY annotator_id""",
        params,
    ).df()


def _team_weeks(
    con: duckdb.DuckDBPyConnection, base: Filters, monday: date, members: set[str]
) -> pd.DataFrame:
    """Pooled rates of the annotators (not the committee) on production control items, for
    the report's week and the :data:`HISTORY_WEEKS` before it, oldest first."""
    rows = []
    for back in range(HISTORY_WEEKS, -1, -1):
        start = monday - timedelta(days=7 * back)
        found = confusion_counts(con, _week_filters(replace(base, phases=("production",)), start))
        keep = found.annotators["annotator_id"].isin(list(members)).to_numpy()
        pooled = found.counts[keep].sum(axis=0, keepdims=True)
        if not keep.any():
            pooled = np.zeros((1, *found.counts.shape[1:]), dtype=np.int64)
        rates = summary_from_counts(pooled, found.labels.names, found.labels.positive)
        rows.append(
            pd.DataFrame({"week": [iso_week(start)], "week_start": [pd.Timestamp(start)]}).join(
                rates[RATE_SET]
            )
        )
    return pd.concat(rows, ignore_index=True)


def _annotators(
    con: duckdb.DuckDBPyConnection, base: Filters, monday: date, active: pd.DataFrame
) -> pd.DataFrame:
    """This week's rates of each active annotator and their change vs the previous weeks."""
    rate_columns = [f"{r}{s}" for r in (*RATES, "kappa") for s in ("", "_ci_low", "_ci_high", "_n")]
    now = annotator_summary(con, _week_filters(base, monday))
    now = now[["annotator_id", "n_labels", *rate_columns]].rename(
        columns={"n_labels": "n_reference"}
    )
    before = annotator_summary(
        con, _week_filters(base, monday - timedelta(days=7), weeks=HISTORY_WEEKS)
    )
    before = before[["annotator_id", "n_labels", *RATES]].rename(
        columns={"n_labels": "n_reference_previous"} | {r: f"{r}_previous" for r in RATES}
    )
    out = active.merge(now, on="annotator_id", how="left").merge(
        before, on="annotator_id", how="left"
    )
    counts = ["n_reference", "n_reference_previous", *(c for c in rate_columns if c.endswith("_n"))]
    for column in counts:
        out[column] = out[column].fillna(0).astype(np.int64)
    for rate in RATES:
        out[f"{rate}_change"] = out[rate] - out[f"{rate}_previous"]
    return out


def _confusions(con: duckdb.DuckDBPyConnection, week: Filters, ids: list[str]) -> pd.DataFrame:
    """The week's non-zero confusion cells per annotator, errors ranked by count."""
    cells = confusion_table(con, week)
    cells = cells[cells["annotator_id"].isin(ids)].copy()
    totals = cells.groupby(["annotator_id", "reference_label"])["n"].transform("sum")
    cells["share_of_reference"] = cells["n"] / totals.where(totals > 0)
    cells = cells[cells["n"] > 0]
    cells["is_error"] = cells["reference_label"] != cells["label"]
    cells = cells.sort_values(
        ["annotator_id", "is_error", "n", "reference_label", "label"],
        ascending=[True, False, False, True, True],
        ignore_index=True,
    )
    rank = cells[cells["is_error"]].groupby("annotator_id").cumcount() + 1
    cells["error_rank"] = rank.reindex(cells.index).astype("Int64")
    return cells


def _policy(con: duckdb.DuckDBPyConnection, base: Filters, monday: date) -> pd.DataFrame:
    """Policy versions labelled under up to the week's end: first use and the week's labels."""
    source, params = filtered_sql(replace(base, since=None, until=monday + timedelta(days=6)))
    return con.execute(
        f"""SELECT policy_version, min(annotated_at) AS first_label_at,
                   count(*) FILTER (WHERE annotated_at >= $monday) AS n_labels_week
            FROM {source} AS f WHERE policy_version IS NOT NULL
            GROUP BY policy_version ORDER BY first_label_at, policy_version""",
        params | {"monday": monday},
    ).df()


def build_weekly_report(
    con: duckdb.DuckDBPyConnection,
    week: str,
    team: str | None = None,
    project: str = "qualitylib",
    objective: Objective | None = None,
    rule: DriftRule | None = None,
) -> WeeklyReport:
    """The weekly report of ``week`` (``2026-W47``) for one team (``None``: everyone).

    Everything is computed from labels made up to the week's Sunday, so a report for a past
    week does not change when later weeks are imported. ``objective`` decides who counts as
    aligned (onboarding), ``rule`` when a drift alert is raised (defaults: the library's).
    """
    monday = parse_week(week)
    sunday = monday + timedelta(days=6)
    require_known(con, "team", [team] if team is not None else [])
    base = Filters(teams=(team,) if team else ())
    this_week = _week_filters(base, monday)
    upto = replace(base, until=sunday)
    recent = _week_filters(base, monday, weeks=HISTORY_WEEKS + 1)

    people = _people(con, upto)
    members = people.loc[people["role"] != "committee", "annotator_id"].tolist()
    weeks = timeline(con, recent, "week")
    weeks = weeks[weeks["annotator_id"].isin(members)].reset_index(drop=True)
    weeks["period_start"] = pd.to_datetime(weeks["period_start"])
    weeks.insert(1, "week", [iso_week(d.date()) for d in weeks["period_start"]])
    weeks = weeks[["annotator_id", "week", "period_start", "n_labels", "n_reference", *RATE_SET]]
    active = weeks.loc[weeks["week"] == week, ["annotator_id", "n_labels"]]
    active = people[["annotator_id", "name", "team"]].merge(active, on="annotator_id")
    ids = active["annotator_id"].tolist()

    alerts = open_alerts(drift_alerts(con, rule or DriftRule(), upto, objective), sunday)
    onboarding = onboarding_status(con, objective or Objective(), upto)
    onboarding = onboarding[onboarding["annotator_id"].isin(members)].reset_index(drop=True)
    onboarding["became_aligned"] = (onboarding["status"] == "aligned") & (
        pd.to_datetime(onboarding["since"]) >= pd.Timestamp(monday)
    )
    policy = _policy(con, base, monday)
    stale = stale_policy(con, this_week)
    divergence = weekly_divergence(con, recent).drop(columns="label")
    queue = review_queue(con, this_week)
    source, params = filtered_sql(this_week)
    n_labels = int(con.execute(f"SELECT count(*) FROM {source} AS f", params).fetchall()[0][0])
    return WeeklyReport(
        project=project,
        week=iso_week(monday),
        team=team,
        pseudonymized=False,
        labels=label_set(con)["label"].tolist(),
        n_labels=n_labels,
        policy_in_force=policy["policy_version"].iloc[-1] if len(policy) else None,
        review_queue_size=len(queue),
        people=people,
        team_weeks=_team_weeks(con, base, monday, set(members)),
        divergence=divergence,
        alerts=alerts.reset_index(drop=True),
        onboarding=onboarding,
        policy=policy,
        stale=stale,
        annotators=_annotators(con, base, monday, active),
        annotator_weeks=weeks,
        confusions=_confusions(con, this_week, ids),
        agreement=agreement_table(agreement_results(con, this_week)),
        review=queue.head(REVIEW_TOP).drop(columns="uri").reset_index(drop=True),
    )
