"""The results table's baseline rows on `eval.split`: BM25, and the encoder before any training (zero-shot)."""

from __future__ import annotations

import logging
from pathlib import Path

from ance_core.config import Experiment
from ance_core.data import Collection, load_qrels, load_queries
from ance_core.data.subset import subset_source
from ance_core.eval.evaluate import EvalResult, evaluate_checkpoint, judged_qrels, ranked_ids, select_queries
from ance_core.eval.metrics import compute_metrics, plan_metrics, run_from_ranking
from ance_core.index.bm25 import BM25Index

log = logging.getLogger(__name__)


def bm25_baseline(experiment: Experiment, index: BM25Index, collection: Collection) -> tuple[int, dict[str, float]]:
    """(judged queries, metric values) of BM25 over `collection` on eval.split."""
    cfg = experiment.eval
    source = subset_source(experiment)
    queries = load_queries(source.queries(cfg.split))
    judged = select_queries(queries.ids, judged_qrels(queries.ids, load_qrels(source.qrels(cfg.split)), collection.ids),
                            cfg.max_queries)
    plan = plan_metrics(cfg.metrics, len(collection))
    rows, scores = index.search([queries.texts[r] for r in queries.ids.rows(list(judged)).tolist()], plan.depth)
    return len(judged), compute_metrics(plan, run_from_ranking(list(judged), ranked_ids(collection.ids, rows), scores),
                                        judged)


def zero_shot_baseline(experiment: Experiment, cache_root: str | Path) -> EvalResult | None:
    """`model.name` as loaded, on every judged query of eval.split; None when eval.max_queries samples them
    (the row would not compare with the others)."""
    cfg = experiment.eval
    if cfg.max_queries is not None:
        log.info("zero-shot baseline skipped: it evaluates every judged query, eval.max_queries samples them")
        return None
    return evaluate_checkpoint(
        experiment.model.name, subset_source(experiment), split=cfg.split, metrics=cfg.metrics,
        cache_root=cache_root, model_cfg=experiment.model, encode_cfg=experiment.ance.encode,
        index=experiment.ance.index,
    )
