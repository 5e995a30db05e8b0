"""The trainer: (query, positive, negatives) groups -> loss -> optimizer step, and the step loop.

`Trainer` owns the model side (DDP wrapper, loss, optimizer, schedule, grad
scaler, autocast); `Feed` the data side (the current negatives file and the
position in its seeded order); `Session` runs steps until a target step:
gradient accumulation, clipping, `train` events in metrics.jsonl, a rich
progress bar on a terminal (plain lines in batch logs), checkpoints every `checkpoint_every` steps and at the target,
a stop signal turned into checkpoint + `Requeue`, and (asynchronous mode) a
switch to a newer negatives file as soon as a complete one appears.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn

from ance_core.config.schema import TrainConfig
from ance_core.console import err_console
from ance_core.data.tokcache import TokenCache
from ance_core.console.progress import LOG_EVERY_S
from ance_core.errors import InputError
from ance_core.model import DualEncoder
from ance_core.train import distributed as D
from ance_core.train.checkpoint import Checkpoint, prune_checkpoints, rng_state, save_checkpoint, set_rng_state
from ance_core.train.data import Batch, Examples, Position, build_examples, collate
from ance_core.train.losses import build_loss
from ance_core.train.metrics import MetricsLog
from ance_core.data.negatives import NegativesFile, read_negatives
from ance_core.train.optim import build_optimizer, build_scheduler
from ance_core.train.signals import Requeue, StopFlag

log = logging.getLogger(__name__)

AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(precision: str, device: torch.device, source: str | Path | None = None) -> None:
    """bf16/fp16 autocast is for GPUs; say so before any work starts."""
    if precision != "fp32" and device.type != "cuda":
        raise InputError.single(source, "train.precision", "'fp32' on a machine without a CUDA GPU", precision)
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise InputError.single(source, "train.precision", "'fp16' or 'fp32' (this GPU has no bf16)", precision)


class PairForward(nn.Module):
    """Queries and passages in one forward call, so that DDP sees one forward per backward."""

    def __init__(self, encoder: DualEncoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, q_ids, q_mask, p_ids, p_mask):
        return self.encoder.encode(q_ids, q_mask, "query"), self.encode_by_length(p_ids, p_mask)

    def encode_by_length(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Passages in length-sorted chunks, each cut to its own longest row; rows back in input order.

        A batch's passages (positives and negatives) would be padded to the longest of them:
        on Debian descriptions cut at 128 tokens one long passage in 16 is almost certain
        (docs/ENCODING.md: 31% fewer padded tokens this way). Sorting by length and cutting
        each chunk to its longest spends the compute on real tokens; each row's embedding is
        the same (attention masks out padding), up to float rounding of other GEMM shapes.
        """
        lengths, chunks = length_chunks(mask)
        if len(chunks) == 1:
            return self.encoder.encode(ids, mask, "passage")
        parts = []
        for rows in chunks:
            longest = int(lengths[rows[0]])
            parts.append(self.encoder.encode(ids[rows, :longest], mask[rows, :longest], "passage"))
        return torch.cat(parts)[torch.argsort(torch.cat(chunks))]


# Rows per chunk below which a chunk costs more in per-call overhead and smaller GEMMs than
# its saved padding wins: small on CPU (measured: benchmarks/rows/train.py), large on GPUs,
# whose kernels need many rows to fill the device.
MIN_CHUNK_ROWS = {"cpu": 4, "cuda": 64}
MAX_CHUNKS = 4


def passage_chunks(rows: int, device: torch.device) -> int:
    return max(1, min(MAX_CHUNKS, rows // MIN_CHUNK_ROWS.get(device.type, 64)))


def length_chunks(mask: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Each row's length and the rows in length-sorted chunks, longest first, as encode_by_length runs them."""
    lengths = mask.sum(dim=1)
    order = torch.argsort(lengths, descending=True, stable=True)
    return lengths, list(torch.tensor_split(order, passage_chunks(len(mask), mask.device)))


class Trainer:
    def __init__(
        self,
        encoder: DualEncoder,
        config: TrainConfig,
        *,
        lr: float,
        total_steps: int,
        warmup_steps: int,
        dist: D.DistInfo,
        device: torch.device,
    ):
        self.config = config
        self.dist = dist
        self.device = device
        self.encoder = encoder.to(device)
        self.encoder.train()
        pair = PairForward(self.encoder)
        if dist.active:
            ids = [device.index] if device.type == "cuda" else None
            self.model: nn.Module = nn.parallel.DistributedDataParallel(pair, device_ids=ids)
        else:
            self.model = pair
        self.loss_fn = build_loss(config.loss)
        self.optimizer = build_optimizer(self.encoder, config, lr)
        self.scheduler = build_scheduler(self.optimizer, config.schedule, warmup_steps, total_steps)
        self.dtype = AUTOCAST.get(config.precision)
        self.scaler = torch.amp.GradScaler("cuda") if config.precision == "fp16" else None
        self.step = 0
        self.grad_norm: float | None = None  # of the last step, before clipping

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _loss(self, batch: Batch) -> torch.Tensor:
        batch = batch.to(self.device)
        autocast = (
            torch.autocast(self.device.type, dtype=self.dtype) if self.dtype is not None else contextlib.nullcontext()
        )
        with autocast:
            q, p = self.model(
                batch.query["input_ids"], batch.query["attention_mask"],
                batch.passage["input_ids"], batch.passage["attention_mask"],
            )
        pos, neg = p[: batch.size], p[batch.size :].view(batch.size, batch.negatives, -1)
        return self.loss_fn(q.float(), pos.float(), neg.float(), self.encoder)

    def train_step(self, batches: list[Batch]) -> float:
        """One optimizer step over `batches` (the grad-accumulation micro-batches); returns the mean loss."""
        total = 0.0
        for i, batch in enumerate(batches):
            last = i == len(batches) - 1
            sync = contextlib.nullcontext() if (last or not self.dist.active) else self.model.no_sync()
            with sync:
                loss = self._loss(batch) / len(batches)
                (self.scaler.scale(loss) if self.scaler else loss).backward()
            total += float(loss.detach())
        if self.scaler:
            self.scaler.unscale_(self.optimizer)
        # The norm before clipping, for the report's gradient analysis (an infinite bound clips nothing).
        max_norm = self.config.max_grad_norm if self.config.max_grad_norm is not None else float("inf")
        norm = float(nn.utils.clip_grad_norm_(self.encoder.parameters(), max_norm))
        self.grad_norm = norm if math.isfinite(norm) else None
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return total

    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if self.scaler and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])


class Feed:
    """The examples of the current negatives file and where in their seeded order training stands."""

    def __init__(self, queries: TokenCache, passages: TokenCache, seed: int, negatives_per_example: int):
        self.queries = queries
        self.passages = passages
        self.seed = seed
        self.k = negatives_per_example
        self.file: NegativesFile | None = None
        self.examples: Examples | None = None
        self.position = Position()

    def load(self, file: NegativesFile, position: Position | None = None) -> None:
        records = read_negatives(file.path)
        self.examples = build_examples(records, self.queries.ids, self.passages.ids, self.k, file.refresh, file.path)
        self.file = file
        self.position = position or Position()
        log.info("training on %s: %d examples from %d queries", file.path.name, len(self.examples), len(records))

    def next_batches(self, batch_size: int, grad_accum: int, dist: D.DistInfo) -> list[Batch]:
        """This rank's micro-batches of the next optimizer step (every rank advances the same position)."""
        assert self.examples is not None, "Feed.load first"
        per_rank = batch_size * grad_accum
        indices, self.position = self.examples.take(self.seed, self.position, per_rank * dist.world)
        mine = indices[dist.rank * per_rank : (dist.rank + 1) * per_rank]
        return [
            collate(self.examples, chunk, self.queries, self.passages)
            for chunk in np.array_split(mine, grad_accum)
        ]

    def state_dict(self) -> dict[str, Any]:
        assert self.file is not None
        return {"file": self.file.path.name, "sha256": self.file.sha256, **self.position.to_dict()}


class Session:
    """Steps, events, checkpoints and stop signals for one run directory."""

    def __init__(
        self,
        run_dir: str | Path,
        trainer: Trainer,
        feed: Feed,
        metrics: MetricsLog | None,
        stop: StopFlag,
        *,
        phase: str = "ance",
        refresh_every: int | None = None,
    ):
        self.run_dir = Path(run_dir)
        self.trainer = trainer
        self.feed = feed
        self.metrics = metrics
        self.stop = stop
        self.phase = phase
        self.refresh_every = refresh_every
        self.dist = trainer.dist

    @property
    def step(self) -> int:
        return self.trainer.step

    def restore(self, state: dict[str, Any], file: NegativesFile) -> None:
        """Continue a checkpoint: optimizer, schedule, RNG (this rank's) and the data position."""
        self.trainer.load_state_dict(state)
        data = state["data"]
        if data["sha256"] != file.sha256:
            raise InputError.single(file.path, "sha256", f"the file checkpoint {state['step']} trained on", "a different file")
        self.feed.load(file, Position(data["epoch"], data["offset"]))
        rngs = state["rng"]
        if len(rngs) != self.dist.world:
            log.warning("checkpoint %d was written by %d rank(s), resumed by %d: RNG streams continue approximately",
                        state["step"], len(rngs), self.dist.world)
        set_rng_state(rngs[self.dist.rank % len(rngs)])

    def save(self) -> Checkpoint | None:
        """Checkpoint on rank 0 (with every rank's RNG state); every rank waits for it."""
        rngs = D.gather(self.dist, rng_state())
        saved = None
        if self.dist.main:
            state = {**self.trainer.state_dict(), "rng": rngs, "data": self.feed.state_dict(), "phase": self.phase}
            saved = save_checkpoint(self.run_dir, self.trainer.encoder, state)
            prune_checkpoints(self.run_dir, self.trainer.config.keep_last, protect=(saved.step,))
        D.barrier(self.dist)
        return saved

    def run(self, until: int, poll: Callable[[int], NegativesFile | None] | None = None) -> None:
        """Train to step `until`, checkpointing on the way and at `until`.

        `poll(current_refresh)` returns a newer complete negatives file or None
        (asynchronous mode); it is asked before every step on rank 0.
        """
        cfg = self.trainer.config
        window: list[float] = []
        norms: list[float] = []
        started, started_step = time.monotonic(), self.step
        logged_at = started
        with _progress(self.phase, self.step, until, enabled=self.dist.main) as bar:
            while self.step < until:
                if poll is not None:
                    self._maybe_switch(poll)
                batches = self.feed.next_batches(cfg.batch_size, cfg.grad_accum, self.dist)
                lr = self.trainer.lr
                window.append(self.trainer.train_step(batches))
                if self.trainer.grad_norm is not None:
                    norms.append(self.trainer.grad_norm)
                rate = (self.step - started_step) / max(time.monotonic() - started, 1e-9)
                bar.update(self.step, loss=window[-1], rate=rate)
                if self.step % cfg.log_every == 0 or self.step == until:
                    # Gradients are all-reduced before the norm: every rank has the same one.
                    self._log(D.mean(self.dist, float(np.mean(window))), lr, rate, time.monotonic() - logged_at,
                              float(np.mean(norms)) if norms else None)
                    window, norms, logged_at = [], [], time.monotonic()
                saved = self._checkpoint_due(until)
                if saved:
                    self.save()
                if D.any_true(self.dist, bool(self.stop)):
                    if not saved:
                        self.save()
                    raise Requeue(self.step, self.stop.requested or "stop")

    def _checkpoint_due(self, until: int) -> bool:
        """Every `checkpoint_every` steps, at every refresh boundary (the refresher mines with those), at the end."""
        step = self.step
        boundary = self.refresh_every is not None and step % self.refresh_every == 0
        return step == until or boundary or step % self.trainer.config.checkpoint_every == 0

    def _maybe_switch(self, poll: Callable[[int], NegativesFile | None]) -> None:
        current = self.feed.file.refresh if self.feed.file else -1
        newer = D.broadcast(self.dist, poll(current) if self.dist.main else None)
        if newer is not None:
            log.info("step %d: switching to %s", self.step, newer.path.name)
            self.feed.load(newer)
            if self.metrics and self.dist.main:
                self.metrics.emit("negatives", step=self.step, refresh=newer.refresh, file=newer.path.name)

    def _log(self, loss: float, lr: float, rate: float, seconds: float, grad_norm: float | None) -> None:
        """A `train` event; `seconds`: wall time since the previous one of this stretch (ance report sums them);
        `grad_norm`: the mean over these steps of the gradient's norm before clipping."""
        if not (self.metrics and self.dist.main):
            return
        negatives = self.feed.file.refresh if self.feed.file else None
        fields: dict[str, Any] = {"step": self.step, "loss": round(loss, 6), "lr": lr, "steps_per_s": round(rate, 4),
                                  "seconds": round(seconds, 3),
                                  "grad_norm": None if grad_norm is None else round(grad_norm, 5)}
        if self.phase == "ance":
            fields.update(refresh=(negatives or 0) + 1, negatives=negatives)
        else:
            fields.update(phase=self.phase)
        self.metrics.emit("train", **fields)


class _Bar:
    def __init__(self, progress: Progress | None, task: int | None):
        self.progress, self.task = progress, task

    def update(self, step: int, loss: float, rate: float) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=step, loss=loss, rate=rate)


class _Lines:
    """Progress for logs that are not terminals (SLURM output files), where a rich bar shows nothing:
    a plain line at the first step, then at most every LOG_EVERY_S seconds, and at the last step."""

    def __init__(self, phase: str, start: int, until: int):
        self.phase, self.start, self.until = phase, start, until
        self.last: float | None = None

    def update(self, step: int, loss: float, rate: float) -> None:
        now = time.monotonic()
        if self.last is not None and now - self.last < LOG_EVERY_S and step < self.until:
            return
        self.last = now
        left = f"{_duration((self.until - step) / rate)} left" if rate > 0 else "time left unknown"
        log.info("%s: step %d/%d (%.1f%%), loss %.4f, %.2f steps/s, %s",
                 self.phase, step, self.until, 100.0 * step / max(self.until, 1), loss, rate, left)


def _duration(seconds: float) -> str:
    """'1d 02:03:04' or '02:03:04'."""
    days, rest = divmod(int(seconds), 86400)
    clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}d {clock}" if days else clock


@contextlib.contextmanager
def _progress(phase: str, start: int, until: int, enabled: bool):
    if not enabled:
        yield _Bar(None, None)
        return
    if not err_console.is_terminal:
        yield _Lines(phase, start, until)
        return
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TextColumn("{task.fields[rate]:.2f} steps/s"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
    with progress:
        task = progress.add_task(phase, total=until, completed=start, loss=float("nan"), rate=0.0)
        yield _Bar(progress, task)
