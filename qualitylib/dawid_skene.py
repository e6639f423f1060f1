"""Dawid-Skene: per-annotator confusion matrices and true labels without a reference set.

Dawid, A. P. & Skene, A. M. (1979). Maximum likelihood estimation of observer error-rates
using the EM algorithm. *Journal of the Royal Statistical Society C*, 28(1), 20-28.

Notation (as in the paper): item :math:`i`, annotator :math:`j`, classes :math:`k, l`;
:math:`p_k` the class priors, :math:`\\pi^{(j)}_{kl}` the probability that annotator
:math:`j` answers :math:`l` when the true class is :math:`k`, :math:`T_{ik}` the posterior
probability that item :math:`i` is of class :math:`k`. EM alternates

- M-step: :math:`p_k = \\frac{1}{I}\\sum_i T_{ik}`,
  :math:`\\pi^{(j)}_{kl} \\propto \\sum_{(i, j, l)} T_{ik}`;
- E-step: :math:`\\log T_{ik} = \\log p_k + \\sum_{(i, j, l)} \\log \\pi^{(j)}_{kl}` + const,

starting from the (soft) majority vote. Both steps run on the sparse list of answered
``(item, annotator, label)`` triples with ``np.bincount``: memory and time grow with the number
of labels, never with items x annotators. The interface follows crowd-kit
(``fit(df) -> self``, ``labels_``, ``probas_``, ``priors_``, ``errors_``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

EPS = 1e-10
COLUMN_SETS = (("item_id", "annotator_id", "label"), ("task", "worker", "label"))


@dataclass(frozen=True)
class _Triples:
    """Integer-coded answers: ``item, annotator, label`` arrays of shape ``(n_labels,)``."""

    item: np.ndarray
    annotator: np.ndarray
    label: np.ndarray
    items: pd.Index
    annotators: pd.Index
    classes: pd.Index


def _triples(data: pd.DataFrame) -> _Triples:
    """Factorise the long table; accept our column names or crowd-kit's."""
    names = next((cols for cols in COLUMN_SETS if set(cols) <= set(data.columns)), None)
    if names is None:
        raise ValueError(
            "data needs columns item_id, annotator_id, label (or crowd-kit's task, worker, "
            f"label); got {', '.join(map(str, data.columns))}"
        )
    if data.empty:
        raise ValueError("data has no rows: nothing to estimate")
    for column in names:
        missing = int(data[column].isna().sum())
        if missing:
            raise ValueError(
                f"{missing} row(s) have no {column} (NaN or None); every answer needs an item, "
                f"an annotator and a label: drop or fill those rows before fitting"
            )
    item, items = pd.factorize(data[names[0]], sort=True)
    annotator, annotators = pd.factorize(data[names[1]], sort=True)
    label, classes = pd.factorize(data[names[2]], sort=True)
    return _Triples(item, annotator, label, items, annotators, classes)


def _majority_vote(t: _Triples) -> np.ndarray:
    """Initial ``T``: each item's share of votes per class, shape ``(I, K)``."""
    n_items, k = len(t.items), len(t.classes)
    votes = np.bincount(t.item * k + t.label, minlength=n_items * k).reshape(n_items, k)
    return votes / votes.sum(axis=1, keepdims=True)


def _m_step(t: _Triples, posterior: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Priors ``p`` (K,) and confusion matrices ``pi`` (J, K, K) from the posteriors ``T``."""
    n_annotators, k = len(t.annotators), len(t.classes)
    true = np.arange(k)
    cells = (t.annotator[:, None] * k + true[None, :]) * k + t.label[:, None]
    counts = np.bincount(
        cells.ravel(), weights=posterior[t.item].ravel(), minlength=n_annotators * k * k
    ).reshape(n_annotators, k, k)
    totals = counts.sum(axis=2, keepdims=True)
    # an annotator never seen on class k says nothing about it: a uniform row
    pi = np.divide(counts, totals, out=np.full_like(counts, 1.0 / k), where=totals > 0)
    return posterior.mean(axis=0), pi


def _e_step(t: _Triples, priors: np.ndarray, pi: np.ndarray) -> tuple[np.ndarray, float]:
    """Posteriors ``T`` (I, K) and the log-likelihood of the answers."""
    n_items, k = len(t.items), len(t.classes)
    log_pi = np.log(pi + EPS)[t.annotator, :, t.label]  # (n_labels, K)
    cells = t.item[:, None] * k + np.arange(k)[None, :]
    log_joint = np.log(priors + EPS) + np.bincount(
        cells.ravel(), weights=log_pi.ravel(), minlength=n_items * k
    ).reshape(n_items, k)
    top = log_joint.max(axis=1, keepdims=True)
    joint = np.exp(log_joint - top)
    evidence = joint.sum(axis=1, keepdims=True)
    log_likelihood = float((top + np.log(evidence)).sum())
    return joint / evidence, log_likelihood


class DawidSkene:
    """Dawid & Skene (1979) EM estimator of true labels and annotator confusion matrices.

    Parameters
    ----------
    n_iter : int
        At most this many EM iterations.
    tol : float
        Stop when the log-likelihood improves by less than this.

    Attributes (after :meth:`fit`)
    ------------------------------
    labels_ : pd.Series
        Most probable true label per item (index ``item_id``).
    probas_ : pd.DataFrame
        ``T``: posterior class probabilities, items x classes.
    priors_ : pd.Series
        ``p``: class priors.
    errors_ : pd.DataFrame
        Tidy confusion matrices ``annotator_id, true_label, label, probability``
        (``probability`` = :math:`\\pi^{(j)}_{kl}`, summing to 1 over ``label``).
    accuracy_ : pd.Series
        Estimated accuracy per annotator: :math:`\\sum_k \\pi^{(j)}_{kk}` weighted by the
        posterior classes of the items that annotator labelled.
    n_iter_ : int
        Iterations run. ``log_likelihood_`` : float, at the end.

    Examples
    --------
    >>> data = pd.DataFrame({
    ...     "item_id": [1, 1, 1, 2, 2, 2, 3, 3, 3],
    ...     "annotator_id": ["a", "b", "c"] * 3,
    ...     "label": ["x", "x", "y", "y", "y", "y", "x", "x", "x"],
    ... })
    >>> DawidSkene().fit(data).labels_.tolist()
    ['x', 'y', 'x']
    """

    def __init__(self, n_iter: int = 100, tol: float = 1e-5) -> None:
        if n_iter < 1:
            raise ValueError(f"n_iter must be at least 1 (got {n_iter})")
        self.n_iter = n_iter
        self.tol = tol

    def fit(self, data: pd.DataFrame) -> DawidSkene:
        """Estimate from the long table ``item_id, annotator_id, label`` (or ``task, worker,
        label``); one row per answer."""
        t = _triples(data)
        posterior = _majority_vote(t)
        priors, pi = _m_step(t, posterior)
        previous = -np.inf
        for iteration in range(1, self.n_iter + 1):
            posterior, log_likelihood = _e_step(t, priors, pi)
            priors, pi = _m_step(t, posterior)
            self.n_iter_ = iteration
            if log_likelihood - previous < self.tol:
                break
            previous = log_likelihood
        self.log_likelihood_ = log_likelihood
        self._set_results(t, posterior, priors, pi)
        return self

    def fit_predict(self, data: pd.DataFrame) -> pd.Series:
        """:meth:`fit`, then the most probable label per item."""
        return self.fit(data).labels_

    def _set_results(
        self, t: _Triples, posterior: np.ndarray, priors: np.ndarray, pi: np.ndarray
    ) -> None:
        """Label the arrays with the item, annotator and class ids."""
        items = pd.Index(t.items, name="item_id")
        classes = pd.Index(t.classes, name="label")
        self.probas_ = pd.DataFrame(posterior, index=items, columns=classes)
        self.labels_ = pd.Series(classes[posterior.argmax(axis=1)], index=items, name="label")
        self.priors_ = pd.Series(priors, index=classes, name="prior")
        k = len(classes)
        n_annotators = len(t.annotators)
        self.errors_ = pd.DataFrame(
            {
                "annotator_id": np.repeat(np.asarray(t.annotators), k * k),
                "true_label": np.tile(np.repeat(np.asarray(classes), k), n_annotators),
                "label": np.tile(np.asarray(classes), n_annotators * k),
                "probability": pi.ravel(),
            }
        )
        # expected true classes of each annotator's items, (J, K)
        seen = np.zeros((n_annotators, k))
        np.add.at(seen, t.annotator, posterior[t.item])
        weights = seen / seen.sum(axis=1, keepdims=True)
        diagonal = np.diagonal(pi, axis1=1, axis2=2)
        self.accuracy_ = pd.Series(
            (weights * diagonal).sum(axis=1),
            index=pd.Index(t.annotators, name="annotator_id"),
            name="accuracy",
        )
