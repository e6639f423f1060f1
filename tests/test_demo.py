"""The demo generator: reproducible, canonical layouts, and personas visible in the raw data."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from qualitylib import demo, demo_boxes

SMALL = 5_000
MEDIUM = 100_000  # enough control items per annotator for the persona checks
COLUMNS = {
    "labels": ["label", "is_positive", "rank", "color"],
    "annotators": ["annotator_id", "name", "team", "role", "started_at"],
    "items": ["item_id", "uri", "source", "region", "category"],
    "reference": ["item_id", "label", "decided_at", "policy_version", "reason", "decided_by"],
    "annotations": [
        "item_id", "annotator_id", "label", "annotated_at", "reason", "unsure",
        "policy_version", "phase", "batch",
    ],
    "personas": ["annotator_id", "persona", "drift_start", "drift_label", "aligned_from", "notes"],
}  # fmt: skip


@pytest.fixture(scope="module")
def small() -> demo.DemoData:
    return demo.generate(seed=1, n_annotations=SMALL)


@pytest.fixture(scope="module")
def medium() -> demo.DemoData:
    return demo.generate(seed=0, n_annotations=MEDIUM)


def _ids(data: demo.DemoData, persona: str) -> list[str]:
    return data.personas.loc[data.personas.persona == persona, "annotator_id"].tolist()


def _scored(data: demo.DemoData) -> pd.DataFrame:
    """Production labels with the true label in force when they were made."""
    ann = data.annotations[data.annotations.phase == "production"]
    truth = data.truth.set_index("item_id")
    v2 = ann.annotated_at >= demo.week_start(demo.V2_WEEK)
    return ann.assign(
        truth=np.where(v2, ann.item_id.map(truth.label_v2), ann.item_id.map(truth.label_v1)),
        control=ann.item_id.map(truth.is_reference).to_numpy(dtype=bool),
        flagged=ann.label != "safe",
    )


def _control_rates(data: demo.DemoData) -> pd.DataFrame:
    """Empirical TPR and FPR per annotator on control items (rows: annotator_id)."""
    controls = _scored(data).query("control")
    rates = controls.groupby(["annotator_id", controls.truth != "safe"]).flagged.mean().unstack()
    return rates.rename(columns={True: "tpr", False: "fpr"})


# --- reproducibility and layout -------------------------------------------------------------
def test_same_seed_gives_identical_frames(small: demo.DemoData) -> None:
    again = demo.generate(seed=1, n_annotations=SMALL)
    for field in fields(demo.DemoData):
        pd.testing.assert_frame_equal(getattr(small, field.name), getattr(again, field.name))


def test_different_seed_gives_different_frames(small: demo.DemoData) -> None:
    other = demo.generate(seed=2, n_annotations=SMALL)
    assert not small.annotations.equals(other.annotations)
    assert not small.items.equals(other.items)


def test_column_layouts(small: demo.DemoData) -> None:
    for kind, columns in COLUMNS.items():
        assert list(getattr(small, kind).columns) == columns, kind


def test_label_set(small: demo.DemoData) -> None:
    labels = small.labels.set_index("label")
    assert list(labels.index) == ["safe", "nudity", "weapons", "drugs", "alcohol", "gambling"]
    assert not labels.loc["safe", "is_positive"] and labels.loc["safe", "rank"] == 0
    assert labels.drop(index="safe").is_positive.all()
    assert labels.color.str.fullmatch(r"#[0-9A-F]{6}").all() and labels.color.is_unique


def test_n_annotations_is_exact(small: demo.DemoData) -> None:
    assert len(small.annotations) == SMALL


def test_annotators(small: demo.DemoData) -> None:
    annotators = small.annotators
    assert annotators.annotator_id.is_unique and annotators.name.is_unique
    assert set(annotators.team) == {"team-a", "team-b"}
    assert (annotators.role == "committee").sum() == 3
    assert not annotators.name.map(str.isascii).all()  # Zoë
    active = set(small.annotations.annotator_id)
    assert active == set(annotators.annotator_id[annotators.role == "annotator"])


def test_timestamps_in_working_hours_and_policy_version(small: demo.DemoData) -> None:
    at = small.annotations.annotated_at
    assert str(at.dt.tz) == "UTC"
    assert at.min() >= demo.CAMPAIGN_START
    assert at.max() < demo.week_start(demo.N_WEEKS + 1)
    assert (at.dt.day_of_week < demo.WORK_DAYS).all()
    assert at.dt.hour.between(*demo.WORK_HOURS, inclusive="left").all()
    expected = np.where(at >= demo.week_start(demo.V2_WEEK), "v2", "v1")
    assert (small.annotations.policy_version == expected).all()
    assert at.is_monotonic_increasing


def test_each_annotator_labels_an_item_at_most_once(small: demo.DemoData) -> None:
    ann = small.annotations
    assert not ann.duplicated(["item_id", "annotator_id"]).any()
    assert not ann.duplicated(["item_id", "annotator_id", "annotated_at"]).any()
    assert set(ann.item_id) <= set(small.items.item_id)


def test_items_and_uris(small: demo.DemoData) -> None:
    items = small.items
    assert items.item_id.is_unique
    assert (items.uri == "demo://items/" + items.item_id + ".jpg").all()
    assert set(items.source) == set(demo.SOURCES)


# --- campaign shape --------------------------------------------------------------------------
def test_safe_share_of_production(medium: demo.DemoData) -> None:
    scored = _scored(medium)
    assert 0.92 <= (scored.label == "safe").mean() <= 0.95
    assert 0.95 <= (medium.truth.label_v1[~medium.truth.is_reference] == "safe").mean() <= 0.98


def test_control_share_and_overlap(medium: demo.DemoData) -> None:
    scored = _scored(medium)
    assert scored.control.mean() == pytest.approx(demo.CONTROL_SHARE, abs=0.002)
    per_item = scored[~scored.control].groupby("item_id").size()
    assert per_item.max() == 3
    assert 0.35 <= (per_item > 1).mean() <= 0.55


def test_reference_set(medium: demo.DemoData) -> None:
    ref = medium.reference
    v1 = ref[ref.policy_version == "v1"]
    assert v1.item_id.is_unique
    assert set(v1.label) == set(medium.labels.label)
    assert (v1.label != "safe").mean() == pytest.approx(0.4, abs=0.01)
    assert (v1.decided_at < demo.CAMPAIGN_START).all()
    assert set(ref.decided_by) == set(_ids(medium, "committee"))
    assert set(v1.item_id) == set(medium.truth.item_id[medium.truth.is_reference])


def test_v2_reference_rows_for_toy_guns(medium: demo.DemoData) -> None:
    ref, items = medium.reference, medium.items
    toy_guns = set(items.item_id[items.category == "toy_gun"]) & set(ref.item_id)
    v2 = ref[ref.policy_version == "v2"]
    assert len(toy_guns) > 0 and set(v2.item_id) == toy_guns
    assert (v2.label == "safe").all() and (v2.decided_at == demo.week_start(demo.V2_WEEK)).all()
    assert (v2.reason == demo.TOY_GUN_V2_REASON).all()
    v1_of_toys = ref[ref.item_id.isin(toy_guns) & (ref.policy_version == "v1")]
    assert len(v1_of_toys) == len(toy_guns) and (v1_of_toys.label == "weapons").all()


def test_training_phase(medium: demo.DemoData) -> None:
    ann = medium.annotations
    training = ann[ann.phase == "training"]
    assert set(training.annotator_id) == set(_ids(medium, "learner") + _ids(medium, "newcomer"))
    truth = medium.truth.set_index("item_id")
    assert training.item_id.map(truth.is_training).all()
    production = ann[ann.phase == "production"]
    last_training = training.groupby("annotator_id").annotated_at.max()
    first_production = production.groupby("annotator_id").annotated_at.min()
    assert (last_training < first_production[last_training.index]).all()
    starts = medium.annotators.set_index("annotator_id").started_at
    first_training = training.groupby("annotator_id").annotated_at.min()
    assert (first_training >= starts[first_training.index]).all()


def test_unsure_concentrates_on_ambiguous_items(medium: demo.DemoData) -> None:
    ann = medium.annotations
    ambiguous = ann.item_id.map(medium.truth.set_index("item_id").ambiguity).to_numpy() > 0
    assert ann.unsure[ambiguous].mean() > 10 * ann.unsure[~ambiguous].mean()
    assert ambiguous[ann.unsure.to_numpy()].mean() > 0.5


def test_hard_source_is_more_ambiguous(medium: demo.DemoData) -> None:
    ambiguity = medium.truth.ambiguity.gt(0).groupby(medium.items.source).mean()
    assert ambiguity.idxmax() == demo.HARD_SOURCE


# --- personas visible in the data ------------------------------------------------------------
def test_lenient_misses_positives(medium: demo.DemoData) -> None:
    rates = _control_rates(medium)
    experts = rates.loc[_ids(medium, "expert")]
    (lenient,) = _ids(medium, "lenient")
    assert rates.tpr[lenient] < experts.tpr.min() - 0.15
    assert rates.fpr[lenient] <= experts.fpr.max()


def test_strict_flags_safe_items(medium: demo.DemoData) -> None:
    rates = _control_rates(medium)
    experts = rates.loc[_ids(medium, "expert")]
    (strict,) = _ids(medium, "strict")
    assert rates.fpr[strict] > experts.fpr.max() + 0.03
    assert rates.tpr[strict] >= experts.tpr.median()


def test_random_clicker_is_on_the_chance_diagonal(medium: demo.DemoData) -> None:
    rates = _control_rates(medium)
    (random,) = _ids(medium, "random")
    assert rates.tpr[random] < 0.2
    assert abs(rates.tpr[random] - rates.fpr[random]) < 0.05


def test_drifter_misses_its_class_after_drift_start(medium: demo.DemoData) -> None:
    persona = medium.personas.set_index("persona").loc["drifter"]
    assert persona.drift_start == demo.week_start(demo.DRIFT_WEEK)
    scored = _scored(medium)
    own = scored[(scored.annotator_id == persona.annotator_id) & (scored.truth == "alcohol")]
    missed = own.label != "alcohol"
    before = missed[own.annotated_at < persona.drift_start].mean()
    settled = missed[own.annotated_at >= persona.drift_start + pd.Timedelta(weeks=1)].mean()
    assert before < 0.2 and settled > 0.5
    other_classes = scored[
        (scored.annotator_id == persona.annotator_id)
        & ~scored.truth.isin(["safe", persona.drift_label])
        & (scored.annotated_at >= persona.drift_start)
    ]
    assert (other_classes.label == "safe").mean() < 0.2  # only one class drifts


def test_stale_policy_keeps_calling_toy_guns_weapons(medium: demo.DemoData) -> None:
    scored = _scored(medium)
    toy_gun_items = set(medium.items.item_id[medium.items.category == "toy_gun"])
    after_v2 = scored[
        scored.item_id.isin(toy_gun_items) & (scored.annotated_at >= demo.week_start(demo.V2_WEEK))
    ]
    weapons_share = (after_v2.label == "weapons").groupby(after_v2.annotator_id).mean()
    (stale,) = _ids(medium, "stale_policy")
    assert weapons_share[stale] > 0.8
    assert weapons_share.drop(index=stale).max() < 0.3


def test_learner_starts_near_70_percent_and_converges(medium: demo.DemoData) -> None:
    (learner,) = _ids(medium, "learner")
    ann = medium.annotations
    own = ann[ann.annotator_id == learner]
    truth = medium.truth.set_index("item_id").label_v1
    training = own[own.phase == "training"]
    first_week = training[training.annotated_at < training.annotated_at.min().normalize()
                          + pd.Timedelta(weeks=1)]  # fmt: skip
    assert 0.6 <= (first_week.label == first_week.item_id.map(truth)).mean() <= 0.8
    rates = _control_rates(medium)
    assert rates.tpr[learner] > 0.8


def test_aligned_from_follows_the_simulated_rates(medium: demo.DemoData) -> None:
    personas = medium.personas.set_index("annotator_id")
    weekly = medium.weekly_rates
    for annotator, rows in weekly.groupby("annotator_id"):
        aligned = rows.expected_tpr.ge(demo.ALIGNED_TPR) & rows.expected_fpr.le(demo.ALIGNED_FPR)
        assert (aligned == rows.aligned).all()
        stays = aligned[::-1].cummin()[::-1]
        expected = rows.week_start[stays].min() if stays.iloc[-1] else pd.NaT
        assert personas.aligned_from[annotator] == expected or (
            pd.isna(expected) and pd.isna(personas.aligned_from[annotator])
        )
    (learner,) = _ids(medium, "learner")
    started = medium.annotators.set_index("annotator_id").started_at[learner]
    assert started + pd.Timedelta(weeks=2) < personas.aligned_from[learner]
    assert personas.aligned_from[learner] < demo.week_start(demo.N_WEEKS)
    for persona in ("lenient", "strict", "random", "drifter", "stale_policy"):
        assert pd.isna(personas.aligned_from[_ids(medium, persona)[0]]), persona


def test_steady_team_has_no_bad_persona() -> None:
    data = demo.generate(seed=0, n_annotations=MEDIUM, team="steady")
    assert set(data.personas.persona) == {"expert", "committee"}
    assert data.personas.drift_start.isna().all()
    rates = _control_rates(data)
    assert rates.tpr.min() > 0.85 and rates.fpr.max() < 0.06
    assert data.weekly_rates.aligned.all()


def test_custom_team_member_changes_behaviour(small: demo.DemoData) -> None:
    harsher = tuple(
        replace(m, behaviour=replace(m.behaviour, drift_tpr=0.0)) if m.annotator_id == "a08" else m
        for m in demo.TEAM
    )
    data = demo.generate(seed=1, n_annotations=SMALL, team=harsher)
    last_week = [rates[rates.week == demo.N_WEEKS].set_index("annotator_id").expected_tpr
                 for rates in (small.weekly_rates, data.weekly_rates)]  # fmt: skip
    assert last_week[1]["a08"] < last_week[0]["a08"] - 0.04
    assert last_week[1].drop(index="a08").equals(last_week[0].drop(index="a08"))


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="at least"):
        demo.generate(n_annotations=100)
    with pytest.raises(ValueError, match="team must be"):
        demo.generate(n_annotations=SMALL, team="everyone")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 3 annotators"):
        demo.generate(n_annotations=SMALL, team=demo.TEAM[:5])


def test_one_million_labels() -> None:
    # How long it takes is measured by benchmarks/scale.py, not asserted here.
    data = demo.generate(seed=0, n_annotations=1_000_000)
    assert len(data.annotations) == 1_000_000


# --- files and store -------------------------------------------------------------------------
def test_write_parquet_round_trips(small: demo.DemoData, tmp_path: Path) -> None:
    paths = demo.write_files(small, tmp_path)
    assert list(paths) == list(demo.IMPORT_ORDER)
    for kind, path in paths.items():
        pd.testing.assert_frame_equal(pd.read_parquet(path), getattr(small, kind))


def test_write_csv_uses_iso_timestamps(small: demo.DemoData, tmp_path: Path) -> None:
    paths = demo.write_files(small, tmp_path, fmt="csv")
    annotations = pd.read_csv(paths["annotations"], dtype=str, keep_default_na=False)
    assert list(annotations.columns) == COLUMNS["annotations"]
    assert annotations.annotated_at.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    parsed = pd.to_datetime(annotations.annotated_at, utc=True)
    assert (parsed.to_numpy() == small.annotations.annotated_at.to_numpy()).all()
    reference = pd.read_csv(paths["reference"])
    assert len(reference) == len(small.reference)


def test_build_imports_through_the_user_path(tmp_path: Path) -> None:
    pytest.importorskip("qualitylib.ingest", exc_type=ImportError)
    pytest.importorskip("qualitylib.store", exc_type=ImportError)
    db = tmp_path / "demo.duckdb"
    data = demo.build(db, seed=0, n_annotations=SMALL)
    with duckdb.connect(str(db), read_only=True) as con:
        counts = {
            table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("annotations", "reference", "items", "annotators", "demo_personas")
        }
        drifter = con.execute(
            "SELECT drift_start, drift_label FROM demo_personas WHERE persona = 'drifter'"
        ).fetchone()
    boxes = demo_boxes.generate(0)  # the box project beside the team: its own items and people
    assert counts == {
        "annotations": SMALL,
        "reference": len(data.reference),
        "items": len(data.items) + len(boxes.items),
        "annotators": len(data.annotators) + len(boxes.annotators),
        "demo_personas": len(data.personas),
    }
    assert drifter == (demo.week_start(demo.DRIFT_WEEK).tz_localize(None), "alcohol")
