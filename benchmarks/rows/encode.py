"""Row group `encode`: `ance encode`'s code path against `SentenceTransformer.encode`, same MiniLM.

Inputs: the first N passages of the Debian corpus (500; `--quick`: 100), max
length 128, batch size 128 (EncodeConfig's default) on both sides, CPU, torch's
default thread count on both sides. Each measured run is a fresh process that
loads its model, encodes a few texts to warm up, then times the work; the sides
are interleaved (ST, ours cold, ours int8, ST, ...) over MIN_ROUNDS rounds, and
round i of ours is compared with round i of ST.

Our code path on CPU runs each 128-row batch in forwards of at most
`cpu_token_budget` padded tokens (2,730 for MiniLM), so that activations stay
under glibc's mmap threshold and reuse memory instead of page-faulting in fresh
pages; the batch size both sides are given is the same.

Ours, two ways:
* cold token cache: the first `ance encode` of a collection: tokenize into the
  token cache, then embed (length-sorted batches) - the row with the target; a
  refresh with new weights (warm token cache) saves the tokenizing seconds the
  note gives;
* int8: the warm path with the CPU-quantized encoder (EncodeConfig.quantize_cpu).
The note of each row gives the rate in CPU time too (passages per CPU-second),
which shared, loaded machines distort much less than wall time.

A last row measures what int8 costs in retrieval quality: MiniLM fp32 against
int8 on builtin:debian-10pct's 218 dev queries over a 2,000-passage slice of its
collection (every dev positive, then the first other passages), exact search,
MRR@10. One run per side: the result is deterministic (a quality, not a time).
"""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import MIN_ROUNDS, Row, interleave, measure

GROUP = "encode"
TARGET_RATIO = 1.3
PASSAGES = 500  # 3 rounds × 3 sides of ~10-15 s + model loads: ~2.5 min (benchmarks/README.md)
QUICK_PASSAGES = 100
MAX_LEN = 128
BATCH_SIZE = 128
QUALITY_LENGTHS = (32, 64)  # the embedded default's query and passage lengths
QUALITY_PASSAGES, QUICK_QUALITY_PASSAGES = 2000, 400

logger = logging.getLogger(__name__)


def run(options) -> list[Row]:
    n = QUICK_PASSAGES if options.quick else PASSAGES
    folder = Path(options.scratch) / "encode"
    source = make_inputs(folder, n)
    sides = {
        "st": ("st_side", {}),
        "cold": ("ours_side", {"warm": False, "quantize": False}),
        "int8": ("ours_side", {"warm": True, "quantize": True}),
    }
    results = interleave(MIN_ROUNDS, {
        name: (lambda name=name, function=function, extra=extra: measure(
            __name__, function, folder=str(folder), batch_size=BATCH_SIZE, max_len=MAX_LEN,
            save=str(folder / f"{name}.npy"), **extra))
        for name, (function, extra) in sides.items()}, label="encode")
    agree = _cosines(folder / "cold.npy", folder / "st.npy")
    int8_agree = _cosines(folder / "int8.npy", folder / "cold.npy")
    setting = f"{n} Debian passages ({source}), max len {MAX_LEN}, batch {BATCH_SIZE}"
    st = results["st"]

    def row(name: str, label: str, target: float | None, note: str) -> Row:
        ours = results[name]
        cpu_ratios = [(n / o.extra["cpu_seconds"]) / (n / t.extra["cpu_seconds"]) for o, t in zip(ours, st)]
        return Row.from_rounds(
            GROUP, label, [n / s.seconds for s in ours], [n / s.seconds for s in st], "passages/s", target,
            max(s.peak_mem_mib for s in ours), max(s.peak_mem_mib for s in st), lower_is_better=False,
            note=f"{setting}; CPU-time rate ratio per round {', '.join(f'{r:.2f}' for r in cpu_ratios)}; {note}",
            extra={"ours_cpu_seconds": [s.extra["cpu_seconds"] for s in ours],
                   "baseline_cpu_seconds": [s.extra["cpu_seconds"] for s in st]},
        )

    tokenize = statistics.median(s.extra["tokenize_seconds"] for s in results["cold"])
    rows = [
        row("cold", "MiniLM fp32, cold token cache (first ance encode)", TARGET_RATIO,
            f"tokenizing {tokenize:.2f} s of it (median; a refresh's warm cache skips it); "
            f"cosine to ST min {agree[0]:.5f}"),
        row("int8", "MiniLM int8 (quantize_cpu), warm token cache", None,
            f"cosine to fp32 mean {int8_agree[1]:.4f}, min {int8_agree[0]:.4f}"),
    ]
    logger.info("encode: retrieval quality, fp32 and int8")
    collection = str(quality_inputs(folder, QUICK_QUALITY_PASSAGES if options.quick else QUALITY_PASSAGES))
    fp32 = measure(__name__, "quality_side", collection=collection, quantize=False)
    int8 = measure(__name__, "quality_side", collection=collection, quantize=True)
    rows.append(Row(
        GROUP, "int8 vs fp32 retrieval quality (debian-10pct dev slice, 64-token passages)",
        int8.extra["MRR@10"], fp32.extra["MRR@10"], "MRR@10", None, int8.peak_mem_mib, fp32.peak_mem_mib,
        lower_is_better=False,
        note=f"R@100 {int8.extra['R@100']:.4f} vs {fp32.extra['R@100']:.4f}; exact search; "
             f"{int8.extra['passages']} passages, {int8.extra['queries']} queries; baseline = our fp32; "
             f"one run per side (deterministic)",
    ))
    return rows


def _cosines(a_path: Path, b_path: Path) -> tuple[float, float]:
    a, b = np.load(a_path).astype(np.float32), np.load(b_path).astype(np.float32)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    return float(cos.min()), float(cos.mean())


# ---------------------------------------------------------------- inputs


def make_inputs(folder: Path, n: int) -> str:
    """collection.tsv with the first n passages of builtin:debian (else the packaged builtin:debian-10pct)."""
    from ance_core.data import iter_collection
    from ance_core.data.layout import resolve_dataset
    from ance_core.errors import InputError

    try:
        source = resolve_dataset("builtin:debian")
    except InputError:
        source = resolve_dataset("builtin:debian-10pct")
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for _, pid, text in iter_collection(source.collection):
        rows.append(f"{pid}\t{text}\n")
        if len(rows) == n:
            break
    (folder / "collection.tsv").write_text("".join(rows), encoding="utf-8")
    return source.spec


def _texts(folder: Path) -> list[str]:
    from ance_core.data import load_collection

    return load_collection(folder / "collection.tsv").texts


# ---------------------------------------------------------------- the measured sides (child processes)


def st_side(folder: str, batch_size: int, max_len: int, save: str) -> dict:
    from benchmarks.baselines.sentence_transformers_encode import encode, load

    texts = _texts(Path(folder))
    model = load(max_len)
    encode(model, texts[:8], batch_size)  # warm-up: first-call initialisation is not what we compare
    wall, cpu = time.perf_counter(), time.process_time()
    vectors = encode(model, texts, batch_size)
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    np.save(save, vectors.astype(np.float16))
    return {"seconds": seconds, "cpu_seconds": cpu_seconds}


def ours_side(folder: str, batch_size: int, max_len: int, save: str, warm: bool, quantize: bool) -> dict:
    """What `ance encode --checkpoint minilm --collection` runs after loading the model."""
    import tempfile

    from ance_core.data.tokcache import token_cache
    from ance_core.encode import embed, quantize_for_cpu
    from ance_core.model import load_encoder

    folder_path = Path(folder)
    encoder = load_encoder("minilm")
    embed(encoder, _texts(folder_path)[:8], "passage", batch_size=batch_size, show_progress=False)  # warm-up
    with tempfile.TemporaryDirectory(dir=folder_path) as cache_root:
        if warm:
            token_cache(encoder.tokenizer, folder_path / "collection.tsv", cache_root, max_len, show_progress=False)
        wall, cpu = time.perf_counter(), time.process_time()
        tokens = token_cache(encoder.tokenizer, folder_path / "collection.tsv", cache_root, max_len, show_progress=False)
        tokenize_seconds = time.perf_counter() - wall
        model = quantize_for_cpu(encoder) if quantize else encoder
        vectors = embed(model, tokens, "passage", batch_size=batch_size, show_progress=False)
        seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    np.save(save, vectors)
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "tokenize_seconds": tokenize_seconds}


def quality_inputs(folder: Path, size: int) -> Path:
    """A slice of builtin:debian-10pct: every dev positive, then the first other passages, `size` in all.

    A slice, not the whole 6,023 passages, so that the two encodes fit in `make bench`'s
    20 minutes; every dev query keeps its positives, so MRR@10 stays meaningful (if
    higher than on the whole collection: fewer distractors).
    """
    from ance_core.data import iter_collection, load_qrels
    from ance_core.data.layout import resolve_dataset

    source = resolve_dataset("builtin:debian-10pct")
    qrels = load_qrels(source.qrels("dev"))
    positives = {pid for qid in qrels.by_query for pid in qrels.relevant(qid)}
    collection = list(iter_collection(source.collection))
    others = size - sum(pid in positives for _, pid, _ in collection)
    rows = []
    for _, pid, text in collection:
        if pid in positives or others > 0:
            others -= pid not in positives
            rows.append(f"{pid}\t{text}\n")
    path = folder / "quality-collection.tsv"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(rows), encoding="utf-8")
    return path


def quality_side(collection: str, quantize: bool) -> dict:
    """MRR@10 and R@100 of MiniLM on builtin:debian-10pct dev over `collection`, exact inner-product search.

    At the embedded default's lengths (queries 32, passages 64 tokens): the setting in which
    its refreshes use the int8 copy, and half the encode time of 128-token passages.
    """
    import tempfile

    from ance_core.data import load_qrels
    from ance_core.data.layout import resolve_dataset
    from ance_core.encode import embed_queries
    from ance_core.encode.cache import embed_file
    from ance_core.config.schema import ModelConfig
    from ance_core.model import load_encoder

    source = resolve_dataset("builtin:debian-10pct")
    encoder = load_encoder("minilm", ModelConfig(query_max_len=QUALITY_LENGTHS[0], passage_max_len=QUALITY_LENGTHS[1]))
    with tempfile.TemporaryDirectory() as cache_root:
        wall = time.perf_counter()
        pids, passages = embed_file(encoder, collection, "passage", cache_root, quantize=quantize, show_progress=False)
        seconds = time.perf_counter() - wall
        qids, queries = embed_queries(encoder, source, "dev", cache_root, quantize=quantize, show_progress=False)
    qrels = load_qrels(source.qrels("dev"))
    scores = queries.astype(np.float32) @ passages.astype(np.float32).T
    top = np.argsort(-scores, axis=1)[:, :100]
    mrr, recall = [], []
    for row, qid in enumerate(qids.ids):
        relevant = set(qrels.relevant(qid))
        ranked = pids.ids_of(top[row])
        hits = [i for i, pid in enumerate(ranked[:10]) if pid in relevant]
        mrr.append(1.0 / (hits[0] + 1) if hits else 0.0)
        recall.append(len(relevant & set(ranked)) / max(len(relevant), 1))
    return {"seconds": seconds, "MRR@10": float(np.mean(mrr)), "R@100": float(np.mean(recall)),
            "passages": len(pids), "queries": len(qids)}
