"""Evaluation: ir_measures metrics (R@k capped by corpus size), TREC run files, checkpoint evaluation."""

from ance_core.eval.evaluate import (
    EvalResult,
    evaluate_checkpoint,
    evaluate_vectors,
    judged_qrels,
    ranked_ids,
    select_queries,
)
from ance_core.eval.metrics import DEFAULT_METRICS, MetricPlan, compute_metrics, plan_metrics, run_from_ranking
from ance_core.eval.runfile import read_run_file, write_run_file

__all__ = [
    "DEFAULT_METRICS",
    "EvalResult",
    "MetricPlan",
    "compute_metrics",
    "evaluate_checkpoint",
    "evaluate_vectors",
    "judged_qrels",
    "plan_metrics",
    "ranked_ids",
    "read_run_file",
    "run_from_ranking",
    "select_queries",
    "write_run_file",
]
