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
the target (at most :data:`MAX_MORE`; NaN beyond). Every step over items runs in DuckDB; only
the confusion matrices come to Python.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from qualitylib.errors import QualitylibError
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
    who, r, g = np.meshgrid(np.arange(len(everyone)), np.arange(k), np.arange(k), indexing="ij")
    decided = dict(
        con.execute(
            "SELECT label_key, count(*) FROM (SELECT item_key, arg_max(label_key, decided_at) "
            "AS label_key FROM reference GROUP BY item_key) GROUP BY label_key"
        ).fetchall()
    )
    prior = np.array([decided.get(int(key), 0) for key in keys], float) + 1
    tr, tg = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    votes, params = latest_sql(filters)
    params |= {
        "c_who": [int(everyone[i]) for i in who.ravel()],
        "c_true": keys[r.ravel()].tolist(),
        "c_label": keys[g.ravel()].tolist(),
        "c_lp": np.log(matrices[who, r, g]).ravel().tolist(),
        "p_true": keys.tolist(),
        "p_lp": np.log(prior / prior.sum()).tolist(),
        "t_true": keys[tr.ravel()].tolist(),
        "t_label": keys[tg.ravel()].tolist(),
        "t_p": team[tr, tg].ravel().tolist(),
        "target": target,
        "max_more": MAX_MORE,
        "price": price,
    }
    return con.execute(
        f"""WITH conf AS (
                SELECT unnest($c_who) AS annotator_key, unnest($c_true) AS true_key,
                       unnest($c_label) AS label_key, unnest($c_lp) AS lp
            ), prior AS (SELECT unnest($p_true) AS true_key, unnest($p_lp) AS lp),
            typical AS (
                SELECT unnest($t_true) AS true_key, unnest($t_label) AS label_key,
                       unnest($t_p) AS t
            ), v AS (
                SELECT * FROM {votes} AS v
                WHERE v.item_key NOT IN (SELECT item_key FROM reference)
            ), ll AS (
                SELECT v.item_key, c.true_key, sum(c.lp) AS lp, count(*) AS n_labels
                FROM v JOIN conf c USING (annotator_key, label_key) GROUP BY ALL
            ), w AS (
                SELECT ll.item_key, ll.true_key, ll.n_labels,
                       exp(ll.lp + p.lp - max(ll.lp + p.lp) OVER (PARTITION BY ll.item_key))
                           AS w
                FROM ll JOIN prior p USING (true_key)
            ), post AS (
                SELECT item_key, true_key, n_labels,
                       w / sum(w) OVER (PARTITION BY item_key) AS p
                FROM w
            ), top AS (
                SELECT item_key, any_value(n_labels) AS n_labels,
                       arg_max(true_key, p) AS posterior_key, max(p) AS confidence
                FROM post GROUP BY item_key HAVING max(p) < $target
            ), expected AS (
                SELECT item_key, sum(best) AS expected_top FROM (
                    SELECT q.item_key, t.label_key, max(q.p * t.t) AS best
                    FROM post q SEMI JOIN top USING (item_key)
                    JOIN typical t USING (true_key) GROUP BY ALL)
                GROUP BY item_key
            ), more AS (
                SELECT item_key, min(m) AS more_labels FROM (
                    SELECT q.item_key, s.m,
                           sum(q.p * pow(t.t, s.m)) FILTER (WHERE q.true_key = tp.posterior_key)
                               / sum(q.p * pow(t.t, s.m)) AS reached
                    FROM post q JOIN top tp USING (item_key)
                    JOIN typical t ON t.true_key = q.true_key
                                  AND t.label_key = tp.posterior_key
                    CROSS JOIN range(1, $max_more + 1) s(m)
                    GROUP BY ALL)
                WHERE reached >= $target GROUP BY item_key
            )
            SELECT i.item_id, tp.n_labels, l.label AS posterior_label, tp.confidence,
                   e.expected_top - tp.confidence AS gain_one_more, m.more_labels,
                   m.more_labels * $price AS cost
            FROM top tp JOIN items i USING (item_key) JOIN expected e USING (item_key)
            JOIN labels l ON l.label_key = tp.posterior_key
            LEFT JOIN more m USING (item_key)
            ORDER BY tp.confidence, i.item_id""",
        params,
    ).df()
