"""Embeddings in, negatives out: top-K search, the positives' scores, the segment sampler, JSON records.

Nothing here loads models or files; `refresh.py` does that and calls `mine`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ance_core.data.readers import IdIndex
from ance_core.index import SearchResult, search
from ance_core.sampling import PositiveSets, SampledNegatives, sample_negatives

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mined:
    ranking: SearchResult
    positive_scores: np.ndarray  # (Q,) float32, NaN for a query without a positive
    sampled: SampledNegatives
    seconds: dict[str, float] = field(default_factory=dict)  # wall seconds: "search" (+ positive scores), "sample"


def positive_scores(query_vectors: np.ndarray, corpus_vectors: np.ndarray, positives: PositiveSets) -> np.ndarray:
    """Score of each query's best positive (the positives are in the corpus embeddings); NaN if it has none."""
    counts = positives.counts
    owner = np.repeat(np.arange(positives.num_queries), counts)
    scores = np.einsum(
        "ij,ij->i", query_vectors[owner].astype(np.float32), corpus_vectors[positives.ids].astype(np.float32)
    )
    best = np.full(positives.num_queries, -np.inf, dtype=np.float32)
    np.maximum.at(best, owner, scores)
    best[counts == 0] = np.nan
    return best


def search_depth(segment, top_k: int, positives: PositiveSets) -> int:
    """How deep `mine` ranks. Positive-free ranks count after a query's positives are taken out, so the
    search goes `top_k` + (most positives of any query) deep: rank top_k-1 then always exists, and
    bottom20 = [180, 200) always has 20 (docs/SAMPLING.md). Legacy counting reads raw positions of exactly the top_k."""
    return top_k + int(positives.counts.max(initial=0)) if segment.counting == "positive_free" else top_k


def mine(
    segment,
    top_k: int,
    query_vectors: np.ndarray,
    corpus_vectors: np.ndarray,
    positives: PositiveSets,
    seed: int,
    *,
    index: str = "flat",
    show_progress: bool = True,
    ranking: SearchResult | None = None,
) -> Mined:
    """Rank the corpus for every query (`search_depth` deep; `ranking`: already ranked, e.g. from the
    ranking cache) and sample its negatives with `segment` (rows are collection rows)."""
    started = time.perf_counter()
    if ranking is None:
        ranking = search(query_vectors, corpus_vectors, search_depth(segment, top_k, positives), index=index,
                         show_progress=show_progress)
    pos_scores = positive_scores(query_vectors, corpus_vectors, positives)
    searched = time.perf_counter()
    # search() never returns an id twice in a row and pads with -1 only at the end.
    sampled = sample_negatives(segment, ranking.rows, positives, candidate_scores=ranking.scores,
                               positive_scores=pos_scores, seed=seed, unique_candidates=True)
    seconds = {"search": round(searched - started, 3), "sample": round(time.perf_counter() - searched, 3)}
    return Mined(ranking, pos_scores, sampled, seconds)


def negative_records(
    qids: Sequence[str], positives: PositiveSets, sampled: SampledNegatives, collection_ids: IdIndex
) -> Iterator[dict[str, Any]]:
    """The negatives file's lines: {"qid", "pos", "neg", "neg_ranks"} with string ids, one per query."""
    ids = np.asarray(collection_ids.ids, dtype=object)
    offsets = positives.offsets
    for q, qid in enumerate(qids):
        count = int(sampled.counts[q])
        yield {
            "qid": qid,
            "pos": ids[positives.ids[offsets[q] : offsets[q + 1]]].tolist(),
            "neg": ids[sampled.neg_ids[q, :count]].tolist(),
            "neg_ranks": sampled.neg_ranks[q, :count].tolist(),
        }
