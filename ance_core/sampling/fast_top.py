"""The `top` rule's fast path: rows with at most one exclusion before their last pick.

For `top` every row wants the same slots 0..n-1, so with no exclusion (positive,
padding, repeat) among the entries read, output j is one fixed column `cols0[j]`,
and with one exclusion at column p it is `cols0[j]` before p and the next entry
of the base, `cols1[j]`, from p on. Output columns then come from two slices of
the candidate matrix and one select, instead of an eligible list and a gather.

When the next entry does not exist (the windows end at the ranking's end), the
shifted outputs are -1 and the row gets fewer, as `top` gives a short row.
Rows this does not describe (two or more positives, padding, unless the caller
promised unique rows a suspect repeated id) are reported back and go through the
general path; the result is the same either way (tests compare both on random
rankings, byte for byte).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ance_core.sampling.eligible import low_32_bits
from ance_core.sampling.positives import PositiveSets
from ance_core.sampling.segments import window_columns, window_ranks

# Rows per block inside a chunk (bounds the temporaries; results do not depend on it).
BLOCK_ROWS = 8192


@dataclass(frozen=True)
class TopPlan:
    """Fixed columns of a `top` segment on a K-wide ranking (see the module doc)."""

    n: int
    cols0: np.ndarray  # (n,) int32: column of output j without an exclusion at or before it
    cols1: np.ndarray  # (n,) int32: column with one exclusion at or before it; -1: none exists
    ranks: np.ndarray | None  # (n,) positive-free ranks of the outputs; None: legacy (ranks = columns)
    scan: tuple[tuple[int, int], ...]  # column ranges whose entries decide the row's picks
    runs: tuple[tuple[int, int, bool], ...]  # (j0, j1, shiftable): cols0 and cols1 step by 1 inside
    top_k: int  # also "no exclusion" in a row's exclusion column
    # Lookups by the exclusion column c (K: none): f = first_shifted[c] is the first output
    # that moves on (n: none), and row f of these tables is that row's mask / columns.
    first_shifted: np.ndarray  # (K+1,) intp
    shift_masks: np.ndarray  # (n+1, n) bool
    position_rows: np.ndarray  # (n+1, n) int32, -1 where the next entry does not exist
    rank_rows: np.ndarray | None  # (n+1, n) int32 positive-free ranks, -1 likewise; None: legacy
    counts: np.ndarray  # (n+1,) int32 negatives of the row (fewer when next entries are missing)

    @classmethod
    def build(cls, segment, top_k: int) -> TopPlan | None:
        """None when no row can get n negatives from the fixed columns (fewer than n window entries)."""
        n = segment.n
        if segment.counting == "legacy":
            base = window_columns(segment.windows, top_k)
            if base.size < n:
                return None
            cols0 = base[:n]
            cols1 = np.append(base[1 : n + 1], [-1] * max(0, n + 1 - base.size))
            scan = tuple((start, min(end, top_k)) for start, end in segment.windows if start < top_k)
            ranks = None
        else:
            ranks = window_ranks(segment.windows)[:n]
            if ranks.size < n or ranks[-1] >= top_k:
                return None
            cols0 = ranks
            cols1 = np.where(ranks + 1 < top_k, ranks + 1, -1)
            scan = ((0, min(top_k, int(ranks[-1]) + 2)),)
            ranks = ranks.astype(np.int32)
        first_shifted = np.searchsorted(cols0, np.arange(top_k + 1), side="left").astype(np.intp)
        shift_masks = np.arange(n) >= np.arange(n + 1)[:, None]
        position_rows = np.where(shift_masks, cols1, cols0).astype(np.int32)
        # A missing next entry only ever ends the row (cols1 is -1 on a tail of j), so the
        # row keeps its first picks and gets -1 after them, as `top` does for a short row.
        rank_rows = None if ranks is None else np.where(position_rows >= 0, ranks, -1).astype(np.int32)
        counts = (position_rows >= 0).sum(axis=1).astype(np.int32)
        return cls(n, cols0.astype(np.int32), cols1.astype(np.int32), ranks, scan, _runs(cols0, cols1),
                   top_k, first_shifted, shift_masks, position_rows, rank_rows, counts)


def _runs(cols0: np.ndarray, cols1: np.ndarray) -> tuple[tuple[int, int, bool], ...]:
    runs, start = [], 0
    for j in range(1, cols0.size + 1):
        if j == cols0.size or cols0[j] != cols0[j - 1] + 1 or (cols1[j] < 0) != (cols1[j - 1] < 0) or (
            cols1[j] >= 0 and cols1[j] != cols1[j - 1] + 1
        ):
            runs.append((start, j, bool(cols1[start] >= 0)))
            start = j
    return tuple(runs)


def sample_top_fast(plan: TopPlan, ids: np.ndarray, positives: PositiveSets, unique: bool, sink) -> np.ndarray:
    """Fill `sink` for every row of `ids`; return the rows the fast path does not describe."""
    rows = ids.shape[0]
    counts = positives.counts
    first = positives.slot(0)
    slow = [np.flatnonzero(counts > 1)]  # several positives: the general path
    for start in range(0, rows, BLOCK_ROWS):
        stop = min(rows, start + BLOCK_ROWS)
        block = ids[start:stop]
        hit = _first_hit(plan, block, first[start:stop])
        slow.append(start + np.flatnonzero(_irregular(plan, block, unique)))
        _write(plan, block, hit, sink, slice(start, stop))
    return np.concatenate(slow)


def _first_hit(plan: TopPlan, block: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Column of the row's positive among the scanned columns, K where absent.

    A row where it occurs twice has a repeated id and goes the general way, so any of
    its places will do here.
    """
    hit = np.full(block.shape[0], plan.top_k, dtype=np.intp)
    for start, stop in reversed(plan.scan):  # the leftmost range last: it wins
        if stop <= start:
            continue
        found = np.flatnonzero(block[:, start:stop] == wanted[:, None])
        rows, columns = np.divmod(found, stop - start)
        hit[rows] = start + columns
    return hit


def _irregular(plan: TopPlan, block: np.ndarray, unique: bool) -> np.ndarray:
    """Rows with padding or (unless `unique`) a repeated id among the scanned columns."""
    if unique:
        # Padding comes only at the end of a row, so the last scanned column of each range tells.
        bad = np.zeros(block.shape[0], dtype=bool)
        for start, stop in plan.scan:
            if stop > start:
                bad |= block[:, stop - 1] < 0
        return bad
    low = np.concatenate([low_32_bits(block[:, start:stop]) for start, stop in plan.scan], axis=1)
    if low.shape[1] == 0:
        return np.zeros(block.shape[0], dtype=bool)
    low.sort(axis=1)
    # Equal low bits (a repeat, or ids merely sharing them) and negative low bits (padding,
    # or large ids) are suspects; the general path checks them exactly.
    return (low[:, 1:] == low[:, :-1]).any(axis=1) | (low[:, 0] < 0)


def _write(plan: TopPlan, block: np.ndarray, hit: np.ndarray, sink, rows: slice) -> None:
    # Small-table lookups (mode="clip" skips the bounds checks; every index is in range).
    first = np.take(plan.first_shifted, hit, mode="clip")
    earliest = int(first.min(initial=plan.n))  # no row shifts an output before this one
    shifted = np.take(plan.shift_masks, first, axis=0, mode="clip")  # (R, n): output j moves one entry on
    out_ids = sink.ids[rows]
    for j0, j1, shiftable in plan.runs:
        c0, width = int(plan.cols0[j0]), j1 - j0
        if earliest >= j1:  # no row shifts here (bottom20: nearly every row)
            out_ids[:, j0:j1] = block[:, c0 : c0 + width]
        elif shiftable:
            c1 = int(plan.cols1[j0])
            out_ids[:, j0:j1] = np.where(shifted[:, j0:j1], block[:, c1 : c1 + width], block[:, c0 : c0 + width])
        else:  # no next entry: shifted outputs are missing
            out_ids[:, j0:j1] = np.where(shifted[:, j0:j1], -1, block[:, c0 : c0 + width])
    # legacy: ranks are the columns, and the result may hold them in one array (sample.py)
    ranks_written = plan.rank_rows is None and np.may_share_memory(sink.ranks, sink.positions)
    if earliest == plan.n:  # one row of the tables for all
        sink.positions[rows] = plan.position_rows[plan.n]
        if not ranks_written:
            sink.ranks[rows] = plan.position_rows[plan.n] if plan.rank_rows is None else plan.rank_rows[plan.n]
        sink.counts[rows] = plan.counts[plan.n]
        return
    np.take(plan.position_rows, first, axis=0, out=sink.positions[rows], mode="clip")
    if not ranks_written:
        table = plan.position_rows if plan.rank_rows is None else plan.rank_rows
        np.take(table, first, axis=0, out=sink.ranks[rows], mode="clip")
    np.take(plan.counts, first, out=sink.counts[rows], mode="clip")
