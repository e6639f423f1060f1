"""Manual fixes of model labels: imported beside the predictions, counted into fix rates."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import fingerprint

from qualitylib.check import check_store
from qualitylib.errors import ValidationError
from qualitylib.ingest import import_files
from qualitylib.metrics.fixes import fix_rates
from qualitylib.store import connect

PREDICTIONS = """item_id,model_id,model_version,label,predicted_at
i1,clf,v1,safe,2026-09-01
i2,clf,v1,nudity,2026-09-01
i3,clf,v1,nudity,2026-09-01
i4,clf,v1,safe,2026-09-01
i5,clf,v1,nudity,2026-09-08"""
FIXES = """item_id,model_id,model_version,model_label,fixed_label,fixed_by,fixed_at
i2,clf,v1,nudity,safe,carol,2026-09-03
i3,clf,v1,nudity,nudity,carol,2026-09-03
i4,clf,v1,safe,weapons,dan,2026-09-02
i5,clf,v1,nudity,safe,dan,2026-09-01
i9,clf,v0,safe,drugs,dan,2026-09-01"""


@pytest.fixture
def store(db: Path, write) -> Path:
    import_files(db, "labels", [write("l.csv", "label,is_positive\nsafe,false\nnudity,true\n"
                                              "weapons,true\ndrugs,true")])  # fmt: skip
    import_files(db, "predictions", [write("p.csv", PREDICTIONS)])
    import_files(db, "fixes", [write("f.csv", FIXES)])
    return db


def test_fix_rates_per_version_label_and_week(store: Path) -> None:
    with connect(store, read_only=True) as con:
        rates = fix_rates(con)
        stored = con.execute("SELECT count(*), count(DISTINCT model_key) FROM fixes").fetchall()[0]
        versions = con.execute("SELECT model_version FROM models ORDER BY 1").fetchall()
    assert stored == (5, 2) and versions == [("v0",), ("v1",)]  # a fix may name a new version
    rows = rates[["model_version", "label", "period_start", "n_predictions", "n_fixed", "top_fix"]]
    assert rows.astype(str).values.tolist() == [
        ["v1", "nudity", "2026-08-31", "2", "1", "safe"],  # i3's "fix" confirms the label
        ["v1", "nudity", "2026-09-07", "1", "0", ""],  # i5 was fixed before this prediction
        ["v1", "safe", "2026-08-31", "2", "1", "weapons"],
    ]
    assert rates["fix_rate"].tolist() == [0.5, 0.0, 0.5]
    assert all(finding.ok for finding in check_store(store))


def test_a_bad_fix_file_writes_nothing(store: Path, write) -> None:
    before = fingerprint(store)
    bad = write(
        "bad.csv",
        """item_id,model_id,model_label,fixed_label,fixed_at
        i1,clf,safe,gambling,2026-09-02""",
    )
    with pytest.raises(
        ValidationError, match=r"bad.csv row 1, column 'fixed_label': label outside"
    ):
        import_files(store, "fixes", [bad])
    assert fingerprint(store) == before


def test_cli_exports_fix_rates(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from io import StringIO

    import pandas as pd

    from qualitylib.cli import main

    assert main(["export", "--db", str(store), "model-fixes", "--period", "month"]) == 0
    table = pd.read_csv(StringIO(capsys.readouterr().out), keep_default_na=False)
    assert table[["label", "n_predictions", "n_fixed"]].values.tolist() == [
        ["nudity", 3, 1],
        ["safe", 2, 1],
    ]


def test_an_end_date_counts_only_the_fixes_made_by_then(store: Path) -> None:
    from datetime import date, datetime

    from qualitylib.metrics.filters import Filters

    with connect(store, read_only=True) as con:
        by_2nd = fix_rates(con, Filters(until=date(2026, 9, 2)))
        by_midnight = fix_rates(con, Filters(until=datetime(2026, 9, 3, 0, 0)))
        by_3rd = fix_rates(con, Filters(until=date(2026, 9, 3)))
    # i4's fix (2 Sep) counts from the 2nd on; i2's (3 Sep, midnight) from that instant on
    assert by_2nd.set_index("label")["n_fixed"].to_dict() == {"nudity": 0, "safe": 1}
    assert by_midnight.set_index("label")["n_fixed"].to_dict() == {"nudity": 1, "safe": 1}
    assert by_3rd.set_index("label")["n_fixed"].to_dict() == {"nudity": 1, "safe": 1}
