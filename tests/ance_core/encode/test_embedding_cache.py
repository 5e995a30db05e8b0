"""Embedding cache and shards: reuse without re-encoding, invalidation, shards merge to the whole."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from ance_core.config.schema import ModelConfig
from ance_core.data.layout import resolve_dataset
from ance_core.encode import cache as cache_module
from ance_core.encode import embed, embed_collection, embed_queries, load_embeddings
from ance_core.encode.shards import shard_dir
from ance_core.errors import InputError, StageError
from ance_core.model import load_encoder, save_encoder
from helpers.tiny_models import TINY_TEXTS, write_tiny_collection


@pytest.fixture
def source(tmp_path):
    data = tmp_path / "data"
    write_tiny_collection(data)
    (data / "queries.dev.tsv").write_text("q1\tshell tools\nq2\tjson parser library\n")
    return resolve_dataset(str(data))


@pytest.fixture
def encoder(tiny_bert_dir):
    return load_encoder(str(tiny_bert_dir), ModelConfig(passage_max_len=20))


class CountingEmbed:
    def __init__(self):
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return embed(*args, **kwargs)


def test_second_call_reads_the_cache(encoder, source, tmp_path, monkeypatch):
    spy = CountingEmbed()
    monkeypatch.setattr(cache_module, "embed", spy)
    ids, first = embed_collection(encoder, source, tmp_path / "cache", show_progress=False)
    assert spy.calls == 1 and ids.ids[0] == "100" and first.shape == (len(TINY_TEXTS), encoder.dim)
    ids2, second = embed_collection(encoder, source, tmp_path / "cache", show_progress=False)
    assert spy.calls == 1
    assert ids2.ids == ids.ids and np.array_equal(first, second)
    # A fresh load of the same model has the same fingerprint: still no re-encode.
    embed_collection(load_encoder(encoder.source, ModelConfig(passage_max_len=20)), source, tmp_path / "cache",
                     show_progress=False)
    assert spy.calls == 1
    expected = embed(encoder, TINY_TEXTS, "passage", show_progress=False)
    np.testing.assert_allclose(first.astype(np.float32), expected.astype(np.float32), atol=2e-3)


def test_queries_are_cached_per_split(encoder, source, tmp_path, monkeypatch):
    spy = CountingEmbed()
    monkeypatch.setattr(cache_module, "embed", spy)
    ids, vectors = embed_queries(encoder, source, "dev", tmp_path / "cache", show_progress=False)
    embed_queries(encoder, source, "dev", tmp_path / "cache", show_progress=False)
    assert ids.ids == ["q1", "q2"] and vectors.shape == (2, encoder.dim) and spy.calls == 1


def test_changes_that_must_re_encode(encoder, source, tmp_path, monkeypatch):
    spy = CountingEmbed()
    monkeypatch.setattr(cache_module, "embed", spy)
    root = tmp_path / "cache"
    embed_collection(encoder, source, root, show_progress=False)
    embed_collection(encoder, source, root, max_length=8, show_progress=False)
    assert spy.calls == 2
    embed_collection(encoder, source, root, precision="bf16", show_progress=False)
    assert spy.calls == 3
    embed_collection(encoder, source, root, quantize=True, show_progress=False)
    assert spy.calls == 4
    write_tiny_collection(source.root, TINY_TEXTS[:5])
    ids, vectors = embed_collection(encoder, source, root, show_progress=False)
    assert spy.calls == 5 and len(ids) == 5 and len(vectors) == 5


def test_a_trained_unsaved_encoder_bypasses_the_cache(encoder, source, tmp_path, caplog):
    root = tmp_path / "cache"
    _, before = embed_collection(encoder, source, root, show_progress=False)
    with torch.no_grad():
        for p in encoder.parameters():
            p.mul_(1.1)
    with caplog.at_level(logging.WARNING):
        _, after = embed_collection(encoder, source, root, show_progress=False)
    assert "without the cache" in caplog.text
    assert not np.allclose(before, after)
    save_encoder(encoder, tmp_path / "ckpt")  # saving gives the new weights their own key
    _, cached = embed_collection(encoder, source, root, show_progress=False)
    np.testing.assert_array_equal(cached, after)


def _run_stage(argv):
    from ance_core.cli import main

    return main(["encode", *argv])


def test_stage_shards_merge_to_the_unsharded_result(tiny_bert_dir, source, tmp_path):
    common = ["--checkpoint", str(tiny_bert_dir), "--data", str(source.root), "--collection",
              "--batch-size", "3", "--cache-root", str(tmp_path / "cache")]
    assert _run_stage([*common, "--out", str(tmp_path / "whole")]) == 0
    for i in range(3):
        assert _run_stage([*common, "--out", str(tmp_path / "sharded"), "--shard", f"{i}/3"]) == 0
    ids, whole = load_embeddings(tmp_path / "whole")
    sids, sharded = load_embeddings(tmp_path / "sharded")
    assert sids.ids == ids.ids == [str(100 + i) for i in range(len(TINY_TEXTS))]
    np.testing.assert_allclose(sharded.astype(np.float32), whole.astype(np.float32), atol=2e-3)


def test_stage_skips_a_complete_shard_and_merge_names_a_missing_one(tiny_bert_dir, source, tmp_path):
    common = ["--checkpoint", str(tiny_bert_dir), "--data", str(source.root), "--split", "dev",
              "--out", str(tmp_path / "q"), "--cache-root", str(tmp_path / "cache")]
    assert _run_stage([*common, "--shard", "1/2"]) == 0
    with pytest.raises(StageError, match="shard 0 of 2 is missing"):
        load_embeddings(tmp_path / "q")
    written = shard_dir(tmp_path / "q", 1, 2) / "embeddings.npy"
    stamp = written.stat().st_mtime_ns
    assert _run_stage([*common, "--shard", "1/2"]) == 0
    assert written.stat().st_mtime_ns == stamp  # not rewritten
    assert _run_stage([*common, "--shard", "0/2"]) == 0
    ids, vectors = load_embeddings(tmp_path / "q")
    assert ids.ids == ["q1", "q2"] and vectors.shape == (2, 32)


def test_shards_of_another_encoder_do_not_mix(tiny_bert_dir, source, tmp_path):
    base = ["--data", str(source.root), "--split", "dev", "--out", str(tmp_path / "q"),
            "--cache-root", str(tmp_path / "cache")]
    assert _run_stage(["--checkpoint", str(tiny_bert_dir), *base, "--shard", "0/2"]) == 0
    encoder = load_encoder(str(tiny_bert_dir), ModelConfig(pooling="mean"))
    save_encoder(encoder, tmp_path / "mean")
    assert _run_stage(["--checkpoint", str(tmp_path / "mean"), *base, "--shard", "1/2"]) == 0
    with pytest.raises(StageError, match="was made with"):
        load_embeddings(tmp_path / "q")


def test_stage_input_errors_exit_2(tiny_bert_dir, source, tmp_path):
    base = ["--checkpoint", str(tiny_bert_dir), "--out", str(tmp_path / "o")]
    assert _run_stage([*base, "--data", str(source.root), "--collection", "--shard", "2/2"]) == 2
    assert _run_stage([*base, "--data", str(tmp_path / "nowhere"), "--collection"]) == 2
    assert _run_stage([*base, "--data", str(source.root), "--split", "test"]) == 2
    assert _run_stage([*base, "--data", str(source.root), "--collection", "--batch-size", "0"]) == 2
    with pytest.raises(InputError):
        load_embeddings(tmp_path / "o")


def test_a_killed_encode_leaves_no_shard_and_the_next_run_completes(encoder, source, tmp_path, monkeypatch):
    calls = {"n": 0}
    original = type(encoder).encode

    def dies_on_the_second_batch(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(encoder), "encode", dies_on_the_second_batch)
    with pytest.raises(KeyboardInterrupt):
        embed_collection(encoder, source, tmp_path / "cache", batch_size=4, show_progress=False)
    folders = [f for f in (tmp_path / "cache" / "embeddings").iterdir() if f.is_dir()]  # beside them: their .lock files
    assert all(not any(p.name.startswith("shard-") for p in f.iterdir()) for f in folders)
    monkeypatch.setattr(type(encoder), "encode", original)
    ids, vectors = embed_collection(encoder, source, tmp_path / "cache", batch_size=4, show_progress=False)
    assert len(ids) == len(TINY_TEXTS) and isinstance(vectors, np.memmap) and not vectors.flags.writeable


def test_stage_reads_non_standard_file_names_from_the_experiment(tiny_bert_dir, source, tmp_path):
    """What the launcher's encode array job runs: --config gives data.files (e.g. MS MARCO's dev.small)."""
    (source.root / "queries.dev.tsv").rename(source.root / "queries.dev.small.tsv")
    experiment = tmp_path / "exp.yaml"
    experiment.write_text(f"name: enc\ndata:\n  dataset: {source.root}\n  files:\n    queries.dev: queries.dev.small.tsv\n")
    common = ["--checkpoint", str(tiny_bert_dir), "--data", str(source.root), "--split", "dev",
              "--out", str(tmp_path / "q"), "--cache-root", str(tmp_path / "cache")]
    assert _run_stage(common) == 2  # without the map: the standard name is missing
    assert _run_stage(["--config", str(experiment), *common]) == 0
    ids, vectors = load_embeddings(tmp_path / "q")
    assert ids.ids == ["q1", "q2"] and vectors.shape == (2, 32)


def test_a_second_builder_of_the_same_entry_waits_and_then_finds_it_complete(encoder, source, tmp_path, monkeypatch):
    """Refresh 0 of up to 15 strategies: one job encodes, the others wait on the entry's lock file and read it."""
    import threading
    import time

    started = threading.Event()
    calls = []

    def slow_embed(*args, **kwargs):
        calls.append(threading.current_thread().name)
        started.set()
        time.sleep(1.5)  # the first builder is still writing when the second arrives
        return embed(*args, **kwargs)

    monkeypatch.setattr(cache_module, "embed", slow_embed)
    results = {}

    def build(name):
        results[name] = embed_collection(encoder, source, tmp_path / "cache", show_progress=False)

    first = threading.Thread(target=build, args=("first",), name="first")
    first.start()
    assert started.wait(60)
    second = threading.Thread(target=build, args=("second",), name="second")
    second.start()
    first.join(120)
    second.join(120)
    assert calls == ["first"]  # the second builder encoded nothing
    assert results["first"][0].ids == results["second"][0].ids
    assert np.array_equal(results["first"][1], results["second"][1])
    [lock] = (tmp_path / "cache" / "embeddings").glob("*.lock")
    assert lock.with_suffix("").name in {p.name for p in (tmp_path / "cache" / "embeddings").iterdir()}
