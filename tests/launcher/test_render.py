"""Rendering: golden files for every template, and refusals instead of broken scripts.

Regenerate the golden files after a deliberate template change with
`ANCE_UPDATE_GOLDEN=1 pytest tests/launcher/test_render.py` and review the diff.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from ance_core.config import Experiment, validate_experiment
from ance_core.errors import InputError
from launcher.render import TEMPLATE_DIR, TEMPLATES, JobContext, render, slurm_time_seconds

GOLDEN = Path(__file__).resolve().parent / "golden"
JOB_DIR = "/scratch/u/runs/_jobs/20240101-000000-abcd"
NATIVE = ("/home/u/ance-bundle/.venv/bin/ance",)


def experiment(**sections) -> Experiment:
    data = {"name": "top20", "data": {"dataset": "/data/msmarco"}, "outputs": {"root": "/scratch/u/runs"}}
    data.update(sections)
    return validate_experiment(data)


def job(key: str, **fields) -> JobContext:
    values = dict(
        key=key, job_name=f"ance.{key}", job_dir=JOB_DIR, config=f"{JOB_DIR}/experiments/top20.yaml", seed=0,
        workdir="/home/u/ance-bundle", ance=NATIVE, torchrun=("/home/u/ance-bundle/.venv/bin/torchrun",),
    )
    values.update(fields)
    return JobContext(**values)


GPU_CLUSTER = {"executor": "slurm", "partition": "gpu", "account": "proj-ir", "qos": "normal",
               "constraint": "a100|a40", "gpu_type": "a100", "cpus": 8, "mem": "64G", "time": "1-00:00:00",
               "modules": ["cuda/12.1"]}
APPTAINER = {**GPU_CLUSTER, "runtime": "apptainer", "image": "/containers/ance.sif", "binds": ["/scratch/u/hf-cache"]}

# (golden file, template, experiment, job): together they cover every template and job shape.
CASES = {
    "warmup.native-gpu": ("warmup", experiment(resources={**GPU_CLUSTER, "gpus": 4}), job("warmup.s0", shape="warmup")),
    "run.sync-cpu": ("run", experiment(resources={"cpus": 2, "mem": "8G", "time": "02:00:00"}), job("run.top20.s0")),
    "run.async-apptainer-4gpu": (
        "run",
        experiment(ance={"mode": "async"}, resources={**APPTAINER, "gpus": 4, "gpus_refresh": 1}),
        job("run.top20.s0", ance=("ance",), torchrun=("torchrun",)),
    ),
    "run.sync-2gpu-torchrun-norequeue": (
        "run", experiment(resources={**GPU_CLUSTER, "gpus": 2, "requeue": False}), job("run.top20.s1", seed=1),
    ),
    "run_multinode.apptainer-2x4gpu": (
        "run_multinode",
        experiment(resources={**APPTAINER, "nodes": 2, "gpus": 4}),
        job("run.top20.s0", ance=("ance",), torchrun=("torchrun",)),
    ),
    "encode.4-shards": (
        "encode",
        experiment(resources={**GPU_CLUSTER, "gpus": 1, "shards": 4}),
        job("encode.top20", seed=None, checkpoint="/scratch/u/runs/top20/seed0/checkpoints/checkpoint-10000",
            encode_out="/scratch/u/runs/top20/seed0/encode/checkpoint-10000"),
    ),
    "prep.cpu-site": (
        "prep",
        experiment(data={"dataset": "/data/msmarco", "download": "msmarco-passage"},
                   resources={**GPU_CLUSTER, "gpus": 4, "mail_user": "me@example.org",
                              "sbatch": ["--reservation=ir-study"], "hf_home": "/scratch/u/hf"}),
        job("prep", seed=None, shape="prep"),
    ),
    "refresh0.apptainer-1gpu": (
        "refresh0",
        experiment(resources={**APPTAINER, "gpus": 4, "refresh0": {"time": "12:00:00", "mem": "128G"}}),
        job("refresh0.s0", ance=("ance",), torchrun=("torchrun",), shape="refresh0"),
    ),
    "report.two-runs": (
        "report",
        experiment(resources={"executor": "slurm", "partition": "cpu"}),
        job("report", seed=None, run_dirs=("/scratch/u/runs/top20/seed0", "/scratch/u/runs/bottom20/seed0"), shape="report"),
    ),
}


def test_every_template_has_golden_cases():
    on_disk = {path.name.removesuffix(".sh.j2") for path in TEMPLATE_DIR.glob("*.sh.j2")}
    assert on_disk == set(TEMPLATES), "launcher/templates/*.sh.j2 and launcher.render.TEMPLATES disagree"
    assert {template for template, _, _ in CASES.values()} == on_disk


@pytest.mark.parametrize("case", sorted(CASES))
def test_render_matches_golden_file(case):
    template, exp, context = CASES[case]
    text = render(exp, template, context)
    golden = GOLDEN / f"{case}.sh"
    if os.environ.get("ANCE_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
    assert golden.is_file(), f"no golden file {golden}: run with ANCE_UPDATE_GOLDEN=1 once and review it"
    assert text == golden.read_text(), f"{case}: rendered script differs from {golden} (ANCE_UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_scripts_are_valid_bash(case):
    template, exp, context = CASES[case]
    result = subprocess.run(["bash", "-n"], input=render(exp, template, context), text=True, capture_output=True)
    assert result.returncode == 0, result.stderr


def test_sbatch_lines_come_from_the_resources():
    _, exp, context = CASES["run.async-apptainer-4gpu"]
    lines = [line for line in render(exp, "run", context).splitlines() if line.startswith("#SBATCH")]
    assert lines == [
        "#SBATCH --job-name=ance.run.top20.s0",
        f'#SBATCH --output="{JOB_DIR}/logs/run.top20.s0-%j.out"',
        "#SBATCH --open-mode=append",
        '#SBATCH --chdir="/home/u/ance-bundle"',
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --mem=64G",
        "#SBATCH --time=1-00:00:00",
        "#SBATCH --gres=gpu:a100:4",
        "#SBATCH --partition=gpu",
        "#SBATCH --account=proj-ir",
        "#SBATCH --qos=normal",
        "#SBATCH --constraint=a100|a40",
        "#SBATCH --signal=B:USR1@300",
        "#SBATCH --requeue",
    ]


def test_encode_is_an_array_job_with_per_task_logs():
    _, exp, context = CASES["encode.4-shards"]
    text = render(exp, "encode", context)
    assert "#SBATCH --array=0-3" in text
    assert f'#SBATCH --output="{JOB_DIR}/logs/encode.top20-%A_%a.out"' in text
    assert '--shard "$ance_shard/4"' in text


def test_async_split_gives_the_refresher_its_own_gpus():
    _, exp, context = CASES["run.async-apptainer-4gpu"]
    text = render(exp, "run", context)
    assert '"${ance_gpus[*]:0:3}"' in text and '"${ance_gpus[*]:3:1}"' in text
    assert "--role trainer" in text and "--role refresher" in text
    assert "--nproc_per_node=3" in text  # three trainer GPUs: torchrun


def test_render_is_pure(tmp_path, monkeypatch):
    template, exp, context = CASES["run.async-apptainer-4gpu"]
    first = render(exp, template, context)
    monkeypatch.chdir(tmp_path)
    assert render(exp, template, context) == first
    assert list(tmp_path.iterdir()) == []  # rendering writes nothing


def test_render_without_a_job_previews_the_first_seed():
    text = render(experiment(seeds=[3, 4]), "warmup")
    assert "--seed 3" in text and "/scratch/u/runs/_jobs/preview" in text


# ---------------------------------------------------------------- refusals


def test_a_value_the_template_needs_but_the_job_lacks_stops_the_render():
    _, exp, context = CASES["warmup.native-gpu"]
    with pytest.raises(InputError) as error:
        render(exp, "warmup", replace(context, seed=None))
    assert "warmup.sh.j2" in str(error.value) and "seed" in str(error.value)


def test_report_without_runs_is_refused():
    _, exp, context = CASES["report.two-runs"]
    with pytest.raises(InputError, match="job.run_dirs: expected at least one run directory"):
        render(exp, "report", replace(context, run_dirs=()))


def test_unknown_template_is_refused_with_the_list():
    with pytest.raises(InputError, match="--template: expected one of prep, warmup, refresh0, run, run_multinode, encode, report"):
        render(experiment(), "../../etc/passwd")


def test_async_on_several_nodes_is_refused():
    exp = experiment(ance={"mode": "async"}, resources={**GPU_CLUSTER, "nodes": 2, "gpus": 4, "gpus_refresh": 1})
    with pytest.raises(InputError, match="ance.mode: expected 'sync' for a multi-node run"):
        render(exp, "run_multinode", job("run.top20.s0"))


def test_usr1_warning_must_come_before_the_time_limit():
    # five minutes: the default 300 s warning would come at once, for ever.
    exp = experiment(resources={"time": "00:05:00"})
    with pytest.raises(InputError, match=r"resources.signal_seconds: expected less than the time limit .*300 s"):
        render(exp, "run", job("run.top20.s0"))


def test_job_name_with_spaces_cannot_reach_an_sbatch_line():
    with pytest.raises(InputError, match="job name"):
        render(experiment(), "run", job("run.top20.s0", job_name="ance run"))


@pytest.mark.parametrize("text,seconds", [("04:00:00", 14400), ("04:00", 240), ("1-00", 86400), ("2-01:30", 178200),
                                          ("0-00:00:30", 30), ("120:00:00", 432000)])
def test_time_limits_are_read_as_slurm_reads_them(text, seconds):
    assert slurm_time_seconds(text) == seconds
