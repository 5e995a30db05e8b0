"""Run `ance` and SIGKILL it when it reaches a named event: `python killhook.py POINT ance-args...`.

A point names an event of the run; PHASE is `warmup` (the shared warm-up's folder) or `ance`
(the run's folder):

  step PHASE S            right after optimizer step S
  checkpoint PHASE S      inside the write of checkpoint-S: its files written, COMPLETE marker not yet
  negatives PHASE R       half-way through writing negatives-R.jsonl (the warm-up's BM25 file is R = 0)
  stats PHASE R           after negatives-R.jsonl is renamed into place, before its stats file
  encode zero-shot        at the corpus encoding of the model before any training (warm-up baseline)
  encode PHASE NAME       at the corpus encoding with checkpoint NAME (a refresh)
  metrics PHASE EVENT     half-way through writing that metrics.jsonl line; EVENT is the kind and
                          what tells it apart: `train@S`, `eval@R`, `refresh@R`, `baseline@bm25`,
                          `warmup_done`, ...

`python killhook.py --record FILE ance-args...` runs to the end and writes every point the run
reaches, in order, one a line: the points a test may draw from. A run that ends without reaching
its point exits 3 and says so, so a test cannot mistake a kill that never happened for a resume.
Only test instrumentation: the library is imported unchanged and patched here.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

NOT_REACHED = 3


def phase_of(path: str | os.PathLike) -> str:
    return "warmup" if "_warmup" in Path(path).parts else "ance"


def refresh_of(path: str | os.PathLike) -> str:
    """negatives-3.jsonl, negatives-3.stats.json -> '3'."""
    return Path(path).name.removeprefix("negatives-").split(".")[0]


def metrics_event(kind: str, fields: dict) -> str:
    """What tells one metrics line apart from the others of its kind in the same folder."""
    if kind == "train":
        return f"train@{fields['step']}"
    for key in ("name", "refresh"):
        if key in fields:
            return f"{kind}@{fields[key]}"
    return kind


class Hook:
    """Sees every event; kills the process at `target`, or records what it saw."""

    def __init__(self, target: str | None, record: Path | None):
        self.target = target
        self.record = record
        self.reached = False

    def at(self, point: str) -> bool:
        """True when the process must die at `point` (the caller may finish half a write first)."""
        if self.record is not None:
            with self.record.open("a") as out:
                out.write(point + "\n")
            return False
        if point == self.target:
            self.reached = True
            print(f"killhook: SIGKILL at {point!r}", file=sys.stderr, flush=True)
            return True
        return False


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def install(hook: Hook) -> None:
    _hook_steps(hook)
    _hook_checkpoints(hook)
    _hook_negatives(hook)
    _hook_encode(hook)
    _hook_metrics(hook)


def _hook_steps(hook: Hook) -> None:
    from ance_core.train.trainer import Session, Trainer

    real_init, real_step = Session.__init__, Trainer.train_step

    def session_init(self, run_dir, trainer, *args, **kwargs):
        real_init(self, run_dir, trainer, *args, **kwargs)
        trainer.kill_phase = self.phase

    def train_step(self, batches):
        loss = real_step(self, batches)
        if hook.at(f"step {self.kill_phase} {self.step}"):
            die()
        return loss

    Session.__init__, Trainer.train_step = session_init, train_step


def _hook_checkpoints(hook: Hook) -> None:
    """torch.save of the trainer state is the last file of a checkpoint before its COMPLETE marker."""
    import ance_core.train.checkpoint as checkpoint

    real_torch = checkpoint.torch

    class TorchProxy:
        def __getattr__(self, name):
            return getattr(real_torch, name)

        @staticmethod
        def save(obj, *args, **kwargs):
            real_torch.save(obj, *args, **kwargs)
            if hook.at(f"checkpoint {obj.get('phase')} {obj.get('step')}"):
                die()

    checkpoint.torch = TorchProxy()


def _hook_negatives(hook: Hook) -> None:
    import ance_core.data.negatives as negatives
    import ance_core.mining.bm25 as bm25_mining  # took the name before the patch

    real_write, real_json = negatives.write_negatives, negatives.write_json

    def write_negatives(path, records, **stats):
        if not hook.at(f"negatives {phase_of(path)} {refresh_of(path)}"):
            return real_write(path, records, **stats)
        records = list(records)

        def half():
            yield from records[: len(records) // 2]
            die()

        return real_write(path, half(), **stats)

    def write_json(path, obj):
        name = Path(path).name
        if name.endswith(".stats.json") and hook.at(f"stats {phase_of(path)} {refresh_of(path)}"):
            die()
        return real_json(path, obj)

    negatives.write_negatives = bm25_mining.write_negatives = write_negatives
    negatives.write_json = write_json


def _hook_encode(hook: Hook) -> None:
    import ance_core.encode as encode

    real_collection = encode.embed_collection

    def embed_collection(encoder, *args, **kwargs):
        source = Path(str(encoder.source))
        point = f"encode {phase_of(source)} {source.name}" if source.name.startswith("checkpoint-") else "encode zero-shot"
        if hook.at(point):
            die()
        return real_collection(encoder, *args, **kwargs)

    encode.embed_collection = embed_collection


def _hook_metrics(hook: Hook) -> None:
    """emit() names the line; the os.write that follows is cut in half when it is the point."""
    import ance_core.train.metrics as metrics

    real_emit, real_os = metrics.MetricsLog.emit, metrics.os
    pending: list[str] = []

    def emit(self, kind, **fields):
        pending.append(f"metrics {phase_of(self.path)} {metrics_event(kind, fields)}")
        try:
            return real_emit(self, kind, **fields)
        finally:
            pending.clear()

    class OsProxy:
        def __getattr__(self, name):
            return getattr(real_os, name)

        @staticmethod
        def write(fd, data):
            if pending and hook.at(pending.pop()):
                real_os.write(fd, data[: len(data) // 2])
                die()
            return real_os.write(fd, data)

    metrics.MetricsLog.emit = emit
    metrics.os = OsProxy()


def main(argv: list[str]) -> int:
    if argv[0] == "--record":
        hook = Hook(None, Path(argv[1]))
        args = argv[2:]
    else:
        hook = Hook(argv[0], None)
        args = argv[1:]
    install(hook)
    from ance_core.cli import main as ance

    try:
        code = ance(args)
    except SystemExit as exc:  # argparse's --help/--version, or a stage that exits
        code = exc.code
    if hook.record is None and not hook.reached:
        print(f"killhook: the run ended (exit {code}) without reaching {hook.target!r}", file=sys.stderr)
        return NOT_REACHED
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
