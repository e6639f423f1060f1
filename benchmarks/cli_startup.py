"""How long the ``qualitylib`` command takes to answer before it does any work.

Times ``qualitylib --help`` and an argument error (``qualitylib export --db x nothing``, exit 2)
against a bare ``python -c pass`` (median of ``--runs`` runs each, wall time of the whole
process), then lists the slowest imports of ``import qualitylib.cli`` from ``python -X
importtime``. Target (issue 13): under 0.3 s over the interpreter's own start.

    python benchmarks/cli_startup.py [--runs 9] [--top 8]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.3


def _command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m``."""
    script = Path(sys.executable).with_name("qualitylib")
    found = str(script) if script.exists() else shutil.which("qualitylib")
    return [found] if found else [sys.executable, "-m", "qualitylib.cli"]


def _median_seconds(command: list[str], runs: int, expect: int) -> float:
    """Median wall time of ``runs`` runs of ``command`` (each must exit ``expect``)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
        if done.returncode != expect:
            raise SystemExit(f"{command} exited {done.returncode}, expected {expect}")
    return statistics.median(times)


def _slowest_imports(top: int) -> list[tuple[int, str]]:
    """The ``top`` imports of ``import qualitylib.cli`` by cumulative microseconds."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import qualitylib.cli"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        rows.append((int(cumulative), name.rstrip()))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    """Print the timings as a Markdown table and the slowest imports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs per command (median)")
    parser.add_argument("--top", type=int, default=8, help="imports listed from -X importtime")
    args = parser.parse_args()

    cli = _command()
    bare = _median_seconds([sys.executable, "-c", "pass"], args.runs, 0)
    cases = {
        "`qualitylib --help`": (cli + ["--help"], 0),
        "`qualitylib export --db x nothing` (usage error)": (
            cli + ["export", "--db", "x", "nothing"],
            2,
        ),
    }
    print(f"median of {args.runs} runs; `python -c pass`: {bare:.3f} s\n")
    print("| command | median | over `python -c pass` | target |")
    print("|---|---|---|---|")
    for label, (command, expect) in cases.items():
        seconds = _median_seconds(command, args.runs, expect)
        over = seconds - bare
        verdict = "met" if over < TARGET_S else "missed"
        print(f"| {label} | {seconds:.3f} s | {over:.3f} s | < {TARGET_S} s: {verdict} |")
    print("\nslowest imports of `import qualitylib.cli` (python -X importtime, cumulative):\n")
    for micros, name in _slowest_imports(args.top):
        print(f"- {name.strip()} {micros / 1000:.1f} ms")


if __name__ == "__main__":
    main()
