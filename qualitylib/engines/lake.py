"""A Parquet lake from the demo: one folder per canonical table, the logs partitioned by week.

The layout `cubes` reads, for tests, benchmarks and trying it out without a lake.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from qualitylib.demo import IMPORT_ORDER, DemoData

# The folders written as Hive partitions by week of their time column.
PARTITIONED = {"annotations": "annotated_at", "boxes": "annotated_at"}


def demo_tables(data: DemoData, seed: int | None = None) -> dict[str, list[pd.DataFrame]]:
    """The lake folders of ``data`` in load order, each as its files' frames: the tag
    campaign's five tables and, given the ``seed`` that drew ``data``, what `qualitylib demo`
    adds to them: the model's predictions (with their ``score_<label>`` distributions) and
    fixes, and the box project (committee boxes and boxes; its labels, people and images as
    second files of the dimension folders)."""
    tables = {kind: [getattr(data, kind)] for kind in IMPORT_ORDER}
    if seed is None:
        return tables
    from qualitylib import demo_boxes, demo_models

    predicted = demo_models.predictions(data, seed)
    project = demo_boxes.generate(seed)
    tables["labels"].append(demo_boxes.labels_table())
    tables["annotators"].append(project.annotators)
    tables["items"].append(project.items)
    tables["predictions"] = [predicted]
    tables["fixes"] = [demo_models.fixes(data, predicted, seed)]
    tables["reference_boxes"] = [project.reference]
    tables["boxes"] = [project.boxes]
    return tables


def write_lake(data: DemoData, folder: str | Path, seed: int | None = None) -> Path:
    """Write ``data`` under ``folder`` (with ``seed``, its model and box project too: see
    :func:`demo_tables`): ``annotations/week=YYYY-Www/*.parquet`` and ``boxes/week=...``
    (Hive partitions), every other table as one file per frame in its folder; return
    ``folder`` (which must be new or empty)."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        # Parquet datasets grow by new files: writing twice would repeat every label.
        raise FileExistsError(f"{folder} is not empty")
    for kind, frames in demo_tables(data, seed).items():
        (folder / kind).mkdir(parents=True, exist_ok=True)
        for number, frame in enumerate(frames):
            frame = _utc(frame)
            if kind in PARTITIONED:
                week = frame[PARTITIONED[kind]].dt.strftime("%G-W%V")
                table = pa.Table.from_pandas(frame.assign(week=week), preserve_index=False)
                pq.write_to_dataset(table, folder / kind, partition_cols=["week"])
            else:
                frame.to_parquet(folder / kind / f"part-{number}.parquet", index=False)
    return folder


def _utc(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its naive (UTC) times marked UTC: one folder's files then agree on the
    timestamp type (Spark refuses to merge a UTC timestamp column with a naive one)."""
    naive = [name for name in frame.columns if pd.api.types.is_datetime64_dtype(frame[name].dtype)]
    return frame.assign(**{name: frame[name].dt.tz_localize("UTC") for name in naive})
