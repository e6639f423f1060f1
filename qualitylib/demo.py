"""Seeded synthetic labelling team with known personas: the demo data and our simulator.

``generate`` draws a 12-week ad-safety campaign (label set, annotators, items, committee
reference, annotation log) in which every annotator follows a readable behaviour from the
``TEAM`` table below: steady experts, a learner, a drifter, a lenient and a strict annotator,
a random clicker, a stale-policy annotator and a committee. The analytics are tested against
this ground truth ("the metrics find these people and only these people"), and
``team="steady"`` gives the same schedule with experts only, so a drift detector's false-alarm
rate can be measured. Everything is vectorised numpy (no loop over labels); the time and
memory at 1M and 10M labels are in benchmarks/RESULTS.md.

Label model, per annotation, with ``t`` the true label the annotator applies (the reference
label in force, or the v1 label for a stale-policy annotator) and ``a`` the item's latent
ambiguity times the annotator's sensitivity to it::

    P(flag | t = safe)     = fpr + (1 - fpr) * AMBIGUITY_FLIP * a   (ambiguity -> lookalike)
    P(flag | t = positive) = tpr[t] * (1 - AMBIGUITY_FLIP * a)
    P(right class | flagged positive) = class_acc

where ``tpr``, ``fpr`` and ``class_acc`` depend on the annotator and the campaign week.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "CAMPAIGN_START",
    "CONTROL_SHARE",
    "DRIFT_WEEK",
    "IMPORT_ORDER",
    "N_WEEKS",
    "STEADY_TEAM",
    "TEAM",
    "V2_WEEK",
    "Behaviour",
    "DemoData",
    "Member",
    "build",
    "generate",
    "week_start",
    "write_files",
]

# ---------------------------------------------------------------------------------------------
# Campaign
CAMPAIGN_START = pd.Timestamp("2026-08-31", tz="UTC")  # a Monday, 00:00 UTC
N_WEEKS = 12
V2_WEEK = 7  # policy v2 (toy guns become `safe`) is in force from this week's Monday
DRIFT_WEEK = 5  # the drifter starts diverging this week
DRIFT_RAMP_WEEKS = 2  # ... and reaches its drifted rate after this many weeks
WORK_DAYS = 5  # labels are made Monday to Friday ...
WORK_HOURS = (8, 18)  # ... between these hours (UTC)
BATCHES_PER_WEEK = 5
REFERENCE_DECIDED_WEEKS = 8  # v1 reference decisions fall in the weeks before the campaign

# Label set: (label, is_positive, rank by severity, colour)
LABELS = ("safe", "nudity", "weapons", "drugs", "alcohol", "gambling")
LABEL_RANKS = (0, 4, 5, 3, 1, 2)
LABEL_COLORS = ("#59A14F", "#E15759", "#4E79A7", "#B07AA1", "#F28E2B", "#EDC948")
SAFE, WEAPONS = 0, 2
N_LABELS = len(LABELS)

# Items
PRODUCTION_PREVALENCE = (0.970, 0.007, 0.007, 0.004, 0.007, 0.005)  # true labels (v1)
REFERENCE_PREVALENCE = (0.60, 0.08, 0.08, 0.08, 0.08, 0.08)  # positives oversampled
TOY_GUN_SHARE = 0.35  # of weapons-looking items that are toy guns (`safe` under v2)
OVERLAP = (0.55, 0.30, 0.15)  # share of production items labelled by 1, 2, 3 annotators
CONTROL_SHARE = 0.05  # of production labels that are on (unannounced) reference items
REFERENCE_SHARE = 0.02  # reference items per production item
MIN_REFERENCE_ITEMS = 400
TRAINING_ITEMS = 300  # reference items each newcomer labels in training (fewer if n is small)
MIN_ANNOTATIONS = 2_000
SOURCES = ("Northwind Ads", "BluePeak Media", "Orbit Exchange", "Crimson Network")
SOURCE_WEIGHTS = (0.35, 0.30, 0.20, 0.15)
HARD_SOURCE = "Orbit Exchange"  # more ambiguous creatives
REGIONS = ("EU", "NA", "LATAM", "APAC")
REGION_WEIGHTS = (0.40, 0.30, 0.15, 0.15)
CATEGORIES = (
    "apparel", "food_drink", "travel", "electronics", "entertainment", "health",
    "sporting_goods", "toys", "toy_gun",
)  # fmt: skip
GENERAL_CATEGORIES = 8  # the first eight; `toy_gun` marks toy-gun items only
LABEL_CATEGORY = (-1, 0, 6, 5, 1, 4)  # the typical vertical of each positive label
TYPICAL_CATEGORY_SHARE = 0.6
TOY_GUN_CATEGORY = CATEGORIES.index("toy_gun")

# Ambiguity and "unsure"
AMBIGUOUS_SHARE = 0.02  # items with a latent ambiguity > 0 ...
HARD_SOURCE_AMBIGUOUS_SHARE = 0.08  # ... on the hard source
AMBIGUITY_RANGE = (0.4, 1.0)  # ambiguity of an ambiguous item, uniform
AMBIGUITY_FLIP = 0.5  # at ambiguity 1 a careful annotator is a coin flip
UNSURE_PER_AMBIGUITY = 0.6  # P(unsure) = unsure_rate + this * ambiguity
ANNOTATION_REASON_SHARE = 0.3  # positive labels that come with a reason

# "Aligned" = what a trainer accepts, on the reference set
ALIGNED_TPR = 0.85
ALIGNED_FPR = 0.05

REASONS = {
    "safe": ("no policy issue", "ordinary product photo", "fully clothed model"),
    "nudity": ("exposed nudity", "explicit lingerie shot", "suggestive nudity"),
    "weapons": ("real firearm visible", "knife as the focus", "ammunition shown"),
    "drugs": ("drug paraphernalia", "cannabis leaf", "pills promoted"),
    "alcohol": ("visible beer bottle", "wine glass promoted", "spirits brand logo"),
    "gambling": ("casino chips", "betting odds shown", "slot machine"),
}
TOY_GUN_V1_REASON = "realistic-looking gun"
TOY_GUN_V2_REASON = "toy gun, not a real weapon"

IMPORT_ORDER = ("labels", "annotators", "items", "reference", "annotations")


# ---------------------------------------------------------------------------------------------
# Team
@dataclass(frozen=True)
class Behaviour:
    """How an annotator labels: binary rates once settled, and what changes over weeks.

    ``tpr``: P(flag | positive); ``fpr``: P(flag | safe); ``class_acc``: P(right class |
    flagged positive). A learner starts at ``start_*`` and converges with e-folding time
    ``learning_weeks`` from its first week; a drifter's TPR on ``drift_label`` falls to
    ``drift_tpr`` from ``drift_week`` on; a stale-policy annotator keeps applying v1.
    """

    persona: str
    tpr: float = 0.94
    fpr: float = 0.015
    class_acc: float = 0.97
    start_tpr: float | None = None
    start_fpr: float | None = None
    start_class_acc: float | None = None
    learning_weeks: float = 1.5
    drift_label: str | None = None
    drift_week: int = DRIFT_WEEK
    drift_tpr: float = 0.25
    stale_policy: bool = False
    ambiguity_sensitivity: float = 1.0
    unsure_rate: float = 0.005
    notes: str = ""


@dataclass(frozen=True)
class Member:
    """One person on the team; ``start_week`` counts from 1 = campaign start (<= 0: before).

    Newcomers spend ``training_weeks`` labelling reference items (phase ``training``) before
    production; ``speed`` scales their share of the work (0: labels nothing, the committee).
    """

    annotator_id: str
    name: str
    team: str
    behaviour: Behaviour
    role: Literal["annotator", "committee"] = "annotator"
    start_week: int = -26
    training_weeks: int = 0
    speed: float = 1.0


COMMITTEE = Behaviour("committee", notes="annotation committee: decides the reference set")
RANDOM_FLAG_RATE = 0.08

# fmt: off
TEAM: tuple[Member, ...] = (
    Member("c01", "Margaret Okafor", "team-a", COMMITTEE, "committee", -104, speed=0.0),
    Member("c02", "Henrik Lund", "team-b", COMMITTEE, "committee", -90, speed=0.0),
    Member("c03", "Priya Raman", "team-a", COMMITTEE, "committee", -75, speed=0.0),
    Member("a01", "Alice Martin", "team-a", Behaviour("expert", 0.95, 0.012), start_week=-60),
    Member("a02", "Bruno Costa", "team-a", Behaviour("expert", 0.93, 0.015), start_week=-48),
    Member("a03", "Chen Wei", "team-a", Behaviour("expert", 0.96, 0.010), start_week=-40),
    Member("a04", "Dana Kowalski", "team-b", Behaviour("expert", 0.94, 0.018), start_week=-33),
    Member("a05", "Elena Petrova", "team-b", Behaviour("expert", 0.92, 0.012), start_week=-20),
    Member("a06", "Farid Haddad", "team-b", Behaviour("expert", 0.95, 0.015), start_week=-15),
    Member(
        "a07", "Gabriel Sousa", "team-a",
        Behaviour(
            "learner", 0.93, 0.015, 0.96, start_tpr=0.55, start_fpr=0.15, start_class_acc=0.80,
            learning_weeks=2.0, unsure_rate=0.03,
            notes="new hire: starts ~70 % accurate, converges over weeks",
        ),
        start_week=2, training_weeks=2,
    ),
    Member(
        "a08", "Hannah Becker", "team-a",
        Behaviour(
            "drifter", 0.94, 0.015, drift_label="alcohol",
            notes="aligned, then starts calling alcohol `safe`",
        ),
        start_week=-52,
    ),
    Member(
        "a09", "Ivan Novak", "team-b",
        Behaviour("lenient", 0.60, 0.004, notes="misses positives (low TPR)"), start_week=-30,
    ),
    Member(
        "a10", "Julia Moreau", "team-b",
        Behaviour("strict", 0.97, 0.08, 0.93, notes="flags safe items (high FPR)"),
        start_week=-28,
    ),
    Member(
        "a11", "Kevin Doyle", "team-b",
        Behaviour(
            "random", RANDOM_FLAG_RATE, RANDOM_FLAG_RATE, 1 / (N_LABELS - 1),
            ambiguity_sensitivity=0.0, unsure_rate=0.0,
            notes="clicks without looking: TPR = FPR, flagged class uniform",
        ),
        start_week=-10, speed=1.3,
    ),
    Member(
        "a12", "Laura Rossi", "team-a",
        Behaviour(
            "stale_policy", 0.94, 0.015, stale_policy=True,
            notes="keeps applying v1 after v2: toy guns stay `weapons`",
        ),
        start_week=-70,
    ),
    Member(
        "a13", "Zoë Brandt", "team-b",
        Behaviour(
            "newcomer", 0.94, 0.015, 0.97, start_tpr=0.80, start_fpr=0.06, start_class_acc=0.9,
            learning_weeks=1.0, unsure_rate=0.02, notes="second new hire, a quick learner",
        ),
        start_week=8, training_weeks=1,
    ),
)
# fmt: on

STEADY_EXPERT = Behaviour("expert", notes="steady team: every annotator is an expert")
STEADY_TEAM: tuple[Member, ...] = tuple(
    m if m.role == "committee" else replace(m, behaviour=STEADY_EXPERT) for m in TEAM
)


# ---------------------------------------------------------------------------------------------
# Result
@dataclass(frozen=True)
class DemoData:
    """The generated campaign: five importable tables plus ground truth for tests.

    ``labels``, ``annotators``, ``items``, ``reference`` and ``annotations`` are in the
    canonical layouts ``import_files`` accepts; ``personas`` (stored as ``demo_personas``),
    ``truth`` (per item: true label under v1 and v2, latent ambiguity, reference/training
    membership) and ``weekly_rates`` (per annotator and week: expected TPR/FPR on the reference
    set) are the simulator's ground truth.
    """

    labels: pd.DataFrame
    annotators: pd.DataFrame
    items: pd.DataFrame
    reference: pd.DataFrame
    annotations: pd.DataFrame
    personas: pd.DataFrame
    truth: pd.DataFrame
    weekly_rates: pd.DataFrame


def week_start(week: int | np.ndarray) -> pd.Timestamp | pd.DatetimeIndex:
    """The Monday 00:00 UTC starting campaign week ``week`` (1 = first week)."""
    return CAMPAIGN_START + pd.to_timedelta(np.asarray(week) - 1, unit="W")


# ---------------------------------------------------------------------------------------------
# Small helpers
def _strings(vocab: Sequence[str], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``vocab[codes]`` as a pandas string array (code -1 gives a missing value)."""
    taken = pa.array(list(vocab), pa.string()).take(pa.array(codes, mask=codes < 0))
    return pd.array(taken, dtype="str")


def _utc(seconds: np.ndarray) -> pd.Series:
    """Seconds since the epoch as tz-aware UTC timestamps (microsecond unit)."""
    values = seconds.astype("datetime64[s]").astype("datetime64[us]")
    return pd.Series(values).dt.tz_localize("UTC")


def _working_seconds(rng: np.random.Generator, week: np.ndarray) -> np.ndarray:
    """Random epoch seconds inside working hours of each (1-based) campaign ``week``."""
    start = int(CAMPAIGN_START.timestamp())
    day = rng.integers(0, WORK_DAYS, size=week.shape)
    second = rng.integers(WORK_HOURS[0] * 3600, WORK_HOURS[1] * 3600, size=week.shape)
    return start + (week.astype(np.int64) - 1) * 7 * 86400 + day * 86400 + second


def _resolve_team(team: Literal["personas", "steady"] | Sequence[Member]) -> tuple[Member, ...]:
    """The member table for ``team``; checks a custom one can staff every week."""
    if isinstance(team, str):
        if team not in ("personas", "steady"):
            raise ValueError(
                f"team must be 'personas', 'steady' or a sequence of Member (got {team!r})"
            )
        return TEAM if team == "personas" else STEADY_TEAM
    members = tuple(team)
    active = np.array(
        [
            [m.speed > 0 and w >= m.start_week + m.training_weeks for m in members]
            for w in range(1, N_WEEKS + 1)
        ]
    )
    if (active.sum(axis=1) < len(OVERLAP)).any():
        raise ValueError(
            f"every week needs at least {len(OVERLAP)} annotators in production "
            "(add members or start them earlier)"
        )
    return members


# ---------------------------------------------------------------------------------------------
# Rates
@dataclass(frozen=True)
class _Rates:
    """Per annotator and week: tpr (A, W, L; column 0 unused), fpr and class_acc (A, W)."""

    tpr: np.ndarray
    fpr: np.ndarray
    class_acc: np.ndarray


def _weekly_rates(members: Sequence[Member]) -> _Rates:
    """Each member's label-model rates in every campaign week (learning and drift applied)."""
    weeks = np.arange(1, N_WEEKS + 1)
    tpr = np.zeros((len(members), N_WEEKS, N_LABELS))
    fpr = np.zeros((len(members), N_WEEKS))
    class_acc = np.zeros((len(members), N_WEEKS))
    for a, member in enumerate(members):
        b = member.behaviour
        decay = np.exp(-np.clip(weeks - member.start_week, 0, None) / b.learning_weeks)

        def settle(final: float, start: float | None, decay: np.ndarray = decay) -> np.ndarray:
            return np.full(N_WEEKS, final) if start is None else final + (start - final) * decay

        tpr[a, :, 1:] = settle(b.tpr, b.start_tpr)[:, None]
        fpr[a] = settle(b.fpr, b.start_fpr)
        class_acc[a] = settle(b.class_acc, b.start_class_acc)
        if b.drift_label is not None:
            progress = np.clip((weeks - b.drift_week + 1) / DRIFT_RAMP_WEEKS, 0, 1)
            c = LABELS.index(b.drift_label)
            tpr[a, :, c] += (b.drift_tpr - tpr[a, :, c]) * progress
    return _Rates(tpr, fpr, class_acc)


def _expected_reference_rates(
    members: Sequence[Member],
    rates: _Rates,
    ref_v1: np.ndarray,
    ref_v2: np.ndarray,
    ref_ambiguity: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Expected binary TPR and FPR (A, W) an annotator scores on the whole reference set.

    The label model is linear in ambiguity, so items are grouped by (v1, v2) true label and
    each group enters with its size and mean ambiguity.
    """
    pair, group = np.unique(ref_v1 * N_LABELS + ref_v2, return_inverse=True)
    size = np.bincount(group)
    mean_ambiguity = np.bincount(group, weights=ref_ambiguity) / size
    g_v1, g_v2 = pair // N_LABELS, pair % N_LABELS
    exp_tpr = np.zeros((len(members), N_WEEKS))
    exp_fpr = np.zeros((len(members), N_WEEKS))
    for a, member in enumerate(members):
        amb = mean_ambiguity * member.behaviour.ambiguity_sensitivity * AMBIGUITY_FLIP
        for w in range(N_WEEKS):
            in_force = g_v2 if w + 1 >= V2_WEEK else g_v1
            applied = g_v1 if member.behaviour.stale_policy else in_force
            fpr = rates.fpr[a, w]
            p_flag = np.where(
                applied == SAFE, fpr + (1 - fpr) * amb, rates.tpr[a, w, applied] * (1 - amb)
            )
            positive = in_force != SAFE
            exp_tpr[a, w] = np.average(p_flag[positive], weights=size[positive])
            exp_fpr[a, w] = np.average(p_flag[~positive], weights=size[~positive])
    return exp_tpr, exp_fpr


# ---------------------------------------------------------------------------------------------
# Items
@dataclass(frozen=True)
class _Items:
    """Latent and metadata arrays per item, in public id order."""

    v1: np.ndarray
    v2: np.ndarray
    ambiguity: np.ndarray
    lookalike: np.ndarray
    source: np.ndarray
    region: np.ndarray
    category: np.ndarray
    is_reference: np.ndarray
    is_training: np.ndarray


def _reference_truth(rng: np.random.Generator, n_ref: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact-proportion reference labels (v1) in random order, and which are toy guns."""
    counts = np.round(np.array(REFERENCE_PREVALENCE) * n_ref).astype(np.int64)
    counts[SAFE] += n_ref - counts.sum()
    v1 = rng.permutation(np.repeat(np.arange(N_LABELS, dtype=np.int8), counts))
    weapons = np.flatnonzero(v1 == WEAPONS)
    toy = np.zeros(n_ref, dtype=bool)
    toy[rng.choice(weapons, int(round(TOY_GUN_SHARE * weapons.size)), replace=False)] = True
    return v1, toy


def _draw_items(
    rng: np.random.Generator, n_prod: int, n_ref: int, n_train: int
) -> tuple[_Items, np.ndarray]:
    """True labels, ambiguity, lookalike class and metadata of every item, in id order.

    Items are drawn production first, then reference (training first among them); the
    second result maps that internal index to the item's shuffled position in id order.
    """
    n = n_prod + n_ref
    prod_v1 = rng.choice(N_LABELS, size=n_prod, p=PRODUCTION_PREVALENCE).astype(np.int8)
    prod_toy = (prod_v1 == WEAPONS) & (rng.random(n_prod) < TOY_GUN_SHARE)
    ref_v1, ref_toy = _reference_truth(rng, n_ref)
    v1 = np.concatenate([prod_v1, ref_v1])
    toy = np.concatenate([prod_toy, ref_toy])
    v2 = np.where(toy, np.int8(SAFE), v1)

    source = rng.choice(len(SOURCES), size=n, p=SOURCE_WEIGHTS).astype(np.int8)
    region = rng.choice(len(REGIONS), size=n, p=REGION_WEIGHTS).astype(np.int8)
    ambiguous_share = np.where(
        source == SOURCES.index(HARD_SOURCE), HARD_SOURCE_AMBIGUOUS_SHARE, AMBIGUOUS_SHARE
    )
    ambiguity = np.where(
        rng.random(n) < ambiguous_share, rng.uniform(*AMBIGUITY_RANGE, size=n), 0.0
    )
    # A safe item that looks like something is taken for that class; a toy gun for a weapon.
    lookalike = np.where(toy, WEAPONS, rng.integers(1, N_LABELS, size=n)).astype(np.int8)
    typical = np.take(LABEL_CATEGORY, v1)
    category = np.where(
        (v1 != SAFE) & (rng.random(n) < TYPICAL_CATEGORY_SHARE),
        typical,
        rng.integers(0, GENERAL_CATEGORIES, size=n),
    )
    category = np.where(toy, TOY_GUN_CATEGORY, category).astype(np.int8)
    internal = np.arange(n)
    position = rng.permutation(n)
    order = np.empty(n, dtype=np.int64)
    order[position] = internal
    items = _Items(
        v1=v1[order],
        v2=v2[order],
        ambiguity=ambiguity[order],
        lookalike=lookalike[order],
        source=source[order],
        region=region[order],
        category=category[order],
        is_reference=order >= n_prod,
        is_training=(order >= n_prod) & (order < n_prod + n_train),
    )
    return items, position


# ---------------------------------------------------------------------------------------------
# Who labels what, when
@dataclass(frozen=True)
class _Log:
    """One row per annotation: item index, annotator index, 1-based week, training flag."""

    item: np.ndarray
    annotator: np.ndarray
    week: np.ndarray
    training: np.ndarray


def _overlap_counts(rng: np.random.Generator, n_labels: int) -> np.ndarray:
    """Annotators per production item (1-3, shares ``OVERLAP``), summing to ``n_labels``."""
    mean = float(np.dot(np.arange(1, len(OVERLAP) + 1), OVERLAP))
    k = rng.choice(np.arange(1, len(OVERLAP) + 1), size=int(n_labels / mean * 1.05) + 10, p=OVERLAP)
    total = np.cumsum(k)
    n_items = int(np.searchsorted(total, n_labels)) + 1
    k = k[:n_items].astype(np.int8)
    k[-1] -= total[n_items - 1] - n_labels
    return k


def _production(
    rng: np.random.Generator, k: np.ndarray, capacity: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Give each production item a week and ``k`` distinct annotators, both by capacity.

    ``capacity``: (A, W) relative labelling speed of each annotator in production each week.
    Distinct annotators are drawn one after the other (successive sampling), redrawing the
    few that repeat an earlier pick; one week at a time.
    Returns (item, annotator, week) per annotation, items numbered 0..len(k)-1.
    """
    per_week = rng.multinomial(k.size, capacity.sum(axis=0) / capacity.sum())
    bounds = np.concatenate([[0], np.cumsum(per_week)])
    items, annotators, weeks = [], [], []
    for w in range(N_WEEKS):
        lo, hi = bounds[w], bounds[w + 1]
        cdf = np.cumsum(capacity[:, w]) / capacity[:, w].sum()
        picks = np.full((hi - lo, len(OVERLAP)), -1, dtype=np.int64)
        for j in range(len(OVERLAP)):
            rows = np.flatnonzero(k[lo:hi] > j)
            while rows.size:
                drawn = np.minimum(
                    np.searchsorted(cdf, rng.random(rows.size), side="right"), cdf.size - 1
                )
                picks[rows, j] = drawn
                rows = rows[(picks[rows, :j] == drawn[:, None]).any(axis=1)]
        take = picks >= 0
        annotators.append(picks[take].astype(np.int16))
        items.append(np.repeat(np.arange(lo, hi), k[lo:hi]))
        weeks.append(np.full(int(take.sum()), w + 1, dtype=np.int8))
    return np.concatenate(items), np.concatenate(annotators), np.concatenate(weeks)


def _schedule(
    rng: np.random.Generator, members: Sequence[Member], n_annotations: int
) -> tuple[_Log, int, int, int]:
    """Who labels which item in which week: production, controls and training.

    Returns the log (reference items numbered after production items, training items first
    among them), the number of production items, reference items and training items.
    """
    weeks = np.arange(1, N_WEEKS + 1)
    speed = np.array([m.speed for m in members])
    first_production = np.array([m.start_week + m.training_weeks for m in members])
    capacity = speed[:, None] * (weeks[None, :] >= first_production[:, None])
    newcomers = [
        a
        for a, m in enumerate(members)
        if m.speed > 0 and m.training_weeks > 0 and m.start_week + m.training_weeks - 1 >= 1
    ]
    n_train = min(TRAINING_ITEMS, max(50, n_annotations // 100))
    n_production = n_annotations - n_train * len(newcomers)
    n_controls = int(round(CONTROL_SHARE * n_production))

    k = _overlap_counts(rng, n_production - n_controls)
    n_prod = k.size
    item, annotator, week = _production(rng, k, capacity)

    # Controls: each annotator's share follows its production volume, in the same weeks.
    volume = np.bincount(
        annotator.astype(np.int64) * N_WEEKS + week - 1, minlength=len(members) * N_WEEKS
    ).reshape(len(members), N_WEEKS)
    per_annotator = rng.multinomial(n_controls, volume.sum(axis=1) / volume.sum())
    n_ref = max(
        MIN_REFERENCE_ITEMS,
        int(np.ceil(REFERENCE_SHARE * n_prod)),
        int(np.ceil(1.25 * (n_train + per_annotator.max()))),
    )
    c_item, c_annotator, c_week, c_training = [], [], [], []
    for a, member in enumerate(members):
        if per_annotator[a]:
            eligible_from = n_train if a in newcomers else 0
            chosen = rng.choice(n_ref - eligible_from, per_annotator[a], replace=False)
            c_item.append(n_prod + eligible_from + chosen)
            c_week.append(rng.choice(weeks, per_annotator[a], p=volume[a] / volume[a].sum()))
            c_annotator.append(np.full(per_annotator[a], a))
            c_training.append(np.zeros(per_annotator[a], dtype=bool))
        if a in newcomers:  # the whole training set, spread over the training weeks
            first = max(member.start_week, 1)
            last = member.start_week + member.training_weeks - 1
            c_item.append(n_prod + rng.permutation(n_train))
            c_week.append(rng.integers(first, last + 1, size=n_train))
            c_annotator.append(np.full(n_train, a))
            c_training.append(np.ones(n_train, dtype=bool))
    log = _Log(
        item=np.concatenate([item, *c_item]).astype(np.int64),
        annotator=np.concatenate([annotator, *c_annotator]).astype(np.int16),
        week=np.concatenate([week, *c_week]).astype(np.int8),
        training=np.concatenate([np.zeros(item.size, dtype=bool), *c_training]),
    )
    return log, n_prod, n_ref, n_train


# ---------------------------------------------------------------------------------------------
# Labels
def _draw_labels(
    rng: np.random.Generator, members: Sequence[Member], rates: _Rates, items: _Items, log: _Log
) -> tuple[np.ndarray, np.ndarray]:
    """Each annotation's label and ``unsure`` flag, from the label model in the module doc."""
    n = log.item.size
    w = log.week.astype(np.int64) - 1
    ann = log.annotator.astype(np.int64)
    stale = np.array([m.behaviour.stale_policy for m in members])
    sensitivity = np.array([m.behaviour.ambiguity_sensitivity for m in members])
    unsure_rate = np.array([m.behaviour.unsure_rate for m in members])

    use_v2 = (log.week >= V2_WEEK) & ~stale[ann]
    applied = np.where(use_v2, items.v2[log.item], items.v1[log.item]).astype(np.int64)
    amb = items.ambiguity[log.item] * sensitivity[ann]
    fpr = rates.fpr[ann, w]
    p_flag = np.where(
        applied == SAFE,
        fpr + (1 - fpr) * AMBIGUITY_FLIP * amb,
        rates.tpr[ann, w, applied] * (1 - AMBIGUITY_FLIP * amb),
    )
    u = rng.random(n)
    right_class = rng.random(n) < rates.class_acc[ann, w]
    any_positive = rng.integers(1, N_LABELS, size=n)
    other = rng.integers(1, N_LABELS - 1, size=n)
    other += other >= applied  # a positive class other than the applied one
    flagged_safe = np.where(u < fpr, any_positive, items.lookalike[log.item])
    flagged_positive = np.where(right_class, applied, other)
    label = np.where(
        u >= p_flag, SAFE, np.where(applied == SAFE, flagged_safe, flagged_positive)
    ).astype(np.int8)
    unsure = rng.random(n) < unsure_rate[ann] + UNSURE_PER_AMBIGUITY * amb
    return label, unsure


# ---------------------------------------------------------------------------------------------
# Tables
def _labels_table() -> pd.DataFrame:
    """The label set: ``safe`` and five positive (blacklist) classes."""
    return pd.DataFrame(
        {
            "label": pd.array(LABELS, dtype="str"),
            "is_positive": [label != "safe" for label in LABELS],
            "rank": np.array(LABEL_RANKS, dtype=np.int64),
            "color": pd.array(LABEL_COLORS, dtype="str"),
        }
    )


def _annotators_table(members: Sequence[Member]) -> pd.DataFrame:
    """One row per member; ``started_at`` is the Monday of its start week."""
    return pd.DataFrame(
        {
            "annotator_id": pd.array([m.annotator_id for m in members], dtype="str"),
            "name": pd.array([m.name for m in members], dtype="str"),
            "team": pd.array([m.team for m in members], dtype="str"),
            "role": pd.array([m.role for m in members], dtype="str"),
            "started_at": week_start(np.array([m.start_week for m in members])).as_unit("us"),
        }
    )


def _item_ids(n_items: int) -> pa.Array:
    """Item ids ``i0000001``, ``i0000002``... in order."""
    width = max(7, len(str(n_items)))
    numbers = pa.array(np.arange(1, n_items + 1))
    digits = pc.utf8_lpad(pc.cast(numbers, pa.string()), width, "0")
    return pc.binary_join_element_wise("i", digits, "")


def _items_table(items: _Items, ids: pa.Array) -> pd.DataFrame:
    """Items in id order with a placeholder uri and their slice metadata."""
    uri = pc.binary_join_element_wise("demo://items/", ids, ".jpg", "")
    return pd.DataFrame(
        {
            "item_id": pd.array(ids, dtype="str"),
            "uri": pd.array(uri, dtype="str"),
            "source": _strings(SOURCES, items.source),
            "region": _strings(REGIONS, items.region),
            "category": _strings(CATEGORIES, items.category),
        }
    )


def _reference_table(
    rng: np.random.Generator, members: Sequence[Member], items: _Items, ids: pa.Array
) -> pd.DataFrame:
    """Committee decisions: one v1 row per reference item, one v2 row per toy gun."""
    ref = np.flatnonzero(items.is_reference)
    n_ref = ref.size
    toy = items.category[ref] == TOY_GUN_CATEGORY
    committee = [m.annotator_id for m in members if m.role == "committee"] or ["committee"]
    decided_week = rng.integers(1 - REFERENCE_DECIDED_WEEKS, 1, size=n_ref)
    v1_seconds = _working_seconds(rng, decided_week)
    reason = items.v1[ref].astype(np.int64) * 3 + rng.integers(0, 3, size=n_ref)
    reasons = [text for label in LABELS for text in REASONS[label]]
    reasons += [TOY_GUN_V1_REASON, TOY_GUN_V2_REASON]
    reason = np.where(toy, len(reasons) - 2, reason)
    toy_ref = ref[toy]
    rows = np.concatenate([ref, toy_ref])
    v2_seconds = np.full(toy_ref.size, int(week_start(V2_WEEK).timestamp()))
    table = pd.DataFrame(
        {
            "item_id": pd.array(ids.take(pa.array(rows)), dtype="str"),
            "label": _strings(LABELS, np.concatenate([items.v1[ref], items.v2[toy_ref]])),
            "decided_at": _utc(np.concatenate([v1_seconds, v2_seconds])),
            "policy_version": _strings(("v1", "v2"), np.repeat([0, 1], [n_ref, toy_ref.size])),
            "reason": _strings(
                reasons, np.concatenate([reason, np.full(toy_ref.size, len(reasons) - 1)])
            ),
            "decided_by": _strings(committee, rng.integers(0, len(committee), size=rows.size)),
        }
    )
    return table.sort_values(["decided_at", "item_id"], ignore_index=True)


def _annotations_table(
    rng: np.random.Generator,
    members: Sequence[Member],
    log: _Log,
    label: np.ndarray,
    unsure: np.ndarray,
    ids: pa.Array,
) -> pd.DataFrame:
    """The annotation log in time order, timestamps in working hours of each week."""
    n = log.item.size
    seconds = _working_seconds(rng, log.week)
    batch_in_week = np.where(log.training, 0, rng.integers(1, BATCHES_PER_WEEK + 1, size=n))
    batch = (log.week.astype(np.int64) - 1) * (BATCHES_PER_WEEK + 1) + batch_in_week
    batches = [
        f"w{w:02d}-training" if b == 0 else f"w{w:02d}-b{b}"
        for w in range(1, N_WEEKS + 1)
        for b in range(BATCHES_PER_WEEK + 1)
    ]
    reasons = [text for positive in LABELS[1:] for text in REASONS[positive]]
    with_reason = (label != SAFE) & (rng.random(n) < ANNOTATION_REASON_SHARE)
    reason = np.where(
        with_reason, (label.astype(np.int64) - 1) * 3 + rng.integers(0, 3, size=n), -1
    )
    order = np.argsort(seconds * len(members) + log.annotator, kind="stable")
    return pd.DataFrame(
        {
            "item_id": pd.array(ids.take(pa.array(log.item[order])), dtype="str"),
            "annotator_id": _strings([m.annotator_id for m in members], log.annotator[order]),
            "label": _strings(LABELS, label[order]),
            "annotated_at": _utc(seconds[order]),
            "reason": _strings(reasons, reason[order]),
            "unsure": unsure[order],
            "policy_version": _strings(("v1", "v2"), (log.week[order] >= V2_WEEK).astype(np.int8)),
            "phase": _strings(("production", "training"), log.training[order].astype(np.int8)),
            "batch": _strings(batches, batch[order]),
        }
    )


def _personas_table(
    members: Sequence[Member], exp_tpr: np.ndarray, exp_fpr: np.ndarray
) -> pd.DataFrame:
    """Ground truth per member: persona, drift start and class, date from which aligned.

    ``aligned_from`` is the Monday from which the expected reference-set rates meet
    ``ALIGNED_TPR``/``ALIGNED_FPR`` through the end of the campaign (NaT if they never do, or
    for the committee); veterans aligned throughout get the campaign start.
    """
    aligned_from, drift_start, drift_label = [], [], []
    for a, member in enumerate(members):
        b = member.behaviour
        first = max(member.start_week, 1)
        aligned = (exp_tpr[a] >= ALIGNED_TPR) & (exp_fpr[a] <= ALIGNED_FPR)
        failing = np.flatnonzero(~aligned[first - 1 :])
        if member.speed == 0 or not aligned[-1]:
            aligned_from.append(pd.NaT)
        else:
            aligned_from.append(week_start(first + (failing[-1] + 1 if failing.size else 0)))
        drift_start.append(week_start(b.drift_week) if b.drift_label else pd.NaT)
        drift_label.append(b.drift_label)
    notes = [
        f"{m.behaviour.notes or m.behaviour.persona} "
        f"(TPR {m.behaviour.tpr:.3g}, FPR {m.behaviour.fpr:.3g})"
        if m.speed > 0
        else m.behaviour.notes
        for m in members
    ]
    return pd.DataFrame(
        {
            "annotator_id": pd.array([m.annotator_id for m in members], dtype="str"),
            "persona": pd.array([m.behaviour.persona for m in members], dtype="str"),
            "drift_start": pd.to_datetime(
                pd.Series(drift_start, dtype=object), utc=True
            ).dt.as_unit("us"),
            "drift_label": pd.array(drift_label, dtype="str"),
            "aligned_from": pd.to_datetime(
                pd.Series(aligned_from, dtype=object), utc=True
            ).dt.as_unit("us"),
            "notes": pd.array(notes, dtype="str"),
        }
    )


def _weekly_rates_table(
    members: Sequence[Member], exp_tpr: np.ndarray, exp_fpr: np.ndarray
) -> pd.DataFrame:
    """Expected reference-set TPR/FPR per annotator and active week (the drift ground truth)."""
    a, w = np.nonzero(
        np.array(
            [
                [m.speed > 0 and week >= m.start_week for week in range(1, N_WEEKS + 1)]
                for m in members
            ]
        )
    )
    tpr, fpr = exp_tpr[a, w], exp_fpr[a, w]
    return pd.DataFrame(
        {
            "annotator_id": _strings([m.annotator_id for m in members], a),
            "week": w + 1,
            "week_start": week_start(w + 1).as_unit("us"),
            "expected_tpr": tpr,
            "expected_fpr": fpr,
            "aligned": (tpr >= ALIGNED_TPR) & (fpr <= ALIGNED_FPR),
        }
    )


def _truth_table(items: _Items, item_id: pd.Series) -> pd.DataFrame:
    """Per item, in id order: true label under v1 and v2, ambiguity, reference/training set."""
    return pd.DataFrame(
        {
            "item_id": item_id.copy(),
            "label_v1": _strings(LABELS, items.v1),
            "label_v2": _strings(LABELS, items.v2),
            "ambiguity": items.ambiguity,
            "is_reference": items.is_reference,
            "is_training": items.is_training,
        }
    )


# ---------------------------------------------------------------------------------------------
# Public API
def generate(
    seed: int = 0,
    n_annotations: int = 200_000,
    team: Literal["personas", "steady"] | Sequence[Member] = "personas",
) -> DemoData:
    """Draw the demo campaign: same ``seed`` and arguments give identical tables.

    Parameters
    ----------
    seed : seed of ``numpy.random.default_rng``; nothing depends on the current date.
    n_annotations : exact number of annotation rows (training + production + controls);
        at least ``MIN_ANNOTATIONS``. Gives about 0.6 production items per label (45 % of
        them labelled by 2-3 annotators) and 2 % as many reference items (at least
        ``MIN_REFERENCE_ITEMS``, more if the controls need them).
    team : ``"personas"`` (``TEAM``: experts plus one of each bad or new persona),
        ``"steady"`` (same schedule, experts only: for false-alarm rates) or your own members.
    """
    if n_annotations < MIN_ANNOTATIONS:
        raise ValueError(
            f"n_annotations must be at least {MIN_ANNOTATIONS:,} so every persona gets "
            f"control items (got {n_annotations:,})"
        )
    members = _resolve_team(team)
    rng = np.random.default_rng(seed)
    rates = _weekly_rates(members)
    log, n_prod, n_ref, n_train = _schedule(rng, members, n_annotations)
    items, position = _draw_items(rng, n_prod, n_ref, n_train)
    log = replace(log, item=position[log.item])
    label, unsure = _draw_labels(rng, members, rates, items, log)
    ref = items.is_reference
    exp_tpr, exp_fpr = _expected_reference_rates(
        members, rates, items.v1[ref], items.v2[ref], items.ambiguity[ref]
    )
    ids = _item_ids(n_prod + n_ref)
    items_table = _items_table(items, ids)
    return DemoData(
        labels=_labels_table(),
        annotators=_annotators_table(members),
        items=items_table,
        reference=_reference_table(rng, members, items, ids),
        annotations=_annotations_table(rng, members, log, label, unsure, ids),
        personas=_personas_table(members, exp_tpr, exp_fpr),
        truth=_truth_table(items, items_table["item_id"]),
        weekly_rates=_weekly_rates_table(members, exp_tpr, exp_fpr),
    )


def _iso_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as CSV with timestamps as ISO 8601 UTC (``2026-08-31T08:15:00Z``)."""
    out = frame.copy()
    for name in out.columns:
        if isinstance(out[name].dtype, pd.DatetimeTZDtype):
            values = out[name].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
            text = np.char.add(np.datetime_as_string(values, unit="s"), "Z")
            out[name] = pd.array(np.where(np.isnat(values), "", text), dtype="str")
    out.to_csv(path, index=False)


def write_files(
    data: DemoData, folder: Path, fmt: Literal["parquet", "csv"] = "parquet"
) -> dict[str, Path]:
    """Write the five importable tables, one file per kind, to ``folder``; return the paths."""
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv' (got {fmt!r})")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind in IMPORT_ORDER:
        path = folder / f"{kind}.{fmt}"
        frame: pd.DataFrame = getattr(data, kind)
        if fmt == "parquet":
            frame.to_parquet(path, index=False)
        else:
            _iso_csv(frame, path)
        paths[kind] = path
    return paths


def build(
    db_path: str | Path,
    seed: int = 0,
    n_annotations: int = 200_000,
    team: Literal["personas", "steady"] | Sequence[Member] = "personas",
) -> DemoData:
    """Generate the demo, import it through ``import_files`` like a user's files (with the
    model of :mod:`qualitylib.demo_models` and its manual fixes), and store the personas as
    table ``demo_personas``. The personas demo also holds the box-drawing project of
    :mod:`qualitylib.demo_boxes` (its own team, images written next to the store)."""
    from qualitylib.ingest import import_files
    from qualitylib.store import connect

    data = generate(seed, n_annotations, team)
    with tempfile.TemporaryDirectory(prefix="qualitylib-demo-") as folder:
        paths = write_files(data, Path(folder))
        for kind in IMPORT_ORDER:
            import_files(db_path, kind, [paths[kind]])
        from qualitylib import demo_models  # the demo's model, in two versions, and its fixes

        predicted = demo_models.predictions(data, seed)
        for kind, frame in (
            ("predictions", predicted),
            ("fixes", demo_models.fixes(data, predicted, seed)),
        ):
            frame.to_parquet(Path(folder) / f"{kind}.parquet", index=False)
            import_files(db_path, kind, [Path(folder) / f"{kind}.parquet"])
    with connect(db_path) as con:
        con.register("personas_df", data.personas)
        con.execute(
            # Naive UTC timestamps, like every timestamp in the store.
            """CREATE OR REPLACE TABLE demo_personas AS
               SELECT annotator_id, persona, drift_start::TIMESTAMP AS drift_start, drift_label,
                      aligned_from::TIMESTAMP AS aligned_from, notes
               FROM personas_df"""
        )
        con.unregister("personas_df")
    if team == "personas":
        from qualitylib import demo_boxes

        demo_boxes.build(db_path, seed)
    return data
