"""The README's Python examples run as written, on the demo store and the RTE crowd data, so
the documented API cannot drift from the code."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from qualitylib.ingest import import_exports

ROOT = Path(__file__).resolve().parent.parent
CROWD = ROOT / "tests" / "data" / "crowd"
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


@pytest.fixture(scope="module")
def stores(demo_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the stores the examples name: the demo, a team store, RTE."""
    here = tmp_path_factory.mktemp("readme")
    (here / "data").mkdir()
    (here / "data" / "demo.duckdb").symlink_to(demo_db)
    (here / "team.duckdb").symlink_to(demo_db)
    import_exports(
        here / "rte.duckdb",
        "crowd-csv",
        [CROWD / "rte_labels.csv"],
        gold=[CROWD / "rte_gold.csv"],
        at=datetime(2008, 10, 1),
    )
    return here


def test_the_readme_has_its_examples() -> None:
    assert len(BLOCKS) >= 4
    assert any("annotator_skill" in block for block in BLOCKS)


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(block: str, stores: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(stores)
    namespace: dict[str, object] = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 (our own README)
    if "people" in namespace and "long" in namespace:  # the store example
        people, long = namespace["people"], namespace["long"]
        assert len(people) and set(long["metric"]) >= {"accuracy", "kappa", "tpr", "fpr"}
        assert namespace["debrief"].total >= len(namespace["debrief"].items)
    if "skill" in namespace:  # the Dawid-Skene example on RTE
        assert len(namespace["skill"]) == 164 and namespace["agreement"].value > 0.9
