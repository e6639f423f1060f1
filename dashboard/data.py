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
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import streamlit as st

from qualitylib import log_scope
from qualitylib.access import restrict
from qualitylib.errors import QualitylibError
from qualitylib.metrics import audit, catalog, items
from qualitylib.metrics.drift import DriftRule, drift_alerts, weekly_divergence
from qualitylib.metrics.filters import Filters, annotators_kept
from qualitylib.metrics.headlines import Headlines, open_drift_alerts
from qualitylib.metrics.headlines import headlines as metrics_headlines
from qualitylib.metrics.onboarding import Objective, onboarding_as_of
from qualitylib.metrics.periods import week_filters as week_filters  # for the pages
from qualitylib.metrics.reference import annotator_summary, confusion_table, team_rates
from qualitylib.metrics.review import review_queue, review_queue_size
from qualitylib.metrics.skill import SkillAgreement, annotator_skill, skill_agreement
from qualitylib.metrics.team_agreement import agreement_results, agreement_table, pairwise_kappa
from qualitylib.metrics.timeline import learning_curve, timeline
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


@dataclass
class _Run:
    """One run of the app: the stores it holds open, and what closes them at its end."""

    stack: ExitStack
    held: set[str]


_RUN: ContextVar[_Run | None] = ContextVar("qualitylib_run", default=None)


@contextmanager
def held_open(hold: bool = True) -> Iterator[None]:
    """Within this block (one run of the app), the first read of a store opens one more
    read-only connection, held until the block ends: DuckDB then shares the open database
    with the run's other short connections (:func:`_read`), each opened in under 1 ms instead
    of 20-30 ms to read the file's catalog again, a fifth of a box page's first render at 1M
    boxes (benchmarks/RESULTS.md). A run served from the cache opens nothing; a writer in
    another process waits for one run at most. ``hold=False``: the Data page, which writes to
    the store from this process (DuckDB refuses a writer beside a read-only connection)."""
    with ExitStack() as stack:
        token = _RUN.set(_Run(stack, set()) if hold else None)
        try:
            yield
        finally:
            _RUN.reset(token)


def _read(store: Store) -> duckdb.DuckDBPyConnection:
    """A short-lived read-only connection (context manager) to the store (see
    :func:`held_open`)."""
    run = _RUN.get()
    if run is None:
        return connect(store.path, read_only=True, on_busy=None)
    if store.path not in run.held:
        run.stack.enter_context(connect(store.path, read_only=True, on_busy=None))
        run.held.add(store.path)
    # Held: no backing off for a waiting writer, who cannot get in before the run ends anyway.
    return connect(store.path, read_only=True, retry_seconds=0, on_busy=None)


@st.cache_data(show_spinner=False)
def log_omitted(store: Store) -> bool:
    """Whether the store was built without the label log (`qualitylib cubes --no-log`)."""
    with _read(store) as con:
        return log_scope.log_omitted(con)


@st.cache_data(show_spinner=False)
def options(store: Store) -> dict[str, object]:
    """What the sidebar offers: date bounds, teams, policy versions, labels."""
    with _read(store) as con:
        return catalog.filter_options(con)


@st.cache_data(show_spinner=False)
def annotators(store: Store) -> pd.DataFrame:
    """Everyone the session may see: ``annotator_id, name, team, role, started_at``."""
    with _read(store) as con:
        return catalog.annotators(con, store.scope)


@st.cache_data(show_spinner=False)
def kept(store: Store, filters: Filters) -> list[str]:
    """Annotators (not the committee) with labels under ``filters`` (``annotators_kept``)."""
    filters = store.only(filters)
    with _read(store) as con:
        return annotators_kept(con, filters)


@st.cache_data(show_spinner=False)
def latest_week(store: Store, filters: Filters) -> date | None:
    """Monday of the latest week with labels under ``filters`` (None when there are none)."""
    with _read(store) as con:
        return catalog.latest_week(con, store.only(filters))


@st.cache_data(show_spinner=False)
def summary(store: Store, filters: Filters) -> pd.DataFrame:
    """Per-annotator rates against the reference (``annotator_summary``)."""
    filters = store.only(filters)
    with _read(store) as con:
        return annotator_summary(con, filters)


@st.cache_data(show_spinner=False)
def team_summary(store: Store, filters: Filters) -> pd.DataFrame:
    """The team's pooled rates against the reference, committee left out (``team_rates``)."""
    with _read(store) as con:
        return team_rates(con, store.only(filters))


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
    """One annotator's misses against the committee, latest first, and their count
    (``items.misses``, at most :data:`MAX_ROWS` rows)."""
    with _read(store) as con:
        found = items.misses(con, store.only(filters), annotator_id, labels, MAX_ROWS)
    return found.items, found.total


@st.cache_data(show_spinner=False)
def disagreements(
    store: Store, filters: Filters, annotator_a: str, annotator_b: str
) -> tuple[pd.DataFrame, int]:
    """Items two annotators labelled differently, and their count (``items.disagreements``,
    at most :data:`MAX_ROWS` rows)."""
    with _read(store) as con:
        found = items.disagreements(con, store.only(filters), annotator_a, annotator_b, MAX_ROWS)
    return found.items, found.total


@st.cache_data(show_spinner=False)
def imports(store: Store) -> pd.DataFrame:
    """The import history, newest first."""
    store.require_everyone("the import history")
    with _read(store) as con:
        return catalog.import_history(con)


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
        return drift_alerts(con, filters, DriftRule())


@st.cache_data(show_spinner=False)
def open_drift(store: Store, filters: Filters) -> tuple[pd.DataFrame, date | None]:
    """The drift alerts open at the window's end and that day (``open_drift_alerts``)."""
    with _read(store) as con:
        return open_drift_alerts(con, store.only(filters))


@st.cache_data(show_spinner=False)
def onboarding(store: Store, filters: Filters, objective: Objective) -> pd.DataFrame:
    """Status at the window's end of everyone who labelled in it (``onboarding_as_of``)."""
    filters = store.only(filters)
    with _read(store) as con:
        return onboarding_as_of(con, filters, objective)


@st.cache_data(show_spinner=False)
def as_of(store: Store, filters: Filters) -> date | None:
    """The day statuses and open alerts are judged at: the window's end (``last_day``)."""
    with _read(store) as con:
        return catalog.last_day(con, store.only(filters))


@st.cache_data(show_spinner=False)
def curves(store: Store, filters: Filters, bin_size: int) -> pd.DataFrame:
    """Rates by tenure, in bins of ``bin_size`` reference labels (``learning_curve``)."""
    filters = store.only(filters)
    with _read(store) as con:
        return learning_curve(con, filters, bin_size)


@st.cache_data(show_spinner=False)
def newcomers(store: Store, filters: Filters) -> list[str]:
    """Annotators with labels in the training phase under ``filters``."""
    with _read(store) as con:
        return catalog.newcomers(con, store.only(filters))


@st.cache_data(show_spinner=False)
def queue(store: Store, filters: Filters) -> pd.DataFrame:
    """The committee's review queue, best first, at most :data:`MAX_QUEUE` items."""
    with _read(store) as con:
        return review_queue(con, store.only(filters), MAX_QUEUE)


@st.cache_data(show_spinner=False)
def queue_counts(store: Store, filters: Filters) -> tuple[int, int, int]:
    """``(items, flagged-vs-safe splits, items with unsure flags)`` of :func:`queue`: three
    numbers for the Overview's card, so a session's first view reads them from the cache
    instead of the whole queue (a megabyte of votes to unpickle)."""
    waiting = queue(store, filters)
    return len(waiting), int(waiting["split"].sum()), int((waiting["n_unsure"] > 0).sum())


@st.cache_data(show_spinner=False)
def queue_size(store: Store, filters: Filters) -> int:
    """How many items the review queue holds in all (``review_queue_size``)."""
    with _read(store) as con:
        return review_queue_size(con, store.only(filters))


@st.cache_data(show_spinner="Computing the week's report…")
def weekly_report(store: Store, week: str, team: str | None) -> str:
    """The report model of ``week`` as JSON (``build_weekly_report``), for unrestricted users."""
    from qualitylib.reports import build_weekly_report  # PDF libraries: only for this page
    from qualitylib.reports.weekly import project_name

    store.require_everyone("the weekly report")
    with _read(store) as con:
        report = build_weekly_report(con, week, team=team, project=project_name(store.path))
    return report.to_json()


@st.cache_data(show_spinner=False)
def headlines(store: Store, filters: Filters, objective: Objective) -> Headlines:
    """The Overview's numbers (``metrics.headlines``): team agreement this week and last, open
    alerts, who is in training, the review queue's size, raters."""
    with _read(store) as con:
        return metrics_headlines(con, store.only(filters), objective)


@st.cache_data(show_spinner="Estimating skill without the committee (Dawid-Skene)…")
def skill(store: Store, filters: Filters) -> tuple[pd.DataFrame, SkillAgreement]:
    """Dawid-Skene skill beside skill against the committee (``annotator_skill``), and how far
    the two agree (``skill_agreement``)."""
    with _read(store) as con:
        table = annotator_skill(con, store.only(filters))
    return table, skill_agreement(table)


@st.cache_data(show_spinner=False)
def label_needs(store: Store, filters: Filters, target: float) -> pd.DataFrame:
    """Items below ``target`` confidence (``label_needs``); empty without a reference set."""
    from qualitylib.metrics.label_needs import label_needs as needs

    filters = store.only(filters)
    with _read(store) as con:
        try:
            return needs(con, filters, target)
        except QualitylibError:  # no reference decisions: nothing to estimate accuracy from
            return pd.DataFrame(columns=["item_id", "confidence", "more_labels"])
