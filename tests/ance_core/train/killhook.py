"""Run `ance` and SIGKILL it at a chosen point: `python killhook.py POINT N ance-args...`.

Points (N counts calls from 1):
  step        right after the N-th optimizer step
  checkpoint  inside the N-th checkpoint write: files written, COMPLETE marker not yet
  negatives   half-way through writing the N-th negatives file (the warm-up's BM25 file is the 1st)
  stats       after the N-th negatives file is renamed into place, before its stats file
  encode      at the N-th corpus encoding (inside a refresh or the zero-shot baseline)
  metrics     half-way through writing the N-th metrics.jsonl line
  time        after N milliseconds, wherever the run is
Only test instrumentation: the library is imported unchanged and patched here.
"""

from __future__ import annotations

import os
import signal
import sys
import threading


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def on_call(n: int, action):
    """A counter that runs `action` on the n-th call."""
    count = [0]

    def hit() -> bool:
        count[0] += 1
        return count[0] == n

    return hit


def install(point: str, n: int) -> None:
    hit = on_call(n, die)
    if point == "step":
        from ance_core.train.trainer import Trainer

        real_step = Trainer.train_step

        def train_step(self, batches):
            loss = real_step(self, batches)
            if hit():
                die()
            return loss

        Trainer.train_step = train_step
    elif point == "checkpoint":
        import ance_core.train.checkpoint as checkpoint

        real_save = checkpoint.torch.save

        class TorchProxy:
            def __getattr__(self, name):
                return getattr(checkpoint.__dict__["_real_torch"], name)

            @staticmethod
            def save(obj, path, *args, **kwargs):
                real_save(obj, path, *args, **kwargs)
                if hit():
                    die()

        checkpoint._real_torch = checkpoint.torch
        checkpoint.torch = TorchProxy()
    elif point in ("negatives", "stats"):
        import ance_core.train.negatives as negatives

        if point == "stats":
            real_json = negatives.write_json

            def write_json(path, obj):
                if hit():
                    die()
                return real_json(path, obj)

            negatives.write_json = write_json
        else:
            real_write = negatives.write_negatives

            def write_negatives(path, records, **stats):
                if not hit():
                    return real_write(path, records, **stats)
                records = list(records)

                def half():
                    yield from records[: len(records) // 2]
                    die()

                return real_write(path, half(), **stats)

            negatives.write_negatives = write_negatives
            import ance_core.train.warmup as warmup  # imported the name before the patch

            warmup.write_negatives = write_negatives
    elif point == "encode":
        import ance_core.encode as encode

        real_collection = encode.embed_collection

        def embed_collection(*args, **kwargs):
            if hit():
                die()
            return real_collection(*args, **kwargs)

        encode.embed_collection = embed_collection
    elif point == "metrics":
        import ance_core.train.metrics as metrics

        real_write = metrics.os.write

        class OsProxy:
            def __getattr__(self, name):
                return getattr(metrics.__dict__["_real_os"], name)

            @staticmethod
            def write(fd, data):
                if hit():
                    real_write(fd, data[: len(data) // 2])
                    die()
                return real_write(fd, data)

        metrics._real_os = metrics.os
        metrics.os = OsProxy()
    elif point == "time":
        timer = threading.Timer(n / 1000, die)
        timer.daemon = True
        timer.start()
    else:
        raise SystemExit(f"unknown kill point {point!r}")


if __name__ == "__main__":
    point, n, *args = sys.argv[1:]
    install(point, int(n))
    from ance_core.cli import main

    sys.exit(main(args))
