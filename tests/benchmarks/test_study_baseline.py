"""The study's per-query loop (benchmarks/baselines) and our `legacy` counting choose the same negatives.

This is what makes the benchmark a like-for-like comparison, and what `legacy`
promises: the study's choices, reproduced.
"""

from __future__ import annotations

import numpy as np
import pytest

from ance_core.sampling import PositiveSets, sample_negatives, study_segment
from benchmarks.baselines.study_negatives import generate_negative_passage_id, study_args

QUERIES, TOP_K, COLLECTION = 400, 200, 2_000


def study_loop(strategy: str, ids: np.ndarray, positives: np.ndarray) -> dict:
    negatives, _ = generate_negative_passage_id(
        study_args(strategy), np.arange(ids.shape[0]), np.arange(COLLECTION),
        {q: int(p) for q, p in enumerate(positives)}, ids, set(range(ids.shape[0])),
    )
    return negatives


@pytest.fixture(scope="module")
def ranking():
    """Rankings with some repeated ids (to compare how both drop them) and one positive per query
    (what the study's loader kept) at any rank, or not retrieved."""
    rng = np.random.default_rng(0)
    ids = rng.integers(0, COLLECTION, size=(QUERIES, TOP_K))
    retrieved = rng.random(QUERIES) < 0.7
    positives = np.where(retrieved, ids[np.arange(QUERIES), rng.integers(0, TOP_K, QUERIES)], COLLECTION + 1)
    return ids, positives


@pytest.mark.parametrize("strategy", ["top20", "bottom20", "top20+bottom20"])
def test_legacy_counting_reproduces_the_study_loop_exactly(ranking, strategy):
    ids, positives = ranking
    expected = study_loop(strategy, ids, positives)
    ours = sample_negatives(study_segment(strategy, "legacy"), ids, PositiveSets.from_csr(np.arange(QUERIES + 1), positives))
    assert any(len(set(row)) < TOP_K for row in ids.tolist())  # the rankings do repeat ids
    for q in range(QUERIES):
        assert ours.negatives_of(q) == [int(x) for x in expected[q]], f"query {q}"


def test_legacy_random20_draws_as_many_from_the_same_entries_as_the_study(ranking):
    ids, positives = ranking
    expected = study_loop("random20", ids, positives)
    ours = sample_negatives(study_segment("random20", "legacy"), ids,
                            PositiveSets.from_csr(np.arange(QUERIES + 1), positives), seed=1)
    for q in range(QUERIES):
        allowed = set(ids[q].tolist()) - {int(positives[q])}
        assert len(ours.negatives_of(q)) == len(expected[q]) == min(20, len(allowed))
        assert set(ours.negatives_of(q)) <= allowed
