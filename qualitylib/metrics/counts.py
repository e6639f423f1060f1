"""SQL that turns the label log into small count tables; the only place metrics read the log.

Every O(rows) step (filtering, the as-of join to the reference, GROUP BY counts, the
self-join of annotators on shared items) runs in DuckDB. Python receives arrays whose size
depends on annotators, labels and pairs, not on the number of labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from qualitylib.metrics.filters import Filters
from qualitylib.store import label_set


def filtered_sql(filters: Filters) -> tuple[str, dict[str, object]]:
    """A subquery of the annotations passing ``filters``, and its parameters."""
    where, params = filters.where("x")
    return f"(SELECT x.* FROM annotations x WHERE {where})", params


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
    """Counts of label pairs for every annotator pair, from one self-join in SQL."""
    latest, params = latest_sql(filters)
    table = con.execute(
        f"""WITH l AS {latest},
            shared AS (SELECT item_key FROM l GROUP BY item_key HAVING count(*) >= 2),
            ls AS (SELECT * FROM l WHERE item_key IN (SELECT item_key FROM shared))
            SELECT a.annotator_key AS key_a, b.annotator_key AS key_b,
                   a.label_key AS label_a, b.label_key AS label_b, count(*) AS n
            FROM ls a JOIN ls b ON a.item_key = b.item_key AND a.annotator_key < b.annotator_key
            GROUP BY ALL""",
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


def item_patterns(con: duckdb.DuckDBPyConnection, filters: Filters) -> ItemPatterns:
    """Category-count patterns over items (each annotator's latest label per item)."""
    latest, params = latest_sql(filters)
    index = label_index(con)
    keys = [int(key) for key in index.labels["label_key"]]
    # One count column per label: the column names come from integer keys, the keys are bound.
    columns = ", ".join(f"count(*) FILTER (WHERE label_key = $k{key}) AS c{key}" for key in keys)
    names = ", ".join(f"c{key}" for key in keys)
    # ORDER BY: a fixed pattern order makes sums and bootstrap resamples reproducible.
    table = con.execute(
        f"""WITH l AS {latest},
            per_item AS (SELECT item_key, {columns} FROM l GROUP BY item_key)
            SELECT {names}, count(*) AS weight FROM per_item GROUP BY ALL ORDER BY ALL""",
        params | {f"k{key}": key for key in keys},
    ).fetchnumpy()
    counts = np.column_stack([table[f"c{key}"] for key in keys]) if keys else np.zeros((0, 0))
    return ItemPatterns(index, counts.astype(np.int64), np.asarray(table["weight"], np.int64))
