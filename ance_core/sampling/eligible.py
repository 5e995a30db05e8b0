"""The eligible list: a candidate row with positives, padding and repeated ids taken out.

The samplers work on a *base* sequence of candidate entries per query (the whole
row for positive-free counting, the window entries for legacy counting) and
need the map "i-th eligible entry -> its place in the base". Most rows only
lose their one positive, so the map is stored sparsely: the few skipped base
indices per row, sorted, from which base(i) follows by shifting i past every
skip at or before it. Rows that lose more (repeated ids, -1 padding in the
middle, many positives) get an explicit table instead; there are few of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ance_core.errors import InputError
from ance_core.sampling.positives import PositiveSets, positive_mask

# Skips kept per row in the sparse form; a row with more positives in its base
# is handled by the explicit table, which is exact whatever the number.
MAX_SPARSE_SKIPS = 4


@dataclass(frozen=True)
class EligibleList:
    """Per row: how many base entries are eligible, and where the i-th one sits."""

    length: np.ndarray  # (R,) eligible entries per row
    skips: np.ndarray  # (R, S) skipped base indices, ascending; `width` fills unused places
    skip_counts: np.ndarray  # (R,) skips per row
    table_rows: np.ndarray  # (D,) rows mapped by `table` instead of `skips`
    table: np.ndarray  # (D, B) base index of the i-th eligible entry, -1 past the end

    def to_base(self, index: np.ndarray) -> np.ndarray:
        """Base indices of eligible indices `index` (R, m), which must be < length; -1 stays -1."""
        # Shift past each skip at or before the running position (skips are >= 0, so -1 stays).
        base = index + (self.skips[:, :1] <= index) if self.skips.shape[1] else index.copy()
        for t in range(1, self.skips.shape[1]):
            rows = np.flatnonzero(self.skip_counts > t)
            base[rows] += self.skips[rows, t : t + 1] <= base[rows]
        if self.table_rows.size:
            picked = index[self.table_rows]
            mapped = np.take_along_axis(self.table, np.maximum(picked, 0), axis=1)
            base[self.table_rows] = np.where(picked >= 0, mapped, -1)
        return base


def build_eligible(
    base_ids: np.ndarray, positives: PositiveSets, *, unique: bool = False, ends: list[int] | None = None
) -> EligibleList:
    """Eligible entries of each row of `base_ids` (R, B): valid ids (>= 0), not a positive, first occurrence.

    unique: the caller promises what a search returns: no id twice in a row and -1
      padding only after the last id. Then no repeat scan runs, and only rows whose
      base entry at one of `ends` (default: the last; legacy passes each window's
      last) is -1 are checked for padding, exactly.
    """
    rows, width = base_ids.shape
    length = np.full(rows, width, dtype=np.int64)
    if rows == 0 or width == 0:
        empty = np.zeros(0, np.int64)
        return EligibleList(length, np.zeros((rows, 0), np.int32), np.zeros(rows, np.int64), empty,
                            np.zeros((0, width), np.int64))

    if unique:
        # No sort to share a copy with: compare the ids themselves, in place.
        skips, skip_counts, needs_table = _positive_skips(base_ids, base_ids, positives)
        tail = np.zeros(rows, dtype=bool)
        for end in [width - 1] if ends is None else ends:
            tail |= base_ids[:, end] < 0
        needs_table |= _repeats_and_padding(base_ids, np.flatnonzero(tail), length)
    else:
        # Both scans below read only the low 32 bits of each id: half the memory traffic.
        # Equal ids have equal low bits, so nothing is missed; ids that merely share low
        # bits only send their row to the exact table.
        low = np.ascontiguousarray(low_32_bits(base_ids))
        skips, skip_counts, needs_table = _positive_skips(base_ids, low, positives)
        low.sort(axis=1)  # in place: the positive scan above needed the original order
        # Sorted values are the cheap test for repeats. Here they are the low 32 bits, so
        # ids that merely share low bits, padding (-1), and ids whose low bits read as
        # negative make a row a suspect, which the exact int64 check then clears.
        suspects = np.flatnonzero((low[:, 1:] == low[:, :-1]).any(axis=1) | (low[:, 0] < 0))
        del low
        needs_table |= _repeats_and_padding(base_ids, suspects, length)
    length -= skip_counts

    table_rows = np.flatnonzero(needs_table)
    table = np.zeros((0, width), dtype=np.int64)
    if table_rows.size:
        table, length[table_rows] = _explicit_table(base_ids[table_rows], positives.take(table_rows))
        skips[table_rows] = width
        skip_counts[table_rows] = 0
    return EligibleList(length, skips, skip_counts, table_rows, table)


def low_32_bits(ids: np.ndarray) -> np.ndarray:
    """The low half of every int64 id as int32, read in place (a strided view, no arithmetic)."""
    halves = ids.view(np.int32)
    return halves[..., ::2] if np.little_endian else halves[..., 1::2]


def _positive_skips(
    base_ids: np.ndarray, low: np.ndarray, positives: PositiveSets
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each row's positives sit: (skips ascending, count, rows that need the exact table).

    `low` is what is scanned: the ids' low 32 bits (int32), or `base_ids` itself.

    A row goes to the table when it holds more than MAX_SPARSE_SKIPS positives or when a
    low-bits match is not the positive itself (a false match could hide the real one).
    Rows with repeated ids go to the table anyway, so elsewhere each positive occurs at
    most once and argmax finds its only place.
    """
    rows_total, width = base_ids.shape
    counts = positives.counts
    most = int(counts.max(initial=0))
    skips = np.full((rows_total, min(most, MAX_SPARSE_SKIPS)), width, dtype=np.int32)
    found = np.zeros(rows_total, dtype=np.int64)
    needs_table = np.zeros(rows_total, dtype=bool)
    for t in range(most):
        # The first positive of every query: whole arrays. Further ones: only the few rows that have them.
        rows = np.arange(rows_total) if t == 0 else np.flatnonzero(counts > t)
        wanted = positives.slot(t)[rows]
        if low is base_ids:  # exact ids, each at most once per row (unique): the hits are the places
            place = np.flatnonzero((base_ids if t == 0 else base_ids[rows]) == wanted[:, None])
            hit_rows, columns = np.divmod(place, width)
            hit_rows = rows[hit_rows]
            keep = found[hit_rows] < MAX_SPARSE_SKIPS
            needs_table[hit_rows[~keep]] = True
            hit_rows, columns = hit_rows[keep], columns[keep]
            skips[hit_rows, found[hit_rows]] = columns
            found[hit_rows] += 1
            continue
        hits = (low if t == 0 else low[rows]) == low_32_bits(wanted)[:, None]
        hit = hits.any(axis=1)
        columns = hits.argmax(axis=1)
        exact = base_ids[rows, columns] == wanted
        needs_table[rows[hit & ~exact]] = True
        keep = hit & exact & (found[rows] < MAX_SPARSE_SKIPS)
        needs_table[rows[hit & exact & ~keep]] = True
        rows, columns = rows[keep], columns[keep]
        skips[rows, found[rows]] = columns
        found[rows] += 1
    if skips.shape[1] > 1:
        skips.sort(axis=1)
    return skips, found, needs_table


def _repeats_and_padding(base_ids: np.ndarray, suspects: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Which rows need the exact table (an id occurs twice, or ids follow a -1 padding entry),
    checked exactly on the `suspects` only. Also shortens `length` to the valid prefix of padded rows.
    """
    irregular = np.zeros(base_ids.shape[0], dtype=bool)
    if suspects.size:
        ids = base_ids[suspects]
        ordered = np.sort(ids, axis=1)
        if ordered[:, 0].min() < -1:
            bad = int(suspects[np.flatnonzero(ordered[:, 0] < -1)[0]])
            raise InputError.single(
                None, f"candidate_ids row {bad}", "collection row indices >= 0, or -1 for padding",
                int(base_ids[bad].min()), raw=True,
            )
        # Repeated -1s are padding, not repeats.
        repeats = ((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)).any(axis=1)
        valid = ids >= 0
        padded = ~valid.all(axis=1)
        first_pad = np.where(padded, valid.argmin(axis=1), ids.shape[1])
        length[suspects] = first_pad
        irregular[suspects] = repeats | (valid.sum(axis=1) != first_pad)
    return irregular


def _explicit_table(base_ids: np.ndarray, positives: PositiveSets) -> tuple[np.ndarray, np.ndarray]:
    """Exact (table, length) for irregular rows: eligible base indices, left-aligned, -1 after."""
    eligible = (base_ids >= 0) & ~positive_mask(base_ids, positives) & first_occurrences(base_ids)
    order = np.argsort(~eligible, axis=1, kind="stable")  # eligible columns first, in base order
    length = eligible.sum(axis=1)
    table = np.where(np.arange(base_ids.shape[1]) < length[:, None], order, -1)
    return table, length


def first_occurrences(ids: np.ndarray) -> np.ndarray:
    """(R, B) bool: True where an id appears for the first time in its row (read left to right)."""
    order = np.argsort(ids, axis=1, kind="stable")  # equal ids keep their column order
    ordered = np.take_along_axis(ids, order, axis=1)
    first_in_sorted = np.ones(ids.shape, dtype=bool)
    first_in_sorted[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    first = np.empty(ids.shape, dtype=bool)
    np.put_along_axis(first, order, first_in_sorted, axis=1)
    return first
