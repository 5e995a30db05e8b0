"""Run `ance` inside a job script and, at a chosen point, do to the whole job what a cluster would.

    python jobhook.py ance-args...      (the job's `ance` command: JobContext.ance)

ANCE_JOB_HOOK="RESTART:ROLE:POINT:N:ACTION[,...]" picks the run of the job, the process and the moment
(N counts calls from 1):
  RESTART the job's restart count (ANCE_RESTART_COUNT, which the local executor sets; 0 = first run)
  ROLE    trainer (rank 0 only) or refresher, from the `--role` argument
  POINT   step    right after the N-th optimizer step
          encode  at the N-th corpus encoding (inside a refresh), before it starts
  ACTION  usr1    SIGUSR1 to the job's batch shell, as SLURM's --signal=B:USR1 does before the time limit;
                  then this process waits inside the encoding for the signal the shell forwards
          kill    SIGKILL to every process of the job, as a node failure or the OOM killer's cgroup kill

The batch shell is found as the leader of the job's process group (the local executor starts each
script in its own session; torchrun starts its workers in sessions of their own). Only test
instrumentation: the library is imported unchanged and patched here.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def job_shell() -> int:
    """The batch shell: the nearest ancestor that leads its own process group."""
    pid = os.getppid()
    while pid > 1 and os.getpgid(pid) != pid:
        pid = _parent(pid)
    if pid <= 1:
        raise SystemExit("jobhook: no job shell above this process (run it from a job script)")
    return pid


def job_processes(shell: int) -> list[int]:
    """The shell and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(_parent(int(entry.name)), []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
    found, todo = [], [shell]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def act(action: str) -> None:
    shell = job_shell()
    if action == "usr1":
        os.kill(shell, signal.SIGUSR1)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the forwarded USR1 abandons the refresh in here
            time.sleep(0.05)
        raise SystemExit("jobhook: the forwarded USR1 never came")
    if action == "kill":
        for pid in job_processes(shell):
            if pid != os.getpid():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        os.kill(os.getpid(), signal.SIGKILL)
    raise SystemExit(f"jobhook: unknown action {action!r}")


def install(point: str, n: int, action: str) -> None:
    count = [0]

    def hit() -> bool:
        count[0] += 1
        return count[0] == n

    if point == "step":
        from ance_core.train.trainer import Trainer

        real_step = Trainer.train_step

        def train_step(self, batches):
            loss = real_step(self, batches)
            if hit():
                act(action)
            return loss

        Trainer.train_step = train_step
    elif point == "encode":
        import ance_core.encode as encode

        real_collection = encode.embed_collection

        def embed_collection(*args, **kwargs):
            if hit():
                act(action)
            return real_collection(*args, **kwargs)

        encode.embed_collection = embed_collection
    else:
        raise SystemExit(f"jobhook: unknown point {point!r}")


if __name__ == "__main__":
    args = sys.argv[1:]
    me = (os.environ.get("ANCE_RESTART_COUNT", "0"), args[args.index("--role") + 1] if "--role" in args else "all")
    for spec in filter(None, os.environ.get("ANCE_JOB_HOOK", "").split(",")):
        restart, role, point, n, action = spec.split(":")
        if (restart, role) == me and os.environ.get("RANK", "0") == "0":
            install(point, int(n), action)
    from ance_core.cli import main

    sys.exit(main(args))
