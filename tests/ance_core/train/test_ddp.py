"""DDP via torchrun: two CPU ranks (gloo) run the whole sync loop — the multi-node path — to the end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ance_core.train.checkpoint import latest_checkpoint, load_state
from loop_helpers import events


def test_two_rank_sync_run_trains_refreshes_and_checkpoints_every_rank(tiny_experiment, tmp_path):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not installed next to this Python")
    config = tiny_experiment(train={"batch_size": 4})  # 2 ranks x 4 = the single-process batch of 8
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "300"}
    done = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", "-m", "ance_core.cli", "run", "--config",
                           str(config)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    run_dir = tmp_path / "runs" / "tiny" / "seed0"
    assert [e["refresh"] for e in events(run_dir, "eval")] == [0, 1, 2]
    assert [e["step"] for e in events(run_dir, "train")] == [4, 8, 12, 16, 20, 24]  # logged once, by rank 0
    state = load_state(latest_checkpoint(run_dir))
    assert state["step"] == 24 and len(state["rng"]) == 2  # both ranks' RNG streams, for an exact resume
    assert json.loads((run_dir / "STATUS.json").read_text())["state"] == "finished"
