"""Model versions against the committee and beside the people, on a small hand-made store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix

from qualitylib.display import votes_text
from qualitylib.ingest import import_files
from qualitylib.metrics.models import (
    calibration_table,
    expected_calibration_error,
    model_confusion,
    model_disagreements,
    model_summary,
    model_timeline,
    pairwise_kappa_with_models,
)
from qualitylib.metrics.reference import annotator_summary
from qualitylib.metrics.team_agreement import pairwise_kappa
from qualitylib.store import connect

LABELS = "label,is_positive\nsafe,false\nnudity,true\nweapons,true"
REFERENCE = """item_id,label,decided_at
i1,safe,2026-08-01
i2,safe,2026-08-01
i3,safe,2026-08-01
i4,nudity,2026-08-01
i5,nudity,2026-08-01
i6,weapons,2026-08-01"""
# (item, ann, bob, cat): the people's current answers
PEOPLE = {
    "i1": ("safe", "safe", "safe"),
    "i2": ("safe", "safe", "nudity"),
    "i3": ("nudity", "nudity", "safe"),
    "i4": ("nudity", "safe", "safe"),
    "i5": ("safe", "safe", None),
    "i6": ("weapons", "weapons", None),
    "i7": ("safe", "safe", "safe"),
}
ANNOTATIONS = "item_id,annotator_id,label,annotated_at\n" + "\n".join(
    f"{item},{who},{label},2026-09-02"
    for item, labels in PEOPLE.items()
    for who, label in zip(("ann", "bob", "cat"), labels, strict=True)
    if label
)
# v1 with scores (i7 has no reference); v2 without
V1 = {
    "i1": ("safe", 0.9),
    "i2": ("nudity", 0.6),
    "i3": ("safe", 0.7),
    "i4": ("nudity", 0.8),
    "i5": ("safe", 0.55),
    "i6": ("weapons", 0.95),
    "i7": ("nudity", 0.85),
}
PREDICTIONS = (
    "item_id,model_id,model_version,label,predicted_at,score\n"
    + "\n".join(f"{item},clf,v1,{label},2026-09-01,{score}" for item, (label, score) in V1.items())
    + "\ni1,clf,v2,safe,2026-09-08,\ni2,clf,v2,safe,2026-09-08,\ni4,clf,v2,nudity,2026-09-08,"
)
NAMES = ["safe", "nudity", "weapons"]
REF = dict(line.split(",")[:2] for line in REFERENCE.splitlines()[1:])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-made store, built once for this module's read-only tests."""
    folder = tmp_path_factory.mktemp("models")
    db = folder / "store.duckdb"
    texts = {
        "labels": LABELS,
        "reference": REFERENCE,
        "annotations": ANNOTATIONS,
        "predictions": PREDICTIONS,
    }
    for kind, text in texts.items():
        path = folder / f"{kind}.csv"
        path.write_text(text + "\n", encoding="utf-8")
        import_files(db, kind, [path])
    return db


def test_confusion_and_kappa_match_sklearn(store: Path) -> None:
    scored = [item for item in V1 if item in REF]
    truth = [REF[item] for item in scored]
    given = [V1[item][0] for item in scored]
    with connect(store, read_only=True) as con:
        summary = model_summary(con)
        long = model_confusion(con)
    v1 = long[long["model_version"] == "v1"]
    counts = v1.pivot(index="reference_label", columns="label", values="n").loc[NAMES, NAMES]
    np.testing.assert_array_equal(counts.to_numpy(), confusion_matrix(truth, given, labels=NAMES))
    row = summary.set_index("model_version").loc["v1"]
    assert row["model_id"] == "clf" and row["n_reference"] == 6
    assert row["accuracy"] == pytest.approx(4 / 6)
    assert row["kappa"] == pytest.approx(cohen_kappa_score(truth, given))
    # binary view: flagged = nudity or weapons; reference positives i4, i5, i6
    assert (row["tpr"], row["tpr_n"], row["fpr"], row["fpr_n"]) == (
        pytest.approx(2 / 3),
        3,
        1 / 3,
        3,
    )
    assert row["tpr_nudity"] == 0.5 and row["precision_nudity"] == 0.5


def test_summary_has_the_annotator_summary_columns_then_calibration(store: Path) -> None:
    with connect(store, read_only=True) as con:
        summary = model_summary(con)
        people = annotator_summary(con)
    rates = list(people.columns[3:])  # after annotator_id, name, team
    assert list(summary.columns[:2]) == ["model_id", "model_version"]
    assert list(summary.columns[2 : 2 + len(rates)]) == rates
    assert {"ece", "ece_ci_low", "ece_ci_high", "threshold", "tpr_at_threshold"} <= set(
        summary.columns
    )
    assert summary["model_version"].tolist() == ["v1", "v2"]
    v2 = summary.set_index("model_version").loc["v2"]
    assert v2["n_reference"] == 3 and np.isnan(v2["ece"]) and v2["ece_n"] == 0


def test_ece_by_hand_and_its_bootstrap_interval(store: Path) -> None:
    # bins 5: 0.55 wrong; 6: 0.6 wrong; 7: 0.7 right; 8: 0.8 right; 9: 0.9, 0.95 right
    by_hand = (0.55 + 0.6 + 0.3 + 0.2 + abs(2 - 1.85)) / 6
    with connect(store, read_only=True) as con:
        v1 = model_summary(con).set_index("model_version").loc["v1"]
        again = model_summary(con).set_index("model_version").loc["v1"]
        reliability = calibration_table(con)
    assert by_hand == pytest.approx(0.3)
    assert v1["ece"] == pytest.approx(by_hand) and v1["ece_n"] == 6
    assert v1["ece_ci_low"] <= v1["ece"] <= v1["ece_ci_high"]
    assert 0 < v1["ece_ci_low"] and v1["ece_ci_high"] <= 0.6
    assert (v1["ece_ci_low"], v1["ece_ci_high"]) == (again["ece_ci_low"], again["ece_ci_high"])
    bins = reliability[reliability["model_version"] == "v1"].set_index("bin")
    assert bins.index.tolist() == [5, 6, 7, 8, 9]
    assert bins.loc[9, "n"] == 2 and bins.loc[9, "confidence"] == pytest.approx(0.925)
    assert bins.loc[9, "accuracy"] == 1 and bins.loc[5, "accuracy"] == 0
    assert (bins.loc[5, "bin_low"], bins.loc[5, "bin_high"]) == (0.5, 0.6)
    ece = expected_calibration_error(
        bins["n"].to_numpy(), bins["accuracy"] * bins["n"], bins["confidence"] * bins["n"]
    )
    assert ece == pytest.approx(by_hand)


def test_rates_at_a_score_threshold(store: Path) -> None:
    # P(flagged): i1 0.1, i2 0.6, i3 0.3, i4 0.8, i5 0.45, i6 0.95; positives i4, i5, i6
    with connect(store, read_only=True) as con:
        half = model_summary(con, threshold=0.5).set_index("model_version").loc["v1"]
        low = model_summary(con, threshold=0.4).set_index("model_version").loc["v1"]
    assert (half["tpr_at_threshold"], half["fpr_at_threshold"]) == (pytest.approx(2 / 3), 1 / 3)
    assert (low["tpr_at_threshold"], low["fpr_at_threshold"]) == (1.0, pytest.approx(1 / 3))
    assert low["tpr_at_threshold_n"] == 3 and low["threshold"] == 0.4


def test_model_timeline_per_week(store: Path) -> None:
    with connect(store, read_only=True) as con:
        weeks = model_timeline(con)
    assert weeks[["model_version", "period_start", "n_labels", "n_reference"]].astype(
        str
    ).values.tolist() == [["v1", "2026-08-31", "7", "6"], ["v2", "2026-09-07", "3", "3"]]
    assert weeks["accuracy"].tolist() == [pytest.approx(4 / 6), 1.0]


def test_models_join_the_pairwise_kappa_table_marked_as_models(store: Path) -> None:
    with connect(store, read_only=True) as con:
        table = pairwise_kappa_with_models(con)
        people = pairwise_kappa(con)
    humans = table[table["kind"] == "human"].drop(columns="kind")
    pd.testing.assert_frame_equal(humans.reset_index(drop=True), people)
    models = table[table["kind"] == "model"].set_index(["annotator_a", "annotator_b"])
    assert sorted(models.index) == [
        (f"model:clf@{v}", who) for v in ("v1", "v2") for who in ("ann", "bob", "cat")
    ]
    items = list(V1)
    ann = [PEOPLE[item][0] for item in items]
    row = models.loc[("model:clf@v1", "ann")]
    assert row["n_items"] == 7
    assert row["kappa"] == pytest.approx(cohen_kappa_score([V1[i][0] for i in items], ann))


def test_disagreement_queue_ordered_by_the_models_confidence(store: Path) -> None:
    with connect(store, read_only=True) as con:
        queue = model_disagreements(con)
        top = model_disagreements(con, limit=2)
    columns = ["item_id", "model_version", "direction", "score"]
    assert queue[columns].iloc[:4].values.tolist() == [
        ["i7", "v1", "model_flagged", 0.85],
        ["i4", "v1", "model_flagged", 0.8],
        ["i3", "v1", "model_negative", 0.7],
        ["i2", "v1", "model_flagged", 0.6],
    ]
    assert queue[columns[:3]].iloc[4].tolist() == ["i4", "v2", "model_flagged"]
    assert len(queue) == 5 and np.isnan(queue["score"].iloc[4])  # unscored last
    first = queue.iloc[0]
    assert (first["majority_label"], first["n_people"], first["n_flagged"]) == ("safe", 3, 0)
    assert votes_text(first["votes"]) == "safe: ann, bob, cat"
    assert votes_text(queue.iloc[2]["votes"]) == "nudity: ann, bob; safe: cat"
    assert pd.isna(first["reference_label"]) and queue.iloc[2]["reference_label"] == "safe"
    assert top["item_id"].tolist() == ["i7", "i4"]


def test_cli_exports_model_tables(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from io import StringIO

    from qualitylib.cli import main

    assert main(["export", "--db", str(store), "model-summary", "--threshold", "0.4"]) == 0
    summary = pd.read_csv(StringIO(capsys.readouterr().out))
    assert summary["model_version"].tolist() == ["v1", "v2"]
    assert summary.loc[0, "tpr_at_threshold"] == 1.0 and summary.loc[0, "threshold"] == 0.4
    assert main(["export", "--db", str(store), "pairwise-kappa"]) == 0
    pairs = pd.read_csv(StringIO(capsys.readouterr().out))
    assert pairs.columns[-1] == "kind"
    assert pairs.groupby("kind").size().to_dict() == {"human": 3, "model": 6}
    assert main(["export", "--db", str(store), "model-summary", "--threshold", "2"]) == 2
    assert "--threshold must be between 0 and 1" in capsys.readouterr().err
    assert main(["export", "--db", str(store), "model-summary", "--positive-label", "gun"]) == 1
    assert capsys.readouterr().err == (
        "error: model-summary: no label 'gun' in the label set (safe, nudity, weapons)\n"
    )


def test_rates_at_a_threshold_read_the_distribution_when_given(tmp_path: Path) -> None:
    """P(flagged) sums the positive labels' scores; one class against the rest reads its own."""
    db = tmp_path / "store.duckdb"
    rows = {  # item: (predicted label, score_safe, score_nudity, score_weapons)
        "i1": ("safe", 0.5, 0.1, 0.4),  # P(flagged) 0.5 where 1 - score would say 0.5 too
        "i2": ("safe", 0.6, 0.3, 0.1),
        "i4": ("nudity", 0.35, 0.4, 0.25),  # P(flagged) 0.65, 1 - score_safe
        "i5": ("safe", 0.7, 0.1, 0.2),
        "i6": ("weapons", 0.2, 0.2, 0.6),
    }
    predictions = "item_id,model_id,label,predicted_at,score_safe,score_nudity,score_weapons\n"
    predictions += "\n".join(
        f"{i},clf,{r[0]},2026-09-01,{r[1]},{r[2]},{r[3]}" for i, r in rows.items()
    )
    predictions += "\ni3,clf,nudity,2026-09-01,,,"  # no distribution, no score: left out
    for kind, text in (("labels", LABELS), ("reference", REFERENCE), ("predictions", predictions)):
        path = tmp_path / f"{kind}.csv"
        path.write_text(text + "\n", encoding="utf-8")
        import_files(db, kind, [path])
    with connect(db, read_only=True) as con:
        flagged = model_summary(con, threshold=0.5).iloc[0]
        weapons = model_summary(con, threshold=0.4, threshold_label="weapons").iloc[0]
        with pytest.raises(ValueError, match=r"no label 'guns' in the label set \(safe, nudity"):
            model_summary(con, threshold_label="guns")
    # P(flagged): i1 0.5 (safe ref), i2 0.4 (safe), i4 0.65, i5 0.3, i6 0.8 (positives)
    assert (
        flagged["tpr_at_threshold"] == pytest.approx(2 / 3) and flagged["tpr_at_threshold_n"] == 3
    )
    assert flagged["fpr_at_threshold"] == 0.5 and flagged["fpr_at_threshold_n"] == 2
    assert flagged["threshold_label"] is None
    # weapons against the rest at 0.4: i1 0.4 flagged (ref safe), i6 0.6 flagged (ref weapons)
    assert weapons["tpr_at_threshold"] == 1 and weapons["tpr_at_threshold_n"] == 1
    assert weapons["fpr_at_threshold"] == 0.25 and weapons["fpr_at_threshold_n"] == 4
    assert weapons["threshold_label"] == "weapons"


def test_calibration_of_one_label_reads_the_distributions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "store.duckdb"
    # P(nudity) per item, and whether the reference is nudity (REFERENCE: i4, i5 are)
    rows = {"i1": 0.05, "i2": 0.15, "i3": 0.12, "i4": 0.85, "i5": 0.35, "i6": 0.02}
    predictions = "item_id,model_id,label,predicted_at,score_nudity,score_safe\n" + "\n".join(
        f"{i},clf,{'nudity' if p > 0.5 else 'safe'},2026-09-01,{p},{1 - p:.2f}"
        for i, p in rows.items()
    )
    for kind, text in (("labels", LABELS), ("reference", REFERENCE), ("predictions", predictions)):
        path = tmp_path / f"{kind}.csv"
        path.write_text(text + "\n", encoding="utf-8")
        import_files(db, kind, [path])
    with connect(db, read_only=True) as con:
        table = calibration_table(con, label="nudity").set_index("bin")
    assert table.index.tolist() == [0, 1, 3, 8]
    assert table["n"].tolist() == [2, 2, 1, 1]
    assert table.loc[0, "confidence"] == pytest.approx(0.035) and table.loc[0, "accuracy"] == 0
    assert table.loc[1, "accuracy"] == 0 and table.loc[3, "accuracy"] == 1
    assert table.loc[8, "gap"] == pytest.approx(0.15)
    from io import StringIO

    from qualitylib.cli import main

    assert main(["export", "--db", str(db), "model-calibration", "--positive-label", "nudity"]) == 0
    exported = pd.read_csv(StringIO(capsys.readouterr().out))
    assert exported["n"].tolist() == [2, 2, 1, 1]
