"""Accounts, passwords, roles and scopes (``qualitylib.access``), and `qualitylib user add`."""

from __future__ import annotations

import io
import re
import stat
from pathlib import Path

import pytest

from qualitylib import access
from qualitylib.access import Account, AccountsError, User
from qualitylib.cli import main
from qualitylib.metrics.filters import Filters


def test_a_password_verifies_against_its_hash_and_nothing_else() -> None:
    stored = access.hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$") and "correct horse" not in stored
    assert access.verify_password("correct horse", stored)
    assert not access.verify_password("correct hors", stored)
    assert not access.verify_password("Correct horse", stored)
    again = access.hash_password("correct horse")
    assert again != stored, "each hash has its own salt"
    with pytest.raises(ValueError, match="empty"):
        access.hash_password("")


def _accounts() -> dict[str, Account]:
    return {
        "ivan": access.make_account("ivan", "annotator", "pw-ivan", annotator_id="a09"),
        "lea": access.make_account("lea", "lead", "pw-lea"),
        "tom@example.org": access.make_account(
            "tom@example.org", "trainer", None, trainees=["a07", "a10"]
        ),
    }


def test_authenticate_needs_a_known_user_with_their_own_password() -> None:
    accounts = _accounts()
    assert access.authenticate(accounts, "ivan", "pw-ivan") == User("ivan", "annotator", "a09")
    assert access.authenticate(accounts, " ivan ", "pw-ivan") is not None
    assert access.authenticate(accounts, "ivan", "pw-lea") is None  # someone else's password
    assert access.authenticate(accounts, "nobody", "pw-ivan") is None  # unknown user
    assert access.authenticate(accounts, "tom@example.org", "") is None  # provider-only account


def test_identity_provider_users_are_found_by_email_whatever_the_case() -> None:
    accounts = _accounts()
    trainer = access.user_for_email(accounts, "Tom@Example.ORG")
    assert trainer == User("tom@example.org", "trainer", None, ("a07", "a10"))
    assert access.user_for_email(accounts, "eve@example.org") is None
    assert access.user_for_email(accounts, None) is None


def test_each_role_sees_its_pages_and_its_people() -> None:
    assert access.pages_for(User("l", "lead")) == access.PAGES
    assert access.pages_for(User("i", "annotator", "a09")) == ("annotator", "boxes")
    assert access.pages_for(User("t", "trainer")) == ("annotator", "boxes", "onboarding", "review")
    assert access.pages_for(User("c", "committee")) == ("review", "agreement", "data", "reference")
    assert User("l", "lead").scope is None and User("c", "committee").scope is None
    assert User("i", "annotator", "a09").scope == ("a09",)
    assert User("t", "trainer", trainees=("a07", "a10")).scope == ("a07", "a10")
    assert User("t", "trainer").scope == ()  # a trainer without trainees sees nobody


@pytest.mark.parametrize(
    ("asked", "scope", "expected"),
    [
        ((), None, ()),  # everyone may see everyone
        (("a01",), None, ("a01",)),
        ((), ("a07", "a10"), ("a07", "a10")),  # no choice: the whole scope
        (("a10", "a01"), ("a07", "a10"), ("a10",)),  # the intersection
        (("a01",), ("a07", "a10"), (access.NOBODY,)),  # nothing left: nobody, never everyone
        ((), (), (access.NOBODY,)),
    ],
)
def test_restrict_intersects_the_asked_people_with_the_scope(
    asked: tuple[str, ...], scope: tuple[str, ...] | None, expected: tuple[str, ...]
) -> None:
    filters = Filters(teams=("team-a",), annotators=asked)
    narrowed = access.restrict(filters, scope)
    assert narrowed.annotators == expected
    assert narrowed.teams == ("team-a",)


def test_restricting_to_nobody_selects_no_labels(demo_db: Path) -> None:
    from qualitylib.store import connect, scalar

    where, params = access.restrict(Filters(annotators=("a01",)), ("a09",)).where("x")
    with connect(demo_db, read_only=True) as con:
        assert scalar(con, f"SELECT count(*) FROM annotations x WHERE {where}", params) == 0


def test_accounts_round_trip_through_the_file_and_only_the_owner_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    accounts = _accounts()
    access.save_accounts(path, accounts)
    assert access.load_accounts(path) == accounts
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "pw-ivan" not in path.read_text()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[users.ivan\nrole = 1", "not a valid TOML file"),
        ('title = "accounts"', "no [users] table"),
        ('[users.ivan]\nrole = "admin"', "user 'ivan': role must be one of lead, trainer"),
        ('[users.ivan]\nrole = "annotator"', "user 'ivan': an annotator needs annotator_id"),
        ('[users.tom]\nrole = "trainer"\ntrainees = "a07"', "trainees must be a list"),
        ('[users.lea]\nrole = "lead"\ntrainees = ["a07"]', "only a trainer has trainees"),
        ('[users.lea]\nrole = "lead"\npassword = "hunter2"', "never store a plain password"),
        ('[users.lea]\nrole = "lead"\npasword = "x"', "unknown setting(s) pasword"),
        ('[users]\nlea = "lead"', "user 'lea': expected a table"),
    ],
)
def test_a_malformed_accounts_file_is_refused_saying_where(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "users.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AccountsError, match=rf"^{re.escape(str(path))}: .*{re.escape(message)}"):
        access.load_accounts(path)


def test_a_missing_accounts_file_says_how_to_create_it(tmp_path: Path) -> None:
    with pytest.raises(AccountsError, match="qualitylib user add --users"):
        access.load_accounts(tmp_path / "none.toml")


def test_user_add_writes_a_hash_read_from_stdin_and_replaces_an_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "users.toml"
    add = ["user", "add", "--users", str(path), "--password-stdin"]
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret pass\n"))
    assert main([*add, "--username", "ivan", "--role", "annotator", "--annotator-id", "a09"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("other\n"))
    trainer = ["--username", "tom", "--role", "trainer", "--trainee", "a07", "--trainee", "a10"]
    assert main([*add, *trainer]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("new pass\n"))
    assert main([*add, "--username", "ivan", "--role", "annotator", "--annotator-id", "a09"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"updated ivan (annotator) in {path}"

    accounts = access.load_accounts(path)
    assert accounts["tom"].user == User("tom", "trainer", None, ("a07", "a10"))
    assert access.authenticate(accounts, "ivan", "new pass") == User("ivan", "annotator", "a09")
    assert access.authenticate(accounts, "ivan", "s3cret pass") is None
    assert "new pass" not in path.read_text()


def test_user_add_refuses_an_incomplete_account_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "users.toml"
    monkeypatch.setattr("sys.stdin", io.StringIO("pw\n"))
    code = main(
        ["user", "add", "--users", str(path), "--username", "ivan", "--role", "annotator"]
        + ["--password-stdin"]
    )
    assert code == 2 and not path.exists()
    assert "an annotator needs annotator_id" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    code = main(
        ["user", "add", "--users", str(path), "--username", "lea", "--role", "lead"]
        + ["--password-stdin"]
    )
    assert code == 2 and not path.exists()
    assert "the password is empty" in capsys.readouterr().err


def test_dashboard_serves_this_computer_only_without_sign_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_db: Path
) -> None:
    calls: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.setattr(
        "qualitylib.cli._serve", lambda command, env: calls.append((command, env)) or 0
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(access.USERS_ENV, raising=False)
    assert main(["dashboard", "--db", str(demo_db)]) == 0
    command, env = calls[-1]
    assert command[command.index("--server.address") + 1] == "127.0.0.1"
    assert access.USERS_ENV not in env

    users = tmp_path / "users.toml"
    access.save_accounts(users, _accounts())
    assert main(["dashboard", "--db", str(demo_db), "--users", str(users)]) == 0
    command, env = calls[-1]
    assert "--server.address" not in command and env[access.USERS_ENV] == str(users)

    users.write_text('[users.x]\nrole = "boss"', encoding="utf-8")
    assert main(["dashboard", "--db", str(demo_db), "--users", str(users)]) == 1
    assert len(calls) == 2, "a broken accounts file stops before streamlit starts"


def test_the_limiter_refuses_a_user_name_after_repeated_failures_for_a_while() -> None:
    limiter = access.SignInLimiter(attempts=3, window=600)
    for second in range(3):
        assert limiter.wait("ivan", now=second) == 0
        limiter.failed("ivan", now=second)
    assert limiter.wait("ivan", now=10) == 590  # the first failure leaves the window at 600
    assert limiter.wait(" ivan ", now=10) == 590
    assert limiter.wait("lea", now=10) == 0  # other names are not held back
    assert limiter.wait("ivan", now=600) == 0
    limiter.failed("lea", now=0)
    limiter.succeeded("lea")
    limiter.failed("lea", now=1)
    limiter.failed("lea", now=2)
    assert limiter.wait("lea", now=3) == 0  # a success cleared the earlier failure
