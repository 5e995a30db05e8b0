"""Plans: shared warm-ups, dependencies, the job folder, resolved experiments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ance_core.config import load_experiment
from ance_core.errors import InputError
from launcher.plan import write_plan
from launcher.records import load_submission
from launcher_helpers import make_plan


def test_study_plan_shares_a_warmup_per_seed_runs_strategies_in_parallel_and_reports_last(make_experiment, tmp_path):
    top = make_experiment("top20", seeds=[0, 1])
    bottom = make_experiment("bottom20", seeds=[0, 1], ance={"segment": {"kind": "top", "windows": [[180, 200]]}})
    plan = make_plan([top, bottom], tmp_path, "slurm")

    deps = {job.key: job.depends_on for job in plan.jobs}
    assert deps == {
        "warmup.s0": (),
        "warmup.s1": (),
        "run.top20.s0": ("warmup.s0",),
        "run.top20.s1": ("warmup.s1",),
        "run.bottom20.s0": ("warmup.s0",),
        "run.bottom20.s1": ("warmup.s1",),
        "report": ("run.top20.s0", "run.top20.s1", "run.bottom20.s0", "run.bottom20.s1"),
    }
    # plan order is a topological order: executors submit/run in it
    position = {job.key: i for i, job in enumerate(plan.jobs)}
    assert all(position[dep] < position[key] for key, ds in deps.items() for dep in ds)
    report = plan.job("report")
    assert report.context.run_dirs == tuple(f"{tmp_path}/runs/{n}/seed{s}" for n in ("top20", "bottom20") for s in (0, 1))


def test_different_warmups_get_their_own_jobs(make_experiment, tmp_path):
    a = make_experiment("a")
    b = make_experiment("b", warmup={"steps": 7})
    plan = make_plan([a, b], tmp_path, "local")
    warmups = [job for job in plan.jobs if job.template == "warmup"]
    assert len(warmups) == 2 and all(job.key.startswith("warmup.") and job.key.endswith(".s0") for job in warmups)
    assert plan.job("run.a.s0").depends_on != plan.job("run.b.s0").depends_on


def test_no_warmup_job_when_warmup_is_off(make_experiment, tmp_path):
    plan = make_plan([make_experiment(warmup={"enabled": False})], tmp_path, "local")
    assert [job.key for job in plan.jobs] == ["run.top20.s0", "report"]
    assert plan.job("run.top20.s0").depends_on == ()


def test_several_nodes_use_the_multinode_template(make_experiment, tmp_path):
    plan = make_plan([make_experiment(resources={"nodes": 2, "gpus": 4})], tmp_path, "slurm")
    assert plan.job("run.top20.s0").template == "run_multinode"


def test_warmups_are_grouped_by_the_key_the_warmup_stage_uses(make_experiment, tmp_path):
    # ance.index shapes the warm-up's zero-shot baseline; ance.segment only the strategies' own mining
    flat = make_experiment("flat")
    hnsw = make_experiment("hnsw", ance={"index": "hnsw"})
    plan = make_plan([flat, hnsw], tmp_path, "local")
    assert plan.job("run.flat.s0").depends_on != plan.job("run.hnsw.s0").depends_on
    warmup_stage = pytest.importorskip("ance_core.loop.warmup", reason="the warm-up stage is not in this checkout")
    experiments = {job.experiment.name: job.experiment for job in plan.jobs}
    assert warmup_stage.warmup_dir(experiments["flat"], 0) != warmup_stage.warmup_dir(experiments["hnsw"], 0)


def test_duplicate_names_and_mixed_runs_roots_are_refused(make_experiment, tmp_path):
    with pytest.raises(InputError, match="name: expected a name no other experiment"):
        make_plan([make_experiment("x"), make_experiment("x")], tmp_path, "local")
    other = make_experiment("y", outputs={"root": str(tmp_path / "elsewhere")})
    with pytest.raises(InputError, match="outputs.root: expected one runs root"):
        make_plan([make_experiment("x"), other], tmp_path, "local")


def test_write_plan_lays_out_the_job_folder(make_experiment, tmp_path):
    plan = make_plan([make_experiment(seeds=[0, 1])], tmp_path, "local")
    scripts = write_plan(plan)

    folder = plan.job_dir
    assert folder == tmp_path / "runs" / "_jobs" / plan.submission_id
    assert sorted(p.name for p in folder.iterdir()) == ["experiments", "logs", "records", "scripts", "submission.json"]
    assert all(path.stat().st_mode & 0o111 for path in scripts.values())
    submission = load_submission(folder)
    assert [job.key for job in submission.jobs] == [job.key for job in plan.jobs]
    assert submission.entry("run.top20.s1").depends_on == ("warmup.s1",)
    assert json.loads((folder / "submission.json").read_text())["executor"] == "local"
    with pytest.raises(InputError, match="the job folder exists already"):
        write_plan(plan)


def test_jobs_read_the_resolved_experiment_with_absolute_paths(make_experiment, tmp_path, monkeypatch):
    # Relative paths are relative to where ance-launch runs; the job's copy must not depend on that.
    exp = make_experiment(data={"dataset": "data/msmarco"}, outputs={"root": "runs"}, resources={"image": "ance.sif"})
    plan = make_plan([exp], tmp_path, "slurm")
    write_plan(plan)
    copy = plan.job_dir / "experiments" / "top20.yaml"
    raw = yaml.safe_load(copy.read_text())
    assert raw["data"]["dataset"] == str(tmp_path / "data" / "msmarco")
    assert raw["outputs"]["root"] == str(tmp_path / "runs")
    assert raw["resources"]["image"] == str(tmp_path / "ance.sif")
    monkeypatch.chdir(Path("/"))
    assert load_experiment(copy).model_dump() == plan.job("run.top20.s0").experiment.model_dump()
