"""Sign-in for the dashboard: who is using this session, and the sign-in screen until someone is.

Three modes, chosen by the configuration:

- ``oidc``: an ``[auth]`` section in ``.streamlit/secrets.toml``; people sign in with the
  identity provider (``st.login``) and get the role of the account named by their email in
  the accounts file (``QUALITYLIB_USERS``);
- ``local``: ``QUALITYLIB_USERS`` names an accounts file with hashed passwords; people sign
  in with the form drawn here;
- ``open``: neither; everyone is a lead, and only connections from this computer are served.

The roles and scopes themselves live in :mod:`qualitylib.access`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Literal

import streamlit as st

from qualitylib import access

SESSION_KEY = "qualitylib_username"  # the local account signed in to this session
OPEN_NOTICE = "open mode: no sign-in configured, serving on this computer only"
Mode = Literal["open", "local", "oidc"]


def mode() -> Mode:
    """How people sign in, from the configuration (see the module docstring)."""
    if st.secrets.load_if_toml_exists() and "auth" in st.secrets:
        return "oidc"
    if os.environ.get(access.USERS_ENV):
        return "local"
    return "open"


@st.cache_data(show_spinner=False, ttl=60)
def _load(path: str, mtime_ns: int) -> dict[str, access.Account]:
    """The accounts file, re-read whenever it changes (``mtime_ns`` is the cache key)."""
    return access.load_accounts(path)


def _accounts() -> dict[str, access.Account]:
    """The accounts named by ``QUALITYLIB_USERS`` (none when unset); AccountsError if broken."""
    path = os.environ.get(access.USERS_ENV, "")
    if not path:
        return {}
    try:
        mtime = Path(path).stat().st_mtime_ns
    except OSError:
        mtime = 0  # load_accounts says what is wrong with the path
    return _load(path, mtime)


def user() -> access.User | None:
    """This session's user (:data:`access.OPEN` in open mode), or None before sign-in.

    Looked up again on every run, so an account removed from the file signs out at once.
    Draws nothing; raises :class:`access.AccountsError` when the accounts file is broken.
    """
    current = mode()
    if current == "open":
        return access.OPEN if _from_this_computer() else None
    accounts = _accounts()
    if current == "oidc":
        if not st.user.is_logged_in or st.user.get("email_verified") is False:
            return None
        return access.user_for_email(accounts, st.user.get("email"))
    account = accounts.get(str(st.session_state.get(SESSION_KEY, "")))
    return account.user if account is not None else None


def _from_this_computer() -> bool:
    """Whether the browser connects over loopback (Streamlit gives no address for those),
    IPv4-mapped loopback (``::ffff:127.0.0.1``) included."""
    address = st.context.ip_address
    if not isinstance(address, str):  # None: loopback (test harnesses give no string either)
        return True
    return access.is_loopback(address)


def _client() -> str:
    """The browser's address, for counting failed sign-ins per user name and client."""
    address = st.context.ip_address
    return address if isinstance(address, str) else "this computer"


def sign_in() -> access.User:
    """This session's user; otherwise draw the sign-in screen (or why not) and stop the run."""
    try:
        found = user()
    except access.AccountsError as error:
        st.error(f"error: {error}")
        st.stop()
    if found is not None:
        return found
    st.title("qualitylib")
    current = mode()
    if current == "open":
        st.error(
            "This dashboard runs in open mode (no sign-in configured) and serves this computer "
            "only. Configure sign-in to use it from elsewhere: see the README, Access control."
        )
    elif current == "oidc" and st.user.is_logged_in:
        st.error(
            f"Signed in as {st.user.get('email') or 'someone without an email'}, but no account "
            "gives this address a role: ask a team lead to add it with `qualitylib user add`."
        )
        st.button("Sign out", on_click=st.logout)
    elif current == "oidc":
        st.button("Sign in", type="primary", on_click=st.login, icon=":material/login:")
    else:
        _password_form()
    st.stop()


def _password_form() -> None:
    """The local-accounts sign-in form; a match signs the session in and reruns."""
    with st.form("sign_in"):
        username = st.text_input("User name", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    limiter, now, client = _limiter(), time.monotonic(), _client()
    wait = limiter.wait(username, now, client)
    if wait:
        st.error(
            "Too many failed sign-ins for this user name from here: try again in "
            f"{max(1, round(wait / 60))} min."
        )
        return
    found = access.authenticate(_accounts(), username, password)
    if found is None:
        limiter.failed(username, now, client)
        st.error("Wrong user name or password.")
        return
    limiter.succeeded(username, client)
    st.session_state[SESSION_KEY] = found.username
    st.rerun()


@st.cache_resource
def _limiter() -> access.SignInLimiter:
    """Failed sign-ins of this server process, shared by all sessions."""
    return access.SignInLimiter()


def _sign_out() -> None:
    """Forget everything this session chose, then sign out of the provider if signed in."""
    st.session_state.clear()
    if mode() == "oidc":
        st.logout()


def sidebar(who: access.User) -> None:
    """Who is signed in, and a way out; in open mode, the open-mode notice."""
    with st.sidebar:
        if mode() == "open":
            st.info(OPEN_NOTICE, icon=":material/lock_open:")
            return
        st.caption(f"Signed in as **{who.username}** ({who.role})")
        st.button("Sign out", on_click=_sign_out, icon=":material/logout:")
