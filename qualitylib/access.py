"""Who may see what: accounts, roles, the pages each role sees and the people it may see.

The dashboard signs people in (a local accounts file with hashed passwords, or an identity
provider whose users map to accounts by email) and then asks this module two things: which
pages to route (:func:`pages_for`) and which annotators every query is restricted to
(:func:`restrict`). Nothing here imports Streamlit.

The accounts file is TOML, one table per account under ``[users]``, keyed by the user name
(the email for identity-provider users)::

    [users.lea]
    role = "lead"
    password = "scrypt$16384$8$1$<salt>$<hash>"   # written by `qualitylib user add`

    [users.ivan]
    role = "annotator"
    annotator_id = "a09"
    password = "scrypt$..."

    [users."tom@example.org"]   # signs in through the identity provider: no password
    role = "trainer"
    trainees = ["a07", "a10"]
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import os
import secrets
import tempfile
import threading
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Literal, get_args

from qualitylib.errors import QualitylibError
from qualitylib.metrics.filters import Filters

Role = Literal["lead", "trainer", "annotator", "committee"]
ROLES: tuple[Role, ...] = get_args(Role)
Page = Literal[
    "overview", "controls", "agreement", "reports", "annotator", "onboarding", "review", "data",
    "behaviour", "models", "boxes", "reference",
]  # fmt: skip
PAGES: tuple[Page, ...] = get_args(Page)
ROLE_PAGES: dict[Role, tuple[Page, ...]] = {
    "lead": PAGES,
    "trainer": ("annotator", "boxes", "onboarding", "review"),
    "annotator": ("annotator", "boxes"),
    "committee": ("review", "agreement", "data", "reference"),
}
NOBODY = ""  # an annotator id no one has (imports reject empty ids): selects no labels
USERS_ENV = "QUALITYLIB_USERS"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_FIELDS = {"role", "password", "annotator_id", "trainees"}


class AccountsError(QualitylibError):
    """The accounts file is missing, not TOML, or an account in it is incomplete."""


@dataclass(frozen=True)
class User:
    """A signed-in person: ``annotator_id`` for annotators, ``trainees`` for trainers."""

    username: str
    role: Role
    annotator_id: str | None = None
    trainees: tuple[str, ...] = ()

    @property
    def scope(self) -> tuple[str, ...] | None:
        """Annotator ids this user may see; ``None`` means everyone."""
        if self.role == "annotator":
            return (self.annotator_id or NOBODY,)
        if self.role == "trainer":
            return self.trainees
        return None


@dataclass(frozen=True)
class Account:
    """An entry of the accounts file: the user and their password hash (None: provider only)."""

    user: User
    password_hash: str | None = None


OPEN = User(username="open mode", role="lead")  # who uses the app when no sign-in is set up


def pages_for(user: User) -> tuple[Page, ...]:
    """The dashboard pages ``user`` sees, in menu order."""
    return ROLE_PAGES[user.role]


def restrict(filters: Filters, scope: tuple[str, ...] | None) -> Filters:
    """``filters`` narrowed to the annotators in ``scope`` (``None``: unchanged).

    Asked-for annotators outside the scope are dropped; when none is left the filters
    select no labels at all (never everyone).

    >>> restrict(Filters(annotators=("a01", "a02")), ("a02", "a03")).annotators
    ('a02',)
    >>> restrict(Filters(annotators=("a01",)), ("a02",)).annotators
    ('',)
    """
    if scope is None:
        return filters
    wanted = filters.annotators or scope
    allowed = tuple(a for a in wanted if a in scope)
    return replace(filters, annotators=allowed or (NOBODY,))


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password``: ``scrypt$n$r$p$salt$hash`` (base64 parts)."""
    if not password:
        raise ValueError("the password is empty: choose one")
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(
        ["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)]
    )


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (from :func:`hash_password`), in constant time."""
    n, r, p, salt, digest = _parse_hash(stored)
    return hmac.compare_digest(_scrypt(password, salt, n, r, p), digest)


@cache
def _dummy_hash() -> str:
    """A hash checked for unknown users, so that they take as long as known ones."""
    return hash_password(secrets.token_hex(8))


def authenticate(accounts: Mapping[str, Account], username: str, password: str) -> User | None:
    """The user whose name and password match, else ``None`` (same work either way)."""
    account = accounts.get(username.strip())
    stored = account.password_hash if account is not None else None
    matches = verify_password(password, stored or _dummy_hash())
    return account.user if account is not None and stored is not None and matches else None


class SignInLimiter:
    """Refuses password checks for a user name *from one client* after ``attempts`` failures
    in ``window`` seconds.

    Guessing passwords then takes hours, not seconds; a success clears the count. Counting by
    name and client together means that someone who knows a user name cannot lock its owner
    out: their own failures only hold back their own address. (Behind a proxy that hides the
    clients' addresses every client is the proxy, and this falls back to counting by name.)

    >>> limiter = SignInLimiter(attempts=2, window=60)
    >>> limiter.failed("ivan", now=0, client="10.0.0.9")
    >>> limiter.failed("ivan", now=1, client="10.0.0.9")
    >>> limiter.wait("ivan", 2, "10.0.0.9"), limiter.wait("ivan", 2, "10.0.0.7")
    (58.0, 0.0)
    """

    def __init__(self, attempts: int = 5, window: float = 900) -> None:
        self.attempts, self.window = attempts, window
        self._failures: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()  # one limiter serves every session of the server

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        return [t for t in self._failures.get(key, []) if now - t < self.window]

    def wait(self, username: str, now: float, client: str = "") -> float:
        """Seconds before ``username`` may try again from ``client`` (0: now)."""
        with self._lock:
            recent = self._recent((username.strip(), client), now)
        return float(max(0, recent[0] + self.window - now)) if len(recent) >= self.attempts else 0.0

    def failed(self, username: str, now: float, client: str = "") -> None:
        """Count a failed attempt for ``username`` from ``client``."""
        key = (username.strip(), client)
        with self._lock:
            self._failures[key] = [*self._recent(key, now), now]

    def succeeded(self, username: str, client: str = "") -> None:
        """Forget the failures of ``username`` from ``client``."""
        with self._lock:
            self._failures.pop((username.strip(), client), None)


def is_loopback(address: str) -> bool:
    """Whether ``address`` is this computer: ``127.0.0.0/8``, ``::1``, or an IPv4 loopback
    address mapped into IPv6 (``::ffff:127.0.0.1``, what a dual-stack socket reports).

    >>> is_loopback("::ffff:127.0.0.1"), is_loopback("::ffff:10.0.0.1"), is_loopback("x")
    (True, False, False)
    """
    try:
        parsed = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped.is_loopback
    return parsed.is_loopback


SECRETS_FILE = Path(".streamlit") / "secrets.toml"


@dataclass(frozen=True)
class SecretsSearch:
    """Where Streamlit secrets were looked for (in the order Streamlit should read them: later
    files win), which of those exist, and the first one with an ``[auth]`` section."""

    searched: tuple[Path, ...]
    found: tuple[Path, ...]
    auth: Path | None


def find_secrets(db: Path, cwd: Path | None = None, home: Path | None = None) -> SecretsSearch:
    """The Streamlit secrets files for a dashboard on the store ``db``.

    Streamlit itself reads only ``~/.streamlit`` and the current folder's ``.streamlit``; a
    dashboard started from another folder then missed the project's ``[auth]``. Here the
    store's folder and every folder above it (the project) are searched too.
    """
    cwd, home = (cwd or Path.cwd()).resolve(), (home or Path.home()).resolve()
    project = db.resolve().parent
    folders = [home, *reversed([project, *project.parents]), cwd]
    searched = tuple(dict.fromkeys(folder / SECRETS_FILE for folder in folders))
    found = tuple(path for path in searched if path.is_file())
    auth = None
    for path in found:
        try:
            if "auth" in tomllib.loads(path.read_text(encoding="utf-8")):
                auth = path
                break
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
    return SecretsSearch(searched, found, auth)


def user_for_email(accounts: Mapping[str, Account], email: str | None) -> User | None:
    """The account of an identity-provider user, found by email (case-insensitive)."""
    if not email:
        return None
    by_email = {name.casefold(): account for name, account in accounts.items()}
    account = by_email.get(email.strip().casefold())
    return account.user if account is not None else None


def load_accounts(path: str | os.PathLike[str]) -> dict[str, Account]:
    """Read and check the accounts file; :class:`AccountsError` says what is wrong where."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise AccountsError(
            f"{path}: no such accounts file: create it with `qualitylib user add --users {path}`"
        ) from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise AccountsError(f"{path}: not a valid TOML file ({error})") from error
    users = document.get("users")
    if not isinstance(users, dict):
        raise AccountsError(f"{path}: no [users] table: add one [users.NAME] table per account")
    return {name: _account(path, name, entry) for name, entry in users.items()}


def save_accounts(path: str | os.PathLike[str], accounts: Mapping[str, Account]) -> None:
    """Write ``accounts`` to ``path`` atomically, readable by the owner only."""
    path = Path(path)
    lines = ["# qualitylib dashboard accounts: edit with `qualitylib user add`", ""]
    for name, account in accounts.items():
        user = account.user
        lines.append(f"[users.{_toml_string(name)}]")
        lines.append(f"role = {_toml_string(user.role)}")
        if user.annotator_id is not None:
            lines.append(f"annotator_id = {_toml_string(user.annotator_id)}")
        if user.role == "trainer":
            lines.append(f"trainees = [{', '.join(_toml_string(t) for t in user.trainees)}]")
        if account.password_hash is not None:
            lines.append(f"password = {_toml_string(account.password_hash)}")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write("\n".join(lines))
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def make_account(
    username: str,
    role: str,
    password: str | None,
    annotator_id: str | None = None,
    trainees: Iterable[str] = (),
) -> Account:
    """A checked account; ``password`` None makes an identity-provider-only account."""
    entry: dict[str, object] = {"role": role, "trainees": list(trainees)}
    if role != "trainer" and not entry["trainees"]:
        del entry["trainees"]
    if annotator_id is not None:
        entry["annotator_id"] = annotator_id
    account = _account(Path("user add"), username, entry)
    return replace(account, password_hash=hash_password(password) if password is not None else None)


def _account(path: Path, name: str, entry: object) -> Account:
    """One checked ``[users.NAME]`` table."""
    where = f"{path}: user {name!r}"
    if not name.strip():
        raise AccountsError(f"{path}: an account has an empty name")
    if not isinstance(entry, dict):
        raise AccountsError(f"{where}: expected a table of settings, got {entry!r}")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise AccountsError(
            f"{where}: unknown setting(s) {', '.join(unknown)}: use {', '.join(sorted(_FIELDS))}"
        )
    role = entry.get("role")
    if role not in ROLES:
        raise AccountsError(f"{where}: role must be one of {', '.join(ROLES)} (got {role!r})")
    annotator_id = entry.get("annotator_id")
    if annotator_id is not None and (not isinstance(annotator_id, str) or not annotator_id):
        raise AccountsError(f"{where}: annotator_id must be a non-empty string")
    if role == "annotator" and annotator_id is None:
        raise AccountsError(f"{where}: an annotator needs annotator_id (their id in the store)")
    trainees = entry.get("trainees", [])
    if not isinstance(trainees, list) or not all(isinstance(t, str) and t for t in trainees):
        raise AccountsError(f"{where}: trainees must be a list of annotator ids")
    if trainees and role != "trainer":
        raise AccountsError(f"{where}: only a trainer has trainees (role is {role!r})")
    password = entry.get("password")
    if password is not None:
        try:
            _parse_hash(password)
        except ValueError as error:
            raise AccountsError(
                f"{where}: password is not a hash written by `qualitylib user add` ({error}); "
                "never store a plain password"
            ) from error
    user = User(name, role, annotator_id, tuple(dict.fromkeys(trainees)))
    return Account(user, password)


def _parse_hash(stored: object) -> tuple[int, int, int, bytes, bytes]:
    """``(n, r, p, salt, digest)`` of a stored hash; ValueError when it is not one."""
    parts = stored.split("$") if isinstance(stored, str) else []
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("expected scrypt$n$r$p$salt$hash")
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt, digest = (base64.b64decode(part, validate=True) for part in parts[4:6])
    except ValueError as error:
        raise ValueError("expected scrypt$n$r$p$salt$hash with numbers and base64") from error
    if not 2**14 <= n <= 2**20 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise ValueError("scrypt parameters out of range")
    if len(salt) < 16 or len(digest) < 32:
        raise ValueError("salt or hash too short")
    return n, r, p, salt, digest


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r, dklen=32
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _toml_string(text: str) -> str:
    """A TOML basic string (JSON's escapes with ASCII output are valid TOML)."""
    return json.dumps(text, ensure_ascii=True)
