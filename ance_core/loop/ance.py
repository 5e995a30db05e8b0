"""The ANCE loop: warm-up, then training while negatives are refreshed with the newest checkpoint.

Timeline (docs/ARCHITECTURE.md): refresh 0 mines with the start checkpoint;
training chunk k (steps (k-1)·E .. k·E, E = `refresh_every`) trains on
negatives-(k-1); refresh k mines and evaluates with the checkpoint at step k·E.

* `sync` — one process does both, in turn: the only sensible mode on one CPU
  or one GPU, and bit-for-bit reproducible.
* `async` — ANCE's design: a trainer (`--role trainer`, torchrun on its GPUs)
  and a refresher (`--role refresher`, on its own GPU) share the run
  directory. The trainer switches to a newer negatives file as soon as a
  complete one appears; the refresher mines with the newest checkpoint at or
  after each refresh's step that no earlier refresh mined (`next_checkpoint`).
  `--role all` starts the refresher as a child.

Every hand-off is a file renamed into place: checkpoints (COMPLETE marker),
negatives (stats file with its sha256), refresh records. Re-running the same
command resumes from what is on disk. A stop signal abandons a refresh in
progress (it counts only once its record is written) and the resumed run does
it again. A refresh that fails leaves training on the previous negatives and is
reported (log, `refresh_failed` event, STATUS.json); only refresh 0 is fatal,
since there is nothing to train on without it. A run is finished when every
planned refresh 0..ance.refreshes has a record (`rundir.missing_refreshes`).
"""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ance_core.config import Experiment
from ance_core.data.subset import check_held_out, subset_source
from ance_core.data.tokcache import token_cache
from ance_core.encode.cache import drop_embeddings
from ance_core.errors import DISK_ERRNOS, StageError
from ance_core.io.atomic import remove_stale_temps
from ance_core.mining import EVAL_DIR
from ance_core.model import load_encoder
from ance_core.train import distributed as D
from ance_core.train import rundir
from ance_core.train.checkpoint import (
    Checkpoint,
    checkpoint_dir,
    claim_checkpoint,
    latest_checkpoint,
    load_state,
    record_eval,
    release_claim,
    seed_everything,
)
from ance_core.train.metrics import METRICS_FILE, MetricsLog
from ance_core.data.negatives import NEGATIVES_DIR, complete_files, newest_complete
from ance_core.train.signals import (
    REQUEUE_EXIT_CODE,
    Interrupted,
    Requeue,
    StopFlag,
    child_env,
    die_with_parent,
    interruptible,
)
from ance_core.train.trainer import Feed, Session, Trainer, check_precision
from ance_core.loop.warmup import start_checkpoint

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0


@dataclass
class Run:
    """One run: an experiment narrowed to one seed, its folder, and the process's place in it."""

    experiment: Experiment
    seed: int
    run_dir: Path
    dist: D.DistInfo
    stop: StopFlag

    @property
    def metrics(self) -> MetricsLog:
        return MetricsLog(self.run_dir / METRICS_FILE, tensorboard=self.experiment.logging.tensorboard)

    @property
    def negatives_dir(self) -> Path:
        return self.run_dir / NEGATIVES_DIR

    @property
    def every(self) -> int:
        return self.experiment.ance.refresh_every

    @property
    def refreshes(self) -> int:
        return self.experiment.ance.refreshes

    def step_of(self, refresh: int) -> int:
        return refresh * self.every

    def status(self, state: str, **fields: Any) -> None:
        """STATUS.json. In async mode the trainer and the refresher both write it: under a lock, and
        'trained' reads 'finished' once every refresh has its record (the refresher may end first)."""
        if not self.dist.main:
            return
        with rundir.exclusive(self.run_dir / ".lock-status", f"{rundir.STATUS_FILE} of {self.run_dir}", wait=True):
            missing = rundir.missing_refreshes(self.run_dir, self.refreshes)
            if state == "finished" and missing:
                raise StageError(f"{self.run_dir}: not finished, refreshes {missing} have no record")
            if state == "trained" and not missing:
                state = "finished"
            failed = [k for k in range(self.refreshes + 1) if (r := rundir.read_refresh_record(self.run_dir, k))
                      and not r.get("ok") and not r.get("skipped")]
            rundir.write_status(self.run_dir, state, failed_refreshes=failed, **fields)

    def status_best_effort(self, state: str, **fields: Any) -> None:
        """STATUS.json on the way out of an error: a full or read-only disk must not hide the error itself."""
        try:
            self.status(state, **fields)
        except OSError as exc:
            log.debug("STATUS.json not written: %s", exc)

    def check_stop(self, step: int) -> None:
        if D.any_true(self.dist, bool(self.stop)):
            raise Requeue(step, self.stop.requested or "stop")


# ---------------------------------------------------------------- entry point


def run(experiment: Experiment, seed: int, run_dir: Path, role: str, dist: D.DistInfo, stop: StopFlag) -> None:
    """`ance run`: the whole loop (role all), or one side of an asynchronous run."""
    if role == "refresher":
        die_with_parent()  # a no-op unless run_async_both started this process
    ctx = Run(experiment, seed, run_dir, dist, stop)
    check_precision(experiment.train.precision, D.device_for(dist))
    check_held_out(experiment)
    if dist.main:
        rundir.prepare(run_dir, experiment, "run")
    D.barrier(dist)
    lock = run_dir / f".lock-{role}"
    with rundir.exclusive(lock, f"run folder {run_dir} ({role})") if dist.main else contextlib.nullcontext():
        try:
            if experiment.ance.mode == "sync":
                run_sync(ctx)
            elif role == "trainer":
                run_trainer(ctx)
            elif role == "refresher":
                run_refresher(ctx)
            else:
                run_async_both(ctx)
        except Requeue as exc:
            ctx.status_best_effort("running", step=exc.step, requeued=True)
            raise
        except BaseException as exc:
            ctx.status_best_effort("failed", error=f"{type(exc).__name__}: {exc}")
            raise


# ---------------------------------------------------------------- sync


def run_sync(ctx: Run) -> None:
    # ---- setup: start checkpoint (shared warm-up), refresh 0
    clean_leftovers(ctx, ("", NEGATIVES_DIR, rundir.REFRESHES_DIR, EVAL_DIR))
    start = prepare_start(ctx)
    resume = latest_checkpoint(ctx.run_dir)
    step = resume.step if resume else 0
    if ctx.dist.main:  # also with no checkpoint: a kill in the first one leaves steps logged that will run again
        ctx.metrics.rewind(step)
    ctx.status("running", refresh=0, step=step)
    ensure_refresh(ctx, 0, start, 0)
    session: Session | None = None

    # ---- the loop: train a chunk, refresh with its last checkpoint
    for k in range(1, ctx.refreshes + 1):
        target = ctx.step_of(k)
        if step < target:
            session = session or build_session(ctx, start, resume)
            use_negatives(session.feed, ctx.negatives_dir, k - 1)
            session.run(target)
            step = session.step
        ctx.check_stop(step)
        ensure_refresh(ctx, k, str(checkpoint_dir(ctx.run_dir, target)), target)
        ctx.status("running", refresh=k, step=target)
        ctx.check_stop(step)
    ctx.status("finished", refresh=ctx.refreshes, step=ctx.step_of(ctx.refreshes))


# ---------------------------------------------------------------- async


def run_trainer(ctx: Run, refresher_alive: Callable[[], bool] = lambda: True) -> None:
    start = prepare_start(ctx)
    resume = latest_checkpoint(ctx.run_dir)
    if ctx.dist.main:  # step 0 when nothing is saved yet: see run_sync
        ctx.metrics.rewind(resume.step if resume else 0)
    first = wait_for(ctx, lambda: newest_complete(ctx.negatives_dir), "the first negatives file (refresh 0)",
                     alive=refresher_alive)
    session = build_session(ctx, start, resume)
    if session.feed.file is None:
        session.feed.load(first)
    until = ctx.step_of(ctx.refreshes)
    ctx.status("running", step=session.step, role="trainer")

    def poll(current: int):
        refresher_alive()  # raises when the refresher failed: no use training on without it
        return newest_complete(ctx.negatives_dir, newer_than=current)

    session.run(until, poll=poll)
    ctx.status("trained", step=session.step, role="trainer")


def run_refresher(ctx: Run) -> None:
    clean_leftovers(ctx, (NEGATIVES_DIR, rundir.REFRESHES_DIR, EVAL_DIR))  # the trainer cleans checkpoints/
    start = prepare_start(ctx)
    final = ctx.step_of(ctx.refreshes)
    ensure_refresh(ctx, 0, start, 0)
    mined = 0  # the step of the newest checkpoint a refresh has mined with
    k = 1
    while k <= ctx.refreshes:
        ctx.check_stop(-1)
        record = rundir.read_refresh_record(ctx.run_dir, k)
        if record is None:
            checkpoint = next_checkpoint(ctx, k, mined)
            if checkpoint.step == final and k < ctx.refreshes:
                skip_refreshes(ctx, range(k, ctx.refreshes), mined)
                k = ctx.refreshes
                continue
            ensure_refresh(ctx, k, str(checkpoint.path), checkpoint.step)
            release_claim(ctx.run_dir, f"refresh-{k}")
        else:
            ensure_refresh(ctx, k, "", 0)  # done before: only its events, if a kill lost them
        mined = max(mined, rundir.read_refresh_record(ctx.run_dir, k).get("step") or 0)
        k += 1
    ctx.check_stop(-1)
    ctx.status("finished", refresh=ctx.refreshes, step=final)


def next_checkpoint(ctx: Run, refresh: int, mined: int) -> Checkpoint:
    """The checkpoint refresh k mines with: the newest at step >= k·E that no earlier refresh mined
    (ANCE's generator takes the newest), the final one for the last refresh. A refresh abandoned by a
    stop signal claimed its checkpoint; the resumed refresh takes the same one (its embeddings may be
    cached already)."""
    final = ctx.step_of(ctx.refreshes)
    needed = final if refresh == ctx.refreshes else min(max(ctx.step_of(refresh), mined + 1), final)
    owner = f"refresh-{refresh}"
    return wait_for(ctx, lambda: claim_checkpoint(ctx.run_dir, owner, needed),
                    f"a checkpoint at step >= {needed} (refresh {refresh})")


def skip_refreshes(ctx: Run, refreshes: range, mined: int) -> None:
    """Training ended before these refreshes found a checkpoint of their own: each would mine with the final
    checkpoint, which the last refresh evaluates once. Recorded as skipped, so the run can finish."""
    reason = f"no checkpoint after step {mined} but the final one when it was due (the last refresh mines that)"
    for k in refreshes:
        release_claim(ctx.run_dir, f"refresh-{k}")
        log.warning("refresh %d skipped: %s", k, reason)
        if ctx.dist.main:
            rundir.write_refresh_record(ctx.run_dir, k, {"ok": True, "skipped": True, "step": None, "reason": reason})
        ensure_refresh(ctx, k, "", 0)


def run_async_both(ctx: Run) -> None:
    """`--role all` in async mode: the refresher as a child process, the trainer here."""
    command = [
        sys.executable, "-m", "ance_core.cli", "run", "--config", str(ctx.run_dir / rundir.CONFIG_FILE),
        "--seed", str(ctx.seed), "--out", str(ctx.run_dir), "--role", "refresher",
    ]
    child = subprocess.Popen(command, env=child_env())
    log.info("refresher started (pid %d)", child.pid)

    def refresher_alive() -> bool:
        code = child.poll()
        if code not in (None, 0, REQUEUE_EXIT_CODE):  # training on without new negatives would be wasted
            raise StageError(f"the refresher (pid {child.pid}) exited with {code}; see its log above")
        return code is None

    try:
        run_trainer(ctx, refresher_alive=refresher_alive)
        # The last refresh runs after training; a stop signal now is the refresher's to act on.
        while child.poll() is None:
            if ctx.stop:
                child.send_signal(signal.SIGUSR1)
                break
            time.sleep(POLL_SECONDS / 4)
    except BaseException:
        if child.poll() is None:
            child.send_signal(signal.SIGUSR1)  # it abandons a refresh in progress and exits 99
        child.wait()
        raise
    code = child.wait()
    if code == REQUEUE_EXIT_CODE:
        raise Requeue(ctx.step_of(ctx.refreshes), ctx.stop.requested or "the refresher's stop")
    if code != 0:
        raise StageError(f"the refresher (pid {child.pid}) exited with {code}; see its log above")


# ---------------------------------------------------------------- pieces


def clean_leftovers(ctx: Run, folders: tuple[str, ...]) -> None:
    """Temp files and folders of writes a kill interrupted (only in the folders this role writes)."""
    if ctx.dist.main:
        for folder in folders:
            remove_stale_temps(ctx.run_dir / folder)


def prepare_start(ctx: Run) -> str:
    """The start checkpoint (training the shared warm-up if needed), announced once in metrics.jsonl."""
    start = start_checkpoint(ctx.experiment, ctx.seed, ctx.dist, ctx.stop)
    if ctx.dist.main:
        ctx.metrics.emit_once("warmup_done", step=0, checkpoint=start)
    return start


def build_session(ctx: Run, start: str, resume) -> Session:
    """Trainer + feed from the newest checkpoint (exact resume) or from the start checkpoint."""
    exp = ctx.experiment
    encoder = load_encoder(str(resume.path) if resume else start, exp.model)
    cache = rundir.cache_root(exp)
    source = subset_source(exp)
    passages = token_cache(encoder.tokenizer, source.collection, cache, encoder.spec.passage_max_len)
    queries = token_cache(encoder.tokenizer, source.queries(exp.data.train_split), cache, encoder.spec.query_max_len)
    trainer = Trainer(
        encoder, exp.train, lr=exp.train.lr, total_steps=exp.train.schedule_steps or exp.max_steps,
        warmup_steps=exp.train.warmup_steps,
        dist=ctx.dist, device=D.device_for(ctx.dist),
    )
    feed = Feed(queries, passages, ctx.seed, trainer.loss_fn.negatives)
    session = Session(ctx.run_dir, trainer, feed, ctx.metrics, ctx.stop, refresh_every=ctx.every)
    if resume:
        state = load_state(resume)
        used = {f.path.name: f for f in complete_files(ctx.negatives_dir)}.get(state["data"]["file"])
        if used is None:
            raise StageError(f"{resume.path} trained on {state['data']['file']}, which is gone from {ctx.negatives_dir}")
        session.restore(state, used)
        log.info("resuming from %s (step %d, %s)", resume.path, resume.step, used.path.name)
    else:
        seed_everything(ctx.seed + ctx.dist.rank)
    return session


def use_negatives(feed: Feed, directory: Path, refresh: int) -> None:
    """Chunk refresh+1 trains on negatives-<refresh>, or the newest before it if that refresh failed."""
    usable = [f for f in complete_files(directory, verify=False) if f.refresh <= refresh]
    if not usable:
        raise StageError(f"no complete negatives file up to refresh {refresh} in {directory}")
    chosen = usable[-1]
    if chosen.refresh != refresh:
        log.warning("refresh %d has no negatives: training continues on %s", refresh, chosen.path.name)
    if feed.file is None or feed.file.refresh != chosen.refresh:
        feed.load(chosen)


def ensure_refresh(ctx: Run, refresh: int, checkpoint: str, step: int) -> None:
    """Mine + evaluate once per refresh; the record, written last by rank 0, makes it done.

    Under torchrun every rank takes part (the corpus encoding is sharded over the ranks,
    see ance_core.encode.cache); the files they write are identical, rank 0 keeps the books.
    """
    record = D.broadcast(ctx.dist, rundir.read_refresh_record(ctx.run_dir, refresh))
    if record is None:
        record = _refresh(ctx, refresh, checkpoint, step)
    if ctx.dist.main:
        _log_refresh(ctx, record)
    D.barrier(ctx.dist)


def _refresh(ctx: Run, refresh: int, checkpoint: str, step: int) -> dict[str, Any]:
    from ance_core.mining import refresh as mine

    log.info("refresh %d: mining and evaluating with %s", refresh, checkpoint)
    started = time.monotonic()
    try:
        with preserved_rng(), interruptible(ctx.stop):
            result = mine(ctx.experiment, checkpoint, ctx.run_dir, refresh, ctx.seed)
    except Interrupted as exc:
        log.warning("refresh %d abandoned (%s): the resumed run does it again", refresh, exc.signame)
        raise Requeue(step, exc.signame) from None
    except (Requeue, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - any failure: report, keep training on the old negatives
        if refresh == 0 or (isinstance(exc, OSError) and exc.errno in DISK_ERRNOS):
            raise  # nothing to train on without refresh 0; a full or read-only disk stops the run (resume retries)
        reason = f"{type(exc).__name__}: {exc}"
        log.error("refresh %d failed (%s): training continues on the previous negatives", refresh, reason)
        record = {"ok": False, "step": step, "checkpoint": checkpoint, "error": reason}
        if ctx.dist.main:
            rundir.write_refresh_record(ctx.run_dir, refresh, record)
        return {"refresh": refresh, **record}
    stats = result.stats
    record = {
        "ok": True, "step": step, "checkpoint": checkpoint, "metrics": dict(result),
        "stats": {"queries": stats["queries"], "positive_in_topk": stats["positive_in_topk"],
                  "mean_neg_rank": stats["negative_rank"]["mean"], "qrels_overlap": stats["qrels_overlap"],
                  **{name: stats.get(name) for name in ("margin_mean", "outscoring_share")},
                  **{name: value for name, value in stats["memory"].items() if name.startswith("peak_")}},
        "seconds": round(time.monotonic() - started, 2),
        "phase_seconds": result.phase_seconds,
    }
    if ctx.dist.main:
        rundir.write_refresh_record(ctx.run_dir, refresh, record)
        if refresh > 0:
            drop_embeddings(rundir.cache_root(ctx.experiment), checkpoint)
    return {"refresh": refresh, **record}


def _log_refresh(ctx: Run, record: dict[str, Any]) -> None:
    """The refresh's events (`refresh` and `eval`, or `refresh_failed`), unless a previous attempt logged
    them; the best checkpoint. Logged from the record, so a kill between the record and its events
    loses nothing."""
    refresh, step = record["refresh"], record["step"]
    logged = {e["kind"] for e in ctx.metrics.events()
              if e.get("refresh") == refresh and e["kind"] in ("refresh", "eval", "refresh_failed", "refresh_skipped")}
    if record.get("skipped"):
        if "refresh_skipped" not in logged:
            ctx.metrics.emit("refresh_skipped", refresh=refresh, reason=record["reason"])
        return
    if not record.get("ok"):
        if "refresh_failed" not in logged:
            ctx.metrics.emit("refresh_failed", refresh=refresh, step=step, error=record["error"])
        return
    values = record["metrics"]
    if "refresh" not in logged:
        ctx.metrics.emit("refresh", refresh=refresh, step=step, seconds=record["seconds"], **record["stats"],
                         **record.get("phase_seconds", {}))
    if "eval" in logged:
        return
    ctx.metrics.emit("eval", refresh=refresh, step=step, split=ctx.experiment.eval.split, **values)
    main_metric = ctx.experiment.eval.metrics[0]
    if refresh > 0 and isinstance(values.get(main_metric), (int, float)):
        record_eval(ctx.run_dir, step, main_metric, float(values[main_metric]))


def wait_for(ctx: Run, probe, what: str, alive: Callable[[], bool] = lambda: True):
    """Poll `probe()` until it returns something; a stop signal ends the wait (exit 99), and so does
    the end of whoever was to provide it (`alive()` false: StageError)."""
    logged = 0.0
    while (found := probe()) is None:
        ctx.check_stop(-1)
        if not alive():
            raise StageError(f"stopped waiting for {what}: the process that makes it has exited")
        if time.monotonic() - logged > 60:
            log.info("waiting for %s in %s", what, ctx.run_dir)
            logged = time.monotonic()
        time.sleep(POLL_SECONDS)
    return found


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """A refresh must not move the training RNG streams: a resumed run never ran it in-process."""
    py, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=range(torch.cuda.device_count()) if torch.cuda.is_available() else []):
        yield
    random.setstate(py)
    np.random.set_state(np_state)
