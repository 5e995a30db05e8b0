"""A stand-in for the `ance` stage CLI, for testing the launcher's mechanics fast.

It keeps the stage contract the batch scripts rely on (docs/ARCHITECTURE.md and
ance_core/train/signals.py) and nothing else: `ance <stage> --config C --seed S`
exits 0 when done; on SIGUSR1 or SIGTERM it writes a checkpoint and exits 99;
run again, it resumes (finds the checkpoint) and finishes. Behaviour per stage
comes from the environment, which sbatch and the local executor pass on:

    ANCE_STANDIN_SLEEP=0.5        seconds each stage works
    ANCE_STANDIN_WAIT_SIGNAL=run  this stage works until a signal (at most 120 s) unless it resumes
    ANCE_STANDIN_FAIL=warmup:3    this stage exits 3
    (a stage may be named with its role, run/refresher, to pick one side of an async run)

    ANCE_STANDIN_LOG=/path/events.jsonl  where each call appends its events (checkpoints go beside it)

One JSON line per event: stage, role, seed, pid, event, time, argv.
"""

import json
import os
import signal
import sys
import time
from pathlib import Path


def option(args, name, default=None):
    return args[args.index(name) + 1] if name in args else default


def main() -> int:
    args = sys.argv[1:]
    stage = args[0]
    seed = option(args, "--seed", "-")
    role = option(args, "--role", "all")
    shard = option(args, "--shard", "0").replace("/", "of")
    events = Path(os.environ["ANCE_STANDIN_LOG"])
    checkpoint = events.parent / "standin-checkpoints" / f"{stage}-{role}-{seed}-{shard}.ckpt"

    def note(event: str) -> None:
        with open(events, "a") as handle:
            handle.write(json.dumps({"stage": stage, "role": role, "seed": seed, "pid": os.getpid(),
                                     "event": event, "time": time.time(), "argv": args}) + "\n")

    def on_signal(signum, _frame):
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        checkpoint.write_text("checkpoint\n")
        note(f"checkpointed on {signal.Signals(signum).name}")
        print(f"stand-in {stage}: {signal.Signals(signum).name}: checkpointed, exit 99", flush=True)
        sys.exit(99)

    signal.signal(signal.SIGUSR1, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    note("resumed" if checkpoint.exists() else "started")
    print(f"stand-in {stage} seed {seed} role {role}: started (pid {os.getpid()})", flush=True)

    me = (stage, f"{stage}/{role}")
    fail = os.environ.get("ANCE_STANDIN_FAIL", "")
    if fail.split(":")[0] in me:
        print(f"stand-in {stage}: failing on purpose with exit {fail.split(':')[1]}", flush=True)
        note("failed")
        return int(fail.split(":")[1])
    if os.environ.get("ANCE_STANDIN_WAIT_SIGNAL") in me and not checkpoint.exists():
        note("waiting for a signal")
        deadline = time.time() + 120
        while time.time() < deadline:
            time.sleep(0.1)
        note("never signalled")
        return 3
    time.sleep(float(os.environ.get("ANCE_STANDIN_SLEEP", "0.5")))
    note("finished")
    print(f"stand-in {stage}: finished", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
