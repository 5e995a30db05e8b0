"""Issue 9.3: the asynchronous trainer never reads a partial negatives file or checkpoint.

A trainer process (`ance run --role trainer`) polls its run folder while this test
writes the next negatives file by hand, slowly and in pieces, not atomically (as a
copy from another file system would), then its stats file in two pieces. The
trainer must switch to it exactly once, after it is whole, and never fail on it.
Checkpoints copied into place in pieces are likewise invisible until complete.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from ance_core.config import load_experiment
from ance_core.io.atomic import COMPLETE_MARKER
from ance_core.train import distributed as D
from ance_core.train.checkpoint import latest_checkpoint, load_state
from ance_core.loop.ance import Run, ensure_refresh, prepare_start
from ance_core.data.negatives import negatives_path, stats_path
from ance_core.train.rundir import default_run_dir, for_seed, prepare
from ance_core.train.signals import StopFlag
from loop_helpers import events


def copy_slowly(source: Path, target: Path, piece: int = 4096, pause: float = 0.01) -> None:
    data = source.read_bytes()
    with open(target, "wb") as handle:
        for start in range(0, len(data), piece):
            handle.write(data[start : start + piece])
            handle.flush()
            time.sleep(pause)


def test_trainer_switches_only_to_a_whole_negatives_file(tiny_experiment, tmp_path):
    config = tiny_experiment(ance={"mode": "async", "refresh_every": 150, "refreshes": 2},
                             train={"checkpoint_every": 20, "log_every": 10})
    experiment, seed = for_seed(load_experiment(config), None)
    run_dir = default_run_dir(experiment, seed)
    prepare(run_dir, experiment, "run")
    ctx = Run(experiment, seed, run_dir, D.DistInfo(), StopFlag())
    start = prepare_start(ctx)
    ensure_refresh(ctx, 0, start, 0)  # negatives-0, as the refresher would
    # The next file, made elsewhere: refresh 1 mined with the start checkpoint into a side folder.
    from ance_core.mining import refresh

    side = tmp_path / "side"
    refresh(experiment, start, side, 1, seed, evaluate=False)

    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "300"}
    trainer = subprocess.Popen([sys.executable, "-m", "ance_core.cli", "run", "--config", str(run_dir / "config.yaml"),
                                "--out", str(run_dir), "--role", "trainer"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while latest_checkpoint(run_dir) is None:  # training is under way
        assert trainer.poll() is None, trainer.communicate()[0]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    target = negatives_path(run_dir / "negatives", 1)
    copy_slowly(negatives_path(side / "negatives", 1), target)
    stats = stats_path(negatives_path(side / "negatives", 1)).read_bytes()
    with open(stats_path(target), "wb") as handle:
        handle.write(stats[: len(stats) // 2])
        handle.flush()
        time.sleep(0.5)
        handle.write(stats[len(stats) // 2 :])
    written_at = latest_checkpoint(run_dir).step  # the trainer is at least here when the file became whole
    out, _ = trainer.communicate(timeout=600)
    assert trainer.returncode == 0, out

    switches = events(run_dir, "negatives")
    assert [e["refresh"] for e in switches] == [1], out  # exactly once, to the whole file
    switched_at = switches[0]["step"]
    assert written_at <= switched_at < 300
    assert [e["negatives"] for e in events(run_dir, "train") if e["step"] > switched_at] and \
        all(e["negatives"] == 1 for e in events(run_dir, "train") if e["step"] > switched_at)
    final = latest_checkpoint(run_dir)
    assert final.step == 300 and load_state(final)["data"]["file"] == "negatives-1.jsonl"
    assert json.loads((run_dir / "STATUS.json").read_text())["state"] == "trained"


def test_a_checkpoint_copied_in_pieces_is_invisible_until_complete(tiny_experiment, tmp_path):
    from loop_helpers import run_loop

    run_dir = run_loop(tiny_experiment(ance={"refreshes": 1}))
    source = latest_checkpoint(run_dir).path  # checkpoint-12
    target = run_dir / "checkpoints" / "checkpoint-99"
    seen: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def poll():
        while not done.is_set():
            found = latest_checkpoint(run_dir)
            seen.append(found.step)
            if found.step == 99:
                try:
                    load_state(found)  # verifies every file against the marker: must not raise
                except BaseException as exc:  # a thread's exception would not fail the test by itself
                    errors.append(exc)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        target.mkdir()
        files = sorted(p for p in source.iterdir() if p.name != COMPLETE_MARKER)
        for file in files:
            copy_slowly(file, target / file.name, piece=1 << 16, pause=0.002)
        time.sleep(0.1)
        assert 99 not in seen  # every file there, but no marker yet
        # the marker too is copied in place and slowly, as `cp -r` would: a half-written one must not count
        copy_slowly(source / COMPLETE_MARKER, target / COMPLETE_MARKER, piece=16, pause=0.01)
        time.sleep(0.2)
    finally:
        done.set()
        poller.join()
    assert not errors, errors
    assert seen[0] == 12 and seen[-1] == 99 and len(seen) > 10
