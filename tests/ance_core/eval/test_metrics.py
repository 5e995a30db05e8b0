import pytest

from ance_core.eval import compute_metrics, plan_metrics, read_run_file, run_from_ranking, write_run_file


def test_recall_beyond_the_corpus_is_capped_and_renamed():
    plan = plan_metrics(["MRR@10", "nDCG@10", "R@100", "R@1000"], corpus_size=150)
    assert plan.names == ["MRR@10", "nDCG@10", "R@100", "R@150"]
    assert plan.capped == {"R@1000": "R@150"}
    assert plan.depth == 150
    assert plan_metrics(["MRR@10", "R@100"], 10_000).depth == 100


def test_unknown_metric_names_are_refused():
    with pytest.raises(ValueError, match="MRR@10"):
        plan_metrics(["Recall100"], 10)


def test_metrics_follow_our_rank_order_and_missing_queries_score_zero():
    qrels = {"q1": {"b": 1}, "q2": {"x": 1}, "q3": {"z": 1}}
    run = run_from_ranking(["q1", "q2"], [["a", "b", "c"], ["x", "y"]])  # q3 was not retrieved at all
    values = compute_metrics(plan_metrics(["MRR@10", "R@2", "P@1"], 3), run, qrels)
    assert values["MRR@10"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert values["R@2"] == pytest.approx(2 / 3)
    assert values["P@1"] == pytest.approx(1 / 3)


def test_run_file_round_trip(tmp_path):
    import numpy as np

    path = write_run_file(tmp_path / "r.tsv", ["q1", "q2"], [["a", "b"], ["c"]], np.array([[2.5, 1.0], [0.5, -np.inf]]))
    assert read_run_file(path) == {"q1": [("a", 1, 2.5), ("b", 2, 1.0)], "q2": [("c", 1, 0.5)]}
