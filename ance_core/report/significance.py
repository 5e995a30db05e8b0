"""Paired significance tests between strategies, over queries, from the runs' TREC run files.

A lead between strategy means says nothing until it is set against the
per-query variance. For every pair of strategies at the common refresh this
module reads each run's `eval/refresh-<r>.run.tsv` and the judged qrels beside
it (`eval/qrels.<split>.tsv`) with ir_measures, as a user checking our runs
would, and compares the per-query values:

* seed-averaged: each query's value averaged over the seeds both strategies
  ran, then one paired test over queries (the verdict comes from this);
* per seed: the same tests on each seed alone (does one seed carry it?).

Each comparison is a two-sided paired randomization test (scipy's
`permutation_test`, permutation_type="samples" on the per-query differences:
the sign of each is flipped at random) and a paired t-test (`ttest_rel`), the
mean difference with a BCa bootstrap 95% CI (`bootstrap`). p-values are
Holm-corrected over the pairs of one family (the seed-averaged pairs, or the
pairs of one seed). Resampling uses fixed seeds, so a report is reproducible.

A study whose runs lack run files (the original logs, or runs older than the
qrels files) gets no tests; its verdict stays the seed-spread sentence.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

ALPHA = 0.05
RESAMPLES = 10_000  # the seed-averaged tests (the verdict): smallest p about 1e-4
SEED_RESAMPLES = 2_000  # each seed alone: a check on the verdict, at a fifth of the cost
_RESAMPLING_SEED = 0x5349474E  # "SIGN": every test draws from its own fixed stream
EVAL_DIR = "eval"


@dataclass(frozen=True)
class PairTest:
    """One paired comparison of strategies `a` and `b` (a ranked above b at the common refresh)."""

    a: str
    b: str
    seed: int | None  # None: per-query values averaged over the seeds both ran
    queries: int
    mean_a: float
    mean_b: float
    difference: float  # mean over queries of a - b
    ci_low: float  # bootstrap 95% CI of the mean difference
    ci_high: float
    p_randomization: float
    p_ttest: float
    p_randomization_holm: float = 1.0
    p_ttest_holm: float = 1.0

    @property
    def significant(self) -> bool:
        """The decision the verdict uses: Holm-corrected randomization p below ALPHA."""
        return self.p_randomization_holm < ALPHA

    @property
    def winner(self) -> str:
        return self.a if self.difference >= 0 else self.b

    @property
    def loser(self) -> str:
        return self.b if self.difference >= 0 else self.a

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "significant": self.significant}


@dataclass(frozen=True)
class Significance:
    metric: str
    split: str
    refresh: int
    queries: int
    seeds: tuple[int, ...]
    pairs: list[PairTest]  # seed-averaged, Holm over these pairs
    per_seed: list[PairTest]  # Holm over the pairs of each seed
    text: str
    evaluated_in: str = "unknown"  # the precision of the evaluations (eval/refresh-<r>.json)
    mined_in: str = "unknown"  # the precision the refreshes mined in (negatives-<r>.stats.json): fp32, or int8
    alpha: float = ALPHA
    resamples: int = RESAMPLES
    seed_resamples: int = SEED_RESAMPLES

    @property
    def any_significant(self) -> bool:
        return any(pair.significant for pair in self.pairs)

    def seed_tests(self, a: str, b: str) -> list[PairTest]:
        return [test for test in self.per_seed if (test.a, test.b) == (a, b)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric, "split": self.split, "refresh": self.refresh, "queries": self.queries,
            "seeds": list(self.seeds), "alpha": self.alpha, "resamples": self.resamples,
            "seed_resamples": self.seed_resamples, "evaluated_in": self.evaluated_in, "mined_in": self.mined_in,
            "tests": "two-sided paired randomization test (scipy.stats.permutation_test, permutation_type='samples', "
                     "sign flips of the per-query differences) "
                     "and paired t-test (scipy.stats.ttest_rel), Holm-corrected per family; "
                     "BCa bootstrap 95% CI of the mean difference (scipy.stats.bootstrap)",
            "pairs": [pair.as_dict() for pair in self.pairs],
            "per_seed": [pair.as_dict() for pair in self.per_seed],
            "text": self.text,
        }


# ---------------------------------------------------------------- per-query values from run files


def _eval_files(run_dir: Path, refresh: int, split: str) -> tuple[Path, Path, Path]:
    """(run file, judged qrels, summary) of one run's evaluation at `refresh`."""
    eval_dir = Path(run_dir) / EVAL_DIR
    return (eval_dir / f"refresh-{refresh}.run.tsv", eval_dir / f"qrels.{split}.tsv",
            eval_dir / f"refresh-{refresh}.json")


def _stamp(*paths: Path) -> tuple:
    """The cache key part that changes when a file does: mtimes and sizes."""
    return tuple((p.stat().st_mtime_ns, p.stat().st_size) for p in paths)


def _read_trec(run_file: str, qrels_file: str) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, int]]]:
    """(run, qrels) as ir_measures reads them, as a user checking our files would."""
    import ir_measures

    qrels: dict[str, dict[str, int]] = {}
    for row in ir_measures.read_trec_qrels(qrels_file):
        qrels.setdefault(row.query_id, {})[row.doc_id] = row.relevance
    run: dict[str, dict[str, float]] = {}
    for row in ir_measures.read_trec_run(run_file):
        run.setdefault(row.query_id, {})[row.doc_id] = row.score
    return run, qrels


def per_query_values(run_dir: Path, refresh: int, metric: str, split: str) -> dict[str, float] | None:
    """{qid: metric} of one run's evaluation at `refresh`, by ir_measures from its run file; None if absent."""
    run_file, qrels_file, summary = _eval_files(run_dir, refresh, split)
    if not (run_file.is_file() and summary.is_file() and qrels_file.is_file()):
        return None
    stamp = _stamp(run_file, qrels_file, summary)
    return dict(_per_query(str(run_file), str(qrels_file), str(summary), metric, stamp))


@functools.lru_cache(maxsize=128)
def _per_query(run_file: str, qrels_file: str, summary: str, metric: str, _stamp: tuple) -> tuple[tuple[str, float], ...]:
    """Cached on the files' mtimes and sizes: the results screen summarises the same runs per metric."""
    from ance_core.eval.metrics import per_query_metrics, plan_metrics

    corpus = int(json.loads(Path(summary).read_text())["corpus"])
    plan = plan_metrics([metric], corpus)
    run, qrels = _read_trec(run_file, qrels_file)
    values = per_query_metrics(plan, run, qrels)[plan.names[0]]
    return tuple(values.items())


def first_relevant_ranks(run_dir: Path, refresh: int, split: str) -> dict[str, int | None] | None:
    """{qid: 1-based rank of the first relevant passage, None when the run file's depth holds none} of one
    run's evaluation at `refresh`, in trec_eval's order of the run file; None if the files are absent."""
    run_file, qrels_file, _ = _eval_files(run_dir, refresh, split)
    if not (run_file.is_file() and qrels_file.is_file()):
        return None
    return dict(_first_relevant(str(run_file), str(qrels_file), _stamp(run_file, qrels_file)))


@functools.lru_cache(maxsize=128)
def _first_relevant(run_file: str, qrels_file: str, _stamp: tuple) -> tuple[tuple[str, int | None], ...]:
    run, qrels = _read_trec(run_file, qrels_file)
    found = []
    for qid, scores in run.items():
        # trec_eval's order: score descending, then document id descending
        ranked = sorted(scores, key=lambda doc: (scores[doc], doc), reverse=True)
        relevant = {doc for doc, grade in qrels.get(qid, {}).items() if grade > 0}
        found.append((qid, next((rank for rank, doc in enumerate(ranked, 1) if doc in relevant), None)))
    return tuple(found)


# ---------------------------------------------------------------- tests


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (Holm 1979), in the input order.

    statsmodels' `multipletests(method="holm")` computes the same (a test checks it);
    statsmodels is not a runtime dependency because the image's lock has no wheel of it.
    """
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = scaled
    return adjusted.tolist()


def paired_test(a: np.ndarray, b: np.ndarray, stream: Sequence[int], resamples: int = RESAMPLES) -> dict[str, float]:
    """Randomization and t-test p-values and the bootstrap CI of mean(a - b) (all from scipy.stats)."""
    from scipy import stats

    difference = a - b
    mean = float(difference.mean())
    if np.all(difference == difference[0]):  # no variance: nothing to test, and the CI is the value itself
        p = 1.0 if mean == 0 else 0.0
        return dict(difference=mean, ci_low=mean, ci_high=mean, p_randomization=p, p_ttest=p)
    # One sample with permutation_type="samples" flips the sign of each query's difference at
    # random: the paired randomization test, at half the cost of permuting the (a, b) pairs.
    randomization = stats.permutation_test(
        (difference,), lambda d, axis: np.mean(d, axis=axis), permutation_type="samples", vectorized=True,
        n_resamples=resamples, alternative="two-sided", rng=np.random.default_rng([_RESAMPLING_SEED, *stream, 0]),
    )
    ttest = stats.ttest_rel(a, b)
    interval = stats.bootstrap(
        (difference,), np.mean, confidence_level=0.95, n_resamples=resamples, vectorized=True,
        rng=np.random.default_rng([_RESAMPLING_SEED, *stream, 1]),
    ).confidence_interval
    return dict(difference=mean, ci_low=float(interval.low), ci_high=float(interval.high),
                p_randomization=float(randomization.pvalue), p_ttest=float(ttest.pvalue))


def compare_strategies(
    values: Mapping[str, Mapping[int, Mapping[str, float]]], metric: str, split: str, refresh: int,
    compare: Sequence[tuple[str, str]] | None = None,
) -> Significance | None:
    """Tests for every pair of strategies, or for the pairs in `compare` (a sweep's neighbouring windows);
    `values` is strategy -> seed -> {qid: value}, strategies best first."""
    strategies = [name for name, seeds in values.items() if seeds]
    if len(strategies) < 2:
        return None
    every = list(itertools.combinations(strategies, 2))
    chosen = every if compare is None else [(a, b) for a, b in compare if a in strategies and b in strategies]
    queries = sorted(set.intersection(*(set(per_query) for seeds in values.values() for per_query in seeds.values())))
    if not queries:
        return None
    matrix = {name: {seed: np.array([per_query[q] for q in queries]) for seed, per_query in values[name].items()}
              for name in strategies}
    pairs: list[PairTest] = []
    per_seed: dict[int, list[PairTest]] = {}
    for index, (a, b) in enumerate(chosen):
        seeds = sorted(set(matrix[a]) & set(matrix[b]))
        if not seeds:
            continue
        mean_a = np.mean([matrix[a][s] for s in seeds], axis=0)
        mean_b = np.mean([matrix[b][s] for s in seeds], axis=0)
        pairs.append(_pair(a, b, None, mean_a, mean_b, (index, 0)))
        for seed in seeds:
            per_seed.setdefault(seed, []).append(_pair(a, b, seed, matrix[a][seed], matrix[b][seed], (index, seed + 1)))
    if not pairs:
        return None
    pairs = _with_holm(pairs)
    seed_tests = [test for seed in sorted(per_seed) for test in _with_holm(per_seed[seed])]
    all_seeds = tuple(sorted({seed for seeds in matrix.values() for seed in seeds}))
    scope = "any two strategies" if len(chosen) == len(every) else "any pair tested"
    text = verdict_text(pairs, seed_tests, metric, split, refresh, len(queries), all_seeds, scope)
    return Significance(metric, split, refresh, len(queries), all_seeds, pairs, seed_tests, text)


def _pair(a: str, b: str, seed: int | None, values_a: np.ndarray, values_b: np.ndarray, stream: tuple[int, int]) -> PairTest:
    result = paired_test(values_a, values_b, stream, RESAMPLES if seed is None else SEED_RESAMPLES)
    return PairTest(a=a, b=b, seed=seed, queries=int(values_a.size), mean_a=float(values_a.mean()),
                    mean_b=float(values_b.mean()), **result)


def _with_holm(tests: list[PairTest]) -> list[PairTest]:
    randomization = holm([t.p_randomization for t in tests])
    ttest = holm([t.p_ttest for t in tests])
    return [replace(t, p_randomization_holm=r, p_ttest_holm=p) for t, r, p in zip(tests, randomization, ttest)]


def fmt_p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def verdict_text(
    pairs: Sequence[PairTest], per_seed: Sequence[PairTest], metric: str, split: str, refresh: int, queries: int,
    seeds: Sequence[int], scope: str = "any two strategies",
) -> str:
    """The study's answer, worded from the Holm-corrected randomization tests and nothing else."""
    averaged = f", averaged over {len(seeds)} seeds" if len(seeds) > 1 else ""
    head = (f"At refresh {refresh}, on {queries:,} {split} queries ({metric} per query{averaged}; paired "
            f"randomization test, Holm-corrected over {len(pairs)} pair{'s' if len(pairs) != 1 else ''}, "
            f"α = {ALPHA}): ")
    found = [pair for pair in pairs if pair.significant]
    if not found:
        closest = min(pairs, key=lambda pair: pair.p_randomization_holm)
        return head + (f"no difference detected between {scope} (smallest corrected "
                       f"{fmt_p(closest.p_randomization_holm)}, {closest.a} vs {closest.b}).")
    parts = []
    for pair in found:
        held = [t for t in per_seed if (t.a, t.b) == (pair.a, pair.b)]
        same_way = sum(t.significant and t.winner == pair.winner for t in held)
        seeds_note = f"; {same_way} of {len(held)} seeds alone" if len(held) > 1 else ""
        low, high = (pair.ci_low, pair.ci_high) if pair.winner == pair.a else (-pair.ci_high, -pair.ci_low)
        parts.append(f"{pair.winner} > {pair.loser} ({fmt_p(pair.p_randomization_holm)}, "
                     f"Δ {abs(pair.difference):.4f}, 95% CI {low:.4f} to {high:.4f}{seeds_note})")
    rest = [pair for pair in pairs if not pair.significant]
    tail = ("; no difference detected between " + ", ".join(
        f"{pair.a} and {pair.b} ({fmt_p(pair.p_randomization_holm)})" for pair in rest) + ".") if rest else "."
    return head + "; ".join(parts) + tail


def study_significance(
    run_dirs: Mapping[str, Mapping[int, Path]], metric: str, split: str, refresh: int | None,
    compare: Sequence[tuple[str, str]] | None = None,
) -> Significance | None:
    """Read each run's per-query values at `refresh` and compare (every pair, or those in `compare`); `run_dirs` is
    strategy -> seed -> run folder."""
    if refresh is None:
        return None
    values: dict[str, dict[int, dict[str, float]]] = {}
    for strategy, seeds in run_dirs.items():
        for seed, run_dir in seeds.items():
            found = per_query_values(run_dir, refresh, metric, split)
            if found is None:
                log.info("%s: no run file and qrels at refresh %d: no significance tests for its study", run_dir, refresh)
                return None
            values.setdefault(strategy, {})[seed] = found
    result = compare_strategies(values, metric, split, refresh, compare)
    if result is None:
        return None
    folders = [run_dir for seeds in run_dirs.values() for run_dir in seeds.values()]
    return replace(result, evaluated_in=_precisions(folders, f"{EVAL_DIR}/refresh-{refresh}.json"),
                   mined_in=_precisions(folders, f"negatives/negatives-{refresh}.stats.json"))


def _precisions(run_dirs: Sequence[Path], name: str) -> str:
    """The precisions the runs' files record, e.g. 'fp32' or 'fp32, int8' ('unknown' where a file has none)."""
    found = set()
    for run_dir in run_dirs:
        try:
            found.add(str(json.loads((Path(run_dir) / name).read_text()).get("precision", "unknown")))
        except (OSError, ValueError):
            found.add("unknown")
    return ", ".join(sorted(found))
