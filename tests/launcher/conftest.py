"""Fixtures for the launcher: experiments in a temp runs root, a stand-in `ance`, a real SLURM.

Tests marked `slurm` submit to the single-node SLURM that `scripts/slurm/up.sh`
(`make slurm-up`) runs on this machine. When it does not answer, the session
fixture starts it (that installs slurm-wlm and munge when they are missing);
only where that is impossible do the tests skip, with up.sh's own message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ance_core.config import Experiment, validate_experiment
from launcher.slurm import Slurm

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
UP_SCRIPT = ROOT / "scripts" / "slurm" / "up.sh"
STAND_IN = HERE / "stand_in_ance.py"

# Small enough for a 2-core machine running two jobs side by side, long enough for USR1 to be a
# deliberate signal and not the time-limit warning.
TEST_RESOURCES = {"cpus": 1, "mem": "200M", "time": "00:30:00", "signal_seconds": 60}


@pytest.fixture
def make_experiment(tmp_path) -> Callable[..., Experiment]:
    """An experiment whose outputs go to tmp_path/runs; keyword sections are merged over the defaults."""

    def make(name: str = "top20", **sections) -> Experiment:
        data = {"name": name, "outputs": {"root": str(tmp_path / "runs")}, "resources": dict(TEST_RESOURCES)}
        for key, value in sections.items():
            data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
        return validate_experiment(data)

    return make


@pytest.fixture
def stand_in(tmp_path, monkeypatch) -> tuple[str, ...]:
    """An executable stand-in for `ance` (see stand_in_ance.py); its events go to tmp_path/events.jsonl.

    The environment it reads is set here, so sbatch (which exports the environment) and the
    local executor pass it on to the jobs.
    """
    script = tmp_path / "bin" / "ance"
    script.parent.mkdir()
    script.write_text(f"#!{sys.executable}\n" + STAND_IN.read_text())
    script.chmod(0o755)
    monkeypatch.setenv("ANCE_STANDIN_LOG", str(tmp_path / "events.jsonl"))
    monkeypatch.setenv("ANCE_STANDIN_SLEEP", "0.3")
    monkeypatch.delenv("ANCE_STANDIN_WAIT_SIGNAL", raising=False)
    monkeypatch.delenv("ANCE_STANDIN_FAIL", raising=False)
    return (str(script),)


@pytest.fixture(autouse=True)
def cancel_leftover_jobs(request, tmp_path):
    """After each test, cancel what its submissions left unfinished: a failed test must not leave
    jobs holding the single test node's CPUs while the next tests wait behind them."""
    yield
    if request.node.path.parent != HERE:
        return  # tests in sub-folders (the TUI's) clean up after themselves
    from launcher.cancel import cancel_jobs
    from launcher.records import load_submission

    for marker in tmp_path.glob("**/_jobs/*/submission.json"):
        try:
            cancel_jobs(load_submission(marker.parent))
        except Exception as exc:  # noqa: BLE001 - cleanup must not mask the test's own result
            print(f"could not cancel the jobs of {marker.parent}: {exc}")


@pytest.fixture(scope="session")
def slurm_cluster() -> Slurm:
    """The local single-node SLURM, started if needed; skips (with the reason) only where it cannot run."""
    slurm = Slurm()
    if shutil.which("sinfo") and slurm.ping() is None:
        return slurm
    if os.geteuid() != 0:
        pytest.skip("SLURM is not running and starting it needs root: run `sudo make slurm-up`")
    result = subprocess.run(["bash", str(UP_SCRIPT)], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        pytest.skip(f"SLURM cannot be started here (scripts/slurm/up.sh): {(result.stderr or result.stdout).strip()[-400:]}")
    slurm = Slurm()
    why = slurm.ping()
    if why is not None:
        pytest.skip(f"SLURM was started but does not answer: {why}")
    return slurm
