"""faiss indexes: flat (exact, ANCE's choice), IVF and HNSW (approximate, for scale), on CPU or GPUs.

`faiss` ships as two wheels that both `import faiss` (pyproject extras `cpu` and
`gpu`); GPU code runs only when the installed build reports GPUs, so the same
code serves a laptop and a cluster node:

* one GPU: the index is copied to it (`index_cpu_to_gpu`);
* several: the corpus is sharded across all of them (`index_cpu_to_all_gpus`
  with `shard=True`), each GPU searches its part and faiss merges the top-k.

HNSW has no GPU implementation in faiss and stays on the CPU.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

GPU_MAX_K = 2048  # faiss GPU top-k limit


@dataclass(frozen=True)
class FaissParams:
    nlist: int | None = None  # IVF lists; None: 4·sqrt(N), at least 1, at most N/39 (faiss' training minimum)
    nprobe: int | None = None  # IVF lists searched; None: nlist/8, at least 1
    hnsw_m: int = 32  # HNSW neighbours per node
    ef_construction: int = 200
    ef_search: int | None = None  # None: max(2k, 128)
    query_batch: int = 16384  # queries per search call (bounds the (batch, k) result buffers)
    use_gpu: bool | None = None  # None: when the faiss build has GPUs
    seed: int = 0  # IVF training sample


def import_faiss() -> Any:
    """`import faiss` without its INFO lines about which SIMD build it tried first."""
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)
    import faiss

    return faiss


def faiss_gpus() -> int:
    """GPUs that this faiss build can use (0 for faiss-cpu)."""
    faiss = import_faiss()
    get = getattr(faiss, "get_num_gpus", None)
    return int(get()) if get is not None else 0


def _ivf_lists(n: int, params: FaissParams) -> int:
    if params.nlist is not None:
        return max(1, min(params.nlist, n))
    return max(1, min(int(4 * math.sqrt(n)), n // 39))


def build_index(corpus: np.ndarray, kind: str, k: int, params: FaissParams | None = None) -> Any:
    """A CPU faiss index over `corpus` (N, d) for inner-product search (`kind`: flat, ivf, hnsw)."""
    faiss = import_faiss()

    p = params or FaissParams()
    vectors = np.ascontiguousarray(corpus, dtype=np.float32)
    n, dim = vectors.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "ivf":
        nlist = _ivf_lists(n, p)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = vectors
        if n > nlist * 256:  # faiss' own cap on useful training points per list
            sample = vectors[np.sort(np.random.default_rng(p.seed).choice(n, nlist * 256, replace=False))]
        index.train(sample)
        index.nprobe = p.nprobe or max(1, nlist // 8)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, p.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = p.ef_construction
        index.hnsw.efSearch = p.ef_search or max(2 * k, 128)
    else:
        raise ValueError(f"unknown index kind {kind!r}: flat, ivf or hnsw")
    index.add(vectors)
    return index


def to_gpus(index: Any, kind: str) -> tuple[Any, str]:
    """Move an index to the GPUs when faiss has them (sharded over several); else leave it."""
    gpus = faiss_gpus()
    if gpus == 0 or kind == "hnsw":
        return index, "cpu"
    faiss = import_faiss()

    if gpus == 1:
        return faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index), "gpu"
    options = faiss.GpuMultipleClonerOptions()
    options.shard = True  # split the corpus across GPUs instead of copying it to each
    return faiss.index_cpu_to_all_gpus(index, co=options), f"{gpus} gpus (sharded)"


def faiss_search(
    queries: np.ndarray,
    corpus: np.ndarray,
    k: int,
    kind: str = "flat",
    params: FaissParams | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, str]:
    """(scores float32 (Q,k), rows int64 (Q,k), where it ran); faiss pads missing results with -1."""
    p = params or FaissParams()
    index = build_index(corpus, kind, k, p)
    where = "cpu"
    use_gpu = p.use_gpu if p.use_gpu is not None else faiss_gpus() > 0
    if use_gpu and k <= GPU_MAX_K:
        index, where = to_gpus(index, kind)
    elif use_gpu:
        log.warning("faiss GPUs search at most k=%d, asked k=%d: searching on the CPU", GPU_MAX_K, k)
    n_queries = queries.shape[0]
    scores = np.empty((n_queries, k), dtype=np.float32)
    rows = np.empty((n_queries, k), dtype=np.int64)
    for start in range(0, n_queries, p.query_batch):
        stop = min(start + p.query_batch, n_queries)
        batch = np.ascontiguousarray(queries[start:stop], dtype=np.float32)
        scores[start:stop], rows[start:stop] = index.search(batch, k)
        if progress is not None:
            progress(stop - start)
    scores[rows < 0] = -np.inf  # faiss' padding score is -3.4e38 (IP) or arbitrary: make it explicit
    return scores, rows, where
