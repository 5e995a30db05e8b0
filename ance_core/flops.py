"""The FLOP model of the bundle's encoders and GPUs: one home for the benchmarks' scale model
(benchmarks/scale.py) and the launcher's GPU-hour estimate (launcher/estimate.py).

What is counted (model FLOPs, the convention of MFU in PaLM, Chowdhery et al. 2022,
appendix B): an encoder forward is 2 FLOPs per weight of every matmul per real token,
plus attention's two T×T products per layer; a training step is 3 forwards (the
backward pass costs two); exact search is the scores GEMM, 2·Q·N·d. Peaks of GPU
kinds are the vendor datasheets' dense (no sparsity) BF16 tensor-core figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# MFU (fraction of the peak reached) for encoding and search until `make bench-gpu` measures a kind.
ASSUMED_MFU = (0.35, 0.6)


@dataclass(frozen=True)
class EncoderShape:
    """A BERT-style encoder's matmul shape (transformers' num_hidden_layers, hidden_size, intermediate_size)."""

    layers: int
    hidden: int
    intermediate: int

    @property
    def matmul_weights(self) -> int:
        """Weights in the matmuls of all layers: per layer Q, K, V, O (4·h²) and the FFN's two matrices (2·h·i)."""
        return self.layers * (4 * self.hidden * self.hidden + 2 * self.hidden * self.intermediate)

    def matmul_flops(self, tokens: float) -> float:
        """2 FLOPs per weight per token."""
        return 2.0 * self.matmul_weights * tokens

    def attention_flops(self, tokens: float) -> float:
        """QKᵀ and AV of one sequence of `tokens`: 2·T²·h each, per layer."""
        return 4.0 * self.layers * tokens * tokens * self.hidden

    def sequence_flops(self, tokens: float) -> float:
        """Forward FLOPs of one sequence of `tokens` real tokens."""
        return self.matmul_flops(tokens) + self.attention_flops(tokens)


# RobertaConfig() defaults = roberta-base, the study's encoder (ANCE's RobertaDot_NLL_LN).
ROBERTA_BASE = EncoderShape(layers=12, hidden=768, intermediate=3072)
# all-MiniLM-L6-v2 (its config.json), the embedded default's encoder.
MINILM_L6 = EncoderShape(layers=6, hidden=384, intermediate=1536)


def search_flops(queries: int, passages: int, dim: int) -> float:
    """Exact inner-product search: the Q×N score matrix, d multiply-adds each."""
    return 2.0 * queries * passages * dim


@dataclass(frozen=True)
class GpuKind:
    name: str
    bf16_dense_tflops: float  # dense BF16 tensor-core peak, no sparsity (the datasheet's figure without '*')
    source: str
    pattern: str  # regex on torch.cuda.get_device_name(), upper-cased

    @property
    def peak_flops(self) -> float:
        return self.bf16_dense_tflops * 1e12


# Ordered: the first match wins (an 'H200 NVL' must not be read as an H200 SXM).
# FP16 tensor-core peaks are the same as BF16 on all of these (faiss' fp16 search).
GPU_KINDS = (
    GpuKind("A40", 149.7, "NVIDIA A40 datasheet: BF16 149.7 TFLOPS dense (299.4 with sparsity)", r"\bA40\b"),
    GpuKind("A100", 312.0, "NVIDIA A100 datasheet (SXM and PCIe): BF16 312 TFLOPS dense (624 with sparsity)",
            r"\bA100\b"),
    GpuKind("H100 PCIe", 756.0, "NVIDIA H100 datasheet: PCIe BF16 1,513 TFLOPS with sparsity, 756 dense",
            r"\bH100\b.*PCIE"),
    GpuKind("H100 NVL", 835.0, "NVIDIA H100 NVL datasheet: BF16 1,671 TFLOPS with sparsity, 835 dense",
            r"\bH100\b.*NVL"),
    GpuKind("H100 SXM", 989.0, "NVIDIA H100 datasheet: SXM BF16 1,979 TFLOPS with sparsity, 989 dense", r"\bH100\b"),
    GpuKind("H200 NVL", 835.0, "NVIDIA H200 datasheet: NVL BF16 1,671 TFLOPS with sparsity, 835 dense",
            r"\bH200\b.*NVL"),
    GpuKind("H200", 989.0, "NVIDIA H200 datasheet: SXM BF16 1,979 TFLOPS with sparsity, 989 dense", r"\bH200\b"),
)


def gpu_kind(name: str) -> GpuKind | None:
    """The kind of a GPU from its name (a kind's own name or torch.cuda.get_device_name()), None if unknown."""
    upper = name.upper()
    for kind in GPU_KINDS:
        if kind.name.upper() == upper or re.search(kind.pattern, upper):
            return kind
    return None
