import numpy as np
import pytest

from ance_core.index import choose_engine, search


def unit_vectors(rng, n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_cpu_flat_uses_the_blocked_search_and_others_use_faiss():
    assert choose_engine("flat") == "blocked"
    assert choose_engine("flat", "faiss") == "faiss"
    assert choose_engine("ivf") == choose_engine("hnsw") == "faiss"
    with pytest.raises(ValueError):
        choose_engine("ivf", "blocked")
    with pytest.raises(ValueError):
        choose_engine("annoy")


def test_faiss_flat_and_blocked_agree():
    rng = np.random.default_rng(0)
    q, c = unit_vectors(rng, 40, 24), unit_vectors(rng, 2000, 24)
    ours = search(q, c, 50, backend="blocked", show_progress=False)
    theirs = search(q, c, 50, backend="faiss", show_progress=False)
    assert ours.engine == "blocked-cpu" and theirs.engine == "faiss-flat-cpu"
    np.testing.assert_allclose(ours.scores, theirs.scores, rtol=1e-5, atol=1e-6)
    assert (ours.rows == theirs.rows).mean() > 0.99


@pytest.mark.parametrize("index", ["flat", "ivf", "hnsw"])
def test_every_index_pads_past_the_corpus_end(index):
    rng = np.random.default_rng(1)
    q, c = unit_vectors(rng, 5, 8), unit_vectors(rng, 30, 8)
    result = search(q, c, 40, index=index, show_progress=False)
    assert result.rows.shape == (5, 40)
    assert (result.rows[:, 30:] == -1).all() and np.isneginf(result.scores[:, 30:]).all()
    found = result.rows[result.rows >= 0]
    assert found.max() < 30
    # Best first; a query's own nearest passage is always found at this size.
    assert (np.diff(result.scores[:, :30], axis=1) <= 0).all()
    assert np.array_equal(result.rows[:, 0], (q @ c.T).argmax(1))


def test_approximate_indexes_find_most_of_the_exact_top_k():
    rng = np.random.default_rng(2)
    centers = unit_vectors(rng, 20, 16)
    c = centers[rng.integers(0, 20, 3000)] + 0.3 * rng.standard_normal((3000, 16)).astype(np.float32)
    q = centers[rng.integers(0, 20, 50)] + 0.3 * rng.standard_normal((50, 16)).astype(np.float32)
    exact = search(q, c, 20, show_progress=False).rows
    for index in ("ivf", "hnsw"):
        approx = search(q, c, 20, index=index, show_progress=False).rows
        recall = np.mean([len(set(a) & set(e)) / 20 for a, e in zip(approx, exact)])
        assert recall > 0.8, (index, recall)
