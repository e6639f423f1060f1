"""Tell which labelling tool wrote a file, from its content (``--format auto``).

JSON: the keys of the first record (``answers`` -> SageMaker, ``_input_hash`` -> Prodigy,
``annotations`` -> Label Studio). Text: the header line (``INPUT:``/``ASSIGNMENT:`` columns ->
Toloka, ``task, worker, label`` -> crowd CSV). Only the head of the file is read.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from qualitylib.errors import ValidationError
from qualitylib.ingest.read import check_input, literal_path

HEAD_BYTES = 1 << 16


def _json_keys(path: Path) -> set[str]:
    """Keys of the file's first JSON record (DuckDB reads only as far as it needs)."""
    with duckdb.connect() as con, literal_path(path) as source:
        try:
            rows = con.execute(
                "SELECT json_keys(json) FROM read_json_objects($path, format = 'auto', "
                "maximum_object_size = 67108864) LIMIT 1",
                {"path": str(source)},
            ).fetchall()
        except duckdb.Error:
            return set()
    return set(rows[0][0] or []) if rows else set()


def detect_format(path: Path) -> str:
    """The tool format of ``path``; a clear error when it is none we know."""
    check_input(path)
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES).decode("utf-8-sig", errors="replace").lstrip()
    if head.startswith("<"):
        if "<annotations" in head:
            return "cvat"
        raise ValidationError(f"{path.name}: XML from an unknown tool; pass --format cvat")
    if head.startswith(("[", "{")):
        keys = _json_keys(path)
        if {"images", "annotations"} <= keys:
            return "coco"
        if "source-ref" in keys or ("answers" in keys and '"boundingBoxes"' in head):
            return "sagemaker-boxes"
        if "annotations" in keys and '"rectanglelabels"' in head:
            return "label-studio-boxes"
        if "answers" in keys:
            return "sagemaker"
        if "_input_hash" in keys or "_task_hash" in keys:
            return "prodigy"
        if "annotations" in keys:
            return "label-studio"
        found = ", ".join(sorted(keys)[:8]) or "no keys"
        raise ValidationError(
            f"{path.name}: JSON from an unknown tool (record 1 has fields {found}); "
            "pass --format label-studio, prodigy or sagemaker"
        )
    first_line = head.splitlines()[0] if head else ""
    delimiter = "\t" if "\t" in first_line else ","
    header = {name.strip() for name in next(csv.reader([first_line], delimiter=delimiter), [])}
    if any(name.startswith(("INPUT:", "ASSIGNMENT:")) for name in header):
        return "toloka"
    if {"task", "worker", "label"} <= header:
        return "crowd-csv"
    hint = " (a gold file: pass it with --gold)" if {"task", "label"} <= header else ""
    raise ValidationError(
        f"{path.name}: cannot tell which tool exported this file{hint}; pass --format, or "
        "--kind for a canonical CSV/Parquet file"
    )
