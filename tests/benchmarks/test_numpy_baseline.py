"""The vectorised numpy baseline gives what the study's loop gives, on rankings a search returns (distinct ids)."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.baselines.numpy_negatives import sample
from tests.benchmarks.test_study_baseline import study_loop

QUERIES, TOP_K, COLLECTION = 400, 200, 2_000


@pytest.fixture(scope="module")
def ranking():
    """Distinct ids per row, one positive per query at any rank (70%) or not retrieved."""
    rng = np.random.default_rng(1)
    ids = np.argsort(rng.random((QUERIES, COLLECTION)), axis=1)[:, :TOP_K]
    retrieved = rng.random(QUERIES) < 0.7
    positives = np.where(retrieved, ids[np.arange(QUERIES), rng.integers(0, TOP_K, QUERIES)], COLLECTION + 1)
    return ids, positives


@pytest.mark.parametrize("strategy", ["top20", "bottom20", "top20+bottom20"])
def test_numpy_gives_the_loops_negatives(ranking, strategy):
    ids, positives = ranking
    expected = study_loop(strategy, ids, positives)
    got = sample(strategy, ids, positives)
    for q in range(QUERIES):
        assert [x for x in got[q].tolist() if x >= 0] == [int(x) for x in expected[q]], f"query {q}"


def test_numpy_random20_draws_20_distinct_non_positives_of_the_row(ranking):
    ids, positives = ranking
    got = sample("random20", ids, positives, seed=3)
    assert got.shape == (QUERIES, 20)
    for q in range(QUERIES):
        row = got[q].tolist()
        assert len(set(row)) == 20 and set(row) <= set(ids[q].tolist()) - {int(positives[q])}
    assert not np.array_equal(got, sample("random20", ids, positives, seed=4))


def test_an_unknown_strategy_is_refused(ranking):
    with pytest.raises(ValueError, match="top20, bottom20"):
        sample("top30", *ranking)
