r"""When to ask for another label: each item's posterior over labels, and what one more buys.

The model is Dawid & Skene's (1979) with each annotator's confusion matrix estimated from the
committee's reference set instead of by EM, shrunk towards the team's (the answer for
annotators with few reference labels):

.. math::

    T_{rg} = \frac{n_{rg} + 1}{n_{r\cdot} + k}, \qquad
    A^{(a)}_{rg} = \frac{n^{(a)}_{rg} + \alpha T_{rg}}{n^{(a)}_{r\cdot} + \alpha}

(``n`` the team's reference-scored counts, reference label ``r`` x given ``g``; ``T`` with a
Dirichlet(1) prior per row; ``alpha`` pseudo-labels of the team's matrix per annotator). With
the prior :math:`\pi` from the reference decisions' labels (add-one), an item's posterior is

.. math::  P(c \mid \text{labels}) \propto \pi_c \prod_{j} A^{(a_j)}_{c\,l_j}

over each annotator's current answer. ``confidence`` is the largest posterior. One more label
from a typical annotator (matrix ``T``) raises the expected confidence to
:math:`\sum_l \max_c p_c T_{cl}`; ``gain_one_more`` is that minus ``confidence``.
``more_labels`` is how many more labels agreeing with the posterior label bring confidence to
the target (at most :data:`MAX_MORE`; NaN beyond). The pass over the answers is one join with
the per-(annotator, label) log-likelihoods of every true label (``k`` columns) and one GROUP BY
in DuckDB, which also keeps only the items below the target; their posteriors (the export's own
rows) come to numpy for the gain and the number of labels (at 1M labels: 1.6 s, where a long
``item x true label`` table with windows took 14 s).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from qualitylib.errors import QualitylibError
from qualitylib.log_scope import require_log
from qualitylib.metrics.counts import confusion_counts, latest_sql
from qualitylib.metrics.filters import Filters

__all__ = ["label_needs", "rater_confusions"]

ALPHA = 10.0
MAX_MORE = 20
TARGET = 0.95


def rater_confusions(counts: np.ndarray, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """The team's smoothed confusion ``T`` (k, k) and each annotator's ``A`` (n, k, k).

    ``counts[a, r, g]``: annotator ``a``'s labels ``g`` on items whose reference is ``r``.
    Rows of both sum to 1.

    >>> team, own = rater_confusions(np.array([[[8, 2], [0, 0]]]), alpha=2.0)
    >>> team.round(3).tolist(), own[0].round(3).tolist()
    ([[0.75, 0.25], [0.5, 0.5]], [[0.792, 0.208], [0.5, 0.5]])
    """
    counts = np.asarray(counts, dtype=float)
    k = counts.shape[-1]
    pooled = counts.sum(axis=0)
    team = (pooled + 1) / (pooled.sum(axis=1, keepdims=True) + k)
    own = (counts + alpha * team) / (counts.sum(axis=2, keepdims=True) + alpha)
    return team, own


def label_needs(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    target: float = TARGET,
    price: float = 1.0,
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """Items outside the reference set whose confidence is below ``target``, least sure first.

    Columns: ``item_id, n_labels`` (current answers), ``posterior_label, confidence,
    gain_one_more, more_labels, cost`` (``more_labels * price``).
    """
    require_log(con, "Label needs (every answer on each item)")
    if not 0 < target < 1:
        raise ValueError(f"target must be between 0 and 1 (got {target!r})")
    if price < 0:
        raise ValueError(f"price must not be negative (got {price!r})")
    filters = filters or Filters()
    confusion = confusion_counts(con, filters)
    if confusion.counts.sum() == 0:
        raise QualitylibError(
            "label-needs estimates annotators' accuracy from the reference set: "
            "import reference decisions (--kind reference) first"
        )
    team, own = rater_confusions(confusion.counts, alpha)
    keys = confusion.labels.labels["label_key"].to_numpy(dtype=np.int64)
    k = len(keys)
    everyone = [row[0] for row in con.execute("SELECT annotator_key FROM annotators").fetchall()]
    scored = {int(key): a for a, key in enumerate(confusion.annotators["annotator_key"])}
    matrices = np.stack([own[scored[key]] if key in scored else team for key in everyone])
    decided = dict(
        con.execute(
            "SELECT label_key, count(*) FROM (SELECT item_key, arg_max(label_key, decided_at) "
            "AS label_key FROM reference GROUP BY item_key) GROUP BY label_key"
        ).fetchall()
    )
    prior = np.array([decided.get(int(key), 0) for key in keys], float) + 1
    posterior = _posteriors(
        con, filters, keys, everyone, matrices, np.log(prior / prior.sum()), target
    )
    p = posterior[[f"p_{c}" for c in range(k)]].to_numpy()
    confidence = p.max(axis=1)
    top = p.argmax(axis=1)
    expected = (p[:, :, None] * team[None]).max(axis=1).sum(axis=1)  # sum_l max_c p_c T_cl
    towards = team[:, top].T  # (n, k): T[c, top] per item
    more = np.full(len(p), np.nan)
    for m in range(MAX_MORE, 0, -1):  # the smallest m that reaches the target wins
        grown = p * towards**m
        reached = grown[np.arange(len(p)), top] / grown.sum(axis=1) >= target
        more = np.where(reached, m, more)
    out = pd.DataFrame(
        {
            "item_id": posterior["item_id"],
            "n_labels": posterior["n_labels"].astype(np.int64),
            "posterior_label": np.asarray(confusion.labels.names, dtype=object)[top],
            "confidence": confidence,
            "gain_one_more": expected - confidence,
            "more_labels": more,
            "cost": more * price,
        }
    )
    return out.sort_values(["confidence", "item_id"], ignore_index=True)


def _posteriors(
    con: duckdb.DuckDBPyConnection,
    filters: Filters,
    keys: np.ndarray,
    everyone: list[int],
    matrices: np.ndarray,
    log_prior: np.ndarray,
    target: float,
) -> pd.DataFrame:
    """``item_id, n_labels, p_0..p_{k-1}`` of the items outside the reference set whose
    largest posterior is below ``target``: one join of the current answers with the
    per-(annotator, label) log-likelihoods of every true label (``k`` columns), one GROUP BY."""
    k = len(keys)
    who, given = np.meshgrid(np.arange(len(everyone)), np.arange(k), indexing="ij")
    votes, params = latest_sql(filters)
    params = params | {
        "who": [int(everyone[i]) for i in who.ravel()],
        "given": keys[given.ravel()].tolist(),
        "target": target,
    }
    for c in range(k):  # log P(given | true c) for each annotator and given label
        params[f"lp_{c}"] = np.log(matrices[who, c, given]).ravel().tolist()
        params[f"prior_{c}"] = float(log_prior[c])
    columns = range(k)  # column names from positions: never user text
    lps = ", ".join(f"unnest($lp_{c}) AS lp_{c}" for c in columns)
    sums = ", ".join(f"sum(c.lp_{c}) + $prior_{c} AS s_{c}" for c in columns)
    s_max = f"greatest({', '.join(f's_{c}' for c in columns)})"
    exps = ", ".join(f"exp(s_{c} - {s_max}) AS e_{c}" for c in columns)
    total = " + ".join(f"e_{c}" for c in columns)
    probs = ", ".join(f"e_{c} / ({total}) AS p_{c}" for c in columns)
    best = f"greatest({', '.join(f'p_{c}' for c in columns)})"
    return con.execute(
        f"""WITH conf AS (
                SELECT unnest($who) AS annotator_key, unnest($given) AS label_key, {lps}
            ), v AS (
                SELECT * FROM {votes} AS v
                WHERE v.item_key NOT IN (SELECT item_key FROM reference)
            ), ll AS (
                SELECT v.item_key, count(*) AS n_labels, {sums}
                FROM v JOIN conf c USING (annotator_key, label_key) GROUP BY v.item_key
            ), e AS (SELECT item_key, n_labels, {exps} FROM ll),
            post AS (SELECT item_key, n_labels, {probs} FROM e)
            SELECT i.item_id, post.* EXCLUDE (item_key)
            FROM post JOIN items i USING (item_key) WHERE {best} < $target""",
        params,
    ).df()
