"""SQL that turns the label log into small count tables; the only place metrics read the log.

Every O(rows) step (filtering, the as-of join to the reference, GROUP BY counts, the
self-join of annotators on shared items) runs in DuckDB. Python receives arrays whose size
depends on annotators, labels and pairs, not on the number of labels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time

import duckdb
import numpy as np
import pandas as pd

from qualitylib.log_scope import LogNeeded, log_omitted
from qualitylib.metrics.filters import COLUMNS, Filters
from qualitylib.store import label_set


def filtered_sql(filters: Filters) -> tuple[str, dict[str, object]]:
    """A subquery of the annotations passing ``filters``, and its parameters."""
    where, params = filters.where("x")
    return f"(SELECT x.* FROM annotations x WHERE {where})", params


# What needs each item's answers apart, so the label log (the one line that says so).
TEAM_COEFFICIENTS = (
    "Agreement of the whole team (Fleiss, Krippendorff, Gwet, PABAK, percent agreement: each "
    "item's answers)"
)

# The columns of table ``activity`` a filter reads: its cells are whole days.
_ACTIVITY = COLUMNS | {"annotated_at": "day"}


def _require_day_cells(filters: Filters) -> None:
    """Refuse what count cells of whole days cannot tell: a slice of items, or a window that
    does not start and end at midnight (UTC)."""
    if filters.slice_column is not None:
        raise LogNeeded("A slice of items")
    since = filters.since
    starts = not isinstance(since, datetime) or since.time() == time()
    if not starts or isinstance(filters.until, datetime):
        raise LogNeeded("A window within a day")


def activity_sql(con: duckdb.DuckDBPyConnection, filters: Filters) -> tuple[str, dict[str, object]]:
    """The labels passing ``filters`` as activity cells: ``annotator_key, policy_version,
    phase, first_at, last_at, n_labels, n_unsure`` (sum ``n_labels`` to count labels, take
    ``max(last_at)`` for the latest).

    On a store with the log each label is a cell; on one built without it (``cubes
    --no-log``) the cells are the count table ``activity`` (per annotator, day, policy version
    and phase), which gives the same sums for any window of whole days; a window within a day
    or a slice of items needs the log.
    """
    if not log_omitted(con):
        where, params = filters.where("x")
        return (
            "(SELECT x.annotator_key, x.policy_version, x.phase, x.annotated_at AS first_at, "
            "x.annotated_at AS last_at, 1 AS n_labels, CAST(x.unsure AS INTEGER) AS n_unsure "
            f"FROM annotations x WHERE {where})"
        ), params
    _require_day_cells(filters)
    where, params = filters.where("c", _ACTIVITY)
    return (
        "(SELECT c.annotator_key, c.policy_version, c.phase, c.first_at, c.last_at, c.n_labels, "
        f"c.n_unsure FROM activity c WHERE {where})"
    ), params


def scored_sql(filters: Filters) -> tuple[str, dict[str, object]]:
    """Annotations on reference items passing ``filters``, each with the decision in force then.

    Reads table ``scored``, which every import keeps up to date (see
    :data:`qualitylib.store.SCORING_SQL` for the as-of rule). Columns: the annotation's, plus
    ``ref_label_key, ref_policy_version, ref_reason``.
    """
    where, params = filters.where("s")
    return f"(SELECT s.* FROM scored s WHERE {where})", params


def latest_sql(filters: Filters) -> tuple[str, dict[str, object]]:
    """Each annotator's current answer per item (their latest label), for agreement.

    Reads table ``votes``, kept up to date by every import; ``filters`` select answers by when,
    under which policy version and in which phase they were given.
    """
    where, params = filters.where("v")
    return f"(SELECT v.item_key, v.annotator_key, v.label_key FROM votes v WHERE {where})", params


def contested_sql(filters: Filters) -> tuple[str, dict[str, object]]:
    """Labels of items with two different labels or an unsure flag (table ``contested``, kept
    by every import) passing ``filters``: every item that can enter the review queue, with all
    its labels passing the filters."""
    where, params = filters.where("c")
    return f"(SELECT c.* FROM contested c WHERE {where})", params


def _cell_side(side: str, at: str) -> dict[str, str]:
    """The columns of one side of table ``pair_counts``, its time read from column ``at``."""
    return _side(side) | {"annotated_at": at}


def _window_cuts_cells(
    con: duckdb.DuckDBPyConnection, filters: Filters, where: str, params: dict[str, object]
) -> bool:
    """Whether the window of ``filters`` keeps part of a ``pair_counts`` cell that ``where``
    (the other filters) keeps: then that cell's sum is not the window's count."""
    window = Filters(since=filters.since, until=filters.until)
    inside, outside = [], []
    for side in ("a", "b"):
        first, window_params = window.where("c", _cell_side(side, f"first_{side}"))
        last, _ = window.where("c", _cell_side(side, f"last_{side}"))
        inside.append(f"({first} AND {last})")
        # a window is an interval: a side is out when both ends are out on the same side
        before = f"c.last_{side} < $f_since" if window.since is not None else "false"
        after = f"c.first_{side} >= $f_until" if window.until is not None else "false"
        outside.append(f"({before} OR {after})")
    partial = [f"(NOT {i} AND NOT {o})" for i, o in zip(inside, outside, strict=True)]
    cut = f"({partial[0]} AND NOT {outside[1]}) OR ({partial[1]} AND NOT {outside[0]})"
    return bool(
        con.execute(
            f"SELECT EXISTS (SELECT 1 FROM pair_counts c WHERE {where} AND ({cut}))",
            params | window_params,
        ).fetchall()[0][0]
    )


def pair_counts_sql(
    con: duckdb.DuckDBPyConnection, filters: Filters
) -> tuple[str, dict[str, object]]:
    """Pairs of current answers passing ``filters`` as count cells: ``key_a, key_b, label_a,
    label_b, n_items`` (sum ``n_items`` for a pair's contingency table).

    On a store with the log each pair is a cell (:func:`pairs_sql`); on one built without it,
    the cells of table ``pair_counts`` (per pair, label pair, each side's week, version and
    phase), which give the same sums for any window that keeps or drops each cell whole (any
    window of whole weeks, the whole log); another window, or a slice of items, needs the log.
    """
    if not log_omitted(con):
        paired, params = pairs_sql(filters)
        return (
            f"(SELECT q.key_a, q.key_b, q.label_a, q.label_b, 1 AS n_items FROM {paired} AS q)",
            params,
        )
    _require_day_cells(filters)
    others = replace(filters, since=None, until=None)
    where_a, params = others.where("c", _side("a"))
    where_b, _ = others.where("c", _side("b"))
    if _window_cuts_cells(con, filters, f"{where_a} AND {where_b}", params):
        raise LogNeeded("Agreement between annotators in a window that cuts a week")
    where_a, params = filters.where("c", _cell_side("a", "first_a"))
    where_b, _ = filters.where("c", _cell_side("b", "first_b"))
    return (
        "(SELECT c.key_a, c.key_b, c.label_a, c.label_b, c.n_items FROM pair_counts c "
        f"WHERE {where_a} AND {where_b})"
    ), params


def _side(side: str) -> dict[str, str]:
    """The columns of one side (``a`` or ``b``) of table ``pairs``, for :meth:`Filters.where`."""
    return {
        "annotated_at": f"at_{side}",
        "annotator_key": f"key_{side}",
        "policy_version": f"policy_{side}",
        "phase": f"phase_{side}",
        "item_key": "item_key",
    }


def pairs_sql(filters: Filters) -> tuple[str, dict[str, object]]:
    """Pairs of current answers on one item (table ``pairs``) whose both answers pass ``filters``.

    Columns: ``item_key, key_a, key_b, label_a, label_b`` (``key_a < key_b``) and
    ``n_answers`` (the item's current answers before filtering).
    """
    where_a, params = filters.where("p", _side("a"))
    # The slice is about the item, which both sides share: test it once.
    where_b, _ = replace(filters, slice_column=None, slice_values=()).where("p", _side("b"))
    return (
        "(SELECT p.item_key, p.key_a, p.key_b, p.label_a, p.label_b, p.n_answers FROM pairs p "
        f"WHERE {where_a} AND {where_b})",
        params,
    )


@dataclass(frozen=True)
class LabelIndex:
    """The label set in rank order, and the map from stored label keys to array positions."""

    labels: pd.DataFrame  # label_key, label, is_positive, rank, color

    @property
    def names(self) -> list[str]:
        return self.labels["label"].tolist()

    @property
    def positive(self) -> np.ndarray:
        return self.labels["is_positive"].to_numpy(dtype=bool)

    def positions(self, keys: np.ndarray) -> np.ndarray:
        """Array positions of stored label keys."""
        lookup = np.full(int(self.labels["label_key"].max()) + 1, -1, dtype=np.int64)
        lookup[self.labels["label_key"].to_numpy()] = np.arange(len(self.labels))
        return lookup[np.asarray(keys, dtype=np.int64)]


def label_index(con: duckdb.DuckDBPyConnection) -> LabelIndex:
    """The store's label set as a :class:`LabelIndex`."""
    return LabelIndex(label_set(con))


@dataclass(frozen=True)
class ConfusionCounts:
    """Per-annotator confusion counts against the reference.

    ``counts[a, r, g]``: labels of annotator ``a`` on items whose reference is label ``r``
    and that were given label ``g``; shape ``(n_annotators, k, k)``.
    """

    annotators: pd.DataFrame  # annotator_key, annotator_id, name, team
    labels: LabelIndex
    counts: np.ndarray


def _annotators(con: duckdb.DuckDBPyConnection, keys: np.ndarray) -> pd.DataFrame:
    """Annotator rows for ``keys``, in that order."""
    people = con.execute(
        "SELECT annotator_key, annotator_id, name, team, role FROM annotators "
        "WHERE annotator_key IN (SELECT unnest($keys))",
        {"keys": [int(k) for k in keys]},
    ).df()
    order = pd.DataFrame({"annotator_key": keys})
    return order.merge(people, on="annotator_key", how="left")


def confusion_counts(con: duckdb.DuckDBPyConnection, filters: Filters) -> ConfusionCounts:
    """Confusion counts of every annotator with reference-scored labels."""
    scored, params = scored_sql(filters)
    table = con.execute(
        f"""SELECT annotator_key, ref_label_key, label_key, count(*) AS n
            FROM {scored} AS s GROUP BY ALL ORDER BY annotator_key""",
        params,
    ).df()
    index = label_index(con)
    keys = np.unique(table["annotator_key"].to_numpy()) if len(table) else np.array([], int)
    counts = np.zeros((len(keys), len(index.labels), len(index.labels)), dtype=np.int64)
    if len(table):
        rows = np.searchsorted(keys, table["annotator_key"].to_numpy())
        np.add.at(
            counts,
            (
                rows,
                index.positions(table["ref_label_key"].to_numpy()),
                index.positions(table["label_key"].to_numpy()),
            ),
            table["n"].to_numpy(),
        )
    return ConfusionCounts(_annotators(con, keys), index, counts)


@dataclass(frozen=True)
class PairTables:
    """Contingency tables of every annotator pair sharing items.

    ``tables[p, i, j]``: shared items that pair ``p``'s first annotator labelled ``i`` and
    the second ``j``; shape ``(n_pairs, k, k)``. Each annotator's latest label per item.
    """

    pairs: pd.DataFrame  # annotator_a, annotator_b (ids), key_a, key_b
    labels: LabelIndex
    tables: np.ndarray


def pair_tables(con: duckdb.DuckDBPyConnection, filters: Filters) -> PairTables:
    """Counts of label pairs for every annotator pair: one GROUP BY over table ``pairs``."""
    paired, params = pair_counts_sql(con, filters)
    table = con.execute(
        f"SELECT key_a, key_b, label_a, label_b, sum(n_items) AS n FROM {paired} AS p GROUP BY ALL",
        params,
    ).df()
    index = label_index(con)
    k = len(index.labels)
    if table.empty:
        pairs = pd.DataFrame(columns=["annotator_a", "annotator_b", "key_a", "key_b"])
        return PairTables(pairs, index, np.zeros((0, k, k), dtype=np.int64))
    pair_keys, pair_of_row = np.unique(
        table[["key_a", "key_b"]].to_numpy(), axis=0, return_inverse=True
    )
    tables = np.zeros((len(pair_keys), k, k), dtype=np.int64)
    np.add.at(
        tables,
        (
            pair_of_row.ravel(),
            index.positions(table["label_a"].to_numpy()),
            index.positions(table["label_b"].to_numpy()),
        ),
        table["n"].to_numpy(),
    )
    ids = dict(con.execute("SELECT annotator_key, annotator_id FROM annotators").fetchall())
    pairs = pd.DataFrame(
        {
            "annotator_a": [ids[int(key)] for key in pair_keys[:, 0]],
            "annotator_b": [ids[int(key)] for key in pair_keys[:, 1]],
            "key_a": pair_keys[:, 0],
            "key_b": pair_keys[:, 1],
        }
    )
    return PairTables(pairs, index, tables)


@dataclass(frozen=True)
class ItemPatterns:
    """Per-item category counts, grouped into distinct patterns with their frequency.

    ``counts[u, c]``: ratings of category ``c`` in pattern ``u``; ``weights[u]``: how many
    items share that pattern. Shape ``(n_patterns, k)``; patterns are few even at millions
    of items, so multi-rater coefficients and their bootstraps stay cheap.
    """

    labels: LabelIndex
    counts: np.ndarray
    weights: np.ndarray


# Per-item category counts are packed into 16-bit slots of a signed 128-bit sum, 7 labels a
# column (the top 16 bits stay free for the sign): one integer sum instead of a filtered count
# per label halves the per-item pass. A slot holds an item's pair ends of one category, at most
# m (m - 1) < 2**16 for m <= 256 answers; beyond that, per-label counts are used instead.
SLOT_BITS, SLOTS = 16, 7
MAX_PACKED_PAIRS = 256 * 255 // 2


def _crowded_ends(
    con: duckdb.DuckDBPyConnection, paired: str, params: dict[str, object], keys: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(n_pairs, ends, weight)`` per distinct pattern of the items with three or more answers
    in all (``ends[:, c]``: pair ends in category ``keys[c]``), grouped per item."""
    chunks = range(max(keys) // SLOTS + 1)

    def slot(side: str, chunk: int) -> str:
        if len(chunks) == 1:
            return f"(1::HUGEINT << ({SLOT_BITS} * label_{side}))"
        return (
            f"CASE WHEN label_{side} // {SLOTS} = {chunk} "
            f"THEN 1::HUGEINT << ({SLOT_BITS} * (label_{side} % {SLOTS})) ELSE 0 END"
        )

    sums = ", ".join(f"sum({slot('a', j)} + {slot('b', j)}) AS h{j}" for j in chunks)
    hs = ", ".join(f"h{j}" for j in chunks)
    ends = ", ".join(
        f"((h{key // SLOTS} >> {SLOT_BITS * (key % SLOTS)}) & {2**SLOT_BITS - 1})::BIGINT AS e{key}"
        for key in keys
    )
    try:
        found = con.execute(
            f"""WITH per_item AS (
                    SELECT item_key, count(*) AS n_pairs, {sums}
                    FROM {paired} AS p WHERE n_answers > 2 GROUP BY item_key
                ), patterns AS (
                    SELECT n_pairs, {hs}, count(*) AS weight FROM per_item GROUP BY ALL)
                SELECT n_pairs, {ends}, weight FROM patterns""",
            params,
        ).fetchnumpy()
        packed = not (len(found["n_pairs"]) and found["n_pairs"].max() > MAX_PACKED_PAIRS)
    except duckdb.OutOfRangeException:  # tens of thousands of answers on one item
        packed = False
    if not packed:
        # An item with over 256 answers could overflow a slot: count per label instead.
        columns = ", ".join(
            f"count(*) FILTER (WHERE label_a = {key}) + count(*) FILTER (WHERE label_b = {key})"
            f" AS e{key}"
            for key in keys
        )
        names = ", ".join(f"e{key}" for key in keys)
        found = con.execute(
            f"""WITH per_item AS (
                    SELECT item_key, count(*) AS n_pairs, {columns}
                    FROM {paired} AS p WHERE n_answers > 2 GROUP BY item_key)
                SELECT n_pairs, {names}, count(*) AS weight FROM per_item GROUP BY ALL""",
            params,
        ).fetchnumpy()
    return (
        np.asarray(found["n_pairs"], np.int64),
        np.column_stack([found[f"e{key}"] for key in keys]).astype(np.int64),
        np.asarray(found["weight"], np.int64),
    )


def _pair_ends(
    con: duckdb.DuckDBPyConnection, paired: str, params: dict[str, object], keys: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(n_pairs, ends, weight)`` for every item with two or more answers passing the filter.

    An item with two answers in all has one pair: when it passes, that pair is the item, so
    these items need no grouping per item (most of a typical log; the per-item GROUP BY then
    runs over a third of the pairs).
    """
    two = con.execute(
        f"""SELECT label_a, label_b, count(*) AS weight FROM {paired} AS p
            WHERE n_answers = 2 GROUP BY ALL""",
        params,
    ).fetchnumpy()
    position = {key: column for column, key in enumerate(keys)}
    two_ends = np.zeros((len(two["weight"]), len(keys)), np.int64)
    for side in ("label_a", "label_b"):
        columns = np.array([position[int(key)] for key in two[side]], np.int64)
        np.add.at(two_ends, (np.arange(len(columns)), columns), 1)
    n_pairs, ends, weight = _crowded_ends(con, paired, params, keys)
    return (
        np.concatenate([np.ones(len(two_ends), np.int64), n_pairs]),
        np.vstack([two_ends, ends]),
        np.concatenate([np.asarray(two["weight"], np.int64), weight]),
    )


def item_patterns(con: duckdb.DuckDBPyConnection, filters: Filters) -> ItemPatterns:
    """Category-count patterns over items (each annotator's latest label per item).

    Items with two or more answers passing ``filters`` come from table ``pairs``: an item with
    ``m`` such answers has ``p = m (m - 1) / 2`` pairs, in which each answer appears ``m - 1``
    times, so its count of category ``c`` is (answers ``c`` among the pairs' ends) / (m - 1).
    Items with one answer are the rest of the filtered answers, per category. Both are one
    pass over narrow tables, where grouping all of ``votes`` by item is a hash table of every item.
    """
    if log_omitted(con):  # per-item patterns: no count table keeps the items apart
        raise LogNeeded(TEAM_COEFFICIENTS)
    index = label_index(con)
    # Label keys are small integers from the store (never user text): safe in column names.
    keys = [int(key) for key in index.labels["label_key"]]
    if not keys:
        return ItemPatterns(index, np.zeros((0, 0), np.int64), np.zeros(0, np.int64))
    paired, params = pairs_sql(filters)
    n_pairs, ends, weights = _pair_ends(con, paired, params, keys)
    latest, latest_params = latest_sql(filters)
    answers = dict(
        con.execute(
            f"SELECT label_key, count(*) FROM {latest} AS l GROUP BY label_key", latest_params
        ).fetchall()
    )
    raters = (1 + np.rint(np.sqrt(1 + 8 * n_pairs)).astype(np.int64)) // 2
    counts = ends // np.maximum(raters - 1, 1)[:, None]
    single = np.array([answers.get(key, 0) for key in keys], np.int64)
    single -= (counts * weights[:, None]).sum(axis=0)
    counts = np.vstack([counts, np.eye(len(keys), dtype=np.int64)[single > 0]])
    weights = np.concatenate([weights, single[single > 0]])
    # Distinct patterns (two-answer items and filtered larger ones can share one), in a fixed
    # order (ascending counts: np.unique sorts rows), so sums and bootstrap resamples are
    # reproducible.
    if not len(counts):
        return ItemPatterns(index, counts, weights)
    distinct, which = np.unique(counts, axis=0, return_inverse=True)
    summed = np.bincount(which.ravel(), weights=weights, minlength=len(distinct))
    return ItemPatterns(index, distinct, summed.astype(np.int64))
