"""The ``qualitylib`` console script: import, demo, export, dashboard.

Errors a user can fix are one line on stderr: exit 1 for bad data, 2 for bad usage.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from qualitylib.errors import QualitylibError

DEMO_DB = Path("data/demo.duckdb")
Handler = Callable[[argparse.Namespace], int]


def _import(args: argparse.Namespace) -> int:
    from qualitylib.ingest import import_files

    summary = import_files(args.db, args.kind, args.files, progress=sys.stderr.isatty())
    print(summary)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from qualitylib import demo

    if Path(args.db).exists():
        raise QualitylibError(f"{args.db} already exists: remove it or choose another --db")
    data = demo.build(args.db, seed=args.seed, n_annotations=args.annotations)
    print(
        f"demo team written to {args.db}: {len(data.annotations):,} labels by "
        f"{len(data.annotators):,} people on {len(data.items):,} items (seed {args.seed})"
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    from qualitylib.export import EXPORTS, write_table
    from qualitylib.metrics.filters import Filters
    from qualitylib.store import connect

    filters = Filters(
        since=args.since,
        until=args.until,
        teams=tuple(args.team),
        policy_versions=tuple(args.policy_version),
    )
    with connect(args.db, read_only=True) as con:
        frame = EXPORTS[args.table](con, filters)
    write_table(frame, args.out, args.format)
    if args.out is not None:
        print(f"wrote {len(frame):,} rows to {args.out}", file=sys.stderr)
    return 0


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from error


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
    app = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(args.port)]
    if args.headless:
        command += ["--server.headless", "true"]
    env = {**os.environ, "QUALITYLIB_DB": str(db.resolve())}
    return subprocess.call(command, env=env)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; each command's help is one line."""
    from qualitylib.export import EXPORTS
    from qualitylib.ingest import KINDS

    parser = argparse.ArgumentParser(
        prog="qualitylib",
        description="Annotator quality and agreement analytics on a DuckDB label store.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    imp = commands.add_parser(
        "import", help="validate and import CSV/Parquet files (all or nothing, idempotent)"
    )
    imp.add_argument("--db", required=True, help="the DuckDB store (created if missing)")
    imp.add_argument("--kind", required=True, choices=list(KINDS), help="what the files hold")
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    imp.set_defaults(handler=_import)

    dem = commands.add_parser("demo", help="generate the seeded demo team into a new store")
    dem.add_argument("--db", required=True, help="the DuckDB store to create")
    dem.add_argument("--seed", type=int, default=0, help="random seed (same seed, same data)")
    dem.add_argument(
        "--annotations", type=int, default=200_000, help="about how many labels (default 200,000)"
    )
    dem.set_defaults(handler=_demo)

    exp = commands.add_parser("export", help="write a tidy metrics table as CSV or Parquet")
    exp.add_argument("--db", required=True, help="the DuckDB store")
    exp.add_argument("table", choices=list(EXPORTS), help="which table")
    exp.add_argument("--format", choices=["csv", "parquet"], default="csv")
    exp.add_argument("--out", type=Path, help="output file (CSV goes to stdout without it)")
    exp.add_argument("--since", type=_date, help="first day included (YYYY-MM-DD)")
    exp.add_argument("--until", type=_date, help="last day included (YYYY-MM-DD)")
    exp.add_argument("--team", action="append", default=[], help="only this team (repeatable)")
    exp.add_argument(
        "--policy-version", action="append", default=[], help="only labels under this version"
    )
    exp.set_defaults(handler=_export)

    dash = commands.add_parser("dashboard", help="open the Streamlit dashboard on a store")
    dash.add_argument("--db", default=str(DEMO_DB), help=f"the store (default {DEMO_DB})")
    dash.add_argument(
        "--demo", action="store_true", help="generate the demo team first if --db is missing"
    )
    dash.add_argument("--port", type=int, default=8501)
    dash.add_argument("--headless", action="store_true", help="do not open a browser")
    dash.set_defaults(handler=_dashboard)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; print user errors as one line."""
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except QualitylibError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: nothing was written by an unfinished import", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
