"""Row group `train`: training throughput of the ANCE trainer against an ANCE-style step.

Work: MiniLM (builtin:debian-10pct), pairwise rdot_nll triples (query, positive, one
negative), batch 8, AdamW, fp32, queries cut at 32 tokens and passages at 128,
one CPU thread per side (on a shared 2-core machine a second OpenMP thread slows
training down). The same negatives file (20 seeded random negatives for each of 400
train queries) and the same model feed both sides.

* ours: `ance_core.train` (Trainer + Feed, checkpointing off): token ids from the
  token cache, queries padded to their longest row, the passages (positives and
  negatives) sorted by length and encoded in chunks, each cut to its own longest row
  (PairForward.encode_by_length).
* ANCE-style: what microsoft/ANCE's run_ann.py does per step: inputs pre-padded to
  the maximum length (its preprocessing pads every passage to max_seq_length) and
  three forward passes (query, positive, negative: RobertaDot_NLL_LN.forward).

A second row trains with in-batch negatives, as sentence-transformers users would:

* ours: the same trainer with `infonce` (1 positive + 1 hard negative + the batch's
  other passages, temperature 0.05);
* sentence-transformers: `MultipleNegativesRankingLoss(scale=20)` (the same loss:
  cosine = dot on MiniLM's unit vectors, 20 = 1/0.05) on (query, positive, negative)
  text triples, tokenized per batch with `model.tokenize` at max_seq_length 128 as
  its data collator does, AdamW, the same clipping, the same examples in the same
  order. The loop is written out (SentenceTransformerTrainer runs the same forward,
  loss and optimizer step, plus its logging/callback machinery, which would only
  add to its time).

Queries are cut at 128 tokens on both sides of this row (sentence-transformers has
one max_seq_length); Debian queries are shorter than that.

Rows report training examples (triples) per second; ratio = ours / the alternative.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from benchmarks.harness import Row, measure

GROUP = "train"
TARGET = 1.3
ST_TARGET = 1.0  # at least as fast as sentence-transformers' training
TEMPERATURE = 0.05
BATCH = 8
QUERY_LEN, PASSAGE_LEN = 32, 128
QUERIES, NEGATIVES = 400, 20
STEPS, QUICK_STEPS, WARM_STEPS = 10, 5, 2
ROUNDS = 1

logger = logging.getLogger(__name__)


def run(options) -> list[Row]:
    steps = QUICK_STEPS if options.quick else STEPS
    rounds = 1 if options.quick else ROUNDS
    folder = Path(options.scratch) / "train"
    make_inputs(folder)
    results: dict[str, list] = {"ours": [], "ance": [], "ours_infonce": [], "st": []}
    for round_ in range(rounds):
        for name in results:
            logger.info("train: round %d, %s", round_ + 1, name)
            results[name].append(measure(__name__, f"{name}_side", folder=str(folder), steps=steps))
    best = {name: min(sides, key=lambda s: s.seconds) for name, sides in results.items()}
    rate = {name: steps * BATCH / side.seconds for name, side in best.items()}
    cpu_rate = {name: steps * BATCH / side.extra["cpu_seconds"] for name, side in best.items()}
    tokens = {name: side.extra["passage_tokens"] for name, side in best.items()}
    return [Row(
        GROUP, "MiniLM in-batch InfoNCE training, ours vs sentence-transformers MultipleNegativesRankingLoss",
        rate["ours_infonce"], rate["st"], "triples/s", ST_TARGET, best["ours_infonce"].peak_mem_mib,
        best["st"].peak_mem_mib, lower_is_better=False,
        note=(f"builtin:debian-10pct, batch {BATCH} (+1 hard negative each, in-batch negatives), max len "
              f"{PASSAGE_LEN} both sides, scale 20 = temperature 0.05, AdamW fp32, 1 thread, {steps} steps after "
              f"{WARM_STEPS}, {rounds} rounds, best; CPU-time rate {cpu_rate['ours_infonce']:.2f} vs "
              f"{cpu_rate['st']:.2f} triples/CPU-s; passage tokens per step {tokens['ours_infonce']:.0f} vs "
              f"{tokens['st']:.0f}"),
    ), Row(
        GROUP, "MiniLM rdot_nll training, ours vs ANCE-style step (fixed padding, 3 forwards)",
        rate["ours"], rate["ance"], "triples/s", TARGET, best["ours"].peak_mem_mib, best["ance"].peak_mem_mib,
        lower_is_better=False,
        note=(f"builtin:debian-10pct, batch {BATCH}, q/p max len {QUERY_LEN}/{PASSAGE_LEN}, AdamW fp32, 1 thread, "
              f"{steps} steps after {WARM_STEPS}, {rounds} rounds, best; CPU-time rate {cpu_rate['ours']:.2f} vs "
              f"{cpu_rate['ance']:.2f} triples/CPU-s; passage tokens per step {tokens['ours']:.0f} vs {tokens['ance']:.0f}"),
    )]


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


def ance_side(folder: str, steps: int) -> dict:
    import torch

    from ance_core.train.data import Position
    from ance_core.train.losses import pairwise_nll
    from ance_core.data.negatives import newest_complete
    from ance_core.train.optim import build_optimizer
    from ance_core.train.trainer import Feed

    encoder, queries, passages, config = _setup(folder)
    encoder.train()
    optimizer = build_optimizer(encoder, config, config.lr)
    feed = Feed(queries, passages, seed=0, negatives_per_example=1)  # the same examples in the same order
    feed.load(newest_complete(Path(folder) / "negatives"))
    examples, position = feed.examples, Position()

    def fixed(tokens, rows, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        ids, mask = tokens.padded(rows)
        out = np.full((len(rows), length), tokens.pad_id, dtype=np.int64)
        out_mask = np.zeros((len(rows), length), dtype=np.int64)
        out[:, : ids.shape[1]], out_mask[:, : ids.shape[1]] = ids, mask
        return torch.from_numpy(out), torch.from_numpy(out_mask)

    def step() -> int:
        nonlocal position
        rows, position = examples.take(0, position, BATCH)
        q = encoder.encode(*fixed(queries, examples.q_rows[rows], QUERY_LEN), "query")
        a = encoder.encode(*fixed(passages, examples.pos_rows[rows], PASSAGE_LEN), "passage")
        b = encoder.encode(*fixed(passages, examples.neg_rows[rows, 0], PASSAGE_LEN), "passage")
        loss = pairwise_nll(q, a, b.unsqueeze(1), encoder)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(encoder.parameters(), config.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return 2 * BATCH * PASSAGE_LEN

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

    from ance_core.config import Experiment
    from ance_core.data import load_collection, load_queries
    from ance_core.data.subset import subset_source
    from ance_core.train.data import Position
    from ance_core.data.negatives import newest_complete
    from ance_core.train.trainer import Feed
    from benchmarks.baselines.sentence_transformers_encode import load

    # The Feed only decides which examples, in which order: the same triples as ours.
    _encoder, queries, passages, config = _setup(folder, PASSAGE_LEN, INFONCE)
    feed = Feed(queries, passages, seed=0, negatives_per_example=1)
    feed.load(newest_complete(Path(folder) / "negatives"))
    examples, position = feed.examples, Position()
    source = subset_source(Experiment(name="bench", outputs={"root": str(Path(folder) / "runs")}))
    query_texts = load_queries(source.queries("train")).texts
    passage_texts = load_collection(source.collection).texts
    del _encoder

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
