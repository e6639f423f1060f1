"""Onboarding status: rolling window in SQL, hysteresis, since-dates; the demo learner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qualitylib.ingest import import_files
from qualitylib.intervals import wilson
from qualitylib.metrics.onboarding import (
    Objective,
    _fail_thresholds,
    onboarding_history,
    onboarding_status,
)
from qualitylib.store import connect

LABELS = "label,is_positive\nsafe,false\nnudity,true\n"
SMALL = Objective(tpr_min=0.75, fpr_max=0.25, window=8, min_positives=4, min_negatives=4)


def _store(db: Path, write, rows: list[tuple[str, str, str, str]]) -> Path:
    """Reference items p* (nudity) and n* (safe); ``rows`` are (item, annotator, label, day)."""
    items = sorted({item for item, *_ in rows})
    reference = "item_id,label,decided_at\n" + "".join(
        f"{i},{'nudity' if i.startswith('p') else 'safe'},2026-08-01\n" for i in items
    )
    annotations = "item_id,annotator_id,label,annotated_at\n" + "".join(
        f"{i},{a},{label},{day}\n" for i, a, label, day in rows
    )
    import_files(db, "labels", [write("labels.csv", LABELS)])
    import_files(db, "reference", [write("reference.csv", reference)])
    import_files(db, "annotations", [write("annotations.csv", annotations)])
    return db


def _block(who: str, day: str, start: int, hits: int, false_flags: int) -> list:
    """Four positives (``hits`` found) and four negatives (``false_flags`` flagged) in a day."""
    rows = []
    for j in range(4):
        hour = f"{day}T{8 + 2 * j:02d}:00:00Z"
        rows.append((f"p{start + j}", who, "nudity" if j < hits else "safe", hour))
        flagged = "nudity" if j < false_flags else "safe"
        rows.append((f"n{start + j}", who, flagged, f"{day}T{9 + 2 * j:02d}:00:00Z"))
    return rows


def test_learner_becomes_aligned_on_the_first_good_window(db: Path, write) -> None:
    rows = _block("ann", "2026-09-01", 0, 1, 3) + _block("ann", "2026-09-02", 4, 4, 0)
    rows += _block("ann", "2026-09-03", 8, 3, 1)  # 3/4 and 1/4: still meets 0.75 / 0.25
    rows += _block("bob", "2026-09-01", 0, 1, 1)[:3]  # three labels: not enough data
    with connect(_store(db, write, rows), read_only=True) as con:
        status = onboarding_status(con, objective=SMALL)
        history = onboarding_history(con, objective=SMALL)
    ann, bob = status.iloc[0], status.iloc[1]
    assert ann["status"] == "aligned"
    # at p6 (day 2, 12:00) the last 8 labels are n2 p3 n3 p4 n4 p5 n5 p6: TPR 3/4, FPR 1/4
    assert ann["since"] == pd.Timestamp("2026-09-02 12:00")
    assert ann["first_aligned"] == ann["since"]
    assert ann["n_reference_labels"] == 24 and ann["window_n"] == 8
    assert (ann["tpr"], ann["fpr"], ann["tpr_n"], ann["fpr_n"]) == (0.75, 0.25, 4, 4)
    low, high = wilson(3, 4)
    assert (ann["tpr_ci_low"], ann["tpr_ci_high"]) == pytest.approx((low, high))
    assert bob["status"] == "not_enough_data" and bob["n_reference_labels"] == 3
    assert history[history["annotator_id"] == "ann"]["status"].tolist() == [
        "in_training",
        "aligned",
        "aligned",
    ]


def test_aligned_annotator_regresses_only_on_clear_evidence(db: Path, write) -> None:
    rows = _block("ann", "2026-09-01", 0, 4, 0)  # aligned
    rows += _block("ann", "2026-09-02", 4, 2, 2)  # window 6/8 hits, 2/8 flags: still meets
    rows += _block("ann", "2026-09-03", 8, 0, 4)  # window 2/8, 6/8: clearly fails
    with connect(_store(db, write, rows), read_only=True) as con:
        days = onboarding_history(con, objective=SMALL)
        status = onboarding_status(con, objective=SMALL).iloc[0]
    assert days["status"].tolist() == ["aligned", "aligned", "regressed"]
    assert status["status"] == "regressed"
    assert status["first_aligned"] == pd.Timestamp("2026-09-01 15:00")
    # the first window that clearly fails: Wilson interval entirely on the wrong side
    assert status["since"] > pd.Timestamp("2026-09-03")


def test_fail_thresholds_match_wilson() -> None:
    objective = Objective(window=60)
    tp_max, fp_min = _fail_thresholds(objective)
    for n in (20, 40, 60):
        low, high = wilson(np.arange(n + 1), np.full(n + 1, n))
        assert tp_max[n] == np.flatnonzero(high < objective.tpr_min).max()
        assert fp_min[n] == np.flatnonzero(low > objective.fpr_max).min()


def test_objective_validation() -> None:
    with pytest.raises(ValueError, match="can never hold"):
        Objective(window=30)
    with pytest.raises(ValueError, match="between 0 and 1"):
        Objective(tpr_min=85)


def test_demo_learner_aligned_within_a_week_and_experts_aligned(personas_db: Path) -> None:
    with connect(personas_db, read_only=True) as con:
        status = onboarding_status(con)
        personas = con.execute("SELECT annotator_id, persona, aligned_from FROM demo_personas").df()
    table = status.merge(personas, on="annotator_id")
    for persona in ("learner", "newcomer"):
        row = table[table["persona"] == persona].iloc[0]
        truth = pd.Timestamp(row["aligned_from"]).tz_localize(None)
        assert row["status"] == "aligned"
        assert abs(row["first_aligned"] - truth) <= pd.Timedelta(days=7), persona
    experts = table[table["persona"] == "expert"]
    assert (experts["status"] == "aligned").all()
    assert table.loc[table["persona"] == "random", "status"].item() == "in_training"
    assert table.loc[table["persona"] == "lenient", "status"].item() == "in_training"


def _walk(labels: list[tuple[bool, bool, pd.Timestamp]], objective: Objective) -> dict:
    """The status machine of the module docstring, label by label in plain Python."""
    status, since, first_aligned, ever_met, ever_enough, last = None, None, None, False, False, ""
    for seq, (_, _, at) in enumerate(labels):
        window = labels[max(0, seq + 1 - objective.window) : seq + 1]
        pos = [given for ref, given, _ in window if ref]
        neg = [given for ref, given, _ in window if not ref]
        enough = len(pos) >= objective.min_positives and len(neg) >= objective.min_negatives
        tp, fp = sum(pos), sum(neg)
        meets = enough and tp >= objective.tpr_min * len(pos) and fp <= objective.fpr_max * len(neg)
        fails = enough and (
            wilson(tp, len(pos))[1] < objective.tpr_min
            or wilson(fp, len(neg))[0] > objective.fpr_max
        )
        last = "met" if meets else "failed" if fails else last
        ever_met, ever_enough = ever_met or meets, ever_enough or enough
        now = (
            "aligned"
            if last == "met"
            else "regressed"
            if ever_met
            else "in_training"
            if ever_enough
            else "not_enough_data"
        )
        if now != status:
            status, since = now, at
        if now == "aligned" and first_aligned is None:
            first_aligned = at
    return {"status": status, "since": since, "first_aligned": first_aligned}


def test_status_matches_a_label_by_label_walk(db: Path, write) -> None:
    """The end state from per-annotator aggregates equals walking every label in order."""
    rng = np.random.default_rng(3)
    rows, walks = [], {}
    # (labels, hit rate and false-flag rate per third): random skills, one who never gets
    # there, one with too few labels, one who learns, regresses and recovers
    people = [(90, rng.uniform(0.3, 1.0, 3), rng.uniform(0.0, 0.6, 3)) for _ in range(6)]
    people += [(90, [0.3] * 3, [0.6] * 3), (6, [1.0] * 3, [0.0] * 3)]
    people += [(90, [0.95, 0.2, 0.95], [0.02, 0.7, 0.02])]
    for person, (n_labels, hit, flag) in enumerate(people):
        who = f"p{person}"
        labels = []
        for n in range(n_labels):
            ref = bool(rng.random() < 0.5)
            phase = n // 30  # three phases with different skill: learn, regress, recover
            given = bool(rng.random() < (hit[phase] if ref else flag[phase]))
            at = pd.Timestamp("2026-09-01") + pd.Timedelta(minutes=37 * n + person)
            item = f"{'p' if ref else 'n'}{person}-{n}"
            rows.append((item, who, "nudity" if given else "safe", at.isoformat()))
            labels.append((ref, given, at))
        walks[who] = _walk(labels, SMALL)
    with connect(_store(db, write, rows), read_only=True) as con:
        status = onboarding_status(con, objective=SMALL).set_index("annotator_id")
    assert {walk["status"] for walk in walks.values()} == {
        "aligned",
        "regressed",
        "in_training",
        "not_enough_data",
    }
    for who, walk in walks.items():
        got = status.loc[who]
        assert got["status"] == walk["status"], who
        assert got["since"] == walk["since"], who
        assert (pd.isna(got["first_aligned"]) and walk["first_aligned"] is None) or got[
            "first_aligned"
        ] == walk["first_aligned"], who
