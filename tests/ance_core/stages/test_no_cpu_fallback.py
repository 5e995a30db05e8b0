"""A stage in a job that was given GPUs exits 2 at once when torch cannot use them (no silent CPU run)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ance_core.config import load_experiment
from ance_core.errors import DeviceError
from ance_core.gpus import GPUS_ENV, requested_gpus
from launcher.render import JobContext, render

REPO = Path(__file__).resolve().parents[3]
GPU_EXPERIMENT = REPO / "experiments" / "msmarco-10" / "top20.yaml"


def _ance(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != GPUS_ENV}
    environ.update(env, COLUMNS="300")
    return subprocess.run([sys.executable, "-m", "ance_core.cli", *args], capture_output=True, text=True,
                          env=environ, cwd=cwd, timeout=300)


@pytest.mark.skipif(torch.version.cuda is not None, reason="needs the CPU build of torch")
def test_gpu_job_with_cpu_torch_exits_2_with_the_reason_and_versions(tmp_path):
    assert load_experiment(GPU_EXPERIMENT).resources.gpus > 0  # the study asks for GPUs
    started = time.monotonic()
    result = _ance(tmp_path, "run", "--config", str(GPU_EXPERIMENT),
                   **{GPUS_ENV: "4", "CUDA_VISIBLE_DEVICES": "0,1,2,3"})
    assert result.returncode == 2, result.stderr
    message = " ".join(result.stderr.split())
    assert "given 4 GPU(s)" in message
    assert "torch is built without CUDA (torch.version.cuda is None)" in message
    assert f"torch {torch.__version__}" in message and "CUDA build none" in message
    assert "CUDA_VISIBLE_DEVICES=0,1,2,3" in message
    # At once: before the experiment's data (absent here) or model is looked at.
    assert "data/msmarco" not in message and time.monotonic() - started < 60
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.skipif(torch.version.cuda is not None, reason="needs the CPU build of torch")
def test_the_same_stage_without_a_gpu_request_goes_past_the_check(tmp_path):
    result = _ance(tmp_path, "run", "--config", str(GPU_EXPERIMENT), "--set", "data.dataset=/nonexistent/msmarco",
                   "--set", "warmup.precision=fp32", "--set", f"outputs.root={tmp_path / 'runs'}")
    assert GPUS_ENV not in result.stderr
    assert result.returncode != 0 and "/nonexistent/msmarco" in " ".join(result.stderr.split())


def test_requested_gpus_reads_the_job_scripts_variable():
    assert requested_gpus({}) == 0
    assert requested_gpus({GPUS_ENV: ""}) == 0
    assert requested_gpus({GPUS_ENV: "4"}) == 4
    with pytest.raises(DeviceError, match="ANCE_GPUS: expected a number of GPUs, found 'four'"):
        requested_gpus({GPUS_ENV: "four"})


def _job(key: str, **fields) -> JobContext:
    values = dict(key=key, job_name=f"ance.{key}", job_dir="/runs/_jobs/x", config="/runs/_jobs/x/top20.yaml",
                  seed=0, workdir="/repo", ance=("ance",), torchrun=("torchrun",))
    values.update(fields)
    return JobContext(**values)


def test_gpu_job_scripts_export_the_request_and_cpu_jobs_do_not():
    experiment = load_experiment(GPU_EXPERIMENT)
    gpus = experiment.resources.gpus
    run_script = render(experiment, "run", _job("run.top20.s42", seed=42))
    assert f"\nexport {GPUS_ENV}={gpus}\n" in run_script
    # The job shapes that run on CPUs whatever resources.gpus says.
    report_script = render(experiment, "report", _job("report", seed=None, run_dirs=("/runs/top20/seed42",), shape="report"))
    assert GPUS_ENV not in report_script
    assert GPUS_ENV not in render(experiment, "prep", _job("prep", seed=None, shape="prep"))
