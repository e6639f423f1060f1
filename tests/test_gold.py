"""Gold budget and exposure: sample sizes against brute force, the trend against statsmodels,
leaked gold and suspect references found, the weekly counts against a recount."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import Table

from qualitylib.cli import main
from qualitylib.ingest import import_files
from qualitylib.intervals import wilson
from qualitylib.metrics.gold import GoldPlan, gold_budget, gold_exposure, labels_for_width
from qualitylib.store import connect

START = pd.Timestamp("2026-09-07 09:00")  # a Monday


@pytest.mark.parametrize(("rate", "width"), [(0.5, 0.2), (0.85, 0.1), (0.04, 0.05), (0.0, 0.1)])
def test_labels_for_width_is_the_smallest_sample(rate: float, width: float) -> None:
    n = labels_for_width(rate, width)
    low, high = wilson(round(rate * n), n)
    assert high - low <= width
    # no smaller sample (brute force over all of them) reaches the width
    small = np.arange(1, n)
    low, high = wilson(np.round(rate * small), small)
    assert (high - low > width).all()


@pytest.fixture
def exposure_db(db: Path, tmp_path: Path) -> Path:
    """Control item `leak` shown 20 times (wrong 8 times first, then right), `bad` that five
    people all fail, `fine` answered right by all; production phase, one showing an hour."""
    rows = []
    for j in range(20):
        rows.append(("leak", f"p{j:02d}", "safe" if j < 8 else "weapons", j))
    for j in range(5):
        rows.append(("bad", f"p{j:02d}", "safe", 30 + j))
        rows.append(("fine", f"p{j:02d}", "safe", 40 + j))
    ann = pd.DataFrame(rows, columns=["item_id", "annotator_id", "label", "hour"])
    ann["annotated_at"] = [
        (START + pd.Timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for h in ann.pop("hour")
    ]
    (tmp_path / "labels.csv").write_text("label,is_positive\nsafe,false\nweapons,true\n")
    pd.DataFrame(
        {"item_id": ["leak", "bad", "fine"], "label": ["weapons", "weapons", "safe"],
         "decided_at": "2026-09-01"}
    ).to_csv(tmp_path / "reference.csv", index=False)  # fmt: skip
    ann.to_csv(tmp_path / "annotations.csv", index=False)
    for kind in ("labels", "reference", "annotations"):
        import_files(db, kind, [tmp_path / f"{kind}.csv"])
    return db


def test_exposure_flags_leaked_gold_and_suspect_references(exposure_db: Path) -> None:
    with connect(exposure_db, read_only=True) as con:
        table = gold_exposure(con).set_index("item_id")
    assert table["n_shown"].to_dict() == {"leak": 20, "bad": 5, "fine": 5}
    assert table.loc["bad", "annotators"] == "p00;p01;p02;p03;p04"
    assert table["leaked"].to_dict() == {"leak": True, "bad": False, "fine": False}
    assert table["suspect_reference"].to_dict() == {"leak": False, "bad": True, "fine": False}
    # the trend is the linear-by-linear association of statsmodels (Agresti's M)
    right = np.r_[np.zeros(8), np.ones(12)]
    counts = np.stack([1 - right, right], axis=1)  # showings x (wrong, right)
    expected = Table(counts, shift_zeros=False).test_ordinal_association(
        row_scores=np.arange(1, 21), col_scores=np.array([0, 1])
    )
    assert table.loc["leak", "trend_z"] == pytest.approx(expected.zscore)
    assert table.loc["leak", "accuracy"] == pytest.approx(0.6)


def test_budget_counts_and_needs(exposure_db: Path) -> None:
    plan = GoldPlan(width=0.3, delay_weeks=1)
    with connect(exposure_db, read_only=True) as con:
        table = gold_budget(con, plan=plan).set_index("annotator_id")
    # everything falls in one week: p00 saw leak, bad and fine
    assert table.loc["p00", ["controls_last_week", "positives_last_week"]].tolist() == [3, 2]
    assert table.loc["p10", "controls_last_week"] == 1
    assert (table["week_start"] == START.date()).all()
    # team: 25 positive control labels (leak, bad), 12 flagged; 5 negative, none flagged
    assert table["team_tpr"].iloc[0] == pytest.approx(12 / 25)
    share = 25 / 30
    width_need = max(labels_for_width(12 / 25, 0.3) / share, labels_for_width(0, 0.3) / (1 - share))
    assert table["needed_for_width"].iloc[0] == int(np.ceil(width_need))
    # delay: per class, p0 = (disagreements + 0.5) / (labels + 1); weapons 13 of 25 (share
    # 25/30), safe 0 of 5 (share 5/30); R = 5, h = 5 over one week
    r, h = 5.0, 5.0
    needs = {}
    for name, x, n in (("weapons", 13, 25), ("safe", 0, 5)):
        p0 = (x + 0.5) / (n + 1)
        p1 = r * p0 / (1 - p0 + r * p0)
        gain = p1 * np.log(r) - np.log(1 - p0 + r * p0)
        needs[name] = h / gain / (n / 30)
    assert table["needed_for_delay"].iloc[0] == int(np.ceil(max(needs.values())))
    assert table["drift_class"].iloc[0] == max(needs, key=needs.get)


def test_cli_gold_tables(exposure_db: Path) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["export", "--db", str(exposure_db), "gold-budget", "--width", "0.3",
                     "--delay-weeks", "1"])  # fmt: skip
    assert code == 0
    assert pd.read_csv(io.StringIO(out.getvalue()))["needed_for_width"].nunique() == 1
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["export", "--db", str(exposure_db), "gold-exposure"]) == 0
    assert pd.read_csv(io.StringIO(out.getvalue()))["leaked"].sum() == 1


def test_review_queue_page_lists_the_references_everyone_fails(
    exposure_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("QUALITYLIB_DB", str(exposure_db))
    app = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    at = AppTest.from_file(str(app), default_timeout=120).run()
    at.switch_page("views/review.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Control items everyone fails" in [h.value for h in at.subheader]
    table = [d.value for d in at.dataframe if "95 % CI up to" in d.value.columns][0]
    # `bad`: five people, all wrong; `leak` (60 % right) and `fine` are not suspect
    assert table[["Item", "Shown", "People", "Accuracy"]].values.tolist() == [
        ["bad", 5, 5, "0.0 %"]
    ]


@pytest.fixture
def difficulty_db(db: Path, tmp_path: Path) -> Path:
    """Five trained people g1..g5 (right on 16 training items) and a trainee n1 (calls every
    item safe); then `wrong` (weapons) all five call safe, `few` three call safe, and `hard`
    two of five call safe (g1 first called it safe too, then weapons)."""
    training = ["n01", "n02", *(f"p{j:02d}" for j in range(1, 13)), "n03", "n04"]
    truth = {i: "safe" if i.startswith("n") else "weapons" for i in training}
    truth |= {"wrong": "weapons", "few": "weapons", "hard": "weapons"}
    rows = []
    for who in ("g1", "g2", "g3", "g4", "g5", "n1"):
        for hour, item in enumerate(training):
            rows.append((item, who, "safe" if who == "n1" else truth[item], hour))
    later = [("wrong", w, "safe") for w in ("g1", "g2", "g3", "g4", "g5", "n1")]
    later += [("few", w, "safe") for w in ("g1", "g2", "g3")]
    later += [("hard", "g1", "safe"), ("hard", "g2", "safe"), ("hard", "g3", "safe")]
    later += [("hard", w, "weapons") for w in ("g4", "g5", "n1", "g1")]
    rows += [(item, who, label, 100 + j) for j, (item, who, label) in enumerate(later)]
    ann = pd.DataFrame(rows, columns=["item_id", "annotator_id", "label", "hour"])
    ann["annotated_at"] = [
        (START + pd.Timedelta(hours=h)).strftime("%Y-%m-%dT%H:%M:%SZ") for h in ann.pop("hour")
    ]
    (tmp_path / "labels.csv").write_text("label,is_positive\nsafe,false\nweapons,true\n")
    reference = pd.DataFrame({"item_id": list(truth), "label": list(truth.values())})
    reference.assign(decided_at="2026-09-01").to_csv(tmp_path / "reference.csv", index=False)
    ann.to_csv(tmp_path / "annotations.csv", index=False)
    for kind in ("labels", "reference", "annotations"):
        import_files(db, kind, [tmp_path / f"{kind}.csv"])
    return db


def test_difficulty_counts_trained_annotators_and_flags_a_wrong_reference(
    difficulty_db: Path,
) -> None:
    from statsmodels.stats.proportion import proportion_confint

    from qualitylib.metrics.gold import gold_difficulty
    from qualitylib.metrics.onboarding import Objective

    objective = Objective(min_positives=2, min_negatives=2)
    with connect(difficulty_db, read_only=True) as con:
        table = gold_difficulty(con, objective=objective)
        nobody = gold_difficulty(
            con,
            objective=Objective(
                tpr_min=1.0, fpr_max=0.0, window=2, min_positives=1, min_negatives=1
            ),
        )
    top = table.set_index("item_id")
    assert table["item_id"].tolist()[:3] == ["wrong", "few", "hard"]
    wrong, few, hard = top.loc["wrong"], top.loc["few"], top.loc["hard"]
    assert (wrong["n_disagree"], wrong["difficulty_n"], wrong["difficulty"]) == (5, 5, 1.0)
    low, high = proportion_confint(5, 5, method="wilson")
    assert (wrong["difficulty_ci_low"], wrong["difficulty_ci_high"]) == pytest.approx((low, high))
    assert wrong["reference_may_be_wrong"] and wrong["top_other_label"] == "safe"
    assert wrong["reference_label"] == "weapons"
    # three of three: the interval still reaches below 0.5
    assert few["difficulty"] == 1.0 and not few["reference_may_be_wrong"]
    # g1's latest label counts (weapons); n1 is not trained
    assert (hard["n_disagree"], hard["difficulty_n"]) == (2, 5)
    assert table.loc[3:, "difficulty"].eq(0).all() and table.loc[3:, "difficulty_n"].eq(5).all()
    # labels made before alignment (n01, n02, p01: aligned at p02) do not count
    assert len(table) == 16 and not {"n01", "n02", "p01"} & set(table["item_id"])
    assert table["reference_may_be_wrong"].sum() == 1
    assert nobody.empty and "difficulty_ci_low" in nobody.columns
