"""A run of the dashboard holds the store open from its first read to its end, and no longer:
a writer (an import) gets the file as soon as the run ends."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from dashboard import data
from qualitylib import store as store_module
from qualitylib.store import WRITER_WAITING, connect


@pytest.fixture
def store(tmp_path: Path) -> data.Store:
    path = tmp_path / "store.duckdb"
    with connect(path):  # a writer creates the schema
        pass
    return data.Store(str(path), data.store_version(str(path)))


def _read_once(store: data.Store) -> None:
    with data._read(store) as con:
        assert con.execute("SELECT count(*) FROM annotations").fetchone() == (0,)


def test_a_run_holds_the_store_from_its_first_read_to_its_end(store: data.Store) -> None:
    with data.held_open():
        duckdb.connect(store.path).close()  # nothing read yet: nothing held
        _read_once(store)
        with pytest.raises(duckdb.ConnectionException, match="different configuration"):
            duckdb.connect(store.path)  # a writer waits while the run reads
        _read_once(store)
    duckdb.connect(store.path).close()  # the run ended: the writer gets the file


def test_the_data_page_holds_nothing(store: data.Store) -> None:
    with data.held_open(hold=False):
        _read_once(store)
        duckdb.connect(store.path).close()  # the page's own import can write


def test_a_held_run_does_not_wait_for_a_writer_it_keeps_out(
    store: data.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that starts waiting mid-run cannot get in before the run ends: the run's
    later reads go on at once instead of backing off for it (30 s, then the run ends)."""
    with data.held_open():
        _read_once(store)
        Path(store.path + WRITER_WAITING).touch()  # an import in another process waits

        def no_backing_off(seconds: float) -> None:
            raise AssertionError(f"a held run backed off for {seconds} s")

        monkeypatch.setattr(store_module.time, "sleep", no_backing_off)
        _read_once(store)
