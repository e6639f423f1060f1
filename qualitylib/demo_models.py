"""The demo's model: one classifier in two versions, with properties the analytics must find.

- ``v1`` is calibrated (its score is the probability that it is right) but weak on
  ``weapons`` (right about 60 % of the time on them, about 90 % elsewhere);
- ``v2`` is better on ``weapons`` (about 95 %) and overconfident: its score overstates the
  probability of being right (``1 - (1 - p) / 10``), so its calibration error is larger.

Both predict every item, after policy v2 (toy guns are ``safe``), from their own random stream:
the team's data of the same seed does not change. Each prediction gives the whole distribution
(``score_<label>`` columns): ``score`` on the predicted label, the rest spread over the others
at random, the true label taking a larger share when the prediction is wrong (a model's second
choice is often right).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from qualitylib.demo import LABELS, V2_WEEK, DemoData, week_start

MODEL_ID = "safety-clf"
PREDICTED_WEEK = {"v1": V2_WEEK + 1, "v2": V2_WEEK + 3}  # each version runs once, on a Monday
RIGHT = {"v1": {"weapons": (6, 4), "other": (9, 1)}, "v2": {"weapons": (19, 1), "other": (9, 1)}}
OVERCONFIDENCE = {"v1": 1.0, "v2": 10.0}  # score = 1 - (1 - p) / this
STREAM = 20  # the model's random stream is (seed, STREAM)
TRUE_SHARE_BOOST = 3.0  # Gamma(1) weight added to the true label of a wrong prediction


def _distribution(
    rng: np.random.Generator, predicted: np.ndarray, true: np.ndarray, score: np.ndarray
) -> np.ndarray:
    """``(n, k)`` probabilities: ``score`` on the predicted label, ``1 - score`` spread over
    the others by Gamma(1) weights (the true label of a wrong prediction boosted)."""
    n, k = len(predicted), len(LABELS)
    rows = np.arange(n)
    weight = rng.gamma(1.0, size=(n, k))
    wrong = predicted != true
    weight[rows[wrong], true[wrong]] += TRUE_SHARE_BOOST
    weight[rows, predicted] = 0.0
    out = (1 - score)[:, None] * weight / weight.sum(axis=1, keepdims=True)
    out[rows, predicted] = score
    return out


def predictions(data: DemoData, seed: int = 0) -> pd.DataFrame:
    """Both versions' predictions of every item (``import --kind predictions`` layout)."""
    rng = np.random.default_rng([seed, STREAM])
    spread = np.random.default_rng([seed, STREAM + 2])  # the distributions' own stream
    truth = data.truth["label_v2"].to_numpy(dtype=object)
    true = np.array([LABELS.index(label) for label in truth])
    weapons = true == LABELS.index("weapons")
    frames = []
    for version in ("v1", "v2"):
        a = np.where(weapons, RIGHT[version]["weapons"][0], RIGHT[version]["other"][0])
        b = np.where(weapons, RIGHT[version]["weapons"][1], RIGHT[version]["other"][1])
        p_right = np.clip(rng.beta(a, b), 1 / len(LABELS), 1.0)
        right = rng.random(len(true)) < p_right
        # a wrong positive is mostly called safe; a wrong safe, one of the positives
        other = np.where(
            true == 0,
            rng.integers(1, len(LABELS), size=len(true)),
            np.where(rng.random(len(true)) < 0.7, 0, rng.integers(1, len(LABELS), size=len(true))),
        )
        other = np.where(other == true, 0, other)  # a positive mistaken for another one
        predicted = np.where(right, true, other)
        score = (1 - (1 - p_right) / OVERCONFIDENCE[version]).round(4)
        at = week_start(PREDICTED_WEEK[version]) + pd.Timedelta(hours=6)
        distribution = _distribution(spread, predicted, true, score).round(4)
        distribution[np.arange(len(true)), predicted] = score  # exactly, after rounding
        frames.append(
            pd.DataFrame(
                {
                    "item_id": data.truth["item_id"].to_numpy(),
                    "model_id": MODEL_ID,
                    "model_version": version,
                    "label": np.asarray(LABELS, dtype=object)[predicted],
                    "predicted_at": at,
                    "score": score,
                }
                | {f"score_{label}": distribution[:, j] for j, label in enumerate(LABELS)}
            )
        )
    return pd.concat(frames, ignore_index=True)


FIX_SHARE = 0.5  # of a version's wrong labels that a person corrects, 1 to 3 days later
FIXERS = ("c01", "c02", "c03")  # the committee fixes model labels


def fixes(data: DemoData, predicted: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The manual-fix history: people correct half of each version's wrong labels to the
    item's true label (``import --kind fixes`` layout)."""
    rng = np.random.default_rng([seed, STREAM + 1])
    truth = data.truth.set_index("item_id")["label_v2"]
    true = truth.loc[predicted["item_id"]].to_numpy(dtype=object)
    chosen = (predicted["label"].to_numpy(dtype=object) != true) & (
        rng.random(len(predicted)) < FIX_SHARE
    )
    fixed = predicted[chosen]
    delay = pd.to_timedelta(rng.integers(24 * 60, 3 * 24 * 60, size=len(fixed)), unit="min")
    return pd.DataFrame(
        {
            "item_id": fixed["item_id"].to_numpy(),
            "model_id": fixed["model_id"].to_numpy(),
            "model_version": fixed["model_version"].to_numpy(),
            "model_label": fixed["label"].to_numpy(),
            "fixed_label": true[chosen],
            "fixed_by": np.asarray(FIXERS, dtype=object)[rng.integers(0, 3, size=len(fixed))],
            "fixed_at": (fixed["predicted_at"] + delay).to_numpy(),
        }
    )
