"""The console script: exit codes, one-line errors, exports equal to the Python API."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from contextlib import redirect_stdout
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from conftest import fingerprint
from pypdf import PdfReader

from qualitylib.cli import main
from qualitylib.metrics.reference import annotator_summary
from qualitylib.reports.weekly import last_complete_week
from qualitylib.store import connect

ANNOTATIONS = """
item_id,annotator_id,label,annotated_at
a,=HYPERLINK("http://evil"),safe,2026-09-01T10:00:00Z
a,bob,safe,2026-09-01T11:00:00Z
b,=HYPERLINK("http://evil"),nudity,2026-09-02T10:00:00Z
b,bob,safe,2026-09-02T11:00:00Z
c,bob,nudity,2026-09-02T11:00:00Z
"""
REFERENCE = """
item_id,label,decided_at
a,safe,2026-08-01
b,nudity,2026-08-01
c,nudity,2026-08-01
"""


@pytest.fixture
def store(db: Path, write) -> Path:
    assert (
        main(["import", "--db", str(db), "--kind", "reference", str(write("r.csv", REFERENCE))])
        == 0
    )
    assert (
        main(["import", "--db", str(db), "--kind", "annotations", str(write("a.csv", ANNOTATIONS))])
        == 0
    )
    return db


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qualitylib.cli", *args], capture_output=True, text=True, check=False
    )


def test_help_lists_every_command() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for command in ("import", "demo", "export", "dashboard"):
        assert f"    {command}" in result.stdout


def test_bad_data_is_one_line_and_exit_1(store: Path, write) -> None:
    bad = write("bad.csv", "item_id,annotator_id,label,annotated_at\nz,bob,safe,soon\n")
    before = fingerprint(store)
    result = _run("import", "--db", str(store), "--kind", "annotations", str(bad))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: bad.csv row 1, column 'annotated_at'")
    assert "Traceback" not in result.stderr
    assert fingerprint(store) == before


def test_bad_usage_is_exit_2(store: Path) -> None:
    assert _run("import", "--db", str(store), "--kind", "labelz", "x.csv").returncode == 2
    assert _run("export", "--db", str(store), "nothing").returncode == 2


def test_import_prints_a_summary(db: Path, write) -> None:
    result = _run(
        "import", "--db", str(db), "--kind", "annotations", str(write("a.csv", ANNOTATIONS))
    )
    assert result.returncode == 0
    assert result.stdout.startswith("imported 1 file(s): 5 rows, 2 new annotators, 3 new items in")
    again = _run(
        "import", "--db", str(db), "--kind", "annotations", str(write("a.csv", ANNOTATIONS))
    )
    assert again.stdout.startswith("already imported, nothing to do: a.csv (import #1)")


def test_export_csv_is_the_api_table_and_neutralises_formulas(store: Path) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["export", "--db", str(store), "annotator-summary"]) == 0
    csv = pd.read_csv(io.StringIO(out.getvalue()))
    assert list(csv.columns[:8]) == [
        "annotator_id",
        "name",
        "team",
        "n_reference",
        "accuracy",
        "accuracy_ci_low",
        "accuracy_ci_high",
        "accuracy_n",
    ]
    assert sorted(csv["annotator_id"]) == ['\'=HYPERLINK("http://evil")', "bob"]
    with connect(store, read_only=True) as con:
        api = annotator_summary(con).set_index("annotator_id")
    assert csv.set_index("annotator_id").loc["bob", "accuracy"] == pytest.approx(
        api.loc["bob", "accuracy"]
    )


def test_export_parquet_round_trips(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "pairs.parquet"
    assert (
        main(
            [
                "export",
                "--db",
                str(store),
                "pairwise-kappa",
                "--format",
                "parquet",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    pairs = pd.read_parquet(out)
    assert list(pairs.columns[:6]) == [
        "annotator_a",
        "annotator_b",
        "n_items",
        "kappa",
        "kappa_ci_low",
        "kappa_ci_high",
    ]
    assert pairs["n_items"].tolist() == [2]


def test_export_since_until_filters(store: Path) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        main(
            [
                "export",
                "--db",
                str(store),
                "confusion",
                "--since",
                "2026-09-02",
                "--until",
                "2026-09-02",
            ]
        )
    table = pd.read_csv(io.StringIO(out.getvalue()))
    assert table["n"].sum() == 3  # the three labels of 2 September


def test_export_missing_store_is_exit_1(tmp_path: Path) -> None:
    result = _run("export", "--db", str(tmp_path / "none.duckdb"), "agreement")
    assert result.returncode == 1
    assert "no store at" in result.stderr


HEAVY = ("pandas", "numpy", "scipy", "duckdb", "statsmodels", "sklearn", "streamlit", "altair")
PEOPLE = """
annotator_id,name,team
bob,Bob,team-b
"""


def test_parsing_imports_nothing_heavy() -> None:
    """`--help`, no command and a usage error answer without pandas, DuckDB or Streamlit."""
    script = f"""
import sys
import qualitylib.cli
loaded = [m for m in {HEAVY!r} if m in sys.modules]
for argv in (["--help"], [], ["export", "--db", "x", "nothing"], ["user"]):
    try:
        qualitylib.cli.main(argv)
    except SystemExit:
        pass
print(loaded, [m for m in {HEAVY!r} if m in sys.modules])
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines()[-1] == "[] []"


def test_written_out_choices_are_the_librarys() -> None:
    from qualitylib import cli
    from qualitylib.access import ROLES
    from qualitylib.export import EXPORTS
    from qualitylib.ingest import FORMATS, KINDS

    assert cli.KINDS == tuple(KINDS)
    assert cli.FORMATS == FORMATS
    assert cli.EXPORT_TABLES == tuple(EXPORTS)
    assert cli.ROLES == ROLES


def test_no_command_lists_the_commands_and_exits_2() -> None:
    result = _run()
    assert result.returncode == 2
    assert result.stderr.startswith("usage: qualitylib")
    for command in ("import", "demo", "export", "check", "report", "dashboard", "user"):
        assert f"    {command}" in result.stderr
    user = _run("user")
    assert user.returncode == 2
    assert "    add " in user.stderr


def _actions(parser: argparse.ArgumentParser, path: str = "qualitylib"):
    """Every option and positional of ``parser`` and its subcommands, with its command."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield path, action


def test_every_option_has_help() -> None:
    from qualitylib.cli import build_parser

    missing = [
        f"{path} {'/'.join(action.option_strings) or action.dest}"
        for path, action in _actions(build_parser())
        if not action.help
    ]
    assert missing == []


@pytest.fixture
def teams(store: Path, write, capsys) -> Path:
    """``store`` with bob in team-b (the other annotator has no team)."""
    assert (
        main(["import", "--db", str(store), "--kind", "annotators", str(write("p.csv", PEOPLE))])
        == 0
    )
    capsys.readouterr()
    return store


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--team", "teamb", "no team named 'teamb' in this store (teams: team-b)"),
        (
            "--annotator",
            "carol",
            "no annotator named 'carol' in this store "
            """(annotators: =HYPERLINK("http://evil"), bob)""",
        ),
        (
            "--policy-version",
            "v9",
            "no policy version named 'v9' in this store (policy versions: none)",
        ),
    ],
)
def test_export_unknown_filter_value_is_exit_1_with_the_known_values(
    teams: Path, capsys, flag: str, value: str, message: str
) -> None:
    assert main(["export", "--db", str(teams), "annotator-summary", flag, value]) == 1
    assert capsys.readouterr() == ("", f"error: {message}\n")


def test_export_known_filter_values_select_their_rows(teams: Path, capsys) -> None:
    assert main(["export", "--db", str(teams), "annotator-summary", "--team", "team-b"]) == 0
    assert pd.read_csv(io.StringIO(capsys.readouterr().out))["annotator_id"].tolist() == ["bob"]
    assert main(["export", "--db", str(teams), "confusion", "--annotator", "bob"]) == 0
    assert pd.read_csv(io.StringIO(capsys.readouterr().out))["n"].sum() == 3


def test_unknown_value_lists_the_first_twenty_and_counts_the_rest(db: Path, write) -> None:
    from qualitylib.errors import QualitylibError
    from qualitylib.metrics.known import require_known

    rows = "\n".join(f"x,p{i:02d},safe,2026-09-01T10:00:00Z" for i in range(25))
    main(["import", "--db", str(db), "--kind", "annotations", str(write("a.csv", HEADER + rows))])
    listed = ", ".join(f"p{i:02d}" for i in range(20))
    with connect(db, read_only=True) as con:
        with pytest.raises(QualitylibError) as error:
            require_known(con, "annotator", ["p01", "p99"])
    assert str(error.value) == (
        f"no annotator named 'p99' in this store (annotators: {listed} and 5 more)"
    )


HEADER = "item_id,annotator_id,label,annotated_at\n"


def test_export_into_a_closed_pipe_ends_quietly(store: Path) -> None:
    """`qualitylib export ... | head`: the reader leaves; no BrokenPipe traceback."""
    process = subprocess.Popen(
        [sys.executable, "-m", "qualitylib.cli", "export", "--db", str(store), "confusion"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before the first row is written: every write meets EPIPE
    stderr = process.stderr.read().decode()
    assert process.wait() == 1
    assert stderr == ""


def test_failed_first_import_leaves_no_store(tmp_path: Path, write) -> None:
    bad = write("bad.csv", "item_id,annotator_id,label,annotated_at\nz,bob,safe,soon\n")
    db = tmp_path / "new.duckdb"
    result = _run("import", "--db", str(db), "--kind", "annotations", str(bad))
    assert result.returncode == 1
    assert result.stderr.startswith("error: bad.csv row 1, column 'annotated_at'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_failed_import_into_a_store_leaves_it_as_it_was(store: Path, write, capsys) -> None:
    bad = write("ls.json", '[{"id": 1, "annotations": "no"}]')
    before = fingerprint(store)
    assert main(["import", "--db", str(store), "--format", "label-studio", str(bad)]) == 1
    assert capsys.readouterr().err.startswith("error: ls.json")
    assert store.exists() and fingerprint(store) == before


def _labels_on(*days: date) -> str:
    return HEADER + "\n".join(
        f"i{n},bob,safe,{day.isoformat()}T10:00:00Z" for n, day in enumerate(days)
    )


def test_report_without_week_takes_the_last_complete_week_with_labels(
    store: Path, tmp_path: Path, capsys
) -> None:
    """The fixture's labels are from 1-2 September 2026 (2026-W36), long before last week."""
    out = tmp_path / "reports"
    assert main(["report", "--db", str(store), "--out", str(out)]) == 0
    _, err = capsys.readouterr()
    last = last_complete_week(datetime.now(UTC).date())
    assert err.splitlines() == [
        "reporting 2026-W36, the last complete week with labels",
        f"warning: no labels since 2026-W36, although last week was {last}: "
        "has the label feed stopped?",
    ]
    pdf = PdfReader(out / "report-2026-W36.pdf")
    assert "Weekly quality report 2026-W36" in pdf.pages[0].extract_text()
    assert pdf.metadata is not None and pdf.metadata.title == "Weekly quality report 2026-W36"


def test_report_without_week_on_a_live_feed_says_the_week_without_warning(
    db: Path, tmp_path: Path, write, capsys
) -> None:
    today = datetime.now(UTC).date()
    monday = today - timedelta(days=today.weekday())
    labels = write("a.csv", _labels_on(monday - timedelta(days=3), monday))  # last week, this week
    assert main(["import", "--db", str(db), "--kind", "annotations", str(labels)]) == 0
    capsys.readouterr()
    assert main(["report", "--db", str(db), "--out", str(tmp_path / "r")]) == 0
    last = last_complete_week(today)
    assert capsys.readouterr().err == f"reporting {last}, the last complete week with labels\n"
    assert (tmp_path / "r" / f"report-{last}.pdf").is_file()


def test_report_without_week_and_only_this_weeks_labels_is_exit_1(
    db: Path, tmp_path: Path, write, capsys
) -> None:
    today = datetime.now(UTC).date()
    labels = write("a.csv", _labels_on(today - timedelta(days=today.weekday())))
    main(["import", "--db", str(db), "--kind", "annotations", str(labels)])
    capsys.readouterr()
    assert main(["report", "--db", str(db), "--out", str(tmp_path / "r")]) == 1
    assert capsys.readouterr().err == (
        "error: no labels before this week: nothing to report (import labels, or --week)\n"
    )
    assert not (tmp_path / "r").exists()


def test_report_unknown_team_names_the_teams(teams: Path, capsys) -> None:
    assert main(["report", "--db", str(teams), "--team", "team-z"]) == 1
    assert capsys.readouterr().err == (
        "error: no team named 'team-z' in this store (teams: team-b)\n"
    )
