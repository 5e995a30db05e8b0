"""Pre-flight: a submission whose jobs would miss their model, data, image or templates is refused
before anything is written or queued, with the missing thing and the command that provides it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ance_core.errors import InputError
from launcher import cli
from launcher.preflight import preflight
from launcher_helpers import make_plan


def hub_snapshot(hf_home: Path, name: str, config: str = '{"num_hidden_layers": 12, "hidden_size": 768, '
                 '"intermediate_size": 3072}') -> Path:
    """A model as huggingface_hub lays it out in HF_HOME/hub (refs/main -> snapshots/<revision>/)."""
    repo = hf_home / "hub" / f"models--{name.replace('/', '--')}"
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    (snapshot / "config.json").write_text(config)
    (snapshot / "model.safetensors").write_bytes(b"")
    return snapshot


def study_file(tmp_path: Path, **lines: str) -> Path:
    """A GPU study on SLURM like the msmarco profiles, in tmp_path."""
    text = {
        "name": "name: top20",
        "seeds": "seeds: [42]",
        "data": "data: {dataset: data/msmarco, download: msmarco-passage}",
        "model": "model: {name: roberta-base, pooling: cls, normalize: false, ance_head: true}",
        "ance": "ance: {mode: async, refreshes: 2, refresh_every: 100}",
        "resources": "resources: {executor: slurm, gpus: 4, gpus_refresh: 1, gpu_type: a40, time: '1-00:00:00'}",
        "outputs": "outputs: {root: runs}",
    }
    text.update(lines)
    path = tmp_path / "top20.yaml"
    path.write_text("\n".join(text.values()) + "\n")
    return path


@pytest.fixture
def hf_home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "hf"
    home.mkdir()
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("ANCE_SITE_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("COLUMNS", "1000")  # one message per line: paths are never folded
    monkeypatch.chdir(tmp_path)
    return home


def _refused(capsys, argv) -> str:
    assert cli.main(argv) == 2
    return " ".join(capsys.readouterr().err.split())


def test_an_empty_model_cache_is_refused_naming_the_model_and_the_fetch_command(hf_home, tmp_path, capsys):
    exp = study_file(tmp_path)
    for argv in (["submit", str(exp), "--executor", "slurm"], ["submit", str(exp), "--executor", "slurm", "--dry-run"],
                 ["reproduce-all", "--profile", ".", "--experiments-dir", str(tmp_path), "--executor", "slurm"]):
        err = _refused(capsys, argv)
        assert "pre-flight (nothing was submitted)" in err and "model.name" in err
        assert f"ance model fetch roberta-base --cache {hf_home}" in err and f"HF_HOME={hf_home}" in err
    assert not (tmp_path / "runs").exists()  # no job folder, no script: nothing could be queued


def test_with_the_model_in_the_cache_the_dry_run_shows_the_graph_and_the_gpu_hours(hf_home, tmp_path, capsys):
    hub_snapshot(hf_home, "roberta-base")
    exp = study_file(tmp_path)
    assert cli.main(["submit", str(exp), "--executor", "slurm", "--dry-run"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for key in ("prep", "warmup.s42", "refresh0.s42", "run.top20.s42", "report"):
        assert key in out
    # 1 warm-up + 1 refresh0 on one GPU, the run on 4, at one day each: 6 GPUs, 144 GPU-hours at the limits
    assert "GPU-hours: 144 at the time limits (6 GPUs in 3 GPU jobs); expected ~" in out
    assert "A40 peak" in out
    assert not (tmp_path / "runs").exists()


def test_missing_data_is_refused_naming_the_folder_and_the_download(hf_home, tmp_path, capsys):
    hub_snapshot(hf_home, "roberta-base")
    exp = study_file(tmp_path, data="data: {dataset: data/msmarco}")
    err = _refused(capsys, ["submit", str(exp), "--executor", "slurm"])
    assert "data.dataset" in err and f"{tmp_path}/data/msmarco does not exist" in err
    assert f"ance data download msmarco-passage --out {tmp_path}/data/msmarco" in err
    assert not (tmp_path / "runs").exists()


def test_missing_data_that_the_prep_job_downloads_is_accepted(hf_home, tmp_path, make_experiment):
    hub_snapshot(hf_home, "roberta-base")
    exp = make_experiment(data={"dataset": str(tmp_path / "msmarco"), "download": "msmarco-passage"},
                          model={"name": "roberta-base"})
    preflight(make_plan([exp], tmp_path, "slurm"))  # the plan's prep job downloads it: nothing to refuse


def test_a_missing_image_under_apptainer_is_refused_naming_the_build(hf_home, tmp_path, capsys):
    hub_snapshot(hf_home, "roberta-base")
    exp = study_file(tmp_path, resources="resources: {executor: slurm, gpus: 4, gpus_refresh: 1, runtime: apptainer, "
                                         "image: images/ance.sif, time: '1-00:00:00'}")
    err = _refused(capsys, ["submit", str(exp), "--executor", "slurm"])
    assert "resources.image" in err and f"{tmp_path}/images/ance.sif does not exist" in err
    assert f"make container SIF={tmp_path}/images/ance.sif" in err
    assert not (tmp_path / "runs").exists()
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "ance.sif").write_bytes(b"")
    assert cli.main(["submit", str(exp), "--executor", "slurm", "--dry-run"]) == 0


def test_a_missing_checkpoint_folder_and_missing_templates_are_named(hf_home, tmp_path, make_experiment, monkeypatch):
    exp = make_experiment(warmup={"enabled": False, "init_checkpoint": str(tmp_path / "warm" / "checkpoint-0")})
    with pytest.raises(InputError, match=r"warmup.init_checkpoint: expected an existing model or checkpoint folder"):
        preflight(make_plan([exp], tmp_path, "local"))
    (tmp_path / "warm" / "checkpoint-0").mkdir(parents=True)
    plan = make_plan([exp], tmp_path, "local")
    preflight(plan)
    monkeypatch.setattr("launcher.preflight.TEMPLATE_DIR", tmp_path / "not-installed")
    with pytest.raises(InputError, match=r"templates: expected .*prep.sh.j2.* reinstall it"):
        preflight(plan)


def test_the_same_problem_in_every_experiment_is_said_once(hf_home, tmp_path, make_experiment):
    exps = [make_experiment(name, model={"name": "roberta-base"}) for name in ("a", "b", "c")]
    with pytest.raises(InputError) as caught:
        preflight(make_plan(exps, tmp_path, "slurm"))
    [problem] = caught.value.problems
    assert problem.where == "3 experiments (a, b, c): model.name"


def test_a_report_alone_needs_no_data_set_but_every_other_job_does(hf_home, tmp_path, make_experiment):
    from launcher.tui.scripts import only_job

    exp = make_experiment(data={"dataset": str(tmp_path / "gone")})
    plan = make_plan([exp], tmp_path, "local")
    preflight(only_job(plan, "report"))  # reads run folders only
    with pytest.raises(InputError, match="gone does not exist"):
        preflight(only_job(plan, "run.top20.s0"))


def test_ance_model_fetch_config_fills_the_cache_the_pre_flight_checks(hf_home, tmp_path, capsys, tiny_roberta_dir):
    """One rule (ance_core/hub.py): the site's hf_home here, in the image, whatever $HF_HOME the shell has."""
    import subprocess
    import sys

    from helpers.hub_server import HubServer

    (tmp_path / "site.yaml").write_text("hf_home: site-hf\nimage: ance.sif\n")  # relative: to the site file
    (tmp_path / "ance.sif").write_bytes(b"")
    exp = study_file(tmp_path)
    err = _refused(capsys, ["submit", str(exp), "--executor", "slurm", "--dry-run"])
    assert f"ance model fetch roberta-base --cache {tmp_path}/site-hf" in err

    with HubServer({"roberta-base": tiny_roberta_dir}) as served:
        fetched = subprocess.run([sys.executable, "-m", "ance_core.cli", "model", "fetch", "--config", str(exp)],
                                 cwd=tmp_path, capture_output=True, text=True, timeout=300,
                                 env={**os.environ, "HF_ENDPOINT": served.url})
    assert fetched.returncode == 0, fetched.stderr
    assert Path(fetched.stdout.strip().splitlines()[-1]).is_relative_to(tmp_path / "site-hf" / "hub")
    assert not (hf_home / "hub").exists()  # the shell's HF_HOME is not the jobs' here

    assert cli.main(["submit", str(exp), "--executor", "slurm", "--dry-run"]) == 0
    capsys.readouterr()
    assert cli.main(["render", str(exp), "--template", "run"]) == 0
    script = capsys.readouterr().out
    assert f"export HF_HOME={tmp_path}/site-hf\n" in script  # the image keeps it (containers/ance.def)
    assert f"--bind {tmp_path}/site-hf " in script
