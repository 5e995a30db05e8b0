"""embed(): length-sorted batching is only a speed-up, order is kept, precision/quantization options."""

from __future__ import annotations

import platform
import subprocess
import sys

import numpy as np
import pytest
import torch

from ance_core.config.schema import ModelConfig
from ance_core.data.tokcache import tokenize_texts
from ance_core.encode import embed, length_sorted_batches, parse_shard, quantize_for_cpu, resolve_precision, shard_range
from ance_core.encode.batching import padding_fraction
from ance_core.errors import InputError
from ance_core.model import load_encoder


@pytest.fixture
def encoder(tiny_model_dir):
    return load_encoder(str(tiny_model_dir), ModelConfig(pooling="mean", ance_head=True, passage_max_len=24))


def _naive(encoder, texts, kind, batch_size):
    """Batches in input order, padded to each batch's longest, as a plain loop over `encode_texts` would."""
    with torch.no_grad():
        return np.concatenate([
            encoder.encode_texts(texts[i : i + batch_size], kind).numpy() for i in range(0, len(texts), batch_size)
        ])


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_length_sorted_equals_naive_batching(encoder, tiny_texts, batch_size):
    got = embed(encoder, tiny_texts, "passage", batch_size=batch_size, show_progress=False)
    assert got.dtype == np.float16 and got.shape == (len(tiny_texts), encoder.dim)
    expected = _naive(encoder, tiny_texts, "passage", 4)
    np.testing.assert_allclose(got.astype(np.float32), expected, rtol=2e-3, atol=2e-3)


def test_rows_select_a_slice_in_order(encoder, tiny_texts):
    tokens = tokenize_texts(encoder.tokenizer, tiny_texts, 24)
    full = embed(encoder, tokens, "passage", batch_size=5, show_progress=False)
    part = embed(encoder, tokens, "passage", batch_size=5, rows=slice(3, 11), show_progress=False)
    np.testing.assert_allclose(part.astype(np.float32), full[3:11].astype(np.float32), atol=2e-3)


def test_query_kind_uses_the_query_length(encoder, tiny_texts):
    short = load_encoder(encoder.source, ModelConfig(pooling="mean", ance_head=True, query_max_len=4))
    got = embed(short, tiny_texts[:4], "query", show_progress=False)
    with torch.no_grad():
        cut = short.encode_texts(tiny_texts[:4], "query").numpy()  # tokenize() truncates to 4 tokens too
    np.testing.assert_allclose(got.astype(np.float32), cut, atol=2e-3)


def test_batches_cover_every_row_once_longest_first():
    lengths = np.array([5, 9, 2, 9, 7, 1, 3])
    batches = length_sorted_batches(lengths, 3)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(7))
    assert np.all(np.diff(lengths[flat]) <= 0)
    assert flat[:2].tolist() == [1, 3]  # stable among equal lengths
    naive = [np.arange(i, min(i + 3, 7)) for i in range(0, 7, 3)]
    assert padding_fraction(lengths, batches) < padding_fraction(lengths, naive)


def test_shard_ranges_tile_the_rows():
    for n, count in [(10, 3), (2, 5), (0, 2), (7, 1)]:
        ranges = [shard_range(n, i, count) for i in range(count)]
        assert ranges[0][0] == 0 and ranges[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
        assert max(b - a for a, b in ranges) - min(b - a for a, b in ranges) <= 1


@pytest.mark.parametrize("text", ["3/3", "a/2", "1", "-1/2", "0/0"])
def test_bad_shard_spec_is_an_input_error(text):
    with pytest.raises(InputError, match="--shard"):
        parse_shard(text)


def test_precision_resolution():
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == "fp32"
    assert resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(InputError, match="precision"):
        resolve_precision("int4", cpu)


def test_bf16_on_cpu_stays_close_to_fp32(encoder, tiny_texts):
    fp32 = embed(encoder, tiny_texts, "passage", precision="fp32", show_progress=False).astype(np.float32)
    bf16 = embed(encoder, tiny_texts, "passage", precision="bf16", show_progress=False).astype(np.float32)
    cos = (fp32 * bf16).sum(1) / np.linalg.norm(fp32, axis=1) / np.linalg.norm(bf16, axis=1)
    assert cos.min() > 0.99 and not np.array_equal(fp32, bf16)


def test_int8_quantized_copy(encoder, tiny_texts):
    quantized = quantize_for_cpu(encoder)
    assert quantized.fingerprint == f"{encoder.fingerprint}+int8"
    assert isinstance(encoder.passage_tower.backbone.encoder.layer[0].output.dense, torch.nn.Linear)  # original untouched
    fp32 = embed(encoder, tiny_texts, "passage", show_progress=False).astype(np.float32)
    int8 = embed(encoder, tiny_texts, "passage", quantize=True, show_progress=False).astype(np.float32)
    cos = (fp32 * int8).sum(1) / np.linalg.norm(fp32, axis=1) / np.linalg.norm(int8, axis=1)
    assert cos.min() > 0.99 and not np.array_equal(fp32, int8)
    dense = quantized.passage_tower.backbone.encoder.layer[0].output.dense
    assert type(dense).__module__.startswith("torch.ao.nn.quantized.dynamic")


def test_the_int8_copy_is_made_once_per_weights(encoder, tiny_texts):
    first = quantize_for_cpu(encoder)
    assert quantize_for_cpu(encoder) is first  # same weights: the same copy, not a new deep copy
    with torch.no_grad():
        next(encoder.parameters()).add_(0.01)  # an optimizer step changes the weights
    second = quantize_for_cpu(encoder)
    assert second is not first
    assert quantize_for_cpu(encoder) is second


def test_quantize_refuses_a_gpu_device(encoder, tiny_texts):
    with pytest.raises(InputError, match="CPU-only"):
        embed(encoder, tiny_texts, "passage", quantize=True, device="cuda")


def test_training_mode_is_restored(encoder, tiny_texts):
    encoder.train()
    embed(encoder, tiny_texts[:2], "passage", show_progress=False)
    assert encoder.training


def test_a_bare_cuda_device_means_this_ranks_gpu(monkeypatch):
    from ance_core.encode import resolve_device

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setenv("LOCAL_RANK", "2")
    assert resolve_device("cuda") == torch.device("cuda", 2)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    assert resolve_device("cpu") == torch.device("cpu")


def test_cpu_pieces_respect_the_token_budget_and_keep_results(encoder, tiny_texts, monkeypatch):
    from ance_core.encode import inference
    from ance_core.encode.batching import split_by_tokens

    lengths = np.array([9, 9, 8, 5, 3, 2])
    pieces = split_by_tokens(np.arange(6), lengths, 20)
    assert [p.tolist() for p in pieces] == [[0, 1], [2, 3], [4, 5]]
    assert split_by_tokens(np.arange(2), lengths, 4)[0].tolist() == [0]  # one row even over budget
    whole = embed(encoder, tiny_texts, "passage", batch_size=64, show_progress=False)
    monkeypatch.setattr(inference, "CPU_ACTIVATION_BYTES", 4 * 64 * 40)  # ~40 tokens per forward
    assert inference.cpu_token_budget(encoder) == 40
    pieces_seen = []
    real_encode = type(encoder).encode
    monkeypatch.setattr(type(encoder), "encode", lambda self, i, m, k: pieces_seen.append(i.numel()) or real_encode(self, i, m, k))
    small = embed(encoder, tiny_texts, "passage", batch_size=64, show_progress=False)
    assert len(pieces_seen) > 1 and max(pieces_seen) <= 40
    np.testing.assert_allclose(small.astype(np.float32), whole.astype(np.float32), atol=2e-3)


def _glibc_linux() -> bool:
    return sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def test_heap_guard_trims_only_after_the_resident_size_grew(monkeypatch):
    from ance_core.encode import heap

    if _glibc_linux():
        assert heap.HeapGuard().active  # on glibc Linux the trim must really be there
    resident = [1000]
    trims = []
    monkeypatch.setattr(heap, "resident_bytes", lambda: resident[0])
    monkeypatch.setattr(heap, "_malloc_trim", lambda: lambda pad: trims.append(pad) or 1)
    guard = heap.HeapGuard(limit=100)
    resident[0] = 1100
    assert not guard.check() and not trims  # grown by the limit, not more
    resident[0] = 1101
    assert guard.check() and trims == [0]
    resident[0] = 1150  # the trim left 1150 resident: the next one waits for 1251
    guard.mark = 1150
    assert not guard.check()
    resident[0] = 1251
    assert guard.check() and guard.trims == 2


def test_cpu_encode_checks_the_heap_after_each_batch(encoder, tiny_texts, monkeypatch):
    from ance_core.encode import heap

    checks = []
    monkeypatch.setattr(heap.HeapGuard, "check", lambda self: checks.append(1) or False)
    embed(encoder, tiny_texts, "passage", batch_size=2, show_progress=False)
    assert len(checks) == len(length_sorted_batches(np.ones(len(tiny_texts)), 2))


def test_the_free_heap_shrinks_the_resident_size():
    """Many freed mid-sized chunks stay resident under glibc until trimmed (what grew `ance mine` by 700 MiB)."""
    if not _glibc_linux():
        pytest.skip("malloc_trim is glibc's")
    code = (
        "import torch\n"
        "from ance_core.encode.heap import release_free_heap\n"
        "def rss():\n"
        "    return int([l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]) // 1024\n"
        "keep, drop = [], []\n"
        "for i in range(4000):\n"  # 100 kB chunks (below the mmap threshold), every other one kept: a fragmented heap
        "    (keep if i % 2 else drop).append(torch.ones(25000))\n"
        "del drop\n"
        "before = rss(); release_free_heap(); after = rss()\n"
        "print(before - after)\n"
    )
    freed = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert freed >= 100  # about 190 MiB of free chunks between live ones
