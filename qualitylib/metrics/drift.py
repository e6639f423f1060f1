r"""Control-item drift: weekly divergence from the committee, and an alert rule for it.

Control items are reference items injected among production work. For every production
label on a control item (scored against the decision in force when it was made, see
:func:`qualitylib.metrics.counts.scored_sql`) SQL counts, per annotator x ISO week x reference
class ``c``: ``n`` control labels and ``x`` disagreements (label differs from the decision).
The *divergence* is ``x / n``. Everything after that runs on the dense count arrays
``x, n: (n_annotators, n_weeks, k)``; the only Python loop is over weeks (the recursion).

Alert rule (one-sided, per annotator and reference class)
---------------------------------------------------------
A risk-adjusted Bernoulli CUSUM (Page 1954; Reynolds & Stoumbos 1999 for the Bernoulli
form; Steiner, Cook, Farewell & Treasure 2000 for the odds-ratio, risk-adjusted weights),
summed over the labels of one week:

.. math::

    S_{w} = \max\bigl(0,\; S_{w-1} + x_w \ln R - n_w \ln(1 - p_{0,w} + R\,p_{0,w})\bigr)

the log-likelihood ratio of "the odds of disagreeing are ``R`` times the baseline odds"
against "they are the baseline". An alert is raised in week ``w`` when ``S_w >= h`` and the
week holds at least ``min_errors`` disagreements on the class; ``S`` then restarts at 0.
The baseline ``p_0`` compares the annotator both with their own earlier weeks and with the
rest of the team:

* own history, shrunk towards the median annotator's with ``prior_labels`` pseudo-labels:
  ``p_own = (X_own + m p_typical) / (N_own + m)`` (weeks before ``w``, without the weeks of
  an excursion that ended in an alert, so a drift never becomes its own baseline);
* if the rest of the team diverges more this week than in its own history (odds ratio
  ``OR_w >= 1``, the week shrunk with ``team_prior_labels`` pseudo-labels), the baseline odds
  are multiplied by ``OR_w``: a shift that the whole team shares is not an individual's drift.

Drift means leaving an alignment one had: an annotator is monitored only from the ISO week in
which their onboarding status (:func:`qualitylib.metrics.onboarding.onboarding_status`, the
fixed-window objective) was first ``aligned`` (:func:`only_aligned`); a trainee never aligned
belongs to onboarding, not to the drift list, and their weeks count in no individual baseline
(the team CUSUM below still sees everyone: what it watches is the group). Weeks before an
annotator's ``burn_in_weeks``-th monitored week with control labels only build the baseline.
The class of an alert is the reference class whose CUSUM crossed: the decisions the annotator
departs from (``safe`` means safe items being flagged).

Team drift (the whole group moving away from the committee) is a second, risk-adjusted CUSUM:
the sum of the same log-likelihood ratios (with ``team_odds_ratio``) over every monitored
annotator *not* individually alerted on that class (from their alert week on), each against
their own history shrunk to the pool's, frozen while the team statistic is above 0; threshold
``team_h``. Summing per-person terms makes the expected count follow who labelled controls
that week (an unlucky week of the random clicker is not team drift).
So one drifter raises an individual alert, not a team alert, and a team-wide shift raises a
team alert but (through ``OR_w``) few individual ones.

False alarms are measured, not assumed: ``benchmarks/false_alarms.py`` runs the rule on seeded
drift-free demo teams (:func:`qualitylib.demo.generate` with ``team="steady"``); see
:class:`DriftRule` for the numbers.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from qualitylib.metrics.catalog import last_day
from qualitylib.metrics.counts import label_index, scored_sql
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.onboarding import Objective, onboarding_status
from qualitylib.metrics.reference import rate_columns

__all__ = [
    "OPEN_WEEKS",
    "DriftRule",
    "WeeklyControls",
    "drift_alerts",
    "from_week",
    "last_day",
    "only_aligned",
    "open_alerts",
    "weekly_controls",
    "weekly_divergence",
]

OPEN_WEEKS = 2  # an alert stays open in the ISO week it was raised and the week after


@dataclass(frozen=True)
class DriftRule:
    """Parameters of the control-item CUSUM (see the module docstring for the formula).

    Measured false-alarm rate (``benchmarks/false_alarms.py``: 40 seeded drift-free demo
    campaigns, 200,000 labels each, about 65 control labels per annotator-week, 359 aligned
    annotator-quarters, individuals watched from their first aligned week): with these
    defaults **0.042 false individual alerts per annotator-quarter** (2.9 % of annotators
    flagged at least once in a 12-week campaign) and **0.135 false team alerts per quarter**
    (37 team-quarters). Detection on the personas
    campaign (20 seeds): the drifter is alerted on its drift class in every campaign, by the
    end of the second drifting week in 75 % of them (median 1 week after the first).

    Attributes
    ----------
    odds_ratio : R, the shift in the odds of disagreeing the individual CUSUM is tuned to
        detect (a drifting person changes a lot, on few control labels a week).
    h : alert threshold of the individual CUSUM (log-likelihood-ratio units).
    team_odds_ratio : R of the team CUSUM (a whole group moves less, on many labels).
    team_h : alert threshold of the team CUSUM.
    burn_in_weeks : an annotator's first weeks with control labels only build the baseline.
    prior_labels : pseudo-labels shrinking an annotator's own baseline towards the team's.
    team_prior_labels : pseudo-labels shrinking the rest of the team's week towards its history.
    min_errors : disagreements on the class needed in the alert week (one mistake never alerts).
    """

    odds_ratio: float = 5.0
    h: float = 5.0
    team_odds_ratio: float = 2.0
    team_h: float = 7.0
    burn_in_weeks: int = 2
    prior_labels: float = 30.0
    team_prior_labels: float = 50.0
    min_errors: int = 2

    def __post_init__(self) -> None:
        if self.odds_ratio <= 1 or self.team_odds_ratio <= 1:
            raise ValueError(
                f"odds ratios must be > 1, e.g. 5 (got {self.odds_ratio}, {self.team_odds_ratio})"
            )
        if self.h <= 0 or self.team_h <= 0:
            raise ValueError("thresholds h and team_h must be positive, e.g. 4")
        if self.burn_in_weeks < 1:
            raise ValueError("burn_in_weeks must be at least 1 (the baseline needs a week)")


@dataclass(frozen=True)
class WeeklyControls:
    """Production labels on control items, per annotator x week x reference class.

    ``x[a, w, c]``: disagreements, ``n[a, w, c]``: control labels; shape
    ``(n_annotators, n_weeks, k)``. ``weeks`` are consecutive Mondays (no gaps).
    """

    annotators: list[str]
    weeks: np.ndarray  # datetime64[D], Mondays
    labels: list[str]
    x: np.ndarray
    n: np.ndarray


def weekly_controls(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None
) -> WeeklyControls:
    """Dense weekly control-item counts from one GROUP BY (phase forced to ``production``)."""
    production = replace(filters or Filters(), phases=("production",))
    scored, params = scored_sql(production)
    table = con.execute(
        f"""SELECT a.annotator_id, date_trunc('week', s.annotated_at)::DATE AS week_start,
                   s.ref_label_key, count(*) AS n,
                   count(*) FILTER (WHERE s.label_key <> s.ref_label_key) AS x
            FROM {scored} AS s JOIN annotators a USING (annotator_key)
            GROUP BY ALL""",
        params,
    ).df()
    index = label_index(con)
    k = len(index.labels)
    if table.empty:
        empty = np.zeros((0, 0, k), dtype=np.int64)
        return WeeklyControls([], np.array([], "datetime64[D]"), index.names, empty, empty)
    people, a = np.unique(table["annotator_id"].to_numpy(dtype=str), return_inverse=True)
    week_days = table["week_start"].to_numpy().astype("datetime64[D]")
    first = week_days.min()
    w = ((week_days - first).astype(np.int64) // 7).astype(np.int64)
    n_weeks = int(w.max()) + 1
    c = index.positions(table["ref_label_key"].to_numpy())
    x = np.zeros((len(people), n_weeks, k), dtype=np.int64)
    n = np.zeros_like(x)
    np.add.at(x, (a, w, c), table["x"].to_numpy())
    np.add.at(n, (a, w, c), table["n"].to_numpy())
    weeks = first + 7 * np.arange(n_weeks)
    return WeeklyControls(people.tolist(), weeks, index.names, x, n)


def _exclusive_cumsum(values: np.ndarray, axis: int = 1) -> np.ndarray:
    """Sums over the weeks strictly before each week."""
    return np.cumsum(values, axis=axis) - values


def _odds(p: np.ndarray) -> np.ndarray:
    return p / (1.0 - p)


def _team_shift(x: np.ndarray, n: np.ndarray, rule: DriftRule) -> np.ndarray:
    """``OR_w``: how much more the rest of the team diverges this week than in its earlier
    weeks (odds ratio, leave-one-out, week shrunk to history, floored at 1); ``(A, W, K)``."""
    team_x, team_n = x.sum(axis=0), n.sum(axis=0)
    hist_x = _exclusive_cumsum(team_x, axis=0)[None] - _exclusive_cumsum(x)
    hist_n = _exclusive_cumsum(team_n, axis=0)[None] - _exclusive_cumsum(n)
    p_hist = (hist_x + 0.5) / (hist_n + 1.0)
    m = rule.team_prior_labels
    p_week = ((team_x[None] - x) + m * p_hist) / ((team_n[None] - n) + m)
    return np.maximum(1.0, _odds(p_week) / _odds(p_hist))


@dataclass(frozen=True)
class _Evaluation:
    """Individual and team CUSUM results on one :class:`WeeklyControls`."""

    p0: np.ndarray  # (A, W, K) individual baselines
    statistic: np.ndarray  # (A, W, K) CUSUM after each week (before a restart)
    alerts: np.ndarray  # (A, W, K)
    team_x: np.ndarray  # (W, K) pooled counts of the team CUSUM
    team_n: np.ndarray
    team_p0: np.ndarray
    team_statistic: np.ndarray
    team_alerts: np.ndarray


def _evaluate(controls: WeeklyControls, rule: DriftRule) -> _Evaluation:
    """Run both CUSUMs week by week (the numbers behind :func:`drift_alerts`).

    Baselines are frozen during an excursion (``S > 0``): the weeks of an excursion join an
    annotator's history only once ``S`` is back to 0, and never when they raised an alert, so
    a drift does not become its own baseline.
    """
    x, n = controls.x.astype(float), controls.n.astype(float)
    n_people, n_weeks, k = x.shape
    log_r, r1 = np.log(rule.odds_ratio), rule.odds_ratio - 1.0
    team_log_r, team_r1 = np.log(rule.team_odds_ratio), rule.team_odds_ratio - 1.0
    shift = _team_shift(x, n, rule)
    active = n.sum(axis=2) > 0
    monitored = (_exclusive_cumsum(active.astype(np.int64)) >= rule.burn_in_weeks) & active
    out = {name: np.zeros((n_people, n_weeks, k)) for name in ("p0", "statistic")}
    alerts = np.zeros((n_people, n_weeks, k), dtype=bool)
    team = {name: np.zeros((n_weeks, k)) for name in ("x", "n", "p0", "statistic")}
    team_alerts = np.zeros((n_weeks, k), dtype=bool)
    hist_x, hist_n = np.zeros((n_people, k)), np.zeros((n_people, k))  # in-control history
    pend_x, pend_n = np.zeros((n_people, k)), np.zeros((n_people, k))  # current excursion
    s, run_errors = np.zeros((n_people, k)), np.zeros((n_people, k))
    ever_alerted = np.zeros((n_people, k), dtype=bool)
    team_s, team_run, team_base = np.zeros(k), np.zeros(k), np.zeros((n_people, k))
    for w in range(n_weeks):
        xw, nw = x[:, w], n[:, w]
        tested = np.broadcast_to(monitored[:, w, None], (n_people, k)) & (nw > 0)
        # Baseline: own in-control history shrunk to the median annotator's, times OR_w.
        rates = np.where(hist_n > 0, (hist_x + 0.5) / (hist_n + 1.0), np.nan)
        typical = np.nan_to_num(_nanmedian(rates), nan=0.5)
        p_own = (hist_x + rule.prior_labels * typical) / (hist_n + rule.prior_labels)
        odds0 = _odds(np.clip(p_own, 1e-9, 1 - 1e-9)) * shift[:, w]
        p0 = odds0 / (1.0 + odds0)
        increment = xw * log_r - nw * np.log1p(r1 * p0)
        s = np.where(tested, np.maximum(0.0, s + increment), s)
        run_errors = np.where(tested, run_errors + xw, run_errors)
        pend_x, pend_n = pend_x + tested * xw, pend_n + tested * nw
        alert = tested & (s >= rule.h) & (run_errors >= rule.min_errors)
        out["p0"][:, w], out["statistic"][:, w], alerts[:, w] = p0, s, alert
        # Every week joins the history at once, except the weeks of an excursion that ends
        # in an alert: those are taken out again, so a drift never becomes its own baseline.
        hist_x += xw - np.where(alert, pend_x, 0.0)
        hist_n += nw - np.where(alert, pend_n, 0.0)
        clear = (s == 0) | alert
        pend_x, pend_n = np.where(clear, 0.0, pend_x), np.where(clear, 0.0, pend_n)
        s = np.where(alert, 0.0, s)
        run_errors = np.where(s == 0, 0.0, run_errors)
        ever_alerted |= alert

        # Team: risk-adjusted CUSUM summed over monitored annotators never individually
        # alerted on the class, each against their own baseline frozen at the excursion start.
        included = tested & ~ever_alerted
        pooled = ((hist_x * included).sum(axis=0) + 0.5) / ((hist_n * included).sum(axis=0) + 1)
        p_team = (hist_x + rule.prior_labels * pooled) / (hist_n + rule.prior_labels)
        team_base = np.where(team_s[None] == 0, p_team, team_base)
        tx, tn = (xw * included).sum(axis=0), (nw * included).sum(axis=0)
        team_inc = (included * (xw * team_log_r - nw * np.log1p(team_r1 * team_base))).sum(axis=0)
        team_tested = tn > 0
        team_s = np.where(team_tested, np.maximum(0.0, team_s + team_inc), team_s)
        team_run = np.where(team_tested, team_run + tx, team_run)
        t_alert = team_tested & (team_s >= rule.team_h) & (team_run >= rule.min_errors)
        expected = (included * nw * team_base).sum(axis=0) / np.where(tn > 0, tn, 1)
        team["x"][w], team["n"][w], team["p0"][w], team["statistic"][w] = tx, tn, expected, team_s
        team_alerts[w] = t_alert
        team_s = np.where(t_alert, 0.0, team_s)
        team_run = np.where(team_s == 0, 0.0, team_run)
    return _Evaluation(
        out["p0"], out["statistic"], alerts, team["x"], team["n"], team["p0"],
        team["statistic"], team_alerts,
    )  # fmt: skip


def _nanmedian(rates: np.ndarray) -> np.ndarray:
    """Median over annotators (axis 0) ignoring NaN; NaN where nobody has a rate."""
    if rates.shape[0] == 0:
        return np.full(rates.shape[1:], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        return np.nanmedian(rates, axis=0)


ALERT_COLUMNS = [
    "scope", "annotator_id", "week_start", "label", "divergence", "baseline", "n", "errors",
    "cusum", "threshold",
]  # fmt: skip


def alerts_from_controls(
    controls: WeeklyControls,
    rule: DriftRule = DriftRule(),
    aligned_at: Mapping[str, object] | None = None,
) -> pd.DataFrame:
    """The alert table of :func:`drift_alerts` from counts (no database; for simulations).

    ``aligned_at``: ``{annotator_id: first time aligned}``; when given, individual alerts
    come from :func:`only_aligned` counts (the team CUSUM always sees everyone).
    """
    if controls.x.size == 0:
        return pd.DataFrame(columns=ALERT_COLUMNS)
    result = _evaluate(controls, rule)
    individual_result = result
    if aligned_at is not None:
        masked = only_aligned(controls, aligned_at)
        individual_result = _evaluate(masked, rule)
        result = replace(result, alerts=individual_result.alerts)
    a, w, c = np.nonzero(result.alerts)
    tw, tc = np.nonzero(result.team_alerts)
    people = np.asarray(controls.annotators, dtype=object)
    labels = np.asarray(controls.labels, dtype=object)
    x, n = controls.x, controls.n
    individual = pd.DataFrame(
        {
            "scope": "annotator",
            "annotator_id": people[a],
            "week_start": controls.weeks[w],
            "label": labels[c],
            "divergence": x[a, w, c] / n[a, w, c],
            "baseline": individual_result.p0[a, w, c],
            "n": n[a, w, c],
            "errors": x[a, w, c],
            "cusum": individual_result.statistic[a, w, c],
            "threshold": rule.h,
        }
    )
    team = pd.DataFrame(
        {
            "scope": "team",
            "annotator_id": pd.Series(np.full(len(tw), None, dtype=object), dtype=object),
            "week_start": controls.weeks[tw],
            "label": labels[tc],
            "divergence": result.team_x[tw, tc] / result.team_n[tw, tc],
            "baseline": result.team_p0[tw, tc],
            "n": result.team_n[tw, tc],
            "errors": result.team_x[tw, tc],
            "cusum": result.team_statistic[tw, tc],
            "threshold": rule.team_h,
        }
    )
    frames = [f for f in (individual, team) if len(f)]
    if not frames:
        return pd.DataFrame(columns=ALERT_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    out["week_start"] = pd.to_datetime(out["week_start"])
    return out.sort_values(["week_start", "scope", "annotator_id", "label"], ignore_index=True)[
        ALERT_COLUMNS
    ]


def only_aligned(controls: WeeklyControls, aligned_at: Mapping[str, object]) -> WeeklyControls:
    """``controls`` without each annotator's weeks before the ISO week they were first aligned.

    ``aligned_at``: ``{annotator_id: first time aligned}`` (missing or NaT: never aligned, so
    every week is dropped). Dropped weeks hold zero counts: the annotator is not monitored
    then and their labels join no baseline (theirs, the rest of the team's, the team's).
    """
    times = pd.to_datetime(
        pd.Series([aligned_at.get(a) for a in controls.annotators], dtype=object)
    )
    first = times.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").reshape(-1, 1)
    keep = (controls.weeks[None, :] + np.timedelta64(7, "D")) > first  # NaT: never
    return replace(controls, x=controls.x * keep[..., None], n=controls.n * keep[..., None])


def drift_alerts(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    rule: DriftRule = DriftRule(),
    objective: Objective | None = None,
) -> pd.DataFrame:
    """One row per drift alert, individual and team, raised in the weeks ``filters`` select.

    An alert is a fact about the history up to a date: the CUSUMs run over every week up to
    ``filters.until`` (``filters.since`` only selects which alert weeks are returned, from
    the ISO week holding it), so narrowing the start of a window never changes an alert.
    Annotators are monitored from their first week aligned with ``objective`` (default:
    :class:`~qualitylib.metrics.onboarding.Objective`'s) (:func:`only_aligned`).

    Columns: ``scope`` (``annotator`` | ``team``), ``annotator_id`` (None for a team alert),
    ``week_start`` (date of the Monday), ``label`` (the reference class whose CUSUM crossed),
    ``divergence`` (that week's disagreement rate on the class), ``baseline`` (``p_0``), ``n``
    (control labels of the class that week), ``errors``, ``cusum`` (statistic when it crossed)
    and ``threshold``.
    """
    filters = filters or Filters()
    history = replace(filters, since=None)
    status = onboarding_status(con, replace(history, phases=()), objective or Objective())
    aligned_at = dict(zip(status["annotator_id"], status["first_aligned"], strict=True))
    table = alerts_from_controls(weekly_controls(con, history), rule, aligned_at)
    return from_week(table, filters.since)


def from_week(alerts: pd.DataFrame, since: date | None) -> pd.DataFrame:
    """The alerts of the ISO weeks from the one holding ``since`` on (all when None)."""
    if since is None or not len(alerts):
        return alerts
    day = pd.Timestamp(since).normalize()
    monday = day - pd.Timedelta(days=day.weekday())
    return alerts[pd.to_datetime(alerts["week_start"]) >= monday].reset_index(drop=True)


def open_alerts(alerts: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """The drift alerts open on ``as_of``: one row per annotator (or the team) x class.

    A (person, class) alert is open when the CUSUM crossed in the ISO week of ``as_of`` or in
    the :data:`OPEN_WEEKS` - 1 weeks before; its row is the latest such alert, with
    ``alert_weeks``, how many of those weeks alerted. ``alerts``: from :func:`drift_alerts`
    over a history that reaches ``as_of``. This one definition is what the dashboard's card
    and list and the weekly report count.
    """
    day = pd.Timestamp(as_of).normalize()
    monday = day - pd.Timedelta(days=day.weekday())
    start = monday - pd.Timedelta(weeks=OPEN_WEEKS - 1)
    weeks = pd.to_datetime(alerts["week_start"])
    recent = alerts[(weeks >= start) & (weeks <= day)].sort_values("week_start")
    keys = ["scope", "annotator_id", "label"]
    count = recent.groupby(keys, dropna=False)["week_start"].transform("size")
    latest = recent.assign(alert_weeks=count).drop_duplicates(keys, keep="last")
    return latest.sort_values(
        ["scope", "annotator_id", "label"], ignore_index=True, na_position="first"
    )[[*ALERT_COLUMNS, "alert_weeks"]]


def weekly_divergence(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    by_class: bool = False,
) -> pd.DataFrame:
    """Weekly control-item divergence per annotator and for the team.

    One row per annotator x week with control labels (``scope = "annotator"``) and per week
    for the whole team (``scope = "team"``, ``annotator_id`` None); with ``by_class`` one row
    per reference class as well (``label``; None for all classes together).
    Columns: ``scope, annotator_id, week_start, label, divergence`` with ``_ci_low, _ci_high,
    _n`` (95 % Wilson), ``errors``, ``own_baseline`` (the annotator's own earlier weeks; the
    team's earlier weeks for team rows) and ``rest_of_team`` (the other annotators that week).
    """
    controls = weekly_controls(con, filters)
    x, n = controls.x, controls.n
    if not by_class:
        x, n, labels = x.sum(axis=2, keepdims=True), n.sum(axis=2, keepdims=True), [None]
    else:
        x = np.concatenate([x.sum(axis=2, keepdims=True), x], axis=2)
        n = np.concatenate([n.sum(axis=2, keepdims=True), n], axis=2)
        labels = [None, *controls.labels]
    # Team as one more row of the annotator axis.
    team_x, team_n = x.sum(axis=0, keepdims=True), n.sum(axis=0, keepdims=True)
    all_x, all_n = np.concatenate([x, team_x]), np.concatenate([n, team_n])
    own_x, own_n = _exclusive_cumsum(all_x), _exclusive_cumsum(all_n)
    rest_x, rest_n = team_x - all_x, team_n - all_n
    rest_x[-1], rest_n[-1] = 0, 0
    a, w, c = np.nonzero(all_n)
    people = np.asarray([*controls.annotators, None], dtype=object)
    with np.errstate(invalid="ignore", divide="ignore"):
        own = np.where(own_n > 0, own_x / np.where(own_n > 0, own_n, 1), np.nan)
        rest = np.where(rest_n > 0, rest_x / np.where(rest_n > 0, rest_n, 1), np.nan)
    out = pd.DataFrame(
        {
            "scope": np.where(a == len(controls.annotators), "team", "annotator"),
            "annotator_id": pd.Series(people[a], dtype=object),
            "week_start": pd.to_datetime(controls.weeks[w]),
            "label": pd.Series(np.asarray(labels, dtype=object)[c], dtype=object),
        }
        | rate_columns("divergence", all_x[a, w, c], all_n[a, w, c])
        | {"errors": all_x[a, w, c], "own_baseline": own[a, w, c], "rest_of_team": rest[a, w, c]}
    )
    return out.sort_values(
        ["scope", "annotator_id", "week_start", "label"], ignore_index=True, na_position="first"
    )
