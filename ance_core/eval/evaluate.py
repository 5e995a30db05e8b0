"""Evaluate a ranking, a set of embeddings, or a checkpoint on a split (or any queries + qrels files).

Three levels, each used by someone:
* `evaluate_vectors`: query and corpus embeddings in memory -> search -> metrics
  (the refresh calls it with the corpus embeddings it just used for mining);
* `evaluate_checkpoint`: load an encoder, embed through the embedding cache
  (a second evaluation of the same checkpoint and corpus encodes nothing), then
  `evaluate_vectors` (`ance eval`);
* `judged_qrels`: which queries count (those with a relevant passage).

Evaluation always encodes with the model as trained (fp32 on CPU, the encode
precision on a GPU), never with the int8 copy `ance.encode.quantize_cpu` makes
for mining: a reported number is the model's, not its approximation's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ance_core.data.readers import IdIndex, Qrels
from ance_core.errors import InputError
from ance_core.eval.metrics import DEFAULT_METRICS, as_scored, compute_metrics, plan_metrics
from ance_core.eval.runfile import trec_run, write_run_file

log = logging.getLogger(__name__)


@dataclass
class EvalResult:
    metrics: dict[str, float]  # reported names (R@k capped at the corpus size, see `capped`)
    queries: int
    corpus: int
    capped: dict[str, str] = field(default_factory=dict)
    run_file: Path | None = None
    engine: str = ""
    seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self, **extra: Any) -> dict[str, Any]:
        """One flat JSON object: the metrics first, then what they were measured on."""
        out: dict[str, Any] = {name: round(value, 6) for name, value in self.metrics.items()}
        out.update(queries=self.queries, corpus=self.corpus, search=self.engine,
                   seconds={k: round(v, 2) for k, v in self.seconds.items()})
        if self.capped:
            out["capped"] = {asked: f"{shown} (corpus has {self.corpus} passages)" for asked, shown in self.capped.items()}
        if self.run_file is not None:
            out["run_file"] = str(self.run_file)
        out.update(extra)
        return out


def judged_qrels(query_ids: IdIndex, qrels: Qrels, collection_ids: IdIndex | None = None) -> dict[str, dict[str, int]]:
    """qrels of the queries that have a relevant passage and appear in the queries file, in file order.

    A qrels file may cover more queries than the queries file (MS MARCO's dev qrels
    vs dev.small): those are left out with a note. A relevant passage missing from
    the collection is kept (it cannot be retrieved, so it lowers recall) with a warning.
    """
    judged = {qid: grades for qid, grades in qrels.by_query.items() if any(g > 0 for g in grades.values())}
    rows = query_ids.rows(list(judged))
    missing = int((rows < 0).sum())
    if missing:
        log.info("%d judged queries of %s are not in the queries file: not evaluated", missing, qrels.path)
    keep = sorted((row, qid) for qid, row in zip(judged, rows.tolist()) if row >= 0)
    if not keep:
        raise InputError.single(qrels.path, "qrels", "judged queries (grade > 0) that are in the queries file", "none")
    out = {qid: judged[qid] for _, qid in keep}
    if collection_ids is not None:
        relevant = sorted({pid for grades in out.values() for pid, g in grades.items() if g > 0})
        unknown = int((collection_ids.rows(relevant) < 0).sum())
        if unknown:
            log.warning("%d relevant passages of %s are not in the collection: they count as never retrieved",
                        unknown, qrels.path)
    return out


def ranked_ids(collection_ids: IdIndex, rows: np.ndarray) -> list[list[str]]:
    """Passage ids of each ranking row, padding (-1) dropped."""
    ids = np.asarray(collection_ids.ids, dtype=object)
    return [ids[row[row >= 0]].tolist() for row in rows]


def evaluate_vectors(
    query_ids: Sequence[str],
    query_vectors: np.ndarray,
    collection_ids: IdIndex,
    corpus_vectors: np.ndarray,
    qrels: dict[str, dict[str, int]],
    metrics: Sequence[str] = DEFAULT_METRICS,
    *,
    index: str = "flat",
    run_file: str | Path | None = None,
    run_name: str = "ance",
    show_progress: bool = True,
) -> EvalResult:
    """Search the queries' top-`depth` and compute the metrics over `qrels`' queries (all must be in query_ids)."""
    from ance_core.index import search

    plan = plan_metrics(metrics, len(collection_ids))
    for asked, shown in plan.capped.items():
        log.info("%s capped to %s: the corpus has %d passages", asked, shown, len(collection_ids))
    result = search(query_vectors, corpus_vectors, plan.depth, index=index, show_progress=show_progress)
    started = time.perf_counter()
    # The ranking as the run file holds it (trec_eval's order of the written scores): the metrics come from it.
    run = trec_run(query_ids, ranked_ids(collection_ids, result.rows), result.scores)
    values = compute_metrics(plan, as_scored(run), qrels)
    seconds = {"search": result.seconds, "metrics": time.perf_counter() - started}
    written = None
    if run_file is not None:
        started = time.perf_counter()
        written = write_run_file(run_file, run, run_name)
        seconds["run_file"] = time.perf_counter() - started
    return EvalResult(values, len(qrels), len(collection_ids), plan.capped, written, result.engine, seconds)


def select_queries(query_ids: IdIndex, qrels: dict[str, dict[str, int]], max_queries: int | None, seed: int = 0) -> dict[str, dict[str, int]]:
    """A seeded sample of at most `max_queries` judged queries (the same sample at every refresh)."""
    if max_queries is None or max_queries >= len(qrels):
        return qrels
    qids = list(qrels)
    chosen = np.sort(np.random.default_rng([seed, 0x4556414C]).permutation(len(qids))[:max_queries])
    return {qids[i]: qrels[qids[i]] for i in chosen}


def eval_encode_options(encode_cfg, device: str | None, show_progress: bool) -> dict[str, Any]:
    """Encode options of an evaluation: the run's batch size and precision, never the int8 copy."""
    return dict(batch_size=encode_cfg.batch_size, precision=encode_cfg.precision, device=device,
                quantize=False, show_progress=show_progress)


def evaluate_checkpoint(
    checkpoint: str,
    source,
    *,
    split: str | None = "dev",
    queries_path: str | Path | None = None,
    qrels_path: str | Path | None = None,
    metrics: Sequence[str] = DEFAULT_METRICS,
    cache_root: str | Path,
    model_cfg=None,
    encode_cfg=None,
    device: str | None = None,
    index: str = "flat",
    run_file: str | Path | None = None,
    show_progress: bool = True,
) -> EvalResult:
    """Embed (through the cache) and evaluate `checkpoint` on `source`'s split, or on the given files."""
    from ance_core.config.schema import EncodeConfig
    from ance_core.data.readers import load_qrels
    from ance_core.encode import embed_collection, embed_file
    from ance_core.model import load_encoder

    encode_cfg = encode_cfg or EncodeConfig()
    options = eval_encode_options(encode_cfg, device, show_progress)
    queries_path = Path(queries_path) if queries_path else source.queries(split)
    qrels_path = Path(qrels_path) if qrels_path else source.qrels(split)
    qrels = load_qrels(qrels_path)  # read before the (long) encode: a bad file fails fast

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    encoder = load_encoder(checkpoint, model_cfg)
    seconds["load"] = time.perf_counter() - started
    started = time.perf_counter()
    collection_ids, corpus = embed_collection(encoder, source, cache_root, **options)
    seconds["encode_corpus"] = time.perf_counter() - started
    started = time.perf_counter()
    query_index, query_vectors = embed_file(encoder, queries_path, "query", cache_root, **options)
    seconds["encode_queries"] = time.perf_counter() - started

    judged = judged_qrels(query_index, qrels, collection_ids)
    rows = query_index.rows(list(judged))
    result = evaluate_vectors(list(judged), query_vectors[rows], collection_ids, corpus, judged, metrics,
                              index=index, run_file=run_file, show_progress=show_progress)
    result.seconds = {**seconds, **result.seconds}
    return result
