"""One ANCE refresh: embed the corpus once, mine the train queries' negatives, evaluate dev.

ANCE's `run_ann_data_gen.py` does both with the same corpus embeddings; so does
`refresh()`, which the ANCE loop (`ance_core/loop/ance.py`) and `ance mine` call:

    result = refresh(experiment, checkpoint, run_dir, refresh=3, seed=0)
    result.negatives_path   # <run_dir>/negatives/negatives-3.jsonl (+ .stats.json written after it)
    dict(result)            # the dev metrics, e.g. {"MRR@10": .., "nDCG@10": .., "R@100": ..}

Steps and their files:
1. corpus embeddings through the embedding cache (keyed by checkpoint + corpus content);
2. the train queries with a positive in the corpus; `ance.query_fraction` of them,
   a different seeded sample at every refresh (ANCE's ann_chunk_factor) (`train_queries`);
3. top-`ance.top_k` search (refresh 0: through the ranking cache, ance_core.mining.rankings,
   filled once per seed by the refresh0 job) and the segment sampler (in memory);
4. dev evaluation (`eval.split`, every `eval.every_refreshes`): `eval/refresh-<r>.json`,
   the TREC run `eval/refresh-<r>.run.tsv` and the judged qrels it is scored
   against, `eval/qrels.<split>.tsv` (trec_eval on the two gives our numbers).
   Always with the model as trained: when mining used the int8 copy
   (`ance.encode.quantize_cpu`), the corpus is encoded again for the evaluation.
5. `negatives-<r>.jsonl` then its stats (sha256, lines, positive-in-top-K, ranks,
   qrels overlap, the positive-negative score margin, seconds per phase, peak memory
   until the write), last, so that nothing is published early.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ance_core.data.readers import IdIndex, Qrels
from ance_core.errors import InputError
from ance_core.memory import PeakMemory
from ance_core.mining.mine import mine, negative_records, search_depth
from ance_core.mining.stats import margin_stats, negatives_stats, ranking_stats
from ance_core.sampling import PositiveSets, refresh_seed

log = logging.getLogger(__name__)

EVAL_DIR = "eval"
_FRACTION_DOMAIN = 0x4D494E45  # "MINE": the query sample's own random stream


@dataclass(frozen=True)
class RefreshResult(Mapping[str, float]):
    """What a refresh produced. Reads as the mapping of its dev metrics (what the `eval` event carries)."""

    negatives_path: Path | None
    stats: dict[str, Any]
    eval_metrics: dict[str, float] = field(default_factory=dict)
    eval_path: Path | None = None

    def __getitem__(self, name: str) -> float:
        return self.eval_metrics[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.eval_metrics)

    def __len__(self) -> int:
        return len(self.eval_metrics)

    @property
    def phase_seconds(self) -> dict[str, float]:
        """Wall seconds by kind of work, as the refresh record and event carry them (ARCHITECTURE.md)."""
        return phase_seconds(self.stats.get("seconds", {}))


def phase_seconds(seconds: dict[str, float]) -> dict[str, float]:
    """A refresh's phases (stats["seconds"]) as `<work>_s` fields: load, encode, search, sample, write, eval."""
    work = {"load_s": ("load",), "encode_s": ("encode_corpus", "encode_queries"), "search_s": ("search",),
            "sample_s": ("sample",), "write_s": ("write",), "eval_s": ("eval",)}
    return {name: round(sum(seconds.get(p, 0.0) for p in phases), 3) for name, phases in work.items()}


class _Phases:
    """Wall seconds per phase, for the stats file."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - started, 3)


def train_positives(query_ids: IdIndex, qrels: Qrels, collection_ids: IdIndex) -> tuple[np.ndarray, PositiveSets]:
    """(query rows in file order, their positives as collection rows) for queries with a relevant passage in the corpus."""
    pairs = [(qid, pid) for qid, grades in qrels.by_query.items() for pid, grade in grades.items() if grade > 0]
    q_rows = query_ids.rows(q for q, _ in pairs)
    p_rows = collection_ids.rows(p for _, p in pairs)
    keep = (q_rows >= 0) & (p_rows >= 0)
    if not keep.any():
        raise InputError.single(qrels.path, "qrels", "train queries with a relevant passage in the collection", "none")
    q_rows, p_rows = q_rows[keep], p_rows[keep]
    queries, owner = np.unique(q_rows, return_inverse=True)
    order = np.argsort(owner, kind="stable")
    offsets = np.concatenate(([0], np.cumsum(np.bincount(owner, minlength=queries.size))))
    return queries, PositiveSets.from_csr(offsets, p_rows[order])


def sample_fraction(n: int, fraction: float, seed: int, refresh: int) -> np.ndarray:
    """Sorted positions of the queries mined at this refresh (all of them when fraction is 1)."""
    if fraction >= 1.0:
        return np.arange(n)
    count = max(1, round(fraction * n))
    return np.sort(np.random.default_rng([_FRACTION_DOMAIN, seed, refresh]).permutation(n)[:count])


def train_queries(experiment, encoder, source, collection_ids: IdIndex, cache_root: Path, refresh: int, seed: int,
                  options: dict[str, Any]) -> tuple[list[str], PositiveSets, np.ndarray]:
    """(query ids, positives as collection rows, vectors) of the train queries mined at this refresh."""
    from ance_core.data.readers import load_qrels
    from ance_core.data.tokcache import token_cache
    from ance_core.encode import embed, embed_file

    fraction = experiment.ance.query_fraction
    split = experiment.data.train_split
    queries_path = source.queries(split)
    tokens = token_cache(encoder.tokenizer, queries_path, cache_root, encoder.spec.max_len("query"),
                         show_progress=options.get("show_progress", True))
    file_rows, positives = train_positives(tokens.ids, load_qrels(source.qrels(split)), collection_ids)
    chosen = sample_fraction(file_rows.size, fraction, seed, refresh)
    file_rows, positives = file_rows[chosen], positives.take(chosen)
    if fraction >= 1.0:  # the whole split: cached, so a re-run of this refresh encodes nothing
        query_vectors = embed_file(encoder, queries_path, "query", cache_root, **options)[1][file_rows]
    else:  # a different sample every refresh: encode just these queries
        query_vectors = embed(encoder, tokens, "query", rows=file_rows, **options)
    return tokens.ids.ids_of(file_rows), positives, query_vectors


def refresh(
    experiment,
    checkpoint: str,
    run_dir: str | Path,
    refresh: int = 0,
    seed: int = 0,
    *,
    evaluate: bool = True,
    device: str | None = None,
    show_progress: bool = True,
) -> RefreshResult:
    """Mine `negatives-<refresh>.jsonl` for the train queries and evaluate dev, sharing the corpus embeddings."""
    from ance_core.data.subset import subset_source
    from ance_core.encode import embed_collection
    from ance_core.mining.rankings import cached_search
    from ance_core.model import load_encoder
    from ance_core.data.negatives import NEGATIVES_DIR, negatives_path, write_negatives

    run_dir = Path(run_dir)
    ance, enc = experiment.ance, experiment.ance.encode
    cache_root = Path(experiment.outputs.root) / "_cache"
    options = dict(batch_size=enc.batch_size, precision=enc.precision, device=device, quantize=enc.quantize_cpu,
                   show_progress=show_progress)
    mining_precision = "int8" if enc.quantize_cpu else _precision(enc.precision, device)
    phase = _Phases()
    memory = PeakMemory()

    with phase("load"):
        source = subset_source(experiment)
        encoder = load_encoder(checkpoint, experiment.model)
    with phase("encode_corpus"):
        collection_ids, corpus = embed_collection(encoder, source, cache_root, **options)
    with phase("encode_queries"):
        qids, positives, query_vectors = train_queries(experiment, encoder, source, collection_ids, cache_root, refresh,
                                                       seed, options)
    ranking = None
    if refresh == 0:  # the same for every strategy of the seed: ranked once (the refresh0 job), then read
        with phase("search"):
            ranking = cached_search(cache_root, query_vectors, corpus, search_depth(ance.segment, ance.top_k, positives),
                                    index=ance.index, show_progress=show_progress)
    mined = mine(ance.segment, ance.top_k, query_vectors, corpus, positives, refresh_seed(seed, refresh),
                 index=ance.index, show_progress=show_progress, ranking=ranking)
    for name, seconds in mined.seconds.items():  # "search" and "sample", timed inside mine()
        phase.seconds[name] = round(phase.seconds.get(name, 0.0) + seconds, 3)

    stats: dict[str, Any] = {
        "refresh": refresh, "checkpoint": str(checkpoint), "experiment": experiment.name, "seed": seed,
        "segment": ance.segment.describe(), "counting": ance.segment.counting, "search": mined.ranking.engine,
        "corpus": len(collection_ids), "queries": len(qids), "queries_with_positive": int(positives.num_queries),
        "query_fraction": ance.query_fraction, "precision": mining_precision,
        **ranking_stats(mined.ranking.rows[:, : ance.top_k], positives),
        **negatives_stats(mined.sampled, positives, ance.segment.n),
        **margin_stats(mined.ranking.scores, mined.positive_scores, mined.sampled),
    }
    if stats["qrels_overlap"]:
        raise RuntimeError(f"{stats['qrels_overlap']} sampled negatives are judged relevant: the sampler is broken")

    metrics: dict[str, float] = {}
    eval_path = None
    if evaluate and refresh % experiment.eval.every_refreshes == 0:
        with phase("eval"):
            # The mining embeddings serve the evaluation only when they are the model's own.
            exact_corpus = None if enc.quantize_cpu else (collection_ids, corpus)
            metrics, eval_path = _evaluate(experiment, encoder, source, exact_corpus, run_dir, refresh, cache_root,
                                           device, show_progress)

    # The negatives last: an asynchronous trainer takes them as soon as they are whole, so a refresh
    # abandoned before its end (a stop signal) must not have published them (docs/ARCHITECTURE.md).
    stats["seconds"], stats["memory"] = dict(phase.seconds), memory.read()
    path = negatives_path(run_dir / NEGATIVES_DIR, refresh)
    with phase("write"):
        stats = write_negatives(path, negative_records(qids, positives, mined.sampled, collection_ids), **stats)
    log.info("refresh %d: %s (%d queries, positive in top-%d: %.3f, mean negative rank %s)", refresh, path,
             stats["queries"], ance.top_k, stats["positive_in_topk"] or 0.0, stats["negative_rank"]["mean"])
    return RefreshResult(path, {**stats, "seconds": dict(phase.seconds)}, metrics, eval_path)


def _precision(precision: str, device: str | None) -> str:
    from ance_core.encode import resolve_device, resolve_precision

    return resolve_precision(precision, resolve_device(device))


def _evaluate(experiment, encoder, source, exact_corpus: tuple[IdIndex, np.ndarray] | None, run_dir: Path,
              refresh: int, cache_root: Path, device: str | None, show_progress: bool) -> tuple[dict[str, float], Path]:
    from ance_core.data.readers import load_qrels
    from ance_core.encode import embed_collection, embed_file
    from ance_core.eval import evaluate_vectors, judged_qrels, select_queries
    from ance_core.eval.evaluate import eval_encode_options
    from ance_core.eval.runfile import write_qrels_file
    from ance_core.io.atomic import write_json

    cfg = experiment.eval
    options = eval_encode_options(experiment.ance.encode, device, show_progress)
    collection_ids, corpus = exact_corpus or embed_collection(encoder, source, cache_root, **options)
    query_ids, query_vectors = embed_file(encoder, source.queries(cfg.split), "query", cache_root, **options)
    judged = select_queries(query_ids, judged_qrels(query_ids, load_qrels(source.qrels(cfg.split)), collection_ids),
                            cfg.max_queries)
    rows = query_ids.rows(list(judged))
    out_dir = run_dir / EVAL_DIR
    qrels_path = write_qrels_file(out_dir / f"qrels.{cfg.split}.tsv", judged)
    result = evaluate_vectors(list(judged), query_vectors[rows], collection_ids, corpus, judged, cfg.metrics,
                              index=experiment.ance.index, run_file=out_dir / f"refresh-{refresh}.run.tsv",
                              run_name=f"{experiment.name}-r{refresh}", show_progress=show_progress)
    path = out_dir / f"refresh-{refresh}.json"
    write_json(path, result.to_json(refresh=refresh, split=cfg.split, qrels_file=qrels_path.name,
                                    precision=_precision(options["precision"], device)))
    log.info("refresh %d dev: %s", refresh, ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()))
    return result.metrics, path
