"""The demo's model versions have the properties they were built with, and the analytics find
them: v2 is better on weapons and worse calibrated; both only ever sit beside the team."""

from __future__ import annotations

from pathlib import Path

from qualitylib import demo
from qualitylib.metrics.alt_test import alt_test
from qualitylib.metrics.fixes import fix_rates
from qualitylib.metrics.models import model_disagreements, model_summary
from qualitylib.store import connect


def test_v2_is_better_on_weapons_and_worse_calibrated(demo_db: Path) -> None:
    with connect(demo_db, read_only=True) as con:
        summary = model_summary(con).set_index("model_version")
    v1, v2 = summary.loc["v1"], summary.loc["v2"]
    assert v2["tpr_weapons_ci_low"] > v1["tpr_weapons_ci_high"]
    assert v2["ece_ci_low"] > v1["ece"]
    assert v1["ece"] < 0.05 < v2["ece"]
    # elsewhere the two are alike
    assert abs(v1["tpr_nudity"] - v2["tpr_nudity"]) < 0.15


def test_the_model_finds_positives_people_called_safe(demo_db: Path) -> None:
    truth = demo.generate(seed=0, n_annotations=60_000).truth.set_index("item_id")["label_v2"]
    with connect(demo_db, read_only=True) as con:
        queue = model_disagreements(con)
    assert queue["score"].is_monotonic_decreasing
    flagged = queue[(queue["direction"] == "model_flagged") & (queue["majority_label"] == "safe")]
    top = flagged.head(50)
    assert len(top) == 50
    # the model's most confident flags on items people called safe are real positives ten
    # times as often as items are in production (3 %): the missed positives worth a look
    assert (truth.loc[top["item_id"]] != "safe").mean() >= 0.3


def test_alt_test_and_fix_rates_on_the_demo(demo_db: Path) -> None:
    with connect(demo_db, read_only=True) as con:
        lenient = alt_test(con)
        strict = alt_test(con, epsilon=0.0)
        rates = fix_rates(con)
        n_fixes = con.execute("SELECT count(*) FROM fixes").fetchall()[0][0]
    # within 0.2 of the experts' winning share, both versions may replace an annotator; with no
    # allowance for their cost, neither beats the experts
    assert lenient.groupby("model_version")["passes"].first().tolist() == [True, True]
    assert strict.groupby("model_version")["passes"].first().tolist() == [False, False]
    assert (lenient["n_annotators"] == 13).all()
    # every demo fix corrects a wrong label, after its prediction
    assert rates["n_fixed"].sum() == n_fixes > 0


def test_the_distributions_show_v2_better_on_weapons_at_a_threshold(demo_db: Path) -> None:
    with connect(demo_db, read_only=True) as con:
        weapons = model_summary(con, threshold_label="weapons").set_index("model_version")
        flagged = model_summary(con).set_index("model_version")
        stored = con.execute(
            "SELECT count(*), count(DISTINCT (item_key, model_key, predicted_at)) "
            "FROM prediction_scores"
        ).fetchall()[0]
        n_predictions = con.execute("SELECT count(*) FROM predictions").fetchall()[0][0]
    # every prediction gives its whole distribution, one row per label
    assert stored == (n_predictions * len(demo.LABELS), n_predictions)
    v1, v2 = weapons.loc["v1"], weapons.loc["v2"]
    # P(weapons) >= 0.5 against reference weapons, on every scored prediction
    assert v1["tpr_at_threshold_n"] == v2["tpr_at_threshold_n"] > 30
    assert v2["tpr_at_threshold_ci_low"] > v1["tpr_at_threshold_ci_high"]
    assert v2["fpr_at_threshold"] < 0.05 and v1["fpr_at_threshold"] < 0.05
    # flagged vs safe from the summed distribution: both find most positives
    assert (flagged["tpr_at_threshold"] > 0.6).all()
