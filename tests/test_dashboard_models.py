"""The Models page with AppTest: on the hand-made store of tests/test_models.py, its numbers are
the library's; the threshold slider moves the rates at threshold; without predictions it says
how to import them. A chosen version's confusion and weeks are drawn like a person's, and the
Agreement page puts the model versions among the raters when asked."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest
from test_models import store  # noqa: F401  (the module-scoped hand-made store)

from qualitylib.metrics.models import (
    model_confusion,
    model_disagreements,
    model_summary,
    model_timeline,
    pairwise_kappa_with_models,
)
from qualitylib.pseudonyms import pseudonym
from qualitylib.store import connect, label_set

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


def _open(db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("QUALITYLIB_DB", str(db))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("views/models.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_models_page_shows_the_librarys_numbers(
    store: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    at = _open(store, monkeypatch)
    with connect(store, read_only=True) as con:
        expected = model_summary(con, threshold=0.4).set_index("model_version")
        queue = model_disagreements(con)
    summary = at.dataframe[0].value.set_index("model")
    assert summary.loc["model:clf@v1", "accuracy"] == "66.7 %"
    assert summary.loc["model:clf@v1", "ece"] == f"{expected.loc['v1', 'ece']:.3f}"
    assert summary.loc["model:clf@v2", "ece"] == "not enough data"
    assert summary.loc["model:clf@v1", "tpr_at_threshold"] == "66.7 %"
    assert at.get("vega_lite_chart"), "the reliability diagram is drawn"

    at.slider[0].set_value(0.4).run()
    summary = at.dataframe[0].value.set_index("model")
    tpr = expected.loc["v1", "tpr_at_threshold"]
    assert summary.loc["model:clf@v1", "tpr_at_threshold"] == f"{tpr * 100:.1f} %" == "100.0 %"

    verdicts = {m.label: m.value for m in at.metric}
    assert verdicts == {"model:clf@v1: winning rate": "not enough data",
                        "model:clf@v2: winning rate": "not enough data"}  # fmt: skip
    tests = at.dataframe[1].value
    assert tests["reason"].str.startswith("fewer than 30 items").all()
    disagreements = at.dataframe[2].value
    assert disagreements["item_id"].tolist() == queue["item_id"].tolist()
    assert disagreements["labels"].iloc[0] == "safe: ann, bob, cat"


def test_models_page_without_predictions_says_how_to_import(
    build_store, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = build_store(
        "label\nsafe\nnudity",
        "item_id,label,decided_at\ni1,safe,2026-08-01",
        "item_id,annotator_id,label,annotated_at\ni1,ann,safe,2026-09-01",
    )
    at = _open(db, monkeypatch)
    assert any("qualitylib import --kind predictions" in i.value for i in at.info)
    assert not at.dataframe


def test_models_page_on_the_demo(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _open(demo_db, monkeypatch)
    summary = at.dataframe[0].value
    assert summary["model"].tolist() == ["model:safety-clf@v1", "model:safety-clf@v2"]
    assert {m.label: m.delta for m in at.metric} == {
        "model:safety-clf@v1: winning rate": "passes",
        "model:safety-clf@v2: winning rate": "passes",
    }


def test_models_page_rates_one_class_from_the_distributions(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _open(demo_db, monkeypatch)
    picker = at.selectbox(key="positive_class")
    assert picker.label == "Positive class"
    with connect(demo_db, read_only=True) as con:
        ranked = label_set(con)["label"].tolist()  # every label has a probability, in rank order
    assert picker.options == ["any flagged label", *ranked] and len(ranked) == 6
    picker.set_value("weapons").run()
    assert not at.exception and not at.error
    with connect(demo_db, read_only=True) as con:
        expected = model_summary(con, threshold_label="weapons").set_index("model_version")
    summary = at.dataframe[0].value.set_index("model")
    for version in ("v1", "v2"):
        tpr = expected.loc[version, "tpr_at_threshold"]
        assert (
            summary.loc[f"model:safety-clf@{version}", "tpr_at_threshold"] == f"{tpr * 100:.1f} %"
        )
    assert "P(weapons)" in " ".join(c.value for c in at.caption)
    fixes = [d.value for d in at.dataframe if "top_fix" in d.value.columns][0]
    with connect(demo_db, read_only=True) as con:
        from qualitylib.metrics.fixes import fix_rates

        rates = fix_rates(con)
    assert fixes["n_fixed"].sum() == rates["n_fixed"].sum() > 0
    first = fixes.iloc[0]
    assert first["fix_rate"] == f"{rates.iloc[0]['fix_rate'] * 100:.1f} %"


def _chart_data(at: AppTest, columns: set[str]) -> pd.DataFrame:
    """The one dataset among the page's charts holding ``columns`` (what a chart draws)."""
    found = [
        frame
        for chart in at.get("vega_lite_chart")
        for named in chart.proto.datasets
        if columns <= set(frame := pa.ipc.open_stream(named.data.data).read_pandas())
    ]
    assert len(found) == 1, f"{len(found)} charts draw {columns}"
    return found[0]


def test_models_page_draws_a_versions_confusion_and_weeks_like_a_person(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _open(demo_db, monkeypatch)
    picker = at.selectbox(key="model_version")
    assert picker.options == ["model:safety-clf@v1", "model:safety-clf@v2"]
    picker.set_value("model:safety-clf@v2").run()
    assert not at.exception and not at.error
    with connect(demo_db, read_only=True) as con:
        confusion = model_confusion(con)
        weeks = model_timeline(con, period="week")
    expected = confusion[confusion["model_version"] == "v2"]
    drawn = _chart_data(at, {"reference_label", "label", "n"})
    cells = ["reference_label", "label"]
    assert (
        drawn.set_index(cells)["n"].sort_index().equals(expected.set_index(cells)["n"].sort_index())
    )
    assert drawn["n"].sum() == expected["n"].sum() > 0

    drawn = _chart_data(at, {"period", "metric", "value", "ci_low", "ci_high"})
    tpr = drawn[drawn["metric"] == "TPR"].reset_index(drop=True)
    mine = weeks[(weeks["model_version"] == "v2") & weeks["tpr"].notna()].reset_index(drop=True)
    assert len(tpr) == len(mine) > 0
    assert tpr["value"].tolist() == mine["tpr"].tolist()
    assert tpr["ci_low"].tolist() == mine["tpr_ci_low"].tolist()
    assert tpr["n"].tolist() == mine["tpr_n"].tolist()
    fpr = drawn[drawn["metric"] == "FPR"].reset_index(drop=True)
    assert fpr["ci_high"].tolist() == mine["fpr_ci_high"].dropna().tolist()


def test_agreement_page_puts_model_versions_among_the_raters(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUALITYLIB_DB", str(demo_db))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("views/agreement.py").run()
    switch = at.toggle(key="include_models")
    assert switch.label == "Include models" and switch.value is False
    pairs = [d.value for d in at.dataframe if "Kind" in d.value.columns]
    assert not pairs, "people only by default"
    assert (
        not _chart_data(at, {"annotator_a", "kappa"})["annotator_a"].str.startswith("model:").any()
    )

    switch.set_value(True).run()
    assert not at.exception and not at.error
    with connect(demo_db, read_only=True) as con:
        expected = pairwise_kappa_with_models(con)
    models = expected[expected["kind"] == "model"]
    assert set(models["annotator_a"]) == {"model:safety-clf@v1", "model:safety-clf@v2"}
    table = [d.value for d in at.dataframe if "Kind" in d.value.columns][0]
    shown = table[table["Kind"] == "model"].set_index(["Annotator", "with"])["κ"]
    assert len(shown) == len(models)
    assert sorted(shown.tolist()) == sorted(f"{v:.2f}" for v in models["kappa"])
    drawn = _chart_data(at, {"annotator_a", "kappa"})
    drawn_models = drawn[drawn["annotator_a"].str.startswith("model:")]
    assert sorted(drawn_models["kappa"].round(12)) == sorted(models["kappa"].round(12))

    at.session_state["pseudonyms"] = True
    at.run()
    drawn = _chart_data(at, {"annotator_a", "annotator_b", "kappa"})
    raters = set(drawn["annotator_a"]) | set(drawn["annotator_b"])
    people = set(expected["annotator_b"]) | set(
        expected.loc[expected["kind"] == "human", "annotator_a"]
    )
    assert {"model:safety-clf@v1", "model:safety-clf@v2"} <= raters
    assert raters == {pseudonym(p) for p in people} | {"model:safety-clf@v1", "model:safety-clf@v2"}
