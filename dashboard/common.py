"""What every page shares: the store, the sidebar filters, the pseudonym switch, images.

Numbers are formatted by :mod:`qualitylib.display` (re-exported here for the pages), the
same module the PDF report uses.

The sidebar is drawn once per run by ``app.py``, after the page (widgets of the entry file
keep their values across pages); pages read the chosen values with :func:`filters`,
:func:`label_focus` and :func:`people`, and end early with :func:`stop`.
"""

from __future__ import annotations

import base64
import mimetypes
import os
from collections.abc import Iterable
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import NoReturn
from urllib.parse import unquote, urlparse

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import auth, data
from qualitylib import access, charts
from qualitylib.display import NOT_ENOUGH as NOT_ENOUGH  # re-exported for the pages
from qualitylib.display import interval as interval
from qualitylib.display import is_number as is_number
from qualitylib.display import number as number
from qualitylib.display import percent as percent
from qualitylib.export import neutralise
from qualitylib.log_scope import LogNeeded, needs_log_message
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.onboarding import Objective
from qualitylib.pseudonyms import DEFAULT_KEY, pseudonymize

DB_ENV = "QUALITYLIB_DB"
KEY_ENV = "QUALITYLIB_PSEUDONYM_KEY"  # set it to make pseudonyms unguessable from the ids
THUMBNAIL_MAX_BYTES = 2_000_000
ID_COLUMNS = ("annotator_id", "annotator_a", "annotator_b", "annotator")
NEEDS_LOG_ICON = ":material/database_off:"


class PageEnd(Exception):
    """The page ends here (:func:`stop`); :func:`run_page` catches it."""


_IN_APP: ContextVar[bool] = ContextVar("in_app", default=False)


def run_page(page: st.Page) -> None:
    """Run ``page`` for ``app.py``; a :func:`stop` in it ends the page, not the run, so the
    entry file still draws the sidebar's filters after it. On a store without the label log,
    a choice its count tables cannot serve (a window that cuts a week of the pair counts) ends
    the page with the line that says so."""
    token = _IN_APP.set(True)
    try:
        page.run()
    except PageEnd:
        pass
    except LogNeeded as needed:  # a choice the store's count tables cannot serve exactly
        st.info(str(needed), icon=NEEDS_LOG_ICON)
    finally:
        _IN_APP.reset(token)


def stop() -> NoReturn:
    """End the page here. Under :func:`run_page` only the page ends (``st.stop()`` would end
    the whole run: no filters to widen an empty selection); a page run alone stops the run."""
    if _IN_APP.get():
        raise PageEnd
    st.stop()


def user() -> access.User:
    """The signed-in user; stops the page when nobody is (the entry file draws the sign-in)."""
    who = auth.user()
    if who is None:
        st.stop()
    return who


def store() -> data.Store:
    """The store named by ``QUALITYLIB_DB``, its current version and the user's scope.

    Stops the page when there is no store or nobody is signed in.
    """
    path = os.environ.get(DB_ENV, "")
    if not path or not Path(path).is_file():
        st.error(
            f"No store to show: start the dashboard with `qualitylib dashboard --db PATH` "
            f"(or `--demo`), or set {DB_ENV}. Got {path or 'nothing'}."
        )
        st.stop()
    return data.Store(path, data.store_version(path), user().scope)


def needs_log(what: str) -> bool:
    """Whether ``what`` needs the label log, which the store leaves out (`qualitylib cubes
    --no-log`); when it does, the page says so in one line in its place."""
    if not data.log_omitted(store()):
        return False
    st.info(needs_log_message(what), icon=NEEDS_LOG_ICON)
    return True


def require_log(what: str) -> None:
    """End the page (:func:`stop`) with the one line of :func:`needs_log` when ``what``, the
    rest of the page, needs the label log the store leaves out."""
    if needs_log(what):
        stop()


def store_has_boxes() -> bool:
    """Whether the store (when there is one) holds boxes: the box pages are listed then."""
    path = os.environ.get(DB_ENV, "")
    if not path or not Path(path).is_file() or auth.user() is None:
        return False
    from dashboard import box_data

    return box_data.has_boxes(store())


def sidebar(place: DeltaGenerator) -> None:
    """Draw the shared filters and the pseudonym switch into ``place``, the sidebar's container
    that ``app.py`` keeps for them (above anything a page may add to the sidebar)."""
    options = data.options(store())
    first, last = options["first_day"], options["last_day"]
    with place:
        st.subheader("Filters")
        if first is not None:
            st.date_input(
                "Date range",
                value=(first, last),
                min_value=first,
                max_value=last,
                key="f_dates",
                help="Labels made on these days (UTC), both included.",
            )
        st.multiselect("Team", options["teams"], key="f_teams", placeholder="All teams")
        st.multiselect(
            "Policy version",
            options["policy_versions"],
            key="f_policies",
            placeholder="All versions",
            help="Labels made under these policy versions.",
        )
        box_only = [label for label in options["box_labels"] if label not in options["labels"]]
        st.multiselect(
            "Label",
            [*options["labels"], *box_only],
            key="f_labels",
            placeholder="All labels",
            help="Show only rows about these labels in per-label lists: drift alerts, "
            "an annotator's misses (by reference label), the review queue (by majority label), "
            "and on the box pages the per-label rates, errors and images with errors.",
        )
        st.toggle(
            "Pseudonyms",
            key="pseudonyms",
            help="Replace names and ids with stable pseudonyms (same person, same pseudonym) "
            "in charts, tables and downloads: for screens the whole team can see.",
        )


def filters() -> Filters:
    """The sidebar's selection as :class:`Filters` (the label choice is :func:`label_focus`).

    Before the date picker is first drawn (a session's first run: the sidebar comes after the
    page) its default, the whole log, exactly as the picker then returns it.
    """
    if "f_dates" in st.session_state:
        dates = tuple(st.session_state["f_dates"] or ())
    else:
        options = data.options(store())
        dates = (options["first_day"], options["last_day"])
    since: date | None = dates[0] if len(dates) >= 1 else None
    until: date | None = dates[1] if len(dates) >= 2 else None
    return Filters(
        since=since,
        until=until,
        teams=tuple(st.session_state.get("f_teams") or ()),
        policy_versions=tuple(st.session_state.get("f_policies") or ()),
    )


def date_range() -> str:
    """The sidebar's date range as text ("01 Nov to 20 Nov 2026"), the whole log by default."""
    options = data.options(store())
    chosen = filters()
    first, last = chosen.since or options["first_day"], chosen.until or options["last_day"]
    if first is None or last is None:
        return "at any date"
    return f"{first:%d %b} to {last:%d %b %Y}"


def label_focus() -> tuple[str, ...]:
    """Labels chosen in the sidebar; empty means all."""
    return tuple(st.session_state.get("f_labels") or ())


def only_labels(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Rows of ``frame`` whose ``column`` is one of the focused labels (all when none)."""
    focus = label_focus()
    return frame[frame[column].isin(focus)] if focus else frame


def pseudonyms_on() -> bool:
    """Whether the sidebar's pseudonym switch is on."""
    return bool(st.session_state.get("pseudonyms", False))


def _key() -> str:
    return os.environ.get(KEY_ENV, DEFAULT_KEY)


def people(frame: pd.DataFrame, columns: Iterable[str] = ID_COLUMNS) -> pd.DataFrame:
    """``frame`` with annotator id columns shown as names, or as pseudonyms when switched on.

    The ``name`` column is dropped either way (it is then redundant or revealing).
    """
    columns = [c for c in columns if c in frame.columns]
    if pseudonyms_on():
        return pseudonymize(frame, columns, key=_key())
    names = data.annotators(store()).set_index("annotator_id")["name"].dropna()
    out = frame.drop(columns=[c for c in ("name",) if c in frame.columns])
    for column in columns:
        out[column] = out[column].map(lambda v: names.get(v, v))
    return out


def for_download(frame: pd.DataFrame, columns: Iterable[str] = ID_COLUMNS) -> pd.DataFrame:
    """``frame`` as downloaded: ids kept, or pseudonymised (names dropped) when switched on."""
    if pseudonyms_on():
        return pseudonymize(frame, [c for c in columns if c in frame.columns], key=_key())
    return frame


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV of ``frame``, with formula-like cells neutralised for spreadsheets."""
    return neutralise(frame).to_csv(index=False).encode("utf-8")


def _svg(text: str) -> str:
    """A grey 96x72 placeholder image saying ``text``, as a data URL."""
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="72">'
        '<rect width="96" height="72" fill="#eef1f4"/>'
        '<text x="48" y="40" font-family="sans-serif" font-size="11" fill="#6b7785" '
        f'text-anchor="middle">{text}</text></svg>'
    )
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


HIDDEN_IMAGE = _svg("hidden")
NO_IMAGE = _svg("no image")


def thumbnail(uri: object, hidden: bool) -> str:
    """What an image column shows for ``uri``: the image, or a placeholder.

    http(s) URLs are passed to the browser; local paths (or ``file://``) that exist and are
    small images are inlined; anything else (``demo://``, missing files) is a placeholder.
    """
    if hidden:
        return HIDDEN_IMAGE
    if not isinstance(uri, str) or not uri:
        return NO_IMAGE
    parsed = urlparse(uri)
    if parsed.scheme in ("http", "https"):
        return uri
    if parsed.scheme not in ("", "file"):
        return NO_IMAGE
    path = Path(unquote(parsed.path) if parsed.scheme == "file" else uri)
    kind = mimetypes.guess_type(path.name)[0] or ""
    if not kind.startswith("image/") or not path.is_file():
        return NO_IMAGE
    if path.stat().st_size > THUMBNAIL_MAX_BYTES:
        return NO_IMAGE
    return f"data:{kind};base64," + base64.b64encode(path.read_bytes()).decode()


def rate_cells(frame: pd.DataFrame, rates: Iterable[str]) -> pd.DataFrame:
    """Display copies of rate columns: "93.4 %" or "not enough data" (never NaN)."""
    out = frame.copy()
    for rate in rates:
        out[rate] = [percent(v) for v in frame[rate]]
    return out


def with_who(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``who``: the annotator's display name (or pseudonym), "team" for team rows.

    With pseudonyms on, the id columns are pseudonyms too (charts send whole frames).
    """
    columns = ["who", *(ID_COLUMNS if pseudonyms_on() else ())]
    shown = people(frame.assign(who=frame["annotator_id"]), columns)
    return shown.assign(who=shown["who"].where(shown["who"].notna(), charts.TEAM))


def linked_person(ids: list[str]) -> str | None:
    """The annotator a link names (``?annotator=``, by id or by shown name), if among ``ids``."""
    linked = st.query_params.get("annotator")
    by_name = {shown: a for a, shown in display_names(ids).items()}
    found = by_name.get(linked, linked)
    return found if found in ids else None


def person_picker(kept: list[str], names: dict[str, str], key: str) -> str:
    """The annotator chosen among ``kept`` (shown by ``names``).

    One widget per naming mode: its options' labels change with the Pseudonyms switch, and a
    fresh widget shows them at once. The choice itself lives on in the session (and the URL),
    so it survives the switch, other pages and a filter that still keeps the person.
    """
    key = f"{key}_pseudonym" if pseudonyms_on() else key
    if st.session_state.get(key) not in names:
        remembered = st.session_state.get("annotator_choice")
        candidates = (linked_person(kept), remembered, kept[0])
        st.session_state[key] = next(c for c in candidates if c in names)
    person = st.selectbox("Annotator", kept, format_func=names.get, key=key)
    st.session_state["annotator_choice"] = person
    return person


def link_to(person: str) -> None:
    """Write the chosen annotator into the URL: their pseudonym when switched on, else id."""
    st.query_params["annotator"] = display_names([person])[person] if pseudonyms_on() else person


def objective() -> Objective:
    """The onboarding objective chosen on the Onboarding page (the library's default before)."""
    return st.session_state.get("objective", Objective())


def display_names(ids: Iterable[str]) -> dict[str, str]:
    """``{id: shown name}``: pseudonyms when switched on, else names (the id when unnamed)."""
    ids = list(dict.fromkeys(ids))
    frame = people(pd.DataFrame({"annotator_id": ids, "shown": ids}), ["shown"])
    return dict(zip(frame["annotator_id"], frame["shown"], strict=True))
