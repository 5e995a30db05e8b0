"""Row group `gpu` (`make bench-gpu`, on a GPU node; `make bench` skips it): encode and search rates, MFU.

On the first CUDA device, each in its own process:
* bf16 matmul: the best of 5 × 10 `torch.mm` of 8192×8192 bf16 - what this GPU
  reaches in practice, next to its datasheet peak (dense BF16, no sparsity);
* encode: a randomly initialised RoBERTa-base (RobertaConfig defaults) under
  inference_mode and bf16 autocast (as ance_core.encode.inference runs it),
  65,536 passages whose lengths are log-normal with mean 80 tokens, cut at 128
  (the MS MARCO shape benchmarks/scale.py declares), length-sorted batches of
  128 (the bundle's default) and 512; `--quick`: 8,192 passages;
* exact top-200 search of 65,536 queries in 1,000,000 passages, d = 768:
  faiss `GpuIndexFlatIP` with fp16 vectors when faiss has GPU support, else
  `torch.mm` in bf16 + `torch.topk` on the GPU (the row says which);
* the disk: 1 GiB written and fsync'ed in the scratch folder.
MFU = achieved model FLOP/s (benchmarks/scale.py counts them) ÷ the datasheet
peak of the detected kind (benchmarks.scale.GPU_KINDS; an unknown kind: ÷ the
measured matmul peak). The last row projects one full MS MARCO refresh on this
GPU from these measured rates (a projected row: its own section, never ticked),
shown against the moonshot (15 min).

Without a CUDA device the group stops before measuring anything, so that no
rows are written.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from benchmarks.harness import PROJECTED, Row, measure
from benchmarks.rows.scale import MOONSHOT_HOURS, STUDY_HOURS, sampling_seconds
from benchmarks.scale import MS_MARCO, Hardware, gpu_kind, project_refresh

GROUP = "gpu"
NO_GPU = "bench-gpu needs a CUDA GPU: torch.cuda.is_available() is False"
SIDES = "benchmarks.rows.scale"  # the encode and matmul sides are shared with the CPU measurements
PASSAGES, QUICK_PASSAGES = 65_536, 8_192
LENGTH_SPREAD = 0.4  # sigma of the log-normal passage lengths
BATCH_SIZES = (128, 512)
MATMUL = 8192
SEARCH, QUICK_SEARCH = (65_536, 1_000_000), (8_192, 200_000)  # queries, passages
WRITE_MIB = 1024

logger = logging.getLogger(__name__)


def run(options) -> list[Row]:
    import torch

    if not torch.cuda.is_available():
        raise SystemExit(NO_GPU)  # before any measuring: the entry point writes nothing
    device_name = torch.cuda.get_device_name(0)
    kind = gpu_kind(device_name)
    passages = QUICK_PASSAGES if options.quick else PASSAGES
    queries, corpus = QUICK_SEARCH if options.quick else SEARCH

    logger.info("gpu: %s, bf16 matmul peak", device_name)
    matmul = measure(SIDES, "gemm_side", device="cuda", dtype="bf16", m=MATMUL, k=MATMUL, n=MATMUL, repeats=5,
                     calls=10)
    encodes = {}
    for batch_size in BATCH_SIZES:
        logger.info("gpu: encode %d passages, batch %d", passages, batch_size)
        encodes[batch_size] = measure(SIDES, "encode_side", device="cuda", dtype="bf16", passages=passages,
                                      batch_size=batch_size, mean_tokens=MS_MARCO.passage_tokens,
                                      spread=LENGTH_SPREAD, max_len=MS_MARCO.passage_max_len)
    logger.info("gpu: search %d × %d", queries, corpus)
    search = measure(__name__, "search_side", device="cuda", queries=queries, corpus=corpus, dim=MS_MARCO.dim,
                     k=MS_MARCO.top_k)
    logger.info("gpu: disk write")
    write = measure(__name__, "write_side", folder=str(options.scratch), mib=WRITE_MIB)

    matmul_rate = matmul.extra["flops"] / matmul.seconds
    peak, peak_label = ((kind.peak_flops, f"the {kind.name} datasheet peak (dense BF16)") if kind
                        else (matmul_rate, "the measured bf16 matmul peak (unknown kind: no datasheet peak)"))
    rates = {bs: side.extra["flops"] / side.seconds for bs, side in encodes.items()}
    best_bs = max(rates, key=rates.get)
    encode_rate, search_rate = rates[best_bs], search.extra["flops"] / search.seconds
    write_rate = write.extra["bytes"] / write.seconds
    sampling, sampling_source = sampling_seconds(MS_MARCO.queries)
    here = Hardware(device_name, peak, encode_rate / peak, search_rate / peak,
                    peak_source=peak_label.removeprefix("the "),
                    mfu_source=f"measured: encode at batch {best_bs}, search with {search.extra['engine']}")
    projection = project_refresh(here, sampling, write_rate)
    setting = f"{device_name}; random-init RoBERTa-base, bf16 autocast, inference_mode"
    matmul_note = f"bf16 matmul {matmul.extra['shape']}: {_t(matmul_rate)}"

    def encode_row(batch_size: int) -> Row:
        side = encodes[batch_size]
        e = side.extra
        return Row(GROUP, f"RoBERTa-base bf16 encode, batch {batch_size}", e["passages"] / side.seconds, None,
                   "passages/s", None, side.peak_mem_mib, lower_is_better=False,
                   note=f"{setting}; {e['passages']} passages, mean {e['mean_tokens']:.3g} tokens (log-normal, cut at "
                        f"{MS_MARCO.passage_max_len}), length-sorted, padding {e['padding']:.1%}; "
                        f"{_t(rates[batch_size])}"
                        f" = MFU {rates[batch_size] / peak:.3f} of {peak_label}, {rates[batch_size] / matmul_rate:.3f} "
                        f"of the {matmul_note}; GPU memory peak {e['device_peak_mib']:.0f} MiB",
                   extra={"device": device_name, "mfu": rates[batch_size] / peak})

    rows = [encode_row(bs) for bs in BATCH_SIZES]
    rows += [
        Row(GROUP, f"RoBERTa-base bf16 encode (batch {best_bs}) vs peak", encode_rate / 1e12, peak / 1e12, "TFLOP/s",
            None, encodes[best_bs].peak_mem_mib, lower_is_better=False,
            note=f"ratio = MFU against {peak_label}; against the {matmul_note}: {encode_rate / matmul_rate:.3f}; "
                 f"model FLOPs of real tokens (benchmarks/scale.py)",
            extra={"device": device_name, "mfu_vs_matmul": encode_rate / matmul_rate}),
        Row(GROUP, "bf16 matmul vs peak", matmul_rate / 1e12, peak / 1e12, "TFLOP/s", None, matmul.peak_mem_mib,
            lower_is_better=False,
            note=f"{device_name}; {matmul_note}, best of 5 × 10 calls; ratio against {peak_label}",
            extra={"device": device_name}),
        Row(GROUP, "exact top-200 search vs peak", search_rate / 1e12, peak / 1e12, "TFLOP/s", None,
            search.peak_mem_mib, lower_is_better=False,
            note=f"{device_name}; {search.extra['engine']}; Q={queries} × N={corpus} × d={MS_MARCO.dim}, k="
                 f"{MS_MARCO.top_k}, best of {search.extra['repeats']}: {search.seconds:.3g} s; ratio against "
                 f"{peak_label}; {search_rate / matmul_rate:.3f} of the {matmul_note}",
            extra={"device": device_name, "engine": search.extra["engine"]}),
        Row(GROUP, "one full MS MARCO refresh projected on this GPU (measured rates)", projection.hours, STUDY_HOURS,
            "h", STUDY_HOURS / MOONSHOT_HOURS, None, kind=PROJECTED,
            note=f"reference = the study, {STUDY_HOURS:g} h per refresh on 4×A40; shown against the moonshot, "
                 f"{MOONSHOT_HOURS * 60:g} min ({STUDY_HOURS:g} h / {MOONSHOT_HOURS * 60:g} min = "
                 f"{STUDY_HOURS / MOONSHOT_HOURS:g}×); " + "; ".join(projection.lines)
                 + f"; sampling {sampling:.3g} s ({sampling_source}); write rate measured ({WRITE_MIB} MiB, fsync)",
            extra={"device": device_name, "gpu_kind": kind.name if kind else None, "mfu_encode": here.mfu_encode,
                   "mfu_search": here.mfu_search, "seconds": projection.seconds}),
    ]
    return rows


def _t(flops_per_s: float) -> str:
    return f"{flops_per_s / 1e12:.3g} TFLOP/s"


# ---------------------------------------------------------------- the measured sides (child processes)


def search_side(device: str, queries: int, corpus: int, dim: int, k: int, repeats: int = 3,
                use_faiss: bool | None = None) -> dict:
    """Exact top-k of random unit vectors: faiss GpuIndexFlatIP (fp16) if faiss has GPUs, else torch bf16 + topk.

    `use_faiss` None: faiss when this faiss build sees a GPU. The best of
    `repeats` searches, after a small warm-up search.
    """
    import torch

    from ance_core.index.faiss_index import faiss_gpus, import_faiss

    generator = torch.Generator(device=device).manual_seed(0)
    q, c = (torch.randn(n, dim, device=device, generator=generator) for n in (queries, corpus))
    q, c = (x / x.norm(dim=1, keepdim=True) for x in (q, c))
    if use_faiss is None:
        use_faiss = faiss_gpus() > 0
    if use_faiss:
        faiss = import_faiss()
        resources = faiss.StandardGpuResources()
        config = faiss.GpuIndexFlatConfig()
        config.device = torch.device(device).index or 0
        config.useFloat16 = True
        index = faiss.GpuIndexFlatIP(resources, dim, config)
        index.add(c.cpu().numpy())
        host_queries = q.cpu().numpy()
        del q, c

        def search() -> None:  # queries from and results to host memory, as ance_core.index runs it
            index.search(host_queries, k)

        engine = "faiss GpuIndexFlatIP, fp16 vectors"
    else:
        q, c = q.bfloat16(), c.bfloat16()
        chunk = max(1, min(queries, (1 << 30) // corpus))  # a chunk's scores: at most 2^30 bf16 values (2 GiB)

        def search() -> None:
            for start in range(0, queries, chunk):
                torch.topk(q[start : start + chunk] @ c.T, k, dim=1)
            if device.startswith("cuda"):
                torch.cuda.synchronize(device)

        engine = "torch.mm bf16 + torch.topk" + ("" if faiss_gpus() > 0 else " (this faiss has no GPU support)")
    search()  # warm-up: kernels, cuBLAS handles, faiss' temporary memory
    best = float("inf")
    for _ in range(repeats):
        wall = time.perf_counter()
        search()
        best = min(best, time.perf_counter() - wall)
    return {"seconds": best, "flops": 2.0 * queries * corpus * dim, "engine": engine, "repeats": repeats}


def write_side(folder: str, mib: int) -> dict:
    """Seconds to write `mib` MiB and fsync them (the embedding cache is written this way, in large chunks)."""
    import numpy as np

    chunk = np.random.default_rng(0).integers(0, 255, 64 << 20, dtype=np.uint8).tobytes()
    path = Path(folder) / "write-probe.bin"
    wall = time.perf_counter()
    with open(path, "wb") as out:
        for _ in range(max(1, mib // 64)):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    seconds = time.perf_counter() - wall
    path.unlink()
    return {"seconds": seconds, "bytes": max(1, mib // 64) * len(chunk)}
