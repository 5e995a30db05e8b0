"""The random rules draw from the right distributions (fixed seeds: these cannot flake)."""

from __future__ import annotations

from itertools import combinations

import numpy as np

from ance_core.config.schema import RandomSegment, SimANSSegment
from ance_core.sampling import PositiveSets, sample_negatives
from ance_core.sampling.rules import take_uniform, take_weighted

TRIALS = 40_000


def chi_square(observed: np.ndarray, expected: np.ndarray) -> float:
    return float(((observed - expected) ** 2 / expected).sum())


def test_floyd_gives_every_subset_the_same_chance():
    chosen = take_uniform(np.random.default_rng(0), np.full(TRIALS, 6), 2)
    subsets = {pair: i for i, pair in enumerate(combinations(range(6), 2))}
    counts = np.bincount([subsets[tuple(row)] for row in chosen.tolist()], minlength=len(subsets))
    # 14 degrees of freedom: the 99.9% quantile is 36.1; a biased draw lands far above.
    assert chi_square(counts, np.full(len(subsets), TRIALS / len(subsets))) < 36.1


def test_rows_with_fewer_slots_than_n_take_all_of_them():
    chosen = take_uniform(np.random.default_rng(0), np.array([0, 1, 3, 9]), 3)
    assert chosen[:3].tolist() == [[-1, -1, -1], [0, -1, -1], [0, 1, 2]]
    assert len(set(chosen[3].tolist())) == 3


def test_gumbel_top_one_follows_the_weights():
    weights = np.array([1.0, 2.0, 3.0, 4.0])
    log_w = np.tile(np.log(weights), (TRIALS, 1))
    first = take_weighted(np.random.default_rng(1), log_w, 1)[:, 0]
    counts = np.bincount(first, minlength=4)
    assert chi_square(counts, TRIALS * weights / weights.sum()) < 16.3  # 3 dof, 99.9%


def test_weighted_never_picks_impossible_slots():
    log_w = np.tile([0.0, -np.inf, 0.0, -np.inf, 0.0], (500, 1))
    chosen = take_weighted(np.random.default_rng(2), log_w, 4)
    assert set(chosen[:, :3].ravel().tolist()) == {0, 2, 4}
    assert (chosen[:, 3] == -1).all()


def test_random_segment_is_uniform_over_the_positive_free_list():
    # Row: positive at column 1, a repeat at column 3: the eligible list is columns 0, 2, 4, 5.
    row = np.array([10, 11, 12, 10, 13, 14])
    ids = np.tile(row, (TRIALS, 1))
    positives = PositiveSets.from_csr(np.arange(TRIALS + 1), np.full(TRIALS, 11))
    result = sample_negatives(RandomSegment(windows=[(0, 6)], n=1), ids, positives, seed=5)
    counts = np.bincount(result.neg_positions[:, 0], minlength=6)
    assert counts[1] == counts[3] == 0
    assert chi_square(counts[[0, 2, 4, 5]], np.full(4, TRIALS / 4)) < 16.3


def test_simans_prefers_negatives_scored_near_the_positive():
    ids = np.tile(np.arange(5), (TRIALS, 1))
    scores = np.tile(np.array([0.9, 0.8, 0.5, 0.2, 0.0], dtype=np.float32), (TRIALS, 1))
    positives = PositiveSets.from_csr(np.arange(TRIALS + 1), np.full(TRIALS, 99))
    segment = SimANSSegment(windows=[(0, 5)], n=1, a=4.0, b=0.0)
    result = sample_negatives(
        segment, ids, positives, candidate_scores=scores, positive_scores=np.full(TRIALS, 0.5), seed=9
    )
    weights = np.exp(-4.0 * (scores[0].astype(np.float64) - 0.5) ** 2)
    counts = np.bincount(result.neg_positions[:, 0], minlength=5)
    assert chi_square(counts, TRIALS * weights / weights.sum()) < 18.5  # 4 dof, 99.9%


def test_an_exponential_draw_of_zero_still_counts_as_a_pick():
    class ZeroDraws:  # the extreme draw the float32 exponential can return
        def standard_exponential(self, size, dtype):
            return np.zeros(size, dtype=dtype)

    chosen = take_weighted(ZeroDraws(), np.zeros((2, 5)), 3)
    assert (chosen >= 0).all()
