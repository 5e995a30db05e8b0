"""Each query's positives as CSR arrays, and where they sit in a candidate list.

A query may have several relevant passages (qrels), so positives are ragged:
`offsets` (Q+1,) and `ids` (offsets[-1],) like a CSR matrix row structure.
They are normalised once (sorted, unique within a query), so that a positive
occurring in a candidate row is found exactly once per distinct id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ance_core.errors import InputError

# Stands in for "no positive in this slot": candidate ids are >= -1, so it never matches.
NO_POSITIVE = -2


@dataclass(frozen=True)
class PositiveSets:
    """Positive ids of Q queries: query q owns `ids[offsets[q]:offsets[q+1]]` (sorted, unique)."""

    offsets: np.ndarray
    ids: np.ndarray

    @classmethod
    def from_csr(cls, offsets: np.ndarray, ids: np.ndarray) -> PositiveSets:
        """Validate CSR arrays and normalise each query's ids (sorted, duplicates dropped)."""
        offsets = np.asarray(offsets)
        ids = np.asarray(ids)
        if offsets.ndim != 1 or offsets.size == 0 or not np.issubdtype(offsets.dtype, np.integer):
            raise InputError.single(None, "pos_offsets", "a 1-D integer array of Q+1 offsets", offsets.shape, raw=True)
        if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
            raise InputError.single(None, "pos_ids", "a 1-D integer array", f"{ids.dtype} {ids.shape}", raw=True)
        if offsets[0] != 0 or offsets[-1] != ids.size or np.any(np.diff(offsets) < 0):
            raise InputError.single(
                None, "pos_offsets", f"non-decreasing offsets from 0 to len(pos_ids)={ids.size}",
                f"{offsets[0]}..{offsets[-1]}", raw=True,
            )
        if ids.size and ids.min() < 0:
            raise InputError.single(None, "pos_ids", "collection row indices >= 0", int(ids.min()), raw=True)
        offsets = offsets.astype(np.int64)
        ids = ids.astype(np.int64)
        rows = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
        order = np.lexsort((ids, rows))
        rows, ids = rows[order], ids[order]
        keep = np.ones(ids.size, dtype=bool)
        keep[1:] = (rows[1:] != rows[:-1]) | (ids[1:] != ids[:-1])
        counts = np.bincount(rows[keep], minlength=offsets.size - 1)
        return cls(np.concatenate(([0], np.cumsum(counts))).astype(np.int64), ids[keep])

    @classmethod
    def from_lists(cls, positives: Sequence[Sequence[int]]) -> PositiveSets:
        counts = [len(p) for p in positives]
        offsets = np.concatenate(([0], np.cumsum(counts, dtype=np.int64)))
        flat = np.fromiter((i for p in positives for i in p), dtype=np.int64, count=int(offsets[-1]))
        return cls.from_csr(offsets, flat)

    @property
    def num_queries(self) -> int:
        return self.offsets.size - 1

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def slice(self, start: int, stop: int) -> PositiveSets:
        """Queries start..stop-1 (a cheap view: offsets are rebased, ids are not copied)."""
        lo, hi = self.offsets[start], self.offsets[stop]
        return PositiveSets(self.offsets[start : stop + 1] - lo, self.ids[lo:hi])

    def take(self, rows: np.ndarray) -> PositiveSets:
        """The queries at `rows`, in that order."""
        counts = self.counts[rows]
        offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        # Index of every kept id: its query's old start plus its place within the query.
        within = np.arange(offsets[-1]) - np.repeat(offsets[:-1], counts)
        return PositiveSets(offsets, self.ids[np.repeat(self.offsets[rows], counts) + within])

    def slot(self, t: int) -> np.ndarray:
        """The t-th positive of every query, NO_POSITIVE where a query has t or fewer."""
        has = self.counts > t
        column = np.full(self.num_queries, NO_POSITIVE, dtype=np.int64)
        column[has] = self.ids[self.offsets[:-1][has] + t]
        return column


def positive_mask(candidates: np.ndarray, positives: PositiveSets) -> np.ndarray:
    """(R, B) bool: which candidate entries are positives of their row's query.

    One vectorised comparison per positive *slot* (1st positive of every query,
    2nd, ...); from the 2nd slot on only the queries that have one are touched,
    so the work is proportional to the number of positives, not Q × max count.
    """
    mask = candidates == positives.slot(0)[:, None]
    counts = positives.counts
    for t in range(1, int(counts.max(initial=0))):
        rows = np.flatnonzero(counts > t)
        mask[rows] |= candidates[rows] == positives.slot(t)[rows, None]
    return mask
