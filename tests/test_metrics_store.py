"""Metrics from the store equal independent computations on the same rows (sklearn, pandas,
statsmodels, krippendorff) and follow the as-of scoring and filter rules."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix, precision_score, recall_score
from statsmodels.stats.proportion import proportion_confint

from qualitylib import agreement
from qualitylib.check import check_store
from qualitylib.ingest import import_files
from qualitylib.metrics.counts import item_patterns, pair_tables
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.reference import annotator_summary, confusion_table
from qualitylib.metrics.team_agreement import agreement_results, pairwise_kappa
from qualitylib.store import connect

LABELS = ["safe", "nudity", "weapons", "drugs"]
PEOPLE = ["ann", "bob", "cem", "dia", "eve"]


def _random_log(seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Random annotations (with gaps) and a versioned reference for a third of the items."""
    rng = np.random.default_rng(seed)
    n_items = 240
    truth = rng.choice(4, size=n_items, p=[0.7, 0.1, 0.1, 0.1])
    rows = []
    for person_index, person in enumerate(PEOPLE):
        labelled = rng.random(n_items) < 0.75
        noise = rng.random(n_items) < 0.15 + 0.05 * person_index
        given = np.where(noise, rng.integers(0, 4, n_items), truth)
        minutes = rng.integers(0, 60 * 24 * 20, n_items)
        for item in np.flatnonzero(labelled):
            rows.append(
                {
                    "item_id": f"item-{item:03d}",
                    "annotator_id": person,
                    "label": LABELS[given[item]],
                    "annotated_at": datetime(2026, 9, 1) + pd.Timedelta(minutes=int(minutes[item])),
                    "policy_version": "v1" if minutes[item] < 60 * 24 * 10 else "v2",
                }
            )
    annotations = pd.DataFrame(rows)
    reference_items = np.arange(0, n_items, 3)
    reference = pd.DataFrame(
        {
            "item_id": [f"item-{i:03d}" for i in reference_items],
            "label": [LABELS[truth[i]] for i in reference_items],
            "decided_at": datetime(2026, 8, 1),
            "policy_version": "v1",
        }
    )
    # a re-decision on ten weapons items at day 10: they become safe from then on
    changed = [i for i in reference_items if truth[i] == 2][:10]
    redecided = pd.DataFrame(
        {
            "item_id": [f"item-{i:03d}" for i in changed],
            "label": "safe",
            "decided_at": datetime(2026, 9, 11),
            "policy_version": "v2",
        }
    )
    return annotations, pd.concat([reference, redecided], ignore_index=True)


def _source(item_id: str) -> str:
    """Item metadata for slices: the network an item came from."""
    return "net-a" if int(item_id.removeprefix("item-")) % 3 else "net-b"


@pytest.fixture(scope="module")
def random_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A store with the random log; returns it with the independently as-of-scored rows."""
    folder = tmp_path_factory.mktemp("random")
    annotations, reference = _random_log()
    labels = pd.DataFrame({"label": LABELS, "is_positive": [False, True, True, True]})
    teams = pd.DataFrame({"annotator_id": PEOPLE, "team": ["a", "a", "b", "b", "b"]})
    ids = sorted(annotations["item_id"].unique())
    sources = pd.DataFrame({"item_id": ids, "source": [_source(i) for i in ids]})
    db = folder / "store.duckdb"
    for kind, frame in [
        ("labels", labels),
        ("annotators", teams),
        ("items", sources),
        ("reference", reference),
        ("annotations", annotations),
    ]:
        path = folder / f"{kind}.parquet"
        frame.to_parquet(path)
        import_files(db, kind, [path])
    # independent as-of scoring with pandas
    scored = pd.merge_asof(
        annotations.sort_values("annotated_at"),
        reference.rename(columns={"label": "reference_label"}).sort_values("decided_at")[
            ["item_id", "reference_label", "decided_at"]
        ],
        left_on="annotated_at",
        right_on="decided_at",
        by="item_id",
    ).dropna(subset=["reference_label"])
    return db, scored


def test_confusion_matches_sklearn(random_store) -> None:
    db, scored = random_store
    with connect(db, read_only=True) as con:
        table = confusion_table(con)
    for person in PEOPLE:
        mine = scored[scored["annotator_id"] == person]
        expected = confusion_matrix(mine["reference_label"], mine["label"], labels=LABELS)
        got = (
            table[table["annotator_id"] == person]
            .pivot(index="reference_label", columns="label", values="n")
            .loc[LABELS, LABELS]
            .to_numpy()
        )
        np.testing.assert_array_equal(got, expected)


def test_rates_match_sklearn_and_statsmodels(random_store) -> None:
    db, scored = random_store
    with connect(db, read_only=True) as con:
        summary = annotator_summary(con).set_index("annotator_id")
    for person in PEOPLE:
        mine = scored[scored["annotator_id"] == person]
        row = summary.loc[person]
        correct = int((mine["reference_label"] == mine["label"]).sum())
        assert row["accuracy_n"] == len(mine)
        assert row["accuracy"] == pytest.approx(correct / len(mine))
        low, high = proportion_confint(correct, len(mine), method="wilson")
        assert (row["accuracy_ci_low"], row["accuracy_ci_high"]) == pytest.approx((low, high))
        assert row["kappa"] == pytest.approx(
            cohen_kappa_score(mine["reference_label"], mine["label"], labels=LABELS)
        )
        for label in LABELS:
            assert row[f"tpr_{label}"] == pytest.approx(
                recall_score(mine["reference_label"], mine["label"], labels=[label], average=None)[
                    0
                ]
            )
            assert row[f"precision_{label}"] == pytest.approx(
                precision_score(
                    mine["reference_label"],
                    mine["label"],
                    labels=[label],
                    average=None,
                    zero_division=np.nan,
                )[0],
                nan_ok=True,
            )
        truth_pos = mine["reference_label"] != "safe"
        given_pos = mine["label"] != "safe"
        assert row["tpr"] == pytest.approx(recall_score(truth_pos, given_pos))
        assert row["tpr_n"] == truth_pos.sum()
        assert row["fpr"] == pytest.approx((given_pos & ~truth_pos).sum() / (~truth_pos).sum())
        assert row["fpr_n"] == (~truth_pos).sum()


def _latest(annotations: pd.DataFrame) -> pd.DataFrame:
    return annotations.sort_values("annotated_at").drop_duplicates(
        ["item_id", "annotator_id"], keep="last"
    )


@pytest.mark.parametrize(
    "suffix, weights", [("", None), ("_linear", "linear"), ("_quadratic", "quadratic")]
)
def test_pairwise_kappa_matches_sklearn(random_store, suffix: str, weights) -> None:
    db, _ = random_store
    annotations = _latest(_random_log()[0])
    with connect(db, read_only=True) as con:
        pairs = pairwise_kappa(con)
    assert len(pairs) == 10  # every pair of five people shares items
    wide = annotations.pivot(index="item_id", columns="annotator_id", values="label")
    for row in pairs.itertuples():
        both = wide[[row.annotator_a, row.annotator_b]].dropna()
        assert row.n_items == len(both)
        expected = cohen_kappa_score(
            both[row.annotator_a].map(LABELS.index),
            both[row.annotator_b].map(LABELS.index),
            weights=weights,
        )
        assert getattr(row, f"kappa{suffix}") == pytest.approx(expected)


def test_team_coefficients_match_peers(random_store) -> None:
    db, _ = random_store
    annotations = _latest(_random_log()[0])
    with connect(db, read_only=True) as con:
        results = agreement_results(con, n_boot=200)
    long = annotations[["item_id", "annotator_id", "label"]]
    assert results["fleiss_kappa"].value == pytest.approx(
        agreement.fleiss_kappa(long, categories=LABELS).value
    )
    assert results["gwet_ac1"].value == pytest.approx(
        agreement.gwet_ac1(long, categories=LABELS).value
    )
    matrix = (
        annotations.assign(code=annotations["label"].map(LABELS.index).astype(float))
        .pivot(index="annotator_id", columns="item_id", values="code")
        .to_numpy()
    )
    assert results["krippendorff_alpha_nominal"].value == pytest.approx(
        krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    )
    alpha = results["krippendorff_alpha_nominal"]
    assert alpha.ci_low < alpha.value < alpha.ci_high


def test_filters_select_the_same_rows_as_pandas(random_store) -> None:
    db, scored = random_store
    with connect(db, read_only=True) as con:
        by_team = annotator_summary(con, Filters(teams=("a",)))
        window = annotator_summary(con, Filters(since=date(2026, 9, 5), until=date(2026, 9, 8)))
        v2 = annotator_summary(con, Filters(policy_versions=("v2",)))
    assert sorted(by_team["annotator_id"]) == ["ann", "bob"]
    in_window = scored[
        (scored["annotated_at"] >= datetime(2026, 9, 5))
        & (scored["annotated_at"] < datetime(2026, 9, 9))
    ]
    assert dict(zip(window["annotator_id"], window["n_reference"], strict=True)) == (
        in_window.groupby("annotator_id").size().to_dict()
    )
    assert v2["n_reference"].sum() == (scored["policy_version"] == "v2").sum()


WINDOW = (datetime(2026, 9, 5), datetime(2026, 9, 13))
SELECTIONS = [
    (Filters(), lambda rows: rows),
    (
        Filters(since=date(2026, 9, 5), until=date(2026, 9, 12)),
        lambda rows: rows[rows["annotated_at"].between(*WINDOW, inclusive="left")],
    ),
    (
        Filters(since=datetime(2026, 9, 5, 13, 30), until=datetime(2026, 9, 12, 8)),
        lambda rows: rows[
            rows["annotated_at"].between(datetime(2026, 9, 5, 13, 30), datetime(2026, 9, 12, 8))
        ],
    ),
    (Filters(teams=("b",)), lambda rows: rows[rows["annotator_id"].isin(["cem", "dia", "eve"])]),
    (
        Filters(annotators=("ann", "eve")),
        lambda rows: rows[rows["annotator_id"].isin(["ann", "eve"])],
    ),
    (Filters(policy_versions=("v2",)), lambda rows: rows[rows["policy_version"] == "v2"]),
    (
        Filters(slice_column="source", slice_values=("net-b",), teams=("b",)),
        lambda rows: rows[
            (rows["item_id"].map(_source) == "net-b")
            & rows["annotator_id"].isin(["cem", "dia", "eve"])
        ],
    ),
    (
        Filters(teams=("a", "b"), policy_versions=("v1",), since=date(2026, 9, 3)),
        lambda rows: rows[
            (rows["policy_version"] == "v1") & (rows["annotated_at"] >= datetime(2026, 9, 3))
        ],
    ),
]


@pytest.mark.parametrize("filters, select", SELECTIONS)
def test_pair_tables_and_item_patterns_follow_filters(random_store, filters, select) -> None:
    """Both come from table ``pairs``; a pair counts when both answers pass the filter, and
    an item's pattern holds exactly its passing answers (pandas on the raw rows)."""
    db, _ = random_store
    rows = select(_latest(_random_log()[0]))
    with connect(db, read_only=True) as con:
        tables = pair_tables(con, filters)
        patterns = item_patterns(con, filters)
    wide = rows.pivot(index="item_id", columns="annotator_id", values="label")
    expected = {}
    for a_index, a in enumerate(PEOPLE):
        for b in PEOPLE[a_index + 1 :]:
            if a in wide and b in wide and len(both := wide[[a, b]].dropna()):
                expected[a, b] = (
                    pd.crosstab(both[a], both[b])
                    .reindex(index=LABELS, columns=LABELS, fill_value=0)
                    .to_numpy()
                )
    got = {
        (row.annotator_a, row.annotator_b): tables.tables[i]
        for i, row in enumerate(tables.pairs.itertuples())
    }
    assert got.keys() == expected.keys()
    for pair, table in expected.items():
        np.testing.assert_array_equal(got[pair], table, err_msg=str(pair))
    per_item = pd.crosstab(rows["item_id"], rows["label"]).reindex(columns=LABELS, fill_value=0)
    frequency = per_item.value_counts()
    expected_patterns = {tuple(int(c) for c in key): int(n) for key, n in frequency.items()}
    got_patterns = {
        tuple(int(c) for c in counts): int(weight)
        for counts, weight in zip(patterns.counts, patterns.weights, strict=True)
    }
    assert got_patterns == expected_patterns
    assert [tuple(c) for c in patterns.counts] == sorted(tuple(c) for c in patterns.counts)


def test_pairs_follow_a_changed_answer(db: Path, write) -> None:
    """A later import that changes an answer updates the stored pairs of that item only."""
    import_files(
        db,
        "annotations",
        [
            write(
                "a.csv",
                """item_id,annotator_id,label,annotated_at
                toy,ann,safe,2026-09-01
                toy,bob,safe,2026-09-01
                toy,cem,drugs,2026-09-02
                car,ann,safe,2026-09-01
                car,bob,safe,2026-09-01""",
            )
        ],
    )
    import_files(
        db,
        "annotations",
        [write("b.csv", "item_id,annotator_id,label,annotated_at\ntoy,bob,drugs,2026-09-03")],
    )
    with connect(db, read_only=True) as con:
        tables = pair_tables(con, Filters())
        patterns = item_patterns(con, Filters())
        contested = con.execute(
            "SELECT DISTINCT item_id FROM contested JOIN items USING (item_key)"
        ).fetchall()
    names = tables.labels.names
    found = {
        (row.annotator_a, row.annotator_b): {
            (names[i], names[j]): int(tables.tables[p, i, j])
            for i, j in zip(*np.nonzero(tables.tables[p]), strict=True)
        }
        for p, row in enumerate(tables.pairs.itertuples())
    }
    assert found == {
        ("ann", "bob"): {("safe", "safe"): 1, ("safe", "drugs"): 1},
        ("ann", "cem"): {("safe", "drugs"): 1},
        ("bob", "cem"): {("drugs", "drugs"): 1},
    }
    assert names == ["drugs", "safe"]  # no label set imported: alphabetical
    found_patterns = zip(patterns.counts.tolist(), patterns.weights.tolist(), strict=True)
    assert [(tuple(c), w) for c, w in found_patterns] == [
        ((0, 2), 1),  # car: two safe
        ((2, 1), 1),  # toy: bob's new drugs, cem's drugs, ann's safe
    ]
    assert contested == [("toy",)]
    assert all(finding.ok for finding in check_store(db))


@pytest.mark.parametrize("n_crowd", [5, 300])
def test_item_patterns_with_many_labels_and_a_crowded_item(
    db: Path, tmp_path: Path, n_crowd
) -> None:
    """Ten labels (keys beyond one packed column) and one item with ``n_crowd`` answers (300:
    beyond what a packed slot holds, counted per label instead) give the plain counts."""
    labels = [f"l{n}" for n in range(10)]
    rows = [
        {"item_id": "crowded", "annotator_id": f"p{n:03d}", "label": labels[n % 10]}
        for n in range(n_crowd)
    ]
    rows += [
        {"item_id": f"item-{i}", "annotator_id": f"p{n:03d}", "label": labels[(i * n) % 10]}
        for i in range(30)
        for n in range(i % 4 + 1)
    ]
    frame = pd.DataFrame(rows).assign(annotated_at=datetime(2026, 9, 1))
    frame.to_parquet(tmp_path / "a.parquet")
    pd.DataFrame({"label": labels}).to_parquet(tmp_path / "labels.parquet")
    import_files(db, "labels", [tmp_path / "labels.parquet"])
    import_files(db, "annotations", [tmp_path / "a.parquet"])
    with connect(db, read_only=True) as con:
        patterns = item_patterns(con, Filters())
    assert patterns.labels.names == labels
    expected = pd.crosstab(frame["item_id"], frame["label"]).reindex(columns=labels, fill_value=0)
    want = {tuple(int(c) for c in key): int(n) for key, n in expected.value_counts().items()}
    got = {
        tuple(int(c) for c in counts): int(weight)
        for counts, weight in zip(patterns.counts, patterns.weights, strict=True)
    }
    assert got == want


def test_reference_decision_in_force_is_used(db: Path, write) -> None:
    import_files(
        db,
        "reference",
        [
            write(
                "reference.csv",
                """item_id,label,decided_at,policy_version
                toy-gun,weapons,2026-09-01T00:00:00Z,v1
                toy-gun,safe,2026-10-12T00:00:00Z,v2
                late,nudity,2026-11-01T00:00:00Z,v1""",
            )
        ],
    )
    import_files(
        db,
        "annotations",
        [
            write(
                "annotations.csv",
                """item_id,annotator_id,label,annotated_at
                toy-gun,ann,weapons,2026-10-11T23:59:00Z
                toy-gun,ann,weapons,2026-10-12T00:00:00Z
                toy-gun,bob,safe,2026-10-13T09:00:00Z
                late,bob,nudity,2026-10-13T09:00:00Z""",
            )
        ],
    )
    with connect(db, read_only=True) as con:
        table = confusion_table(con)
    counts = {
        (row.annotator_id, row.reference_label, row.label): row.n
        for row in table.itertuples()
        if row.n
    }
    assert counts == {
        ("ann", "weapons", "weapons"): 1,  # v1 was in force a minute before v2
        ("ann", "safe", "weapons"): 1,  # v2 from its decision time on: the stale label is wrong
        ("bob", "safe", "safe"): 1,
        ("bob", "nudity", "nudity"): 1,  # before the item's first decision: scored against it
    }


def test_single_annotator_gives_nan_with_reason(db: Path, write) -> None:
    import_files(
        db,
        "annotations",
        [
            write(
                "one.csv",
                """item_id,annotator_id,label,annotated_at
                a,ann,safe,2026-09-01
                b,ann,nudity,2026-09-01""",
            )
        ],
    )
    with connect(db, read_only=True) as con:
        pairs = pairwise_kappa(con)
        results = agreement_results(con, n_boot=50)
    assert pairs.empty
    for result in results.values():
        assert np.isnan(result.value)
        assert result.reason
