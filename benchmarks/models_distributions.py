"""Time the work issue 20 added on the demo: importing predictions with their whole
distribution (``score_<label>``), the rates and calibration read from it, gold difficulty,
committee reliability and the weekly report's model section.

    python benchmarks/models_distributions.py [--annotations 200000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from qualitylib import demo, demo_models
from qualitylib.ingest import import_files
from qualitylib.metrics.committee import committee_agreement, committee_reversals
from qualitylib.metrics.gold import gold_difficulty
from qualitylib.metrics.models import calibration_table, model_summary
from qualitylib.reports import build_weekly_report
from qualitylib.store import connect


def _time(label: str, call) -> object:  # noqa: ANN001
    start = time.perf_counter()
    out = call()
    print(f"| {label} | {time.perf_counter() - start:.2f} s |")
    return out


def main() -> None:
    """Build the demo without its model, then import and read the model's predictions."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--annotations", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "demo.duckdb"
        data = demo.build(db, seed=0, n_annotations=args.annotations)
        predicted = demo_models.predictions(data, 0).assign(
            model_version=lambda f: "x" + f["model_version"]
        )
        plain = predicted[[c for c in predicted if not c.startswith("score_")]]
        plain.assign(model_id="plain").to_parquet(Path(folder) / "plain.parquet", index=False)
        predicted.to_parquet(Path(folder) / "full.parquet", index=False)
        print(f"{len(predicted):,} predictions, {len(data.annotations):,} labels\n")
        print("| step | time |\n|---|---|")
        _time(
            "import predictions, `score` only",
            lambda: import_files(db, "predictions", [Path(folder) / "plain.parquet"]),
        )
        _time(
            "import predictions with 6 `score_<label>`",
            lambda: import_files(db, "predictions", [Path(folder) / "full.parquet"]),
        )
        with connect(db, read_only=True) as con:
            _time("`model_summary`", lambda: model_summary(con))
            _time(
                "`model_summary(threshold_label='weapons')`",
                lambda: model_summary(con, threshold_label="weapons"),
            )
            _time(
                "`calibration_table(label='weapons')`",
                lambda: calibration_table(con, label="weapons"),
            )
            _time("`gold_difficulty`", lambda: gold_difficulty(con))
            _time(
                "`committee_agreement` + `committee_reversals`",
                lambda: (committee_agreement(con), committee_reversals(con)),
            )
            _time(
                "`build_weekly_report` (2026-W45, model section)",
                lambda: build_weekly_report(con, "2026-W45"),
            )


if __name__ == "__main__":
    main()
