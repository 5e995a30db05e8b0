"""The BM25 warm-up (ANCE's run_warmup.py): BM25 negatives (`mining.bm25`), the baseline rows
(`eval.baselines`), the same trainer as the runs, checkpoint-0.

Every strategy of one seed starts from the same warm-up, so it lives outside the
runs, at `<outputs.root>/_warmup/<key>-seed<S>/`, keyed by the fields that shape
its outputs (`ance_core.config.keys`). The first `ance warmup`/`ance run` to need
it trains it under a lock; the others wait and reuse `checkpoint-0`.
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

from ance_core.config import Experiment, warmup_key
from ance_core.config.schema import TrainConfig
from ance_core.data import Collection, load_collection
from ance_core.data.negatives import NEGATIVES_DIR, negatives_path, newest_complete
from ance_core.data.subset import check_held_out, subset_source
from ance_core.data.tokcache import token_cache
from ance_core.eval.baselines import bm25_baseline, zero_shot_baseline
from ance_core.index.bm25 import BM25Index
from ance_core.io.atomic import is_complete, remove_stale_temps
from ance_core.mining.bm25 import mine_bm25
from ance_core.model import load_encoder, save_encoder
from ance_core.train import distributed as D
from ance_core.train import rundir
from ance_core.train.checkpoint import CHECKPOINTS_DIR, latest_checkpoint, load_state, seed_everything
from ance_core.train.metrics import METRICS_FILE, MetricsLog
from ance_core.train.signals import StopFlag
from ance_core.train.trainer import Feed, Session, Trainer, check_precision

log = logging.getLogger(__name__)

WARMUP_DIR = "_warmup"
FINAL = "checkpoint-0"


def warmup_experiment(experiment: Experiment, seed: int) -> Experiment:
    """The warm-up's own copy: named 'warmup', one seed. Fields outside the warm-up key are those of the
    first strategy to need it; by the key's definition they change nothing the warm-up writes."""
    return experiment.model_copy(update={"name": "warmup", "description": "", "strategy": None, "seeds": [seed]})


def warmup_dir(experiment: Experiment, seed: int) -> Path:
    return Path(experiment.outputs.root) / WARMUP_DIR / f"{warmup_key(experiment)}-seed{seed}"


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
            if dist.main:
                _finish(directory, experiment.warmup.steps)
            return final
        _train(warmup_experiment(experiment, seed), seed, directory, dist, stop)
    return final


def _finish(directory: Path, steps: int) -> None:
    """After checkpoint-0: the `warmup_done` event, once, and no resume points left. Also run when the
    warm-up is reused, so that a kill between checkpoint-0 and here (a torn `warmup_done` line, say) is
    finished by the next run rather than left for good."""
    metrics = MetricsLog(directory / METRICS_FILE)
    if not metrics.events("warmup_done"):
        metrics.emit("warmup_done", step=steps, checkpoint=str(directory / FINAL))
    shutil.rmtree(directory / CHECKPOINTS_DIR, ignore_errors=True)  # only resume points; checkpoint-0 is the result


def _train(experiment: Experiment, seed: int, directory: Path, dist: D.DistInfo, stop: StopFlag) -> None:
    # ---- setup
    cfg, train_cfg = experiment.warmup, warmup_train_config(experiment)
    device = D.device_for(dist)
    check_precision(train_cfg.precision, device)
    check_held_out(experiment)  # every rank, before the first barrier
    if dist.main:
        rundir.prepare(directory, experiment, "warmup", identity=warmup_key)
    metrics = MetricsLog(directory / METRICS_FILE, tensorboard=experiment.logging.tensorboard)
    negatives_dir = directory / NEGATIVES_DIR
    logged = D.broadcast(dist, {e.get("name") for e in metrics.events("baseline")})
    if dist.main:
        for folder in (directory, negatives_dir):
            remove_stale_temps(folder)  # leftovers of a killed attempt
        mined = newest_complete(negatives_dir) is not None
        if not mined or "bm25" not in logged:
            collection = load_collection(subset_source(experiment).collection)
            index = BM25Index(collection.texts)
            if not mined:
                mine_bm25(experiment, seed, negatives_path(negatives_dir, 0), index, collection)
            if "bm25" not in logged:
                log_bm25_baseline(experiment, index, collection, metrics)
    if "zero-shot" not in logged:  # every rank: the encoding is sharded over torchrun's ranks
        log_zero_shot_baseline(experiment, metrics if dist.main else None)
    D.barrier(dist)
    negatives = newest_complete(negatives_dir)
    assert negatives is not None

    resume = latest_checkpoint(directory)
    encoder = load_encoder(str(resume.path) if resume else experiment.model.name, experiment.model)
    cache = rundir.cache_root(experiment)
    source = subset_source(experiment)
    passages = token_cache(encoder.tokenizer, source.collection, cache, cfg.passage_max_len or encoder.spec.passage_max_len)
    queries = token_cache(encoder.tokenizer, source.queries(experiment.data.train_split), cache, encoder.spec.query_max_len)
    trainer = Trainer(
        encoder, train_cfg, lr=cfg.lr, total_steps=cfg.schedule_steps or cfg.steps,
        warmup_steps=cfg.steps // 10 if cfg.warmup_steps is None else cfg.warmup_steps, dist=dist, device=device,
    )
    feed = Feed(queries, passages, seed, trainer.loss_fn.negatives)
    session = Session(directory, trainer, feed, metrics, stop, phase="warmup")
    if dist.main:  # also with no checkpoint: a kill in the first one leaves steps logged that will run again
        metrics.rewind(resume.step if resume else 0)
    if resume:
        log.info("warm-up: resuming from %s", resume.path)
        session.restore(load_state(resume), negatives)
    else:
        seed_everything(seed + dist.rank)
        feed.load(negatives)

    # ---- train
    session.run(cfg.steps)

    # ---- checkpoint-0
    if dist.main:
        save_encoder(trainer.encoder, directory / FINAL)
        _finish(directory, cfg.steps)
        log.info("warm-up done: %s", directory / FINAL)
    D.barrier(dist)


def warmup_train_config(experiment: Experiment) -> TrainConfig:
    """The train section with the warm-up's own batch, accumulation and precision where it sets them."""
    cfg = experiment.warmup
    own = {"batch_size": cfg.batch_size, "grad_accum": cfg.grad_accum, "precision": cfg.precision}
    return experiment.train.model_copy(update={k: v for k, v in own.items() if v is not None})


def log_bm25_baseline(experiment: Experiment, index: BM25Index, collection: Collection, metrics: MetricsLog) -> None:
    queries, values = bm25_baseline(experiment, index, collection)
    metrics.emit("baseline", name="bm25", split=experiment.eval.split, step=0, queries=queries, **values)
    log.info("BM25 on %s: %s", experiment.eval.split, ", ".join(f"{k} {v:.4f}" for k, v in values.items()))


def log_zero_shot_baseline(experiment: Experiment, metrics: MetricsLog | None) -> None:
    """Every rank encodes its share; `metrics` None: a rank that only helps encode."""
    result = zero_shot_baseline(experiment, rundir.cache_root(experiment))
    if result is not None and metrics is not None:
        metrics.emit("baseline", name="zero-shot", split=experiment.eval.split, step=0, queries=result.queries,
                     **result.metrics)
        log.info("zero-shot %s on %s: %s", experiment.model.name, experiment.eval.split,
                 ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()))
