"""The Alternative Annotator Test: against the paper's definitions computed item by item, and on
simulated teams where the answer is known (a copy of the majority passes, a noisy model fails)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from qualitylib.cli import main
from qualitylib.ingest import import_files
from qualitylib.metrics.alt_test import alt_test, alt_test_counts
from qualitylib.store import connect

LABELS = ("safe", "nudity", "weapons")


def _store(
    db: Path, tmp_path: Path, people: dict[str, dict[str, str]], models: dict[str, dict[str, str]]
) -> Path:
    """Import ``people[annotator][item] = label`` and ``models[version][item] = label``."""
    annotations = pd.DataFrame(
        [
            (item, who, label, "2026-09-01")
            for who, answers in people.items()
            for item, label in answers.items()
        ],
        columns=["item_id", "annotator_id", "label", "annotated_at"],
    )
    predictions = pd.DataFrame(
        [
            (item, "clf", version, label, "2026-09-02")
            for version, answers in models.items()
            for item, label in answers.items()
        ],
        columns=["item_id", "model_id", "model_version", "label", "predicted_at"],
    )
    annotations.to_csv(tmp_path / "a.csv", index=False)
    predictions.to_csv(tmp_path / "p.csv", index=False)
    import_files(db, "annotations", [tmp_path / "a.csv"])
    import_files(db, "predictions", [tmp_path / "p.csv"])
    return db


def _paper(
    people: dict[str, dict[str, str]], model: dict[str, str], epsilon: float
) -> dict[str, tuple[float, float, float]]:
    """The paper's procedure item by item: per annotator (rho_f, rho_h, one-sided p)."""
    out = {}
    for j, own in people.items():
        w_f, w_h = [], []
        for item, label in own.items():
            others = [p[item] for k, p in people.items() if k != j and item in p]
            if not others or item not in model:
                continue
            s_f = np.mean([model[item] == other for other in others])
            s_h = np.mean([label == other for other in others])
            w_f.append(float(s_f >= s_h))
            w_h.append(float(s_h >= s_f))
        d = np.array(w_h) - np.array(w_f)
        p = stats.ttest_1samp(d, epsilon, alternative="less").pvalue
        out[j] = (np.mean(w_f), np.mean(w_h), p)
    return out


def _by_rejections(p: np.ndarray, alpha: float) -> np.ndarray:
    """Benjamini-Yekutieli (2001) step-up rule, written out."""
    m = len(p)
    order = np.argsort(p)
    c = np.sum(1 / np.arange(1, m + 1))
    below = p[order] <= np.arange(1, m + 1) * alpha / (m * c)
    k = np.max(np.nonzero(below)[0]) + 1 if below.any() else 0
    rejected = np.zeros(m, bool)
    rejected[order[:k]] = True
    return rejected


def _team(
    rng: np.random.Generator, n_items: int, accuracy: dict[str, float], coverage: float = 1.0
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """A true label per item and annotators right with their accuracy (wrong: another label)."""
    truth = {f"i{n:03d}": LABELS[rng.choice(3, p=[0.6, 0.3, 0.1])] for n in range(n_items)}
    people: dict[str, dict[str, str]] = {}
    for who, right in accuracy.items():
        people[who] = {}
        for item, label in truth.items():
            if rng.random() > coverage:
                continue
            wrong = [other for other in LABELS if other != label]
            people[who][item] = label if rng.random() < right else wrong[rng.integers(2)]
    return truth, people


def _noisy(rng: np.random.Generator, truth: dict[str, str], right: float) -> dict[str, str]:
    return {
        item: label if rng.random() < right else LABELS[(LABELS.index(label) + 1) % 3]
        for item, label in truth.items()
    }


def test_counts_t_test_matches_scipy_on_the_expanded_differences() -> None:
    rng = np.random.default_rng(3)
    f, tie, h = rng.integers(0, 40, size=(3, 20))
    result = alt_test_counts(f, tie, h, epsilon=0.1)
    for n in range(20):
        d = np.repeat([-1.0, 0.0, 1.0], [f[n], tie[n], h[n]])
        expected = stats.ttest_1samp(d, 0.1, alternative="less")
        assert result["t"][n] == pytest.approx(expected.statistic)
        assert result["p_value"][n] == pytest.approx(expected.pvalue)
    constant = alt_test_counts(np.array([0, 0]), np.array([30, 0]), np.array([0, 30]))
    assert constant["p_value"].tolist() == [0.0, 1.0]  # all ties: the model wins outright


def test_store_procedure_matches_the_paper_item_by_item(db: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    accuracy = {"ann": 0.9, "bob": 0.8, "cat": 0.75, "dan": 0.6, "eve": 0.85}
    truth, people = _team(rng, 120, accuracy, coverage=0.7)
    model = _noisy(rng, truth, 0.8)
    _store(db, tmp_path, people, {"v1": model})
    with connect(db, read_only=True) as con:
        table = alt_test(con, epsilon=0.1).set_index("annotator_id")
    paper = _paper(people, model, epsilon=0.1)
    for who, (rho_f, rho_h, p) in paper.items():
        assert table.loc[who, "rho_model"] == pytest.approx(rho_f)
        assert table.loc[who, "rho_annotator"] == pytest.approx(rho_h)
        assert table.loc[who, "p_value"] == pytest.approx(p)
    p_values = np.array([paper[who][2] for who in table.index])
    rejected = _by_rejections(p_values, 0.05)
    assert table["model_wins"].tolist() == rejected.tolist()
    assert table["winning_rate"].iloc[0] == pytest.approx(rejected.mean())
    assert table["advantage_probability"].iloc[0] == pytest.approx(
        np.mean([paper[who][0] for who in table.index])
    )
    assert set(table["epsilon"]) == {0.1} and set(table["n_annotators"]) == {5}


def test_a_copy_of_the_majority_passes_and_a_noisy_model_fails(db: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    accuracy = {"ann": 0.85, "bob": 0.8, "cat": 0.8, "dan": 0.75, "eve": 0.85}
    truth, people = _team(rng, 150, accuracy)
    votes = pd.DataFrame(people)
    majority = votes.apply(lambda row: row.value_counts().idxmax(), axis=1).to_dict()
    _store(db, tmp_path, people, {"majority": majority, "noisy": _noisy(rng, truth, 0.55)})
    with connect(db, read_only=True) as con:
        table = alt_test(con)
    verdicts = table.groupby("model_version")[["winning_rate", "passes"]].first()
    assert verdicts.loc["majority", "winning_rate"] == 1.0
    assert bool(verdicts.loc["majority", "passes"]) is True
    assert verdicts.loc["noisy", "winning_rate"] == 0.0
    assert bool(verdicts.loc["noisy", "passes"]) is False
    assert set(table["epsilon"]) == {0.2}


def test_annotators_with_few_items_are_not_tested(db: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    truth, people = _team(rng, 40, {"ann": 0.9, "bob": 0.9, "cat": 0.9})
    people["new"] = dict(list(people["ann"].items())[:10])
    _store(db, tmp_path, people, {"v1": truth})
    with connect(db, read_only=True) as con:
        table = alt_test(con).set_index("annotator_id")
        fewer = alt_test(con, min_items=50)
    assert table.loc["new", "n_items"] == 10 and np.isnan(table.loc["new", "p_value"])
    assert table.loc["new", "reason"].startswith("fewer than 30 items")
    assert pd.isna(table.loc["new", "model_wins"])
    assert table.loc["ann", "n_annotators"] == 3 and table.loc["ann", "reason"] == ""
    assert fewer["passes"].isna().all() and fewer["winning_rate"].isna().all()
    assert fewer["reason"].str.contains("no annotator with 50 items").all()
    with pytest.raises(ValueError, match="epsilon must be in"):
        alt_test(con, epsilon=1.5)


def test_cli_export_model_vs_annotators(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from io import StringIO

    rng = np.random.default_rng(1)
    truth, people = _team(rng, 60, {"ann": 0.9, "bob": 0.85, "cat": 0.8})
    _store(db, tmp_path, people, {"v1": truth})
    args = ["export", "--db", str(db), "model-vs-annotators", "--epsilon", "0.1"]
    assert main([*args, "--min-items", "20"]) == 0
    table = pd.read_csv(StringIO(capsys.readouterr().out))
    assert table["annotator_id"].tolist() == ["ann", "bob", "cat"]
    assert set(table["epsilon"]) == {0.1}
    assert {"winning_rate", "passes", "p_adjusted", "model_wins"} <= set(table.columns)
