"""Stable pseudonyms for annotators, for screens and exports shown to the whole team.

A pseudonym is a keyed hash (HMAC-SHA256) of the annotator id, written as an adjective, an
animal and two hex digits ("Amber Heron 3F"): the same id and key give the same pseudonym in
every session, report and download, and without the key it cannot be traced back to the id.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

import pandas as pd

DEFAULT_KEY = "qualitylib"

ADJECTIVES = (
    "Amber", "Azure", "Brave", "Bright", "Calm", "Clever", "Coral", "Crimson",
    "Dapper", "Eager", "Fair", "Gentle", "Golden", "Hazel", "Honest", "Ivory",
    "Jade", "Jolly", "Keen", "Kind", "Lively", "Lucky", "Mellow", "Misty",
    "Noble", "Olive", "Patient", "Plucky", "Quiet", "Rapid", "Rosy", "Ruby",
    "Sandy", "Silver", "Sage", "Steady", "Sunny", "Swift", "Tidy", "Umber",
    "Vivid", "Warm", "Wise", "Witty", "Young", "Zesty", "Cobalt", "Scarlet",
)  # fmt: skip
ANIMALS = (
    "Badger", "Beaver", "Bison", "Crane", "Dolphin", "Eagle", "Falcon", "Ferret",
    "Finch", "Fox", "Gecko", "Heron", "Ibis", "Jaguar", "Koala", "Lark",
    "Lemur", "Lynx", "Marten", "Moose", "Newt", "Ocelot", "Otter", "Owl",
    "Panda", "Puffin", "Quail", "Raven", "Robin", "Seal", "Sparrow", "Stork",
    "Swan", "Tapir", "Tern", "Tiger", "Toucan", "Vole", "Walrus", "Wombat",
    "Wren", "Yak", "Zebra", "Bobcat", "Condor", "Hare", "Orca", "Pika",
)  # fmt: skip


def pseudonym(annotator_id: str, key: str = DEFAULT_KEY) -> str:
    """The pseudonym of one annotator id under ``key``.

    >>> pseudonym("a01") == pseudonym("a01")
    True
    >>> pseudonym("a01") != pseudonym("a01", key="another team secret")
    True
    """
    digest = hmac.new(key.encode(), str(annotator_id).encode(), hashlib.sha256).digest()
    adjective = ADJECTIVES[int.from_bytes(digest[0:2], "big") % len(ADJECTIVES)]
    animal = ANIMALS[int.from_bytes(digest[2:4], "big") % len(ANIMALS)]
    return f"{adjective} {animal} {digest[4]:02X}"


def pseudonym_map(annotator_ids: Iterable[str], key: str = DEFAULT_KEY) -> dict[str, str]:
    """``{id: pseudonym}`` for each distinct id."""
    return {a: pseudonym(a, key) for a in dict.fromkeys(annotator_ids)}


def pseudonymize(
    frame: pd.DataFrame,
    id_columns: Iterable[str],
    key: str = DEFAULT_KEY,
    drop: Iterable[str] = ("name",),
) -> pd.DataFrame:
    """A copy of ``frame`` with each id column replaced by pseudonyms and ``drop`` removed.

    Missing values (e.g. ``annotator_id`` None for the whole team) stay missing. ``drop``
    removes the columns that would reveal the person (their real name by default).
    """
    out = frame.drop(columns=[c for c in drop if c in frame.columns])
    for column in id_columns:
        if column in out.columns:
            values = out[column]
            mapping = {v: pseudonym(str(v), key) for v in values.dropna().unique()}
            out[column] = values.map(mapping)
    return out
