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


def test_study_plan_is_prep_then_warmup_then_refresh0_per_seed_then_strategies_then_report(make_experiment, tmp_path):
    top = make_experiment("top20", seeds=[0, 1])
    bottom = make_experiment("bottom20", seeds=[0, 1], ance={"segment": {"kind": "top", "windows": [[180, 200]]}})
    plan = make_plan([top, bottom], tmp_path, "slurm")

    deps = {job.key: job.depends_on for job in plan.jobs}
    assert deps == {
        "prep": (),
        "warmup.s0": ("prep",),
        "warmup.s1": ("prep",),
        "refresh0.s0": ("warmup.s0",),
        "refresh0.s1": ("warmup.s1",),
        "run.top20.s0": ("refresh0.s0",),
        "run.top20.s1": ("refresh0.s1",),
        "run.bottom20.s0": ("refresh0.s0",),
        "run.bottom20.s1": ("refresh0.s1",),
        "report": ("run.top20.s0", "run.top20.s1", "run.bottom20.s0", "run.bottom20.s1"),
    }
    # plan order is a topological order: executors submit/run in it
    position = {job.key: i for i, job in enumerate(plan.jobs)}
    assert all(position[dep] < position[key] for key, ds in deps.items() for dep in ds)
    report = plan.job("report")
    assert report.context.run_dirs == tuple(f"{tmp_path}/runs/{n}/seed{s}" for n in ("top20", "bottom20") for s in (0, 1))
    assert {job.key: job.context.shape for job in plan.jobs if not job.key.startswith("run.")} == {
        "prep": "prep", "warmup.s0": "warmup", "warmup.s1": "warmup", "refresh0.s0": "refresh0",
        "refresh0.s1": "refresh0", "report": "report"}


def test_each_job_shape_asks_for_its_own_resources(make_experiment, tmp_path):
    exp = make_experiment(resources={"executor": "slurm", "gpus": 4, "gpus_refresh": 1, "cpus": 8, "mem": "128G",
                                     "time": "2-00:00:00", "refresh0": {"time": "06:00:00"}}, ance={"mode": "async"})
    plan = make_plan([exp], tmp_path, "slurm")
    asked = {job.context.shape: (job.resources.gpus, job.resources.cpus, job.resources.mem, job.resources.time)
             for job in plan.jobs}
    assert asked == {
        "prep": (0, 8, "128G", "2-00:00:00"),  # CPU only, the run's CPUs, memory and time
        "warmup": (1, 8, "128G", "2-00:00:00"),  # one GPU, the run's CPUs, memory and time
        "refresh0": (1, 8, "128G", "06:00:00"),  # its own time limit
        "run": (4, 8, "128G", "2-00:00:00"),
        "report": (0, 1, "4G", "00:30:00"),  # CPU, small memory, minutes
    }
    scripts = plan.scripts()
    assert "#SBATCH --gres" not in scripts["prep"] and "#SBATCH --gres" not in scripts["report"]
    assert "#SBATCH --time=00:30:00" in scripts["report"] and "#SBATCH --mem=4G" in scripts["report"]
    assert "#SBATCH --gres=gpu:1" in scripts["refresh0.s0"] and "#SBATCH --time=06:00:00" in scripts["refresh0.s0"]
    assert "#SBATCH --gres=gpu:4" in scripts["run.top20.s0"]
    assert " prep --config " in scripts["prep"] and " refresh0 --config " in scripts["refresh0.s0"]


def test_prep_and_report_refuse_gpus(make_experiment):
    with pytest.raises(InputError, match=r"resources.prep.gpus: expected 0 \(this job shape runs on CPUs only\)"):
        make_experiment(resources={"prep": {"gpus": 1}})


def test_strategies_with_another_start_get_their_own_refresh0(make_experiment, tmp_path):
    a = make_experiment("a", warmup={"enabled": False})
    b = make_experiment("b", warmup={"enabled": False}, ance={"encode": {"batch_size": 7}})
    plan = make_plan([a, b], tmp_path, "local")
    refresh0 = [job.key for job in plan.jobs if job.template == "refresh0"]
    assert len(refresh0) == 2 and plan.job("run.a.s0").depends_on != plan.job("run.b.s0").depends_on
    assert all(plan.job(key).depends_on == ("prep",) for key in refresh0)  # no warm-up: straight after prep


def test_different_warmups_get_their_own_jobs(make_experiment, tmp_path):
    a = make_experiment("a")
    b = make_experiment("b", warmup={"steps": 7})
    plan = make_plan([a, b], tmp_path, "local")
    warmups = [job for job in plan.jobs if job.template == "warmup"]
    assert len(warmups) == 2 and all(job.key.startswith("warmup.") and job.key.endswith(".s0") for job in warmups)
    assert plan.job("run.a.s0").depends_on != plan.job("run.b.s0").depends_on


def test_no_warmup_job_when_warmup_is_off(make_experiment, tmp_path):
    plan = make_plan([make_experiment(warmup={"enabled": False})], tmp_path, "local")
    assert [job.key for job in plan.jobs] == ["prep", "refresh0.s0", "run.top20.s0", "report"]
    assert plan.job("refresh0.s0").depends_on == ("prep",)
    assert plan.job("run.top20.s0").depends_on == ("refresh0.s0",)


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
    assert submission.entry("run.top20.s1").depends_on == ("refresh0.s1",)
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


def _finished(run_dir: Path, refreshes: int, without: int | None = None) -> None:
    """What a finished run leaves: STATUS.json 'finished' and a record per refresh (less `without`)."""
    from ance_core.train.rundir import write_refresh_record, write_status

    write_status(run_dir, "finished", refresh=refreshes)
    for refresh in range(refreshes + 1):
        if refresh != without:
            write_refresh_record(run_dir, refresh, {"ok": True})


def test_resubmission_leaves_out_finished_runs_and_the_jobs_only_they_needed(make_experiment, tmp_path):
    from launcher.plan import new_submission_id, plan_study
    from launcher.submit import resolve_all

    exps = [make_experiment("top20", seeds=[0, 1]),
            make_experiment("bottom20", seeds=[0, 1], ance={"segment": {"kind": "top", "windows": [[180, 200]]}})]
    refreshes = exps[0].ance.refreshes
    runs = tmp_path / "runs"
    _finished(runs / "top20" / "seed0", refreshes)
    _finished(runs / "bottom20" / "seed0", refreshes)
    _finished(runs / "top20" / "seed1", refreshes, without=refreshes)  # says finished, but its last refresh has no record
    resolved = resolve_all([(f"{exp.name}.yaml", exp) for exp in exps], tmp_path)

    def plan():
        return plan_study(resolved, submission_id=new_submission_id(), workdir=str(tmp_path), executor="local",
                          skip_finished=True)

    first = plan()
    assert first.skipped == [("top20", 0), ("bottom20", 0)]
    assert [job.key for job in first.jobs] == ["prep", "warmup.s1", "refresh0.s1", "run.top20.s1", "run.bottom20.s1", "report"]
    assert first.job("report").depends_on == ("run.top20.s1", "run.bottom20.s1")
    assert len(first.job("report").context.run_dirs) == 4  # the report covers every run, finished ones too

    _finished(runs / "top20" / "seed1", refreshes)
    _finished(runs / "bottom20" / "seed1", refreshes)
    every = plan()
    assert len(every.skipped) == 4
    assert [(job.key, job.depends_on) for job in every.jobs] == [("report", ())]  # still the report


def test_submit_says_which_runs_it_skipped(make_experiment, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "1000")
    exp_file = tmp_path / "top20.yaml"
    exp_file.write_text(f"name: top20\nseeds: [0, 1]\noutputs: {{root: {tmp_path / 'runs'}}}\n")
    _finished(tmp_path / "runs" / "top20" / "seed1", load_experiment(exp_file).ance.refreshes)
    from launcher import cli

    assert cli.main(["submit", str(exp_file), "--executor", "local", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "skipped top20 seed 1: finished" in out and "run.top20.s0" in out and "run.top20.s1" not in out
