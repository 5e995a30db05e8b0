"""Issue 16: the asynchronous run as the GPU profile lays it out, N trainer ranks (torchrun) beside one
refresher, here on CPU (2 ranks, gloo), through the real run job script and the local executor.

A USR1 in the middle of a refresh abandons it and requeues the job; in the requeued run the whole job
is SIGKILLed (every process, as a node failure would); submitted again, the run resumes both roles and
ends finished, with every step, negatives switch and refresh logged once. The job's `ance` is the real
CLI behind tests/ance_core/train/jobhook.py, which picks the moments.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections import Counter
from pathlib import Path

import pytest

from ance_core.config import load_experiment
from launcher.plan import new_submission_id, plan_study
from launcher.status import collect
from launcher.submit import launch, resolve_all
from loop_helpers import events

HERE = Path(__file__).resolve().parent


def submit(config: Path, workdir: Path):
    resolved = resolve_all([(config, load_experiment(config))], workdir)
    plan = plan_study(resolved, submission_id=new_submission_id(), workdir=str(workdir), executor="local",
                      ance=(sys.executable, str(HERE / "jobhook.py")), report=False)
    submission, results = launch(plan)
    return submission, {r.key: r.exit_code for r in results}


def refresh_outcomes(run_dir: Path) -> dict[int, list[str]]:
    """refresh -> the kinds of its events, in log order."""
    found: dict[int, list[str]] = {}
    for event in events(run_dir):
        if event["kind"] in ("refresh", "eval", "refresh_failed", "refresh_skipped"):
            found.setdefault(event["refresh"], []).append(event["kind"])
    return found


@pytest.mark.slow
def test_two_rank_async_run_requeues_mid_refresh_and_resumes_after_sigkill(tiny_experiment, tmp_path, monkeypatch):
    if shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("torchrun is not installed next to this Python")
    config = tiny_experiment(ance={"mode": "async"}, train={"batch_size": 4},  # 2 ranks x 4 = the batch of 8
                             resources={"cpus": 2, "cpu_ranks": 2})
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("COLUMNS", "300")
    # First run: USR1 inside the refresher's 2nd corpus encoding (refresh 1, or 2 when 1 had no checkpoint of
    # its own). The requeued run: SIGKILL to the whole job at its first encoding or its trainer's 2nd step.
    monkeypatch.setenv("ANCE_JOB_HOOK", "0:refresher:encode:2:usr1,1:refresher:encode:1:kill,1:trainer:step:2:kill")
    first, codes = submit(config, tmp_path)

    run_dir = tmp_path / "runs" / "tiny" / "seed0"
    assert codes == {"warmup.s0": 0, "run.tiny.s0": -9}, codes
    statuses = {s.key: s for s in collect(first)}
    assert statuses["run.tiny.s0"].restarts == 1  # requeued once (exit 99), then killed
    log = first.log_path(first.entry("run.tiny.s0")).read_text()
    assert "USR1: asking the stage to checkpoint" in log and "abandoned (SIGUSR1)" in log, log[-3000:]
    assert json.loads((run_dir / "STATUS.json").read_text())["state"] != "finished"

    monkeypatch.delenv("ANCE_JOB_HOOK")
    second, codes = submit(config, tmp_path)
    assert codes == {"warmup.s0": 0, "run.tiny.s0": 0}, second.log_path(second.entry("run.tiny.s0")).read_text()[-3000:]

    assert json.loads((run_dir / "STATUS.json").read_text())["state"] == "finished"
    assert [e["step"] for e in events(run_dir, "train")] == [4, 8, 12, 16, 20, 24]  # rank 0 logs, once per step
    switches = [e["refresh"] for e in events(run_dir, "negatives")]
    assert switches == sorted(set(switches)), switches
    outcomes = refresh_outcomes(run_dir)
    assert sorted(outcomes) == [0, 1, 2]
    for refresh, kinds in outcomes.items():  # mined and evaluated once, or skipped once (no checkpoint of its own)
        assert kinds in (["refresh", "eval"], ["refresh_skipped"]), (refresh, kinds)
    assert outcomes[0] == outcomes[2] == ["refresh", "eval"]
    steps = [e["step"] for e in events(run_dir, "eval")]
    assert steps == sorted(set(steps)) and steps[-1] == 24  # distinct checkpoints; the last is the final one
    assert Counter(e["kind"] for e in events(run_dir))["warmup_done"] == 1
    assert not list((run_dir / "checkpoints").glob("claim-*"))  # every refresh released its checkpoint
