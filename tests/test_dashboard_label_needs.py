"""The Review queue page shows each item's confidence and how many more labels it needs,
beside vote entropy, with the target editable (AppTest on the demo store)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from qualitylib.metrics.label_needs import label_needs
from qualitylib.store import connect

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


def test_review_queue_shows_label_needs_with_an_editable_target(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUALITYLIB_DB", str(demo_db))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("views/review.py").run()
    assert not at.exception and not at.error
    with connect(demo_db, read_only=True) as con:
        needs = label_needs(con, target=0.95).set_index("item_id")
        stricter = label_needs(con, target=0.99).set_index("item_id")
    table = at.dataframe[0].value.set_index("item_id")
    listed = table.index.intersection(needs.index)
    assert len(listed) > 0
    assert table.loc[listed, "confidence"].tolist() == pytest.approx(
        needs.loc[listed, "confidence"].tolist()
    )
    assert table.loc[listed, "more_labels"].tolist() == needs.loc[listed, "more_labels"].tolist()
    assert table.drop(index=listed)["confidence"].isna().all()

    at.number_input(key="needs_target").set_value(0.99).run()
    assert not at.exception
    table = at.dataframe[0].value.set_index("item_id")
    assert table["confidence"].notna().sum() == len(table.index.intersection(stricter.index))
    assert len(table.index.intersection(stricter.index)) > len(listed)
