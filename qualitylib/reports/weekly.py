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

from qualitylib.log_scope import LogNeeded, left_out_rows, log_omitted
from qualitylib.metrics import catalog
from qualitylib.metrics.behaviour import FLAGS, BehaviourRule, behaviour, flag_evidence
from qualitylib.metrics.box_items import (
    box_annotators_kept,
    box_images,
    box_misses,
    box_team_timeline,
    item_boxes,
)
from qualitylib.metrics.box_timeline import box_drift_alerts, box_onboarding, box_timeline
from qualitylib.metrics.boxes import ERRORS as BOX_ERRORS
from qualitylib.metrics.boxes import box_errors, box_summary
from qualitylib.metrics.catalog import policy_versions
from qualitylib.metrics.counts import TEAM_COEFFICIENTS
from qualitylib.metrics.drift import DriftRule, open_alerts, weekly_divergence
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.fixes import fix_rates
from qualitylib.metrics.gold import GoldPlan, gold_budget
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
from qualitylib.metrics.sprt import SPRT, sprt_onboarding
from qualitylib.metrics.team_agreement import (
    AGREEMENT_COLUMNS,
    agreement_results,
    agreement_table,
    pairwise_kappa,
)
from qualitylib.metrics.timeline import timeline
from qualitylib.pseudonyms import DEFAULT_KEY, pseudonym_map, pseudonymize
from qualitylib.store import label_set

__all__ = [
    "HISTORY_WEEKS",
    "WeeklyReport",
    "box_names",
    "box_overlays",
    "build_weekly_report",
    "NEEDS_LOG",
    "iso_week",
    "last_complete_week",
    "parse_week",
    "project_name",
]

BOX_IOU = 0.5  # the IoU a box match needs in the report (the library's default)
BOX_EXAMPLES = 3  # images with overlays in the report: the latest of the people with most errors
BOX_RATES = ("precision", "recall", "mean_iou")
BOX_RATE_SET = [f"{r}{s}" for r in BOX_RATES for s in ("", "_ci_low", "_ci_high", "_n")]
HISTORY_WEEKS = 4  # the weeks before the report's week that "change" is measured against
REVIEW_TOP = 25  # review-queue items kept in the report (the queue size is counted in full)
RATES = ("accuracy", "tpr", "fpr")
RATE_SET = [f"{r}{s}" for r in RATES for s in ("", "_ci_low", "_ci_high", "_n")]
ID_COLUMNS = ("annotator_id", "annotator_a", "annotator_b")
PAIR_COLUMNS = [
    "annotator_a", "annotator_b", "n_items", "kappa", "kappa_ci_low", "kappa_ci_high",
    "kappa_n", "percent_agreement", "prevalence_paradox", "reason",
]  # fmt: skip
SEQUENTIAL_COLUMNS = [
    "annotator_id", "decision", "n_to_decision", "decided_at", "llr_tpr", "llr_fpr",
    "n_reference_labels", "expected_n",
]  # fmt: skip
GOLD_COLUMNS = {  # gold_budget's column -> the report's (its "last week" is the report's week)
    "annotator_id": "annotator_id",
    "controls_last_week": "controls_this_week",
    "positives_last_week": "positives_this_week",
    "negatives_last_week": "negatives_this_week",
    "needed_for_width": "needed_for_width",
    "needed_for_delay": "needed_for_delay",
    "needed_per_week": "needed_per_week",
    "drift_class": "drift_class",
    "team_tpr": "team_tpr",
    "team_fpr": "team_fpr",
    "positive_share": "positive_share",
}


# The report's sections that need the label log, by key, with the name each one's line uses.
NEEDS_LOG = {
    "agreement": TEAM_COEFFICIENTS,
    "behaviour": "The section on behaviour flags",
    "models": "The section on models (where models and the people disagree)",
}


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
    behaviour: pd.DataFrame = field(repr=False)  # the week's behaviour evidence per person
    flags: pd.DataFrame = field(repr=False)  # one row per flag raised this week, its evidence
    sequential: pd.DataFrame = field(repr=False)  # trainees the SPRT decided this week
    gold: pd.DataFrame = field(repr=False)  # control labels this week against the planner's
    # Boxes (when the store holds any): empty tables otherwise, and for older models
    has_boxes: bool = False
    n_box_images: int = 0  # box submissions made in the week
    box_team_weeks: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    box_people: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    box_people_weeks: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    box_errors: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    box_onboarding: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    box_alerts: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    box_examples: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    box_example_boxes: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    has_models: bool = False  # the store holds model predictions: the report has a model section
    models: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    model_queue: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    # Sections left out because the store has no label log (`cubes --no-log`): keys of
    # NEEDS_LOG; their tables are empty and the PDF, CSV README and dashboard say so.
    needs_log: list[str] = field(default_factory=list)

    @property
    def monday(self) -> date:
        return parse_week(self.week)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    @property
    def empty(self) -> bool:
        """True when nobody labelled anything (tags or boxes) in the week."""
        return self.n_labels == 0 and self.n_box_images == 0

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


def _behaviour(
    con: duckdb.DuckDBPyConnection, week: Filters, ids: list[str], rule: BehaviourRule
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The week's behaviour evidence of each active annotator (:func:`behaviour` on the week's
    labels, the flags as names in ``flags``) and one row per raised flag with its sentence."""
    table = behaviour(con, week, rule)
    evidence = flag_evidence(table)  # "the team's" accuracy: everyone who labelled this week
    table = table[table["annotator_id"].isin(ids)].drop(columns=["name", "team", *FLAGS])
    evidence = evidence[evidence["annotator_id"].isin(ids)]
    return table.reset_index(drop=True), evidence.reset_index(drop=True)


def _sequential(
    con: duckdb.DuckDBPyConnection, upto: Filters, monday: date, objective: Objective, sprt: SPRT
) -> pd.DataFrame:
    """Trainees (people with labels in the training phase) whose sequential test
    (:func:`sprt_onboarding`, on their reference labels up to the week's end) decided in the
    week, in the order decided."""
    trainees = catalog.newcomers(con, upto)
    scope = replace(upto, annotators=tuple(trainees)) if trainees else upto
    decided = sprt_onboarding(con, objective, sprt, scope)[SEQUENTIAL_COLUMNS]
    start = pd.Timestamp(monday)
    in_week = (decided["decided_at"] >= start) & (decided["decided_at"] < start + timedelta(7))
    decided = decided[in_week & decided["annotator_id"].isin(trainees)]
    return decided.sort_values(["decided_at", "annotator_id"], ignore_index=True)


def _gold(
    con: duckdb.DuckDBPyConnection, upto: Filters, monday: date, ids: list[str], plan: GoldPlan
) -> pd.DataFrame:
    """Control labels each active annotator got this week against the planner's need
    (:func:`gold_budget` at the team's rates up to the week's end), with the ``shortfall``."""
    budget = gold_budget(con, upto, plan)
    if len(budget) and budget["week_start"].iloc[0] != monday:  # no controls this week at all
        budget[["controls_last_week", "positives_last_week", "negatives_last_week"]] = 0
    table = budget[budget["annotator_id"].isin(ids)].reindex(columns=list(GOLD_COLUMNS))
    table = table.rename(columns=GOLD_COLUMNS).reset_index(drop=True)
    table["shortfall"] = (table["needed_per_week"] - table["controls_this_week"]).clip(lower=0)
    return table


def _box_people(
    con: duckdb.DuckDBPyConnection, base: Filters, monday: date, ids: list[str], threshold: float
) -> pd.DataFrame:
    """This week's box scores of each active box annotator against the committee, and the
    :data:`HISTORY_WEEKS` weeks before pooled (``_previous``) with the change."""
    keep = ["annotator_id", "n_items", "tp", "fp", "fn", *BOX_RATE_SET, "f1"]
    now = box_summary(con, week_filters(base, monday), threshold)
    before = box_summary(
        con, week_filters(base, monday - timedelta(days=7), weeks=HISTORY_WEEKS), threshold
    )
    before = before[["annotator_id", *BOX_RATES]].rename(
        columns={r: f"{r}_previous" for r in BOX_RATES}
    )
    out = pd.DataFrame({"annotator_id": ids}).merge(now[keep], on="annotator_id", how="left")
    out = out.merge(before, on="annotator_id", how="left")
    counts = ["n_items", "tp", "fp", "fn", *(c for c in BOX_RATE_SET if c.endswith("_n"))]
    out[counts] = out[counts].fillna(0).astype(np.int64)
    for rate in BOX_RATES:
        out[f"{rate}_change"] = out[rate] - out[f"{rate}_previous"]
    return out


def _box_examples(
    con: duckdb.DuckDBPyConnection, week: Filters, people: pd.DataFrame, threshold: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Up to :data:`BOX_EXAMPLES` images with errors this week (the latest of each of the
    people with the most box errors) and their matched boxes, for the report's overlays."""
    ranked = people.assign(errors=people["fp"] + people["fn"])
    ranked = ranked[ranked["errors"] > 0].sort_values(
        ["errors", "annotator_id"], ascending=[False, True]
    )
    examples, drawn = [], []
    for who in ranked["annotator_id"].head(BOX_EXAMPLES):
        found = box_misses(con, week, who, (), threshold, limit=1).items
        if found.empty:
            continue
        row = found.iloc[0]
        example = len(examples)
        examples.append(
            {
                "example": example,
                "annotator_id": who,
                "item_id": row["item_id"],
                "uri": row["uri"],
                "width": row["width"],
                "height": row["height"],
                "annotated_at": row["annotated_at"],
            }
            | {e: int(row[e]) for e in ("tp", *BOX_ERRORS)}
        )
        item = item_boxes(
            con, row["item_id"], who, None, row["annotated_at"].to_pydatetime(), threshold
        )
        for side, frame in (("annotator", item.mine), ("committee", item.theirs)):
            drawn.append(frame.assign(example=example, side=side))
    columns = ["example", "side", "label", "x_min", "y_min", "x_max", "y_max", "iou", "error"]
    boxes = pd.concat(drawn, ignore_index=True)[columns] if drawn else pd.DataFrame(columns=columns)
    frame = pd.DataFrame(examples)
    if frame.empty:
        frame = pd.DataFrame(
            columns=["example", "annotator_id", "item_id", "uri", "width", "height",
                     "annotated_at", "tp", *BOX_ERRORS]
        )  # fmt: skip
    return frame, boxes


def _boxes(con: duckdb.DuckDBPyConnection, base: Filters, monday: date) -> dict[str, object]:
    """The report's box tables (see :class:`WeeklyReport`), for a store that holds boxes."""
    sunday = monday + timedelta(days=6)
    this_week = week_filters(base, monday)
    recent = week_filters(base, monday, weeks=HISTORY_WEEKS + 1)
    upto = replace(base, until=sunday)
    active = box_annotators_kept(con, this_week)  # the team's, committee left out
    mondays = [monday - timedelta(days=7 * back) for back in range(HISTORY_WEEKS, -1, -1)]
    weeks = pd.DataFrame(
        {"week": [iso_week(d) for d in mondays], "period_start": pd.to_datetime(mondays)}
    )
    found = box_team_timeline(con, recent, "week", BOX_IOU)
    found["period_start"] = pd.to_datetime(found["period_start"])
    team = weeks.merge(found, on="period_start", how="left")
    counts = [
        c for c in team.columns if c.endswith("_n") or c in ("n_reference_images", "tp", "fp", "fn")
    ]
    team[counts] = team[counts].fillna(0).astype(np.int64)
    team = team.rename(columns={"period_start": "week_start"})
    team["week_start"] = pd.to_datetime(team["week_start"])
    people_weeks = box_timeline(con, recent, "week", BOX_IOU)
    people_weeks = people_weeks[people_weeks["annotator_id"].isin(active)].reset_index(drop=True)
    people_weeks["period_start"] = pd.to_datetime(people_weeks["period_start"])
    people_weeks.insert(1, "week", [iso_week(d.date()) for d in people_weeks["period_start"]])
    people = _box_people(con, base, monday, active, BOX_IOU)
    errors = box_errors(con, this_week, BOX_IOU)
    status = box_onboarding(con, upto, iou_threshold=BOX_IOU)
    status = status[status["annotator_id"].isin(active)].reset_index(drop=True)
    alerts = open_alerts(box_drift_alerts(con, upto, iou_threshold=BOX_IOU), sunday)
    examples, drawn = _box_examples(con, this_week, people, BOX_IOU)
    return {
        "has_boxes": True,
        "n_box_images": box_images(con, this_week),
        "box_team_weeks": team,
        "box_people": people,
        "box_people_weeks": people_weeks,
        "box_errors": errors[errors["annotator_id"].isin(active)].reset_index(drop=True),
        "box_onboarding": status,
        "box_alerts": alerts,
        "box_examples": examples,
        "box_example_boxes": drawn,
    }


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
    behaviour_rule: BehaviourRule | None = None,
    sprt: SPRT | None = None,
    plan: GoldPlan | None = None,
) -> WeeklyReport:
    """The weekly report of ``week`` (``2026-W47``) for one team (``None``: everyone).

    Everything is computed from labels made up to the week's Sunday, so a report for a past
    week does not change when later weeks are imported. ``objective`` decides who counts as
    aligned (onboarding and the sequential test), ``rule`` when a drift alert is raised,
    ``behaviour_rule`` the behaviour flags on the week's labels, ``sprt`` the sequential test's
    error rates and ``plan`` the control-item planner (defaults: the library's).
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
    behaving, flags = _behaviour(con, this_week, ids, behaviour_rule or BehaviourRule())
    needs_log = []
    try:
        agreement = agreement_table(agreement_results(con, this_week))
    except LogNeeded:  # a store without the log: the coefficients need each item's answers
        agreement, needs_log = pd.DataFrame(columns=AGREEMENT_COLUMNS), ["agreement"]
    if log_omitted(con):  # computed on the left-out (empty) log: its columns, none of its rows
        behaving, flags, needs_log = behaving.iloc[:0], flags.iloc[:0], [*needs_log, "behaviour"]
    models = model_queue = None
    if has_predictions(con):
        try:
            models, model_queue = _models(con, this_week)
        except LogNeeded:  # its queue compares each item's answers with the model's
            needs_log = [*needs_log, "models"]
    elif left_out_rows(con, "predictions"):  # the model's rows are left out with the log
        needs_log = [*needs_log, "models"]
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
        agreement=agreement,
        pairs=pairwise_kappa(con, this_week)[PAIR_COLUMNS],
        review=queue.drop(columns="uri"),
        behaviour=behaving,
        flags=flags,
        sequential=_sequential(con, upto, monday, objective or Objective(), sprt or SPRT()),
        gold=_gold(con, upto, monday, ids, plan or GoldPlan()),
        **(_boxes(con, base, monday) if box_images(con, upto) else {}),  # the team drew boxes
        has_models=models is not None,
        models=pd.DataFrame() if models is None else models,
        model_queue=pd.DataFrame() if model_queue is None else model_queue,
        needs_log=needs_log,
    )


def box_names(report: WeeklyReport) -> dict[str, str]:
    """:meth:`WeeklyReport.display_names` with the box annotators' names ("Name (id)"; the
    pseudonym itself once pseudonymized)."""
    names = report.display_names()
    status = report.box_onboarding
    if "name" in status.columns:
        names |= {
            a: f"{n} ({a})" if isinstance(n, str) and n else a
            for a, n in zip(status["annotator_id"], status["name"], strict=True)
        }
    return names


def box_overlays(report: WeeklyReport) -> list[bytes]:
    """PNG of each example image (:attr:`WeeklyReport.box_examples`): the annotator's boxes and
    the committee's, named as the report names people (pseudonyms when pseudonymized)."""
    from qualitylib.box_overlay import COLOURS, Layer, overlay_png  # Pillow: only when drawn

    names = box_names(report)
    out = []
    for row in report.box_examples.itertuples():
        drawn = report.box_example_boxes[report.box_example_boxes["example"] == row.example]
        mine = drawn[drawn["side"] == "annotator"]
        theirs = drawn[drawn["side"] == "committee"].drop(columns="iou")
        size = (int(row.width), int(row.height)) if pd.notna(row.width) else None
        layers = [
            Layer(names.get(row.annotator_id, row.annotator_id), mine, COLOURS[0]),
            Layer("Committee", theirs, COLOURS[1]),
        ]
        out.append(overlay_png(row.uri, layers, size=size))
    return out
