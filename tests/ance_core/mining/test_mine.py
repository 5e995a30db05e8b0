import numpy as np

from ance_core.data import IdIndex
from ance_core.mining import mine, negative_records, negatives_stats, positive_scores, ranking_stats
from ance_core.sampling import PositiveSets, SampledNegatives
from ance_core.config.schema import TopSegment


def test_positive_scores_take_each_querys_best_positive():
    q = np.array([[1, 0], [0, 1], [1, 1]], np.float16)
    c = np.array([[2, 0], [0, 3], [1, 1]], np.float16)
    positives = PositiveSets.from_lists([[0, 1], [1], []])
    scores = positive_scores(q, c, positives)
    assert scores[:2].tolist() == [2.0, 3.0] and np.isnan(scores[2])


def test_ranking_stats_find_the_positive_rank():
    rows = np.array([[5, 3, 9], [1, 2, -1], [7, 8, 4]])
    positives = PositiveSets.from_lists([[3], [9], [4, 8]])
    stats = ranking_stats(rows, positives)
    assert stats["positive_in_topk"] == round(2 / 3, 6)
    assert stats["positive_rank"] == {"mean": 1.0, "median": 1.0}  # ranks 1 and 1 (best of 8 at 1, 4 at 2)


def test_negatives_stats_count_relevant_negatives():
    sampled = SampledNegatives(
        neg_ids=np.array([[4, 5], [6, -1]]), neg_ranks=np.array([[0, 3], [1, -1]], np.int32),
        neg_positions=np.zeros((2, 2), np.int32), counts=np.array([2, 1], np.int32),
        score_fallback=np.zeros(2, bool),
    )
    stats = negatives_stats(sampled, PositiveSets.from_lists([[5], [1]]), wanted=2)
    assert stats["qrels_overlap"] == 1 and stats["queries_short"] == 1
    assert stats["negative_rank"] == {"mean": round(4 / 3, 3), "median": 1.0, "min": 0, "max": 3}


def test_mine_and_records_end_to_end_on_vectors():
    rng = np.random.default_rng(0)
    corpus = rng.standard_normal((50, 8))
    corpus = (corpus / np.linalg.norm(corpus, axis=1, keepdims=True)).astype(np.float16)
    queries = corpus[[3, 7]]  # unit vectors: each query's best inner product is its own passage
    positives = PositiveSets.from_lists([[3], [7]])
    mined = mine(TopSegment(windows=[(0, 4)], n=4), 10, queries, corpus, positives, seed=0, show_progress=False)
    assert mined.ranking.rows[:, 0].tolist() == [3, 7]
    ids = IdIndex([f"p{i}" for i in range(50)])
    records = list(negative_records(["a", "b"], positives, mined.sampled, ids))
    assert [r["pos"] for r in records] == [["p3"], ["p7"]]
    assert records[0]["neg"] == ids.ids_of(mined.ranking.rows[0, 1:5]) and records[0]["neg_ranks"] == [0, 1, 2, 3]


def test_margin_stats_compare_each_sampled_negative_with_the_best_positive():
    from ance_core.mining import margin_stats

    scores = np.array([[0.9, 0.8, 0.3], [0.7, 0.6, 0.5], [0.4, 0.2, 0.1]], np.float32)
    sampled = SampledNegatives(
        neg_ids=np.array([[10, 11], [12, -1], [13, 14]]), neg_ranks=np.zeros((3, 2), np.int32),
        neg_positions=np.array([[0, 2], [1, -1], [1, 2]], np.int32), counts=np.array([2, 1, 2], np.int32),
        score_fallback=np.zeros(3, bool),
    )
    positive = np.array([0.85, 0.5, np.nan], np.float32)  # the third query has no positive: left out
    stats = margin_stats(scores, positive, sampled)
    margins = [0.85 - 0.9, 0.85 - 0.3, 0.5 - 0.6]
    assert stats["margin_mean"] == round(float(np.mean(np.float32(margins))), 5)
    assert stats["outscoring_share"] == round(2 / 3, 5)
    empty = SampledNegatives(np.full((1, 2), -1), np.zeros((1, 2), np.int32), np.full((1, 2), -1, np.int32),
                             np.zeros(1, np.int32), np.zeros(1, bool))
    assert margin_stats(scores[:1], positive[:1], empty)["outscoring_share"] is None
