"""MACE: who is competent and who spams, and the true labels, without a reference set.

Hovy, D., Berg-Kirkpatrick, T., Vaswani, A. & Hovy, E. (2013). Learning whom to trust with
MACE. *Proceedings of NAACL-HLT 2013*, 1120-1130.

Model (the paper's notation): item :math:`i` has a true label :math:`T_i`, uniform over the
:math:`K` classes; on each answer annotator :math:`j` spams (:math:`S_{ij} = 1`) with
probability :math:`1 - \\theta_j` and then draws the answer from their own strategy
:math:`\\xi_j`, otherwise answers :math:`T_i`. So

.. math::

    P(A_{ij} = l \\mid T_i = t) = \\theta_j [l = t] + (1 - \\theta_j)\\, \\xi_{jl}.

EM (the paper's section 3, with its additive smoothing of the expected counts): the E-step
gives the posteriors of :math:`T_i` and, per answer, the probability that it was known,
:math:`P(S_{ij} = 0) = T_{il}\\, \\theta_j / (\\theta_j + (1 - \\theta_j) \\xi_{jl})`; the M-step
sets :math:`\\theta_j` to the expected share of known answers and :math:`\\xi_j` to the label mix
of the expected spam. The likelihood has several optima, so EM runs from the majority vote and
from ``n_restarts`` random starts and keeps the best (as MACE does). Like
:mod:`qualitylib.dawid_skene`, it runs on integer-coded answer triples with ``np.bincount``
(no items x annotators array) and follows crowd-kit's interface (``fit(df) -> self``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from qualitylib.dawid_skene import _majority_vote, _Triples, _triples

__all__ = ["MACE"]

EPS = 1e-12


def _e_step(
    t: _Triples, theta: np.ndarray, xi: np.ndarray, priors: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Posteriors ``T`` (I, K), each answer's P(known) (n_labels,), the log-likelihood."""
    n_items, k = len(t.items), len(t.classes)
    th = theta[t.annotator]
    spam = (1 - th) * xi[t.annotator, t.label]  # P(answer l via spam), (n_labels,)
    base = np.bincount(t.item, weights=np.log(spam + EPS), minlength=n_items)
    boost = np.bincount(
        t.item * k + t.label,
        weights=np.log(th + spam + EPS) - np.log(spam + EPS),
        minlength=n_items * k,
    ).reshape(n_items, k)
    log_joint = base[:, None] + boost + np.log(priors + EPS)
    top = log_joint.max(axis=1, keepdims=True)
    joint = np.exp(log_joint - top)
    evidence = joint.sum(axis=1, keepdims=True)
    posterior = joint / evidence
    known = posterior[t.item, t.label] * th / (th + spam + EPS)
    return posterior, known, float((weight * (top + np.log(evidence)).ravel()).sum())


def _m_step(
    t: _Triples, known: np.ndarray, smoothing: float, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Competences ``theta`` (J,) and strategies ``xi`` (J, K) from the expected counts
    (each answer counted ``weight`` of its item times)."""
    n_annotators, k = len(t.annotators), len(t.classes)
    w = weight[t.item]
    n = np.bincount(t.annotator, weights=w, minlength=n_annotators)
    knew = np.bincount(t.annotator, weights=known * w, minlength=n_annotators)
    theta = (knew + smoothing) / (n + 2 * smoothing)
    spam = np.bincount(
        t.annotator * k + t.label, weights=(1 - known) * w, minlength=n_annotators * k
    ).reshape(n_annotators, k)
    xi = (spam + smoothing) / (spam.sum(axis=1, keepdims=True) + k * smoothing)
    return theta, xi


class MACE:
    """Multi-Annotator Competence Estimation (Hovy et al. 2013) by EM with restarts.

    Parameters
    ----------
    n_iter : int
        At most this many EM iterations per start.
    tol : float
        Stop a start when the log-likelihood improves by less than this.
    n_restarts : int
        Random starts besides the majority-vote one; the best likelihood wins.
    smoothing : float
        Added to the expected counts in the M-step (MACE's default 0.01).
    random_state : int
        Seed of the random starts.
    priors : "uniform" or "learned"
        MACE fixes the true labels' prior to uniform. With one dominant class (95 % ``safe``)
        that prior makes "everyone answers ``safe`` by spamming" as likely as "everyone knows":
        ``"learned"`` estimates the class priors in the M-step too, as Dawid-Skene does.

    Attributes (after :meth:`fit`)
    ------------------------------
    competence_ : pd.Series
        :math:`\\theta_j`, P(an answer of annotator j is not spam), index ``annotator_id``.
    spam_probability_ : pd.Series
        :math:`1 - \\theta_j`.
    strategy_ : pd.DataFrame
        :math:`\\xi_j`: annotators x classes, what each one answers when spamming.
    labels_ : pd.Series
        Most probable true label per item. ``probas_``: the posteriors, items x classes.
    priors_ : pd.Series
        The class priors (uniform unless learned). ``log_likelihood_`` : float.

    Examples
    --------
    >>> data = pd.DataFrame({
    ...     "item_id": [1, 1, 1, 2, 2, 2, 3, 3, 3],
    ...     "annotator_id": ["a", "b", "c"] * 3,
    ...     "label": ["x", "x", "y", "y", "y", "y", "x", "x", "y"],
    ... })
    >>> MACE().fit(data).labels_.tolist()
    ['x', 'y', 'x']
    """

    def __init__(
        self,
        n_iter: int = 100,
        tol: float = 1e-6,
        n_restarts: int = 10,
        smoothing: float = 0.01,
        random_state: int = 0,
        priors: Literal["uniform", "learned"] = "uniform",
    ) -> None:
        if n_iter < 1 or n_restarts < 0:
            raise ValueError("n_iter must be at least 1 and n_restarts at least 0")
        if smoothing <= 0:
            raise ValueError(f"smoothing must be positive (got {smoothing})")
        self.n_iter = n_iter
        self.tol = tol
        self.n_restarts = n_restarts
        self.smoothing = smoothing
        self.random_state = random_state
        self.priors = priors

    def fit(self, data: pd.DataFrame) -> MACE:
        """Estimate from the long table ``item_id, annotator_id, label`` (or ``task, worker,
        label``); one row per answer.

        An optional ``weight`` column counts how many items share the row's item: items with
        the same answers (same people, same labels) have the same posterior, so a count table
        of answer patterns (one "item" per pattern, weighted by its number of items) gives the
        same competences as the items themselves, from far fewer rows.
        """
        t = _triples(data)
        weight = np.ones(len(t.items))
        if "weight" in data.columns:
            weights = data["weight"].to_numpy(dtype=float)
            if not (np.isfinite(weights).all() and (weights > 0).all()):
                raise ValueError("weight must be a positive count of items on every row")
            weight[t.item] = weights  # one value per item (a pattern's count)
        rng = np.random.default_rng(self.random_state)
        n_annotators, k = len(t.annotators), len(t.classes)
        vote = _majority_vote(t)
        starts = [_m_step(t, vote[t.item, t.label], self.smoothing, weight)]
        for _ in range(self.n_restarts):
            theta = rng.uniform(0.3, 0.95, size=n_annotators)
            xi = rng.dirichlet(np.ones(k), size=n_annotators)
            starts.append((theta, xi))
        uniform = np.full(k, 1.0 / k)
        first = np.average(vote, axis=0, weights=weight) if self.priors == "learned" else uniform
        best: tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray] = (
            -np.inf, vote, *starts[0], first,
        )  # fmt: skip
        for theta, xi in starts:
            priors = first
            previous = -np.inf
            for _ in range(self.n_iter):
                posterior, known, log_likelihood = _e_step(t, theta, xi, priors, weight)
                theta, xi = _m_step(t, known, self.smoothing, weight)
                if self.priors == "learned":
                    priors = np.average(posterior, axis=0, weights=weight)
                if log_likelihood - previous < self.tol:
                    break
                previous = log_likelihood
            posterior, _, log_likelihood = _e_step(t, theta, xi, priors, weight)
            if log_likelihood > best[0]:
                best = (log_likelihood, posterior, theta, xi, priors)
        self.log_likelihood_, posterior, theta, xi, priors = best
        annotators = pd.Index(t.annotators, name="annotator_id")
        classes = pd.Index(t.classes, name="label")
        items = pd.Index(t.items, name="item_id")
        self.competence_ = pd.Series(theta, index=annotators, name="competence")
        self.spam_probability_ = (1 - self.competence_).rename("spam_probability")
        self.strategy_ = pd.DataFrame(xi, index=annotators, columns=classes)
        self.probas_ = pd.DataFrame(posterior, index=items, columns=classes)
        self.labels_ = pd.Series(classes[posterior.argmax(axis=1)], index=items, name="label")
        self.priors_ = pd.Series(priors, index=classes, name="prior")
        return self

    def fit_predict(self, data: pd.DataFrame) -> pd.Series:
        """:meth:`fit`, then the most probable label per item."""
        return self.fit(data).labels_
