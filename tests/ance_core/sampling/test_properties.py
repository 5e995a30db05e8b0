"""Property-based tests: on random rankings, every sampler keeps its promises.

The rankings are drawn to be awkward on purpose: ids from a small range (so rows
repeat ids and positives land at any rank), several positives per query, rows
shorter than the windows, -1 padding at the end (what faiss returns) and in the
middle, windows past the end of the list, n larger than what a row can give.
Deterministic rules (top, bottom, perc_pos/top) must match the reference model
exactly; random rules must return a subset of the right size.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import ance_core.sampling.fast_top as fast_top
import ance_core.sampling.sample as sample_module
from ance_core.config.schema import BottomSegment, PercPosSegment, RandomSegment, SimANSSegment, TopSegment
from ance_core.sampling import PositiveSets, in_windows, sample_negatives
import sampling_reference as reference  # beside this file (pytest puts this folder on sys.path)

KINDS = ("top", "bottom", "random", "simans", "perc_pos_top", "perc_pos_random")


@st.composite
def windows_strategy(draw):
    cuts = sorted(draw(st.sets(st.integers(0, 40), min_size=2, max_size=6)))
    pairs = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2)]
    return pairs


@st.composite
def segment_strategy(draw):
    kind = draw(st.sampled_from(KINDS))
    common = dict(
        windows=draw(windows_strategy()),
        n=draw(st.integers(1, 12)),
        counting=draw(st.sampled_from(["positive_free", "legacy"])),
    )
    if kind == "top":
        return TopSegment(**common)
    if kind == "bottom":
        return BottomSegment(**common)
    if kind == "random":
        return RandomSegment(**common)
    if kind == "simans":
        return SimANSSegment(**common, a=draw(st.floats(0.1, 5)), b=draw(st.floats(-1, 1)))
    then = "top" if kind == "perc_pos_top" else "random"
    return PercPosSegment(**common, fraction=draw(st.floats(0.05, 1.0)), then=then)


@st.composite
def ranking_strategy(draw):
    """(candidate_ids, positive lists, candidate_scores, positive_scores).

    Hypothesis draws the shape of the problem (sizes, id range, padding, how many
    positives), which is what shrinks to a readable counterexample; the contents
    come from a numpy generator seeded by a drawn integer, which is ~10x faster
    than drawing every id through hypothesis.
    """
    queries = draw(st.integers(1, 6))
    top_k = draw(st.integers(0, 45))
    id_range = draw(st.integers(1, 60))  # small ranges force repeats and positives in the list
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))
    ids = rng.integers(0, id_range + 1, size=(queries, top_k))
    for q in range(queries):
        valid = draw(st.integers(0, top_k))  # faiss pads the tail with -1 when it finds fewer than K
        ids[q, valid:] = -1
        if top_k and draw(st.booleans()):  # and a -1 in the middle, which faiss never does
            ids[q, draw(st.integers(0, top_k - 1))] = -1
    counts = [draw(st.integers(0, 5)) for _ in range(queries)]
    positives = [rng.integers(0, id_range + 1, size=c) for c in counts]
    if draw(st.booleans()):  # ids past 2**32 that share their low 32 bits (the samplers scan those)
        sign_bit = draw(st.booleans())
        ids, positives = widen(ids, sign_bit), [widen(p, sign_bit) for p in positives]
    positives = [p.tolist() for p in positives]
    # Scores descend along a row, like a ranking; positive scores fall anywhere, some unknown.
    scores = np.sort(rng.normal(size=(queries, top_k)).astype(np.float32), axis=1)[:, ::-1].copy()
    positive_scores = rng.normal(size=queries)
    positive_scores[rng.random(queries) < 0.2] = np.nan
    return ids, positives, scores, positive_scores


def widen(ids: np.ndarray, sign_bit: bool) -> np.ndarray:
    """Map ids v to (v mod 7) + (v div 7)·2**32 (+ 2**31): equal ids stay equal, different
    ids share low bits, and with sign_bit the low bits read as negative int32."""
    wide = np.where(ids >= 0, ids % 7 + (ids // 7) * 2**32 + (2**31 if sign_bit else 0), -1)
    return wide.astype(np.int64)


def run(segment, ranking, seed=0):
    ids, positives, scores, positive_scores = ranking
    return sample_negatives(
        segment, ids, PositiveSets.from_lists(positives),
        candidate_scores=scores, positive_scores=positive_scores, seed=seed,
    )


@settings(max_examples=300, deadline=None)
@given(segment=segment_strategy(), ranking=ranking_strategy(), seed=st.integers(0, 2**32))
def test_every_sampler_keeps_its_promises(segment, ranking, seed):
    ids, positives, scores, positive_scores = ranking
    result = run(segment, ranking, seed)
    num_queries = ids.shape[0]
    assert result.neg_ids.shape == result.neg_ranks.shape == result.neg_positions.shape == (num_queries, segment.n)

    for q in range(num_queries):
        count = int(result.counts[q])
        negs = result.neg_ids[q, :count].tolist()
        ranks = result.neg_ranks[q, :count].tolist()
        columns = result.neg_positions[q, :count].tolist()
        assert (result.neg_ids[q, count:] == -1).all() and (result.neg_ranks[q, count:] == -1).all()
        assert min(negs, default=0) >= 0

        # Never a positive, never twice the same passage, the id really sits at that column.
        assert not set(negs) & set(positives[q])
        assert len(set(negs)) == len(negs)
        assert [int(ids[q, c]) for c in columns] == negs
        # Every rank inside the windows, in rank order.
        assert in_windows(np.array(ranks), segment.windows).all()
        assert ranks == sorted(ranks)

        allowed = reference.candidates(ids[q].tolist(), set(positives[q]), segment.windows, segment.counting)
        picked = list(zip(columns, ranks))
        assert set(picked) <= set(allowed), "chose an entry the segment does not allow"
        expected = expected_choice(segment, allowed, scores[q], positive_scores[q])
        if expected is not None:
            assert picked == expected
        else:  # random rules: any subset of the allowed ones, as many as there are up to n
            assert count == min(segment.n, len(pool(segment, allowed, scores[q], positive_scores[q])))


def pool(segment, allowed, row_scores, positive_score):
    if segment.kind != "perc_pos":
        return allowed
    threshold = reference.perc_pos_threshold(float(positive_score), segment.fraction)
    return [(c, r) for c, r in allowed if row_scores[c] <= threshold]


def is_deterministic(segment) -> bool:
    return segment.kind in ("top", "bottom") or (segment.kind == "perc_pos" and segment.then == "top")


def expected_choice(segment, allowed, row_scores, positive_score):
    """The exact answer for deterministic rules, None for random ones."""
    if segment.kind == "top":
        return allowed[: segment.n]
    if segment.kind == "bottom":
        return allowed[-segment.n :]
    if segment.kind == "perc_pos" and segment.then == "top":
        return pool(segment, allowed, row_scores, positive_score)[: segment.n]
    return None


@settings(max_examples=100, deadline=None)
@given(segment=segment_strategy(), ranking=ranking_strategy(), seed=st.integers(0, 2**32))
def test_chunking_does_not_change_deterministic_results(segment, ranking, seed):
    """Tiny chunks exercise chunk boundaries and the full-row second pass on every example."""
    whole = run(segment, ranking, seed)
    with mock.patch.object(sample_module, "CHUNK_ROWS", 2):
        chunked = run(segment, ranking, seed)
    if is_deterministic(segment):
        np.testing.assert_array_equal(whole.neg_ids, chunked.neg_ids)
    np.testing.assert_array_equal(whole.counts, chunked.counts)


@settings(max_examples=50, deadline=None)
@given(segment=segment_strategy(), ranking=ranking_strategy(), seed=st.integers(0, 2**32))
def test_same_seed_gives_byte_identical_results(segment, ranking, seed):
    first, second = run(segment, ranking, seed), run(segment, ranking, seed)
    for field in ("neg_ids", "neg_ranks", "neg_positions", "counts", "score_fallback"):
        assert getattr(first, field).tobytes() == getattr(second, field).tobytes()


# ---------------------------------------------------------------- fast paths give the general path's results

FIELDS = ("neg_ids", "neg_ranks", "neg_positions", "counts", "score_fallback")


@st.composite
def search_like_ranking_strategy(draw):
    """Rankings as a search returns them: distinct ids per row, -1 padding only at the end."""
    queries = draw(st.integers(1, 6))
    top_k = draw(st.integers(0, 45))
    id_range = top_k + draw(st.integers(0, 30))  # positives still land in the list often
    rng = np.random.default_rng(draw(st.integers(0, 2**32)))
    ids = np.stack([rng.permutation(id_range + 1)[:top_k] for _ in range(queries)]).astype(np.int64)
    ids = ids.reshape(queries, top_k)
    for q in range(queries):
        if draw(st.booleans()):  # padding in some rows only: rows without it take the fast paths
            ids[q, draw(st.integers(0, top_k)):] = -1
    counts = [draw(st.sampled_from([1, 1, 1, 0, 2, 3])) for _ in range(queries)]
    # Most positives are retrieved, at any column (the fast paths shift past them).
    positives = [
        np.where(rng.random(c) < 0.8, ids[q, rng.integers(0, max(top_k, 1), size=c)] if top_k else -1,
                 rng.integers(0, id_range + 1, size=c))
        for q, c in enumerate(counts)
    ]
    positives = [np.where(p >= 0, p, id_range) for p in positives]
    if draw(st.booleans()):
        sign_bit = draw(st.booleans())
        ids, positives = widen(ids, sign_bit), [widen(p, sign_bit) for p in positives]
    scores = np.sort(rng.normal(size=(queries, top_k)).astype(np.float32), axis=1)[:, ::-1].copy()
    positive_scores = rng.normal(size=queries)
    return ids, [p.tolist() for p in positives], scores, positive_scores


def assert_same(first, second):
    for field in FIELDS:
        assert getattr(first, field).tobytes() == getattr(second, field).tobytes(), field


@settings(max_examples=200, deadline=None)
@given(segment=segment_strategy(), ranking=search_like_ranking_strategy(), seed=st.integers(0, 2**32))
def test_unique_candidates_gives_the_checked_result_on_search_like_rows(segment, ranking, seed):
    ids, positives, scores, positive_scores = ranking
    checked = run(segment, ranking, seed)
    trusted = sample_negatives(
        segment, ids, PositiveSets.from_lists(positives),
        candidate_scores=scores, positive_scores=positive_scores, seed=seed, unique_candidates=True,
    )
    assert_same(checked, trusted)


@settings(max_examples=200, deadline=None)
@given(
    windows=windows_strategy(), n=st.integers(1, 12), counting=st.sampled_from(["positive_free", "legacy"]),
    awkward=ranking_strategy(), search_like=search_like_ranking_strategy(),
)
def test_top_fast_path_gives_the_general_path_result(windows, n, counting, awkward, search_like):
    """`top` rows go through fast_top.py unless they need the general path; forcing every row
    through the general path must not change a byte (awkward rows only without the promise)."""
    segment = TopSegment(windows=windows, n=n, counting=counting)
    for ids, positives, unique in [(*search_like[:2], True), (*search_like[:2], False), (*awkward[:2], False)]:
        fast = sample_negatives(segment, ids, PositiveSets.from_lists(positives), unique_candidates=unique)
        with mock.patch.object(sample_module.TopPlan, "build", return_value=None):
            general = sample_negatives(segment, ids, PositiveSets.from_lists(positives), unique_candidates=unique)
        assert_same(fast, general)
        with mock.patch.object(fast_top, "BLOCK_ROWS", 2):  # block boundaries inside a chunk
            blocked = sample_negatives(segment, ids, PositiveSets.from_lists(positives), unique_candidates=unique)
        assert_same(fast, blocked)
