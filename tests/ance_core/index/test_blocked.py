import numpy as np
import pytest

from ance_core.index.blocked import BlockedParams, blocked_search


def brute_force(q: np.ndarray, c: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference ranking: full score matrix, score descending then row ascending."""
    scores = q.astype(np.float64) @ c.astype(np.float64).T
    rows = np.broadcast_to(np.arange(c.shape[0]), scores.shape)
    order = np.lexsort((rows, -scores), axis=1)[:, :k]
    return np.take_along_axis(scores, order, 1).astype(np.float32), order


def integer_vectors(rng, n, d, low=-2, high=3):
    # Small integers: every dot product is exact in fp32 whatever the summation order,
    # and ties are everywhere, so the tie rule is tested, not just the happy path.
    return rng.integers(low, high, (n, d)).astype(np.float32)


PARAMS = [
    BlockedParams(),
    BlockedParams(query_batch=7, block=64, group=4, chunk_bytes=1, threads=2),  # many tiles and chunks
    BlockedParams(query_batch=32, block=256, group=8, dense_fraction=0.0, threads=1),  # always the dense path
    BlockedParams(query_batch=32, block=256, group=8, dense_fraction=1.0, threads=1),  # never the dense path
]


@pytest.mark.parametrize("params", PARAMS, ids=["default", "tiny-tiles", "dense", "sparse"])
@pytest.mark.parametrize("n_corpus,k", [(3000, 200), (700, 50), (150, 200), (1, 5)])
def test_exact_with_ties_broken_by_smaller_row(params, n_corpus, k):
    rng = np.random.default_rng(n_corpus + k)
    q, c = integer_vectors(rng, 45, 12), integer_vectors(rng, n_corpus, 12)
    scores, rows = blocked_search(q, c, k, params)
    ref_scores, ref_rows = brute_force(q, c, k)
    kk = min(k, n_corpus)
    assert scores.shape == rows.shape == (45, k) and scores.dtype == np.float32 and rows.dtype == np.int64
    assert np.array_equal(rows[:, :kk], ref_rows)
    assert np.array_equal(scores[:, :kk], ref_scores)
    assert (rows[:, kk:] == -1).all() and np.isneginf(scores[:, kk:]).all()


def test_float16_real_valued_vectors_match_brute_force_up_to_rounding():
    rng = np.random.default_rng(1)
    q = rng.standard_normal((64, 32)).astype(np.float16)
    c = rng.standard_normal((5000, 32)).astype(np.float16)
    scores, rows = blocked_search(q, c, 100, BlockedParams(block=1024))
    ref_scores, ref_rows = brute_force(q.astype(np.float32), c.astype(np.float32), 100)
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-5, atol=1e-5)
    assert (rows == ref_rows).mean() > 0.99  # only near-ties may swap places


def test_same_result_for_any_tiling_and_thread_count():
    rng = np.random.default_rng(2)
    q, c = integer_vectors(rng, 100, 16, -4, 5), integer_vectors(rng, 4000, 16, -4, 5)
    results = [blocked_search(q, c, 64, p) for p in PARAMS]
    for scores, rows in results[1:]:
        assert np.array_equal(rows, results[0][1]) and np.array_equal(scores, results[0][0])


def test_empty_corpus_gives_only_padding():
    scores, rows = blocked_search(np.ones((3, 4), np.float32), np.empty((0, 4), np.float32), 5)
    assert (rows == -1).all() and np.isneginf(scores).all()


def test_non_finite_corpus_is_refused():
    c = np.ones((10, 4), np.float32)
    c[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        blocked_search(np.ones((2, 4), np.float32), c, 3)


def test_progress_reports_every_query_once():
    seen = []
    rng = np.random.default_rng(3)
    blocked_search(integer_vectors(rng, 50, 8), integer_vectors(rng, 300, 8), 10,
                   BlockedParams(query_batch=16, block=64, group=4, chunk_bytes=1), progress=seen.append)
    assert sum(seen) == pytest.approx(50)  # fractions: one share per corpus chunk
