"""sample_negatives: a segment spec plus a top-K ranking gives every query its negatives.

The flow for one chunk of queries:

  base entries   the whole row (positive-free) or the window entries (legacy)
  eligible list  base minus positives, -1 padding and repeated ids   (eligible.py)
  slots          the window ranks that exist for the row             (segments.py)
  rule           which slots become negatives                        (rules.py)
  back to ids    slot -> eligible index -> base index -> column -> id

Queries are processed in fixed chunks of CHUNK_ROWS to bound memory; every
step inside a chunk is one numpy operation over all its rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ance_core.config.schema import (
    BottomSegment,
    PercPosSegment,
    RandomSegment,
    SimANSSegment,
    TopSegment,
)
from ance_core.errors import InputError
from ance_core.sampling import rules
from ance_core.sampling.eligible import build_eligible
from ance_core.sampling.fast_top import TopPlan, sample_top_fast
from ance_core.sampling.positives import PositiveSets
from ance_core.sampling.segments import positive_free_prefix, window_columns, window_ranks

logger = logging.getLogger(__name__)

AnySegment = TopSegment | RandomSegment | BottomSegment | SimANSSegment | PercPosSegment

# Rows per chunk. Part of the random stream's definition (each chunk has its own
# generator), so changing it changes which random negatives a seed gives.
CHUNK_ROWS = 32768
# Mixed into every seed so sampler streams never coincide with other uses of the experiment seed.
SEED_DOMAIN = 0x53414D50  # "SAMP"
SCORED_KINDS = ("simans", "perc_pos")


@dataclass(frozen=True)
class SampledNegatives:
    """Negatives of Q queries, n columns each, -1 where a query has fewer (see `counts`)."""

    neg_ids: np.ndarray  # (Q, n) int64 candidate ids (collection rows)
    neg_ranks: np.ndarray  # (Q, n) int32 ranks in the segment's counting (positive-free or raw)
    neg_positions: np.ndarray  # (Q, n) int32 columns in candidate_ids, e.g. to look up scores
    counts: np.ndarray  # (Q,) int32 negatives per query
    score_fallback: np.ndarray  # (Q,) bool: simans/perc_pos could not use s_pos (NaN), see rules.py

    def negatives_of(self, query: int) -> list[int]:
        return self.neg_ids[query, : self.counts[query]].tolist()


def refresh_seed(seed: int, refresh: int) -> int:
    """The sampler seed of one refresh: refreshes differ, the same (seed, refresh) never does."""
    state = np.random.SeedSequence([SEED_DOMAIN, seed % 2**64, refresh]).generate_state(1, np.uint64)
    return int(state[0])


def sample_negatives(
    segment: AnySegment,
    candidate_ids: np.ndarray,
    positives: PositiveSets,
    *,
    candidate_scores: np.ndarray | None = None,
    positive_scores: np.ndarray | None = None,
    seed: int = 0,
    unique_candidates: bool = False,
) -> SampledNegatives:
    """Choose each query's negatives from its ranked candidates as `segment` says.

    candidate_ids: (Q, K) integer collection rows, best first, -1 padded (faiss).
    positives: each query's relevant rows; none of them is ever a negative.
    candidate_scores (Q, K) and positive_scores (Q,): needed by simans and perc_pos;
      positive_scores is NaN where the positive was not scored.
    seed: same inputs and seed give byte-identical results; use refresh_seed().
    unique_candidates: the caller promises rows as a search returns them (faiss,
      ance_core.index.search): no id twice in a row, -1 padding only after the last
      id. The repeated-id scan is then skipped (the result is the same on such rows;
      on rows that break the promise it is undefined). False checks every row.
    """
    ids = _check_candidates(candidate_ids)
    num_queries, top_k = ids.shape
    if positives.num_queries != num_queries:
        raise InputError.single(
            None, "positives", f"one entry per query ({num_queries})", positives.num_queries, raw=True
        )
    scores, pos_scores = _check_scores(segment, ids.shape, candidate_scores, positive_scores)
    plan = _Plan.for_segment(segment, top_k)
    out = _empty_result(num_queries, segment.n, segment.counting)

    if top_k == 0:  # nothing retrieved: every query gets no negative
        out.neg_ids.fill(-1), out.neg_ranks.fill(-1), out.neg_positions.fill(-1), out.counts.fill(0)
    for chunk, start in enumerate(range(0, num_queries if top_k else 0, CHUNK_ROWS)):
        stop = min(num_queries, start + CHUNK_ROWS)
        rng = np.random.default_rng(np.random.SeedSequence([SEED_DOMAIN, seed % 2**64], spawn_key=(chunk,)))
        rows = slice(start, stop)
        part = _Inputs(ids[rows], positives.slice(start, stop),
                       None if scores is None else scores[rows],
                       None if pos_scores is None else pos_scores[rows])
        _sample_chunk(plan, segment, part, rng, out, start, unique_candidates)

    if segment.kind in SCORED_KINDS:
        out.score_fallback[:] = np.isnan(pos_scores)
    _log_summary(segment, out)
    return out


@dataclass(frozen=True)
class _Plan:
    """What a segment means for a K-wide ranking.

    Two lookups turn a chosen slot into a raw column: slot -> eligible index
    (positive-free: the window ranks) and base index -> column (legacy: the window
    columns). Each table ends with a -1 sentinel, so that -1 (an empty slot) maps
    to -1 without a masking pass; None means the identity (no lookup at all).
    """

    counting: str
    slot_count: int
    slot_index: np.ndarray | None
    columns: np.ndarray | None
    first_pass_width: int  # positive-free: columns read before deciding a row needs all K
    ends: list[int] | None  # legacy: the base index of each window's last entry (padding check)
    top: TopPlan | None  # `top` rule: the fast path's fixed columns (fast_top.py)

    @classmethod
    def for_segment(cls, segment: AnySegment, top_k: int) -> _Plan:
        top = TopPlan.build(segment, top_k) if segment.kind == "top" else None
        if segment.counting == "legacy":
            columns = window_columns(segment.windows, top_k)
            sizes = [min(end, top_k) - start for start, end in segment.windows if start < top_k]
            return cls("legacy", columns.size, None, _lookup_table(columns), top_k,
                       (np.cumsum(sizes) - 1).tolist(), top)
        ranks = window_ranks(segment.windows)
        return cls("positive_free", ranks.size, _lookup_table(ranks), None,
                   positive_free_prefix(segment.windows, top_k), None, top)

    def available(self, eligible_length: np.ndarray) -> np.ndarray:
        """Slots whose eligible index exists, per row."""
        if self.slot_index is None:
            return np.minimum(eligible_length, self.slot_count)
        return np.searchsorted(self.slot_index[:-1], eligible_length)


def _lookup_table(values: np.ndarray) -> np.ndarray | None:
    if np.array_equal(values, np.arange(values.size)):
        return None
    return np.append(values, -1).astype(np.int32)


def _lookup(table: np.ndarray | None, values: np.ndarray) -> np.ndarray:
    return values if table is None else table[values]


@dataclass(frozen=True)
class _Inputs:
    ids: np.ndarray  # (R, K) C-contiguous
    positives: PositiveSets
    scores: np.ndarray | None
    positive_scores: np.ndarray | None

    def take(self, rows: np.ndarray) -> _Inputs:
        return _Inputs(self.ids[rows], self.positives.take(rows),
                       None if self.scores is None else self.scores[rows],
                       None if self.positive_scores is None else self.positive_scores[rows])


def _sample_chunk(
    plan: _Plan, segment: AnySegment, part: _Inputs, rng, out: SampledNegatives, start: int, unique: bool
) -> None:
    rows = slice(start, start + part.ids.shape[0])
    sink = _Sink(out.neg_ids[rows], out.neg_ranks[rows], out.neg_positions[rows], out.counts[rows])
    if plan.top is None:
        _sample_general(plan, segment, part, rng, sink, unique)
        return
    # `top`: most rows have at most one exclusion before their last pick (fast_top.py);
    # the others go the general way. The rule draws nothing, so the split changes nothing.
    slow = sample_top_fast(plan.top, part.ids, part.positives, unique, sink)
    if slow.size:
        again = part.take(slow)
        redo = _Sink.empty(slow.size, segment.n)
        _sample_general(plan, segment, again, rng, redo, unique)
        redo.copy_into(sink, slow)


def _sample_general(plan: _Plan, segment: AnySegment, part: _Inputs, rng, sink: _Sink, unique: bool) -> None:
    if plan.counting == "legacy":
        _sample_rows(plan, segment, part, _legacy_base(part.ids, segment.windows), rng, sink, unique, plan.ends)
        return
    width = plan.first_pass_width
    available = _sample_rows(plan, segment, part, part.ids[:, :width], rng, sink, unique)
    if width < part.ids.shape[1]:
        # Rows whose first pass ran out of eligible entries before the last window
        # rank: read them again in full (rare: it takes `margin` exclusions early on).
        short = np.flatnonzero(available < plan.slot_count)
        if short.size:
            again = part.take(short)
            redo = _Sink.empty(short.size, segment.n)
            _sample_rows(plan, segment, again, again.ids, rng, redo, unique)
            redo.copy_into(sink, short)


@dataclass(frozen=True)
class _Sink:
    """Where a pass writes its rows' results (views into the output, or scratch for a redo)."""

    ids: np.ndarray
    ranks: np.ndarray
    positions: np.ndarray
    counts: np.ndarray

    @classmethod
    def empty(cls, rows: int, n: int) -> _Sink:
        return cls(np.empty((rows, n), np.int64), np.empty((rows, n), np.int32),
                   np.empty((rows, n), np.int32), np.empty(rows, np.int32))

    def copy_into(self, target: _Sink, rows: np.ndarray) -> None:
        target.ids[rows], target.ranks[rows], target.positions[rows] = self.ids, self.ranks, self.positions
        target.counts[rows] = self.counts


def _sample_rows(plan: _Plan, segment: AnySegment, part: _Inputs, base_ids: np.ndarray, rng, sink: _Sink,
                 unique: bool, ends: list[int] | None = None):
    """Fill `sink` for these rows; return how many slots each row has available."""
    eligible = build_eligible(base_ids, part.positives, unique=unique, ends=ends)
    available = plan.available(eligible.length)

    def positions_of(slots: np.ndarray, into: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Slots -> (eligible index, raw column); -1 stays -1 through both lookups."""
        index = _lookup(plan.slot_index, slots)
        base = eligible.to_base(index)
        if plan.columns is None:
            return index, base
        return index, np.take(plan.columns, base, out=into)

    if segment.kind in SCORED_KINDS:
        chosen = _scored_rule(plan, segment, part, available, positions_of, rng)
        sink.counts[:] = (chosen >= 0).sum(axis=1)
    else:
        chosen = _plain_rule(segment, available, rng)
        sink.counts[:] = np.minimum(available, segment.n)
    index, positions = positions_of(chosen, into=sink.positions)
    if positions is not sink.positions:
        sink.positions[:] = positions
    sink.ranks[:] = positions if plan.counting == "legacy" else index
    _gather(part.ids, positions, sink.ids, complete=bool(sink.counts.min(initial=segment.n) == segment.n))
    return available


def _gather(ids: np.ndarray, positions: np.ndarray, into: np.ndarray, complete: bool) -> None:
    """into[r, j] = ids[r, positions[r, j]], or -1 where the position is -1 (none when `complete`)."""
    into[:] = _row_take(ids, positions)
    if not complete:
        np.putmask(into, positions < 0, -1)


def _row_take(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """values[r, positions[r, j]] for positions >= 0 (arbitrary values where -1). Flat indexing
    is ~2x faster than take_along_axis, and this runs on every output entry."""
    flat = np.add(positions, (np.arange(values.shape[0]) * values.shape[1])[:, None], dtype=np.int64)
    # mode="clip": no bounds check pass (a -1 of row 0 reads entry 0, an arbitrary value as documented).
    return np.take(values.reshape(-1), flat, mode="clip")


def _plain_rule(segment: AnySegment, available: np.ndarray, rng) -> np.ndarray:
    if segment.kind == "top":
        return rules.take_top(available, segment.n)
    if segment.kind == "bottom":
        return rules.take_bottom(available, segment.n)
    if segment.kind == "random":
        return rules.take_uniform(rng, available, segment.n)
    raise AssertionError(f"unhandled segment kind {segment.kind!r}")


def _scored_rule(plan: _Plan, segment, part: _Inputs, available, positions_of, rng) -> np.ndarray:
    """simans / perc_pos: look at the score of every available slot, then pick."""
    slots = np.arange(plan.slot_count, dtype=np.int32)
    present = slots < available[:, None]
    _, columns = positions_of(np.where(present, slots, -1))
    slot_scores = _row_take(part.scores, columns)
    if (np.isnan(slot_scores) & present).any():
        raise InputError.single(None, "candidate_scores", "a number for every candidate id >= 0", "NaN")
    if segment.kind == "simans":
        log_w = rules.simans_log_weights(slot_scores, part.positive_scores, segment.a, segment.b)
        np.putmask(log_w, ~present, -np.inf)
        return rules.take_weighted(rng, log_w, segment.n)
    keep = present & rules.perc_pos_keep(slot_scores, part.positive_scores, segment.fraction)
    if segment.then == "top":
        return rules.take_first_kept(keep, segment.n)
    return rules.take_weighted(rng, np.where(keep, np.float32(0), np.float32(-np.inf)), segment.n)


def _legacy_base(ids: np.ndarray, windows: list[tuple[int, int]]) -> np.ndarray:
    """The raw window entries side by side; slices rather than fancy indexing (5x faster)."""
    top_k = ids.shape[1]
    parts = [ids[:, start:min(end, top_k)] for start, end in windows if start < top_k]
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return ids[:, :0]
    return np.concatenate(parts, axis=1)


def _empty_result(num_queries: int, n: int, counting: str) -> SampledNegatives:
    # Every row is written by its chunk, so the arrays need no fill. In legacy counting a
    # negative's rank is its column: one array serves both (less fresh memory to fault in).
    positions = np.empty((num_queries, n), dtype=np.int32)
    return SampledNegatives(
        neg_ids=np.empty((num_queries, n), dtype=np.int64),
        neg_ranks=positions if counting == "legacy" else np.empty((num_queries, n), dtype=np.int32),
        neg_positions=positions,
        counts=np.empty(num_queries, dtype=np.int32),
        score_fallback=np.zeros(num_queries, dtype=bool),
    )


def _check_candidates(candidate_ids) -> np.ndarray:
    ids = np.asarray(candidate_ids)
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise InputError.single(
            None, "candidate_ids", "a 2-D integer array (queries × K)", f"{ids.dtype} {ids.shape}", raw=True
        )
    return np.ascontiguousarray(ids, dtype=np.int64)


def _check_scores(segment, shape, candidate_scores, positive_scores):
    if segment.kind not in SCORED_KINDS:
        return None, None
    if candidate_scores is None or positive_scores is None:
        raise InputError.single(
            None, "candidate_scores/positive_scores", f"both arrays for segment kind {segment.kind!r}", "None"
        )
    scores = np.asarray(candidate_scores)
    pos_scores = np.asarray(positive_scores, dtype=np.float64)
    if scores.shape != shape:
        raise InputError.single(None, "candidate_scores", f"shape {shape} like candidate_ids", scores.shape, raw=True)
    if pos_scores.shape != (shape[0],):
        raise InputError.single(None, "positive_scores", f"shape ({shape[0]},)", pos_scores.shape, raw=True)
    return scores, pos_scores


def _log_summary(segment: AnySegment, out: SampledNegatives) -> None:
    if out.counts.size == 0:
        return
    short = int((out.counts < segment.n).sum())
    logger.info(
        "sampled %s: %d queries, %.2f negatives per query, %d with fewer than %d",
        segment.describe(), out.counts.size, float(out.counts.mean()), short, segment.n,
    )
    fallback = int(out.score_fallback.sum())
    if fallback:
        logger.warning("%s: %d queries had no positive score (NaN); sampled without it", segment.kind, fallback)
