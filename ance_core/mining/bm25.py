"""The warm-up's negatives: BM25 top-`warmup.bm25_depth` of the train queries, random non-positives from it."""

from __future__ import annotations

import logging
from pathlib import Path

from ance_core.config import Experiment
from ance_core.config.schema import RandomSegment
from ance_core.data import Collection, load_qrels, load_queries
from ance_core.data.negatives import write_negatives
from ance_core.data.subset import subset_source
from ance_core.errors import InputError
from ance_core.index.bm25 import BM25Index
from ance_core.mining.mine import negative_records
from ance_core.mining.refresh import sample_fraction, train_positives
from ance_core.sampling import refresh_seed, sample_negatives

log = logging.getLogger(__name__)

# The sampler stream of the BM25 negatives, apart from every ANCE refresh's stream.
WARMUP_STREAM = 0x57524D55


def mine_bm25(experiment: Experiment, seed: int, path: Path, index: BM25Index, collection: Collection) -> None:
    """BM25 top-`bm25_depth` of the train queries -> `negatives_per_query` random non-positive negatives each."""
    cfg = experiment.warmup
    source = subset_source(experiment)
    split = experiment.data.train_split
    queries = load_queries(source.queries(split))
    file_rows, positives = train_positives(queries.ids, load_qrels(source.qrels(split)), collection.ids)
    chosen = sample_fraction(file_rows.size, cfg.query_fraction, seed, WARMUP_STREAM)
    file_rows, positives = file_rows[chosen], positives.take(chosen)
    qids = queries.ids.ids_of(file_rows)
    depth = min(cfg.bm25_depth, len(collection))
    if cfg.negatives_per_query > depth - 1:
        raise InputError.single(None, "warmup.negatives_per_query", f"< the collection size ({len(collection)})", cfg.negatives_per_query)
    log.info("BM25: ranking %d train queries (top %d of %d passages)", len(qids), depth, len(collection))
    rows, _ = index.search([queries.texts[r] for r in file_rows.tolist()], depth)
    segment = RandomSegment(windows=[(0, depth)], n=cfg.negatives_per_query)
    sampled = sample_negatives(segment, rows, positives, seed=refresh_seed(seed, WARMUP_STREAM))
    records = negative_records(qids, positives, sampled, collection.ids)
    stats = write_negatives(path, records, source="bm25", depth=depth, queries=len(qids), seed=seed)
    log.info("BM25 negatives: %s (%d queries)", path, stats["lines"])
