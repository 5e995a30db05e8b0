"""Ranking cache: refresh 0 of every strategy of a seed ranks the same queries against the same corpus.

Every strategy of a seed starts from the same checkpoint, so their refresh-0
embeddings (the embedding cache) and their top-K rankings are the same; only the
segment sampler differs. The `refresh0` job ranks once into

    <cache_root>/rankings/<key>/   rows.npy (Q x depth, int64), scores.npy (float32), key.json, COMPLETE

and each strategy's refresh 0 reads it and only samples. The key is the sha256 of
the query and corpus vectors (so it holds exactly for the vectors given), the
depth and the index kind. Builders of one entry wait on `<key>.lock` beside it.
Later refreshes rank with a strategy's own checkpoint and never come here.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from ance_core.index import SearchResult, search
from ance_core.io.atomic import atomic_dir, is_complete
from ance_core.io.lock import build_lock

log = logging.getLogger(__name__)

RANKING_FORMAT = 1
_ROWS_PER_BLOCK = 1 << 16


def vectors_digest(vectors: np.ndarray) -> str:
    """sha256 of a matrix's shape, dtype and values, read in row blocks (a memory map stays on disk)."""
    digest = hashlib.sha256(f"{vectors.shape}|{vectors.dtype.str}".encode())
    for start in range(0, vectors.shape[0], _ROWS_PER_BLOCK):
        digest.update(np.ascontiguousarray(vectors[start : start + _ROWS_PER_BLOCK]).tobytes())
    return digest.hexdigest()


def ranking_key(query_vectors: np.ndarray, corpus_vectors: np.ndarray, depth: int, index: str) -> dict:
    return {"format": RANKING_FORMAT, "queries": vectors_digest(query_vectors), "corpus": vectors_digest(corpus_vectors),
            "depth": int(depth), "index": index}


def cached_search(cache_root: str | Path, query_vectors: np.ndarray, corpus_vectors: np.ndarray, depth: int, *,
                  index: str = "flat", show_progress: bool = True) -> SearchResult:
    """`search(...)` of these vectors, from the ranking cache when an earlier job ranked them, else ranked and kept."""
    key = ranking_key(query_vectors, corpus_vectors, depth, index)
    entry = Path(cache_root) / "rankings" / hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    if (found := _load(entry, key)) is not None:
        log.info("ranking of %d queries found in the cache (%s)", len(query_vectors), entry.name)
        return found
    with build_lock(entry):
        if (found := _load(entry, key)) is not None:
            log.info("ranking of %d queries ranked by another process meanwhile (%s)", len(query_vectors), entry.name)
            return found
        result = search(query_vectors, corpus_vectors, depth, index=index, show_progress=show_progress)
        with atomic_dir(entry) as tmp:
            np.save(tmp / "rows.npy", result.rows)
            np.save(tmp / "scores.npy", result.scores)
            (tmp / "key.json").write_text(json.dumps({**key, "engine": result.engine, "seconds": result.seconds}))
    return result


def _load(entry: Path, key: dict) -> SearchResult | None:
    if not is_complete(entry):
        return None
    try:
        meta = json.loads((entry / "key.json").read_text())
        if {name: meta.get(name) for name in key} != key:
            return None
        rows, scores = np.load(entry / "rows.npy"), np.load(entry / "scores.npy")
    except (OSError, ValueError):
        return None
    return SearchResult(scores, rows, f"{meta['engine']} (cached)", 0.0)
