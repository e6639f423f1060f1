"""What the box readers (COCO, Label Studio rectangles, Ground Truth boxes, CVAT XML) share.

A reader turns one tool file into canonical rows, one per box (or per "drew nothing" image, or
per image size, or per image tag), each tagged with the canonical kind it goes to (``items``,
``boxes``, ``reference-boxes``, ``annotations``, ``reference``) and the record it came from.
:func:`stage_boxes` stages each kind in turn as ``_stage`` for the canonical validation and
loading, so tool exports and CSV files share one code path and one set of error messages.

CVAT exports also hold image-level tags: they go to ``annotations`` (or ``reference``) through
the same path, in the same transaction as the file's boxes.

Box exports nest boxes inside images inside tasks, in JSON or XML; the readers walk them in
Python (the standard ``json`` and ``xml.etree`` parsers: DuckDB reads no XML, and unnesting
three levels of JSON per format in SQL would be harder to read for no gain at the sizes these
exports come in, tens of megabytes), then hand the flat rows to DuckDB as one Arrow table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

import duckdb
import pyarrow as pa

from qualitylib.errors import ValidationError
from qualitylib.ingest.exports import Options, Staged
from qualitylib.ingest.read import ROW, STAGE, reset_stage
from qualitylib.ingest.validate import Places

# canonical columns per kind, in the order the rows carry them
COLUMNS = {
    "items": ("item_id", "width", "height"),
    "boxes": (
        "item_id",
        "annotator_id",
        "label",
        "x_min",
        "y_min",
        "x_max",
        "y_max",
        "annotated_at",
        "object_id",
        "duration_s",
    ),
    "reference-boxes": (
        "item_id",
        "label",
        "x_min",
        "y_min",
        "x_max",
        "y_max",
        "decided_at",
        "decided_by",
    ),
    # image-level tags (CVAT <tag>): an annotator's, or with --reference the committee's
    "annotations": ("item_id", "annotator_id", "label", "annotated_at"),
    "reference": ("item_id", "label", "decided_at", "decided_by"),
}
ROW_FIELDS = (
    "kind",
    "record",
    "item_id",
    "annotator_id",
    "label",
    "x_min",
    "y_min",
    "x_max",
    "y_max",
    "stamp",
    "object_id",
    "duration_s",
    "width",
    "height",
    "decided_by",
)


@dataclass
class Rows:
    """Canonical rows a reader collects, and what it skipped on purpose (reason -> count)."""

    places: Places
    rows: dict[str, list[object]] = field(default_factory=lambda: {f: [] for f in ROW_FIELDS})
    skipped: Counter[str] = field(default_factory=Counter)

    def add(self, kind: str, record: int, **values: object) -> None:
        """One row for ``kind`` from source record ``record`` (1-based)."""
        values = {"kind": kind, "record": record, **values}
        for name in ROW_FIELDS:
            self.rows[name].append(values.get(name))

    def box(
        self,
        record: int,
        item_id: str,
        who: str | None,
        label: object,
        corners: tuple[float, float, float, float] | None,
        reference: bool = False,
        **values: object,
    ) -> None:
        """A box (``corners`` = x_min, y_min, x_max, y_max) or, without corners, an empty row."""
        x_min, y_min, x_max, y_max = corners if corners is not None else (None,) * 4
        kind = "reference-boxes" if reference else "boxes"
        self.add(
            kind,
            record,
            item_id=item_id,
            annotator_id=who,
            label=None if label is None else str(label),
            x_min=x_min,
            y_min=y_min,
            x_max=x_max,
            y_max=y_max,
            **values,
        )

    def tag(
        self,
        record: int,
        item_id: str,
        who: str | None,
        label: object,
        reference: bool = False,
        **values: object,
    ) -> None:
        """An image-level tag: an annotation of ``who``, or the committee's decision."""
        kind = "reference" if reference else "annotations"
        self.add(kind, record, item_id=item_id, annotator_id=who, label=label, **values)


Reader = Callable[[duckdb.DuckDBPyConnection, Path, Options], Rows]


def item_name(location: object, keep: object, keep_ids: bool) -> str:
    """The item id of an image: its file's base name (URL or path), or the tool's own id."""
    if keep_ids or location is None or str(location) == "":
        return str(keep)
    text = str(location)
    path = urlparse(text).path if "://" in text else text.split("?")[0]
    return PurePosixPath(unquote(path).replace("\\", "/")).name or str(keep)


def number(value: object) -> float | None:
    """A JSON/XML number as float; None when absent; NaN when not a number (validation says)."""
    if value is None or value == "":
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")


def fail(path: Path, unit: str, number_: int, name: str, problem: str, got: object = None) -> None:
    """Raise a one-line error naming the file, record and field."""
    shown = "" if got is None else f" (got {str(got)[:60]!r})"
    raise ValidationError(f"{path.name} {unit} {number_}, field {name!r}: {problem}{shown}")


def stage_boxes(
    con: duckdb.DuckDBPyConnection, path: Path, reader: Reader, options: Options
) -> Iterator[Staged]:
    """Run ``reader``, then stage its items, boxes and committee boxes in turn."""
    result = reader(con, path, options)
    table = pa.table(result.rows)
    if not result.rows["kind"]:
        left = ", ".join(f"{n} {why}" for why, n in result.skipped.items()) or "no images"
        raise ValidationError(f"{path.name}: nothing to import ({left})")
    con.register("_box_rows", table)
    default_at = options.default_at.strftime("%Y-%m-%dT%H:%M:%S")
    skipped = dict(result.skipped)
    try:
        for kind, columns in COLUMNS.items():
            stamp = "coalesce(nullif(trim(stamp), ''), $at)"
            selects = []
            for name in columns:
                source = {
                    "annotated_at": stamp,
                    "decided_at": stamp,
                    "decided_by": "coalesce(decided_by, annotator_id)",
                }.get(name, name)
                selects.append(f"{source} AS {name}")
            n = con.execute(
                "SELECT count(*), count(*) FILTER (WHERE nullif(trim(stamp), '') IS NULL) "
                "FROM _box_rows WHERE kind = $kind",
                {"kind": kind},
            ).fetchall()[0]
            if not n[0]:
                continue
            reset_stage(con)
            distinct = "DISTINCT ON (item_id) " if kind == "items" else ""
            con.execute(
                f"CREATE TEMP TABLE {STAGE} AS SELECT {distinct}record AS {ROW}, "
                f"{', '.join(selects)} FROM _box_rows WHERE kind = $kind ORDER BY record",
                {"kind": kind, "at": default_at} if kind != "items" else {"kind": kind},
            )
            dated = int(n[1]) if kind != "items" else 0
            yield Staged(kind, list(columns), result.places.for_kind(kind), skipped, dated)
            skipped = {}
    finally:
        with suppress(duckdb.Error):  # an aborted transaction refuses it; it goes with the con
            con.unregister("_box_rows")
