"""Sign-in and roles in the dashboard, with AppTest on the demo store.

Everything a page sends to the browser (texts, widget options, table cells, chart data,
download files) is collected and searched for the names and ids of people the signed-in
user may not see: an annotator must find only themselves, on every page they can reach, on
pages run outside the navigation, and in every download.
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from dashboard.auth import OPEN_NOTICE, SESSION_KEY
from qualitylib import access
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.reference import annotator_summary
from qualitylib.store import connect

ROOT = Path(__file__).resolve().parent.parent / "dashboard"
APP = ROOT / "app.py"
VIEWS = sorted(p.name for p in (ROOT / "views").glob("*.py"))
PASSWORD = "correct horse battery"
FILES = {  # page name in qualitylib.access -> file under dashboard/views
    "overview": "overview.py",
    "controls": "controls.py",
    "agreement": "agreement.py",
    "reports": "reports.py",
    "annotator": "annotator.py",
    "onboarding": "onboarding.py",
    "review": "review.py",
    "data": "imports.py",
    "models": "models.py",
    "reference": "reference.py",
}
ID = re.compile(r"(?<![\w$])[ac]\d\d(?!\w)")  # demo ids: a01..a13, c01..c03
NOISE = re.compile(r"\$\$ID-[0-9a-f]+-\S*|/mock/media/\w+\.\w+|data:image/[^,]+,[A-Za-z0-9+/=]+")

Signed = Callable[[str], AppTest]


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Accounts for each role: ivan annotates (a09), tom trains a07 and a10."""
    path = tmp_path_factory.mktemp("accounts") / "users.toml"
    accounts = {
        "lea": access.make_account("lea", "lead", PASSWORD),
        "ivan": access.make_account("ivan", "annotator", PASSWORD, annotator_id="a09"),
        "tom": access.make_account("tom", "trainer", PASSWORD, trainees=["a07", "a10"]),
        "cora": access.make_account("cora", "committee", PASSWORD),
        "tom@example.org": access.make_account(
            "tom@example.org", "trainer", None, trainees=["a07", "a10"]
        ),
    }
    access.save_accounts(path, accounts)
    return path


@pytest.fixture(scope="module")
def people(demo_db: Path) -> dict[str, str]:
    """``{annotator_id: name}`` of everyone in the demo store, committee included."""
    with connect(demo_db, read_only=True) as con:
        return dict(con.execute("SELECT annotator_id, name FROM annotators").fetchall())


@pytest.fixture
def media(monkeypatch: pytest.MonkeyPatch) -> list[MemoryMediaFileStorage]:
    """Every run's media storage (where download files go), latest last."""
    made: list[MemoryMediaFileStorage] = []

    class Recording(MemoryMediaFileStorage):
        def __init__(self, media_endpoint: str) -> None:
            super().__init__(media_endpoint)
            made.append(self)

    monkeypatch.setattr("streamlit.testing.v1.app_test.MemoryMediaFileStorage", Recording)
    return made


@pytest.fixture
def signed_in(demo_db: Path, users_file: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Signed]:
    """Run the app as a signed-in local account (set the way the sign-in form sets it)."""
    monkeypatch.setenv("QUALITYLIB_DB", str(demo_db))
    monkeypatch.setenv(access.USERS_ENV, str(users_file))

    def _as(username: str, script: Path = APP) -> AppTest:
        at = AppTest.from_file(str(script), default_timeout=60)
        if username:
            at.session_state[SESSION_KEY] = username
        return at.run()

    yield _as


def _visible(at: AppTest) -> str:
    """Everything the run sent to the browser, as text (table and chart data decoded)."""
    parts: list[str] = []

    def walk(node: object) -> None:
        proto = getattr(node, "proto", None)
        kind = getattr(node, "type", "")
        if kind == "dataframe":
            parts.append(node.value.to_csv())  # type: ignore[attr-defined]
        elif kind == "vega_lite_chart":
            parts.append(proto.spec)
            for dataset in proto.datasets:
                table = pa.ipc.open_stream(dataset.data.data).read_all()
                parts.append(table.to_pandas().to_csv())
        elif proto is not None:
            parts.append(str(proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return NOISE.sub(" ", "\n".join(parts))


def _downloads(at: AppTest, media: list[MemoryMediaFileStorage]) -> dict[str, bytes]:
    """``{label: file content}`` of the run's download buttons."""
    storage = media[-1]
    return {
        button.proto.label: storage.get_file(Path(button.proto.url).name).content
        for button in at.get("download_button")
    }


def _others(text: str, people: dict[str, str], allowed: set[str]) -> set[str]:
    """Ids and names in ``text`` of people outside ``allowed``."""
    seen = set(ID.findall(text)) - allowed
    seen |= {name for pid, name in people.items() if pid not in allowed and name in text}
    return seen


def _assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _unreachable(at: AppTest, user: access.User) -> None:
    """Pages outside the user's role are not registered: no switching (or URL) reaches them."""
    for page, file in FILES.items():
        if page not in access.pages_for(user):
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(f"views/{file}")


def test_sign_in_form_admits_the_right_password_only(signed_in: Signed) -> None:
    at = signed_in("")
    assert not at.get("metric") and not at.get("dataframe"), "nothing before sign-in"
    at.text_input[0].input("ivan")
    at.text_input[1].input("wrong password")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["Wrong user name or password."]
    assert SESSION_KEY not in at.session_state and not at.get("metric")

    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    _assert_clean(at)
    assert at.session_state[SESSION_KEY] == "ivan"
    assert "Signed in as **ivan** (annotator)" in [c.value for c in at.sidebar.caption]
    assert at.title[0].value == "Annotator"


def test_sign_out_forgets_the_session(signed_in: Signed) -> None:
    at = signed_in("ivan")
    at.session_state["pseudonyms"] = True
    at.sidebar.button[0].click().run()
    assert SESSION_KEY not in at.session_state and "pseudonyms" not in at.session_state
    assert not at.get("metric") and [b.label for b in at.button] == ["Sign in"]


def test_repeated_wrong_passwords_lock_the_user_name(signed_in: Signed) -> None:
    at = signed_in("")
    at.text_input[0].input("tom")
    for _ in range(access.SignInLimiter().attempts):
        at.text_input[1].input("guess")
        at.button[0].click().run()
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert at.error[0].value.startswith("Too many failed sign-ins for this user name")
    assert SESSION_KEY not in at.session_state


def test_an_unknown_or_removed_account_gets_the_form_not_the_data(signed_in: Signed) -> None:
    at = signed_in("mallory")
    assert not at.get("metric") and not at.get("dataframe")
    assert [b.label for b in at.button] == ["Sign in"]


def test_annotator_sees_their_own_debrief_and_no_one_else_anywhere(
    signed_in: Signed, demo_db: Path, people: dict[str, str], media: list
) -> None:
    at = signed_in("ivan")
    _assert_clean(at)
    assert at.title[0].value == "Annotator"
    assert not at.get("selectbox"), "no picker: the page is locked to their own id"
    with connect(demo_db, read_only=True) as con:
        own = annotator_summary(con, Filters(annotators=("a09",))).iloc[0]
    tpr = [m.value for m in at.metric if m.label == "True positive rate"]
    assert tpr == [f"{own['tpr'] * 100:.1f} %"]
    text = _visible(at)
    assert "Ivan Novak" in text and not _others(text, people, {"a09"})

    files = _downloads(at, media)
    debrief = pd.read_csv(io.BytesIO(files["Download the debrief (CSV)"]))
    assert len(debrief) > 0 and set(debrief["annotator_id"]) == {"a09"}
    assert not _others(files["Download the debrief (CSV)"].decode(), people, {"a09"})

    _unreachable(at, access.User("ivan", "annotator", "a09"))
    at.query_params["annotator"] = "a01"  # a link to someone else's debrief
    at.run()
    assert not _others(_visible(at), people, {"a09"})
    for key, value in (("f_teams", ["team-a"]), ("pseudonyms", True), ("f_teams", [])):
        at.session_state[key] = value  # sidebar filters cannot widen the scope
        at.run()
        _assert_clean(at)
        assert not _others(_visible(at), people, {"a09"})


@pytest.mark.parametrize("view", VIEWS)
def test_every_page_run_outside_the_navigation_still_shows_an_annotator_only_themselves(
    signed_in: Signed, people: dict[str, str], media: list, view: str
) -> None:
    """The data layer narrows every query to the session's scope, whatever the page asks."""
    at = signed_in("ivan", ROOT / "views" / view)
    assert not _others(_visible(at), people, {"a09"})
    for content in _downloads(at, media).values():
        assert not _others(content.decode("utf-8", "replace"), people, {"a09"})
    if view in ("reports.py", "imports.py"):  # whole-team data: refused, not narrowed
        assert [e.message for e in at.exception][0].endswith("not for this account")
        assert not at.get("file_uploader") and not at.get("download_button")
    else:
        _assert_clean(at)


def test_trainer_sees_their_trainees_only(signed_in: Signed, people: dict[str, str]) -> None:
    trainees = {"a07", "a10"}
    at = signed_in("tom")
    _assert_clean(at)
    picker = at.selectbox(key="annotator")
    assert set(picker.options) == {people["a07"], people["a10"]}
    assert not _others(_visible(at), people, trainees)
    _unreachable(at, access.User("tom", "trainer", trainees=("a07", "a10")))
    for file in ("onboarding.py", "review.py"):
        at.switch_page(f"views/{file}").run()
        _assert_clean(at)
        assert not _others(_visible(at), people, trainees), file


def test_committee_sees_review_agreement_and_data(signed_in: Signed) -> None:
    at = signed_in("cora")
    _assert_clean(at)
    assert at.title[0].value == "Review queue"
    _unreachable(at, access.User("cora", "committee"))
    at.switch_page("views/agreement.py").run()
    _assert_clean(at)
    assert "Kevin Doyle" in at.selectbox[0].format_func(at.selectbox[0].value)


def test_lead_sees_every_page_and_everyone(signed_in: Signed, people: dict[str, str]) -> None:
    at = signed_in("lea")
    _assert_clean(at)
    assert at.title[0].value == "Overview"
    text = _visible(at)
    workers = {pid for pid in people if pid.startswith("a")}
    assert workers <= set(ID.findall(text)) | {p for p in people if people[p] in text}
    for file in FILES.values():
        at.switch_page(f"views/{file}").run()
        _assert_clean(at)


def test_open_mode_says_so_in_the_sidebar(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUALITYLIB_DB", str(demo_db))
    monkeypatch.delenv(access.USERS_ENV, raising=False)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    _assert_clean(at)
    assert OPEN_NOTICE in [i.value for i in at.sidebar.info]
    assert at.title[0].value == "Overview"


def test_identity_provider_users_get_the_role_of_their_email(
    demo_db: Path, users_file: Path, monkeypatch: pytest.MonkeyPatch, people: dict[str, str]
) -> None:
    monkeypatch.setenv("QUALITYLIB_DB", str(demo_db))
    monkeypatch.setenv(access.USERS_ENV, str(users_file))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "test-secret",
        "client_id": "qualitylib",
        "client_secret": "test",
        "server_metadata_url": "https://id.example.org/.well-known/openid-configuration",
    }
    at.user = {"is_logged_in": False}
    at.run()
    assert [b.label for b in at.button] == ["Sign in"] and not at.get("metric")

    at.user = {"is_logged_in": True, "email": "eve@example.org"}
    at.run()
    assert "no account gives this address a role" in at.error[0].value
    assert not at.get("metric")

    at.user = {"is_logged_in": True, "email": "Tom@Example.org"}
    at.run()
    _assert_clean(at)
    assert at.title[0].value == "Annotator"
    assert not _others(_visible(at), people, {"a07", "a10"})


def _data_page(db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("QUALITYLIB_DB", str(db))
    monkeypatch.delenv(access.USERS_ENV, raising=False)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("views/imports.py").run()
    _assert_clean(at)
    return at


def test_uploads_are_written_only_inside_a_temporary_folder_then_removed(
    tmp_path: Path, demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "store" / "copy.duckdb"
    db.parent.mkdir()
    shutil.copy(demo_db, db)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    at = _data_page(db, monkeypatch)
    rows = b"item_id,annotator_id,label,annotated_at\ni-up,a01,safe,2026-11-20T10:00:00Z\n"
    other = b"item_id,annotator_id,label,annotated_at\ni-up2,a02,safe,2026-11-20T11:00:00Z\n"
    at.file_uploader[0].set_value(
        [("../../escape.csv", rows, "text/csv"), ("..\\escape.csv", other, "text/csv")]
    ).run()
    at.button[0].click().run()
    _assert_clean(at)
    assert at.success[0].value.startswith("imported 2 file(s): 2 rows")  # none overwritten
    assert list(at.dataframe[0].value["source_name"][:2]) == ["escape.csv", "escape.csv"]
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert written <= {"store/copy.duckdb", "store/copy.duckdb.wal"}, written
    assert not any(temporary.iterdir()), "the temporary folder is removed after the import"


def test_an_upload_over_the_size_limit_is_refused_and_nothing_is_written(
    tmp_path: Path, demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(demo_db, db)
    monkeypatch.setenv("QUALITYLIB_MAX_UPLOAD_MB", "1")
    at = _data_page(db, monkeypatch)
    imports = len(at.dataframe[0].value)  # the demo's imports (tag team and box project)
    assert at.get("file_uploader")[0].proto.max_upload_size_mb == 1  # the browser refuses too
    header = b"item_id,annotator_id,label,annotated_at\n"
    big = header + b"i-big,a01,safe,2026-11-20T10:00:00Z\n" * 40_000  # 1.4 MB
    at.file_uploader[0].set_value(("big.csv", big, "text/csv")).run()
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["error: larger than 1 MB: big.csv; use the CLI"]
    assert len(at.dataframe[0].value) == imports == 12  # the demo's imports, no more
