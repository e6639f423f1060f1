"""MACE (Hovy et al. 2013): finds simulated spammers, beats the majority vote, agrees with
crowd-kit's independent implementation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qualitylib.mace import MACE


def _crowd(seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """400 items, 12 annotators (4 spammers answering mostly class 0), 5 answers per item."""
    rng = np.random.default_rng(seed)
    n_items, n_annotators, k = 400, 12, 4
    truth = rng.integers(0, k, n_items)
    theta = np.r_[rng.uniform(0.7, 0.95, 8), rng.uniform(0.0, 0.15, 4)]
    item = np.repeat(np.arange(n_items), 5)
    annotator = np.concatenate([rng.choice(n_annotators, 5, replace=False) for _ in range(n_items)])
    spam = rng.choice(k, size=item.size, p=[0.7, 0.1, 0.1, 0.1])
    label = np.where(rng.random(item.size) < theta[annotator], truth[item], spam)
    data = pd.DataFrame({"task": item, "worker": annotator, "label": label})
    return data, truth, theta


def test_spammers_found_and_labels_beat_the_majority_vote() -> None:
    data, truth, theta = _crowd(1)
    model = MACE().fit(data)
    competence = model.competence_.to_numpy()
    assert np.flatnonzero(competence < 0.5).tolist() == [8, 9, 10, 11]
    assert np.abs(competence - theta).mean() < 0.05
    assert model.spam_probability_.to_numpy() == pytest.approx(1 - competence)
    vote = data.groupby("task")["label"].agg(lambda s: s.value_counts().idxmax())
    mace_accuracy = (model.labels_.to_numpy() == truth).mean()
    assert mace_accuracy > (vote.to_numpy() == truth).mean() + 0.1
    assert mace_accuracy > 0.95
    assert model.strategy_.loc[8].idxmax() == 0  # a spammer's strategy: mostly class 0


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # crowd-kit on pandas 3
def test_agrees_with_crowd_kit() -> None:
    from crowdkit.aggregation import MACE as CrowdKitMACE

    data, _, _ = _crowd(2)
    ours = MACE().fit(data).competence_
    theirs = CrowdKitMACE(n_restarts=1, random_state=0).fit(data)  # ~1 s per restart
    # crowd-kit orders workers by first appearance; column 1 of spamming_ is P(not spamming)
    reference = pd.Series(
        theirs.spamming_[:, 1], index=pd.factorize(data["worker"])[1]
    ).sort_index()
    assert np.corrcoef(ours.to_numpy(), reference.to_numpy())[0, 1] > 0.95
    assert ((ours < 0.5) == (reference < 0.5)).all()
    agreement = (MACE().fit_predict(data).sort_index() == theirs.labels_.sort_index()).mean()
    assert agreement > 0.85


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="needs columns item_id, annotator_id, label"):
        MACE().fit(pd.DataFrame({"a": [1]}))
    with pytest.raises(ValueError, match="smoothing must be positive"):
        MACE(smoothing=0)


def test_learned_priors_keep_a_dominant_class_from_reading_as_spam() -> None:
    """95 % of items are class 0 and everyone is 95 % right: with MACE's uniform prior the
    best explanation can be "everyone spams 0"; with learned priors nobody is a spammer."""
    rng = np.random.default_rng(4)
    truth = np.where(rng.random(2000) < 0.95, 0, rng.integers(1, 4, 2000))
    item = np.repeat(np.arange(2000), 3)
    annotator = np.tile(np.arange(3), 2000) + 3 * (rng.random(item.size) < 0.5)
    right = rng.random(item.size) < 0.95
    label = np.where(right, truth[item], rng.integers(0, 4, item.size))
    data = pd.DataFrame({"item_id": item, "annotator_id": annotator, "label": label})
    assert (MACE().fit(data).spam_probability_ > 0.8).all()  # the paper's uniform prior
    learned = MACE(priors="learned").fit(data)
    assert (learned.spam_probability_ < 0.2).all()
    assert learned.priors_.iloc[0] == pytest.approx(0.95, abs=0.02)
    assert (learned.labels_.to_numpy() == truth).mean() > 0.98


def test_weighted_answer_patterns_give_the_items_competences() -> None:
    """Items with the same answers collapse into one weighted pattern: same estimates."""
    data, _, _ = _crowd(5)
    data = data.rename(columns={"task": "item_id", "worker": "annotator_id"})
    pattern = data.sort_values("annotator_id").groupby("item_id")[["annotator_id", "label"]]
    keys = pattern.apply(lambda g: tuple(zip(g["annotator_id"], g["label"], strict=True)))
    first = keys.reset_index().drop_duplicates(0).set_index(0)["item_id"]
    weights = keys.map(keys.value_counts())
    collapsed = data[data["item_id"].isin(first.to_numpy())].assign(
        weight=lambda f: f["item_id"].map(weights)
    )
    assert len(collapsed) < len(data)
    full = MACE(priors="learned", n_restarts=2).fit(data)
    weighted = MACE(priors="learned", n_restarts=2).fit(collapsed)
    assert weighted.competence_.to_numpy() == pytest.approx(full.competence_.to_numpy())
    assert weighted.priors_.to_numpy() == pytest.approx(full.priors_.to_numpy())
    with pytest.raises(ValueError, match="weight must be a positive count"):
        MACE().fit(collapsed.assign(weight=0))
