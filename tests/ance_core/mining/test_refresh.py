"""refresh(): the negatives file of each study strategy, its stats, the query sample, the cache, dev metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ance_core.data import load_collection, load_qrels, load_queries
from ance_core.mining import refresh
from ance_core.sampling import in_windows, study_segment
from ance_core.data.negatives import is_complete, read_negatives, read_stats

STRATEGIES = {
    "top20": [(0, 20)],
    "bottom20": [(180, 200)],
    "top20+bottom20": [(0, 20), (180, 200)],
    "random20": [(0, 200)],
}


def reference_scores(experiment, word_data, split="train"):
    """qid -> (positive-free scores best first, {pid: score}), by brute force from our own encoder calls."""
    from ance_core.encode import embed
    from ance_core.model import load_encoder

    encoder = load_encoder(experiment.model.name, experiment.model)
    collection = load_collection(word_data / "collection.tsv")
    queries = load_queries(word_data / f"queries.{split}.tsv")
    p = embed(encoder, collection.texts, "passage", show_progress=False).astype(np.float64)
    q = embed(encoder, queries.texts, "query", show_progress=False).astype(np.float64)
    scores = q @ p.T
    qrels = load_qrels(word_data / f"qrels.{split}.tsv")
    out = {}
    for row, qid in enumerate(queries.ids.ids):
        by_pid = dict(zip(collection.ids.ids, scores[row].tolist()))
        for pid in qrels.relevant(qid):
            by_pid.pop(pid)
        out[qid] = (np.sort(np.array(list(by_pid.values())))[::-1], by_pid)
    return out


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_each_study_strategy_writes_negatives_inside_its_windows(strategy, make_experiment, word_data, tmp_path):
    segment = study_segment(strategy).model_dump()
    experiment = make_experiment(segment)
    result = refresh(experiment, experiment.model.name, tmp_path / "run", refresh=0, seed=0, evaluate=False,
                     show_progress=False)
    assert is_complete(result.negatives_path)
    records = read_negatives(result.negatives_path)
    qrels = load_qrels(word_data / "qrels.train.tsv")
    reference = reference_scores(experiment, word_data)
    n = experiment.ance.segment.n
    assert len(records) == 120
    for record in records:
        assert record["pos"] == qrels.relevant(record["qid"])
        assert not set(record["neg"]) & set(record["pos"])
        assert len(record["neg"]) == len(record["neg_ranks"]) == n == len(set(record["neg"]))
        ranks = np.array(record["neg_ranks"])
        assert in_windows(ranks, STRATEGIES[strategy]).all()
        # Each negative scores what the passage at its rank of the positive-free list scores
        # (up to float16 rounding: encoder batches differ, so near-ties may swap).
        ordered, by_pid = reference[record["qid"]]
        got = np.array([by_pid[pid] for pid in record["neg"]])
        np.testing.assert_allclose(got, ordered[ranks], atol=2e-3 * np.abs(ordered).max())
        if experiment.ance.segment.kind == "top":
            expected = [r for s, e in STRATEGIES[strategy] for r in range(s, e)][:n]
            assert sorted(record["neg_ranks"]) == expected
    stats = read_stats(result.negatives_path)
    assert stats["qrels_overlap"] == 0 and stats["lines"] == 120 and stats["queries"] == 120
    assert stats["negative_rank"]["min"] >= STRATEGIES[strategy][0][0]
    assert stats["negative_rank"]["max"] < STRATEGIES[strategy][-1][1]
    assert 0 <= stats["positive_in_topk"] <= 1 and stats["search"] == "blocked-cpu"
    assert {"encode_corpus", "encode_queries", "search", "sample"} <= set(stats["seconds"])


def test_query_fraction_samples_per_refresh_and_reruns_are_identical(make_experiment, tmp_path):
    experiment = make_experiment({"kind": "random", "windows": [[0, 200]], "n": 5}, query_fraction=0.25)
    run = tmp_path / "run"
    first = refresh(experiment, experiment.model.name, run, refresh=1, seed=3, evaluate=False, show_progress=False)
    second = refresh(experiment, experiment.model.name, run, refresh=2, seed=3, evaluate=False, show_progress=False)
    qids1 = [r["qid"] for r in read_negatives(first.negatives_path)]
    qids2 = [r["qid"] for r in read_negatives(second.negatives_path)]
    assert len(qids1) == len(qids2) == 30 and qids1 != qids2
    again = refresh(experiment, experiment.model.name, tmp_path / "other", refresh=1, seed=3, evaluate=False,
                    show_progress=False)
    assert again.negatives_path.read_bytes() == first.negatives_path.read_bytes()


def test_refresh_evaluates_dev_and_reads_as_its_metrics(make_experiment, tmp_path):
    experiment = make_experiment({"kind": "top", "windows": [[0, 10]], "n": 10})
    result = refresh(experiment, experiment.model.name, tmp_path / "run", refresh=0, seed=0, show_progress=False)
    assert set(dict(result)) == {"MRR@10", "nDCG@10", "R@100"}
    assert all(0.0 <= v <= 1.0 for v in result.values())
    saved = json.loads(result.eval_path.read_text())
    assert saved["MRR@10"] == pytest.approx(result["MRR@10"], abs=1e-6) and saved["queries"] == 30
    run_file = tmp_path / "run" / "eval" / "refresh-0.run.tsv"
    assert len(run_file.read_text().splitlines()) == 30 * 100
    stats = result.stats  # the resource and margin analyses of the report read these
    assert stats["memory"]["peak_rss_mib"] > 0 and 0.0 <= stats["outscoring_share"] <= 1.0
    assert stats["margin_mean"] is not None


def test_a_second_refresh_with_the_same_checkpoint_encodes_nothing(make_experiment, tmp_path, monkeypatch):
    import ance_core.encode.cache as cache

    experiment = make_experiment({"kind": "top", "windows": [[0, 5]], "n": 5})
    first = refresh(experiment, experiment.model.name, tmp_path / "run", refresh=0, seed=0, show_progress=False)

    def no_encoding(*args, **kwargs):
        raise AssertionError("encoded again although the embeddings are cached")

    monkeypatch.setattr(cache, "embed", no_encoding)
    second = refresh(experiment, experiment.model.name, tmp_path / "run2", refresh=0, seed=0, show_progress=False)
    assert second.negatives_path.read_bytes() == first.negatives_path.read_bytes()
    assert dict(second) == dict(first)


def test_a_quantized_refresh_quantizes_the_checkpoint_once(make_experiment, tmp_path, monkeypatch):
    """Passages, train queries and dev queries are encoded by one int8 copy, not one copy each."""
    import torch.ao.quantization as quantization

    calls = []
    real = quantization.quantize_dynamic

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(quantization, "quantize_dynamic", counted)
    experiment = make_experiment({"kind": "top", "windows": [[0, 5]], "n": 5},
                                 encode={"batch_size": 64, "quantize_cpu": True})
    result = refresh(experiment, experiment.model.name, tmp_path / "run", refresh=0, seed=0, show_progress=False)
    assert result.negatives_path.exists()
    assert len(calls) == 1  # one shared-weights backbone, quantized once


def test_refresh0_of_another_strategy_reads_the_ranking_and_only_samples(make_experiment, tmp_path, monkeypatch):
    """What the refresh0 job shares: the first strategy ranks refresh 0; the next one samples from that ranking."""
    import ance_core.mining.rankings as rankings

    top = make_experiment({"kind": "top", "windows": [[0, 5]], "n": 5})
    first = refresh(top, top.model.name, tmp_path / "top", refresh=0, seed=0, show_progress=False)
    assert not first.stats["search"].endswith("(cached)")
    assert len(list((tmp_path / "runs" / "_cache" / "rankings").glob("*/COMPLETE"))) == 1

    def no_search(*args, **kwargs):
        raise AssertionError("ranked again although refresh 0's ranking is cached")

    monkeypatch.setattr(rankings, "search", no_search)
    bottom = make_experiment({"kind": "top", "windows": [[10, 15]], "n": 5})
    second = refresh(bottom, bottom.model.name, tmp_path / "bottom", refresh=0, seed=0, show_progress=False)
    assert second.stats["search"].endswith("(cached)")
    assert second.stats["negative_rank"]["mean"] > first.stats["negative_rank"]["mean"]  # its own segment, same ranking
    later = refresh(bottom, bottom.model.name, tmp_path / "bottom", refresh=1, seed=0, show_progress=False)
    assert not later.stats["search"].endswith("(cached)")  # later refreshes rank with their own checkpoint ...
    assert len(list((tmp_path / "runs" / "_cache" / "rankings").glob("*/COMPLETE"))) == 1  # ... and keep nothing


def test_the_ranking_cache_gives_what_the_search_gives_and_is_keyed_by_the_vectors(tmp_path):
    from ance_core.index import search
    from ance_core.mining.rankings import cached_search

    rng = np.random.default_rng(0)
    queries, corpus = rng.standard_normal((7, 16)).astype(np.float32), rng.standard_normal((50, 16)).astype(np.float16)
    direct = search(queries, corpus, 10, show_progress=False)
    cached = cached_search(tmp_path, queries, corpus, 10, show_progress=False)
    again = cached_search(tmp_path, queries, corpus, 10, show_progress=False)
    assert np.array_equal(direct.rows, cached.rows) and np.array_equal(cached.rows, again.rows)
    assert np.allclose(direct.scores, again.scores) and again.engine.endswith("(cached)")
    other = cached_search(tmp_path, queries[:3], corpus, 10, show_progress=False)
    assert not other.engine.endswith("(cached)") and other.rows.shape == (3, 10)
    assert len(list((tmp_path / "rankings").glob("*/COMPLETE"))) == 2


def test_mining_in_int8_never_makes_the_reported_evaluation(make_experiment, tmp_path):
    """quantize_cpu mines with the int8 copy; the eval event and run file come from the model as trained."""
    from ance_core.data import resolve_dataset
    from ance_core.encode import embed_collection, embed_file
    from ance_core.eval import evaluate_checkpoint, evaluate_vectors, judged_qrels
    from ance_core.model import load_encoder

    experiment = make_experiment({"kind": "top", "windows": [[0, 10]], "n": 10}, encode={"batch_size": 64, "quantize_cpu": True})
    result = refresh(experiment, experiment.model.name, tmp_path / "run", refresh=0, seed=0, show_progress=False)
    assert result.stats["precision"] == "int8"
    saved = json.loads(result.eval_path.read_text())
    assert saved["precision"] == "fp32" and saved["qrels_file"] == "qrels.dev.tsv"

    source = resolve_dataset(experiment.data.dataset)
    exact = evaluate_checkpoint(experiment.model.name, source, split="dev", metrics=experiment.eval.metrics,
                                cache_root=tmp_path / "exact-cache", model_cfg=experiment.model,
                                run_file=tmp_path / "exact.run.tsv", show_progress=False)
    assert dict(result) == exact.metrics

    def lines(path):  # the run name differs; the ranking and the scores must not
        return [line.rsplit(" ", 1)[0] for line in path.read_text().splitlines()]

    written = tmp_path / "run" / "eval" / "refresh-0.run.tsv"
    assert lines(written) == lines(tmp_path / "exact.run.tsv")
    # and the int8 copy would have written another file: this test can tell the two apart
    encoder = load_encoder(experiment.model.name, experiment.model)
    options = dict(cache_root=tmp_path / "int8-cache", quantize=True, show_progress=False)
    collection_ids, corpus = embed_collection(encoder, source, **options)
    query_ids, queries = embed_file(encoder, source.queries("dev"), "query", **options)
    judged = judged_qrels(query_ids, load_qrels(source.qrels("dev")), collection_ids)
    evaluate_vectors(list(judged), queries[query_ids.rows(list(judged))], collection_ids, corpus, judged,
                     experiment.eval.metrics, run_file=tmp_path / "int8.run.tsv", show_progress=False)
    assert lines(tmp_path / "int8.run.tsv") != lines(written)
