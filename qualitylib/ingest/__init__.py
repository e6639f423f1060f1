"""Import canonical CSV/Parquet files into the store: validated, all-or-nothing, idempotent.

Every file of one call is validated and written inside one transaction: a bad file raises
:class:`~qualitylib.errors.ValidationError` (file, row, column) and the store is unchanged.
A file whose content (sha256) was imported before for the same kind is skipped, and says so.
"""

from __future__ import annotations

import getpass
import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from qualitylib.errors import ValidationError
from qualitylib.ingest.load import LoadCounts, load
from qualitylib.ingest.read import stage_file
from qualitylib.ingest.validate import KINDS, build_typed, validate
from qualitylib.store import connect, scalar

__all__ = ["KINDS", "FileResult", "ImportSummary", "import_files"]


@dataclass(frozen=True)
class FileResult:
    """One imported file: its counts, or ``skipped_as`` the earlier import it duplicates."""

    path: Path
    kind: str
    counts: LoadCounts | None
    skipped_as: int | None = None


@dataclass
class ImportSummary:
    """What one ``import_files`` call did, and how long it took."""

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
        return "; ".join(parts)


def sha256(path: Path) -> str:
    """Hex digest of the file's bytes (identifies re-imports of the same content)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def import_files(
    db_path: str | Path, kind: str, paths: list[Path] | list[str], progress: bool = False
) -> ImportSummary:
    """Validate and import ``paths`` as ``kind`` in one transaction: all files or none.

    Raises ValidationError (nothing written) for the first bad file.
    """
    if kind not in KINDS:
        raise ValidationError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    if not paths:
        raise ValidationError("no files given")
    started = time.perf_counter()
    summary = ImportSummary()
    with connect(db_path) as con:
        if progress:
            con.execute("SET enable_progress_bar = true")
            con.execute("SET enable_progress_bar_print = true")
        con.execute("BEGIN TRANSACTION")
        try:
            for raw_path in paths:
                path = Path(raw_path)
                if not path.exists():
                    raise ValidationError(f"{path}: no such file")
                digest = sha256(path)
                earlier = scalar(
                    con,
                    "SELECT min(import_id) FROM imports WHERE sha256 = ? AND kind = ?",
                    [digest, kind],
                )
                if earlier is not None:
                    summary.files.append(FileResult(path, kind, None, skipped_as=earlier))
                    continue
                columns = stage_file(con, path)
                validate(con, path, kind, columns)
                build_typed(con, kind, columns)
                import_id = scalar(con, "SELECT coalesce(max(import_id), 0) + 1 FROM imports")
                counts = load(con, kind, import_id)
                con.execute(
                    "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok')",
                    [
                        import_id,
                        kind,
                        path.name,
                        digest,
                        counts.n_rows,
                        counts.n_new_annotators,
                        counts.n_new_items,
                        getpass.getuser(),
                        datetime.now(UTC).replace(tzinfo=None),
                    ],
                )
                summary.files.append(FileResult(path, kind, counts))
            con.execute("DROP TABLE IF EXISTS _stage")
            con.execute("DROP TABLE IF EXISTS _typed")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    summary.seconds = time.perf_counter() - started
    return summary
