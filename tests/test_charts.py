"""Chart builders: Altair specs with the expected marks, encodings and data."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import pytest

from qualitylib import charts


def _datasets(spec: dict) -> list[list[dict]]:
    return list(spec["datasets"].values())


def _encodings(spec: dict) -> list[dict]:
    return [layer["encoding"] for layer in spec.get("layer", [spec]) if "encoding" in layer]


def test_confusion_heatmap_colours_by_row_share_and_writes_counts() -> None:
    confusion = pd.DataFrame(
        {
            "reference_label": ["safe", "safe", "weapons", "weapons"],
            "label": ["safe", "weapons", "safe", "weapons"],
            "n": [90, 10, 0, 0],
        }
    )
    chart = charts.confusion_heatmap(confusion, labels=["safe", "weapons"])
    spec = chart.to_dict()
    assert isinstance(chart, alt.LayerChart)
    rect, text = spec["layer"]
    assert rect["mark"]["type"] == "rect"
    assert rect["encoding"]["color"]["field"] == "share"
    assert rect["encoding"]["x"]["sort"] == ["safe", "weapons"]
    assert text["encoding"]["text"]["field"] == "n"
    (rows,) = _datasets(spec)
    shares = {(r["reference_label"], r["label"]): r["share"] for r in rows}
    assert shares[("safe", "safe")] == pytest.approx(0.9)
    assert shares[("weapons", "safe")] is None  # an empty reference row has no share, not 0


def test_rate_over_time_has_band_line_and_objective_rules() -> None:
    rates = pd.DataFrame(
        {
            "period": pd.to_datetime(["2026-09-07", "2026-09-14", "2026-09-07", "2026-09-14"]),
            "metric": ["TPR", "TPR", "FPR", "FPR"],
            "value": [0.8, np.nan, 0.1, 0.05],
            "ci_low": [0.7, np.nan, 0.05, 0.02],
            "ci_high": [0.9, np.nan, 0.2, 0.1],
            "n": [40, 0, 200, 210],
        }
    )
    objectives = pd.DataFrame({"metric": ["TPR", "FPR"], "value": [0.9, 0.03]})
    spec = charts.rate_over_time(rates, objectives).to_dict()
    band, line, rule = spec["layer"]
    assert band["mark"]["type"] == "area"
    assert band["encoding"]["y"]["field"] == "ci_low"
    assert band["encoding"]["y2"]["field"] == "ci_high"
    assert line["encoding"]["y"]["field"] == "value"
    assert "n" in [t["field"] for t in line["encoding"]["tooltip"]]
    assert rule["mark"]["type"] == "rule"
    assert rule["mark"]["strokeDash"] == [6, 4]
    main, objective = _datasets(spec)
    assert len(main) == 3  # the week without data is left out, not drawn at 0
    assert {row["value"] for row in objective} == {0.9, 0.03}


def test_kappa_heatmap_is_symmetric_and_carries_selection() -> None:
    pairs = pd.DataFrame(
        {
            "annotator_a": ["a", "a", "b"],
            "annotator_b": ["b", "c", "c"],
            "kappa": [0.8, 0.1, np.nan],
            "n_items": [100, 50, 1],
            "percent_agreement": [0.95, 0.8, 1.0],
        }
    )
    selection = alt.selection_point(fields=["annotator_a", "annotator_b"], name="pair")
    spec = charts.kappa_heatmap(pairs, selection).to_dict()
    assert spec["mark"]["type"] == "rect"
    assert spec["encoding"]["color"]["field"] == "kappa"
    assert spec["encoding"]["x"]["sort"] == ["a", "b", "c"]
    assert spec["params"][0]["name"] == "pair"
    (rows,) = _datasets(spec)
    cells = {(r["annotator_a"], r["annotator_b"]): r["kappa"] for r in rows}
    assert cells[("a", "b")] == cells[("b", "a")] == 0.8
    assert len(rows) == 6


def test_coefficient_chart_drops_undefined_values() -> None:
    table = pd.DataFrame(
        {
            "metric": ["Fleiss' κ", "Gwet's AC1"],
            "value": [np.nan, 0.9],
            "ci_low": [np.nan, 0.88],
            "ci_high": [np.nan, 0.92],
            "n_items": [0, 500],
        }
    )
    spec = charts.coefficient_chart(table).to_dict()
    bars, points = spec["layer"]
    assert bars["encoding"]["x"]["field"] == "ci_low"
    assert bars["encoding"]["x2"]["field"] == "ci_high"
    assert points["encoding"]["x"]["field"] == "value"
    (rows,) = _datasets(spec)
    assert [r["metric"] for r in rows] == ["Gwet's AC1"]


def test_divergence_chart_highlights_team_and_chosen_people() -> None:
    divergence = pd.DataFrame(
        {
            "week_start": pd.to_datetime(["2026-09-07"] * 3),
            "who": [charts.TEAM, "a01", "a08"],
            "divergence": [0.05, 0.04, 0.2],
            "n": [300, 30, 25],
        }
    )
    spec = charts.divergence_chart(divergence, highlight=[charts.TEAM, "a08"]).to_dict()
    others, shown = spec["layer"]
    assert others["mark"]["color"] == charts.MUTED
    assert shown["encoding"]["color"]["field"] == "who"
    (rows,) = _datasets(spec)
    assert {r["who"]: r["highlighted"] for r in rows} == {"team": True, "a01": False, "a08": True}


def test_learning_curves_one_line_per_annotator_with_objective() -> None:
    curves = pd.DataFrame(
        {
            "annotator": ["x", "x", "y"],
            "tenure": [1, 51, 1],
            "value": [0.7, 0.9, 0.8],
            "ci_low": [0.6, 0.8, 0.7],
            "ci_high": [0.8, 0.95, 0.9],
            "n": [50, 50, 50],
        }
    )
    spec = charts.learning_curves(curves, objective=0.9).to_dict()
    band, line, rule = spec["layer"]
    assert line["encoding"]["color"]["field"] == "annotator"
    assert line["encoding"]["x"]["field"] == "tenure"
    assert rule["encoding"]["y"]["field"] == "objective"
