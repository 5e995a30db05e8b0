"""The scale model: what one full MS MARCO refresh costs, from FLOP counts and measured rates.

Pure arithmetic, no measuring (benchmarks/rows/scale.py and rows/gpu.py measure
and call it). A refresh (ance_core.mining.refresh) with a warm token cache:

    encode the corpus + encode the train queries + exact top-K search
    + sample the negatives (CPU) + write embeddings and negatives

What is counted (model FLOPs, the convention of MFU in PaLM, Chowdhery et al.
2022, appendix B):
* an encoder forward: 2 FLOPs (multiply + add) per weight of every matmul, per
  real token - the Q, K, V, output projections (4·h²) and the two FFN matrices
  (2·h·i) of each layer - plus attention's two T×T products (QKᵀ and AV:
  2·T²·h each) per layer. Not counted: biases, LayerNorm, softmax, GELU,
  embedding lookups (no matmul; ~1% of the total), ANCE's 768×768 head (once
  per sequence: <0.02%), and padding (length-sorted batches make it small; what
  remains lowers the measured MFU instead of raising the FLOP count);
* exact search: the scores GEMM, 2·Q·N·d; selecting the top K adds no FLOPs;
* not counted at all: tokenizing (the token cache is built once, before the
  first refresh), host-device copies, the dev evaluation (6,980 dev queries,
  1.4% of the train search), loading the checkpoint.

MFU = achieved model FLOP/s ÷ peak FLOP/s. Peaks of GPU kinds are the vendor
datasheets' dense (no sparsity) BF16 tensor-core figures.
"""

from __future__ import annotations

from dataclasses import dataclass

# The FLOP model and GPU kinds live in ance_core (the launcher's estimate uses them too).
from ance_core.flops import GPU_KINDS, MINILM_L6, ROBERTA_BASE, EncoderShape, GpuKind, gpu_kind, search_flops

__all__ = ["GPU_KINDS", "MINILM_L6", "ROBERTA_BASE", "EncoderShape", "GpuKind", "Hardware", "MS_MARCO", "Projection",
           "RefreshShape", "gpu_kind", "negatives_line_bytes", "project_refresh", "search_flops"]

# ---------------------------------------------------------------- FLOP counts


# ---------------------------------------------------------------- the MS MARCO refresh


@dataclass(frozen=True)
class RefreshShape:
    """The work of one refresh: corpus, train queries, search depth, what gets written."""

    passages: int
    passage_tokens: float  # mean real tokens per passage, after the cut at passage_max_len
    passage_max_len: int
    queries: int
    query_tokens: float
    query_max_len: int
    top_k: int
    dim: int
    negatives: int  # negatives kept per query (the study's 20)

    def written_bytes(self) -> float:
        """fp16 corpus and query embeddings (the embedding cache) + the negatives file."""
        embeddings = 2.0 * self.dim * (self.passages + self.queries)
        return embeddings + self.queries * negatives_line_bytes(self.negatives, id_digits=len(str(self.passages)))


def negatives_line_bytes(negatives: int, id_digits: int) -> int:
    """One line of negatives-<r>.jsonl: {"qid":"…","pos":["…"],"neg":[…],"neg_ranks":[…]}.

    Each negative id is a quoted string plus a comma (id_digits + 3), each rank up
    to 3 digits plus a comma (4); ~50 bytes of keys, qid and positive.
    """
    return 50 + negatives * (id_digits + 3) + negatives * 4


# MS MARCO passage ranking: collection.tsv has 8,841,823 passages, queries.train.tsv
# 502,939 queries (the sizes of the official files). Token counts are declared, not
# measured (no RoBERTa tokenizer offline here): passages average ~56 words (the shared
# data README) and RoBERTa's BPE gives ~1.3-1.4 tokens per English word, plus <s> and
# </s>: 75-80; we take 80, the upper end, so that the projection errs slow. Queries
# average ~6 words: ~10 tokens. Cuts: passages at 128 tokens (the bundle's
# passage_max_len; ANCE cut at 512), queries at 64 (ANCE's; the bundle's default is
# 32). The means are after the cut; the cuts bound rows/gpu.py's length distribution.
MS_MARCO = RefreshShape(
    passages=8_841_823,
    passage_tokens=80,
    passage_max_len=128,
    queries=502_939,
    query_tokens=10,
    query_max_len=64,
    top_k=200,
    dim=768,
    negatives=20,
)


# ---------------------------------------------------------------- GPU kinds


# ---------------------------------------------------------------- the projection


@dataclass(frozen=True)
class Hardware:
    """Where a refresh runs: its peak and the fraction of it that encoding and search reach."""

    name: str
    peak_flops: float
    mfu_encode: float
    mfu_search: float
    peak_source: str  # "datasheet …" or "measured …"
    mfu_source: str  # "measured …" or "assumed …"


@dataclass(frozen=True)
class Projection:
    seconds: dict[str, float]  # phase -> seconds
    lines: list[str]  # the arithmetic, one phase per line

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    @property
    def hours(self) -> float:
        return self.total_seconds / 3600


def project_refresh(
    hardware: Hardware,
    sampling_seconds: float,
    write_bytes_per_s: float,
    shape: RefreshShape = MS_MARCO,
    encoder: EncoderShape = ROBERTA_BASE,
) -> Projection:
    """Seconds of one refresh of `shape` on `hardware`, phase by phase, with the arithmetic as text.

    `sampling_seconds`: the segment sampler on all of shape.queries (CPU, measured
    by the samplers row); `write_bytes_per_s`: the disk the embedding cache is on.
    """
    rate_encode = hardware.peak_flops * hardware.mfu_encode
    rate_search = hardware.peak_flops * hardware.mfu_search
    per_passage = encoder.sequence_flops(shape.passage_tokens)
    per_query = encoder.sequence_flops(shape.query_tokens)
    seconds: dict[str, float] = {}
    lines = [
        f"{hardware.name}: peak {_rate(hardware.peak_flops)} ({hardware.peak_source}), "
        f"MFU encode {hardware.mfu_encode:.3g}, search {hardware.mfu_search:.3g} ({hardware.mfu_source})",
        f"FLOP per sequence of T tokens = 2·{_si(encoder.matmul_weights)}·T"
        f" + 4·{encoder.layers}·T²·{encoder.hidden}"
        f" = {_e(per_passage)} at T={shape.passage_tokens:g} (mean, cut at {shape.passage_max_len}),"
        f" {_e(per_query)} at T={shape.query_tokens:g} (cut at {shape.query_max_len})",
    ]

    def encode(phase: str, count: int, tokens: float, flops_each: float) -> None:
        flops = count * flops_each
        seconds[phase] = flops / rate_encode
        lines.append(f"{phase}: {_si(count)} × {_e(flops_each)} FLOP ({tokens:g} tok) = {_e(flops)} FLOP"
                     f" / ({_rate(hardware.peak_flops)} × {hardware.mfu_encode:.3g}) = {_s(seconds[phase])}")

    encode("encode passages", shape.passages, shape.passage_tokens, per_passage)
    encode("encode queries", shape.queries, shape.query_tokens, per_query)
    flops = search_flops(shape.queries, shape.passages, shape.dim)
    seconds["search"] = flops / rate_search
    lines.append(f"search: 2 × {_si(shape.queries)} × {_si(shape.passages)} × {shape.dim} = {_e(flops)} FLOP"
                 f" / ({_rate(hardware.peak_flops)} × {hardware.mfu_search:.3g}) = {_s(seconds['search'])}"
                 f" (top-{shape.top_k})")
    seconds["sample"] = sampling_seconds
    lines.append(f"sample: {_s(sampling_seconds)} (segment sampler, {_si(shape.queries)} queries × top-{shape.top_k})")
    written = shape.written_bytes()
    seconds["write"] = written / write_bytes_per_s
    lines.append(f"write: {written / 1e9:.3g} GB (fp16 embeddings + negatives) / {write_bytes_per_s / 1e9:.3g} GB/s"
                 f" = {_s(seconds['write'])}")
    total = sum(seconds.values())
    lines.append(f"total: {' + '.join(_n(s) for s in seconds.values())} s = {_s(total)}")
    return Projection(seconds=seconds, lines=lines)


def _si(value: float) -> str:
    """8841823 -> '8.84M', 9.89e14 -> '989T' (three significant digits)."""
    for factor, suffix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def _rate(flops_per_s: float) -> str:
    """9.89e14 -> '989 TFLOP/s'."""
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M")):
        if flops_per_s >= factor:
            return f"{flops_per_s / factor:.3g} {prefix}FLOP/s"
    return f"{flops_per_s:.3g} FLOP/s"


def _e(value: float) -> str:
    """1.2345e17 -> '1.23e17'."""
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _n(value: float) -> str:
    """Three significant digits, whole numbers in full: 0.0123, 1.3, 353, 4,100,000."""
    return f"{float(f'{value:.3g}'):,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _s(seconds: float) -> str:
    """Seconds, with minutes or hours when those read better."""
    if seconds >= 7200:
        return f"{_n(seconds)} s ({_n(seconds / 3600)} h)"
    if seconds >= 120:
        return f"{_n(seconds)} s ({_n(seconds / 60)} min)"
    return f"{_n(seconds)} s"
