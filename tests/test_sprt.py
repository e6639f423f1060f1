"""SPRT onboarding: exact stopping points, agreement with a plain-Python Wald test, persona
trainees who pass early, late or not at all, and the export's columns."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qualitylib.cli import main
from qualitylib.ingest import import_files
from qualitylib.metrics.onboarding import Objective
from qualitylib.metrics.sprt import SPRT, average_sample_number, sprt_onboarding, sprt_paths
from qualitylib.store import connect

START = pd.Timestamp("2026-09-01 08:00")


def _store(db: Path, tmp_path: Path, people: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Reference items ``r<n>`` (positive when ``is_pos``) and each person's answers in order:
    ``people[id] = (is_pos, flagged)``, one reference label per minute."""
    n = max(len(pos) for pos, _ in people.values())
    rows, reference = [], {}
    for person, (is_pos, flagged) in people.items():
        for i, (pos, flag) in enumerate(zip(is_pos, flagged, strict=True)):
            item = f"{person}-r{i}"
            reference[item] = "weapons" if pos else "safe"
            label = ("weapons" if pos else "drugs") if flag else "safe"
            at = (START + pd.Timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
            rows.append((item, person, label, at, "training"))
    assert n == max(len(v[0]) for v in people.values())
    labels = tmp_path / "labels.csv"
    labels.write_text("label,is_positive\nsafe,false\nweapons,true\ndrugs,true\n")
    ref = tmp_path / "reference.csv"
    pd.DataFrame(
        {"item_id": list(reference), "label": list(reference.values()), "decided_at": "2026-08-01"}
    ).to_csv(ref, index=False)
    ann = tmp_path / "annotations.csv"
    pd.DataFrame(
        rows, columns=["item_id", "annotator_id", "label", "annotated_at", "phase"]
    ).to_csv(ann, index=False)
    import_files(db, "labels", [labels])
    import_files(db, "reference", [ref])
    import_files(db, "annotations", [ann])


def _wald(is_pos: np.ndarray, flagged: np.ndarray, sprt: SPRT, objective: Objective) -> tuple:
    """Plain-Python Wald test, one answer at a time: (decision, n_to_decision)."""
    (t0, t1), (f0, f1) = sprt.hypotheses(objective).values()
    llr = {"tpr": 0.0, "fpr": 0.0}
    verdict: dict[str, tuple[str, int]] = {}
    for n, (pos, flag) in enumerate(zip(is_pos, flagged, strict=True), start=1):
        rate, p0, p1 = ("tpr", t0, t1) if pos else ("fpr", f0, f1)
        if rate in verdict:
            continue
        llr[rate] += np.log(p1 / p0) if flag else np.log((1 - p1) / (1 - p0))
        if llr[rate] >= sprt.upper:
            verdict[rate] = ("h1", n)
        elif llr[rate] <= sprt.lower:
            verdict[rate] = ("h0", n)
        if any(v == "h0" for v, _ in verdict.values()):
            return "not_aligned", n
        if len(verdict) == 2:
            return "aligned", n
    return "undecided", None


def test_a_perfect_trainee_stops_where_wald_says(db: Path, tmp_path: Path) -> None:
    is_pos = np.tile([True, False], 40)
    _store(db, tmp_path, {"t1": (is_pos, is_pos)})
    with connect(db, read_only=True) as con:
        row = sprt_onboarding(con).iloc[0]
        path = sprt_paths(con)
    # each positive adds ln(0.85/0.70), each negative ln(0.95/0.85); A = ln(0.975 / 0.05): the 16th
    # positive (label 31) settles TPR, the 27th negative (label 54) FPR
    assert (row["decision"], row["n_to_decision"]) == ("aligned", 54)
    assert row["llr_tpr"] == pytest.approx(16 * np.log(0.85 / 0.70))
    assert row["llr_fpr"] == pytest.approx(27 * np.log(0.95 / 0.85))
    assert path["llr_tpr"].iloc[30] == pytest.approx(row["llr_tpr"])
    assert len(path) == 80


def test_sql_matches_a_plain_wald_test_and_personas_pass_early_late_or_not(
    db: Path, tmp_path: Path
) -> None:
    rng = np.random.default_rng(7)
    rates = {
        "early": (0.99, 0.005),  # passes early
        "late": (0.90, 0.035),  # passes, but needs more evidence
        "lenient": (0.60, 0.02),  # flagged early on TPR
        "strict": (0.95, 0.20),  # flagged on FPR
    }
    people = {}
    for person, (tpr, fpr) in rates.items():
        is_pos = rng.random(400) < 0.4
        flagged = np.where(is_pos, rng.random(400) < tpr, rng.random(400) < fpr)
        people[person] = (is_pos, flagged)
    _store(db, tmp_path, people)
    sprt, objective = SPRT(), Objective()
    with connect(db, read_only=True) as con:
        table = sprt_onboarding(con, objective, sprt).set_index("annotator_id")
    for person, (is_pos, flagged) in people.items():
        decision, n = _wald(is_pos, flagged, sprt, objective)
        assert (table.loc[person, "decision"], table.loc[person, "n_to_decision"]) == (decision, n)
    assert table["decision"].to_dict() == {
        "early": "aligned",
        "late": "aligned",
        "lenient": "not_aligned",
        "strict": "not_aligned",
    }
    assert table.loc["early", "n_to_decision"] < table.loc["late", "n_to_decision"]
    assert table.loc["early", "expected_n"] < table.loc["late", "expected_n"]


def test_average_sample_number_matches_simulation() -> None:
    sprt = SPRT()
    p0, p1 = sprt.hypotheses(Objective())["tpr"]
    rng = np.random.default_rng(0)
    for p in (p1, (p0 + p1) / 2, 0.95):
        z = np.where(rng.random((4000, 600)) < p, np.log(p1 / p0), np.log((1 - p1) / (1 - p0)))
        paths = z.cumsum(axis=1)
        stop = np.argmax((paths >= sprt.upper) | (paths <= sprt.lower), axis=1) + 1
        wald = average_sample_number(np.array([p]), p0, p1, sprt.upper, sprt.lower)[0]
        # Wald's approximation ignores the overshoot: it underestimates by a few trials
        assert stop.mean() == pytest.approx(wald, rel=0.2)


def test_bad_error_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="alpha and beta are error rates"):
        SPRT(alpha=0.7)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        SPRT(margin_tpr=0.9).hypotheses(Objective())


def test_cli_onboarding_sprt_adds_its_columns(db: Path, tmp_path: Path) -> None:
    is_pos = np.tile([True, False], 40)
    _store(db, tmp_path, {"t1": (is_pos, is_pos)})
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["export", "--db", str(db), "onboarding", "--method", "sprt", "--alpha",
                     "0.01", "--beta", "0.1"])  # fmt: skip
    assert code == 0
    table = pd.read_csv(io.StringIO(out.getvalue()))
    assert list(table.columns[-5:]) == [
        "decision",
        "n_to_decision",
        "llr_tpr",
        "llr_fpr",
        "expected_n",
    ]
    # A = ln(0.95 / 0.01): 24 positives (label 47) and 41 negatives (label 82 > 80: undecided)
    assert table.loc[0, "decision"] == "undecided" and np.isnan(table.loc[0, "n_to_decision"])
    plain = io.StringIO()
    with redirect_stdout(plain):
        main(["export", "--db", str(db), "onboarding"])
    assert "decision" not in pd.read_csv(io.StringIO(plain.getvalue())).columns


def test_behaviour_demo_trainees_pass_early_late_or_not(behaviour_db: Path) -> None:
    from qualitylib import demo_behaviour
    from qualitylib.metrics.filters import Filters
    from qualitylib.metrics.onboarding import onboarding_status

    trainees = tuple(t.annotator_id for t in demo_behaviour.TRAINEES)
    with connect(behaviour_db, read_only=True) as con:
        table = sprt_onboarding(con, filters=Filters(annotators=trainees)).set_index("annotator_id")
        window = onboarding_status(con, Filters(annotators=trainees)).set_index("annotator_id")
    tables = demo_behaviour.generate(seed=0)
    truth = tables["reference"].set_index("item_id")["label"]
    for person in trainees:  # the store's decision is a plain Wald test on the generated rows
        rows = tables["annotations"].query("annotator_id == @person")
        is_pos = (rows["item_id"].map(truth) != "safe").to_numpy()
        decision = _wald(is_pos, (rows["label"] != "safe").to_numpy(), SPRT(), Objective())
        assert (table.loc[person, "decision"], table.loc[person, "n_to_decision"]) == decision
    assert table["decision"].to_dict() == {"b11": "aligned", "b12": "aligned", "b13": "not_aligned"}
    assert table["n_to_decision"].to_dict() == {"b11": 57, "b12": 128, "b13": 42}
    # the fixed window agrees on who is aligned, and releases the learner later too
    assert window["status"].to_dict() == {"b11": "aligned", "b12": "aligned", "b13": "in_training"}
    assert window.loc["b11", "since"] < window.loc["b12", "since"]
