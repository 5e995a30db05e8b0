"""The BM25 warm-up (ANCE's run_warmup.py): BM25 negatives, the same trainer, checkpoint-0.

Every strategy of one seed starts from the same warm-up, so it lives outside the
runs, at `<outputs.root>/_warmup/<key>-seed<S>/`, keyed by the sections that
shape it (data, model, warmup, train, eval). The first `ance warmup`/`ance run`
to need it trains it under a lock; the others wait and reuse `checkpoint-0`.
Killed half-way, it resumes from its own checkpoints like a run does.

Instead of a warm-up, `warmup.init_checkpoint` starts from a given checkpoint
(the study started from ANCE's released warm-up) and `warmup.enabled: false`
from `model.name` as it is.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path

import numpy as np

from ance_core.config import Experiment, experiment_hash
from ance_core.config.schema import RandomSegment
from ance_core.data import load_collection, load_qrels, load_queries
from ance_core.data.tokcache import token_cache
from ance_core.errors import InputError
from ance_core.io.atomic import is_complete
from ance_core.model import load_encoder, save_encoder
from ance_core.sampling import PositiveSets, refresh_seed, sample_negatives
from ance_core.train import distributed as D
from ance_core.train import rundir
from ance_core.train.bm25 import BM25Index
from ance_core.train.checkpoint import CHECKPOINTS_DIR, latest_checkpoint, load_state, seed_everything
from ance_core.train.data_source import data_source, train_qrels_queries
from ance_core.train.metrics import METRICS_FILE, MetricsLog
from ance_core.train.negatives import NEGATIVES_DIR, negatives_path, newest_complete, write_negatives
from ance_core.train.signals import StopFlag
from ance_core.train.trainer import Feed, Session, Trainer, check_precision

log = logging.getLogger(__name__)

WARMUP_DIR = "_warmup"
FINAL = "checkpoint-0"
# The sampler stream of the BM25 negatives, apart from every ANCE refresh's stream.
WARMUP_STREAM = 0x57524D55
SECTIONS = ("data", "model", "warmup", "train", "eval")


def warmup_experiment(experiment: Experiment, seed: int) -> Experiment:
    """Only the sections that shape the warm-up, so every strategy of a seed maps to one folder."""
    return Experiment(
        name="warmup", seeds=[seed], outputs=experiment.outputs,
        **{section: getattr(experiment, section) for section in SECTIONS},
    )


def warmup_dir(experiment: Experiment, seed: int) -> Path:
    key = experiment_hash(experiment, *SECTIONS)
    return Path(experiment.outputs.root) / WARMUP_DIR / f"{key}-seed{seed}"


def start_checkpoint(experiment: Experiment, seed: int, dist: D.DistInfo, stop: StopFlag) -> str:
    """What refresh 0 mines with: init_checkpoint, model.name, or the (shared) warm-up's checkpoint-0."""
    if experiment.warmup.init_checkpoint:
        return experiment.warmup.init_checkpoint
    if not experiment.warmup.enabled:
        return experiment.model.name
    return str(run_warmup(experiment, seed, dist, stop))


def run_warmup(experiment: Experiment, seed: int, dist: D.DistInfo, stop: StopFlag) -> Path:
    """Train the warm-up unless it is complete; returns `checkpoint-0`."""
    directory = warmup_dir(experiment, seed)
    final = directory / FINAL
    lock = rundir.exclusive(directory.with_name(directory.name + ".lock"), "the warm-up", wait=True)
    with lock if dist.main else contextlib.nullcontext():
        if D.broadcast(dist, is_complete(final)):
            log.info("warm-up %s: reusing %s", directory.name, final)
            return final
        _train(warmup_experiment(experiment, seed), seed, directory, dist, stop)
    return final


def _train(experiment: Experiment, seed: int, directory: Path, dist: D.DistInfo, stop: StopFlag) -> None:
    # ---- setup
    cfg, train_cfg = experiment.warmup, experiment.train
    device = D.device_for(dist)
    check_precision(train_cfg.precision, device)
    if dist.main:
        rundir.prepare(directory, experiment, "warmup")
    metrics = MetricsLog(directory / METRICS_FILE)
    negatives_dir = directory / NEGATIVES_DIR
    if dist.main and newest_complete(negatives_dir) is None:
        mine_bm25(experiment, seed, negatives_path(negatives_dir, 0), metrics)
    D.barrier(dist)
    negatives = newest_complete(negatives_dir)
    assert negatives is not None

    resume = latest_checkpoint(directory)
    encoder = load_encoder(str(resume.path) if resume else experiment.model.name, experiment.model)
    cache = rundir.cache_root(experiment)
    source = data_source(experiment)
    passages = token_cache(encoder.tokenizer, source.collection, cache, encoder.spec.passage_max_len)
    queries = token_cache(encoder.tokenizer, source.queries(experiment.data.train_split), cache, encoder.spec.query_max_len)
    trainer = Trainer(
        encoder, train_cfg, lr=cfg.lr, total_steps=cfg.steps, warmup_steps=cfg.steps // 10, dist=dist, device=device
    )
    feed = Feed(queries, passages, seed, trainer.loss_fn.negatives)
    session = Session(directory, trainer, feed, metrics, stop, phase="warmup")
    if resume:
        log.info("warm-up: resuming from %s", resume.path)
        if dist.main:
            metrics.rewind(resume.step)
        session.restore(load_state(resume), negatives)
    else:
        seed_everything(seed + dist.rank)
        feed.load(negatives)

    # ---- train
    session.run(cfg.steps)

    # ---- checkpoint-0
    if dist.main:
        save_encoder(trainer.encoder, directory / FINAL)
        metrics.emit("warmup_done", step=cfg.steps, checkpoint=str(directory / FINAL))
        shutil.rmtree(directory / CHECKPOINTS_DIR, ignore_errors=True)  # only resume points; checkpoint-0 is the result
        log.info("warm-up done: %s", directory / FINAL)
    D.barrier(dist)


def mine_bm25(experiment: Experiment, seed: int, path: Path, metrics: MetricsLog) -> None:
    """BM25 top-`bm25_depth` of the train queries -> `negatives_per_query` random non-positive negatives each."""
    cfg = experiment.warmup
    if cfg.negatives_per_query > cfg.bm25_depth:
        raise InputError.single(None, "warmup.negatives_per_query", f"<= warmup.bm25_depth ({cfg.bm25_depth})", cfg.negatives_per_query)
    source = data_source(experiment)
    collection = load_collection(source.collection)
    split = experiment.data.train_split
    queries = load_queries(source.queries(split))
    qrels = load_qrels(source.qrels(split))
    qids, positives = train_qrels_queries(queries, qrels, collection, cfg.query_fraction, seed)
    depth = min(cfg.bm25_depth, len(collection))
    if cfg.negatives_per_query > depth - 1:
        raise InputError.single(None, "warmup.negatives_per_query", f"< the collection size ({len(collection)})", cfg.negatives_per_query)
    log.info("BM25: indexing %d passages, ranking %d train queries (top %d)", len(collection), len(qids), depth)
    index = BM25Index(collection.texts)
    rows, _ = index.search([queries.texts[queries.ids.row(q)] for q in qids], depth)
    segment = RandomSegment(windows=[(0, depth)], n=cfg.negatives_per_query)
    sampled = sample_negatives(segment, rows, PositiveSets.from_lists(positives), seed=refresh_seed(seed, WARMUP_STREAM))
    pids = np.asarray(collection.ids.ids, dtype=object)

    def records():
        for q, qid in enumerate(qids):
            count = int(sampled.counts[q])
            yield {
                "qid": qid,
                "pos": pids[positives[q]].tolist(),
                "neg": pids[sampled.neg_ids[q, :count]].tolist(),
                "neg_ranks": sampled.neg_ranks[q, :count].tolist(),
            }

    stats = write_negatives(path, records(), source="bm25", depth=depth, queries=len(qids), seed=seed)
    log.info("BM25 negatives: %s (%d queries)", path, stats["lines"])
