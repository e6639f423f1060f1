"""The ``qualitylib`` console script: import, demo, export, report, dashboard, user.

Errors a user can fix are one line on stderr: exit 1 for bad data, 2 for bad usage.

Starting must stay quick (``--help`` and usage errors answer in well under a second): this
module imports only the standard library at the top; pandas, DuckDB and the metrics are
imported inside the command that uses them, and the argument choices below are written out
(tests/test_cli.py checks they equal the library's).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from qualitylib.errors import QualitylibError

if TYPE_CHECKING:
    import duckdb

DEMO_DB = Path("data/demo.duckdb")
PSEUDONYM_KEY_ENV = "QUALITYLIB_PSEUDONYM_KEY"  # the same key as the dashboard's pseudonyms
Handler = Callable[[argparse.Namespace], int]

# Argument choices, written out so that parsing imports nothing heavy (checked by a test).
KINDS = (  # ingest.KINDS
    "annotations",
    "reference",
    "labels",
    "items",
    "annotators",
    "predictions",
    "fixes",
    "boxes",
    "reference-boxes",
)
FORMATS = (  # ingest.FORMATS
    "label-studio",
    "prodigy",
    "toloka",
    "sagemaker",
    "crowd-csv",
    "coco",
    "label-studio-boxes",
    "sagemaker-boxes",
    "cvat",
    "auto",
)
EXPORT_TABLES = (  # export.EXPORTS
    "annotator-summary",
    "confusion",
    "pairwise-kappa",
    "agreement",
    "audit",
    "drift-alerts",
    "onboarding",
    "timeline",
    "review-queue",
    "stale-policy",
    "skill",
    "headlines",
    "model-summary",
    "model-confusion",
    "model-calibration",
    "model-timeline",
    "model-disagreements",
    "model-vs-annotators",
    "label-needs",
    "model-fixes",
    "behaviour",
    "behavior",
    "time-on-task",
    "box-time-on-task",
    "gold-budget",
    "gold-exposure",
    "gold-difficulty",
    "committee-agreement",
    "committee-reversals",
    "box-summary",
    "box-errors",
    "box-confusion",
    "box-agreement",
    "consensus-boxes",
    "box-timeline",
    "box-onboarding",
    "box-drift-alerts",
    "box-sizes",
)
BOX_TIME_TABLES = ("box-timeline", "box-onboarding", "box-drift-alerts", "box-sizes")
ROLES = ("lead", "trainer", "annotator", "committee")  # access.ROLES
STOP_GRACE_S = 3.0  # how long a stopped dashboard's server may take before it is killed


def _import(args: argparse.Namespace) -> int:
    from qualitylib.ingest import import_exports, import_files

    progress = sys.stderr.isatty()
    if args.kind is not None and (args.gold or args.control or args.at or not args.files):
        print(
            "error: --kind needs FILE...; --gold, --control and --at go with --format",
            file=sys.stderr,
        )
        return 2
    db = Path(args.db)
    created = not db.exists()
    try:
        if args.kind is not None:
            summary = import_files(db, args.kind, args.files, progress=progress)
        else:
            summary = import_exports(
                db,
                args.format,
                args.files,
                gold=args.gold,
                control=args.control,
                at=args.at,
                progress=progress,
                annotator=args.annotator,
                reference=args.reference,
                jobs=args.jobs,
                keep_ids=args.keep_ids,
            )
    except BaseException:  # also Ctrl-C: a failed first import leaves no empty store behind
        if created:
            _remove_store(db)
        raise
    print(summary)
    return 0


def _remove_store(db: Path) -> None:
    """Delete a store file with its write-ahead log and DuckDB's spill folder."""
    for path in (db, Path(f"{db}.wal")):
        path.unlink(missing_ok=True)
    shutil.rmtree(f"{db}.tmp", ignore_errors=True)


def _timestamp(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 timestamp (e.g. 2026-09-01T14:30:00Z): {text!r}"
        ) from error


def _demo(args: argparse.Namespace) -> int:
    from qualitylib import demo

    if Path(args.db).exists():
        raise QualitylibError(f"{args.db} already exists: remove it or choose another --db")
    if args.behaviour:
        from qualitylib import demo_behaviour

        demo_behaviour.build(args.db, seed=args.seed)
        print(f"behaviour personas written to {args.db} (team {demo_behaviour.TEAM_NAME})")
        return 0
    data = demo.build(args.db, seed=args.seed, n_annotations=args.annotations)
    print(
        f"demo team written to {args.db}: {len(data.annotations):,} labels by "
        f"{len(data.annotators):,} people on {len(data.items):,} items (seed {args.seed})"
    )
    from qualitylib.demo_boxes import TEAM_NAME, images_folder

    print(f"with a box-drawing project (team {TEAM_NAME}), images in {images_folder(args.db)}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from qualitylib.export import CANONICAL, EXPORTS, write_canonical, write_table
    from qualitylib.log_scope import SERVED_EXPORTS, require_log
    from qualitylib.metrics.filters import Filters
    from qualitylib.metrics.known import check_filters
    from qualitylib.store import connect

    filters = Filters(
        since=args.since,
        until=args.until,
        teams=tuple(args.team),
        policy_versions=tuple(args.policy_version),
        annotators=tuple(args.annotator),
    )
    with connect(args.db, read_only=True) as con:
        if args.table not in SERVED_EXPORTS:
            require_log(con, f"export {args.table}")
    if args.table in CANONICAL:  # the stored rows themselves, streamed as they are
        with connect(args.db, read_only=True) as con:
            n_rows = write_canonical(con, args.table, args.out, args.format)
        if args.out is not None:
            print(f"wrote {n_rows:,} rows to {args.out}", file=sys.stderr)
        return 0
    if args.table not in EXPORTS:
        print(
            f"error: the stored rows of kind {args.table!r} cannot be exported yet", file=sys.stderr
        )
        return 2
    exporter = EXPORTS[args.table]
    if args.table in ("onboarding", "gold-difficulty"):
        from functools import partial

        from qualitylib.metrics.onboarding import Objective

        chosen = {
            "tpr_min": args.tpr_min,
            "fpr_max": args.fpr_max,
            "window": args.window,
            "min_positives": args.min_positives,
            "min_negatives": args.min_negatives,
        }
        try:
            objective = Objective(**{k: v for k, v in chosen.items() if v is not None})
        except ValueError as error:
            raise QualitylibError(f"onboarding objective: {error}") from error
        exporter = partial(exporter, objective=objective)
        if args.table == "onboarding" and args.method == "sprt":
            exporter = _sprt_exporter(args, objective)
    elif args.table in ("timeline", "model-timeline", "model-fixes"):
        from functools import partial

        exporter = partial(exporter, period=args.period)
    elif args.table == "model-summary":
        from functools import partial

        if not 0 <= args.threshold <= 1:
            print("error: --threshold must be between 0 and 1", file=sys.stderr)
            return 2
        exporter = partial(exporter, threshold=args.threshold, threshold_label=args.positive_label)
    elif args.table == "model-calibration" and args.positive_label is not None:
        from functools import partial

        exporter = partial(exporter, label=args.positive_label)
    elif args.table == "model-vs-annotators":
        from functools import partial

        if not 0 <= args.epsilon < 1 or args.min_items < 2:
            print("error: --epsilon must be in [0, 1), --min-items at least 2", file=sys.stderr)
            return 2
        exporter = partial(exporter, epsilon=args.epsilon, min_items=args.min_items)
    elif args.table == "label-needs":
        from functools import partial

        if not 0 < args.target < 1 or args.price < 0:
            print("error: --target must be in (0, 1), --price not negative", file=sys.stderr)
            return 2
        exporter = partial(exporter, target=args.target, price=args.price)
    elif args.table in ("behaviour", "behavior", "time-on-task", "box-time-on-task"):
        exporter = _behaviour_exporter(args, exporter)
    elif args.table in ("gold-budget", "gold-exposure"):
        exporter = _gold_exporter(args, exporter)
    elif args.table in BOX_TIME_TABLES:
        exporter = _box_time_exporter(args, exporter)
        if exporter is None:
            return 2
    elif args.table.startswith("box-") or args.table == "consensus-boxes":
        from functools import partial

        if not 0 < args.iou <= 1:
            print(f"error: --iou must be in (0, 1], got {args.iou}", file=sys.stderr)
            return 2
        options: dict[str, object] = {"iou_threshold": args.iou}
        if args.table == "box-summary":
            options["against"] = args.against
            options["by_label"] = args.by_label
        if args.table == "consensus-boxes" and args.min_workers is not None:
            options["min_workers"] = args.min_workers
        exporter = partial(exporter, **options)
    with connect(args.db, read_only=True) as con:
        check_filters(con, filters)
        try:
            frame = exporter(con, filters)
        except ValueError as error:  # an option the store cannot answer (an unknown label)
            raise QualitylibError(f"{args.table}: {error}") from error
    write_table(frame, args.out, args.format)
    if args.table == "label-needs":
        print(
            f"label-needs: {len(frame):,} items below {args.target}, about "
            f"{frame['more_labels'].sum():,.0f} more labels, total cost "
            f"{frame['cost'].sum():,.2f} at {args.price} per label",
            file=sys.stderr,
        )
    if args.out is not None:
        print(f"wrote {len(frame):,} rows to {args.out}", file=sys.stderr)
    return 0


def _imports_list(args: argparse.Namespace) -> int:
    from qualitylib.ingest.undo import list_imports
    from qualitylib.store import connect

    with connect(args.db, read_only=True) as con:
        history = list_imports(con)
    print("no imports yet" if history.empty else history.to_string(index=False))
    return 0


def _imports_remove(args: argparse.Namespace) -> int:
    from qualitylib.ingest.undo import remove_import

    n_rows = remove_import(args.db, args.import_id)
    print(f"removed import #{args.import_id}: {n_rows:,} rows; derived tables rescored")
    return 0


def _sprt_exporter(args: argparse.Namespace, objective: object) -> Callable[..., object]:
    """``export onboarding --method sprt``: the window table with the sequential decision."""
    from functools import partial

    from qualitylib.metrics.sprt import SPRT
    from qualitylib.people_exports import onboarding_sprt_export

    chosen = {
        "alpha": args.alpha,
        "beta": args.beta,
        "margin_tpr": args.margin_tpr,
        "margin_fpr": args.margin_fpr,
    }
    try:
        sprt = SPRT(**{k: v for k, v in chosen.items() if v is not None})
        sprt.hypotheses(objective)  # type: ignore[arg-type]
    except ValueError as error:
        raise QualitylibError(f"onboarding --method sprt: {error}") from error
    return partial(onboarding_sprt_export, objective=objective, sprt=sprt)


def _behaviour_exporter(args: argparse.Namespace, exporter: Callable[..., object]) -> object:
    """``export behaviour`` / ``time-on-task`` / ``box-time-on-task`` with ``--too-fast-k``."""
    from functools import partial

    from qualitylib.metrics.behaviour import BehaviourRule
    from qualitylib.metrics.time_on_task import SpeedRule

    if args.too_fast_k is None:
        return exporter
    try:
        rule = BehaviourRule(speed=SpeedRule(k=args.too_fast_k))
    except ValueError as error:
        raise QualitylibError(f"--too-fast-k: {error}") from error
    return partial(exporter, rule=rule)


def _box_time_exporter(
    args: argparse.Namespace, exporter: Callable[..., object]
) -> Callable[..., object] | None:
    """``export box-timeline`` / ``box-onboarding`` / ``box-drift-alerts`` / ``box-sizes`` with
    ``--iou``, ``--period`` and the box onboarding objective (None, said on stderr, when out of
    range)."""
    from functools import partial

    from qualitylib.metrics.box_timeline import BoxObjective

    if not 0 < args.iou <= 1:
        print(f"error: --iou must be in (0, 1], got {args.iou}", file=sys.stderr)
        return None
    if args.table == "box-timeline":
        return partial(exporter, period=args.period, iou_threshold=args.iou)
    if args.table == "box-sizes":
        return partial(exporter, iou_threshold=args.iou)
    chosen = {
        "recall_objective": args.recall_min,
        "precision_objective": args.precision_min,
    }
    if args.table == "box-onboarding":
        chosen |= {"window": args.window, "min_boxes": args.min_boxes}
    options = {k: v for k, v in chosen.items() if v is not None}
    try:
        BoxObjective(**{k.removesuffix("_objective"): v for k, v in options.items()})
    except ValueError as error:
        raise QualitylibError(f"box onboarding objective: {error}") from error
    return partial(exporter, iou_threshold=args.iou, **options)


def _gold_exporter(args: argparse.Namespace, exporter: Callable[..., object]) -> object:
    """``export gold-budget`` / ``gold-exposure`` with ``--width`` and ``--delay-weeks``."""
    from functools import partial

    from qualitylib.metrics.gold import GoldPlan

    chosen = {"width": args.width, "delay_weeks": args.delay_weeks}
    try:
        plan = GoldPlan(**{k: v for k, v in chosen.items() if v is not None})
    except ValueError as error:
        raise QualitylibError(f"{args.table}: {error}") from error
    return partial(exporter, plan=plan)


def _check(args: argparse.Namespace) -> int:
    from qualitylib.check import check_store

    findings = check_store(args.db)
    for finding in findings:
        print(finding)
    return 0 if all(finding.ok for finding in findings) else 1


def _cubes(args: argparse.Namespace) -> int:
    from qualitylib.engines import build_cubes

    summary = build_cubes(
        args.source,
        args.db,
        args.engine,
        spark_master=args.spark_master,
        replace=args.replace,
        log=not args.no_log,
    )
    print(summary)
    return 0


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from error


def _report(args: argparse.Namespace) -> int:
    from datetime import UTC

    from qualitylib.log_scope import needs_log_message
    from qualitylib.metrics.known import require_known
    from qualitylib.pseudonyms import DEFAULT_KEY
    from qualitylib.reports import build_weekly_report, write_report
    from qualitylib.reports.weekly import NEEDS_LOG, parse_week, project_name
    from qualitylib.store import connect

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    if args.week is not None:
        try:
            parse_week(args.week)
        except ValueError as error:
            print(f"error: --week: {error}", file=sys.stderr)
            return 2
    with connect(args.db, read_only=True) as con:
        require_known(con, "team", [args.team] if args.team else [])
        week = args.week or _default_week(con, now.date(), args.team)
        report = build_weekly_report(
            con, week, team=args.team, project=args.project or project_name(args.db)
        )
    if args.pseudonymize:
        report = report.pseudonymize(os.environ.get(PSEUDONYM_KEY_ENV, DEFAULT_KEY))
    pdf, folder = write_report(report, args.out, now, images=not args.no_images)
    if report.empty:
        print(f"no labels in {report.week}: wrote an empty report", file=sys.stderr)
    for section in report.needs_log:  # left out of the files, which say so too
        print(f"note: {needs_log_message(NEEDS_LOG[section])}", file=sys.stderr)
    print(f"wrote {pdf} and {folder}{os.sep}")
    return 0


def _default_week(con: duckdb.DuckDBPyConnection, today: date, team: str | None) -> str:
    """The last complete week with labels, said on stderr, with a warning when it is old."""
    from qualitylib.metrics.catalog import last_week_with_labels
    from qualitylib.metrics.filters import Filters
    from qualitylib.metrics.periods import last_complete_week, parse_week

    week = last_week_with_labels(con, Filters(teams=(team,)) if team else None, today)
    scope = f" of team {team}" if team else ""
    if week is None:
        raise QualitylibError(
            f"no labels{scope} before this week: nothing to report (import labels, or --week)"
        )
    print(f"reporting {week}, the last complete week with labels{scope}", file=sys.stderr)
    last = last_complete_week(today)
    if parse_week(week) < parse_week(last):
        print(
            f"warning: no labels{scope} since {week}, although last week was {last}: "
            "has the label feed stopped?",
            file=sys.stderr,
        )
    return week


def _warm_dashboard(url: str, open_browser: bool, timeout: float = 120.0) -> None:
    """Once the server answers, have it run the app once (Streamlit's script health check):
    the imports and the Overview's queries are then done before the first visitor's view.
    Then open the browser on it (Streamlit's own opens it at once, racing the warm-up)."""
    import time
    import urllib.request
    import webbrowser

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                break
        except OSError:
            time.sleep(0.2)
    else:
        return  # the server never answered (it says why): nothing to warm or open
    try:
        with urllib.request.urlopen(f"{url}/_stcore/script-health-check", timeout=timeout):
            pass
    except OSError:
        pass  # only a warm-up: the first view then computes what it needs
    if open_browser:
        webbrowser.open(url)


def _dashboard(args: argparse.Namespace) -> int:
    db = Path(args.db)
    if not db.exists():
        if not args.demo:
            raise QualitylibError(
                f"no store at {db}: import data first, or add --demo to generate the demo team"
            )
        from qualitylib import demo

        db.parent.mkdir(parents=True, exist_ok=True)
        print(f"generating the demo team into {db} (first run only)...", file=sys.stderr)
        demo.build(db)
    from qualitylib.access import USERS_ENV, load_accounts
    from qualitylib.log_scope import LOG_SECTIONS_NOTE, log_omitted
    from qualitylib.store import connect

    with connect(db) as con:  # migrates an older store once; the app then only reads
        if log_omitted(con):
            print(f"note: {LOG_SECTIONS_NOTE}", file=sys.stderr)

    env = {**os.environ, "QUALITYLIB_DB": str(db.resolve())}
    users = args.users or env.get(USERS_ENV)
    if users:
        load_accounts(users)  # a broken accounts file stops here, with what to fix
        env[USERS_ENV] = str(Path(users).resolve())
    app = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.port",
        str(args.port),
        "--browser.gatherUsageStats",
        "false",
        "--server.scriptHealthCheckEnabled",
        "true",
        "--server.headless",  # the browser is opened by _warm_dashboard, once warm
        "true",
    ]
    import threading

    url = f"http://127.0.0.1:{args.port}"
    threading.Thread(target=_warm_dashboard, args=(url, not args.headless), daemon=True).start()
    from qualitylib.access import find_secrets

    secrets = find_secrets(db)  # the project's secrets too, not only Streamlit's own places
    for path in secrets.found:
        command += ["--secrets.files", str(path)]
    if not users and secrets.auth is None:
        looked = ", ".join(str(path) for path in secrets.searched)
        print(
            "open mode: no sign-in configured (--users, or an [auth] section in a secrets file; "
            f"looked in {looked}), serving on this computer only",
            file=sys.stderr,
        )
        command += ["--server.address", "127.0.0.1"]
    return _serve(command, env)


class _Stopped(Exception):
    """SIGTERM arrived while the dashboard's server ran."""


def _serve(command: list[str], env: dict[str, str]) -> int:
    """Run the Streamlit server as a child that stops with us (Ctrl-C, or SIGTERM to our PID).

    The server gets :data:`STOP_GRACE_S` to finish (it waits for a running script, such as the
    start-up warm-up, to end), then is killed: it only reads the store.
    """
    server = subprocess.Popen(command, env=env)

    def stop(_signum: int, _frame: object) -> None:
        raise _Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return server.wait()
    except KeyboardInterrupt:  # Ctrl-C reaches the server too; a SIGINT to our PID alone not
        return 128 + signal.SIGINT
    except _Stopped:
        return 128 + signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, previous)
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _user_add(args: argparse.Namespace) -> int:
    from getpass import getpass

    from qualitylib.access import load_accounts, make_account, save_accounts

    accounts = load_accounts(args.users) if Path(args.users).exists() else {}
    if args.no_password:
        password = None
    elif args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass(f"password for {args.username}: ")
        if password != getpass("again: "):
            print("error: the two passwords differ; nothing was written", file=sys.stderr)
            return 2
    if password == "":
        print("error: the password is empty; nothing was written", file=sys.stderr)
        return 2
    try:
        account = make_account(
            args.username, args.role, password, args.annotator_id, tuple(args.trainee)
        )
    except QualitylibError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    replaced = args.username in accounts
    save_accounts(args.users, {**accounts, args.username: account})
    print(f"{'updated' if replaced else 'added'} {args.username} ({args.role}) in {args.users}")
    return 0


def _usage(parser: argparse.ArgumentParser, _args: argparse.Namespace) -> int:
    """A command given without its subcommand: list what there is, on stderr, exit 2."""
    parser.print_help(sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; each command's help is one line."""
    parser = argparse.ArgumentParser(
        prog="qualitylib",
        description="Annotator quality and agreement analytics on a DuckDB label store.",
    )
    parser.set_defaults(handler=partial(_usage, parser))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    imp = commands.add_parser(
        "import",
        help="validate and import CSV/Parquet files or tool exports (all or nothing, idempotent)",
    )
    imp.add_argument("--db", required=True, help="the DuckDB store (created if missing)")
    source = imp.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--kind", choices=list(KINDS), help="canonical CSV/Parquet files: what the files hold"
    )
    source.add_argument(
        "--format",
        choices=list(FORMATS),
        help="a labelling tool's export (auto: detect each file's tool from its content)",
    )
    imp.add_argument(
        "--gold",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="with --format: a 'task,label' CSV of reference decisions (repeatable)",
    )
    imp.add_argument(
        "--control", help="with --format: the classification control/field when there are several"
    )
    imp.add_argument(
        "--at",
        type=_timestamp,
        help="with --format: timestamp for records without one (default: the file's mtime)",
    )
    imp.add_argument(
        "--annotator", help="with --format coco: whose boxes the file holds (COCO names no one)"
    )
    imp.add_argument(
        "--reference",
        action="store_true",
        help="with --format coco or cvat: the file holds the committee's boxes (and tags)",
    )
    imp.add_argument(
        "--jobs",
        type=Path,
        metavar="FILE",
        help="with --format cvat: CSV job_id,start_frame,stop_frame,assignee (who drew what)",
    )
    imp.add_argument(
        "--keep-ids",
        action="store_true",
        help="box formats: keep the tool's image ids (default: the image file's base name)",
    )
    imp.add_argument("files", nargs="*", type=Path, metavar="FILE", help="the files to import")
    imp.set_defaults(handler=_import)

    dem = commands.add_parser("demo", help="generate the seeded demo team into a new store")
    dem.add_argument("--db", required=True, help="the DuckDB store to create")
    dem.add_argument("--seed", type=int, default=0, help="random seed (same seed, same data)")
    dem.add_argument(
        "--annotations", type=int, default=200_000, help="about how many labels (default 200,000)"
    )
    dem.add_argument(
        "--behaviour",
        action="store_true",
        help="instead: the behaviour personas (timed answers, a clicker, a straight-liner...)",
    )
    dem.set_defaults(handler=_demo)

    exp = commands.add_parser(
        "export", help="write a tidy metrics table, or the stored rows of a kind, as CSV or Parquet"
    )
    exp.add_argument("--db", required=True, help="the DuckDB store")
    exp.add_argument(
        "table",
        choices=[*EXPORT_TABLES, *KINDS],  # a kind: its stored rows (qualitylib.export.CANONICAL)
        help="which table (annotations|reference|labels|items|annotators: the rows as stored)",
    )
    exp.add_argument(
        "--format",
        choices=["csv", "parquet"],
        default="csv",
        help="csv (default; to stdout without --out) or parquet (needs --out)",
    )
    exp.add_argument("--out", type=Path, help="output file (CSV goes to stdout without it)")
    exp.add_argument("--since", type=_date, help="first day included (YYYY-MM-DD)")
    exp.add_argument("--until", type=_date, help="last day included (YYYY-MM-DD)")
    exp.add_argument("--team", action="append", default=[], help="only this team (repeatable)")
    exp.add_argument(
        "--policy-version", action="append", default=[], help="only labels under this version"
    )
    exp.add_argument(
        "--annotator",
        action="append",
        default=[],
        metavar="ANNOTATOR_ID",
        help="only this annotator's labels (repeatable)",
    )
    exp.add_argument(
        "--tpr-min", type=float, help="onboarding, gold-difficulty: objective TPR (default 0.85)"
    )
    exp.add_argument(
        "--fpr-max", type=float, help="onboarding, gold-difficulty: objective FPR (default 0.05)"
    )
    exp.add_argument(
        "--window",
        type=int,
        help="onboarding: last N reference labels judged (default 100); box-onboarding: last N "
        "reference images (default 30)",
    )
    exp.add_argument("--min-positives", type=int, help="onboarding: positives in the window (20)")
    exp.add_argument("--min-negatives", type=int, help="onboarding: negatives in the window (20)")
    exp.add_argument(
        "--period", choices=["day", "week", "month"], default="week", help="timeline: period"
    )
    exp.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="model-summary: the model flags an item when P(flagged) >= T (default 0.5)",
    )
    exp.add_argument(
        "--positive-label",
        metavar="LABEL",
        help="model-summary, model-calibration: LABEL against the rest, from the score_<label> "
        "distributions (rates at the threshold; the reliability of P(LABEL))",
    )
    exp.add_argument(
        "--epsilon",
        type=float,
        default=0.2,
        help="model-vs-annotators: the cost-benefit parameter (0.2 experts, 0.1 crowd workers)",
    )
    exp.add_argument(
        "--min-items",
        type=int,
        default=30,
        help="model-vs-annotators: items an annotator needs to be tested (default 30)",
    )
    exp.add_argument(
        "--target",
        type=float,
        default=0.95,
        help="label-needs: the confidence items should reach (default 0.95)",
    )
    exp.add_argument(
        "--price", type=float, default=1.0, help="label-needs: price of one label (default 1)"
    )
    exp.add_argument(
        "--method",
        choices=["window", "sprt"],
        default="window",
        help="onboarding: fixed window (default) or Wald's sequential test (adds decision...)",
    )
    exp.add_argument("--alpha", type=float, help="onboarding sprt: P(releasing a bad trainee)")
    exp.add_argument("--beta", type=float, help="onboarding sprt: P(holding back a good one)")
    exp.add_argument("--margin-tpr", type=float, help="onboarding sprt: H0 TPR below (0.15)")
    exp.add_argument("--margin-fpr", type=float, help="onboarding sprt: H0 FPR above (0.10)")
    exp.add_argument(
        "--too-fast-k",
        type=float,
        help="behaviour, (box-)time-on-task: robust SDs below the log-median (2.5)",
    )
    exp.add_argument(
        "--width", type=float, help="gold-budget: target width of weekly TPR/FPR intervals (0.2)"
    )
    exp.add_argument(
        "--delay-weeks", type=float, help="gold-budget: target drift-detection delay (2 weeks)"
    )
    exp.add_argument(
        "--iou", type=float, default=0.5, help="box tables: IoU threshold of a match (default 0.5)"
    )
    exp.add_argument(
        "--recall-min",
        type=float,
        help="box-onboarding, box-drift-alerts: objective box recall (default 0.85)",
    )
    exp.add_argument(
        "--precision-min",
        type=float,
        help="box-onboarding, box-drift-alerts: objective box precision (default 0.90)",
    )
    exp.add_argument(
        "--min-boxes",
        type=int,
        help="box-onboarding: committee boxes a window needs before it is judged (default 50)",
    )
    exp.add_argument(
        "--against",
        choices=["reference", "consensus"],
        default="reference",
        help="box-summary: score against the committee, or the consensus of the others",
    )
    exp.add_argument(
        "--by-label", action="store_true", help="box-summary: one row per annotator and label"
    )
    exp.add_argument(
        "--min-workers",
        type=int,
        help="consensus-boxes: workers a consensus box needs (default: a majority of the item's)",
    )
    exp.set_defaults(handler=_export)

    imps = commands.add_parser("imports", help="list the imports, or remove a wrong one")
    imports_commands = imps.add_subparsers(dest="imports_command", required=True, metavar="ACTION")
    ils = imports_commands.add_parser("list", help="every import: id, kind, file, rows, who, when")
    ils.add_argument("--db", required=True, help="the DuckDB store")
    ils.set_defaults(handler=_imports_list)
    irm = imports_commands.add_parser(
        "remove", help="remove one import's rows and rescore what it touched (all or nothing)"
    )
    irm.add_argument("--db", required=True, help="the DuckDB store")
    irm.add_argument("import_id", type=int, metavar="ID", help="the import's id (imports list)")
    irm.set_defaults(handler=_imports_remove)

    chk = commands.add_parser(
        "check", help="check a store's integrity (schema, keys, rows vs the imports audit)"
    )
    chk.add_argument("--db", required=True, help="the DuckDB store")
    chk.set_defaults(handler=_check)

    cub = commands.add_parser(
        "cubes",
        help="compute a store from a Parquet lake on DuckDB or Spark (one folder per table)",
    )
    cub.add_argument(
        "--engine",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="duckdb (default, embedded) or spark (pip install -e '.[spark]')",
    )
    cub.add_argument(
        "--source", required=True, help="folder (or, with Spark, URL) holding annotations/ etc."
    )
    cub.add_argument("--db", required=True, help="the DuckDB store to write")
    cub.add_argument("--spark-master", help="Spark master URL (default: local mode)")
    cub.add_argument("--replace", action="store_true", help="overwrite an existing --db")
    cub.add_argument(
        "--no-log",
        action="store_true",
        help="leave the label log out of the store: a few percent of its size, serving the "
        "exports that read labels on reference items and disputed items, and the box exports; "
        "the dashboard, report and other exports then say they need the log",
    )
    cub.set_defaults(handler=_cubes)

    rep = commands.add_parser(
        "report", help="write the weekly PDF report and its CSV tables for one ISO week"
    )
    rep.add_argument("--db", required=True, help="the DuckDB store")
    rep.add_argument(
        "--week",
        help="ISO week, e.g. 2026-W47 (default: the last complete week with labels, named on "
        "stderr, with a warning when it is older than last week)",
    )
    rep.add_argument("--team", help="only this team (default: everyone)")
    rep.add_argument(
        "--out", type=Path, default=Path("."), help="folder to write into (default: here)"
    )
    rep.add_argument("--project", help="project name in the title (default: the store's name)")
    rep.add_argument(
        "--pseudonymize",
        action="store_true",
        help=f"show annotators by stable pseudonyms (key from ${PSEUDONYM_KEY_ENV})",
    )
    rep.add_argument(
        "--no-images",
        action="store_true",
        help="leave the example box images out of the PDF and the CSV folder (the images are "
        "not read: for sensitive content or unreachable URIs)",
    )
    rep.set_defaults(handler=_report)

    dash = commands.add_parser("dashboard", help="open the Streamlit dashboard on a store")
    dash.add_argument("--db", default=str(DEMO_DB), help=f"the store (default {DEMO_DB})")
    dash.add_argument(
        "--demo", action="store_true", help="generate the demo team first if --db is missing"
    )
    dash.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    dash.add_argument("--headless", action="store_true", help="do not open a browser")
    dash.add_argument(
        "--users",
        type=Path,
        help="accounts file for sign-in with local accounts (see `qualitylib user add`); "
        "without it or OIDC the dashboard serves this computer only",
    )
    dash.set_defaults(handler=_dashboard)

    usr = commands.add_parser("user", help="manage dashboard accounts (local sign-in and roles)")
    usr.set_defaults(handler=partial(_usage, usr))
    user_commands = usr.add_subparsers(dest="user_command", metavar="ACTION")
    add = user_commands.add_parser("add", help="add or replace an account; asks for a password")
    add.add_argument("--users", type=Path, required=True, help="the accounts file (TOML)")
    add.add_argument(
        "--username", required=True, help="sign-in name (the email for identity-provider users)"
    )
    add.add_argument(
        "--role", required=True, choices=list(ROLES), help="what the account may see and do"
    )
    add.add_argument("--annotator-id", help="annotator: their annotator id in the store")
    add.add_argument(
        "--trainee",
        action="append",
        default=[],
        metavar="ANNOTATOR_ID",
        help="trainer: an annotator they train (repeatable)",
    )
    secret = add.add_mutually_exclusive_group()
    secret.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin's first line"
    )
    secret.add_argument(
        "--no-password",
        action="store_true",
        help="no password: the user signs in through the identity provider (OIDC) only",
    )
    add.set_defaults(handler=_user_add)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; print user errors as one line."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        code = handler(args)
        sys.stdout.flush()  # a reader that went away (`| head`) shows here, not at exit
        return code
    except BrokenPipeError:
        # The Python docs' recipe (signal module, "Note on SIGPIPE"): send the rest of the
        # output to devnull so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except QualitylibError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: nothing was written by an unfinished import", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
