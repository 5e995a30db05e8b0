"""Issue 9.4 for the trainer: disk full, read-only run folder, missing data.

The stage must stop with exit 1 (2 for bad input) and one clear message, and
leave every earlier checkpoint and negatives file complete, so that the same
command resumes once the disk is fixed. As root, chmod cannot make a folder
read-only, so the real cases run on a small tmpfs mounted for the test (filled
up, or remounted read-only); where mounting is not allowed they skip, and the
OS-level case (fsync failing with ENOSPC, as delayed allocation reports a full
disk) always runs.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from ance_core.cli import main as ance
from ance_core.io.atomic import is_complete
from ance_core.train.checkpoint import list_checkpoints
from ance_core.data.negatives import complete_files
from ance_core.train.signals import Requeue
from loop_helpers import run_loop, warm


def logged(capsys) -> str:
    """What the CLI told the user (rich wraps lines: compare with whitespace folded)."""
    captured = capsys.readouterr()
    return " ".join((captured.err + captured.out).split())


def stopped_half_way(tiny_experiment, root: Path, stop_after) -> tuple[Path, Path]:
    """A tiny run stopped (SIGUSR1) in chunk 2: checkpoints and negatives 0, 1 on disk."""
    config = tiny_experiment(outputs={"root": str(root)})
    warm(config)
    with pytest.raises(Requeue) as stopped:
        run_loop(config, stop=stop_after(16))
    assert stopped.value.step == 14
    return config, root / "tiny" / "seed0"


def intact(run_dir: Path) -> tuple[list[int], list[int]]:
    checkpoints = list_checkpoints(run_dir)
    assert checkpoints and all(is_complete(c.path, verify=True) for c in checkpoints)
    return [c.step for c in checkpoints], [f.refresh for f in complete_files(run_dir / "negatives")]


@pytest.fixture
def tmpfs(tmp_path):
    """A 160 MB tmpfs, or a skip saying why there is none."""
    mount_point = tmp_path / "fs"
    mount_point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root and mount(8)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160m", f"ance-test-{uuid.uuid4().hex[:8]}", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"this machine does not allow mounting a tmpfs: {done.stderr.strip()}")
    yield mount_point
    subprocess.run(["mount", "-o", "remount,rw", str(mount_point)], capture_output=True)
    # lazy: memory-mapped token caches of this process may still hold files open
    subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * (1 << 20))
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_disk_full_stops_with_exit_1_and_keeps_earlier_files(tiny_experiment, tmpfs, stop_after, capsys):
    config, run_dir = stopped_half_way(tiny_experiment, tmpfs / "runs", stop_after)
    before = intact(run_dir)
    filler = fill(tmpfs)
    assert ance(["run", "--config", str(config)]) == 1
    said = logged(capsys)
    assert "No space left on device" in said and "earlier checkpoints and negatives are intact" in said
    assert intact(run_dir) == before
    filler.unlink()
    assert ance(["run", "--config", str(config)]) == 0  # the same command, once there is room
    assert json.loads((run_dir / "STATUS.json").read_text())["state"] == "finished"


def test_read_only_run_folder_stops_with_exit_1_and_keeps_earlier_files(tiny_experiment, tmpfs, stop_after, capsys):
    config, run_dir = stopped_half_way(tiny_experiment, tmpfs / "runs", stop_after)
    before = intact(run_dir)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    assert ance(["run", "--config", str(config)]) == 1
    assert "Read-only file system" in logged(capsys)
    subprocess.run(["mount", "-o", "remount,rw", str(tmpfs)], check=True)
    assert intact(run_dir) == before
    assert ance(["run", "--config", str(config)]) == 0


def test_fsync_failing_with_enospc_stops_the_run_and_keeps_earlier_files(tiny_experiment, tmp_path, stop_after,
                                                                         monkeypatch, capsys):
    config, run_dir = stopped_half_way(tiny_experiment, tmp_path / "runs", stop_after)
    before = intact(run_dir)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    assert ance(["run", "--config", str(config)]) == 1
    assert "No space left on device" in logged(capsys)
    monkeypatch.undo()
    assert intact(run_dir) == before
    assert not list(run_dir.rglob(".*.tmp")) and not list(run_dir.rglob(".*.partial"))  # no half-written leftovers


def test_missing_data_is_an_input_error(tiny_experiment, tmp_path, capsys):
    config = tiny_experiment(data={"dataset": str(tmp_path / "nowhere")})
    assert ance(["run", "--config", str(config)]) == 2
    said = logged(capsys)
    assert "data.dataset" in said and "nowhere" in said
