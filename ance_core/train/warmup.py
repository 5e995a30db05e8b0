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

from ance_core.config import Experiment, experiment_hash
from ance_core.config.schema import RandomSegment
from ance_core.data import Collection, load_collection, load_qrels, load_queries
from ance_core.data.subset import subset_source
from ance_core.data.tokcache import token_cache
from ance_core.errors import InputError
from ance_core.io.atomic import is_complete, remove_stale_temps
from ance_core.mining import negative_records, sample_fraction, train_positives
from ance_core.model import load_encoder, save_encoder
from ance_core.sampling import refresh_seed, sample_negatives
from ance_core.train import distributed as D
from ance_core.train import rundir
from ance_core.train.bm25 import BM25Index
from ance_core.train.checkpoint import CHECKPOINTS_DIR, latest_checkpoint, load_state, seed_everything
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
    cfg, train_cfg = experiment.warmup, experiment.train
    device = D.device_for(dist)
    check_precision(train_cfg.precision, device)
    if dist.main:
        rundir.prepare(directory, experiment, "warmup")
    metrics = MetricsLog(directory / METRICS_FILE)
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
    passages = token_cache(encoder.tokenizer, source.collection, cache, encoder.spec.passage_max_len)
    queries = token_cache(encoder.tokenizer, source.queries(experiment.data.train_split), cache, encoder.spec.query_max_len)
    trainer = Trainer(
        encoder, train_cfg, lr=cfg.lr, total_steps=cfg.steps, warmup_steps=cfg.steps // 10, dist=dist, device=device
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


def mine_bm25(experiment: Experiment, seed: int, path: Path, index: BM25Index, collection: Collection) -> None:
    """BM25 top-`bm25_depth` of the train queries -> `negatives_per_query` random non-positive negatives each."""
    cfg = experiment.warmup
    if cfg.negatives_per_query > cfg.bm25_depth:
        raise InputError.single(None, "warmup.negatives_per_query", f"<= warmup.bm25_depth ({cfg.bm25_depth})", cfg.negatives_per_query)
    source = subset_source(experiment)
    split = experiment.data.train_split
    queries = load_queries(source.queries(split))
    file_rows, positives = train_positives(queries.ids, load_qrels(source.qrels(split)), collection.ids)
    chosen = sample_fraction(file_rows.size, cfg.query_fraction, seed, WARMUP_STREAM)
    file_rows, positives = file_rows[chosen], positives.take(chosen)
    qids = queries.ids.ids_of(file_rows)
    depth = min(cfg.bm25_depth, len(collection))
    if cfg.negatives_per_query > depth - 1:
        raise InputError.single(None, "warmup.negatives_per_query", f"< the collection size ({len(collection)})", cfg.negatives_per_query)
    log.info("BM25: ranking %d train queries (top %d of %d passages)", len(qids), depth, len(collection))
    rows, _ = index.search([queries.texts[r] for r in file_rows.tolist()], depth)
    segment = RandomSegment(windows=[(0, depth)], n=cfg.negatives_per_query)
    sampled = sample_negatives(segment, rows, positives, seed=refresh_seed(seed, WARMUP_STREAM))
    records = negative_records(qids, positives, sampled, collection.ids)
    stats = write_negatives(path, records, source="bm25", depth=depth, queries=len(qids), seed=seed)
    log.info("BM25 negatives: %s (%d queries)", path, stats["lines"])


def log_bm25_baseline(experiment: Experiment, index: BM25Index, collection: Collection, metrics: MetricsLog) -> None:
    """The table's BM25 row: a `baseline` event on eval.split."""
    from ance_core.eval import compute_metrics, judged_qrels, plan_metrics, ranked_ids, run_from_ranking, select_queries

    cfg = experiment.eval
    source = subset_source(experiment)
    queries = load_queries(source.queries(cfg.split))
    judged = select_queries(queries.ids, judged_qrels(queries.ids, load_qrels(source.qrels(cfg.split)), collection.ids),
                            cfg.max_queries)
    plan = plan_metrics(cfg.metrics, len(collection))
    rows, scores = index.search([queries.texts[r] for r in queries.ids.rows(list(judged)).tolist()], plan.depth)
    values = compute_metrics(plan, run_from_ranking(list(judged), ranked_ids(collection.ids, rows), scores), judged)
    metrics.emit("baseline", name="bm25", split=cfg.split, step=0, queries=len(judged), **values)
    log.info("BM25 on %s: %s", cfg.split, ", ".join(f"{k} {v:.4f}" for k, v in values.items()))


def log_zero_shot_baseline(experiment: Experiment, metrics: MetricsLog | None) -> None:
    """The encoder before any training, on eval.split (`metrics` None: a rank that only helps encode)."""
    from ance_core.eval import evaluate_checkpoint

    cfg = experiment.eval
    if cfg.max_queries is not None:
        log.info("zero-shot baseline skipped: it evaluates every judged query, eval.max_queries samples them")
        return
    result = evaluate_checkpoint(
        experiment.model.name, subset_source(experiment), split=cfg.split, metrics=cfg.metrics,
        cache_root=rundir.cache_root(experiment), model_cfg=experiment.model, encode_cfg=experiment.ance.encode,
        index=experiment.ance.index,
    )
    if metrics is not None:
        metrics.emit("baseline", name="zero-shot", split=cfg.split, step=0, queries=result.queries, **result.metrics)
        log.info("zero-shot %s on %s: %s", experiment.model.name, cfg.split,
                 ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()))
