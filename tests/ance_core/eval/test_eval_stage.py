"""evaluate_checkpoint and `ance eval` on the tiny model and data: JSON, files, the embedding cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ance_core.cli import main as ance
from ance_core.eval import evaluate_checkpoint, evaluate_vectors
from ance_core.data import IdIndex


def test_evaluate_vectors_perfect_ranking():
    corpus = np.eye(4, dtype=np.float16)
    result = evaluate_vectors(["a", "b"], corpus[[2, 0]], IdIndex(["p0", "p1", "p2", "p3"]), corpus,
                              {"a": {"p2": 1}, "b": {"p0": 1}}, ["MRR@10", "R@1000"], show_progress=False)
    assert result.metrics == {"MRR@10": 1.0, "R@4": 1.0}
    assert result.capped == {"R@1000": "R@4"} and result.queries == 2


def test_second_evaluation_of_a_checkpoint_encodes_nothing(tiny_bert_dir, word_data, tmp_path, monkeypatch):
    import ance_core.encode.cache as cache
    from ance_core.data import resolve_dataset

    source = resolve_dataset(str(word_data))
    options = dict(split="dev", cache_root=tmp_path / "cache", show_progress=False)
    first = evaluate_checkpoint(str(tiny_bert_dir), source, **options)

    def no_encoding(*args, **kwargs):
        raise AssertionError("encoded again although the embeddings are cached")

    monkeypatch.setattr(cache, "embed", no_encoding)
    second = evaluate_checkpoint(str(tiny_bert_dir), source, **options)
    assert second.metrics == first.metrics
    assert set(first.metrics) == {"MRR@10", "nDCG@10", "R@100", "R@300"}  # 300 passages: R@1000 capped


def test_cli_json_is_one_object_on_stdout(tiny_bert_dir, word_data, tmp_path, capsys):
    run_file = tmp_path / "dev.run.tsv"
    code = ance(["eval", "--checkpoint", str(tiny_bert_dir), "--data", str(word_data), "--split", "dev", "--json",
                 "--cache-root", str(tmp_path / "cache"), "--run-file", str(run_file)])
    out = capsys.readouterr().out
    assert code == 0 and out.count("\n") == 1
    report = json.loads(out)
    assert {"MRR@10", "nDCG@10", "R@100", "R@300"} <= set(report)
    assert report["capped"]["R@1000"].startswith("R@300") and report["queries"] == 30
    assert report["run_file"] == str(run_file)
    lines = run_file.read_text().splitlines()
    assert len(lines) == 30 * 300 and lines[0].split()[3] == "1"


def test_cli_any_queries_and_qrels_files(tiny_bert_dir, word_data, tmp_path, capsys):
    queries = tmp_path / "some.tsv"
    queries.write_text("".join((word_data / "queries.train.tsv").read_text().splitlines(keepends=True)[:10]))
    qrels = word_data / "qrels.train.tsv"  # covers 120 queries: only the 10 in the file count
    code = ance(["eval", "--checkpoint", str(tiny_bert_dir), "--data", str(word_data), "--queries", str(queries),
                 "--qrels", str(qrels), "--json", "--metrics", "MRR@10", "R@50", "--cache-root", str(tmp_path / "c")])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["queries"] == 10 and set(report) >= {"MRR@10", "R@50"}
    assert (tmp_path / "c" / "runs").is_dir()  # the default run file lives under the cache


@pytest.mark.parametrize("argv, message", [
    (["--queries", "q.tsv"], "--queries/--qrels"),
    (["--split", "dev", "--metrics", "Recall100"], "--metrics"),
])
def test_cli_refuses_bad_options_before_loading_a_model(argv, message, word_data, tmp_path, capsys):
    code = ance(["eval", "--checkpoint", str(tmp_path / "no-model"), "--data", str(word_data), *argv])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == ""
    assert message in captured.err
