"""Scale benchmark: import, full metric refresh and a page render at 1M and 10M labels, against
the usual Python way (sklearn / statsmodels / krippendorff on rows pulled into pandas).

    python benchmarks/scale.py                       # 1M and 10M labels, writes RESULTS.md
    python benchmarks/scale.py --sizes 1000000 --repeat 3

Each measured step runs in a fresh subprocess, so its peak memory (max RSS) is its own; times
are the median of ``--repeat`` runs. Both ways must give the same numbers (checked, printed).
Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
STEPS = ("import-parquet", "import-csv", "write-floor", "refresh", "render", "usual")


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike getrusage's ru_maxrss, it is not
    inherited from the parent across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _import(data: Path, fmt: str, db: Path) -> dict[str, float]:
    from qualitylib.demo import IMPORT_ORDER
    from qualitylib.ingest import import_files

    started = time.perf_counter()
    for kind in IMPORT_ORDER:
        import_files(db, kind, [data / f"{kind}.{fmt}"])
    return {"seconds": time.perf_counter() - started}


def write_floor(data: Path, db: Path) -> dict[str, float]:
    """What any DuckDB-backed import pays at least: the Parquet labels copied as they are into
    a table of a fresh file (no checks, no keys, no derived tables), same memory limit."""
    from qualitylib.store import MEMORY_LIMIT

    floor = db.with_name(f"{db.stem}-floor.duckdb")
    floor.unlink(missing_ok=True)
    started = time.perf_counter()
    with duckdb.connect(str(floor)) as con:
        con.execute("SET memory_limit = $limit", {"limit": MEMORY_LIMIT})
        con.execute(
            "CREATE TABLE annotations AS SELECT * FROM read_parquet($path)",
            {"path": str(data / "annotations.parquet")},
        )
    seconds = time.perf_counter() - started
    floor.unlink()
    return {"seconds": seconds}


def refresh(db: Path) -> dict[str, object]:
    """Everything the Overview, Annotator, Agreement, Controls pages and the report need."""
    from qualitylib.metrics.drift import drift_alerts, weekly_divergence
    from qualitylib.metrics.onboarding import onboarding_status
    from qualitylib.metrics.reference import annotator_summary, confusion_table
    from qualitylib.metrics.review import review_queue
    from qualitylib.metrics.team_agreement import agreement_results, pairwise_kappa
    from qualitylib.metrics.timeline import timeline
    from qualitylib.store import connect

    with connect(db, read_only=True) as con:
        parts = {}
        for name, call in [
            ("annotator_summary", lambda: annotator_summary(con)),
            ("confusion", lambda: confusion_table(con)),
            ("pairwise_kappa", lambda: pairwise_kappa(con)),
            ("agreement", lambda: agreement_results(con)),
            ("timeline", lambda: timeline(con)),
            ("weekly_divergence", lambda: weekly_divergence(con)),
            ("drift_alerts", lambda: drift_alerts(con)),
            ("onboarding", lambda: onboarding_status(con)),
            ("review_queue", lambda: review_queue(con, limit=500)),
        ]:
            started = time.perf_counter()
            result = call()
            parts[name] = time.perf_counter() - started
            if name == "pairwise_kappa":
                kappas = result.set_index(["annotator_a", "annotator_b"])["kappa"].to_dict()
            if name == "agreement":
                alpha = result["krippendorff_alpha_nominal"].value
    return {
        "seconds": sum(parts.values()),
        "parts": parts,
        "kappas": {f"{a}|{b}": k for (a, b), k in kappas.items()},
        "alpha": alpha,
    }


def usual(data: Path) -> dict[str, object]:
    """The usual way: rows into pandas, sklearn per pair, statsmodels Fleiss, krippendorff."""
    import krippendorff
    import pandas as pd
    from sklearn.metrics import cohen_kappa_score
    from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

    parts = {}
    started = time.perf_counter()
    rows = pd.read_parquet(
        data / "annotations.parquet", columns=["item_id", "annotator_id", "label", "annotated_at"]
    )
    latest = rows.sort_values("annotated_at").drop_duplicates(
        ["item_id", "annotator_id"], keep="last"
    )
    parts["load"] = time.perf_counter() - started

    started = time.perf_counter()
    wide = latest.pivot(index="item_id", columns="annotator_id", values="label")
    kappas = {}
    people = sorted(wide.columns)
    for i, a in enumerate(people):
        for b in people[i + 1 :]:
            both = wide[[a, b]].dropna()
            if len(both) >= 2:
                kappas[f"{a}|{b}"] = float(cohen_kappa_score(both[a], both[b]))
    parts["pairwise_kappa"] = time.perf_counter() - started

    started = time.perf_counter()
    codes = {label: code for code, label in enumerate(sorted(latest["label"].unique()))}
    two = latest[latest.groupby("item_id")["annotator_id"].transform("size") == 2]
    pairs = two.assign(code=two["label"].map(codes), slot=two.groupby("item_id").cumcount())
    matrix = pairs.pivot(index="item_id", columns="slot", values="code").to_numpy()
    fleiss = float(fleiss_kappa(aggregate_raters(matrix, n_cat=len(codes))[0]))
    parts["fleiss"] = time.perf_counter() - started

    started = time.perf_counter()
    dense = (
        latest.assign(code=latest["label"].map(codes).astype(float))
        .pivot(index="annotator_id", columns="item_id", values="code")
        .to_numpy()
    )
    alpha = float(krippendorff.alpha(reliability_data=dense, level_of_measurement="nominal"))
    parts["krippendorff"] = time.perf_counter() - started
    return {
        "seconds": sum(parts.values()),
        "parts": parts,
        "kappas": kappas,
        "alpha": alpha,
        "fleiss_two_raters": fleiss,
    }


def render(db: Path) -> dict[str, float]:
    """First render of the Overview page with an empty data cache (AppTest), as
    ``dashboard_render.py`` measures it: the app's imports are loaded first, so this is the
    page's own work, not the interpreter starting."""
    import logging

    os.environ["QUALITYLIB_DB"] = str(db)
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    sys.path.insert(0, str(HERE))
    from dashboard_render import render_times

    first, _ = render_times("overview", repeat=1)
    return {"seconds": first}


def _step(name: str, data: Path, db: Path) -> None:
    """Run one measured step in this process and print its JSON result."""
    if name == "import-parquet":
        result = _import(data, "parquet", db)
    elif name == "import-csv":
        result = _import(data, "csv", db)
    elif name == "write-floor":
        result = write_floor(data, db)
    elif name == "refresh":
        result = refresh(db)
    elif name == "render":
        result = render(db)
    else:
        result = usual(data)
    result["peak_mb"] = _peak_mb()
    print(json.dumps(result))


def _measure(name: str, data: Path, db: Path, repeat: int, fresh_db: bool) -> dict[str, object]:
    runs = []
    for _ in range(repeat):
        if fresh_db:
            for path in (db, Path(f"{db}.wal")):
                path.unlink(missing_ok=True)
        output = subprocess.run(
            [sys.executable, __file__, "_step", name, str(data), str(db)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        runs.append(json.loads(output.strip().splitlines()[-1]))
    best = dict(runs[-1])
    best["seconds"] = statistics.median(run["seconds"] for run in runs)
    best["peak_mb"] = max(run["peak_mb"] for run in runs)
    return best


def _fleiss_two_raters(db: Path) -> float:
    """qualitylib's Fleiss kappa on items with exactly two ratings, to compare with statsmodels."""
    from qualitylib.agreement import fleiss_kappa_counts
    from qualitylib.metrics.counts import item_patterns
    from qualitylib.metrics.filters import Filters
    from qualitylib.store import connect

    with connect(db, read_only=True) as con:
        patterns = item_patterns(con, Filters())
    two = patterns.counts.sum(axis=1) == 2
    return fleiss_kappa_counts(patterns.counts[two], unit_weights=patterns.weights[two]).value


def run_size(n: int, folder: Path, repeat: int) -> dict[str, object]:
    """Every step at one size; returns the measurements and the equality checks."""
    from qualitylib import demo

    data = folder / f"data-{n}"
    if not (data / "annotations.csv").exists():
        generated = demo.generate(seed=0, n_annotations=n)
        demo.write_files(generated, data, "parquet")
        demo.write_files(generated, data, "csv")
    db = folder / f"store-{n}.duckdb"
    results = {
        "import-parquet": _measure("import-parquet", data, db, repeat, fresh_db=True),
        "import-csv": _measure("import-csv", data, db, repeat, fresh_db=True),
        "write-floor": _measure("write-floor", data, db, repeat, fresh_db=False),
        "refresh": _measure("refresh", data, db, repeat, fresh_db=False),
        "render": _measure("render", data, db, repeat, fresh_db=False),
        "usual": _measure("usual", data, db, 1, fresh_db=False),
    }
    ours, theirs = results["refresh"], results["usual"]
    common = set(ours["kappas"]) & set(theirs["kappas"])
    worst = max(abs(ours["kappas"][key] - theirs["kappas"][key]) for key in common)
    results["checks"] = {
        "pairs": len(common),
        "max_kappa_difference": worst,
        "alpha_difference": abs(ours["alpha"] - theirs["alpha"]),
        "fleiss_difference": abs(_fleiss_two_raters(db) - theirs["fleiss_two_raters"]),
    }
    with duckdb.connect(str(db), read_only=True) as con:
        results["labels"] = con.execute("SELECT count(*) FROM annotations").fetchall()[0][0]
    return results


def _markdown(all_results: dict[int, dict[str, object]], repeat: int) -> str:
    machine = (
        f"{platform.machine()}, Python {platform.python_version()}, duckdb {duckdb.__version__}"
    )

    lines = [
        "# Scale benchmark results",
        "",
        f"Machine: {os.cpu_count()} cores, {machine}. Generated by `python benchmarks/scale.py`"
        f" (median of {repeat} runs; peak memory = max RSS of the step's process).",
        "",
        "| step | " + " | ".join(f"{n:,} labels" for n in all_results) + " |",
        "|---|" + "---|" * len(all_results),
    ]
    for step, title in [
        ("import-parquet", "import from Parquet (all five files, validated)"),
        ("import-csv", "import from CSV (all five files, validated)"),
        ("write-floor", "write floor: the Parquet labels copied into a table, nothing else"),
        ("refresh", "full metric refresh"),
        ("render", "Overview page, first render with an empty cache (AppTest)"),
        ("usual", "usual way (pandas + sklearn + statsmodels + krippendorff)"),
    ]:
        cells = [
            f"{r[step]['seconds']:.2f} s, {r[step]['peak_mb']:,.0f} MB"
            for r in all_results.values()
        ]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    lines.append(
        "| speed-up of the refresh over the usual way | "
        + " | ".join(
            f"{r['usual']['seconds'] / r['refresh']['seconds']:.0f}x" for r in all_results.values()
        )
        + " |"
    )
    lines += ["", "Refresh parts (seconds):", ""]
    for n, r in all_results.items():
        parts = ", ".join(f"{k} {v:.2f}" for k, v in r["refresh"]["parts"].items())
        usual_parts = ", ".join(f"{k} {v:.2f}" for k, v in r["usual"]["parts"].items())
        lines.append(f"- {n:,}: {parts}; usual way: {usual_parts}")
    lines += ["", "Same numbers both ways:", ""]
    for n, r in all_results.items():
        c = r["checks"]
        lines.append(
            f"- {n:,}: {c['pairs']} annotator pairs, largest kappa difference "
            f"{c['max_kappa_difference']:.1e}; Krippendorff alpha difference "
            f"{c['alpha_difference']:.1e}; Fleiss (items with two ratings) difference "
            f"{c['fleiss_difference']:.1e}"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_step":
        _step(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="keep generated data here (default: temp)")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="qualitylib-bench-") as temp:
        folder = args.workdir or Path(temp)
        folder.mkdir(parents=True, exist_ok=True)
        results = {}
        for n in args.sizes:
            print(f"{n:,} labels...", file=sys.stderr)
            results[n] = run_size(n, folder, args.repeat)
            print(
                json.dumps({k: v for k, v in results[n].items() if k != "refresh"}, default=str)[
                    :2000
                ],
                file=sys.stderr,
            )
    report = _markdown(results, args.repeat)
    args.out.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
