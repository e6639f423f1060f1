"""A Parquet lake from the demo: one folder per canonical table, the log partitioned by week.

The layout `cubes` reads, for tests, benchmarks and trying it out without a lake.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from qualitylib.demo import IMPORT_ORDER, DemoData


def write_lake(data: DemoData, folder: str | Path) -> Path:
    """Write ``data`` under ``folder``: ``annotations/week=YYYY-Www/*.parquet`` (Hive
    partitions), every other kind as one file in its folder; return ``folder`` (which must be
    new or empty)."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        # Parquet datasets grow by new files: writing twice would repeat every label.
        raise FileExistsError(f"{folder} is not empty")
    for kind in IMPORT_ORDER:
        frame = getattr(data, kind)
        (folder / kind).mkdir(parents=True, exist_ok=True)
        if kind == "annotations":
            week = frame["annotated_at"].dt.strftime("%G-W%V")
            table = pa.Table.from_pandas(frame.assign(week=week), preserve_index=False)
            pq.write_to_dataset(table, folder / kind, partition_cols=["week"])
        else:
            frame.to_parquet(folder / kind / "part-0.parquet", index=False)
    return folder
