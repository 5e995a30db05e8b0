"""Exact top-k inner-product search on CPU: torch GEMM over corpus blocks, then cheap selection.

Why our own search instead of faiss `IndexFlatIP`: the matrix multiply is the
unavoidable cost (2·Q·N·d flops); everything after it should be small. faiss
pushes every score through a heap, which on this kind of machine costs about
half as much again as the multiply (benchmarks/search.py measures both against
the GEMM peak). Here the scores of a (query batch x corpus block) tile go
through three cheap steps instead:

1. Group maxima: the max over groups of G columns (strided, so the reduction is
   G-1 vectorised elementwise maxima). A group whose max does not beat the row's
   threshold cannot hold a winner; after the first block almost no group does.
2. The threshold of a row is the worst of its current best k (`keys.threshold`);
   while a row has fewer than k candidates, the k-th largest group maximum of
   the tile is a valid lower bound (k distinct elements reach it).
3. Survivors (elements that beat the threshold) become ranking keys and are
   merged with the row's best k by numpy's SIMD partition (`keys.select`).

The result is exact, ordered by score descending then row ascending, and the
same for any block size, query batch or thread count (scores are fp32 GEMM
outputs; a tie is broken by the smaller row). Query batches are independent:
one worker thread per core runs whole batches with single-threaded kernels (torch
and numpy release the GIL), so selection runs in parallel with other batches'
multiplies instead of serialising between multi-threaded GEMMs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from ance_core.index import keys as K

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BlockedParams:
    """Tile sizes. Defaults keep a tile (query_batch x block fp32) within a core's L2/L3 share."""

    query_batch: int = 256
    block: int = 8192
    group: int = 8
    chunk_bytes: int = 512 << 20  # corpus converted to fp32 this much at a time (fp16 input stays fp16)
    dense_fraction: float = 0.25  # above this share of surviving elements, pack the whole tile
    threads: int | None = None  # None: torch.get_num_threads()


@contextlib.contextmanager
def _single_threaded_torch() -> Iterator[None]:
    """Each worker thread runs single-threaded kernels; restore the caller's setting after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _select_tile(scores: torch.Tensor, real: int, base: int, best: np.ndarray, k: int, p: BlockedParams) -> np.ndarray:
    """Merge one tile of scores (n x width, columns >= `real` are padding) into `best` (n x k keys)."""
    n, width = scores.shape
    groups = width // p.group
    run_thr = K.threshold(best)  # -inf while a row has empty slots
    gmax = scores.view(n, p.group, groups).amax(dim=1).numpy()  # (n, groups): max of columns j, j+groups, ...
    not_full = np.isneginf(run_thr)
    if not_full.any():
        if groups < k:
            return _dense(scores[:, :real], base, best, k)
        # Ties: a tile element equal to a running key's score loses to it (larger row),
        # hence '>' against the running threshold; an element equal to the tile's own
        # k-th largest group maximum may still win, hence '>=' against that one.
        tile_thr = np.full(n, -np.inf, dtype=np.float32)
        tile_thr[not_full] = np.partition(gmax[not_full], groups - k, axis=1)[:, groups - k]
        hit = (gmax > run_thr[:, None]) & (gmax >= tile_thr[:, None])
    else:
        tile_thr = None
        hit = gmax > run_thr[:, None]
    r, j = np.nonzero(hit)  # row-major: r sorted
    if r.size == 0:
        return best
    if r.size * p.group > p.dense_fraction * n * real:
        return _dense(scores[:, :real], base, best, k)
    # Flat positions of every member of each hit group, then the members that beat the threshold.
    flat = (r * width + j)[:, None] + groups * np.arange(p.group)  # (hits, group)
    cand = scores.numpy().ravel().take(flat)
    ok = cand > run_thr[r, None]
    if tile_thr is not None:
        ok &= cand >= tile_thr[r, None]
    keep = np.flatnonzero(ok)
    hit_of, member = keep // p.group, keep % p.group
    cand_keys = K.pack(cand.ravel().take(keep), j.take(hit_of) + groups * member + base)
    return _merge_ragged(best, r.take(hit_of), cand_keys, k)


def _dense(scores: torch.Tensor, base: int, best: np.ndarray, k: int) -> np.ndarray:
    """Pack every score of the tile: for tiles where a filter would not pay off."""
    n, width = scores.shape
    tile = K.pack(scores.numpy(), np.arange(base, base + width, dtype=np.int64)[None, :])
    return K.select(np.concatenate([best, tile], axis=1), k)


def _merge_ragged(best: np.ndarray, rows: np.ndarray, cand_keys: np.ndarray, k: int) -> np.ndarray:
    """Merge a different number of candidate keys per row (rows sorted) into the rows' best k."""
    counts = np.bincount(rows, minlength=best.shape[0])
    touched = np.flatnonzero(counts)
    starts = np.cumsum(counts) - counts
    slot = np.arange(rows.size) - starts[rows]
    local = np.empty(best.shape[0], dtype=np.int64)
    local[touched] = np.arange(touched.size)
    padded = np.full((touched.size, int(counts.max())), K.EMPTY, dtype=np.uint64)
    padded[local[rows], slot] = cand_keys
    best[touched] = K.select(np.concatenate([best[touched], padded], axis=1), k)
    return best


def _rows_per_chunk(p: BlockedParams, dim: int) -> int:
    return max(p.block, (p.chunk_bytes // (4 * dim)) // p.block * p.block)


def _corpus_chunks(corpus: np.ndarray, p: BlockedParams, dim: int, rows_per_chunk: int) -> Iterator[tuple[int, int, torch.Tensor]]:
    """(start, real rows, fp32 tensor padded with zero rows to a multiple of the group size)."""
    for start in range(0, corpus.shape[0], rows_per_chunk):
        part = corpus[start : start + rows_per_chunk]
        padded_rows = -(-part.shape[0] // p.group) * p.group
        chunk = torch.empty(padded_rows, dim, dtype=torch.float32)
        with warnings.catch_warnings():  # a read-only (memory-mapped) cache file: we only read it
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            chunk[: part.shape[0]].copy_(torch.from_numpy(np.ascontiguousarray(part)))
        chunk[part.shape[0] :] = 0.0
        # One reduction instead of an elementwise isfinite pass: NaN/inf anywhere make the sum non-finite.
        if not bool(torch.isfinite(chunk.sum())):
            raise ValueError(f"corpus embeddings {start}..{start + part.shape[0]} contain NaN or inf")
        yield start, part.shape[0], chunk


def blocked_search(
    queries: np.ndarray,
    corpus: np.ndarray,
    k: int,
    params: BlockedParams | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k by inner product: (scores float32 (Q,k), rows int64 (Q,k)), -1/-inf padded past N.

    `queries` (Q,d) and `corpus` (N,d) may be float16 or float32 numpy arrays.
    `progress(n)` is called as query batches finish a corpus chunk, n = queries / number of chunks.
    """
    p = params or BlockedParams()
    if p.block % p.group:
        raise ValueError(f"block ({p.block}) must be a multiple of group ({p.group})")
    n_queries, dim = queries.shape
    n_corpus = corpus.shape[0]
    if corpus.ndim != 2 or corpus.shape[1] != dim:
        raise ValueError(f"corpus shape {corpus.shape} does not match queries' dimension {dim}")
    if n_corpus >= K.MAX_ROWS:
        raise ValueError(f"at most {K.MAX_ROWS - 1} passages per search, got {n_corpus}")
    kk = min(k, n_corpus)
    best_all = np.full((n_queries, kk), K.EMPTY, dtype=np.uint64)
    threads = p.threads or max(1, min(torch.get_num_threads(), os.cpu_count() or 1))
    batches = [(s, min(s + p.query_batch, n_queries)) for s in range(0, n_queries, p.query_batch)]
    if kk == 0 or not batches:
        return _finish(best_all, k)

    rows_per_chunk = _rows_per_chunk(p, dim)
    n_chunks = -(-n_corpus // rows_per_chunk)

    def run(batch: tuple[int, int], start: int, real: int, chunk: torch.Tensor) -> int:
        qs, qe = batch
        q = torch.from_numpy(np.array(queries[qs:qe], dtype=np.float32))  # a small writable copy
        n = qe - qs
        tile_buf = torch.empty(n * p.block, dtype=torch.float32)
        best = best_all[qs:qe]
        for b0 in range(0, chunk.shape[0], p.block):
            block = chunk[b0 : b0 + p.block]
            scores = torch.mm(q, block.T, out=tile_buf[: n * block.shape[0]].view(n, block.shape[0]))
            real_cols = min(block.shape[0], real - b0)
            if real_cols < block.shape[0]:
                scores[:, real_cols:] = -np.inf
            best = _select_tile(scores, real_cols, start + b0, best, kk, p)
        best_all[qs:qe] = best
        return n

    with _single_threaded_torch(), ThreadPoolExecutor(max_workers=threads, thread_name_prefix="ance-search") as pool:
        # Chunk by chunk (each converted to fp32 once, then dropped), query batches in parallel within a chunk.
        for start, real, chunk in _corpus_chunks(corpus, p, dim, rows_per_chunk):
            for done in pool.map(lambda b: run(b, start, real, chunk), batches):
                if progress is not None:
                    progress(done / n_chunks)
    return _finish(best_all, k)


def _finish(best: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row best first and pad to k columns with (-inf, -1)."""
    best = np.sort(best, axis=1)
    if best.shape[1] < k:
        best = np.concatenate([best, np.full((best.shape[0], k - best.shape[1]), K.EMPTY, dtype=np.uint64)], axis=1)
    return K.unpack(best)
