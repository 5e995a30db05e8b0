"""Row group `train`: training throughput of the ANCE trainer against what a user would otherwise run.

Work: MiniLM (builtin:debian-10pct), triples (query, positive, one hard negative),
batch 8, AdamW, fp32, one CPU thread per side (on a shared 2-core machine a
second OpenMP thread slows training down). The same negatives file (20 seeded
random negatives for each of 400 train queries), the same model and the same
examples in the same order (our Feed decides which) feed every side.

Row 1, pairwise rdot_nll (ANCE's loss), queries cut at 32 tokens, passages at 128:
* ours: `ance_core.train` (Trainer + Feed, checkpointing off): token ids from the
  token cache, queries padded to their longest row, the passages (positives and
  negatives) sorted by length and encoded in chunks, each cut to its own longest
  row (PairForward.encode_by_length);
* plain HF: `AutoModel` + mean pooling + L2 normalisation (MiniLM's own pooling),
  texts tokenized once up front (truncated, unpadded, as `Dataset.map` gives
  them), each batch padded to its longest row by `DataCollatorWithPadding`, one
  forward per column (query, positive, negative), the same loss written out
  (-log softmax of [q·p, q·n]), AdamW, the same clipping.

Row 2, in-batch negatives, as sentence-transformers users train:
* ours: the same trainer with `infonce` (1 positive + 1 hard negative + the batch's
  other passages, temperature 0.05);
* sentence-transformers: `MultipleNegativesRankingLoss(scale=20)` (the same loss:
  cosine = dot on MiniLM's unit vectors, 20 = 1/0.05) on (query, positive, negative)
  text triples, tokenized per batch with `model.tokenize` at max_seq_length 128 as
  its data collator does, AdamW, the same clipping. The loop is written out
  (SentenceTransformerTrainer runs the same forward, loss and optimizer step, plus
  its logging/callback machinery, which would only add to its time).
Queries are cut at 128 tokens on both sides of row 2 (sentence-transformers has one
max_seq_length); Debian queries are shorter than that.

Each side is a fresh process that loads its model, runs WARM_STEPS steps, then
times STEPS steps; sides interleaved (ours, HF, ours infonce, ST, ...) over
MIN_ROUNDS rounds. Rows report training examples (triples) per second, median
round; ratio = ours / the alternative, per round.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import MIN_ROUNDS, Row, interleave, measure

GROUP = "train"
TARGET = 1.0  # at least as fast as what a user would otherwise run
TEMPERATURE = 0.05
BATCH = 8
QUERY_LEN, PASSAGE_LEN = 32, 128
QUERIES, NEGATIVES = 400, 20
STEPS, QUICK_STEPS, WARM_STEPS = 5, 2, 1  # 4 sides × 3 rounds of ~25 s (benchmarks/README.md)

logger = logging.getLogger(__name__)


def run(options) -> list[Row]:
    steps = QUICK_STEPS if options.quick else STEPS
    folder = Path(options.scratch) / "train"
    make_inputs(folder)
    names = ("ours", "hf", "ours_infonce", "st")
    results = interleave(MIN_ROUNDS, {
        name: (lambda name=name: measure(__name__, f"{name}_side", folder=str(folder), steps=steps))
        for name in names}, label="train")

    def row(ours: str, theirs: str, label: str, setting: str) -> Row:
        rates = {name: [steps * BATCH / s.seconds for s in results[name]] for name in (ours, theirs)}
        cpu = {name: [steps * BATCH / s.extra["cpu_seconds"] for s in results[name]] for name in (ours, theirs)}
        tokens = {name: float(np.median([s.extra["passage_tokens"] for s in results[name]])) for name in (ours, theirs)}
        return Row.from_rounds(
            GROUP, label, rates[ours], rates[theirs], "triples/s", TARGET,
            max(s.peak_mem_mib for s in results[ours]), max(s.peak_mem_mib for s in results[theirs]),
            lower_is_better=False,
            note=(f"builtin:debian-10pct, batch {BATCH}, {setting}, AdamW fp32, 1 thread, {steps} steps after "
                  f"{WARM_STEPS}; CPU-time rate ratio per round "
                  f"{', '.join(f'{o / t:.2f}' for o, t in zip(cpu[ours], cpu[theirs]))}; "
                  f"padded passage tokens per step {tokens[ours]:.0f} vs {tokens[theirs]:.0f}"),
        )

    return [
        row("ours", "hf", "MiniLM rdot_nll training, ours vs a plain-HF loop (DataCollatorWithPadding)",
            f"q/p max len {QUERY_LEN}/{PASSAGE_LEN}, dynamic padding both sides"),
        row("ours_infonce", "st",
            "MiniLM in-batch InfoNCE training, ours vs sentence-transformers MultipleNegativesRankingLoss",
            f"+1 hard negative each, in-batch negatives, max len {PASSAGE_LEN} both sides, scale 20 = temperature 0.05"),
    ]


def make_inputs(folder: Path) -> None:
    """A negatives file of seeded random negatives for the first train queries with a positive."""
    from ance_core.config import Experiment
    from ance_core.data import load_collection, load_qrels, load_queries
    from ance_core.data.subset import subset_source
    from ance_core.data.negatives import newest_complete, negatives_path, write_negatives

    if newest_complete(folder / "negatives") is not None:
        return
    source = subset_source(Experiment(name="bench", outputs={"root": str(folder / "runs")}))
    collection = load_collection(source.collection)
    queries = load_queries(source.queries("train"))
    qrels = load_qrels(source.qrels("train"))
    rng = np.random.default_rng(0)
    records = []
    for qid in queries.ids.ids[:QUERIES]:
        positives = qrels.relevant(qid)
        negatives = [pid for pid in collection.ids.ids_of(rng.choice(len(collection), NEGATIVES + 5, replace=False))
                     if pid not in positives][:NEGATIVES]
        records.append({"qid": qid, "pos": positives, "neg": negatives, "neg_ranks": list(range(NEGATIVES))})
    write_negatives(negatives_path(folder / "negatives", 0), records)


def _setup(folder: str, query_len: int = QUERY_LEN, loss: dict | None = None):
    import torch

    from ance_core.config import Experiment
    from ance_core.config.schema import ModelConfig, TrainConfig
    from ance_core.data.subset import subset_source
    from ance_core.data.tokcache import token_cache
    from ance_core.model import load_encoder

    torch.set_num_threads(1)
    torch.manual_seed(0)
    encoder = load_encoder("minilm", ModelConfig(query_max_len=query_len, passage_max_len=PASSAGE_LEN))
    source = subset_source(Experiment(name="bench", outputs={"root": str(Path(folder) / "runs")}))
    cache = Path(folder) / "cache"
    passages = token_cache(encoder.tokenizer, source.collection, cache, PASSAGE_LEN, show_progress=False)
    queries = token_cache(encoder.tokenizer, source.queries("train"), cache, query_len, show_progress=False)
    config = TrainConfig(batch_size=BATCH, lr=2e-5, optimizer="adamw", schedule="constant", checkpoint_every=10**9,
                         **({"loss": loss} if loss else {}))
    return encoder, queries, passages, config


def _timed(step, steps: int) -> dict:
    for _ in range(WARM_STEPS):
        step()
    wall, cpu = time.perf_counter(), time.process_time()
    tokens = sum(step() for _ in range(steps))
    return {"seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu, "passage_tokens": tokens / steps}


# ---------------------------------------------------------------- the measured sides (child processes)


def ours_side(folder: str, steps: int, query_len: int = QUERY_LEN, loss: dict | None = None) -> dict:
    import torch

    from ance_core.train.distributed import DistInfo
    from ance_core.data.negatives import newest_complete
    from ance_core.train.trainer import Feed, Trainer

    encoder, queries, passages, config = _setup(folder, query_len, loss)
    trainer = Trainer(encoder, config, lr=config.lr, total_steps=10**6, warmup_steps=0, dist=DistInfo(),
                      device=torch.device("cpu"))
    feed = Feed(queries, passages, seed=0, negatives_per_example=1)
    feed.load(newest_complete(Path(folder) / "negatives"))

    def step() -> int:
        batches = feed.next_batches(BATCH, 1, trainer.dist)
        trainer.train_step(batches)
        return chunked_tokens(batches[0].passage["attention_mask"])

    return _timed(step, steps)


def _same_examples(folder: str, query_len: int):
    """(query texts, passage texts, the Feed's examples, the TrainConfig): the triples ours trains on, in its order."""
    from ance_core.config import Experiment
    from ance_core.data import load_collection, load_queries
    from ance_core.data.subset import subset_source
    from ance_core.data.negatives import newest_complete
    from ance_core.train.trainer import Feed

    encoder, queries, passages, config = _setup(folder, query_len)
    del encoder  # only its tokenizer's token cache was needed: the Feed works on token rows
    feed = Feed(queries, passages, seed=0, negatives_per_example=1)
    feed.load(newest_complete(Path(folder) / "negatives"))
    source = subset_source(Experiment(name="bench", outputs={"root": str(Path(folder) / "runs")}))
    return (load_queries(source.queries("train")).texts, load_collection(source.collection).texts, feed.examples,
            config)


def hf_side(folder: str, steps: int) -> dict:
    """A plain transformers loop: AutoModel, DataCollatorWithPadding, the loss written out."""
    import torch
    import torch.nn.functional as F
    from transformers import AutoModel, AutoTokenizer, DataCollatorWithPadding

    from ance_core.model import minilm_path
    from ance_core.train.data import Position

    query_texts, passage_texts, examples, config = _same_examples(folder, QUERY_LEN)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()))
    model = AutoModel.from_pretrained(str(minilm_path()))
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    collator = DataCollatorWithPadding(tokenizer)
    # Tokenized once up front, truncated and unpadded, as Dataset.map(tokenizer) leaves them.
    query_features = tokenizer(query_texts, truncation=True, max_length=QUERY_LEN)
    passage_features = tokenizer(passage_texts, truncation=True, max_length=PASSAGE_LEN)
    position = Position()

    def column(features, rows) -> dict:
        return collator([{key: features[key][r] for key in ("input_ids", "attention_mask")} for r in rows])

    def embed(batch: dict) -> torch.Tensor:
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return F.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)

    def step() -> int:
        nonlocal position
        rows, position = examples.take(0, position, BATCH)
        q_batch = column(query_features, examples.q_rows[rows])
        p_batch = column(passage_features, examples.pos_rows[rows])
        n_batch = column(passage_features, examples.neg_rows[rows, 0])
        q, p, n = embed(q_batch), embed(p_batch), embed(n_batch)
        logits = torch.stack([(q * p).sum(-1), (q * n).sum(-1)], dim=1)
        loss = F.cross_entropy(logits, torch.zeros(len(rows), dtype=torch.long))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return int(p_batch["input_ids"].numel() + n_batch["input_ids"].numel())

    return _timed(step, steps)


def chunked_tokens(mask) -> int:
    """Padded passage tokens the trainer's forward runs: its length-sorted chunks, each cut to its longest."""
    from ance_core.train.trainer import length_chunks

    lengths, chunks = length_chunks(mask)
    return sum(len(rows) * int(lengths[rows[0]]) for rows in chunks)


INFONCE = {"kind": "infonce", "temperature": TEMPERATURE, "in_batch": True, "negatives_per_query": 1}


def ours_infonce_side(folder: str, steps: int) -> dict:
    return ours_side(folder, steps, query_len=PASSAGE_LEN, loss=INFONCE)


def st_side(folder: str, steps: int) -> dict:
    import torch
    from sentence_transformers.losses import MultipleNegativesRankingLoss

    from ance_core.train.data import Position
    from benchmarks.baselines.sentence_transformers_encode import load

    # The Feed only decides which examples, in which order: the same triples as ours.
    query_texts, passage_texts, examples, config = _same_examples(folder, PASSAGE_LEN)
    position = Position()

    torch.manual_seed(0)
    model = load(PASSAGE_LEN)
    model.train()
    loss_fn = MultipleNegativesRankingLoss(model, scale=1.0 / TEMPERATURE)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)

    def step() -> int:
        nonlocal position
        rows, position = examples.take(0, position, BATCH)
        columns = ([query_texts[r] for r in examples.q_rows[rows]], [passage_texts[r] for r in examples.pos_rows[rows]],
                   [passage_texts[r] for r in examples.neg_rows[rows, 0]])
        features = [model.tokenize(texts) for texts in columns]
        loss = loss_fn(features, None)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return int(features[1]["input_ids"].numel() + features[2]["input_ids"].numel())

    return _timed(step, steps)
