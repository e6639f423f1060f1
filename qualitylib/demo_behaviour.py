"""Seeded behaviour personas: the ground truth of the people analytics (time, flags, MACE).

A small team labels batches of items, each person every item of the batches they work on, in
their own random order, with a time on task per answer; a share of items comes back to the same
person later (test-retest). ``BEHAVIOUR_TEAM`` holds steady people and the personas the flags
must find: a too-fast clicker, a straight-liner, an odd label mix, and a fast expert who must
*not* be flagged. ``TRAINEES`` are newcomers in the training phase, on reference items of
their own (so no team figure moves): one who passes early, one who passes late and one who
does not pass, for the sequential onboarding test (:mod:`qualitylib.metrics.sprt`); their
training tool records no time (``duration_s`` empty). ``steady_team(n)`` is the same schedule
with steady people only, to measure each flag's false-alarm rate
(``benchmarks/behaviour_false_alarms.py``, which runs without trainees).

It is separate from :mod:`qualitylib.demo` (its own team, ``team-behaviour``), so the demo
team's numbers do not move. Label model per answer, ``t`` the item's true label:

* steady / expert: ``t`` with probability ``accuracy``, else a uniformly chosen other label;
* ``odd_mix``: a positive item is called ``weapons`` with probability ``odd_mix`` whatever its
  class, and a ``safe`` one ``nudity`` with probability ``odd_mix / 4``;
* ``spam``: with probability ``spam`` the answer is drawn from ``SPAM_STRATEGY`` instead;
* ``straight_line``: per answer, probability of starting a run that repeats the current answer
  for ``RUN_LENGTH`` items.

Durations are lognormal around ``LABEL_SECONDS[t] * speed`` with ``sigma``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "BEHAVIOUR_TEAM",
    "LABELS",
    "TRAINEES",
    "Persona",
    "Trainee",
    "build",
    "generate",
    "steady_team",
]

LABELS = ("safe", "nudity", "weapons", "drugs")
PREVALENCE = (0.6, 0.15, 0.15, 0.10)
LABEL_SECONDS = (6.0, 12.0, 12.0, 12.0)  # the team's typical time on an item of each label
SPAM_STRATEGY = (0.7, 0.1, 0.1, 0.1)  # what a spammer answers, whatever the item
RUN_LENGTH = (40, 80)  # a straight-lining run repeats one answer for this many items (uniform)
START = pd.Timestamp("2026-09-07 08:00")  # a Monday, naive UTC
TEAM_NAME = "team-behaviour"
TRAINING_PER_DAY = 20  # reference items a trainee labels each weekday
TRAINING_DAYS = 15  # three weeks of training, Monday to Friday


@dataclass(frozen=True)
class Persona:
    """One person's behaviour (see the module docstring)."""

    annotator_id: str
    persona: str
    accuracy: float = 0.93
    speed: float = 1.0
    sigma: float = 0.45
    spam: float = 0.0
    straight_line: float = 0.0
    odd_mix: float = 0.0


@dataclass(frozen=True)
class Trainee:
    """A newcomer in training: flags a positive item with probability ``tpr`` (as its true
    label), a safe one with probability ``fpr`` (as a random positive label); a learner starts
    at ``start = (tpr, fpr)`` and gets there linearly over ``learn_days`` training days."""

    annotator_id: str
    persona: str
    tpr: float
    fpr: float
    start: tuple[float, float] | None = None
    learn_days: int = 0


def steady_team(n: int) -> tuple[Persona, ...]:
    """``n`` steady people (b01, b02, ...): the null model of every flag."""
    return tuple(Persona(f"b{i + 1:02d}", "steady") for i in range(n))


BEHAVIOUR_TEAM: tuple[Persona, ...] = (
    *steady_team(6),
    Persona("b07", "too_fast_clicker", speed=0.15, spam=0.9),
    Persona("b08", "straight_liner", straight_line=0.02),
    Persona("b09", "odd_label_mix", odd_mix=0.6),
    Persona("b10", "fast_expert", accuracy=0.96, speed=0.2),
)
TRAINEES: tuple[Trainee, ...] = (
    Trainee("b11", "trainee_passes_early", tpr=0.98, fpr=0.01),
    Trainee("b12", "trainee_passes_late", tpr=0.97, fpr=0.015, start=(0.78, 0.08), learn_days=6),
    Trainee("b13", "trainee_not_aligned", tpr=0.60, fpr=0.03),
)


def _answers(rng: np.random.Generator, p: Persona, truth: np.ndarray) -> np.ndarray:
    """One person's answers (label indices) to items of true labels ``truth``, in order."""
    n, k = truth.size, len(LABELS)
    wrong = (truth + rng.integers(1, k, size=n)) % k
    answer = np.where(rng.random(n) < p.accuracy, truth, wrong)
    if p.odd_mix:
        positive = truth > 0
        answer = np.where(positive & (rng.random(n) < p.odd_mix), 2, answer)
        answer = np.where(~positive & (rng.random(n) < p.odd_mix / 4), 1, answer)
    if p.spam:
        spam = rng.choice(k, size=n, p=SPAM_STRATEGY)
        answer = np.where(rng.random(n) < p.spam, spam, answer)
    if p.straight_line:
        # a run repeats the answer at its start; the loop walks runs, not items
        starts = np.flatnonzero(rng.random(n) < p.straight_line)
        end = -1
        for start in starts:
            if start <= end:
                continue
            end = min(n - 1, start + int(rng.integers(*RUN_LENGTH)))
            answer[start : end + 1] = answer[start]
    return answer


def _training(trainees: Sequence[Trainee], seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The trainees' labels (phase ``training``, untimed) and their items' reference decisions,
    from a random stream of their own, so the rest of the campaign does not change."""
    rng = np.random.default_rng([seed, 1])
    n = TRAINING_PER_DAY * TRAINING_DAYS
    rows, reference = [], []
    for person in trainees:
        truth = rng.choice(len(LABELS), size=n, p=PREVALENCE)
        positive = truth > 0
        day = np.arange(n) // TRAINING_PER_DAY
        learnt = np.minimum(day / person.learn_days, 1) if person.learn_days else 1.0
        tpr0, fpr0 = person.start or (person.tpr, person.fpr)
        tpr = tpr0 + (person.tpr - tpr0) * learnt
        fpr = fpr0 + (person.fpr - fpr0) * learnt
        flagged = np.where(positive, rng.random(n) < tpr, rng.random(n) < fpr)
        answer = np.where(flagged, np.where(positive, truth, rng.integers(1, len(LABELS), n)), 0)
        items = np.array([f"{person.annotator_id}-t{i:04d}" for i in range(n)])
        at = (
            START
            + pd.to_timedelta(day % 5 + (day // 5) * 7, unit="D")
            + pd.to_timedelta(np.arange(n) % TRAINING_PER_DAY * 90, unit="s")
        )
        rows.append(
            pd.DataFrame(
                {
                    "item_id": items,
                    "annotator_id": person.annotator_id,
                    "label": np.asarray(LABELS)[answer],
                    "annotated_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "batch": f"training-{person.annotator_id}",
                    "duration_s": np.nan,
                    "phase": "training",
                }
            )
        )
        reference.append(
            pd.DataFrame(
                {
                    "item_id": items,
                    "label": np.asarray(LABELS)[truth],
                    "decided_at": "2026-09-01T00:00:00Z",
                }
            )
        )
    return (
        pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(),
        pd.concat(reference, ignore_index=True) if reference else pd.DataFrame(),
    )


def generate(
    team: Sequence[Persona] = BEHAVIOUR_TEAM,
    seed: int = 0,
    n_batches: int = 12,
    batch_size: int = 60,
    batch_share: float = 0.75,
    reference_share: float = 0.2,
    repeat_share: float = 0.1,
    trainees: Sequence[Trainee] = TRAINEES,
) -> dict[str, pd.DataFrame]:
    """The canonical tables ``labels, annotators, reference, annotations`` of a campaign.

    Each person works on ``batch_share`` of the batches (at least one), one batch a day in
    batch order; ``reference_share`` of the items carry a committee decision (the truth);
    ``repeat_share`` of each person's items come back to them after their last batch.
    ``trainees`` label :data:`TRAINING_PER_DAY` reference items of their own each weekday for
    :data:`TRAINING_DAYS` days.
    """
    rng = np.random.default_rng(seed)
    n_items = n_batches * batch_size
    truth = rng.choice(len(LABELS), size=n_items, p=PREVALENCE)
    item_ids = np.array([f"bi{i:05d}" for i in range(n_items)])
    rows = []
    for person in team:
        chosen = np.flatnonzero(rng.random(n_batches) < batch_share)
        if chosen.size == 0:
            chosen = rng.integers(0, n_batches, size=1)
        items = np.concatenate(
            [b * batch_size + rng.permutation(batch_size) for b in np.sort(chosen)]
        )
        repeats = rng.choice(items, size=int(repeat_share * items.size), replace=False)
        order = np.concatenate([items, repeats])
        answer = _answers(rng, person, truth[order])
        seconds = np.asarray(LABEL_SECONDS)[truth[order]] * person.speed
        duration = np.round(seconds * rng.lognormal(0.0, person.sigma, size=order.size), 3)
        day = np.concatenate(
            [np.full(batch_size, d) for d in np.sort(chosen)] + [np.full(repeats.size, n_batches)]
        )
        # one batch a day (Monday to Friday), answers back to back with a short pause
        weekday = day % 5 + (day // 5) * 7
        pause = np.ceil(np.maximum(duration, 0.001)) + 2
        offset = np.concatenate(
            [np.cumsum(pause[day == d]) - pause[day == d][0] for d in np.unique(day)]
        )
        at = START + pd.to_timedelta(weekday, unit="D") + pd.to_timedelta(offset, unit="s")
        rows.append(
            pd.DataFrame(
                {
                    "item_id": item_ids[order],
                    "annotator_id": person.annotator_id,
                    "label": np.asarray(LABELS)[answer],
                    "annotated_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "batch": [f"batch-{b:02d}" for b in order // batch_size],
                    "duration_s": duration,
                    "phase": "production",
                }
            )
        )
    reference = rng.permutation(n_items)[: int(reference_share * n_items)]
    training, training_reference = _training(trainees, seed)
    people = [(p.annotator_id, p.persona) for p in (*team, *trainees)]
    return {
        "labels": pd.DataFrame(
            {"label": LABELS, "is_positive": [False, True, True, True], "rank": range(4)}
        ),
        "annotators": pd.DataFrame(
            {
                "annotator_id": [a for a, _ in people],
                "name": [f"{persona.replace('_', ' ')} {a}" for a, persona in people],
                "team": TEAM_NAME,
            }
        ),
        "reference": pd.concat(
            [
                pd.DataFrame(
                    {
                        "item_id": item_ids[np.sort(reference)],
                        "label": np.asarray(LABELS)[truth[np.sort(reference)]],
                        "decided_at": "2026-09-01T00:00:00Z",
                    }
                ),
                training_reference,
            ],
            ignore_index=True,
        ),
        "annotations": pd.concat([*rows, training], ignore_index=True),
    }


def build(
    db_path: str | Path,
    team: Sequence[Persona] = BEHAVIOUR_TEAM,
    seed: int = 0,
    trainees: Sequence[Trainee] = TRAINEES,
) -> None:
    """Import a generated campaign into the store at ``db_path`` (canonical CSV imports)."""
    from qualitylib.ingest import import_files

    tables = generate(team, seed, trainees=trainees)
    with tempfile.TemporaryDirectory() as folder:
        for kind in ("labels", "annotators", "reference", "annotations"):
            path = Path(folder) / f"{kind}.csv"
            tables[kind].to_csv(path, index=False)
            import_files(db_path, kind, [path])
