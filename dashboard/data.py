"""The dashboard's cached loaders: every query the pages run, in one place.

Each loader takes a :class:`Store` (the file and its version token) first, so results are
cached per filters *and* per store version: an import changes the token and the next rerun
recomputes. Connections are opened read-only for one query and closed at once, so the CLI
can import while the dashboard is open.

The store also carries the signed-in user's scope (the annotators they may see): every loader
narrows its filters to it (:func:`qualitylib.access.restrict`), so no page, whatever it asks,
gets numbers about anyone else, and results are cached per scope.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import streamlit as st

from qualitylib.access import restrict
from qualitylib.metrics import audit
from qualitylib.metrics.counts import confusion_counts, latest_sql, scored_sql
from qualitylib.metrics.drift import (
    ALERT_COLUMNS,
    DriftRule,
    drift_alerts,
    last_day,
    open_alerts,
    weekly_divergence,
)
from qualitylib.metrics.filters import Filters, annotators_kept
from qualitylib.metrics.onboarding import Objective, onboarding_as_of
from qualitylib.metrics.reference import annotator_summary, confusion_table, summary_from_counts
from qualitylib.metrics.review import review_queue
from qualitylib.metrics.team_agreement import agreement_results, agreement_table, pairwise_kappa
from qualitylib.metrics.timeline import learning_curve, timeline
from qualitylib.reports.weekly import project_name
from qualitylib.store import connect

MAX_ROWS = 500  # rows of item lists (misses, disagreements) sent to the browser
MAX_QUEUE = 5000  # review-queue items fetched; the overview says "5,000+" beyond


@dataclass(frozen=True)
class Store:
    """A store file, its version token (changes whenever anything writes to the file), and
    the annotators the session may see (``None``: everyone)."""

    path: str
    version: tuple[int, int, int]
    scope: tuple[str, ...] | None = None

    def only(self, filters: Filters) -> Filters:
        """``filters`` narrowed to this session's scope."""
        return restrict(filters, self.scope)

    def require_everyone(self, what: str) -> None:
        """Refuse ``what`` (about the whole team) to a session restricted to some people."""
        if self.scope is not None:
            raise PermissionError(f"{what} is about the whole team: not for this account")


def store_version(path: str) -> tuple[int, int, int]:
    """``(mtime_ns, size, wal mtime_ns)``: every DuckDB write touches the file or its WAL."""
    stat = os.stat(path)
    wal = Path(f"{path}.wal")
    wal_mtime = wal.stat().st_mtime_ns if wal.exists() else 0
    return stat.st_mtime_ns, stat.st_size, wal_mtime


def _read(store: Store) -> duckdb.DuckDBPyConnection:
    """A short-lived read-only connection (context manager) to the store."""
    return connect(store.path, read_only=True, on_busy=None)


@st.cache_data(show_spinner=False)
def options(store: Store) -> dict[str, object]:
    """What the sidebar offers: date bounds, teams, policy versions, labels."""
    with _read(store) as con:
        # model predictions count too, so the Models page can select their days
        first, last = con.execute(
            "SELECT min(lo)::DATE, max(hi)::DATE FROM ("
            "SELECT min(annotated_at) AS lo, max(annotated_at) AS hi FROM annotations "
            "UNION ALL SELECT min(predicted_at), max(predicted_at) FROM predictions)"
        ).fetchall()[0]
        teams = con.execute(
            "SELECT DISTINCT team FROM annotators WHERE team IS NOT NULL ORDER BY team"
        ).fetchall()
        policies = con.execute(
            "SELECT DISTINCT policy_version FROM annotations "
            "WHERE policy_version IS NOT NULL ORDER BY policy_version"
        ).fetchall()
        labels = con.execute("SELECT label FROM labels ORDER BY rank NULLS LAST, label").fetchall()
    return {
        "first_day": first,
        "last_day": last,
        "teams": [row[0] for row in teams],
        "policy_versions": [row[0] for row in policies],
        "labels": [row[0] for row in labels],
    }


@st.cache_data(show_spinner=False)
def annotators(store: Store) -> pd.DataFrame:
    """Everyone the session may see: ``annotator_id, name, team, role, started_at``."""
    with _read(store) as con:
        return con.execute(
            "SELECT annotator_id, name, team, role, started_at FROM annotators "
            "WHERE $everyone OR annotator_id IN (SELECT unnest($scope)) ORDER BY annotator_id",
            {"everyone": store.scope is None, "scope": list(store.scope or ())},
        ).df()


@st.cache_data(show_spinner=False)
def kept(store: Store, filters: Filters) -> list[str]:
    """Annotators (not the committee) with labels under ``filters`` (``annotators_kept``)."""
    filters = store.only(filters)
    with _read(store) as con:
        return annotators_kept(con, filters)


@st.cache_data(show_spinner=False)
def latest_week(store: Store, filters: Filters) -> date | None:
    """Monday of the latest week with labels under ``filters`` (None when there are none)."""
    filters = store.only(filters)
    where, params = filters.where("x")
    with _read(store) as con:
        value = con.execute(
            f"SELECT date_trunc('week', max(x.annotated_at))::DATE "
            f"FROM annotations x WHERE {where}",
            params,
        ).fetchall()[0][0]
    return value


def week_filters(filters: Filters, monday: date) -> Filters:
    """``filters`` narrowed to the week starting ``monday`` (within the chosen date range)."""
    since = max(monday, filters.since) if filters.since else monday
    sunday = monday + timedelta(days=6)
    until = min(sunday, filters.until) if filters.until else sunday
    return replace(filters, since=since, until=until)


@st.cache_data(show_spinner=False)
def summary(store: Store, filters: Filters) -> pd.DataFrame:
    """Per-annotator rates against the reference (``annotator_summary``)."""
    filters = store.only(filters)
    with _read(store) as con:
        return annotator_summary(con, filters)


@st.cache_data(show_spinner=False)
def team_summary(store: Store, filters: Filters) -> pd.DataFrame:
    """The team's pooled rates against the reference, annotators only (one row)."""
    filters = store.only(filters)
    with _read(store) as con:
        confusion = confusion_counts(con, filters)
    members = (confusion.annotators["role"] != "committee").to_numpy()
    pooled = confusion.counts[members].sum(axis=0, keepdims=True)
    return summary_from_counts(pooled, confusion.labels.names, confusion.labels.positive)


@st.cache_data(show_spinner=False)
def confusion(store: Store, filters: Filters) -> pd.DataFrame:
    """Tidy confusion counts per annotator (``confusion_table``)."""
    filters = store.only(filters)
    with _read(store) as con:
        return confusion_table(con, filters)


@st.cache_data(show_spinner=False)
def pairs(store: Store, filters: Filters) -> pd.DataFrame:
    """Cohen's kappa of every annotator pair (``pairwise_kappa``)."""
    filters = store.only(filters)
    with _read(store) as con:
        return pairwise_kappa(con, filters)


@st.cache_data(show_spinner=False)
def team_agreement(store: Store, filters: Filters) -> tuple[pd.DataFrame, bool]:
    """Team coefficients (``agreement_table``) and whether kappa shows the prevalence paradox."""
    filters = store.only(filters)
    with _read(store) as con:
        results = agreement_results(con, filters)
    table = agreement_table(results)
    return table, bool(table["prevalence_paradox"].any())


@st.cache_data(show_spinner=False)
def misses(
    store: Store, filters: Filters, annotator_id: str, labels: tuple[str, ...] = ()
) -> tuple[pd.DataFrame, int]:
    """One annotator's labels that differ from the reference, latest first, and their count.

    ``labels``: only misses on items whose reference label is one of these (all when empty).

    Columns: ``item_id, uri, annotated_at, phase, policy_version, reference_label,
    reference_reason, given_label, given_reason, unsure``; at most :data:`MAX_ROWS` rows.
    """
    person = store.only(replace(filters, annotators=(annotator_id,)))
    scored, params = scored_sql(person)
    with _read(store) as con:
        frame = con.execute(
            f"""SELECT i.item_id, i.uri, s.annotated_at, s.phase, s.policy_version,
                       r.label AS reference_label, s.ref_reason AS reference_reason,
                       g.label AS given_label, s.reason AS given_reason, s.unsure,
                       count(*) OVER () AS n_misses
                FROM {scored} AS s
                JOIN items i USING (item_key)
                JOIN labels r ON r.label_key = s.ref_label_key
                JOIN labels g ON g.label_key = s.label_key
                WHERE s.label_key <> s.ref_label_key
                  AND (len($labels) = 0 OR r.label IN (SELECT unnest($labels)))
                ORDER BY s.annotated_at DESC
                LIMIT {MAX_ROWS}""",
            params | {"labels": list(labels)},
        ).df()
    total = int(frame["n_misses"].iloc[0]) if len(frame) else 0
    return frame.drop(columns="n_misses"), total


@st.cache_data(show_spinner=False)
def disagreements(
    store: Store, filters: Filters, annotator_a: str, annotator_b: str
) -> tuple[pd.DataFrame, int]:
    """Items two annotators both labelled differently (their latest labels), and the count.

    Columns: ``item_id, uri, label_a, label_b``; at most :data:`MAX_ROWS` rows.
    """
    latest, params = latest_sql(store.only(replace(filters, annotators=(annotator_a, annotator_b))))
    with _read(store) as con:
        frame = con.execute(
            f"""WITH l AS {latest},
                people AS (SELECT annotator_key, annotator_id FROM annotators
                           WHERE annotator_id IN ($pair_a, $pair_b))
                SELECT i.item_id, i.uri, la.label AS label_a, lb.label AS label_b,
                       count(*) OVER () AS n_items
                FROM l a
                JOIN people pa ON pa.annotator_key = a.annotator_key AND pa.annotator_id = $pair_a
                JOIN l b ON b.item_key = a.item_key
                JOIN people pb ON pb.annotator_key = b.annotator_key AND pb.annotator_id = $pair_b
                JOIN items i ON i.item_key = a.item_key
                JOIN labels la ON la.label_key = a.label_key
                JOIN labels lb ON lb.label_key = b.label_key
                WHERE a.label_key <> b.label_key
                ORDER BY i.item_id
                LIMIT {MAX_ROWS}""",
            {**params, "pair_a": annotator_a, "pair_b": annotator_b},
        ).df()
    total = int(frame["n_items"].iloc[0]) if len(frame) else 0
    return frame.drop(columns="n_items"), total


@st.cache_data(show_spinner=False)
def imports(store: Store) -> pd.DataFrame:
    """The import history, newest first (the ``imports`` table)."""
    store.require_everyone("the import history")
    with _read(store) as con:
        return con.execute("SELECT * FROM imports ORDER BY import_id DESC").df()


@st.cache_data(show_spinner=False)
def reference_history(store: Store) -> pd.DataFrame:
    """Every committee decision with the one it replaced, newest first."""
    store.require_everyone("the reference-set history")
    with _read(store) as con:
        return audit.reference_history(con)


def weekly_pooled(frame: pd.DataFrame, rate: str) -> tuple[float, float, float, int]:
    """``(value, ci_low, ci_high, n)`` of ``rate`` from a one-row pooled summary."""
    if frame.empty:
        return np.nan, np.nan, np.nan, 0
    row = frame.iloc[0]
    return row[rate], row[f"{rate}_ci_low"], row[f"{rate}_ci_high"], int(row[f"{rate}_n"])


@st.cache_data(show_spinner=False)
def weekly(store: Store, filters: Filters) -> pd.DataFrame:
    """Rates per annotator and week (``timeline``)."""
    filters = store.only(filters)
    with _read(store) as con:
        return timeline(con, filters, "week")


@st.cache_data(show_spinner=False)
def divergence(store: Store, filters: Filters) -> pd.DataFrame:
    """Weekly control-item divergence per annotator and for the team (``weekly_divergence``)."""
    filters = store.only(filters)
    with _read(store) as con:
        return weekly_divergence(con, filters)


@st.cache_data(show_spinner=False)
def alerts(store: Store, filters: Filters) -> pd.DataFrame:
    """Drift alerts raised in the window, from the history up to its end (``drift_alerts``)."""
    filters = store.only(filters)
    with _read(store) as con:
        return drift_alerts(con, DriftRule(), filters)


@st.cache_data(show_spinner=False)
def open_drift(store: Store, filters: Filters) -> tuple[pd.DataFrame, date | None]:
    """The drift alerts open at the window's end (``open_alerts``) and that day."""
    filters = store.only(filters)
    with _read(store) as con:
        day = last_day(con, filters)
        if day is None:
            return pd.DataFrame(columns=[*ALERT_COLUMNS, "alert_weeks"]), None
        history = drift_alerts(con, DriftRule(), replace(filters, since=None))
    return open_alerts(history, day), day


@st.cache_data(show_spinner=False)
def onboarding(store: Store, filters: Filters, objective: Objective) -> pd.DataFrame:
    """Status at the window's end of everyone who labelled in it (``onboarding_as_of``)."""
    filters = store.only(filters)
    with _read(store) as con:
        return onboarding_as_of(con, objective, filters)


@st.cache_data(show_spinner=False)
def as_of(store: Store, filters: Filters) -> date | None:
    """The day statuses and open alerts are judged at: the window's end (``last_day``)."""
    filters = store.only(filters)
    with _read(store) as con:
        return last_day(con, filters)


@st.cache_data(show_spinner=False)
def curves(store: Store, filters: Filters, bin_size: int) -> pd.DataFrame:
    """Rates by tenure, in bins of ``bin_size`` reference labels (``learning_curve``)."""
    filters = store.only(filters)
    with _read(store) as con:
        return learning_curve(con, filters, bin_size)


@st.cache_data(show_spinner=False)
def newcomers(store: Store, filters: Filters) -> list[str]:
    """Annotators with labels in the training phase under ``filters``."""
    filters = store.only(filters)
    where, params = filters.where("x")
    with _read(store) as con:
        rows = con.execute(
            f"""SELECT DISTINCT a.annotator_id FROM annotations x
                JOIN annotators a USING (annotator_key)
                WHERE x.phase = 'training' AND {where} ORDER BY 1""",
            params,
        ).fetchall()
    return [row[0] for row in rows]


@st.cache_data(show_spinner=False)
def queue(store: Store, filters: Filters) -> pd.DataFrame:
    """The committee's review queue, best first, at most :data:`MAX_QUEUE` items."""
    filters = store.only(filters)
    with _read(store) as con:
        return review_queue(con, filters, MAX_QUEUE)


@st.cache_data(show_spinner="Computing the week's report…")
def weekly_report(store: Store, week: str, team: str | None) -> str:
    """The report model of ``week`` as JSON (``build_weekly_report``), for unrestricted users."""
    from qualitylib.reports import build_weekly_report  # PDF libraries: only for this page

    store.require_everyone("the weekly report")
    with _read(store) as con:
        report = build_weekly_report(con, week, team=team, project=project_name(store.path))
    return report.to_json()


@st.cache_data(show_spinner=False)
def label_needs(store: Store, filters: Filters, target: float) -> pd.DataFrame:
    """Items below ``target`` confidence (``label_needs``); empty without a reference set."""
    from qualitylib.errors import QualitylibError
    from qualitylib.metrics.label_needs import label_needs as needs

    filters = store.only(filters)
    with _read(store) as con:
        try:
            return needs(con, filters, target)
        except QualitylibError:  # no reference decisions: nothing to estimate accuracy from
            return pd.DataFrame(columns=["item_id", "confidence", "more_labels"])
