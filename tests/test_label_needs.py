"""label-needs: posteriors from reference-estimated confusion matrices, checked by a plain
Bayes computation item by item; what one more label buys; the CLI's total cost."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest

from qualitylib.cli import main
from qualitylib.ingest import import_files
from qualitylib.metrics.label_needs import label_needs
from qualitylib.store import connect

LABELS = ("safe", "nudity")
# reference r1..r10: r1-r6 safe, r7-r10 nudity
REFERENCE = {f"r{n}": "safe" if n <= 6 else "nudity" for n in range(1, 11)}
# bob calls r7 and r8 safe; cat has no reference labels
ON_REFERENCE = {
    "ann": dict(REFERENCE),
    "bob": REFERENCE | {"r7": "safe", "r8": "safe"},
}
OPEN = {
    "u1": {"ann": "safe", "bob": "safe"},
    "u2": {"ann": "nudity", "bob": "safe"},
    "u3": {"cat": "nudity"},
    "u4": {"ann": "safe", "bob": "safe", "cat": "safe"},
    "u5": {"bob": "nudity", "cat": "safe"},
    "u6": {"cat": "safe"},  # one typical "nudity" would flip it: one more label is worth it
}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("needs")
    db = folder / "store.duckdb"
    files = {
        "labels": "label,is_positive\nsafe,false\nnudity,true\n",
        "reference": "item_id,label,decided_at\n"
        + "".join(f"{item},{label},2026-08-01\n" for item, label in REFERENCE.items()),
        "annotations": "item_id,annotator_id,label,annotated_at\n"
        + "".join(
            f"{item},{who},{label},2026-09-01\n"
            for who, answers in ON_REFERENCE.items()
            for item, label in answers.items()
        )
        + "".join(
            f"{item},{who},{label},2026-09-02\n"
            for item, answers in OPEN.items()
            for who, label in answers.items()
        ),
    }
    for kind, text in files.items():
        (folder / f"{kind}.csv").write_text(text, encoding="utf-8")
        import_files(db, kind, [folder / f"{kind}.csv"])
    return db


def _by_hand(alpha: float = 10.0) -> dict[str, dict[str, float]]:
    """Posterior per open item, loop by loop from the formulas in the module docstring."""
    counts = {who: {(r, g): 0 for r in LABELS for g in LABELS} for who in ("ann", "bob", "cat")}
    for who, answers in ON_REFERENCE.items():
        for item, label in answers.items():
            counts[who][(REFERENCE[item], label)] += 1
    pooled = {cell: sum(c[cell] for c in counts.values()) for cell in counts["ann"]}
    team = {
        (r, g): (pooled[(r, g)] + 1) / (sum(pooled[(r, x)] for x in LABELS) + 2) for r, g in pooled
    }
    own = {
        who: {
            (r, g): (c[(r, g)] + alpha * team[(r, g)]) / (sum(c[(r, x)] for x in LABELS) + alpha)
            for r, g in c
        }
        for who, c in counts.items()
    }
    n_safe = sum(label == "safe" for label in REFERENCE.values())
    prior = {"safe": (n_safe + 1) / 12, "nudity": (10 - n_safe + 1) / 12}
    posteriors = {}
    for item, answers in OPEN.items():
        weight = {
            c: prior[c] * math.prod(own[who][(c, label)] for who, label in answers.items())
            for c in LABELS
        }
        total = sum(weight.values())
        posteriors[item] = {c: w / total for c, w in weight.items()}
    posteriors["_team"] = team  # type: ignore[assignment]
    return posteriors


def test_posteriors_match_a_plain_bayes_computation(store: Path) -> None:
    expected = _by_hand()
    team = expected.pop("_team")
    with connect(store, read_only=True) as con:
        needs = label_needs(con, target=0.999).set_index("item_id")
    assert "r1" not in needs.index  # reference items are left out
    for item, posterior in expected.items():
        best = max(posterior, key=posterior.get)
        if posterior[best] >= 0.999:
            assert item not in needs.index
            continue
        row = needs.loc[item]
        assert row["posterior_label"] == best
        assert row["confidence"] == pytest.approx(posterior[best])
        assert row["n_labels"] == len(OPEN[item])
        after = sum(max(posterior[c] * team[(c, label)] for c in LABELS) for label in LABELS)
        assert row["gain_one_more"] == pytest.approx(after - posterior[best])
        for m in itertools.count(1):
            grown = {c: posterior[c] * team[(c, best)] ** m for c in LABELS}
            if grown[best] / sum(grown.values()) >= 0.999:
                break
        assert row["more_labels"] == m and row["cost"] == m
    assert needs["confidence"].is_monotonic_increasing
    assert needs.loc["u6", "gain_one_more"] > 0.05
    assert (needs.drop(index="u6")["gain_one_more"].abs() < 1e-12).all()  # no flip, no gain
    # two trusted agreeing answers are surer than a split
    assert expected["u1"]["safe"] > expected["u2"]["safe"]


def test_target_price_and_cli_total(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with connect(store, read_only=True) as con:
        strict = label_needs(con, target=0.999, price=0.5)
        loose = label_needs(con, target=0.6)
    assert set(loose["item_id"]) < set(strict["item_id"])
    assert np.allclose(strict["cost"], strict["more_labels"] * 0.5)
    args = ["export", "--db", str(store), "label-needs", "--target", "0.999", "--price", "0.5"]
    assert main(args) == 0
    captured = capsys.readouterr()
    total = strict["cost"].sum()
    assert f"{len(strict)} items below 0.999" in captured.err
    assert f"total cost {total:,.2f}" in captured.err
    assert main([*args[:4], "--target", "1.5"]) == 2
