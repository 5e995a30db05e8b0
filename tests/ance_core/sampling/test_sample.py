"""sample_negatives on hand-made rankings: the study's strategies, both countings, edge cases, errors."""

from __future__ import annotations

import numpy as np
import pytest

from ance_core.config.schema import PercPosSegment, RandomSegment, SimANSSegment, TopSegment
from ance_core.errors import InputError
from ance_core.sampling import PositiveSets, refresh_seed, sample_negatives, study_segment

K = 200


def ranking_with_positive_at(*ranks: int | None) -> tuple[np.ndarray, PositiveSets]:
    """One query per rank: ids 1000*q + column, the positive placed at that raw rank (None: not retrieved)."""
    ids = np.array([[1000 * q + c for c in range(K)] for q in range(len(ranks))], dtype=np.int64)
    positives = [[1000 * q + r] if r is not None else [999_999] for q, r in enumerate(ranks)]
    return ids, PositiveSets.from_lists(positives)


def columns(result, q: int) -> list[int]:
    return result.neg_positions[q, : result.counts[q]].tolist()


def test_positive_free_top20_skips_the_positive_and_counts_ranks_after_removing_it():
    ids, positives = ranking_with_positive_at(5, None)
    result = sample_negatives(study_segment("top20"), ids, positives)
    assert columns(result, 0) == [c for c in range(21) if c != 5]
    assert result.neg_ranks[0].tolist() == list(range(20))
    assert columns(result, 1) == list(range(20))


def test_legacy_top20_reads_21_raw_entries_like_the_study_and_agrees_with_positive_free():
    ids, positives = ranking_with_positive_at(5, None, 20)
    legacy = sample_negatives(study_segment("top20", "legacy"), ids, positives)
    ours = sample_negatives(study_segment("top20"), ids, positives)
    np.testing.assert_array_equal(legacy.neg_ids, ours.neg_ids)
    assert legacy.neg_ranks[0].tolist() == [c for c in range(21) if c != 5]  # legacy ranks are raw columns


def test_bottom20_loses_one_when_the_positive_is_retrieved_in_both_countings():
    # Positive-free: 199 entries remain, so rank 199 does not exist. Legacy: the positive is inside [180,200).
    ids, positives = ranking_with_positive_at(5, 185, None)
    ours = sample_negatives(study_segment("bottom20"), ids, positives)
    legacy = sample_negatives(study_segment("bottom20", "legacy"), ids, positives)
    assert ours.counts.tolist() == [19, 19, 20]
    assert columns(ours, 0) == list(range(181, 200))  # ranks 180..198 sit one column later
    assert columns(ours, 1) == [c for c in range(180, 200) if c != 185]
    assert legacy.counts.tolist() == [20, 19, 20]
    assert columns(legacy, 0) == list(range(180, 200))


def test_legacy_top20_plus_bottom20_takes_21_and_19_without_a_positive_like_the_study():
    ids, positives = ranking_with_positive_at(None, 3)
    legacy = sample_negatives(study_segment("top20+bottom20", "legacy"), ids, positives)
    assert columns(legacy, 0) == list(range(21)) + list(range(180, 199))
    assert columns(legacy, 1) == [c for c in range(21) if c != 3] + list(range(180, 200))
    ours = sample_negatives(study_segment("top20+bottom20"), ids, positives)
    assert columns(ours, 0) == list(range(20)) + list(range(180, 200))
    assert columns(ours, 1) == [c for c in range(21) if c != 3] + list(range(181, 200))


def test_random20_draws_20_distinct_non_positives_from_the_top_200():
    ids, positives = ranking_with_positive_at(*range(0, 200, 4))
    for counting in ("positive_free", "legacy"):
        result = sample_negatives(study_segment("random20", counting), ids, positives, seed=3)
        assert (result.counts == 20).all()
        for q in range(ids.shape[0]):
            assert 4 * q not in columns(result, q)


def test_rows_crowded_with_positives_up_front_are_read_past_the_first_pass():
    # The first positive-free pass reads end + 8 columns; 12 positives there leave too few.
    ids = np.arange(K, dtype=np.int64)[None, :]
    positives = PositiveSets.from_lists([list(range(12))])
    result = sample_negatives(TopSegment(windows=[(0, 5)], n=5), ids, positives)
    assert columns(result, 0) == [12, 13, 14, 15, 16]


def test_faiss_padding_shortens_the_list_and_is_never_a_negative():
    ids = np.array([[7, 8, 9, -1, -1, -1]], dtype=np.int64)
    positives = PositiveSets.from_lists([[8]])
    for kind in ("top", "random"):
        segment = TopSegment(windows=[(0, 6)], n=5) if kind == "top" else RandomSegment(windows=[(0, 6)], n=5)
        result = sample_negatives(segment, ids, positives)
        assert sorted(result.negatives_of(0)) == [7, 9]


def test_repeated_ids_count_once():
    ids = np.array([[4, 4, 5, 4, 6, 5, 7]], dtype=np.int64)
    result = sample_negatives(TopSegment(windows=[(0, 7)], n=7), ids, PositiveSets.from_lists([[]]))
    assert result.negatives_of(0) == [4, 5, 6, 7]
    assert result.neg_ranks[0, :4].tolist() == [0, 1, 2, 3]
    assert columns(result, 0) == [0, 2, 4, 6]


def test_int32_candidate_ids_are_accepted():
    ids, positives = ranking_with_positive_at(2)
    result = sample_negatives(study_segment("top20"), ids.astype(np.int32), positives)
    assert result.neg_ids.dtype == np.int64 and result.counts[0] == 20


def test_refresh_seeds_differ_between_refreshes_and_repeat_for_the_same_one():
    seeds = [refresh_seed(7, r) for r in range(5)]
    assert len(set(seeds)) == 5
    assert seeds == [refresh_seed(7, r) for r in range(5)]
    assert refresh_seed(8, 0) != refresh_seed(7, 0)
    ids, positives = ranking_with_positive_at(*([None] * 50))
    segment = study_segment("random20")
    first = sample_negatives(segment, ids, positives, seed=seeds[0]).neg_ids
    again = sample_negatives(segment, ids, positives, seed=seeds[0]).neg_ids
    other = sample_negatives(segment, ids, positives, seed=seeds[1]).neg_ids
    assert first.tobytes() == again.tobytes()
    assert not np.array_equal(first, other)


def test_score_rules_mark_queries_without_a_positive_score():
    ids, positives = ranking_with_positive_at(0, 1)
    scores = np.tile(np.linspace(1, 0, K, dtype=np.float32), (2, 1))
    result = sample_negatives(
        SimANSSegment(windows=[(0, K)], n=10), ids, positives,
        candidate_scores=scores, positive_scores=np.array([0.9, np.nan]),
    )
    assert result.score_fallback.tolist() == [False, True]
    assert (result.counts == 10).all()


def test_perc_pos_drops_candidates_scoring_too_close_to_the_positive():
    ids, positives = ranking_with_positive_at(0)
    scores = np.linspace(1, 0, K, dtype=np.float32)[None, :]  # positive (column 0) scores 1.0
    result = sample_negatives(
        PercPosSegment(windows=[(0, K)], n=5, fraction=0.9), ids, positives,
        candidate_scores=scores, positive_scores=np.array([1.0]),
    )
    kept = scores[0, columns(result, 0)]
    assert (kept <= 0.9).all()
    assert columns(result, 0)[0] == int(np.argmax(scores[0] <= 0.9))  # the highest-scoring survivor


@pytest.mark.parametrize(
    "call, where",
    [
        (lambda p: sample_negatives(study_segment("top20"), np.zeros(5, np.int64), p), "candidate_ids"),
        (lambda p: sample_negatives(study_segment("top20"), np.full((1, 5), -3), p), "candidate_ids row 0"),
        (lambda p: sample_negatives(study_segment("top20"), np.zeros((2, 5), np.int64), p), "positives"),
        (lambda p: sample_negatives(SimANSSegment(windows=[(0, 5)]), np.zeros((1, 5), np.int64), p),
         "candidate_scores/positive_scores"),
        (lambda p: sample_negatives(
            SimANSSegment(windows=[(0, 5)]), np.arange(5)[None, :], p,
            candidate_scores=np.full((1, 5), np.nan), positive_scores=np.zeros(1)), "candidate_scores"),
    ],
)
def test_bad_inputs_raise_input_errors_naming_the_argument(call, where):
    with pytest.raises(InputError) as error:
        call(PositiveSets.from_lists([[1]]))
    assert error.value.problems[0].where == where


def test_bad_positive_offsets_are_rejected():
    with pytest.raises(InputError, match="pos_offsets"):
        PositiveSets.from_csr(np.array([0, 3, 2]), np.array([1, 2]))
    with pytest.raises(InputError, match="pos_ids"):
        PositiveSets.from_csr(np.array([0, 1]), np.array([-4]))


def test_ids_sharing_the_low_32_bits_of_a_positive_are_told_apart():
    # The samplers scan low 32 bits first; 5 + 2**32 looks like 5 there but is another passage.
    twin = 5 + 2**32
    ids = np.array([[twin, 5, 7], [7, twin, 8]], dtype=np.int64)
    result = sample_negatives(TopSegment(windows=[(0, 3)], n=3), ids, PositiveSets.from_lists([[5], [5]]))
    assert result.negatives_of(0) == [twin, 7]
    assert result.negatives_of(1) == [7, twin, 8]
