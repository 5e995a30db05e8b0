"""SIGUSR1 / SIGTERM (SLURM's warning before the time limit, preemption): checkpoint, exit 99, resume exactly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ance_core.config import load_experiment
from ance_core.io.atomic import sha256_file
from ance_core.train.distributed import DistInfo
from ance_core.train.signals import StopFlag
from ance_core.loop.warmup import run_warmup


def ance(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "400"}
    return subprocess.Popen([sys.executable, "-m", "ance_core.cli", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen, timeout: float = 180) -> tuple[int, str]:
    out, _ = process.communicate(timeout=timeout)
    return process.returncode, out


def wait_for(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGUSR1, pytest.param(signal.SIGTERM, marks=pytest.mark.slow)])
def test_warmup_checkpoints_on_signal_exits_99_and_resumes_to_the_same_bits(tiny_experiment, tmp_path, signum):
    warm = {"steps": 120}
    straight = load_experiment(tiny_experiment(warmup=warm, outputs={"root": str(tmp_path / "a")}))
    reference = run_warmup(straight, 0, DistInfo(), StopFlag())  # in-process, one thread, as the children

    stopped = tiny_experiment(warmup=warm, outputs={"root": str(tmp_path / "b")})
    process = ance("warmup", "--config", str(stopped), cwd=tmp_path)
    wait_for(lambda: any((tmp_path / "b").glob("_warmup/*/checkpoints/checkpoint-*/COMPLETE")) or process.poll() is not None)
    process.send_signal(signum)
    code, out = finish(process)
    assert code == 99, out
    assert "run the same command again to resume" in out
    warm_dir = next((tmp_path / "b" / "_warmup").glob("*-seed0"))
    steps = [int(p.name.split("-")[1]) for p in (warm_dir / "checkpoints").glob("checkpoint-*")]
    assert steps and max(steps) < 120  # stopped mid-way, checkpointed where it stopped
    assert not (warm_dir / "checkpoint-0").exists()

    code, out = finish(ance("warmup", "--config", str(stopped), cwd=tmp_path))
    assert code == 0, out
    assert sha256_file(reference / "model.safetensors") == sha256_file(warm_dir / "checkpoint-0" / "model.safetensors")
    events = [json.loads(line) for line in (warm_dir / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if e["kind"] == "train"] == list(range(4, 121, 4))  # one event per step, none twice
