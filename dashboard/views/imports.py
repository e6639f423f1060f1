"""Data: import files into the store (the CLI's validation and messages) and the history."""

import logging
import os
import tempfile
from datetime import UTC, datetime, time
from pathlib import Path, PurePosixPath

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from dashboard import common, data
from qualitylib import access
from qualitylib.errors import QualitylibError, ValidationError
from qualitylib.ingest import KINDS, import_exports, import_files

LOG = logging.getLogger(__name__)
MAX_UPLOAD_MB = int(os.environ.get("QUALITYLIB_MAX_UPLOAD_MB", "200"))  # per file
SUFFIXES = ["csv", "tsv", "txt", "parquet", "pq", "json", "jsonl", "manifest"]
# What `qualitylib import --format` reads, by the name the page shows.
EXPORTS = {
    "a labelling tool's export (tool detected)": "auto",
    "Label Studio JSON export": "label-studio",
    "Prodigy JSONL": "prodigy",
    "Toloka TSV": "toloka",
    "SageMaker Ground Truth manifest": "sagemaker",
    "crowd CSV (task, worker, label)": "crowd-csv",
}


def _save(uploads: list[UploadedFile], folder: Path) -> list[Path]:
    """Write each upload to its own sub-folder of ``folder``, under its bare file name.

    Whatever name the browser sends (``../x.csv``, ``C:\\x.csv``), nothing lands outside
    ``folder``, and two files with the same name do not overwrite each other.
    """
    paths = []
    for number, upload in enumerate(uploads):
        name = PurePosixPath(upload.name.replace("\\", "/")).name
        path = folder / str(number) / (name if name not in ("", ".", "..") else "upload")
        path.parent.mkdir()
        path.write_bytes(upload.getbuffer())
        paths.append(path)
    return paths


def _without_paths(message: str, folder: str, store_path: str) -> str:
    """``message`` without server paths: the temporary upload folder and the store's folder
    (file names stay)."""
    message = message.replace(store_path, Path(store_path).name)
    return message.replace(f"{folder}{os.sep}", "").replace(folder, "")


store = common.store()
store.require_everyone("the Data page (imports into the shared store)")
who = common.user()
# recorded in the imports table: the signed-in user; in open mode, whoever runs the server
imported_by = None if who == access.OPEN else who.username
st.title("Data")

st.subheader("Import files")
st.caption(
    "Same rules as `qualitylib import`: every file is validated, all files are imported or "
    "none, and a file imported before is skipped. Canonical files: import in order labels, "
    "annotators, items, reference, then annotations. Labelling-tool exports keep the tool's ids."
)


def import_form() -> None:
    """What the files hold, the files, and the import with its summary or errors."""
    kind = st.selectbox(
        "What the files hold", [*KINDS, *EXPORTS], index=list(KINDS).index("annotations")
    )
    uploads = st.file_uploader(
        "Files",
        type=SUFFIXES,
        accept_multiple_files=True,
        max_upload_size=MAX_UPLOAD_MB,
        help=f"Up to {MAX_UPLOAD_MB} MB per file.",
    )
    gold: list[UploadedFile] = []
    undated: datetime | None = None
    if kind in EXPORTS:
        gold = st.file_uploader(
            "Gold answers (optional)",
            type=["csv"],
            accept_multiple_files=True,
            max_upload_size=MAX_UPLOAD_MB,
            help="A `task,label` CSV keyed by the export's item ids: they become reference "
            "decisions.",
        )
        day = st.date_input(
            "Date of records without a timestamp",
            value=None,
            help="Empty: the upload's time. The summary says how many records were dated so.",
        )
        undated = None if day is None else datetime.combine(day, time(), tzinfo=UTC)
    if st.button("Import", type="primary", disabled=not uploads):
        too_big = [u.name for u in [*uploads, *gold] if u.size > MAX_UPLOAD_MB * 1_000_000]
        if too_big:
            st.error(f"error: larger than {MAX_UPLOAD_MB} MB: {', '.join(too_big)}; use the CLI")
        else:
            with tempfile.TemporaryDirectory(prefix="qualitylib-upload-") as folder:
                paths = _save([*uploads, *gold], Path(folder))
                try:
                    with st.spinner("Validating and importing…"):
                        if kind in EXPORTS:
                            summary = import_exports(
                                store.path,
                                EXPORTS[kind],
                                paths[: len(uploads)],
                                gold=paths[len(uploads) :],
                                at=undated,
                                imported_by=imported_by,
                            )
                        else:
                            summary = import_files(store.path, kind, paths, imported_by=imported_by)
                except ValidationError as error:
                    for message in error.errors:  # every bad file's, not only the first
                        st.error(f"error: {message}")
                except QualitylibError as error:
                    st.error(f"error: {_without_paths(str(error), folder, store.path)}")
                except Exception as error:  # never a traceback or a server path in the browser
                    LOG.exception("import of uploaded files failed")
                    st.error(
                        f"error: the import failed on the server ({type(error).__name__}); nothing "
                        "was written. The server's log has the details."
                    )
                else:
                    st.success(str(summary))


if not common.needs_log("An import"):
    import_form()

st.subheader("Import history")
history = data.imports(common.store())
if history.empty:
    st.info("Nothing imported yet.")
else:
    st.dataframe(
        history.drop(columns=["sha256"]),
        hide_index=True,
        column_config={
            "import_id": st.column_config.NumberColumn("#", format="%d"),
            "kind": "Kind",
            "source_name": "File",
            "n_rows": st.column_config.NumberColumn("Rows", format="localized"),
            "n_new_annotators": st.column_config.NumberColumn("New annotators", format="%d"),
            "n_new_items": st.column_config.NumberColumn("New items", format="localized"),
            "imported_by": "By",
            "imported_at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm"),
            "status": "Status",
        },
    )

st.subheader("Reference-set history")
st.caption(
    "Every committee decision is kept: a re-decision is a new row from its date on, so earlier "
    "labels stay scored against the decision in force when they were made. Also "
    "`qualitylib export --db PATH audit`."
)
decisions = data.reference_history(common.store())
if decisions.empty:
    st.info("No reference decisions yet.")
else:
    changed_only = st.toggle("Only re-decisions (the label changed)", value=True)
    shown = decisions[decisions["changed"]] if changed_only else decisions
    shown = common.people(shown, ["decided_by"])  # committee members are people too
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "item_id": "Item",
            "decided_at": st.column_config.DatetimeColumn("Decided (UTC)", format="YYYY-MM-DD"),
            "label": "Decision",
            "policy_version": "Policy",
            "reason": "Why",
            "decided_by": "By",
            "previous_label": "Replaced",
            "previous_decided_at": st.column_config.DatetimeColumn(
                "Replaced decision of", format="YYYY-MM-DD"
            ),
            "previous_reason": "Its reason",
            "changed": None,
            "source_name": "From file",
            "imported_by": "Imported by",
            "imported_at": st.column_config.DatetimeColumn("Imported (UTC)", format="YYYY-MM-DD"),
        },
    )
    st.caption(f"{len(shown):,} of {len(decisions):,} decisions.")
