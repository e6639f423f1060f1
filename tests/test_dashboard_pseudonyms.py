"""Pseudonyms for team-wide screens: stable, keyed, distinct, applied to tables."""

from __future__ import annotations

import re

import pandas as pd

from qualitylib.pseudonyms import pseudonym, pseudonym_map, pseudonymize

PATTERN = re.compile(r"^[A-Z][a-z]+ [A-Z][a-z]+ [0-9A-F]{2}$")


def test_pseudonym_is_stable_and_keyed() -> None:
    # Pinned: the same id gives the same pseudonym in every session and release.
    assert pseudonym("a01") == "Scarlet Swan 19"
    assert pseudonym("a01") == pseudonym("a01")
    assert pseudonym("a01", key="team secret") != pseudonym("a01")
    assert PATTERN.match(pseudonym("someone@example.com"))


def test_pseudonyms_of_a_large_team_are_distinct() -> None:
    ids = [f"annotator-{i}" for i in range(500)]
    assert len(set(pseudonym_map(ids).values())) == 500


def test_pseudonymize_replaces_ids_drops_names_and_keeps_missing() -> None:
    frame = pd.DataFrame(
        {
            "annotator_id": ["a01", "a02", None],
            "name": ["Alice Martin", "Bruno Costa", None],
            "annotator_b": ["a02", "a01", "a01"],
            "value": [1, 2, 3],
        }
    )
    out = pseudonymize(frame, ["annotator_id", "annotator_b"])
    assert "name" not in out.columns
    assert out["annotator_id"].tolist()[:2] == [pseudonym("a01"), pseudonym("a02")]
    assert pd.isna(out["annotator_id"].iloc[2])
    assert out["annotator_b"].tolist() == [pseudonym("a02"), pseudonym("a01"), pseudonym("a01")]
    assert frame["annotator_id"].iloc[0] == "a01"  # the input is not modified
