import pytest

import numpy as np

from ance_core.eval import compute_metrics, plan_metrics, read_run_file, run_from_ranking, write_run_file
from ance_core.eval.runfile import trec_run


def test_recall_beyond_the_corpus_is_capped_and_renamed():
    plan = plan_metrics(["MRR@10", "nDCG@10", "R@100", "R@1000"], corpus_size=150)
    assert plan.names == ["MRR@10", "nDCG@10", "R@100", "R@150"]
    assert plan.capped == {"R@1000": "R@150"}
    assert plan.depth == 150
    assert plan_metrics(["MRR@10", "R@100"], 10_000).depth == 100


def test_unknown_metric_names_are_refused():
    with pytest.raises(ValueError, match="MRR@10"):
        plan_metrics(["Recall100"], 10)


def test_metrics_follow_the_score_order_and_missing_queries_score_zero():
    qrels = {"q1": {"b": 1}, "q2": {"x": 1}, "q3": {"z": 1}}
    # q3 was not retrieved at all
    run = run_from_ranking(["q1", "q2"], [["a", "b", "c"], ["x", "y"]], [[3.0, 2.0, 1.0], [0.5, 0.25]])
    values = compute_metrics(plan_metrics(["MRR@10", "R@2", "P@1"], 3), run, qrels)
    assert values["MRR@10"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert values["R@2"] == pytest.approx(2 / 3)
    assert values["P@1"] == pytest.approx(1 / 3)


def test_run_file_round_trip(tmp_path):
    run = trec_run(["q1", "q2"], [["a", "b"], ["c"]], np.array([[2.5, 1.0], [0.5, -np.inf]]))
    path = write_run_file(tmp_path / "r.tsv", run)
    assert read_run_file(path) == {"q1": [("a", 1, 2.5), ("b", 2, 1.0)], "q2": [("c", 1, 0.5)]}


def test_ties_at_the_written_precision_go_in_trec_evals_order():
    # b and d tie exactly, c ties with them once rounded to 6 places: document id descending decides
    run = trec_run(["q"], [["b", "d", "c", "a"]], [[0.9, 0.9, 0.9000001, 0.5]])
    assert run == {"q": [("d", 0.9), ("c", 0.9), ("b", 0.9), ("a", 0.5)]}


def test_a_written_run_file_gives_our_metrics_under_ir_measures(tmp_path):
    """What a user gets from trec_eval's rules (ir_measures) on the file is exactly what we report."""
    import ir_measures

    from ance_core.data import IdIndex
    from ance_core.eval import evaluate_vectors

    rng = np.random.default_rng(3)
    base = rng.normal(size=(40, 8)).astype(np.float32)
    corpus = np.concatenate([base, base[:20]])  # passages 40..59 duplicate 0..19: exact score ties
    ids = IdIndex([f"p{i:02d}" for i in range(60)])
    queries = (base[:20] + 0.3 * rng.normal(size=(20, 8))).astype(np.float32)
    qrels = {f"q{i}": {f"p{i:02d}": 1} for i in range(20)}  # the positive's twin p{i+40} outranks it under trec_eval
    result = evaluate_vectors(list(qrels), queries, ids, corpus, qrels, ["MRR@10", "nDCG@10", "R@5"],
                              run_file=tmp_path / "dev.run.tsv", show_progress=False)
    measures = [ir_measures.RR @ 10, ir_measures.nDCG @ 10, ir_measures.R @ 5]
    by_tool = ir_measures.calc_aggregate(measures, qrels, ir_measures.read_trec_run(str(tmp_path / "dev.run.tsv")))
    assert {name: by_tool[m] for name, m in zip(["MRR@10", "nDCG@10", "R@5"], measures)} == result.metrics
    written = read_run_file(tmp_path / "dev.run.tsv")
    for qid, ranking in written.items():
        assert [rank for _, rank, _ in ranking] == list(range(1, len(ranking) + 1))
        keys = [(score, pid) for pid, _, score in ranking]
        assert keys == sorted(keys, reverse=True)  # score descending, then id descending: trec_eval's own sort
    assert result.metrics["MRR@10"] < 1.0  # the twins tie and the later id wins: the test has ties to break
