"""Row group `mine`: `ance mine` end to end against sentence-transformers' `mine_hard_negatives`.

Same work on both sides: MiniLM (offline package), a 20% passage subset of
builtin:debian-10pct (`data.subset`, seed 7: ~1,200 passages and the train queries
whose positive survived; `--quick`: 5%), encode the corpus and the queries, exact
top-200 by inner product, 20 negatives per query from the top of the list
(positives excluded); batch size 128 and passage length 128 on both sides, CPU,
torch's default threads, cold caches. The subset is made once, before any side
runs; both sides read the same folder.

* ours: `ance_core.mining.refresh` (what `ance mine --no-eval` runs): model load,
  tokenize + encode through the embedding cache, blocked exact search, the
  top20 segment sampler, the negatives file and its stats;
* baseline: `SentenceTransformer(minilm)` + `mine_hard_negatives(dataset,
  corpus=..., range_max=200, num_negatives=20, use_faiss=True)`; needs the
  `datasets` package (`pip install datasets`).
Each run is its own process, interleaved (ours, ST, ours, ST, ...) over MIN_ROUNDS
rounds; round i of ours is compared with round i of ST. Time includes loading the
model, not importing libraries (transformers' BERT code is imported before the
clock on both sides). Peak memory is each process's VmHWM; the target (≥ 1.5× at
no more memory) needs ours' highest round at or under the baseline's lowest. The
note says how close our corpus encode runs to the CPU's fp32 matmul rate: the
profile behind the ratio.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import MIN_ROUNDS, Row, interleave, measure, peak_rss_mib
from benchmarks.scale import MINILM_L6

GROUP = "mine"
TARGET = 1.5
DATA = "builtin:debian-10pct"
SUBSET, QUICK_SUBSET = 0.2, 0.05  # 3 rounds × 2 sides of ~40-50 s (benchmarks/README.md)
TOP_K = 200
NEGATIVES = 20
BATCH = 128
MAX_LEN = 128

logger = logging.getLogger(__name__)


def run(options) -> list[Row]:
    dataset = str(make_subset(Path(options.scratch) / "mine", QUICK_SUBSET if options.quick else SUBSET))
    results = interleave(MIN_ROUNDS, {
        "ours": lambda: measure(__name__, "ours_side", timeout_s=3600, scratch=str(options.scratch), dataset=dataset),
        "st": lambda: measure(__name__, "st_side", timeout_s=3600, dataset=dataset),
    }, label="mine")
    ours_runs, st_runs = results["ours"], results["st"]
    ours, theirs = ours_runs[-1], st_runs[-1]
    phases = ", ".join(f"{k} {v:.1f}" for k, v in ours.extra["phases"].items())
    note = (f"{DATA} subset {ours.extra['passages']} passages, {ours.extra['queries']} train queries "
            f"(ST: {theirs.extra['queries']}), top-{TOP_K}, {NEGATIVES} negatives, batch {BATCH}, cold caches; "
            f"CPU time median {statistics.median(s.extra['cpu_seconds'] for s in ours_runs):.0f} s vs "
            f"{statistics.median(s.extra['cpu_seconds'] for s in st_runs):.0f} s; ours (last round) by phase: {phases}; "
            f"corpus encode {ours.extra['corpus_gflops']:.0f} GFLOP/s of model FLOPs ({ours.extra['mean_tokens']:.0f} "
            f"tokens/passage) vs {ours.extra['gemm_gflops']:.0f} GFLOP/s for one fp32 GEMM of MiniLM's FFN shape")
    return [Row.from_rounds(
        GROUP, "ance mine vs ST mine_hard_negatives (encode + top-200 + 20 negatives)",
        [s.seconds for s in ours_runs], [s.seconds for s in st_runs], "s", TARGET,
        max(s.peak_mem_mib for s in ours_runs), max(s.peak_mem_mib for s in st_runs),
        peak_limit_mib=min(s.peak_mem_mib for s in st_runs), note=note,
        extra={"phases": [s.extra["phases"] for s in ours_runs]},
    )]


def make_subset(folder: Path, fraction: float) -> Path:
    """The passage subset both sides mine (ance_core.data.subset, as `data.subset` makes it): its folder."""
    from ance_core.config import validate_experiment
    from ance_core.data.subset import subset_source

    experiment = validate_experiment({"name": "bench-mine-subset", "data": {"dataset": DATA,
                                      "subset": {"fraction": fraction}}, "outputs": {"root": str(folder)}})
    return subset_source(experiment).root


def _train_pairs(dataset: str):
    """(query texts, positive texts, all passage texts) of the train queries with a positive in the corpus."""
    from ance_core.data import load_collection, load_qrels, load_queries
    from ance_core.data.layout import resolve_dataset

    source = resolve_dataset(dataset)
    collection = load_collection(source.collection)
    queries = load_queries(source.queries("train"))
    qrels = load_qrels(source.qrels("train"))
    pairs = []
    for qid, text in zip(queries.ids.ids, queries.texts):
        rows = [r for r in collection.ids.rows(qrels.relevant(qid)).tolist() if r >= 0]
        if rows:
            pairs.append((text, collection.texts[rows[0]]))
    return [q for q, _ in pairs], [p for _, p in pairs], collection.texts


# ---------------------------------------------------------------- the measured sides (child processes)


def ours_side(scratch: str, dataset: str) -> dict:
    import transformers.models.bert.modeling_bert  # noqa: F401  imported before the clock, as the ST side's are

    from ance_core.config import validate_experiment
    from ance_core.data.tokcache import token_cache
    from ance_core.mining import refresh
    from ance_core.model import minilm_path
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory(dir=scratch) as root:
        experiment = validate_experiment({
            "name": "bench-mine",
            "data": {"dataset": dataset},
            "model": {"name": "minilm", "passage_max_len": MAX_LEN},
            "warmup": {"enabled": False},
            "ance": {"top_k": TOP_K, "segment": {"kind": "top", "windows": [[0, NEGATIVES]], "n": NEGATIVES},
                     "encode": {"batch_size": BATCH}},
            "outputs": {"root": root},
        })
        wall, cpu = time.perf_counter(), time.process_time()
        result = refresh(experiment, "minilm", Path(root) / "run", refresh=0, seed=0, evaluate=False,
                         show_progress=False)
        seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
        peak_mem_mib = round(peak_rss_mib(), 1)  # the mining's, before the profile loads a tokenizer
        # The profile: the corpus encode's model FLOP/s against this CPU's fp32 GEMM rate
        # (the cached token lengths give the exact FLOPs of every passage).
        from ance_core.data.subset import subset_source

        tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()))
        lengths = token_cache(tokenizer, subset_source(experiment).collection, Path(root) / "_cache", MAX_LEN,
                              show_progress=False).lengths.astype(np.float64)
    stats = result.stats
    flops = float(sum(MINILM_L6.sequence_flops(t) for t in lengths))
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "queries": stats["queries"], "passages": stats["corpus"],
            "phases": stats["seconds"], "positive_in_topk": stats["positive_in_topk"],
            "corpus_gflops": flops / 1e9 / stats["seconds"]["encode_corpus"], "mean_tokens": float(lengths.mean()),
            "gemm_gflops": gemm_gflops(int(BATCH * lengths.mean())), "peak_mem_mib": peak_mem_mib}


def gemm_gflops(rows: int) -> float:
    """Best of 5 fp32 torch.mm of MiniLM's FFN shape, (rows×384)·(384×1536): what the encoder's biggest matmul can reach."""
    from benchmarks.rows.scale import gemm_side

    gemm = gemm_side("cpu", "fp32", m=rows, k=MINILM_L6.hidden, n=MINILM_L6.intermediate, repeats=5)
    return gemm["flops"] / gemm["seconds"] / 1e9


def st_side(dataset: str) -> dict:
    import transformers.models.bert.modeling_bert  # noqa: F401  before the clock, as on our side
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    from benchmarks.baselines.sentence_transformers_encode import load

    queries, positives, corpus = _train_pairs(dataset)
    dataset = Dataset.from_dict({"query": queries, "positive": positives})
    wall, cpu = time.perf_counter(), time.process_time()
    model = load(MAX_LEN)
    mined = mine_hard_negatives(dataset, model, corpus=corpus, range_max=TOP_K, num_negatives=NEGATIVES,
                                sampling_strategy="top", batch_size=BATCH, use_faiss=True, verbose=False,
                                output_format="n-tuple")
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "queries": len(queries), "rows": len(mined)}
