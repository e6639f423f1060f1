"""The Data page records who imported, never shows a traceback or a server path; sign-in
throttling cannot lock a user out by name; the dashboard finds its project's secrets and takes
IPv4-mapped loopback for loopback."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.auth import SESSION_KEY
from qualitylib import access, cli
from qualitylib.errors import QualitylibError
from qualitylib.store import connect

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
ROWS = b"item_id,annotator_id,label,annotated_at\ni-up,a01,safe,2026-11-20T10:00:00Z\n"


@pytest.fixture
def store(tmp_path: Path, demo_db: Path) -> Path:
    """A copy of the demo store to import into."""
    db = tmp_path / "team.duckdb"
    shutil.copy(demo_db, db)
    return db


def _data_page(store: Path, monkeypatch: pytest.MonkeyPatch, username: str | None) -> AppTest:
    """The Data page, signed in as ``username`` (a lead) or in open mode."""
    monkeypatch.setenv("QUALITYLIB_DB", str(store))
    if username is None:
        monkeypatch.delenv(access.USERS_ENV, raising=False)
    else:
        users = store.parent / "users.toml"
        access.save_accounts(users, {username: access.make_account(username, "lead", "pw-123")})
        monkeypatch.setenv(access.USERS_ENV, str(users))
    at = AppTest.from_file(str(APP), default_timeout=60)
    if username is not None:
        at.session_state[SESSION_KEY] = username
    at.run()
    at.switch_page("views/imports.py").run()
    assert not at.exception
    return at


def _last_importer(store: Path) -> str:
    with connect(store, read_only=True) as con:
        return con.execute("SELECT imported_by FROM imports ORDER BY import_id DESC").fetchone()[0]


def test_an_upload_is_recorded_as_imported_by_the_signed_in_user(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _data_page(store, monkeypatch, "lea")
    at.file_uploader[0].set_value(("week47.csv", ROWS, "text/csv")).run()
    at.button[0].click().run()
    assert at.success[0].value.startswith("imported 1 file(s): 1 rows")
    assert _last_importer(store) == "lea"


def test_an_internal_failure_shows_one_line_without_traceback_or_server_path(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise MemoryError(f"could not allocate while reading {store.parent}/x.csv")

    monkeypatch.setattr("qualitylib.ingest.import_files", boom)
    at = _data_page(store, monkeypatch, None)
    at.file_uploader[0].set_value(("week47.csv", ROWS, "text/csv")).run()
    at.button[0].click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "error: the import failed on the server (MemoryError); nothing was written. The "
        "server's log has the details."
    ]


def test_a_validation_error_names_the_file_not_the_upload_folder(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _data_page(store, monkeypatch, None)
    at.selectbox[0].select("Prodigy JSONL").run()
    at.file_uploader[0].set_value(("tasks.jsonl", b'{"answer": "accept"', "text/plain")).run()
    at.button[0].click().run()
    (message,) = [e.value for e in at.error]
    assert message.startswith("error: tasks.jsonl record 1"), message
    assert "/" not in message.split(":", 2)[-1], message


def test_a_busy_store_is_named_without_its_server_folder(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(*args: object, **kwargs: object) -> None:
        raise QualitylibError(f"store {store} is busy (another process is using it)")

    monkeypatch.setattr("qualitylib.ingest.import_files", busy)
    at = _data_page(store, monkeypatch, None)
    at.file_uploader[0].set_value(("week47.csv", ROWS, "text/csv")).run()
    at.button[0].click().run()
    assert [e.value for e in at.error] == [
        "error: store team.duckdb is busy (another process is using it)"
    ]


def test_failed_sign_ins_hold_back_the_client_not_the_user_name() -> None:
    limiter = access.SignInLimiter(attempts=3, window=600)
    for second in range(5):  # someone guessing lea's password from elsewhere
        limiter.failed("lea", now=second, client="203.0.113.9")
    assert limiter.wait("lea", now=10, client="203.0.113.9") == 590
    assert limiter.wait("lea", now=10, client="10.0.0.4") == 0  # lea herself signs in
    limiter.failed("lea", now=11, client="10.0.0.4")
    limiter.succeeded("lea", client="10.0.0.4")
    assert limiter.wait("lea", now=12, client="203.0.113.9") == 588  # the guesser still waits


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("::ffff:10.0.0.1", False),
        ("10.0.0.1", False),
        ("fe80::1%eth0", False),
        ("not an address", False),
    ],
)
def test_loopback_includes_ipv4_mapped_addresses(address: str, loopback: bool) -> None:
    assert access.is_loopback(address) is loopback


def test_secrets_are_found_in_the_stores_project_from_another_folder(tmp_path: Path) -> None:
    project, elsewhere, home = tmp_path / "project", tmp_path / "elsewhere", tmp_path / "home"
    for folder in (project / "data", elsewhere, home):
        folder.mkdir(parents=True)
    secrets = project / ".streamlit" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text('[auth]\nredirect_uri = "https://x/oauth2callback"\n', encoding="utf-8")
    found = access.find_secrets(project / "data" / "team.duckdb", cwd=elsewhere, home=home)
    assert found.auth == secrets and found.found == (secrets,)
    assert found.searched[0] == home / ".streamlit" / "secrets.toml"
    assert found.searched[-1] == elsewhere / ".streamlit" / "secrets.toml"  # Streamlit's order


def test_dashboard_passes_the_project_secrets_and_says_where_it_looked(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    demo_db: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    elsewhere.mkdir()
    (project / ".streamlit").mkdir(parents=True)
    db = project / "team.duckdb"
    shutil.copy(demo_db, db)
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv(access.USERS_ENV, raising=False)
    commands: list[list[str]] = []
    monkeypatch.setattr(cli, "_serve", lambda command, env: commands.append(command) or 0)

    assert cli.main(["dashboard", "--db", str(db), "--headless"]) == 0
    err = capsys.readouterr().err
    assert "open mode" in err and str(project / ".streamlit" / "secrets.toml") in err
    assert commands[-1][-2:] == ["--server.address", "127.0.0.1"]

    secrets = project / ".streamlit" / "secrets.toml"
    secrets.write_text('[auth]\nredirect_uri = "https://x/oauth2callback"\n', encoding="utf-8")
    assert cli.main(["dashboard", "--db", str(db), "--headless"]) == 0
    assert "open mode" not in capsys.readouterr().err
    command = commands[-1]
    assert command[command.index("--secrets.files") + 1] == str(secrets)
    assert "--server.address" not in command
