"""Data: import files into the store (the CLI's validation and messages) and the history."""

import os
import tempfile
from pathlib import Path, PurePosixPath

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from dashboard import common, data
from qualitylib.errors import QualitylibError
from qualitylib.ingest import KINDS, import_files

MAX_UPLOAD_MB = int(os.environ.get("QUALITYLIB_MAX_UPLOAD_MB", "200"))  # per file
SUFFIXES = ["csv", "tsv", "txt", "parquet", "pq"]


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


store = common.store()
store.require_everyone("the Data page (imports into the shared store)")
st.title("Data")

st.subheader("Import files")
st.caption(
    "Same rules as `qualitylib import`: every file is validated, all files are imported or "
    "none, and a file imported before is skipped. Import in order: labels, annotators, items, "
    "reference, then annotations."
)
kind = st.selectbox("What the files hold", list(KINDS), index=list(KINDS).index("annotations"))
uploads = st.file_uploader(
    "Files",
    type=SUFFIXES,
    accept_multiple_files=True,
    max_upload_size=MAX_UPLOAD_MB,
    help=f"Up to {MAX_UPLOAD_MB} MB per file.",
)
if st.button("Import", type="primary", disabled=not uploads):
    too_big = [u.name for u in uploads if u.size > MAX_UPLOAD_MB * 1_000_000]
    if too_big:
        st.error(f"error: larger than {MAX_UPLOAD_MB} MB: {', '.join(too_big)}; use the CLI")
    else:
        with tempfile.TemporaryDirectory(prefix="qualitylib-upload-") as folder:
            paths = _save(uploads, Path(folder))
            try:
                with st.spinner("Validating and importing…"):
                    summary = import_files(store.path, kind, paths)
            except QualitylibError as error:
                st.error(f"error: {error}")
            else:
                st.success(str(summary))

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
