"""Row group `scale`: one full MS MARCO refresh, projected from measured per-item costs.

On this machine it measures, each in its own process:
* encode: a randomly initialised RoBERTa-base (RobertaConfig defaults, built
  from the config: no download) in fp32 under inference_mode, 32 passages of
  80 tokens (the declared MS MARCO mean) in batches of 16, after one warm-up
  batch (`--quick`: 8 passages);
* the GEMM peak: the best of a few `torch.mm` of the encoder's FFN shape
  (batch·tokens × 768 × 3072, fp32) - the ceiling encoding can reach here;
* search: `ance_core.index.blocked_search` (our CPU exact search) at d = 768,
  k = 200 on 512 queries × 20,000 passages.
MFU = achieved model FLOP/s (benchmarks/scale.py counts them) ÷ that GEMM peak.
The three are interleaved over MIN_ROUNDS rounds; round i of encode or search is
compared with round i of the GEMM.

Measured rows: the encode and search rates against the GEMM peak. Projected rows
(`kind` "projected", their own section, never ticked): the refresh projected on
this CPU from the median measured rates (no reference: 16 h on four A40s against
a CPU would be a ratio of hardware, not of code); and on one A40, A100 and H200
from the datasheet peak × an MFU that `make bench-gpu` measured - on that kind
if it has run there, else on the GPU kind it last ran on (benchmarks/results/*.json),
else an assumed 0.35 (encode) / 0.6 (search). Every input of a projection is in
its row's `extra["inputs"]`, with where it came from. Those rows' reference is the
study's 16 h per refresh on 4×A40 (ratio = speed-up), shown against the moonshot,
15 minutes (16 h / 15 min = 64×) - a projection, not a result.
"""

from __future__ import annotations

import json
import logging
import re
import statistics
import time
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ance_core.flops import ASSUMED_MFU  # encode, search: until `make bench-gpu` measures them on a kind
from benchmarks.harness import MIN_ROUNDS, PROJECTED, RESULTS_DIR, Row, default_machine_name, interleave, machine_info, measure
from benchmarks.scale import MS_MARCO, ROBERTA_BASE, EncoderShape, Hardware, gpu_kind, project_refresh

GROUP = "scale"
STUDY_HOURS = 16.0  # one refresh of the study on 4×A40 (its report, results/legacy/CS646_Final_Project.txt, section 1)
MOONSHOT_HOURS = 0.25  # one refresh in 15 minutes on one H200
PROJECTED_KINDS = ("A40", "A100", "H200")
# Declared, not measured: a local NVMe SSD writes 2-3 GB/s sequentially, shared file
# systems less; 1 GB/s errs slow. `make bench-gpu` measures the node's own disk.
ASSUMED_WRITE_BYTES_PER_S = 1e9
# When this machine has no samplers rows: our vectorised samplers take about a CPU
# second per 500k queries × top-200 (the samplers row on a 2-CPU Xeon).
DECLARED_SAMPLING_SECONDS = 1.0
STUDY_LOOP_ROW = ": ours vs the study's loop"  # one samplers row per study strategy ends so

CPU_ENCODE = dict(passages=32, batch_size=16)
CPU_ENCODE_QUICK = dict(passages=8, batch_size=8)
CPU_SEARCH = dict(queries=512, corpus=20_000)
CPU_SEARCH_QUICK = dict(queries=128, corpus=10_000)

logger = logging.getLogger(__name__)


def run(options) -> list[Row]:
    encode_shape = CPU_ENCODE_QUICK if options.quick else CPU_ENCODE
    search_shape = CPU_SEARCH_QUICK if options.quick else CPU_SEARCH
    results = interleave(MIN_ROUNDS, {
        "gemm": lambda: measure(__name__, "gemm_side", device="cpu", dtype="fp32",
                                m=int(encode_shape["batch_size"] * MS_MARCO.passage_tokens),
                                k=ROBERTA_BASE.hidden, n=ROBERTA_BASE.intermediate, repeats=5),
        "encode": lambda: measure(__name__, "encode_side", device="cpu", dtype="fp32",
                                  mean_tokens=MS_MARCO.passage_tokens, spread=0.0, max_len=MS_MARCO.passage_max_len,
                                  **encode_shape),
        "search": lambda: measure(__name__, "cpu_search_side", dim=MS_MARCO.dim, k=MS_MARCO.top_k, **search_shape),
    }, label="scale")
    rates = {name: [side.extra["flops"] / side.seconds for side in sides] for name, sides in results.items()}
    gemm, encode, search = results["gemm"][0], results["encode"][0], results["search"][0]
    peak, encode_rate, search_rate = (statistics.median(rates[name]) for name in ("gemm", "encode", "search"))
    sampling, sampling_source = sampling_seconds(MS_MARCO.queries)
    here = Hardware(
        name="this CPU", peak_flops=peak, mfu_encode=encode_rate / peak, mfu_search=search_rate / peak,
        peak_source=f"measured: torch.mm fp32 {gemm.extra['shape']}, median of {MIN_ROUNDS}",
        mfu_source=f"measured: encode {_g(encode_rate)}, search {_g(search_rate)}, medians of {MIN_ROUNDS}")
    projection = project_refresh(here, sampling, ASSUMED_WRITE_BYTES_PER_S)
    common_inputs = {"sampling_seconds": sampling, "sampling_source": sampling_source,
                     "write_bytes_per_s": ASSUMED_WRITE_BYTES_PER_S,
                     "write_source": "assumed (a local NVMe SSD writes 2-3 GB/s; 1 GB/s errs slow)",
                     "shape": asdict(MS_MARCO), "shape_source": "MS MARCO file sizes; token means declared (benchmarks/scale.py)",
                     "encoder": asdict(ROBERTA_BASE)}
    inputs = f"sampling {sampling:.3g} s ({sampling_source}); write at {ASSUMED_WRITE_BYTES_PER_S / 1e9:g} GB/s (assumed)"
    gemm_peaks = [s.peak_mem_mib for s in results["gemm"]]
    rows = [
        Row.from_rounds(
            GROUP, "RoBERTa-base fp32 encode vs GEMM peak, this CPU", [r / 1e9 for r in rates["encode"]],
            [r / 1e9 for r in rates["gemm"]], "GFLOP/s", None, max(s.peak_mem_mib for s in results["encode"]),
            max(gemm_peaks), lower_is_better=False,
            note=f"ratio = MFU; {encode.extra['passages']} passages × {encode.extra['mean_tokens']:g} tokens, batch "
                 f"{encode_shape['batch_size']}, random init, inference_mode; "
                 f"{encode.extra['passages'] * encode_rate / encode.extra['flops']:.3g} passages/s (median); "
                 f"peak = best torch.mm {gemm.extra['shape']} fp32 per round"),
        Row.from_rounds(
            GROUP, "exact top-200 search d=768 (ours, blocked) vs GEMM peak, this CPU",
            [r / 1e9 for r in rates["search"]], [r / 1e9 for r in rates["gemm"]], "GFLOP/s", None,
            max(s.peak_mem_mib for s in results["search"]), max(gemm_peaks), lower_is_better=False,
            note=f"ratio = fraction of the encoder-shaped GEMM peak; Q={search_shape['queries']} × "
                 f"N={search_shape['corpus']} × d={MS_MARCO.dim}, fp16 unit vectors, k={MS_MARCO.top_k}; "
                 f"{search.extra['flops'] / search_rate:.3g} s per search (median)"),
        Row(GROUP, "one full MS MARCO refresh projected on this CPU", projection.hours, None, "h", None, None,
            kind=PROJECTED,
            note="no reference: the study's 16 h on 4×A40 against a CPU is a ratio of hardware, not code; "
                 + "; ".join(projection.lines) + f"; {inputs}",
            extra={"seconds": projection.seconds, "inputs": {**common_inputs, **_hardware_inputs(here)}}),
    ]
    measured = measured_gpu_mfu()
    for kind_name in PROJECTED_KINDS:
        kind = gpu_kind(kind_name)
        mfu, source = gpu_mfu_for(kind.name, measured)
        gpu = Hardware(kind.name, kind.peak_flops, *mfu, peak_source=f"datasheet, dense BF16: {kind.source}",
                       mfu_source=source)
        projection = project_refresh(gpu, sampling, ASSUMED_WRITE_BYTES_PER_S)
        is_moonshot = kind.name == "H200"
        rows.append(Row(
            GROUP, f"one full MS MARCO refresh projected on one {kind.name} (datasheet peak × MFU)", projection.hours,
            STUDY_HOURS, "h", STUDY_HOURS / MOONSHOT_HOURS if is_moonshot else None, None, kind=PROJECTED,
            note=f"reference = the study, {STUDY_HOURS:g} h per refresh on 4×A40 (fp32 RoBERTa at 512 tokens: not the "
                 f"same work); ratio = projected speed-up"
                 + (f"; shown against the moonshot, {MOONSHOT_HOURS * 60:g} min "
                    f"({STUDY_HOURS:g} h / {MOONSHOT_HOURS * 60:g} min = {STUDY_HOURS / MOONSHOT_HOURS:g}×)"
                    if is_moonshot else "")
                 + "; " + "; ".join(projection.lines) + f"; {inputs}",
            extra={"seconds": projection.seconds, "mfu_encode": gpu.mfu_encode, "mfu_search": gpu.mfu_search,
                   "mfu_source": source, "inputs": {**common_inputs, **_hardware_inputs(gpu)}},
        ))
    return rows


def _hardware_inputs(hardware: Hardware) -> dict:
    return {"peak_flops": hardware.peak_flops, "peak_source": hardware.peak_source, "mfu_encode": hardware.mfu_encode,
            "mfu_search": hardware.mfu_search, "mfu_source": hardware.mfu_source}


def gpu_mfu_for(kind: str, measured: dict[str, tuple[tuple[float, float], str]]) -> tuple[tuple[float, float], str]:
    """(MFU encode, MFU search) for a GPU kind, and where they come from.

    Measured on this kind if `make bench-gpu` ran on one; else measured on the kind
    it ran on last (an MFU carries across kinds far better than a guess); else assumed.
    """
    if kind in measured:
        return measured[kind]
    if measured:
        other = max(measured, key=lambda k: measured[k][1][-10:])  # each source ends with its date
        mfu, source = measured[other]
        return mfu, f"{source}, on an {other}: applied to the {kind}'s datasheet peak"
    return ASSUMED_MFU, "assumed until `make bench-gpu` measures it on a GPU"


# ---------------------------------------------------------------- inputs from other rows


def sampling_seconds(queries: int, results_dir: Path | None = None) -> tuple[float, str]:
    """Seconds for the segment sampler on `queries` queries: the slowest study strategy of this machine's samplers rows.

    A refresh runs one strategy; the samplers rows measured each at their note's
    queries × top-K, which scales linearly. Declared when there are none.
    """
    path = (results_dir or RESULTS_DIR) / f"{default_machine_name(machine_info())}.json"
    doc = json.loads(path.read_text()) if path.exists() else {}
    measured = []
    for row in doc.get("rows", []):
        scale = re.match(r"(\d+)×\d+", row.get("note", ""))
        if row["group"] == "samplers" and row["name"].endswith(STUDY_LOOP_ROW) and scale:
            measured.append((row["ours"] * queries / int(scale.group(1)), row["name"], row["ours"], scale.group(0)))
    if not measured:
        return DECLARED_SAMPLING_SECONDS, "declared: no samplers rows for this machine"
    seconds, name, ours, at = max(measured)
    return seconds, f"samplers row '{name}' {ours:.3g} CPU s at {at}, scaled to {queries:,} queries"


def measured_gpu_mfu(results_dir: Path | None = None) -> dict[str, tuple[tuple[float, float], str]]:
    """{GPU kind: ((MFU encode, MFU search), source)} from `make bench-gpu` rows in results_dir, the latest per kind."""
    found: dict[str, tuple[str, tuple[float, float], str]] = {}
    for path in sorted((results_dir or RESULTS_DIR).glob("*.json")):
        for row in json.loads(path.read_text()).get("rows", []):
            extra = row.get("extra") or {}
            if row.get("group") != "gpu" or not extra.get("gpu_kind") or "mfu_encode" not in extra:
                continue
            date = row.get("date", "")
            if extra["gpu_kind"] not in found or date > found[extra["gpu_kind"]][0]:
                source = f"measured by make bench-gpu on {path.stem}, {date[:10]}"
                found[extra["gpu_kind"]] = (date, (extra["mfu_encode"], extra["mfu_search"]), source)
    return {kind: (mfu, source) for kind, (_, mfu, source) in found.items()}


def _g(flops_per_s: float) -> str:
    return f"{flops_per_s / 1e9:.3g} GFLOP/s"


# ---------------------------------------------------------------- the measured sides (child processes), CPU or GPU


def passage_lengths(count: int, mean_tokens: float, spread: float, max_len: int, seed: int = 0) -> np.ndarray:
    """Token counts of `count` passages with mean `mean_tokens`: all equal when spread is 0, else log-normal.

    Log-normal (sigma = spread) because passage lengths have a long right tail,
    cut at max_len as the tokenizer cuts them (and at least 8 tokens). The cut
    removes part of the tail, so the scale is solved for (bisection on the same
    draws) to keep the mean after the cut at `mean_tokens`.
    """
    if spread == 0:
        return np.full(count, round(mean_tokens), dtype=np.int64)
    standard = np.random.default_rng(seed).standard_normal(count)

    def draw(scale: float) -> np.ndarray:
        return np.clip(np.round(scale * np.exp(spread * standard)), 8, max_len)

    low, high = 1.0, float(max_len)  # draw(scale).mean() grows with scale
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if draw(middle).mean() < mean_tokens else (low, middle)
    return draw((low + high) / 2).astype(np.int64)


def _torch_dtype(dtype: str):
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[dtype]


def _synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def encode_side(device: str, dtype: str, passages: int, batch_size: int, mean_tokens: float, spread: float,
                max_len: int, layers: int = 12, hidden: int = 768, intermediate: int = 3072, heads: int = 12) -> dict:
    """Encode random token ids with a randomly initialised RoBERTa of this shape; model FLOPs of the real tokens.

    Length-sorted batches (ance_core.encode.batching), each padded to its longest
    row, under inference_mode; on a GPU under autocast to `dtype`, as
    ance_core.encode.inference runs it. One warm-up batch (the longest) first.
    """
    import torch
    from transformers import RobertaConfig, RobertaModel

    from ance_core.encode.batching import length_sorted_batches

    torch.manual_seed(0)
    config = RobertaConfig(num_hidden_layers=layers, hidden_size=hidden, intermediate_size=intermediate,
                           num_attention_heads=heads)
    model = RobertaModel(config, add_pooling_layer=False).to(device).eval()
    lengths = passage_lengths(passages, mean_tokens, spread, max_len)
    batches = length_sorted_batches(lengths, batch_size)
    generator = torch.Generator().manual_seed(0)
    # Real tokens avoid the special ids 0-2 (<s>, <pad>, </s>): position ids skip padding by id.
    ids = torch.randint(3, config.vocab_size, (passages, int(lengths.max())), generator=generator)
    inputs = []
    for batch in batches:
        width = int(lengths[batch].max())
        mask = (torch.arange(width)[None, :] < torch.from_numpy(lengths[batch])[:, None]).long()
        batch_ids = torch.where(mask.bool(), ids[batch, :width], config.pad_token_id)
        inputs.append((batch_ids.to(device), mask.to(device)))
    on_gpu_in_16_bits = device.startswith("cuda") and dtype != "fp32"
    autocast = torch.autocast(device_type="cuda", dtype=_torch_dtype(dtype)) if on_gpu_in_16_bits else nullcontext()
    with torch.inference_mode(), autocast:
        model(input_ids=inputs[0][0], attention_mask=inputs[0][1])  # warm-up: kernels, allocator
        _synchronize(device)
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats(device)
        wall, cpu = time.perf_counter(), time.process_time()
        for batch_ids, mask in inputs:
            model(input_ids=batch_ids, attention_mask=mask).last_hidden_state[:, 0]
        _synchronize(device)
        seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    shape = EncoderShape(layers, hidden, intermediate)
    padded = sum(len(b) * int(lengths[b].max()) for b in batches)
    return {
        "seconds": seconds, "cpu_seconds": cpu_seconds, "passages": passages,
        "flops": float(sum(shape.sequence_flops(float(t)) for t in lengths)),
        "mean_tokens": float(lengths.mean()), "padding": 1 - float(lengths.sum()) / padded,
        "device_peak_mib": torch.cuda.max_memory_allocated(device) / 2**20 if device.startswith("cuda") else None,
    }


def gemm_side(device: str, dtype: str, m: int, k: int, n: int, repeats: int, calls: int = 1) -> dict:
    """The best of `repeats` timings of `calls` torch.mm (m×k)·(k×n): the achievable matmul peak."""
    import torch

    a = torch.randn(m, k, device=device).to(_torch_dtype(dtype))
    b = torch.randn(k, n, device=device).to(_torch_dtype(dtype))
    torch.mm(a, b)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        _synchronize(device)
        wall = time.perf_counter()
        for _ in range(calls):
            torch.mm(a, b)
        _synchronize(device)
        best = min(best, time.perf_counter() - wall)
    return {"seconds": best, "flops": 2.0 * m * k * n * calls, "shape": f"{m}×{k}·{k}×{n}"}


def cpu_search_side(queries: int, corpus: int, dim: int, k: int) -> dict:
    """One `blocked_search` (our CPU exact search) of random fp16 unit vectors, after a small warm-up."""
    from ance_core.index import blocked_search

    rng = np.random.default_rng(0)
    q, c = (rng.standard_normal((n, dim), dtype=np.float32) for n in (queries, corpus))
    q, c = ((x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float16) for x in (q, c))
    blocked_search(q[:16], c, k)
    wall = time.perf_counter()
    blocked_search(q, c, k)
    return {"seconds": time.perf_counter() - wall, "flops": 2.0 * queries * corpus * dim}
