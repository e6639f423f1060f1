"""Property tests: random valid canonical annotation files round-trip exactly through the store;
random awkward but legal CSV (quotes, line breaks inside quoted fields, CRLF/LF mixes, a BOM,
long fields, any script) imports then exports to exactly the file's values; random corruptions
of a valid file are rejected whole, naming the corrupted row and column."""

from __future__ import annotations

import csv
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from conftest import fingerprint
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qualitylib.errors import ValidationError
from qualitylib.export import write_canonical
from qualitylib.ingest import import_files
from qualitylib.store import connect

LABELS = ("safe", "nudité", "weapons, knives", 'say "no"')
TRUE_WORDS = ("true", "yes", "1", "Y", "TRUE")
FALSE_WORDS = ("false", "no", "0", "n", "")
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# ids: any printable text (commas, quotes, accents, CJK, emoji) without surrounding blanks,
# which the import trims, and without control characters or BOMs, which it rejects
ids = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\ufeff"),
    min_size=1,
    max_size=10,
).filter(lambda text: text == text.strip() and text != "")
moments = st.datetimes(min_value=datetime(1995, 1, 1), max_value=datetime(2025, 12, 31))
offsets = st.one_of(
    st.none(), st.integers(-14 * 4, 14 * 4).map(lambda quarter: timedelta(minutes=15 * quarter))
)


@dataclass(frozen=True)
class Row:
    """One generated annotation: the text written to the file and the value expected back."""

    item_id: str
    annotator_id: str
    label: str
    local: datetime
    offset: timedelta | None  # None: written without a zone, read as UTC
    separator: str
    unsure: str
    phase: str
    reason: str

    @property
    def utc(self) -> datetime:
        return self.local - (self.offset or timedelta(0))

    @property
    def stamp(self) -> str:
        if self.offset is None:
            return self.local.isoformat(sep=self.separator)
        if not self.offset:
            return self.local.isoformat(sep=self.separator) + "Z"
        return self.local.replace(tzinfo=timezone(self.offset)).isoformat(sep=self.separator)

    def expected(self, columns: set[str]) -> tuple[object, ...]:
        unsure = "unsure" in columns and self.unsure in TRUE_WORDS
        phase = self.phase.lower() if "phase" in columns and self.phase else "production"
        reason = self.reason if "reason" in columns and self.reason else None
        return (self.item_id, self.annotator_id, self.label, self.utc, unsure, phase, reason)


rows = st.builds(
    Row,
    # a small pool too, so ids repeat across rows and share their integer key
    item_id=st.one_of(ids, st.sampled_from(["img-1", "img-2"])),
    annotator_id=st.one_of(ids, st.sampled_from(["alice", "bob"])),
    label=st.sampled_from(LABELS),
    local=moments,
    offset=offsets,
    separator=st.sampled_from(["T", " "]),
    unsure=st.sampled_from(TRUE_WORDS + FALSE_WORDS),
    phase=st.sampled_from(["training", "production", "Training", ""]),
    reason=st.one_of(st.just(""), ids),
)
files = st.tuples(
    st.lists(rows, min_size=2, max_size=12, unique_by=lambda r: (r.item_id, r.annotator_id, r.utc)),
    st.sets(st.sampled_from(["unsure", "phase", "reason"])),
    st.sampled_from(["csv", "parquet"]),
)


def _frame(generated: list[Row], optional: set[str]) -> pd.DataFrame:
    columns = ["item_id", "annotator_id", "label", "annotated_at", *sorted(optional)]
    values = {
        "item_id": [r.item_id for r in generated],
        "annotator_id": [r.annotator_id for r in generated],
        "label": [r.label for r in generated],
        "annotated_at": [r.stamp for r in generated],
        "unsure": [r.unsure for r in generated],
        "phase": [r.phase for r in generated],
        "reason": [r.reason for r in generated],
    }
    return pd.DataFrame({name: values[name] for name in columns}, dtype=object)


def _write(frame: pd.DataFrame, folder: Path, fmt: str) -> Path:
    path = folder / f"annotations.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False, encoding="utf-8")
    else:
        frame.to_parquet(path, index=False)
    return path


def _stored(db: Path) -> list[tuple[object, ...]]:
    with connect(db, read_only=True) as con:
        return con.execute(
            """SELECT i.item_id, a.annotator_id, l.label, x.annotated_at, x.unsure, x.phase,
                      x.reason
               FROM annotations x JOIN items i USING (item_key)
               JOIN annotators a USING (annotator_key) JOIN labels l USING (label_key)"""
        ).fetchall()


def _key(row: tuple[object, ...]) -> tuple[str, ...]:
    return tuple(str(value) for value in row)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding only the label set (copied for each example)."""
    folder = tmp_path_factory.mktemp("labelled")
    labels = folder / "labels.csv"
    pd.DataFrame({"label": LABELS, "is_positive": [False, True, True, True]}).to_csv(
        labels, index=False
    )
    db = folder / "labels.duckdb"
    import_files(db, "labels", [labels])
    return db


@pytest.fixture(scope="module")
def labelled_fingerprint(labelled: Path) -> dict[str, tuple[int, int]]:
    """What every copy of the label-set store holds before an import is tried."""
    return fingerprint(labelled)


@SETTINGS
@given(generated=files)
def test_valid_files_round_trip_exactly(generated: tuple[list[Row], set[str], str]) -> None:
    rows_, optional, fmt = generated
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = _write(_frame(rows_, optional), folder, fmt)
        db = folder / "store.duckdb"
        summary = import_files(db, "annotations", [path])
        assert summary.n_rows == len(rows_)
        expected = [row.expected(optional | {"annotated_at"}) for row in rows_]
        assert sorted(_stored(db), key=_key) == sorted(expected, key=_key)


CORRUPTIONS = ("blank-id", "break-timestamp", "duplicate-row", "unknown-label", "drop-column")


@SETTINGS
@given(
    generated=files,
    corruption=st.sampled_from(CORRUPTIONS),
    choice=st.data(),
)
def test_corrupted_files_are_rejected_whole(
    labelled: Path,
    labelled_fingerprint: dict[str, tuple[int, int]],
    generated: tuple[list[Row], set[str], str],
    corruption: str,
    choice: st.DataObject,
) -> None:
    rows_, optional, fmt = generated
    frame = _frame(rows_, optional)
    row = choice.draw(st.integers(0, len(frame) - 1), label="row")
    column = choice.draw(
        st.sampled_from(["item_id", "annotator_id", "label", "annotated_at"]), label="column"
    )
    number = row + 1  # data rows are numbered from 1
    match corruption:
        case "blank-id":
            column = column if column in ("item_id", "annotator_id") else "item_id"
            frame.loc[row, column] = choice.draw(st.sampled_from(["", " ", "  "]))
            message = f"row {number}, column '{column}': empty {column}"
        case "break-timestamp":
            column = "annotated_at"
            frame.loc[row, column] = choice.draw(
                st.sampled_from(["31/12/2020", "2020-02-30", "yesterday", "2020-01-01T25:00"])
            )
            message = f"row {number}, column 'annotated_at': not an ISO 8601 timestamp"
        case "duplicate-row":
            frame = pd.concat([frame, frame.iloc[[row]]], ignore_index=True)
            message = (
                f"row {len(frame)}, column 'annotated_at': duplicate row: .* at row {number}\\b"
            )
        case "unknown-label":
            frame.loc[row, "label"] = "alcohol"
            message = f"row {number}, column 'label': label outside the imported label set"
        case "drop-column":
            frame = frame.drop(columns=column)
            message = f"row 0 \\(header\\): missing required column\\(s\\) {column}\\b"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = _write(frame, folder, fmt)
        db = folder / "store.duckdb"
        shutil.copy(labelled, db)
        with pytest.raises(ValidationError, match=f"^annotations\\.{fmt} {message}"):
            import_files(db, "annotations", [path])
        assert fingerprint(db) == labelled_fingerprint


# Free text: anything printable plus tabs and line breaks (\n, \r\n, \r), quotes, commas,
# surrounding blanks, any script; sometimes a long field (still under the line limit).
texts = st.one_of(
    st.text(
        st.characters(
            blacklist_categories=("Cs",),
            blacklist_characters="".join(
                chr(c) for c in [*range(0x20), 0x7F] if chr(c) not in "\t\n\r"
            ),
        ),
        max_size=40,
    ),
    st.sampled_from(['"', '""', ",", " , ", "a\r\nb", "\n", "=1+2", "  both  ", "é\u2028ü"]),
    st.integers(1_000, 300_000).map(lambda n: "x" * n),
)


@dataclass(frozen=True)
class AwkwardRow:
    """A valid row with awkward but legal text, and how it is written (quoting, line end)."""

    item_id: str
    annotator_id: str
    stamp: datetime
    reason: str
    quote_all: bool
    line_end: str

    def fields(self) -> list[str]:
        moment = self.stamp.isoformat(timespec="microseconds") + "Z"
        return [self.item_id, self.annotator_id, "safe", moment, self.reason]


awkward_rows = st.builds(
    AwkwardRow,
    item_id=ids,
    annotator_id=st.one_of(ids, st.sampled_from(["alice", "bob"])),
    stamp=moments,
    reason=texts,
    quote_all=st.booleans(),
    line_end=st.sampled_from(["\n", "\r\n"]),
)


def _cell(value: str, quote_all: bool) -> str:
    """A CSV cell: quoted when it must be (delimiter, quote, line break) or when asked."""
    if quote_all or any(mark in value for mark in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def _awkward_file(rows_: list[AwkwardRow], bom: bool, header_end: str) -> bytes:
    header = "item_id,annotator_id,label,annotated_at,reason" + header_end
    lines = [",".join(_cell(v, r.quote_all) for v in r.fields()) + r.line_end for r in rows_]
    return (("\ufeff" if bom else "") + header + "".join(lines)).encode("utf-8")


@SETTINGS
@given(
    rows_=st.lists(
        awkward_rows, min_size=1, max_size=8, unique_by=lambda r: (r.item_id, r.annotator_id)
    ),
    bom=st.booleans(),
    header_end=st.sampled_from(["\n", "\r\n"]),
)
def test_awkward_valid_files_import_then_export_to_the_same_values(
    labelled: Path, rows_: list[AwkwardRow], bom: bool, header_end: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "awkward.csv"
        path.write_bytes(_awkward_file(rows_, bom, header_end))
        db = folder / "store.duckdb"
        shutil.copy(labelled, db)
        assert import_files(db, "annotations", [path]).n_rows == len(rows_)
        out = folder / "export.csv"
        with connect(db, read_only=True) as con:
            write_canonical(con, "annotations", out)
        limit = csv.field_size_limit(1 << 24)  # the long fields, read back by a second parser
        try:
            with out.open(encoding="utf-8", newline="") as handle:
                exported = list(csv.DictReader(handle))
        finally:
            csv.field_size_limit(limit)
    # compared as sets: the store keeps no file order (the key is unique within the file)
    got = {
        (r["item_id"], r["annotator_id"], r["label"], r["reason"]): datetime.fromisoformat(
            r["annotated_at"]
        )
        for r in exported
    }
    assert len(got) == len(exported) == len(rows_)
    assert got == {
        (r.item_id, r.annotator_id, "safe", r.reason): r.stamp.replace(tzinfo=UTC) for r in rows_
    }
