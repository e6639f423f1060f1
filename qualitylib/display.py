"""How numbers and results read, in one place for the dashboard and the PDF report.

Rates read as percentages with one decimal (``93.4 %``), coefficients with two decimals
(``0.48``), intervals the same way, undefined values as "not enough data". The same value
therefore prints with the same digits on every page and in every report.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

import pandas as pd

__all__ = [
    "COEFFICIENTS",
    "COEFFICIENT_DIGITS",
    "FLAG_TEXT",
    "NOT_ENOUGH",
    "STATUS",
    "alerted_labels",
    "count",
    "interval",
    "is_number",
    "number",
    "percent",
    "points",
    "votes_text",
]

NOT_ENOUGH = "not enough data"
COEFFICIENT_DIGITS = 2
# Team agreement coefficients, in the order they are shown (raw agreement and the
# prevalence-robust ones before the kappa-type ones, which the prevalence paradox can sink).
COEFFICIENTS = {
    "percent_agreement": "Raw agreement",
    "gwet_ac1": "Gwet's AC1",
    "pabak": "PABAK",
    "fleiss_kappa": "Fleiss' kappa",
    "krippendorff_alpha_nominal": "Krippendorff's alpha",
    "krippendorff_alpha_ordinal": "Krippendorff's alpha (ordinal)",
    "gwet_ac2_quadratic": "Gwet's AC2 (quadratic)",
    "krippendorff_alpha_interval": "Krippendorff's alpha (interval)",
}
# Behaviour flags (qualitylib.metrics.behaviour.FLAGS) as the page and the report name them.
FLAG_TEXT = {
    "too_fast": "Too fast",
    "straight_lining": "Straight-lining",
    "label_mix": "Odd label mix",
    "spammer": "Spammer (MACE)",
    "inconsistent": "Inconsistent",
}
STATUS = {
    "in_training": "in training",
    "aligned": "aligned",
    "regressed": "regressed",
    "not_enough_data": "not enough data",
}


def is_number(value: object) -> bool:
    """True for a finite number (not None, not NaN)."""
    return isinstance(value, numbers.Real) and math.isfinite(float(value))


def percent(value: object, digits: int = 1) -> str:
    """A rate as ``93.4 %``, or "not enough data" when undefined."""
    return f"{float(value) * 100:.{digits}f} %" if is_number(value) else NOT_ENOUGH


def number(value: object, digits: int = COEFFICIENT_DIGITS) -> str:
    """A coefficient as ``0.48``, or "not enough data" when undefined."""
    return f"{float(value):.{digits}f}" if is_number(value) else NOT_ENOUGH


def points(value: object) -> str:
    """A change of rate in percentage points, ``+3.2 pts``; empty when undefined."""
    return f"{float(value) * 100:+.1f} pts" if is_number(value) else ""


def count(value: object) -> str:
    """A count with thousands separators, ``12,345``."""
    return f"{int(value):,}" if is_number(value) else "0"


def interval(low: object, high: object, as_percent: bool = True, prefix: bool = True) -> str:
    """``95 % CI 91.2 to 95.0 %`` (``0.41 to 0.60`` for a coefficient, without the prefix in
    a column already titled so); empty when undefined."""
    if not (is_number(low) and is_number(high)):
        return ""
    if as_percent:
        text = f"{float(low) * 100:.1f} to {float(high) * 100:.1f} %"
    else:
        text = f"{number(low)} to {number(high)}"
    return f"95 % CI {text}" if prefix else text


def votes_text(
    votes: Sequence[Mapping[str, object]] | None, names: Mapping[str, str] | None = None
) -> str:
    """Who said what on a queued item, ``safe: a01, a02?; nudity: a03`` (``?``: unsure), from
    the review queue's structured ``votes`` (one entry per label, most given first), with
    people shown by ``names`` (ids when absent)."""
    if votes is None:
        return ""
    names = names or {}
    groups = []
    for vote in votes:
        people = [
            names.get(str(who), str(who)) + ("?" if unsure else "")
            for who, unsure in zip(vote["annotators"], vote["unsure"], strict=True)
        ]
        groups.append(f"{vote['label']}: {', '.join(people)}")
    return "; ".join(groups)


def alerted_labels(alerts: pd.DataFrame) -> dict[str | None, list[str]]:
    """``{annotator_id: sorted classes}`` of a drift-alert table (``None``: the whole team),
    people in id order, the team last."""
    out: dict[str | None, list[str]] = {}
    people = alerts[alerts["scope"] == "annotator"]
    for who, labels in people.groupby("annotator_id", sort=True)["label"]:
        out[str(who)] = sorted(set(labels))
    team = alerts.loc[alerts["scope"] == "team", "label"]
    if len(team):
        out[None] = sorted(set(team))
    return out
