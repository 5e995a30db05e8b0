"""The scale model's arithmetic, the scale group's inputs from other rows, and the gpu group's refusal without CUDA."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from benchmarks.harness import Side, default_machine_name, machine_info
from benchmarks.rows import gpu as gpu_rows
from benchmarks.rows import scale as scale_rows
from benchmarks.scale import (
    GPU_KINDS,
    MS_MARCO,
    ROBERTA_BASE,
    EncoderShape,
    Hardware,
    RefreshShape,
    gpu_kind,
    negatives_line_bytes,
    project_refresh,
    search_flops,
)

REPO = Path(__file__).resolve().parents[2]
TINY = EncoderShape(layers=2, hidden=4, intermediate=8)


def test_encoder_flops_of_a_tiny_config_by_hand():
    # per layer: Q, K, V, O 4·4² = 64 weights, FFN 2·4·8 = 64 weights; 2 layers: 256
    assert TINY.matmul_weights == 256
    assert TINY.matmul_flops(3) == 2 * 256 * 3 == 1536
    assert TINY.attention_flops(3) == 4 * 2 * 3**2 * 4 == 288  # QKᵀ and AV: 2·T²·h each, per layer
    assert TINY.sequence_flops(3) == 1824
    assert ROBERTA_BASE.matmul_weights == 12 * (4 * 768**2 + 2 * 768 * 3072) == 84_934_656


def test_matmul_weights_are_the_linear_layers_of_a_real_roberta():
    from transformers import RobertaConfig, RobertaModel

    config = RobertaConfig(num_hidden_layers=2, hidden_size=16, intermediate_size=40, num_attention_heads=2)
    model = RobertaModel(config, add_pooling_layer=False)
    linear = sum(m.weight.numel() for m in model.encoder.modules() if isinstance(m, torch.nn.Linear))
    assert linear == EncoderShape(2, 16, 40).matmul_weights


def test_search_flops_are_the_score_gemm():
    assert search_flops(queries=3, passages=5, dim=7) == 2 * 3 * 5 * 7


def test_gpu_kinds_are_detected_from_device_names_with_dense_peaks():
    assert gpu_kind("NVIDIA H200").peak_flops == 989e12
    assert gpu_kind("NVIDIA H200 NVL").name == "H200 NVL"
    assert gpu_kind("NVIDIA H100 80GB HBM3").name == "H100 SXM"
    assert gpu_kind("NVIDIA H100 PCIe").name == "H100 PCIe"
    assert gpu_kind("NVIDIA A100-SXM4-80GB").bf16_dense_tflops == 312
    assert gpu_kind("NVIDIA A40").bf16_dense_tflops == 149.7  # not the 299.4 with sparsity
    assert gpu_kind("NVIDIA RTX A4000") is None and gpu_kind("Tesla T4") is None
    assert all("dense" in kind.source for kind in GPU_KINDS)


def test_the_negatives_line_estimate_matches_a_line_as_written():
    line = {"qid": "1185869", "pos": ["8841822"], "neg": [str(8_000_000 + i) for i in range(20)],
            "neg_ranks": list(range(180, 200))}
    written = len(json.dumps(line, separators=(",", ":"))) + 1
    assert abs(negatives_line_bytes(20, id_digits=7) - written) / written < 0.1


def test_the_projection_shows_the_numbers_it_uses():
    shape = RefreshShape(passages=1000, passage_tokens=3, passage_max_len=8, queries=10, query_tokens=2,
                         query_max_len=4, top_k=5, dim=4, negatives=2)
    hardware = Hardware("Test GPU", peak_flops=1e6, mfu_encode=0.5, mfu_search=0.25, peak_source="datasheet",
                        mfu_source="assumed")
    projection = project_refresh(hardware, sampling_seconds=1.5, write_bytes_per_s=1e3, shape=shape, encoder=TINY)
    assert projection.seconds["encode passages"] == pytest.approx(1000 * 1824 / 5e5)
    assert projection.seconds["encode queries"] == pytest.approx(10 * TINY.sequence_flops(2) / 5e5)
    assert projection.seconds["search"] == pytest.approx(2 * 10 * 1000 * 4 / 2.5e5)
    assert projection.seconds["sample"] == 1.5
    assert projection.seconds["write"] == pytest.approx(shape.written_bytes() / 1e3)
    assert projection.total_seconds == pytest.approx(sum(projection.seconds.values()))
    text = "\n".join(projection.lines)
    assert "1 MFLOP/s" in text and "0.5" in text and "0.25" in text and "assumed" in text
    assert "encode passages: 1k × 1.82e3 FLOP (3 tok) = 1.82e6 FLOP / (1 MFLOP/s × 0.5) = 3.65 s" in text
    assert "search: 2 × 10 × 1k × 4 = 8.00e4 FLOP / (1 MFLOP/s × 0.25) = 0.32 s" in text
    assert "2·256·T + 4·2·T²·4" in text


def test_the_ms_marco_refresh_on_an_h200_at_the_assumed_mfu():
    h200 = gpu_kind("H200")
    projection = project_refresh(Hardware("H200", h200.peak_flops, 0.35, 0.6, "datasheet", "assumed"),
                                 sampling_seconds=1.0, write_bytes_per_s=1e9)
    # 8.84M passages × 1.38e10 FLOP / (989e12 × 0.35): encoding the corpus is most of it
    assert projection.seconds["encode passages"] == pytest.approx(
        MS_MARCO.passages * ROBERTA_BASE.sequence_flops(80) / (989e12 * 0.35))
    assert 300 < projection.seconds["encode passages"] < 400
    assert projection.seconds["search"] < projection.seconds["encode passages"] / 10


def test_sampling_seconds_come_from_this_machines_slowest_study_sampler(tmp_path):
    rows = [
        {"group": "samplers", "name": "random20: ours vs the study's loop", "ours": 2.0, "note": "500000×200; same"},
        {"group": "samplers", "name": "top20: ours vs the study's loop", "ours": 1.0, "note": "500000×200; identical"},
        {"group": "samplers", "name": "top20: ours vs vectorised numpy", "ours": 9.0, "note": "500000×200"},
        {"group": "samplers", "name": "simans 20 of [0,200), positive-free", "ours": 7.0, "note": "500000×200"},
    ]
    (tmp_path / f"{default_machine_name(machine_info())}.json").write_text(json.dumps({"rows": rows}))
    seconds, source = scale_rows.sampling_seconds(1_000_000, results_dir=tmp_path)
    assert seconds == 4.0 and "random20" in source
    seconds, source = scale_rows.sampling_seconds(1_000_000, results_dir=tmp_path / "none")
    assert seconds == scale_rows.DECLARED_SAMPLING_SECONDS and "declared" in source


def test_measured_gpu_mfu_is_read_from_the_latest_bench_gpu_row(tmp_path):
    def doc(date: str, mfu: float) -> dict:
        return {"rows": [{"group": "gpu", "name": "projection", "date": date,
                          "extra": {"gpu_kind": "H200", "mfu_encode": mfu, "mfu_search": 0.5}},
                         {"group": "scale", "name": "other", "extra": {"mfu_encode": 0.1}}]}

    (tmp_path / "old-node.json").write_text(json.dumps(doc("2026-01-01", 0.3)))
    (tmp_path / "new-node.json").write_text(json.dumps(doc("2026-02-01", 0.45)))
    measured = scale_rows.measured_gpu_mfu(tmp_path)
    assert list(measured) == ["H200"]
    assert measured["H200"][0] == (0.45, 0.5) and "new-node" in measured["H200"][1]


def test_passage_lengths_keep_the_declared_mean_after_the_cut():
    lengths = scale_rows.passage_lengths(20_000, mean_tokens=80, spread=0.4, max_len=128)
    assert lengths.mean() == pytest.approx(80, abs=0.5) and lengths.max() == 128 and lengths.min() >= 8
    assert set(scale_rows.passage_lengths(5, mean_tokens=80, spread=0.0, max_len=128)) == {80}


def test_the_encode_side_counts_the_model_flops_of_real_tokens():
    result = scale_rows.encode_side("cpu", "fp32", passages=6, batch_size=4, mean_tokens=12, spread=0.5,
                                    max_len=16, layers=2, hidden=16, intermediate=40, heads=2)
    lengths = scale_rows.passage_lengths(6, 12, 0.5, 16)
    assert result["flops"] == sum(EncoderShape(2, 16, 40).sequence_flops(float(t)) for t in lengths)
    assert result["seconds"] > 0 and 0 <= result["padding"] < 1


def test_the_torch_search_fallback_runs_and_says_which_engine():
    result = gpu_rows.search_side("cpu", queries=8, corpus=300, dim=16, k=5, repeats=1, use_faiss=False)
    assert result["engine"].startswith("torch.mm bf16 + torch.topk") and result["flops"] == 2 * 8 * 300 * 16


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal without CUDA")
def test_the_gpu_group_refuses_cleanly_without_cuda_and_writes_nothing(tmp_path):
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "gpu", "--results-dir", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert gpu_rows.NO_GPU in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_make_bench_runs_every_group_but_gpu():
    from benchmarks.__main__ import default_groups
    from benchmarks.rows import ROWS

    assert "gpu" in ROWS and "gpu" not in default_groups()
    assert set(default_groups()) == set(ROWS) - {"gpu"} and "scale" in default_groups()
    makefile = (REPO / "Makefile").read_text()
    bench_gpu = makefile[makefile.index("\nbench-gpu:"):].split("\n\n")[0]
    assert "--only gpu" in bench_gpu and "--only scale" in bench_gpu


@pytest.mark.gpu
def test_encode_and_search_sides_on_a_gpu():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU here")
    result = scale_rows.encode_side("cuda", "bf16", passages=64, batch_size=16, mean_tokens=40, spread=0.4,
                                    max_len=64, layers=2, hidden=64, intermediate=128, heads=2)
    assert result["seconds"] > 0 and result["device_peak_mib"] > 0
    search = gpu_rows.search_side("cuda", queries=64, corpus=5000, dim=32, k=10, repeats=1)
    assert search["seconds"] > 0 and np.isfinite(search["flops"])


# ---------------------------------------------------------------- the groups' rows, from stand-in measurements


def fake_measure(module: str, function: str, **kwargs) -> Side:
    """What the sides report, with round numbers: 1 PFLOP per second of GEMM, 0.5 of it encoding, 0.25 searching."""
    extra = {
        "gemm_side": {"flops": 1e15, "shape": "8192×8192·8192×8192"},
        "encode_side": {"flops": 0.5e15, "passages": 1000, "mean_tokens": 80.0, "padding": 0.01,
                        "cpu_seconds": 1.0, "device_peak_mib": 900.0},
        "search_side": {"flops": 0.25e15, "engine": "faiss GpuIndexFlatIP, fp16 vectors", "repeats": 3},
        "cpu_search_side": {"flops": 0.25e15},
        "write_side": {"bytes": 2e9},
    }[function]
    return Side(seconds=1.0, peak_mem_mib=100.0, extra=extra)


def test_the_gpu_group_projects_from_its_measured_rates(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H200")
    monkeypatch.setattr(gpu_rows, "measure", fake_measure)
    rows = {r.name: r for r in gpu_rows.run(SimpleNamespace(quick=True, scratch=tmp_path))}
    encode = rows["RoBERTa-base bf16 encode (batch 128) vs peak"]
    assert encode.ours == 500 and encode.baseline == 989 and encode.ratio == pytest.approx(0.51, abs=0.01)
    refresh = rows["one full MS MARCO refresh projected on this GPU (measured rates)"]
    assert refresh.kind == "projected" and refresh.meets_target is None
    assert refresh.extra["gpu_kind"] == "H200" and refresh.extra["mfu_encode"] == pytest.approx(500 / 989)
    assert refresh.target == 64 and refresh.baseline == 16
    assert refresh.extra["seconds"]["encode passages"] == pytest.approx(
        MS_MARCO.passages * ROBERTA_BASE.sequence_flops(80) / 0.5e15)
    assert "/ 2 GB/s" in refresh.note and "faiss GpuIndexFlatIP" in rows["exact top-200 search vs peak"].note


def test_the_scale_group_uses_a_measured_gpu_mfu_when_bench_gpu_left_one(monkeypatch, tmp_path):
    monkeypatch.setattr(scale_rows, "measure", fake_measure)
    monkeypatch.setattr(scale_rows, "RESULTS_DIR", tmp_path)
    (tmp_path / "gpu-node.json").write_text(json.dumps({"rows": [
        {"group": "gpu", "name": "refresh", "date": "2026-01-01",
         "extra": {"gpu_kind": "H200", "mfu_encode": 0.5, "mfu_search": 0.7}}]}))
    rows = {r.name: r for r in scale_rows.run(SimpleNamespace(quick=True, scratch=tmp_path))}
    h200 = rows["one full MS MARCO refresh projected on one H200 (datasheet peak × MFU)"]
    a40 = rows["one full MS MARCO refresh projected on one A40 (datasheet peak × MFU)"]
    assert h200.extra["mfu_encode"] == 0.5 and "measured by make bench-gpu on gpu-node" in h200.note
    # no A40 measured: the MFU measured on the H200 carries over to the A40's datasheet peak, and says so
    assert a40.extra["mfu_encode"] == 0.5 and "on an H200: applied to the A40's datasheet peak" in a40.note
    assert a40.extra["inputs"]["peak_flops"] == gpu_kind("A40").peak_flops
    assert a40.extra["inputs"]["write_source"].startswith("assumed")
    assert h200.target == 64 and h200.ratio == pytest.approx(16 / h200.ours, abs=0.01)
    assert all(r.kind == "projected" and r.meets_target is None for r in rows.values() if "projected" in r.name)
    cpu = rows["one full MS MARCO refresh projected on this CPU"]
    assert cpu.baseline is None and cpu.ours == pytest.approx(sum(cpu.extra["seconds"].values()) / 3600)
    encode = rows["RoBERTa-base fp32 encode vs GEMM peak, this CPU"]
    assert encode.kind == "measured" and len(encode.rounds) == 3 and encode.ratio == 0.5


def test_without_any_gpu_measurement_the_mfu_is_assumed_and_says_so():
    mfu, source = scale_rows.gpu_mfu_for("A40", {})
    assert mfu == scale_rows.ASSUMED_MFU and source.startswith("assumed")
    measured = {"H100 SXM": ((0.3, 0.4), "measured by make bench-gpu on a, 2026-01-01"),
                "H200": ((0.5, 0.6), "measured by make bench-gpu on b, 2026-03-01")}
    assert scale_rows.gpu_mfu_for("H100 SXM", measured) == measured["H100 SXM"]
    mfu, source = scale_rows.gpu_mfu_for("A100", measured)
    assert mfu == (0.5, 0.6) and "on an H200" in source  # the latest measurement
