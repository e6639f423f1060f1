"""Import files into the store: validated, all-or-nothing, idempotent.

Two entry points share one code path. :func:`import_files` reads canonical CSV/Parquet files of
one kind; :func:`import_exports` reads what labelling tools export (Label Studio, Prodigy,
Toloka, SageMaker Ground Truth, crowd-kit CSV), each reader turning its file into canonical
rows inside DuckDB. Every file of one call is staged, validated and written inside one
transaction: a bad file raises :class:`~qualitylib.errors.ValidationError` (file, row or
record, column or field) and the store is unchanged. A file whose content (sha256) was imported
before as the same kind or format is skipped, and says so.
"""

from __future__ import annotations

import getpass
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Literal

import duckdb

from qualitylib.errors import ValidationError
from qualitylib.ingest import (
    box_exports,
    coco,
    crowd_csv,
    cvat,
    label_studio,
    label_studio_boxes,
    prodigy,
    sagemaker,
    sagemaker_boxes,
    toloka,
)
from qualitylib.ingest.detect import detect_format
from qualitylib.ingest.exports import (
    EXPORT,
    RECORDS,
    Options,
    Reader,
    Staged,
    file_time,
    stage_export,
)
from qualitylib.ingest.load import LoadCounts, load
from qualitylib.ingest.read import check_input, reset_stage, stage_file
from qualitylib.ingest.validate import KINDS, TYPED, check_annotations_unique, validate
from qualitylib.log_scope import require_log
from qualitylib.store import connect, rescore, rescore_boxes, scalar

__all__ = [
    "FORMATS",
    "KINDS",
    "FileResult",
    "ImportSummary",
    "detect_format",
    "import_exports",
    "import_files",
]

Format = Literal[
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
]
READERS: dict[str, Reader] = {
    "label-studio": label_studio.read,
    "prodigy": prodigy.read,
    "toloka": toloka.read,
    "sagemaker": sagemaker.read,
    "crowd-csv": crowd_csv.read,
}
# Box exports: readers that yield images, boxes and committee boxes (see box_exports)
BOX_READERS: dict[str, box_exports.Reader] = {
    "coco": coco.read,
    "label-studio-boxes": label_studio_boxes.read,
    "sagemaker-boxes": sagemaker_boxes.read,
    "cvat": cvat.read,
}
FORMATS: tuple[str, ...] = (*READERS, *BOX_READERS, "auto")
GOLD = "crowd-csv-gold"
Stager = Callable[[duckdb.DuckDBPyConnection, Path], Iterator[Staged]]


@dataclass(frozen=True)
class Source:
    """One input file: the kind or format its import is recorded as, and how to stage it."""

    path: Path
    kind: str
    stage: Stager
    dated_by: str = ""


@dataclass(frozen=True)
class FileResult:
    """One imported file: its counts, or ``skipped_as`` the earlier import it duplicates.

    Tool exports also say how many rows went to each table (``rows``), which records were left
    out on purpose (``skipped``: reason -> count) and how many rows had no timestamp and were
    dated by ``dated_by`` (``n_dated``).
    """

    path: Path
    kind: str
    counts: LoadCounts | None
    skipped_as: int | None = None
    rows: Mapping[str, int] = field(default_factory=dict)
    skipped: Mapping[str, int] = field(default_factory=dict)
    n_dated: int = 0
    dated_by: str = ""

    def notes(self) -> str:
        """What a tool export turned into, for the summary; empty for canonical files."""
        if self.kind in KINDS or self.counts is None:
            return ""
        names = {
            "annotations": "annotations",
            "reference": "reference decisions",
            "items": "images",
            "boxes": "boxes",
            "reference-boxes": "committee boxes",
        }
        parts = [", ".join(f"{n:,} {names[table]}" for table, n in self.rows.items())]
        if self.skipped:
            parts.append("skipped " + ", ".join(f"{n:,} {why}" for why, n in self.skipped.items()))
        if self.n_dated:
            parts.append(f"{self.n_dated:,} rows without a timestamp dated {self.dated_by}")
        return f"{self.path.name} ({self.kind}): " + "; ".join(parts)


@dataclass
class ImportSummary:
    """What one import call did, and how long it took."""

    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def n_rows(self) -> int:
        return sum(f.counts.n_rows for f in self.files if f.counts)

    @property
    def n_new_annotators(self) -> int:
        return sum(f.counts.n_new_annotators for f in self.files if f.counts)

    @property
    def n_new_items(self) -> int:
        return sum(f.counts.n_new_items for f in self.files if f.counts)

    def __str__(self) -> str:
        imported = [f for f in self.files if f.counts]
        skipped = [f for f in self.files if f.skipped_as is not None]
        parts = []
        if imported:
            parts.append(
                f"imported {len(imported)} file(s): {self.n_rows:,} rows, "
                f"{self.n_new_annotators:,} new annotators, {self.n_new_items:,} new items "
                f"in {self.seconds:.1f} s"
            )
        if skipped:
            names = ", ".join(f"{f.path.name} (import #{f.skipped_as})" for f in skipped)
            parts.append(f"already imported, nothing to do: {names}")
        notes = [f"\n  {note}" for f in imported if (note := f.notes())]
        return "; ".join(parts) + "".join(notes)


def sha256(path: Path) -> str:
    """Hex digest of the file's bytes (identifies re-imports of the same content)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _drop_staging(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the temp tables of a staged file (its rows, typed rows, tool-export records)."""
    reset_stage(con)
    for table in (TYPED, EXPORT, RECORDS):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _stage_canonical(kind: str, con: duckdb.DuckDBPyConnection, path: Path) -> Iterator[Staged]:
    yield Staged(kind, stage_file(con, path))


def _import_file(con: duckdb.DuckDBPyConnection, source: Source, imported_by: str) -> FileResult:
    """Stage, validate and load one file inside the caller's transaction."""
    path = source.path
    check_input(path)
    digest = sha256(path)
    earlier = scalar(
        con,
        "SELECT min(import_id) FROM imports WHERE sha256 = ? AND kind = ? AND status = 'ok'",
        [digest, source.kind],
    )
    if earlier is not None:
        return FileResult(path, source.kind, None, skipped_as=earlier)
    import_id = scalar(con, "SELECT coalesce(max(import_id), 0) + 1 FROM imports")
    loaded: dict[str, LoadCounts] = {}
    skipped: Counter[str] = Counter()
    n_dated = 0
    for step in source.stage(con, path):
        validate(con, path, step.kind, step.columns, import_id, step.places)
        loaded[step.kind] = load(con, step.kind, import_id)
        if step.kind == "annotations":
            check_annotations_unique(con, path, import_id, step.places)
        skipped.update(step.skipped)
        n_dated += step.n_dated
    _drop_staging(con)  # free their memory for the next file and the rescore
    counts = LoadCounts(
        # rows of the log; images a box export brings are counted as new items
        sum(c.n_rows for kind, c in loaded.items() if kind != "items" or source.kind == "items"),
        sum(c.n_new_annotators for c in loaded.values()),
        sum(c.n_new_items for c in loaded.values()),
    )
    con.execute(
        "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok')",
        [
            import_id,
            source.kind,
            path.name,
            digest,
            counts.n_rows,
            counts.n_new_annotators,
            counts.n_new_items,
            imported_by,
            datetime.now(UTC).replace(tzinfo=None),
        ],
    )
    return FileResult(
        path,
        source.kind,
        counts,
        rows={kind: c.n_rows for kind, c in loaded.items()},
        skipped=dict(skipped),
        n_dated=n_dated,
        dated_by=source.dated_by,
    )


def _each_file_error(con: duckdb.DuckDBPyConnection, sources: Sequence[Source]) -> list[str]:
    """The validation error of every bad source: each is tried after the good ones before it
    (a gold file needs its export's items) in a transaction that is rolled back."""
    good: list[Source] = []
    errors = []
    for source in sources:
        con.execute("BEGIN TRANSACTION")
        try:
            for earlier in good:
                _import_file(con, earlier, "")  # rolled back: nobody is recorded
            _import_file(con, source, "")
            good.append(source)
        except ValidationError as error:
            errors.append(str(error))
        finally:
            con.execute("ROLLBACK")
    return errors


def import_sources(
    db_path: str | Path,
    sources: Sequence[Source],
    progress: bool = False,
    imported_by: str | None = None,
) -> ImportSummary:
    """Import every source in one transaction: all files or none.

    ``imported_by`` is recorded with each file (default: the operating-system account, right
    for the CLI; the dashboard passes the signed-in user).
    A bad file raises :class:`ValidationError` with the first file's message and, in
    ``errors``, the message of every bad file (found only once the import has failed).
    """
    if not sources:
        raise ValidationError("no files given")
    for source in sources:  # a FIFO or a device would hang the import, holding the lock
        check_input(source.path)
    who = imported_by or getpass.getuser()
    started = time.perf_counter()
    summary = ImportSummary()
    with connect(db_path) as con:
        require_log(con, "an import")  # derived tables are updated from the log
        if progress:
            con.execute("SET enable_progress_bar = true")
            con.execute("SET enable_progress_bar_print = true")
        con.execute("BEGIN TRANSACTION")
        try:
            first_import_id = scalar(con, "SELECT coalesce(max(import_id), 0) + 1 FROM imports")
            for source in sources:
                summary.files.append(_import_file(con, source, who))
            rescore(con, first_import_id)
            rescore_boxes(con, first_import_id)
            con.execute("COMMIT")
        except ValidationError as error:
            con.execute("ROLLBACK")
            if len(sources) < 2:
                raise
            _drop_staging(con)
            raise ValidationError(str(error), _each_file_error(con, sources)) from error
        except BaseException:
            con.execute("ROLLBACK")
            raise
    summary.seconds = time.perf_counter() - started
    return summary


def import_files(
    db_path: str | Path,
    kind: str,
    paths: Sequence[Path | str],
    progress: bool = False,
    imported_by: str | None = None,
) -> ImportSummary:
    """Validate and import canonical ``paths`` as ``kind`` in one transaction: all or none.

    Raises ValidationError (nothing written) for the first bad file. ``imported_by``: who
    the imports table records (default: the operating-system account).
    """
    if kind not in KINDS:
        raise ValidationError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    stage = partial(_stage_canonical, kind)
    sources = [Source(Path(p), kind, stage) for p in paths]
    return import_sources(db_path, sources, progress, imported_by)


def _export_source(
    path: Path,
    fmt: str,
    reader: Reader | None,
    control: str | None,
    at: datetime | None,
    box_options: Mapping[str, object] | None = None,
) -> Source:
    """A tool-export source: ``reader`` with the control and the default timestamp (box
    formats: ``box_options``, the :class:`Options` fields for boxes)."""
    check_input(path)
    default_at = at if at is not None else file_time(path)
    dated_by = (
        f"{default_at:%Y-%m-%dT%H:%M:%SZ} ("
        + ("--at" if at is not None else "file modification time")
        + ")"
    )
    options = Options(
        default_at=default_at, dated_by=dated_by, control=control, **(box_options or {})
    )
    if fmt in BOX_READERS:
        stage = partial(box_exports.stage_boxes, reader=BOX_READERS[fmt], options=options)
    else:
        stage = partial(stage_export, reader=reader, options=options)
    return Source(path, fmt, stage, dated_by)


def import_exports(
    db_path: str | Path,
    fmt: Format,
    paths: Sequence[Path | str],
    *,
    gold: Sequence[Path | str] = (),
    control: str | None = None,
    at: datetime | None = None,
    progress: bool = False,
    imported_by: str | None = None,
    annotator: str | None = None,
    reference: bool = False,
    jobs: Path | str | None = None,
    keep_ids: bool = False,
) -> ImportSummary:
    """Import labelling-tool exports (and ``gold`` files) in one transaction: all or none.

    ``fmt`` is one of :data:`FORMATS`; ``auto`` detects each file's tool from its content.
    The tool's ids are kept. Annotations go to the log; gold answers inside an export (Label
    Studio ``ground_truth``, Toloka ``GOLDEN:``) and every ``gold`` file (``task, label`` CSV,
    keyed by the same item ids) become reference decisions. ``control`` picks the
    classification control when an export has several. Records without a timestamp get
    ``at`` (naive UTC), else their file's modification time; the summary says how many.
    ``imported_by``: who the imports table records (default: the operating-system account).

    Box exports (``coco``, ``label-studio-boxes``, ``sagemaker-boxes``, ``cvat``) bring images
    with their sizes and boxes: ``annotator`` names whose boxes a COCO file holds, ``reference``
    makes a COCO or CVAT file the committee's, ``jobs`` is CVAT's job-assignee CSV, and
    ``keep_ids`` keeps the tool's image ids instead of the image files' base names. Ground
    Truth manifests are read before the worker responses of the same call.
    """
    if fmt not in FORMATS:
        raise ValidationError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if at is not None and at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    sources = []
    box_options = {
        "annotator": annotator,
        "reference": reference,
        "jobs": None if jobs is None else Path(jobs),
        "keep_ids": keep_ids,
    }
    for raw in paths:
        path = Path(raw)
        resolved = detect_format(path) if fmt == "auto" else fmt
        sources.append(
            _export_source(path, resolved, READERS.get(resolved), control, at, box_options)
        )
    manifest_first = [  # a Ground Truth manifest maps dataset objects to images
        s.kind != "sagemaker-boxes" or not sagemaker_boxes.is_manifest(s.path) for s in sources
    ]
    sources = [s for _, s in sorted(zip(manifest_first, sources, strict=True), key=lambda x: x[0])]
    sources += [_export_source(Path(p), GOLD, crowd_csv.read_gold, None, at) for p in gold]
    return import_sources(db_path, sources, progress, imported_by)
