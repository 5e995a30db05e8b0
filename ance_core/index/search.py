"""Top-K retrieval by inner product: the one entry point mining and evaluation call.

    result = search(query_vectors, corpus_vectors, k=200, index="flat")
    result.rows    # (Q, K) int64 corpus rows, best first, -1 past the corpus end
    result.scores  # (Q, K) float32, -inf where rows is -1

Which engine runs:
* `flat` on CPU: our blocked exact search (`blocked.py`), unless `backend="faiss"`;
  benchmarks/search.py compares both against the machine's GEMM peak.
* `flat` when faiss has GPUs: faiss on the GPU(s), sharded over several.
* `ivf`, `hnsw`: faiss (approximate; for corpora where exact search is too slow).

Every result is ordered by score descending, then row ascending. The blocked
search also picks the same set on ties (the smaller row wins) whatever its tile
sizes; faiss decides ties at the k-th place in its own way.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ance_core.index import keys as K
from ance_core.index.blocked import BlockedParams, blocked_search
from ance_core.index.faiss_index import FaissParams, faiss_gpus, faiss_search

log = logging.getLogger(__name__)

Backend = Literal["auto", "blocked", "faiss"]


@dataclass(frozen=True)
class SearchResult:
    scores: np.ndarray  # (Q, K) float32
    rows: np.ndarray  # (Q, K) int64, -1 padded
    engine: str  # what ran, for logs and stats: "blocked-cpu", "faiss-flat-cpu", "faiss-ivf-gpu", ...
    seconds: float

    @property
    def k(self) -> int:
        return self.rows.shape[1]


def choose_engine(index: str, backend: Backend = "auto") -> str:
    """'blocked' or 'faiss' for this index kind and backend request."""
    if index not in ("flat", "ivf", "hnsw"):
        raise ValueError(f"unknown index kind {index!r}: flat, ivf or hnsw")
    if backend == "blocked" and index != "flat":
        raise ValueError(f"the blocked search is exact ('flat'), asked for {index!r}")
    if backend != "auto":
        return backend
    if index == "flat" and faiss_gpus() == 0:
        return "blocked"
    return "faiss"


def search(
    queries: np.ndarray,
    corpus: np.ndarray,
    k: int,
    *,
    index: str = "flat",
    backend: Backend = "auto",
    blocked: BlockedParams | None = None,
    faiss_params: FaissParams | None = None,
    show_progress: bool = True,
) -> SearchResult:
    """Top-k corpus rows of every query by inner product (see the module doc)."""
    from ance_core.console.progress import progress

    if queries.ndim != 2 or corpus.ndim != 2 or queries.shape[1] != corpus.shape[1]:
        raise ValueError(f"queries {queries.shape} and corpus {corpus.shape} must be (Q, d) and (N, d)")
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    engine = choose_engine(index, backend)
    started = time.perf_counter()
    with progress(queries.shape[0], f"searching top-{k}", "queries", enabled=show_progress) as advance:
        if engine == "blocked":
            scores, rows = blocked_search(queries, corpus, k, blocked, progress=advance)
            where = "blocked-cpu"
        else:
            # faiss wants at most N results per query; pad the rest ourselves.
            kk = min(k, corpus.shape[0])
            scores, rows, device = faiss_search(queries, corpus, kk, index, faiss_params, progress=advance) if kk else (
                np.empty((queries.shape[0], 0), np.float32), np.empty((queries.shape[0], 0), np.int64), "cpu")
            scores, rows = _canonical(scores, rows, k)
            where = f"faiss-{index}-{device}"
    seconds = time.perf_counter() - started
    log.debug("searched %d queries x %d passages (d=%d, k=%d) with %s in %.2f s",
              queries.shape[0], corpus.shape[0], corpus.shape[1], k, where, seconds)
    return SearchResult(scores, rows, where, seconds)


def _canonical(scores: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Order each row by (score desc, row asc) and pad to k with (-inf, -1), like the blocked search."""
    keys = np.where(rows >= 0, K.pack(np.where(rows >= 0, scores, 0), np.maximum(rows, 0)), K.EMPTY)
    return K.unpack(K.merge([keys], k))
