"""`ance-launch` commands, in-process (cli.main) so their exit codes and output are checked directly."""

from __future__ import annotations

import json

import pytest

from launcher import cli
from launcher.submit import launch
from launcher_helpers import make_plan


@pytest.fixture
def exp_file(tmp_path):
    path = tmp_path / "top20.yaml"
    path.write_text(
        "name: top20\nseeds: [0, 1]\noutputs: {root: runs}\n"
        "resources: {executor: slurm, partition: gpu, gpus: 1, time: '02:00:00'}\n"
    )
    return path


def test_validate_reports_each_file_and_fails_on_a_bad_one(exp_file, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["validate", str(exp_file)]) == 0
    assert "ok" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nresources: {time: '00:05:00'}\n")  # five minutes: USR1 at once
    assert cli.main(["validate", str(exp_file), str(bad)]) == 2
    out = capsys.readouterr().out
    assert f"{bad}: resources.signal_seconds: expected less than the time limit" in out.replace("\n", "")


def test_render_prints_the_script_of_the_chosen_job(exp_file, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["render", str(exp_file), "--template", "warmup", "--seed", "1"]) == 0
    script = capsys.readouterr().out
    assert script.startswith("#!/bin/bash\n#SBATCH --job-name=ance.warmup.s1\n")
    assert "#SBATCH --partition=gpu" in script and "#SBATCH --gres=gpu:1" in script
    assert f"warmup --config {tmp_path}/runs/_jobs/preview/experiments/top20.yaml --seed 1" in script
    assert cli.main(["render", str(exp_file), "--seed", "7"]) == 2  # not one of its seeds


def test_submit_dry_run_shows_the_plan_and_writes_nothing(exp_file, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["submit", str(exp_file), "--dry-run"]) == 0
    out = capsys.readouterr().out
    for key in ("warmup.s0", "warmup.s1", "run.top20.s0", "run.top20.s1", "report"):
        assert key in out
    assert "nothing written" in out and not (tmp_path / "runs").exists()


def test_reproduce_all_dry_run_discovers_the_profile(tmp_path, capsys, monkeypatch):
    profile = tmp_path / "experiments" / "embedded"
    profile.mkdir(parents=True)
    (profile / "_base.yaml").write_text("seeds: [0]\n")
    for name in ("top20", "random20"):
        (profile / f"{name}.yaml").write_text(f"extends: _base.yaml\nname: {name}\n")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["reproduce-all", "--profile", "embedded", "--executor", "local", "--runs", "out", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "run.top20.s0" in out and "run.random20.s0" in out and "_base" not in out
    assert cli.main(["reproduce-all", "--profile", "msmarco-10", "--dry-run"]) == 2


def test_the_repository_sweep_validates_and_plans_every_window(capsys, monkeypatch):
    """`make reproduce-sweep`: the sweep file expands into its 10 windows x 3 seeds behind three shared warm-ups."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(repo)
    assert cli.main(["validate", "experiments/embedded/sweep/sweep.yaml"]) == 0
    assert capsys.readouterr().out.count("embedded-sweep-") == 10
    assert cli.main(["reproduce-all", "--profile", "embedded/sweep", "--executor", "local", "--runs",
                     "runs/embedded-sweep", "--dry-run"]) == 0
    out = capsys.readouterr().out.replace("\n", "").replace("│", "").replace(" ", "")
    for window in ("0-20", "100-120", "180-200"):
        assert all(f"run.embedded-sweep-{window}.s{seed}" in out for seed in (0, 1, 2))
    assert "warmup.s2" in out and "warmup.s3" not in out


def test_status_logs_and_json_after_a_local_run(make_experiment, stand_in, tmp_path, capsys):
    submission, _ = launch(make_plan([make_experiment()], tmp_path, "local", stand_in))
    runs = str(tmp_path / "runs")
    assert cli.main(["status", "--runs", runs, "--json"]) == 0
    [doc] = json.loads(capsys.readouterr().out)
    assert doc["submission"] == submission.id
    assert [(job["key"], job["state"]) for job in doc["jobs"]] == [
        ("prep", "COMPLETED"), ("warmup.s0", "COMPLETED"), ("refresh0.s0", "COMPLETED"), ("run.top20.s0", "COMPLETED"),
        ("report", "COMPLETED")]
    assert all(job["start"] <= job["end"] for job in doc["jobs"])

    assert cli.main(["logs", "run.top20.s0", "--runs", runs]) == 0
    assert "stand-in run: finished" in capsys.readouterr().out
    assert cli.main(["logs", f"{submission.id}/report", "--runs", runs, "--lines", "1"]) == 0
    assert capsys.readouterr().out.count("\n") == 1
    assert cli.main(["logs", "no-such-job", "--runs", runs]) == 2
    assert cli.main(["status", "--runs", str(tmp_path / "empty")]) == 2


def test_a_local_chain_ends_with_the_result_table(make_experiment, stand_in, tmp_path, capsys):
    """`make reproduce-all` prints the strategies' table once the report job has completed."""
    from helpers.report_runs import write_study

    from launcher.records import load_submission
    from launcher.status import collect

    plan = make_plan([make_experiment("top20", seeds=[0, 1]), make_experiment("top20-bottom20", seeds=[0, 1])],
                     tmp_path, "local", stand_in)
    submission, results = launch(plan)
    assert all(r.exit_code == 0 for r in results)
    write_study(tmp_path / "runs")  # what the real stages would have left in the run folders
    with (tmp_path / "runs" / "top20" / "seed0" / "metrics.jsonl").open("a") as log:  # a timed train event
        log.write('{"kind": "train", "step": 1, "loss": 0.5, "lr": 1e-5, "refresh": 1, "seconds": 42.0}\n')
    capsys.readouterr()
    submission = load_submission(submission.folder)
    cli._print_report(submission, collect(submission))
    out = capsys.readouterr().out
    assert "dev nDCG@10 per strategy" in out and "top20+bottom20" in out and "2 seeds" in out
    assert "Where the time went" in out and "42.0 s" in out


def test_submissions_of_a_profile_root_are_found_from_the_runs_root(make_experiment, stand_in, tmp_path, capsys,
                                                                      monkeypatch):
    """`make reproduce-all` writes runs/<profile>/_jobs: `ance-launch status --runs runs` finds it by id."""
    from launcher.records import find_submissions

    nested = make_experiment("top20", seeds=[0], outputs={"root": str(tmp_path / "runs" / "embedded")})
    submission, _ = launch(make_plan([nested], tmp_path, "local", stand_in, report=False))
    older = tmp_path / "runs" / "_jobs" / "20000101-000000-0000"
    older.mkdir(parents=True)
    (older / "submission.json").write_text("{}")
    assert find_submissions(tmp_path / "runs") == [older, submission.folder]
    monkeypatch.chdir(tmp_path)
    assert cli.main(["status", submission.id, "--runs", "runs"]) == 0
    assert "COMPLETED" in capsys.readouterr().out
