"""Retrieval metrics by ir_measures: names, the corpus-size cap on R@k, and per-query averaging.

Our names are the ones users know (MRR@10, nDCG@10, R@100, MAP@1000);
ir_measures calls MRR `RR` and MAP `AP`. R@k with k larger than the corpus is
capped: on a 150-passage corpus "R@1000" is reported as "R@150", and the result
says so (`capped`), since a recall at a depth that cannot be reached would
silently read as a recall at the whole corpus.

The ranking is handed to ir_measures with the scores the TREC run file holds
(`ance_core.eval.runfile.trec_run`: rounded as written, in trec_eval's order),
so the metrics we report are the ones trec_eval computes from our run files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ance_core.config.schema import METRIC_PATTERN

DEFAULT_METRICS = ("MRR@10", "nDCG@10", "R@100", "R@1000")
_IR_MEASURES_NAME = {"MRR": "RR", "nDCG": "nDCG", "R": "R", "P": "P", "MAP": "AP", "AP": "AP"}


@dataclass(frozen=True)
class MetricPlan:
    """What to compute for a corpus size: reported names, their ir_measures measures, the depth to retrieve."""

    reported: dict[str, str]  # requested name -> reported name (differs only when capped)
    measures: dict[str, object]  # reported name -> ir_measures measure
    depth: int
    capped: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.measures)


def plan_metrics(names: Sequence[str], corpus_size: int) -> MetricPlan:
    """Parse metric names and cap recall cut-offs at the corpus size."""
    import ir_measures

    if corpus_size < 1:
        raise ValueError("an empty corpus cannot be evaluated")
    reported: dict[str, str] = {}
    measures: dict[str, object] = {}
    capped: dict[str, str] = {}
    depth = 1
    for name in names:
        if not METRIC_PATTERN.match(name):
            raise ValueError(f"metric {name!r}: expected a name like MRR@10, nDCG@10, R@100")
        family, cutoff_text = name.split("@")
        cutoff = int(cutoff_text)
        if family == "R" and cutoff > corpus_size:
            cutoff = corpus_size
            capped[name] = f"R@{cutoff}"
        shown = f"{family}@{cutoff}"
        reported[name] = shown
        measures[shown] = ir_measures.parse_measure(f"{_IR_MEASURES_NAME[family]}@{cutoff}")
        depth = max(depth, min(cutoff, corpus_size))
    return MetricPlan(reported, measures, depth, capped)


def run_from_ranking(
    query_ids: Sequence[str], ranked_ids: Sequence[Sequence[str]], scores: np.ndarray | Sequence[Sequence[float]]
) -> dict[str, dict[str, float]]:
    """ir_measures run {qid: {pid: score}} of a ranking, with the scores its run file holds."""
    from ance_core.eval.runfile import trec_run

    return as_scored(trec_run(query_ids, ranked_ids, scores))


def as_scored(run: Mapping[str, Sequence[tuple[str, float]]]) -> dict[str, dict[str, float]]:
    """A `trec_run` ({qid: [(pid, score), ...]}) as ir_measures takes it."""
    return {qid: dict(ranking) for qid, ranking in run.items()}


def per_query_metrics(
    plan: MetricPlan,
    run: Mapping[str, Mapping[str, float]],
    qrels: Mapping[str, Mapping[str, int]],
) -> dict[str, dict[str, float]]:
    """{metric: {qid: value}} for every query in `qrels`, in qrels order (a query missing from the run scores 0)."""
    import ir_measures

    if not qrels:
        raise ValueError("no judged queries to evaluate")
    by_measure: dict[str, dict[str, float]] = {name: {} for name in plan.measures}
    name_of = {measure: name for name, measure in plan.measures.items()}
    for row in ir_measures.iter_calc(list(plan.measures.values()), qrels, run):
        by_measure[name_of[row.measure]][row.query_id] = float(row.value)
    # ir_measures skips queries without a ranking; they count as zero here, not as absent.
    return {name: {qid: values.get(qid, 0.0) for qid in qrels} for name, values in by_measure.items()}


def compute_metrics(
    plan: MetricPlan,
    run: Mapping[str, Mapping[str, float]],
    qrels: Mapping[str, Mapping[str, int]],
) -> dict[str, float]:
    """Mean of each measure over every query in `qrels` (a query missing from the run scores 0)."""
    return {name: float(np.mean(list(values.values()))) for name, values in per_query_metrics(plan, run, qrels).items()}
