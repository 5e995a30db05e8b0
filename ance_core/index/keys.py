"""Ranking keys: one uint64 per (score, row) whose ascending order is the ranking order.

Every ranking in the bundle is ordered by score descending, then row ascending,
so that ties (common with float16 embeddings and near-duplicate passages) are
broken the same way on every run, block size and thread count. Packing both into
one integer lets numpy's SIMD `partition`/`sort` (values only, no index
shuffling) do exact selection with that tie rule in a single pass:

    key = (descending-order bits of the float32 score) << 32 | row

The score bits are the usual order-preserving float->uint32 map, inverted so that
higher scores give smaller keys. Decoding is lossless: the float32 score comes
back bit for bit. Rows must fit in 32 bits (MS MARCO has 8.8M passages).
"""

from __future__ import annotations

import numpy as np

# The largest key: sorts after every real candidate; marks an empty slot.
EMPTY = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
MAX_ROWS = 0xFFFF_FFFF  # row 0xFFFFFFFF would collide with EMPTY's low half
_LOW = np.uint64(0xFFFF_FFFF)
_SHIFT = np.uint64(32)


def _descending_bits(scores: np.ndarray) -> np.ndarray:
    """uint32 bits whose ascending order is the scores' descending order (IEEE-754 trick)."""
    # `+ 0.0` turns -0.0 into +0.0: equal scores must get equal bits.
    bits = (np.asarray(scores, dtype=np.float32) + np.float32(0.0)).view(np.int32)
    # Negative floats (sign 1) order reversed as integers: keep their bits as they are;
    # non-negative floats: flip the 31 value bits. Either way larger score -> smaller key.
    flip = ~(bits >> 31) & np.int32(0x7FFF_FFFF)
    return (bits ^ flip).view(np.uint32)


def _scores_from_bits(desc: np.ndarray) -> np.ndarray:
    bits = desc.astype(np.uint32).view(np.int32)
    flip = ~(bits >> 31) & np.int32(0x7FFF_FFFF)
    return (bits ^ flip).view(np.float32)


def pack(scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Keys of float32 `scores` at corpus `rows` (same shape, broadcastable)."""
    desc = _descending_bits(scores).astype(np.uint64)
    return (desc << _SHIFT) | np.asarray(rows).astype(np.uint64)


def unpack(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(scores float32, rows int64); EMPTY slots come back as (-inf, -1)."""
    keys = np.asarray(keys, dtype=np.uint64)
    empty = keys == EMPTY
    scores = _scores_from_bits(keys >> _SHIFT)
    rows = (keys & _LOW).astype(np.int64)
    scores = np.where(empty, np.float32(-np.inf), scores).astype(np.float32, copy=False)
    rows[empty] = -1
    return scores, rows


def threshold(keys: np.ndarray) -> np.ndarray:
    """Score of the worst key of each row (-inf while a row still has empty slots).

    A new candidate from a later corpus block (so a larger row) beats that worst
    key only with a strictly higher score: at equal scores the smaller row wins.
    """
    worst = keys.max(axis=1)
    scores, _ = unpack(worst)
    return scores


def select(keys: np.ndarray, k: int) -> np.ndarray:
    """The k smallest keys of each row (unordered), as a new array; in-place partition of `keys`."""
    if keys.shape[1] > k:
        keys.partition(k - 1, axis=1)
    return keys[:, :k].copy()


def merge(parts: list[np.ndarray], k: int) -> np.ndarray:
    """Top-k keys per row over several key arrays (shards, blocks), sorted best first."""
    combined = np.concatenate(parts, axis=1)
    if combined.shape[1] < k:
        pad = np.full((combined.shape[0], k - combined.shape[1]), EMPTY, dtype=np.uint64)
        combined = np.concatenate([combined, pad], axis=1)
    best = select(combined, k)
    best.sort(axis=1)
    return best
