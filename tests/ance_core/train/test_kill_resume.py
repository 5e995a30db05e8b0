"""Issue 9.1: SIGKILL anywhere (training, a refresh, a checkpoint or negatives write, a metrics line),
then `ance run` again: the same final checkpoint, bit for bit, and the same events as an uninterrupted run.

Every kill point is reached for real, in a child process; `killhook.py` says where. On CPU with one
thread every op of this loop is deterministic (the resume restores weights, optimizer, schedule, RNG
and data position exactly), so the comparison is exact equality, not a tolerance.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loop_helpers import comparable, events, final_hash, run_loop

HERE = Path(__file__).resolve().parent
# (point, how many calls there are in one uninterrupted tiny run): N is drawn in 1..count.
POINTS = {
    "step": 72,  # 48 warm-up + 24 ANCE steps
    "checkpoint": 18,  # 12 warm-up + 6 ANCE
    "negatives": 4,  # BM25 + refreshes 0, 1, 2
    "stats": 4,
    "encode": 4,  # zero-shot baseline + refreshes 0, 1, 2
    "metrics": 30,
    "time": 12000,  # milliseconds
}


def killed_then_resumed(config: Path, point: str, n: int, cwd: Path) -> tuple[int, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "300", "PYTHONPATH": os.pathsep.join(
        [str(HERE), str(HERE.parents[2]), os.environ.get("PYTHONPATH", "")])}
    def ance(*args: str, log: Path) -> int:
        # output to a file, not a pipe: a child the kill left behind must not keep this waiting for EOF
        with log.open("w") as out:
            return subprocess.run([sys.executable, *args], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=600).returncode

    first = ance(str(HERE / "killhook.py"), point, str(n), "run", "--config", str(config), log=cwd / "killed.log")
    second = ance("-m", "ance_core.cli", "run", "--config", str(config), log=cwd / "resumed.log")
    assert second == 0, (cwd / "resumed.log").read_text()
    return first, (cwd / "killed.log").read_text()


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_model, tiny_dataset):
    """One uninterrupted run, in-process with one thread like the children."""
    import torch
    import yaml

    from ance_core.selftest import tiny_experiment as tiny_experiment_dict

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("reference")
    config = root / "exp.yaml"
    config.write_text(yaml.safe_dump(tiny_experiment_dict(tiny_model, tiny_dataset, root / "runs")))
    run_dir = run_loop(config)
    return final_hash(run_dir, 24), comparable(run_dir), comparable(next((root / "runs" / "_warmup").glob("*-seed0")))


def check_kill_point(reference, tiny_experiment, tmp_path, point: str, n: int) -> None:
    config = tiny_experiment(outputs={"root": str(tmp_path / "runs")})
    code, out = killed_then_resumed(config, point, n, tmp_path)
    assert code in (-9, 0), f"kill at {point} #{n}: exit {code}\n{out}"
    run_dir = tmp_path / "runs" / "tiny" / "seed0"
    expected_hash, expected_events, expected_warmup = reference
    assert final_hash(run_dir, 24) == expected_hash, f"kill at {point} #{n}: a different final checkpoint"
    assert comparable(run_dir) == expected_events, f"kill at {point} #{n}: different metrics.jsonl events"
    assert comparable(next((tmp_path / "runs" / "_warmup").glob("*-seed0"))) == expected_warmup


def draw(rng: random.Random) -> tuple[str, int]:
    point = rng.choice(sorted(POINTS))
    return point, rng.randint(1, POINTS[point])


def test_one_random_kill_point_resumes_bit_identical(reference, tiny_experiment, tmp_path):
    seed = int(os.environ.get("ANCE_KILL_SEED", time.time_ns() % 100_000))
    point, n = draw(random.Random(seed))
    print(f"kill point: {point} #{n} (ANCE_KILL_SEED={seed} repeats it)")
    check_kill_point(reference, tiny_experiment, tmp_path, point, n)


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(20))
def test_twenty_random_kill_points_resume_bit_identical(reference, tiny_experiment, tmp_path, trial):
    point, n = draw(random.Random(1000 + trial))
    check_kill_point(reference, tiny_experiment, tmp_path, point, n)


@pytest.mark.slow
@pytest.mark.parametrize("point,n", [("checkpoint", 14), ("negatives", 3), ("stats", 2), ("metrics", 12)])
def test_kill_inside_each_kind_of_write(reference, tiny_experiment, tmp_path, point, n):
    """The writes whose torn state a resume must see through, each hit once."""
    check_kill_point(reference, tiny_experiment, tmp_path, point, n)


@pytest.mark.slow
@pytest.mark.parametrize("n", [1, 13])
def test_kill_inside_the_first_checkpoint_of_each_phase(reference, tiny_experiment, tmp_path, n):
    """#1 is the warm-up's first, #13 the ANCE run's: no whole checkpoint yet, so the resume starts at
    step 0 and the steps already logged must go from metrics.jsonl (a CI run once found them twice)."""
    check_kill_point(reference, tiny_experiment, tmp_path, "checkpoint", n)


@pytest.mark.slow
def test_kill_inside_the_warm_ups_last_event(reference, tiny_experiment, tmp_path):
    """Metrics line #15 is `warmup_done` (2 baselines, 12 train lines, then it), written after checkpoint-0
    is whole: the next run reuses the warm-up and must still log it, not keep the torn line."""
    check_kill_point(reference, tiny_experiment, tmp_path, "metrics", 15)


@pytest.mark.slow
def test_async_run_killed_inside_a_checkpoint_resumes(reference, tiny_experiment, tmp_path):
    """Async (trainer here, refresher as its child): SIGKILL the trainer inside its 2nd ANCE checkpoint.
    The refresher must go with it (it used to live on holding the refresher lock, and the resumed run
    failed), and the resumed run's log holds each step and refresh once. Not bit-identical: which
    checkpoint each refresh mines with depends on timing in async mode."""
    config = tiny_experiment(outputs={"root": str(tmp_path / "runs")}, ance={"mode": "async"})
    code, out = killed_then_resumed(config, "checkpoint", 14, tmp_path)
    assert code == -9, f"exit {code}\n{out}"
    run_dir = tmp_path / "runs" / "tiny" / "seed0"
    assert [e["step"] for e in events(run_dir, "train")] == [4, 8, 12, 16, 20, 24]
    for kind in ("refresh", "eval"):
        assert [e["refresh"] for e in events(run_dir, kind)] == [0, 1, 2], kind
    assert events(run_dir, "refresh_failed") == []
    assert comparable(next((tmp_path / "runs" / "_warmup").glob("*-seed0"))) == reference[2]
