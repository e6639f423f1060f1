"""The weekly report model: every number a team lead reads on Monday, computed, not rendered.

:func:`build_weekly_report` asks the metrics modules (SQL counts, numpy statistics) for one
ISO week and its four predecessors and keeps their tidy results in a :class:`WeeklyReport`.
Rendering lives apart (:mod:`qualitylib.reports.pdf`, :mod:`qualitylib.reports.csv`), so the
PDF, the CSV folder and the dashboard's downloads show the same values; the model round-trips
through JSON (:meth:`WeeklyReport.to_json`, :meth:`WeeklyReport.from_json`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from qualitylib.metrics import catalog
from qualitylib.metrics.catalog import policy_versions
from qualitylib.metrics.drift import DriftRule, weekly_divergence
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.fixes import fix_rates
from qualitylib.metrics.headlines import headlines
from qualitylib.metrics.known import require_known
from qualitylib.metrics.models import (
    has_predictions,
    model_disagreements,
    model_name,
    model_summary,
)
from qualitylib.metrics.onboarding import Objective
from qualitylib.metrics.periods import iso_week, last_complete_week, parse_week, week_filters
from qualitylib.metrics.policy import stale_policy
from qualitylib.metrics.reference import (
    annotator_summary,
    confusion_table,
    rate_columns,
    team_rates,
)
from qualitylib.metrics.review import review_queue
from qualitylib.metrics.team_agreement import agreement_results, agreement_table, pairwise_kappa
from qualitylib.metrics.timeline import timeline
from qualitylib.pseudonyms import DEFAULT_KEY, pseudonym_map, pseudonymize
from qualitylib.store import label_set

__all__ = [
    "HISTORY_WEEKS",
    "WeeklyReport",
    "build_weekly_report",
    "iso_week",
    "last_complete_week",
    "parse_week",
    "project_name",
]

HISTORY_WEEKS = 4  # the weeks before the report's week that "change" is measured against
REVIEW_TOP = 25  # review-queue items kept in the report (the queue size is counted in full)
RATES = ("accuracy", "tpr", "fpr")
RATE_SET = [f"{r}{s}" for r in RATES for s in ("", "_ci_low", "_ci_high", "_n")]
ID_COLUMNS = ("annotator_id", "annotator_a", "annotator_b")
PAIR_COLUMNS = [
    "annotator_a", "annotator_b", "n_items", "kappa", "kappa_ci_low", "kappa_ci_high",
    "kappa_n", "percent_agreement", "prevalence_paradox", "reason",
]  # fmt: skip


def project_name(db_path: str | Path) -> str:
    """The project a store's reports are titled with: its file name without the suffix."""
    return Path(db_path).stem


def _frame_to_json(frame: pd.DataFrame) -> dict[str, object]:
    """A frame as JSON-ready columns in order (floats exact, NaN/NaT as null) and dtypes."""
    columns: dict[str, list[object]] = {}
    for name, values in frame.items():
        if pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
        columns[str(name)] = [
            v if isinstance(v, list) else None if pd.isna(v) else v for v in values.astype(object)
        ]
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
    pairs: pd.DataFrame = field(repr=False)  # Cohen's kappa of every pair sharing items
    review: pd.DataFrame = field(repr=False)  # the top REVIEW_TOP items of the queue
    has_models: bool = False  # the store holds model predictions: the report has a model section
    models: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    model_queue: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

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
        mapping = pseudonym_map(self.people["annotator_id"], key)
        changed["review"] = changed["review"].assign(
            votes=_renamed_votes(self.review["votes"], mapping)
        )
        if "votes" in self.model_queue.columns:
            changed["model_queue"] = changed["model_queue"].assign(
                votes=_renamed_votes(self.model_queue["votes"], mapping)
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


def _renamed_votes(votes: pd.Series, mapping: dict[str, str]) -> pd.Series:
    """Review-queue ``votes`` with every annotator id replaced by ``mapping``'s name for it."""
    return votes.map(
        lambda entries: [
            entry | {"annotators": [mapping.get(a, a) for a in entry["annotators"]]}
            for entry in entries
        ]
    )


def _team_weeks(con: duckdb.DuckDBPyConnection, base: Filters, monday: date) -> pd.DataFrame:
    """The team's pooled rates (:func:`team_rates`) on production control items, for the
    report's week and the :data:`HISTORY_WEEKS` before it, oldest first (every week a row)."""
    production = week_filters(replace(base, phases=("production",)), monday, HISTORY_WEEKS + 1)
    found = team_rates(con, production, "week")
    mondays = [monday - timedelta(days=7 * back) for back in range(HISTORY_WEEKS, -1, -1)]
    weeks = pd.DataFrame({"week": [iso_week(d) for d in mondays], "period_start": mondays})
    out = weeks.merge(found[["period_start", *RATE_SET]], on="period_start", how="left")
    counts = [c for c in RATE_SET if c.endswith("_n")]
    out[counts] = out[counts].fillna(0).astype(np.int64)
    out = out.rename(columns={"period_start": "week_start"})
    out["week_start"] = pd.to_datetime(out["week_start"])
    return out


def _annotators(
    con: duckdb.DuckDBPyConnection, base: Filters, monday: date, active: pd.DataFrame
) -> pd.DataFrame:
    """This week's rates of each active annotator and their change vs the previous weeks."""
    rate_columns = [f"{r}{s}" for r in (*RATES, "kappa") for s in ("", "_ci_low", "_ci_high", "_n")]
    now = annotator_summary(con, week_filters(base, monday))
    now = now[["annotator_id", "n_reference", *rate_columns]]
    before = annotator_summary(
        con, week_filters(base, monday - timedelta(days=7), weeks=HISTORY_WEEKS)
    )
    before = before[["annotator_id", "n_reference", *RATES]].rename(
        columns={"n_reference": "n_reference_previous"} | {r: f"{r}_previous" for r in RATES}
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


MODEL_RATES = [f"{r}{s}" for r in ("tpr", "fpr") for s in ("", "_ci_low", "_ci_high", "_n")]
MODEL_QUEUE_TOP = 10  # model disagreements listed in the report (all are counted)


def _models(con: duckdb.DuckDBPyConnection, week: Filters) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each model version with predictions in the week: TPR/FPR against the committee and ECE
    (with intervals), the fix rate of its week's predictions (fixes up to the week's end), and
    how many items it and the people's majority disagree on; then the top of that queue."""
    fixes = fix_rates(con, week)
    queue = model_disagreements(con, week)
    if fixes.empty:
        columns = ["model_id", "model_version", "model", "n_predictions", *MODEL_RATES]
        return pd.DataFrame(columns=columns), queue.drop(columns="uri")
    keys = ["model_id", "model_version"]
    out = fixes.groupby(keys, as_index=False)[["n_predictions", "n_fixed"]].sum()
    out = pd.concat(
        [out, pd.DataFrame(rate_columns("fix_rate", out["n_fixed"], out["n_predictions"]))],
        axis=1,
    )
    summary = model_summary(con, week)
    calibration = [c for c in ("ece", "ece_ci_low", "ece_ci_high", "ece_n") if c in summary]
    out = out.merge(
        summary[[*keys, "n_reference", *MODEL_RATES, *calibration]], on=keys, how="left"
    )
    counted = queue.groupby(keys, as_index=False).agg(
        n_disagreements=("item_id", "size"),
        n_model_flagged=("direction", lambda d: int((d == "model_flagged").sum())),
    )
    out = out.merge(counted, on=keys, how="left")
    counts = ["n_reference", "n_disagreements", "n_model_flagged"]
    counts += [c for c in out.columns if c.endswith("_n")]
    out[counts] = out[counts].fillna(0).astype(np.int64)
    out.insert(
        2,
        "model",
        [model_name(i, v) for i, v in zip(out["model_id"], out["model_version"], strict=True)],
    )
    return out, queue.head(MODEL_QUEUE_TOP).drop(columns="uri")


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
    this_week = week_filters(base, monday)
    upto = replace(base, until=sunday)
    recent = week_filters(base, monday, weeks=HISTORY_WEEKS + 1)

    people = catalog.people(con, upto)
    members = people.loc[people["role"] != "committee", "annotator_id"].tolist()
    weeks = timeline(con, recent, "week")
    weeks = weeks[weeks["annotator_id"].isin(members)].reset_index(drop=True)
    weeks["period_start"] = pd.to_datetime(weeks["period_start"])
    weeks.insert(1, "week", [iso_week(d.date()) for d in weeks["period_start"]])
    weeks = weeks[["annotator_id", "week", "period_start", "n_labels", "n_reference", *RATE_SET]]
    active = weeks.loc[weeks["week"] == week, ["annotator_id", "n_labels"]]
    active = people[["annotator_id", "name", "team"]].merge(active, on="annotator_id")
    ids = active["annotator_id"].tolist()

    top = headlines(con, this_week, objective, rule)
    onboarding = top.status.assign(
        became_aligned=(top.status["status"] == "aligned")
        & (pd.to_datetime(top.status["since"]) >= pd.Timestamp(monday))
    )
    policy = policy_versions(con, replace(base, until=sunday), counted_from=monday)
    stale = stale_policy(con, this_week)
    divergence = weekly_divergence(con, recent).drop(columns="label")
    queue = review_queue(con, this_week, REVIEW_TOP)
    models, model_queue = _models(con, this_week) if has_predictions(con) else (None, None)
    return WeeklyReport(
        project=project,
        week=iso_week(monday),
        team=team,
        pseudonymized=False,
        labels=label_set(con)["label"].tolist(),
        n_labels=catalog.n_labels(con, this_week),
        policy_in_force=policy["policy_version"].iloc[-1] if len(policy) else None,
        review_queue_size=top.review_queue_size,
        people=people,
        team_weeks=_team_weeks(con, base, monday),
        divergence=divergence,
        alerts=top.alerts,
        onboarding=onboarding,
        policy=policy,
        stale=stale,
        annotators=_annotators(con, base, monday, active),
        annotator_weeks=weeks,
        confusions=_confusions(con, this_week, ids),
        agreement=agreement_table(agreement_results(con, this_week)),
        pairs=pairwise_kappa(con, this_week)[PAIR_COLUMNS],
        review=queue.drop(columns="uri"),
        has_models=models is not None,
        models=pd.DataFrame() if models is None else models,
        model_queue=pd.DataFrame() if model_queue is None else model_queue,
    )
