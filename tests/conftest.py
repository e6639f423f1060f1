"""Shared fixtures: a temporary store, tiny CSV writers, and a store fingerprint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from qualitylib.store import connect

TABLES = (
    "labels",
    "annotators",
    "items",
    "annotations",
    "reference",
    "imports",
    "scored",
    "votes",
    "pairs",
    "contested",
    "models",
    "predictions",
    "prediction_scores",
    "fixes",
    "boxes",
    "box_reference",
    "box_sets",
    "box_candidates",
    "box_pairs",
)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Path of a fresh (not yet created) store."""
    return tmp_path / "store.duckdb"


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write ``text`` (dedented lines) to ``tmp_path/name`` and return the path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        lines = [line.strip() for line in text.strip().splitlines()]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return _write


def fingerprint(db_path: Path) -> dict[str, tuple[int, int]]:
    """Row count and an order-independent content checksum of every table."""
    if not db_path.exists():
        return {}
    with connect(db_path, read_only=True) as con:
        return {
            table: tuple(
                con.execute(
                    f"SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM {table} t"
                ).fetchall()[0]
            )
            for table in TABLES
        }


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded demo team (60,000 labels), built once per test session; do not write to it."""
    from qualitylib import demo

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    demo.build(path, seed=0, n_annotations=60_000)
    return path


@pytest.fixture(scope="session")
def behaviour_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The behaviour personas and trainees (``qualitylib demo --behaviour``, seed 0), built
    once per test session; read only."""
    from qualitylib import demo_behaviour

    path = tmp_path_factory.mktemp("behaviour") / "behaviour.duckdb"
    demo_behaviour.build(path, seed=0)
    return path


@pytest.fixture(scope="session")
def personas_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded demo team at 200,000 labels (seed 0), built once per test session; read only.

    About 65 control labels per annotator-week: enough for the persona tests of drift and
    onboarding (at 60,000 labels a 100-label onboarding window spans five weeks).
    """
    from qualitylib import demo

    path = tmp_path_factory.mktemp("personas") / "demo.duckdb"
    demo.build(path, seed=0, n_annotations=200_000)
    return path


@pytest.fixture
def build_store(db: Path, write: Callable[[str, str], Path]) -> Callable[[str, str, str], Path]:
    """Import a label set, reference decisions and annotations (CSV texts) into ``db``."""
    from qualitylib.ingest import import_files

    def _build(labels: str, reference: str, annotations: str) -> Path:
        import_files(db, "labels", [write("labels.csv", labels)])
        import_files(db, "reference", [write("reference.csv", reference)])
        import_files(db, "annotations", [write("annotations.csv", annotations)])
        return db

    return _build


@pytest.fixture(scope="session")
def box_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small box store of ``tests/box_store.py`` (images on disk), built once; read only."""
    from tests import box_store

    return box_store.build(tmp_path_factory.mktemp("boxes"))
