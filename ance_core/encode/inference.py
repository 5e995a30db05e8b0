"""Batched inference: texts or a token cache -> float16 embeddings in the original row order.

What makes it fast (measured in docs/ and benchmarks/ on this bundle's corpora):
* length-sorted batches padded only to their own longest row (`batching.py`);
* tokens come from the token cache, so a refresh does no tokenizing at all;
* on CPU, forwards of at most `cpu_token_budget` padded tokens, whose activations
  reuse heap memory instead of page-faulting in fresh pages; the free heap goes back
  to the system when it has grown by 256 MiB (`heap.py`), so memory does not grow
  with the corpus;
* `torch.inference_mode`, bf16/fp16 autocast on GPU, fp32 on CPU;
* optionally an int8 dynamically quantized copy of the backbone on CPU.
"""

from __future__ import annotations

import copy
import logging
import warnings
import weakref
from collections.abc import Sequence
from contextlib import nullcontext

import numpy as np
import torch

from ance_core.data.tokcache import Tokenized, tokenize_texts
from ance_core.encode.batching import length_sorted_batches, padding_fraction, split_by_tokens
from ance_core.encode.heap import HeapGuard
from ance_core.console.progress import progress
from ance_core.errors import InputError
from ance_core.model.encoder import DualEncoder, Kind

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# Largest activation of one CPU forward: under glibc's mmap threshold (32 MiB at most),
# so that activation memory is reused instead of page-faulted in (batching.split_by_tokens).
CPU_ACTIVATION_BYTES = 16 << 20
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
_PLURAL = {"query": "queries", "passage": "passages"}


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """None: this rank's GPU under torchrun (LOCAL_RANK), the first GPU, else the CPU.

    A bare 'cuda' also means this rank's GPU, so that `--device cuda` under torchrun
    does not put every rank on GPU 0.
    """
    if device is not None:
        device = torch.device(device)
        if device.type != "cuda" or device.index is not None:
            return device
    elif not torch.cuda.is_available():
        return torch.device("cpu")
    import os

    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % max(torch.cuda.device_count(), 1))


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto' -> bf16 on GPUs that support it, fp16 on older GPUs, fp32 on CPU."""
    if precision not in PRECISIONS:
        raise InputError.single(None, "precision", f"one of {', '.join(PRECISIONS)}", precision)
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


# encoder -> ((its parameter version, its fingerprint) when copied, the int8 copy): one copy per checkpoint, not per
# embed call (a refresh encodes passages, train queries and dev queries with the same weights).
_QUANTIZED: weakref.WeakKeyDictionary[DualEncoder, tuple[tuple[int, str | None], DualEncoder]] = weakref.WeakKeyDictionary()


def quantize_for_cpu(encoder: DualEncoder) -> DualEncoder:
    """An int8 dynamically quantized copy (Linear layers of the backbones; the ANCE head stays fp32).

    Made once per weights: while `encoder`'s parameters are unchanged (no optimizer
    step, no load_state_dict: their version counters), later calls return the same
    copy. It lives as long as `encoder` does.

    Weights are quantized per output channel: on MiniLM over Debian passages that
    keeps the mean cosine to fp32 at 0.981 (min 0.958), where torch's default
    per-tensor scheme gives 0.944 (min 0.878), at the same speed. The head is one
    small matrix right before the embedding: quantizing it would add error where
    it shows most and save nothing measurable.
    """
    try:
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic
    except ImportError as exc:  # torch may drop torch.ao.quantization (deprecated since 2.10)
        raise InputError.single(None, "ance.encode.quantize_cpu", "a torch with torch.ao.quantization", str(exc)) from None
    version = (encoder._param_version(), encoder.fingerprint)
    cached = _QUANTIZED.get(encoder)
    if cached is not None and cached[0] == version:
        return cached[1]
    quantized = copy.deepcopy(encoder).cpu().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*")
        towers = {quantized.passage_tower, quantized.query_tower}
        for tower in towers:
            tower.backbone = quantize_dynamic(
                tower.backbone, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8
            )
    # Different embeddings, so a different cache key; the parameter-version guard cannot
    # see this change (quantized weights are not Parameters), so set it explicitly.
    quantized.set_fingerprint(f"{encoder.fingerprint}+int8" if encoder.fingerprint else None)
    _QUANTIZED[encoder] = (version, quantized)
    return quantized


def cpu_token_budget(encoder: DualEncoder) -> int:
    """Padded token positions per CPU forward so that the FFN activation stays under CPU_ACTIVATION_BYTES."""
    config = encoder.passage_tower.backbone.config
    width = int(getattr(config, "intermediate_size", 0) or 4 * config.hidden_size)
    return max(1, CPU_ACTIVATION_BYTES // (4 * width))


def _autocast(device: torch.device, precision: str):
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


def embed(
    encoder: DualEncoder,
    data: Tokenized | Sequence[str],
    kind: Kind = "passage",
    *,
    batch_size: int = 128,
    precision: str = "auto",
    device: str | torch.device | None = None,
    max_length: int | None = None,
    quantize: bool = False,
    rows: np.ndarray | slice | None = None,
    out: np.ndarray | None = None,
    show_progress: bool = True,
) -> np.ndarray:
    """Embeddings (N, D) float16 of `data` (or of `data[rows]`), in input order.

    `data` is a token cache/`Tokenized` (truncated when it was built) or a list of
    texts (tokenized here to `max_length`, default: the spec's length for `kind`).
    `quantize` encodes with an int8 copy on CPU (EncodeConfig.quantize_cpu).
    `out`: a float16 (N, D) array to fill, e.g. a memory-mapped `.npy`, so that
    8.8M MS MARCO vectors (13 GB) never have to sit in RAM at once.
    """
    device = resolve_device(device)
    precision = resolve_precision(precision, device)
    if quantize and device.type != "cpu":
        raise InputError.single(None, "quantize", "CPU encoding (int8 dynamic quantization is CPU-only)", str(device))
    if not isinstance(data, Tokenized):
        data = tokenize_texts(encoder.tokenizer, list(data), max_length or encoder.spec.max_len(kind))
    lengths = np.asarray(data.lengths)
    selected = np.arange(len(data))[rows] if rows is not None else np.arange(len(data))
    model = quantize_for_cpu(encoder) if quantize else encoder
    was_training = model.training
    model.eval()
    model.to(device)
    batches = length_sorted_batches(lengths[selected], batch_size)
    log.debug("%d %s texts in %d batches, %.1f%% padding, %s on %s", len(selected), kind, len(batches),
              100 * padding_fraction(lengths[selected], batches), precision, device)
    if out is None:
        out = np.empty((len(selected), model.dim), dtype=np.float16)
    elif out.shape != (len(selected), model.dim) or out.dtype != np.float16:
        raise ValueError(f"out: float16 {(len(selected), model.dim)}, found {out.dtype} {out.shape}")
    non_blocking = device.type == "cuda"
    max_tokens = cpu_token_budget(model) if device.type == "cpu" else None
    sub_lengths = lengths[selected]
    heap = HeapGuard() if device.type == "cpu" else None
    with torch.inference_mode(), _autocast(device, precision), \
            progress(len(selected), f"encoding {_PLURAL[kind]}", _PLURAL[kind], enabled=show_progress) as advance:
        for batch in batches:
            for piece in split_by_tokens(batch, sub_lengths, max_tokens):
                ids, mask = data.padded(selected[piece])
                input_ids = torch.from_numpy(ids).to(device, non_blocking=non_blocking)
                attention_mask = torch.from_numpy(mask).to(device, non_blocking=non_blocking)
                emb = model.encode(input_ids, attention_mask, kind)
                out[piece] = emb.float().cpu().numpy()
            if heap is not None:
                heap.check()
            advance(len(batch))
    if was_training:
        model.train()
    return out
