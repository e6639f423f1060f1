"""Behaviour flags per annotator: too fast, straight-lining, odd label mix, spam, inconsistency.

Each flag comes with its evidence (a count, a statistic, a p-value or an interval) and a stated
rule (:class:`BehaviourRule`); ``benchmarks/behaviour_false_alarms.py`` measures how often each
flag is raised on simulated steady people. Every pass over the log is SQL; Python gets count
tables (and, for MACE, the integer answer triples, as Dawid-Skene does).

* ``too_fast`` (:mod:`qualitylib.metrics.time_on_task`): at least ``max_share_too_fast`` of the
  person's timed answers are too fast for their label *and* those fast answers are clearly less
  accurate against the committee than the team (one-sided binomial test of their accuracy
  against the median person's accuracy on the reference, ``p < fast_alpha``), or cannot be
  checked (none on reference items). A fast expert, whose fast answers are right, is not
  flagged.
* ``straight_lining``: the longest run of one answer in time order (gaps and islands in SQL) is
  longer than the person's own label mix makes plausible. With shares :math:`p_l` over
  :math:`n` answers, runs of length :math:`\\ge L` of label :math:`l` start about
  :math:`\\lambda_l = p_l^L (1 + (n - L)(1 - p_l))` times; the chance of any is
  :math:`1 - e^{-\\sum_l \\lambda_l}` (the Poisson approximation to the longest run,
  Schilling 1990), flagged below ``run_alpha``.
* ``label_mix``: the Jensen-Shannon divergence (bits) between the person's label mix and the
  rest of the team's on the same batches (each batch weighted by the person's labels in it),
  with a permutation p-value: the person's labels are redrawn from each batch's pooled labels
  (multivariate hypergeometric) ``n_permutations`` times. Flagged when ``p < mix_alpha`` and
  the divergence is at least ``min_divergence`` (with enough labels every small difference is
  significant; the threshold keeps the flag about a mix a lead would call different).
* ``spammer``: ``spam_probability = 1 - competence`` from :class:`qualitylib.mace.MACE` (class
  priors learned) on the current answers of items with at least two annotators; flagged above
  ``max_spam``.
* ``inconsistent``: Cohen's kappa between a person's first and latest answer on items they
  labelled twice or more (test-retest); flagged when the 95 % interval lies below
  ``min_self_kappa``, with at least ``min_repeats`` such items.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd
from scipy.stats import binom

from qualitylib.agreement import cohen_kappa_tables
from qualitylib.mace import MACE
from qualitylib.metrics.counts import filtered_sql
from qualitylib.metrics.filters import Filters
from qualitylib.metrics.time_on_task import SpeedRule, time_on_task

__all__ = [
    "FLAGS",
    "BehaviourRule",
    "behaviour",
    "jensen_shannon",
    "label_mix",
    "longest_run_p",
    "longest_runs",
    "self_consistency",
    "spam_probability",
]

FLAGS = ("too_fast", "straight_lining", "label_mix", "spammer", "inconsistent")


@dataclass(frozen=True)
class BehaviourRule:
    """The thresholds of the flags (see the module docstring)."""

    speed: SpeedRule = field(default_factory=SpeedRule)
    max_share_too_fast: float = 0.10
    fast_alpha: float = 0.01
    run_alpha: float = 0.001
    mix_alpha: float = 0.01
    min_divergence: float = 0.02
    n_permutations: int = 999
    max_spam: float = 0.5
    min_self_kappa: float = 0.6
    min_repeats: int = 20
    seed: int = 0


def _people(con: duckdb.DuckDBPyConnection, filters: Filters) -> pd.DataFrame:
    """``annotator_key, annotator_id, name, team, n_labels`` of everyone with a label."""
    x_sql, params = filtered_sql(filters)
    return con.execute(
        f"""SELECT a.annotator_key, a.annotator_id, a.name, a.team, c.n_labels
            FROM (SELECT annotator_key, count(*) AS n_labels FROM {x_sql} x GROUP BY ALL) c
            JOIN annotators a USING (annotator_key) ORDER BY a.annotator_id""",
        params,
    ).df()


def longest_run_p(longest: np.ndarray, shares: np.ndarray, n: np.ndarray) -> np.ndarray:
    """P(some run of one answer is at least ``longest`` long) for iid answers.

    ``longest, n``: shape (m,); ``shares``: (m, k) label shares per person. Poisson
    approximation (Schilling 1990), exact enough in the tail that matters.

    >>> float(longest_run_p(np.array([10]), np.array([[0.5, 0.5]]), np.array([100]))[0])
    0.08...
    """
    big_l = np.asarray(longest, dtype=float)[:, None]
    p = np.asarray(shares, dtype=float)
    n = np.asarray(n, dtype=float)[:, None]
    rate = p**big_l * (1 + np.maximum(n - big_l, 0) * (1 - p))
    return 1 - np.exp(-rate.sum(axis=1))


def longest_runs(con: duckdb.DuckDBPyConnection, filters: Filters | None = None) -> pd.DataFrame:
    """Per annotator: ``longest_same_run``, its ``run_label``, ``n_labels`` and ``run_p``.

    Runs are counted in time order over the selection (gaps and islands: the difference of two
    row numbers is constant along a run); ``run_p`` from :func:`longest_run_p` with the
    person's own label shares.
    """
    x_sql, params = filtered_sql(filters or Filters())
    runs = con.execute(
        f"""WITH o AS (
                SELECT annotator_key, label_key,
                       row_number() OVER (PARTITION BY annotator_key
                                          ORDER BY annotated_at, item_key)
                     - row_number() OVER (PARTITION BY annotator_key, label_key
                                          ORDER BY annotated_at, item_key) AS island
                FROM {x_sql} x
            ), r AS (
                SELECT annotator_key, label_key, count(*) AS length FROM o
                GROUP BY annotator_key, label_key, island
            )
            SELECT annotator_key, max(length) AS longest_same_run,
                   arg_max(label_key, length) AS run_label_key
            FROM r GROUP BY annotator_key ORDER BY annotator_key""",
        params,
    ).df()
    mix = con.execute(
        f"SELECT annotator_key, label_key, count(*) AS n FROM {x_sql} x GROUP BY ALL", params
    ).df()
    shares = mix.pivot(index="annotator_key", columns="label_key", values="n").fillna(0)
    shares = shares.reindex(runs["annotator_key"])
    n = shares.sum(axis=1).to_numpy()
    runs["n_labels"] = n.astype(np.int64)
    runs["run_p"] = longest_run_p(
        runs["longest_same_run"].to_numpy(), shares.to_numpy() / n[:, None], n
    )
    labels = dict(con.execute("SELECT label_key, label FROM labels").fetchall())
    runs["run_label"] = runs["run_label_key"].map(labels)
    return runs.drop(columns="run_label_key")


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence in bits between the rows of ``p`` and ``q`` (same shape,
    each row a distribution); 0 for equal rows, 1 for disjoint ones.

    >>> float(jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0])))
    1.0
    """
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    m = (p + q) / 2

    def kl(a: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(a > 0, a * np.log2(np.where(a > 0, a, 1) / np.where(m > 0, m, 1)), 0)

    return (kl(p) + kl(q)).sum(axis=-1) / 2


def _mix_divergence(own: np.ndarray, others: np.ndarray) -> np.ndarray:
    """JS divergence between a person's mix and the others' on the same batches, each batch
    weighted by the person's labels in it. ``own, others``: (..., batches, k) counts."""
    volume = own.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        their = np.where(
            others.sum(axis=-1, keepdims=True) > 0,
            others / others.sum(axis=-1, keepdims=True),
            0,
        )
    expected = (their * volume).sum(axis=-2)
    p = own.sum(axis=-2)
    return jensen_shannon(
        p / p.sum(axis=-1, keepdims=True), expected / expected.sum(axis=-1, keepdims=True)
    )


def label_mix(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    n_permutations: int = 999,
    seed: int = 0,
) -> pd.DataFrame:
    """Per annotator: ``label_mix_divergence`` (JS, bits) against the team on the same batches,
    ``label_mix_p`` (permutation p-value) and ``n_mix_labels`` (labels in shared batches).

    Counts per (annotator, batch, label) come from SQL (labels without a batch form one batch);
    NaN when no one else labelled the person's batches.
    """
    x_sql, params = filtered_sql(filters or Filters())
    counts = con.execute(
        f"""SELECT annotator_key, coalesce(batch, '') AS batch, label_key, count(*) AS n
            FROM {x_sql} x GROUP BY ALL""",
        params,
    ).df()
    people = np.sort(counts["annotator_key"].unique())
    batches, batch_code = np.unique(counts["batch"], return_inverse=True)
    labels, label_code = np.unique(counts["label_key"], return_inverse=True)
    person_code = np.searchsorted(people, counts["annotator_key"])
    table = np.zeros((people.size, batches.size, labels.size))
    np.add.at(table, (person_code, batch_code, label_code), counts["n"].to_numpy())
    total = table.sum(axis=0)
    rng = np.random.default_rng(seed)
    rows = []
    for a in range(people.size):  # one count table per person (annotators x batches x labels)
        own, others = table[a], total - table[a]
        shared = (own.sum(axis=1) > 0) & (others.sum(axis=1) > 0)
        own, pool = own[shared], total[shared].astype(np.int64)
        if not shared.any():
            rows.append((people[a], np.nan, np.nan, 0))
            continue
        observed = float(_mix_divergence(own, pool - own))
        drawn = np.stack(
            [
                rng.multivariate_hypergeometric(pool[b], int(own[b].sum()), size=n_permutations)
                for b in range(own.shape[0])
            ],
            axis=1,
        )  # (n_permutations, batches, k)
        null = _mix_divergence(drawn, pool[None] - drawn)
        p = (1 + np.sum(null >= observed - 1e-12)) / (1 + n_permutations)
        rows.append((people[a], observed, p, int(own.sum())))
    return pd.DataFrame(
        rows, columns=["annotator_key", "label_mix_divergence", "label_mix_p", "n_mix_labels"]
    ).astype(
        {
            "annotator_key": np.int64,
            "label_mix_divergence": float,
            "label_mix_p": float,
            "n_mix_labels": np.int64,
        }
    )


def spam_probability(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None, **mace: object
) -> pd.DataFrame:
    """Per annotator: ``spam_probability`` (1 - MACE competence) and ``n_mace_labels``, from
    the current answers (table ``votes``) on items with two or more annotators.

    SQL reduces the answers to a count table of answer patterns (the same people giving the
    same labels; 278,353 items make 13,437 patterns on the 1M-label demo), and MACE fits the
    patterns weighted by their counts, which gives the same competences as the items. MACE
    runs with learned class priors (one class usually dominates a moderation log, which MACE's
    uniform prior reads as everyone spamming it) from the majority-vote start only (``mace``
    overrides the estimator's options).
    """
    where, params = (filters or Filters()).where("v")
    triples = con.execute(
        f"""WITH v AS (SELECT v.item_key, v.annotator_key, v.label_key FROM votes v
                       WHERE {where}),
            shared AS (
                SELECT * FROM v
                WHERE item_key IN (SELECT item_key FROM v GROUP BY item_key HAVING count(*) >= 2)
            ), items AS (
                SELECT list(annotator_key::BIGINT * 65536 + label_key ORDER BY annotator_key)
                           AS pattern
                FROM shared GROUP BY item_key
            ), patterns AS (
                SELECT row_number() OVER (ORDER BY pattern) AS pattern_id, pattern,
                       count(*) AS weight
                FROM items GROUP BY pattern
            )
            SELECT pattern_id, code // 65536 AS annotator_key, code % 65536 AS label_key, weight
            FROM patterns, unnest(pattern) AS u(code)""",
        params,
    ).fetchnumpy()
    if len(triples["pattern_id"]) == 0:
        return pd.DataFrame(
            {"annotator_key": [], "spam_probability": [], "n_mace_labels": []}
        ).astype({"annotator_key": np.int64, "n_mace_labels": np.int64})
    data = pd.DataFrame(
        {
            "item_id": triples["pattern_id"],
            "annotator_id": triples["annotator_key"],
            "label": triples["label_key"],
            "weight": triples["weight"],
        }
    )
    options: dict[str, object] = {"priors": "learned", "n_restarts": 0} | mace
    model = MACE(**options).fit(data)  # type: ignore[arg-type]
    n = data.groupby("annotator_id")["weight"].sum()
    return pd.DataFrame(
        {
            "annotator_key": model.spam_probability_.index.astype(np.int64),
            "spam_probability": model.spam_probability_.to_numpy(),
            "n_mace_labels": n.reindex(model.spam_probability_.index).to_numpy(dtype=np.int64),
        }
    )


def self_consistency(
    con: duckdb.DuckDBPyConnection, filters: Filters | None = None
) -> pd.DataFrame:
    """Per annotator with repeats: ``self_kappa`` with ``_ci_low, _ci_high`` and ``n_repeats``
    (items answered twice or more: first answer against latest, Cohen's kappa)."""
    x_sql, params = filtered_sql(filters or Filters())
    pairs = con.execute(
        f"""WITH again AS (
                SELECT item_key, annotator_key,
                       arg_min(label_key, annotated_at) AS first_label,
                       arg_max(label_key, annotated_at) AS last_label
                FROM {x_sql} x
                WHERE (item_key, annotator_key) IN (
                    SELECT (item_key, annotator_key) FROM votes WHERE n_labels >= 2)
                GROUP BY item_key, annotator_key HAVING count(*) >= 2
            )
            SELECT annotator_key, first_label, last_label, count(*) AS n FROM again GROUP BY ALL""",
        params,
    ).df()
    if pairs.empty:  # typed, so a merge keeps the columns numeric
        return pd.DataFrame(
            {
                "annotator_key": np.array([], dtype=np.int64),
                **{
                    c: np.array([])
                    for c in ("self_kappa", "self_kappa_ci_low", "self_kappa_ci_high")
                },
                "n_repeats": np.array([], dtype=np.int64),
            }
        )
    people = np.sort(pairs["annotator_key"].unique())
    labels = np.unique(np.r_[pairs["first_label"], pairs["last_label"]])
    tables = np.zeros((people.size, labels.size, labels.size))
    np.add.at(
        tables,
        (
            np.searchsorted(people, pairs["annotator_key"]),
            np.searchsorted(labels, pairs["first_label"]),
            np.searchsorted(labels, pairs["last_label"]),
        ),
        pairs["n"].to_numpy(),
    )
    kappa = cohen_kappa_tables(tables)
    return pd.DataFrame(
        {
            "annotator_key": people,
            "self_kappa": kappa.value,
            "self_kappa_ci_low": kappa.ci_low,
            "self_kappa_ci_high": kappa.ci_high,
            "n_repeats": tables.sum(axis=(1, 2)).astype(np.int64),
        }
    )


def behaviour(
    con: duckdb.DuckDBPyConnection,
    filters: Filters | None = None,
    rule: BehaviourRule = BehaviourRule(),
) -> pd.DataFrame:
    """One row per annotator: the evidence of every flag and ``flags`` (raised names, ``;``).

    Columns: ``annotator_id, name, team, n_labels, median_duration_s`` (with interval),
    ``share_too_fast, too_fast_accuracy`` (with interval and ``_n``), ``accuracy``,
    ``longest_same_run, run_label, run_p``, ``label_mix_divergence, label_mix_p``,
    ``spam_probability``, ``self_kappa`` (with interval), ``n_repeats``, one boolean column per
    flag in :data:`FLAGS`, and ``flags``.
    """
    filters = filters or Filters()
    people = _people(con, filters)
    timing = time_on_task(con, filters, rule.speed).drop(columns=["name", "team", "n_labels"])
    table = (
        people.merge(timing, on="annotator_id", how="left")
        .merge(longest_runs(con, filters).drop(columns="n_labels"), on="annotator_key", how="left")
        .merge(
            label_mix(con, filters, rule.n_permutations, rule.seed), on="annotator_key", how="left"
        )
        .merge(spam_probability(con, filters), on="annotator_key", how="left")
        .merge(self_consistency(con, filters), on="annotator_key", how="left")
    )
    team_accuracy = table["accuracy"].median()
    fast = table["share_too_fast"].fillna(0) >= rule.max_share_too_fast
    n_fast = table["too_fast_accuracy_n"].fillna(0).to_numpy()
    right = np.round(table["too_fast_accuracy"].fillna(0).to_numpy() * n_fast)
    table["too_fast_p"] = np.where(n_fast > 0, binom.cdf(right, n_fast, team_accuracy), np.nan)
    table["too_fast"] = fast & ~(table["too_fast_p"] >= rule.fast_alpha)
    table["straight_lining"] = table["run_p"] < rule.run_alpha
    table["label_mix"] = (table["label_mix_p"] < rule.mix_alpha) & (
        table["label_mix_divergence"] >= rule.min_divergence
    )
    table["spammer"] = table["spam_probability"] > rule.max_spam
    table["inconsistent"] = (table["n_repeats"].fillna(0) >= rule.min_repeats) & (
        table["self_kappa_ci_high"] < rule.min_self_kappa
    )
    raised = table[list(FLAGS)].fillna(False).astype(bool)
    table[list(FLAGS)] = raised
    table["flags"] = [
        ";".join(f for f, on in zip(FLAGS, row, strict=True) if on) for row in raised.to_numpy()
    ]
    return table.drop(columns="annotator_key").reset_index(drop=True)


EXPORT_COLUMNS = (
    "annotator_id",
    "n_labels",
    "median_duration_s",
    "share_too_fast",
    "too_fast_accuracy",
    "longest_same_run",
    "label_mix_divergence",
    "label_mix_p",
    "spam_probability",
    "self_kappa",
    "flags",
)


def _fmt(value: object, spec: str) -> str:
    """``value`` formatted by ``spec``, or "not enough data" when undefined."""
    return format(float(value), spec) if pd.notna(value) else "not enough data"


def _count(value: object) -> int:
    """A count that may be missing (no such answers): 0 then."""
    return int(value) if pd.notna(value) else 0


def flag_evidence(table: pd.DataFrame) -> pd.DataFrame:
    """One row per raised flag of a :func:`behaviour` table: ``annotator_id, flag, evidence``
    (a sentence with the numbers behind it), in :data:`FLAGS` order per person."""
    team_accuracy = table["accuracy"].median()
    rows = []
    for row in table.itertuples(index=False):  # people x 5 flags: a summary, not the log
        says = {
            "too_fast": (
                f"{_fmt(row.share_too_fast, '.0%')} of timed answers too fast for their label "
                f"(median {_fmt(row.median_duration_s, '.1f')} s); "
                f"{_fmt(row.too_fast_accuracy, '.0%')} of those right against the committee "
                f"(n = {_count(row.too_fast_accuracy_n)}) vs the team's "
                f"{_fmt(team_accuracy, '.0%')}"
            ),
            "straight_lining": (
                f"{_count(row.longest_same_run)} '{row.run_label}' answers in a row; chance under "
                f"their own label mix p = {_fmt(row.run_p, '.1g')}"
            ),
            "label_mix": (
                f"label mix unlike the team's on the same batches: Jensen-Shannon "
                f"{_fmt(row.label_mix_divergence, '.3f')} bits, permutation p = "
                f"{_fmt(row.label_mix_p, '.3f')}"
            ),
            "spammer": f"MACE spam probability {_fmt(row.spam_probability, '.0%')}",
            "inconsistent": (
                f"first vs latest answer on {_count(row.n_repeats)} items seen twice: "
                f"kappa {_fmt(row.self_kappa, '.2f')} (95 % CI up to "
                f"{_fmt(row.self_kappa_ci_high, '.2f')})"
            ),
        }
        rows += [(row.annotator_id, flag, says[flag]) for flag in FLAGS if getattr(row, flag)]
    return pd.DataFrame(rows, columns=["annotator_id", "flag", "evidence"])
