"""Committee reliability: members' agreement among themselves and the committee's reversals."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from qualitylib.ingest import import_files
from qualitylib.metrics.committee import committee_agreement, committee_reversals
from qualitylib.metrics.filters import Filters
from qualitylib.store import connect

LABELS = "label,is_positive\nsafe,false\nnudity,true\nweapons,true"
# item, label, decided_at, policy_version, decided_by
DECISIONS = [
    ("x1", "safe", "08-01", "v1", "c01"),
    ("x1", "safe", "08-02", "v1", "c02"),
    ("x2", "nudity", "08-01", "v1", "c01"),
    ("x2", "safe", "08-02", "v1", "c02"),  # reverses c01 under the same version
    ("x2", "nudity", "08-03", "v1", "c03"),  # and back
    ("x3", "weapons", "08-01", "v1", "c01"),
    ("x3", "weapons", "08-02", "v1", "c02"),
    ("x4", "safe", "08-01", "v1", "c01"),
    ("x4", "nudity", "09-01", "v2", "c02"),  # a policy change: never compared with v1
    ("x5", "safe", "08-01", "v1", "c03"),
    ("x6", "nudity", "09-01", "v2", "c01"),
    ("x6", "nudity", "09-02", "v2", "c03"),
    ("x7", "safe", "09-01", "v2", "c01"),
    ("x7", "nudity", "09-02", "v2", "c01"),  # c01 changes their mind: one member, no pair
    ("x8", "nudity", "08-01", "v1", ""),  # nobody named: a reversal, not a member
    ("x8", "safe", "08-02", "v1", "c02"),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("committee")
    db = folder / "store.duckdb"
    reference = "item_id,label,decided_at,policy_version,decided_by\n" + "\n".join(
        f"{i},{label},2026-{day},{version},{who}" for i, label, day, version, who in DECISIONS
    )
    for kind, text in (("labels", LABELS), ("reference", reference)):
        path = folder / f"{kind}.csv"
        path.write_text(text + "\n", encoding="utf-8")
        import_files(db, kind, [path])
    return db


def test_members_agreement_per_policy_version_by_hand(store: Path) -> None:
    with connect(store, read_only=True) as con:
        table = committee_agreement(con).set_index("policy_version")
    assert table.index.tolist() == ["v1", "v2", "(all versions)"]
    # v1 units: x1 (safe, safe), x2 (nudity, safe, nudity), x3 (weapons, weapons)
    # p_a = (1 + 1/3 + 1) / 3; pi = (4/9, 2/9, 3/9); p_e = 29/81 (Fleiss 1971, r_i varying)
    v1 = table.loc["v1"]
    assert (v1["n_items"], v1["n_members"]) == (3, 3)
    assert v1["kappa"] == pytest.approx(34 / 52) and v1["percent_agreement"] == pytest.approx(7 / 9)
    assert v1["kappa_ci_low"] < v1["kappa"] < v1["kappa_ci_high"] and v1["kappa_se"] > 0
    # v2: one unit (x6, both nudity): too few for kappa
    v2 = table.loc["v2"]
    assert (v2["n_items"], v2["n_members"]) == (1, 2) and np.isnan(v2["kappa"])
    assert v2["reason"].startswith("fewer than 2 items")
    # pooled: x1, x2, x3 and x6; pi = (1/3, 5/12, 1/4), p_e = 50/144, p_a = 5/6
    pooled = table.loc["(all versions)"]
    assert (pooled["n_items"], pooled["n_members"]) == (4, 3)
    assert pooled["kappa"] == pytest.approx(70 / 94)


def test_reversals_per_policy_version(store: Path) -> None:
    with connect(store, read_only=True) as con:
        table = committee_reversals(con).set_index("policy_version")
        later = committee_reversals(con, Filters(since=date(2026, 9, 1)))
        empty = committee_agreement(con, Filters(policy_versions=("v9",)))
    v1, v2 = table.loc["v1"], table.loc["v2"]
    assert (v1["n_decisions"], v1["n_items"], v1["n_redecisions"], v1["n_reversed"]) == (
        11,
        6,
        5,
        3,
    )
    assert v1["reversal_rate"] == 0.6 and v1["reversal_rate_n"] == 5
    low, high = proportion_confint(3, 5, method="wilson")
    assert (v1["reversal_rate_ci_low"], v1["reversal_rate_ci_high"]) == pytest.approx((low, high))
    assert v1["same_version_reversal_rate"] == 0.6 and v1["same_version_reversal_rate_n"] == 5
    # v2: x4 reverses v1 (the policy change), x7 reverses v2 itself, x6 confirms
    assert (v2["n_decisions"], v2["n_redecisions"], v2["n_reversed"]) == (5, 3, 2)
    assert v2["n_same_version_reversed"] == 1 and v2["same_version_reversal_rate_n"] == 2
    # a window keeps each decision's predecessor, even from before it
    assert later["policy_version"].tolist() == ["v2"]
    assert later.iloc[0]["n_reversed"] == 2
    assert empty["n_items"].tolist() == [0] and empty.iloc[0]["reason"].startswith("no item")


def test_cli_exports_committee_tables(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from io import StringIO

    import pandas as pd

    from qualitylib.cli import main

    assert main(["export", "--db", str(store), "committee-reversals"]) == 0
    reversals = pd.read_csv(StringIO(capsys.readouterr().out))
    assert reversals["n_reversed"].tolist() == [3, 2]
    args = ["export", "--db", str(store), "committee-agreement", "--until", "2026-08-31"]
    assert main(args) == 0
    agreement = pd.read_csv(StringIO(capsys.readouterr().out))
    assert agreement["policy_version"].tolist() == ["v1", "(all versions)"]
    assert agreement["kappa"].tolist() == pytest.approx([34 / 52] * 2)
