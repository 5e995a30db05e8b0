"""containers/ance.def without apptainer: structure, apps, scripts, environment, %post."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import apptainer_def
import pytest

from ance_core.cli import STAGES

ROOT = Path(__file__).resolve().parents[2]
SH = shutil.which("sh")


def run_sh(script: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    # Apptainer runs %post, %environment, %runscript, %test and %apprun with /bin/sh.
    return subprocess.run([SH, "-c", script], env=env, cwd=cwd, capture_output=True, text=True, timeout=30)


# ---------------------------------------------------------------- the reader itself


def test_reader_rejects_what_apptainer_rejects():
    with pytest.raises(apptainer_def.DefinitionError, match="invalid section %pots"):
        apptainer_def.parse("Bootstrap: docker\nFrom: x:1\n%pots\n    true\n")
    with pytest.raises(apptainer_def.DefinitionError, match="build var SHA"):
        apptainer_def.parse("Bootstrap: docker\nFrom: x:1\n%labels\n    rev {{ SHA }}\n")
    with pytest.raises(apptainer_def.DefinitionError, match="header keyword 'form'"):
        apptainer_def.parse("Bootstrap: docker\nForm: x:1\n")
    # A line starting with % inside a script opens a (here invalid) section: a real trap.
    with pytest.raises(apptainer_def.DefinitionError, match="invalid section %d"):
        apptainer_def.parse("Bootstrap: docker\nFrom: x:1\n%post\n    %d\n")


def test_reader_substitutes_build_args_but_not_in_comments():
    text = "Bootstrap: docker\nFrom: x:1\n%arguments\n    A=default\n%post\n    # {{ B }}\n    echo {{ A }}\n"
    assert "echo default" in apptainer_def.parse(text).sections["post"]
    assert "echo given" in apptainer_def.parse(text, {"A": "given"}).sections["post"]


# ---------------------------------------------------------------- ance.def


def test_base_is_debian_by_debootstrap_with_the_python_the_lock_is_for(definition, lock_text, lock_script):
    header = definition.header
    assert header["bootstrap"] == "debootstrap"
    assert re.fullmatch(r"https?://\S+", header["mirrorurl"])
    # Debian's python3 and its venv module; everything else comes from the lock.
    assert {"python3", "python3-venv"} <= set(header["include"].split())
    python = re.search(r"^# python: (\S+)", lock_text, re.M).group(1)
    assert python == lock_script.DEBIAN_PYTHON[header["osversion"]], "OSVersion changed: run `make container-lock`"
    assert definition.labels["org.opencontainers.image.base.name"] == f"debian:{header['osversion']}"


def test_every_stage_has_an_app_that_runs_it(definition):
    apps = definition.apps()
    assert set(apps) == set(STAGES), "one SCIF app per `ance` stage, no others"
    for stage, sections in apps.items():
        assert sections["apprun"].strip() == f'exec ance {stage} "$@"'
        assert sections.get("apphelp", "").strip(), f"%apphelp {stage} is empty"


def test_runscript_is_the_cli_and_test_is_the_selftest(definition):
    assert definition.sections["runscript"].strip() == 'exec ance "$@"'
    commands = [line.strip() for line in definition.sections["test"].splitlines()]
    assert "ance selftest" in commands


def test_scripts_are_valid_sh(definition):
    for name, script in definition.sections.items():
        if name.split()[0] in ("post", "environment", "runscript", "test", "apprun", "apptest"):
            result = subprocess.run([SH, "-n"], input=script, capture_output=True, text=True)
            assert result.returncode == 0, f"%{name}: {result.stderr}"


def test_files_exist_and_the_lock_is_installed_with_hashes(definition):
    for src, _ in definition.files:
        assert (ROOT / src).exists(), f"%files source {src} is missing (paths are relative to the repo root)"
    sources = dict((dst, src) for src, dst in definition.files)
    assert sources["/opt/ance/requirements.lock"] == "containers/requirements.lock"
    post = definition.sections["post"]
    assert "lock=/opt/ance/requirements.lock" in post
    assert re.search(r"pip install --require-hashes --no-deps .*-r \"\$lock\"", post)


def test_labels_carry_the_git_commit_build_argument(definition_text, definition):
    built = apptainer_def.parse(definition_text, {"GIT_SHA": "0123abc"})
    assert built.labels["org.opencontainers.image.revision"] == "0123abc"
    assert definition.labels["org.opencontainers.image.revision"] == "unknown"  # the %arguments default


def environment_after(definition_text: str, env: dict[str, str], build_args: dict[str, str] | None = None) -> dict:
    script = apptainer_def.parse(definition_text, build_args).sections["environment"]
    result = run_sh(script + "\nenv -0\n", {"PATH": os.environ["PATH"], **env})
    assert result.returncode == 0, result.stderr
    return dict(item.split("=", 1) for item in result.stdout.split("\0") if "=" in item)


def test_environment_is_offline_and_caches_under_the_run_dir(definition_text, tmp_path):
    env = environment_after(definition_text, {"ANCE_RUNS": str(tmp_path)}, {"GIT_SHA": "0123abc"})
    assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1"
    assert env["PYTHONNOUSERSITE"] == "1"
    assert env["PATH"].split(":")[0] == "/opt/ance/venv/bin"  # the venv %post installs into
    for name in ("XDG_CACHE_HOME", "HF_HOME", "TORCH_HOME", "MPLCONFIGDIR"):
        assert env[name].startswith(f"{tmp_path}/.cache"), (name, env[name])
    assert env["ANCE_GIT_SHA"] == "0123abc"  # what manifest.git_sha() records


def test_environment_keeps_the_hf_home_a_job_passes_in(definition_text, tmp_path):
    """ance-launch writes the HF home its pre-flight checked into every job (ance_core/hub.py)."""
    env = environment_after(definition_text, {"ANCE_RUNS": str(tmp_path), "HF_HOME": "/scratch/u/hf"})
    assert env["HF_HOME"] == "/scratch/u/hf"
    assert env["TORCH_HOME"].startswith(f"{tmp_path}/.cache")  # the other caches still go under the run dir


def test_environment_without_a_run_dir_uses_a_per_user_tmp(definition_text, tmp_path):
    env = environment_after(definition_text, {"TMPDIR": str(tmp_path)})
    assert env["HF_HOME"].startswith(f"{tmp_path}/ance-{os.getuid()}/.cache")
    assert "ANCE_GIT_SHA" not in env  # unknown commit: let manifests say so rather than record "unknown"


FAKE_PYTHON = """#!/bin/sh
# Stands in for Debian's python3: answers the version question, logs the rest.
echo "$0 $*" >>"$LOG"
case "$*" in
    "-m venv "*) for dir; do :; done; mkdir -p "$dir/bin"; cp "$0" "$dir/bin/python" ;;
    *sys.version_info*) echo "$FAKE_PYTHON_VERSION" ;;
    *importlib.metadata*) echo 9.8.7 ;;
esac
"""


@pytest.fixture
def post_runner(definition, lock_text, tmp_path):
    """Run %post against a fake python3, with /opt/ance moved under tmp_path (the real one: test_container_rehearsal)."""
    opt = tmp_path / "opt"
    opt.mkdir()
    (opt / "requirements.lock").write_text(lock_text)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").write_text(FAKE_PYTHON)
    (bin_dir / "python3").chmod(0o755)
    script = definition.sections["post"].replace("/opt/ance", str(opt))
    python = re.search(r"^# python: (\S+)", lock_text, re.M).group(1)

    def run(python_version: str = python):
        env = {
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "LOG": str(tmp_path / "calls.log"),
            "APPTAINER_LABELS": str(tmp_path / "labels"),
            "FAKE_PYTHON_VERSION": python_version,
        }
        result = run_sh(script, env)
        log = tmp_path / "calls.log"
        return result, log.read_text().splitlines() if log.exists() else []

    return run


def test_post_installs_lock_then_bundle_into_a_venv_then_checks_them(post_runner, tmp_path):
    result, calls = post_runner()
    assert result.returncode == 0, result.stderr
    venv = tmp_path / "opt" / "venv"
    assert f"{tmp_path}/bin/python3 -m venv {venv}" in calls
    # Everything after the venv exists runs with the venv's python, never the system one.
    after = calls[calls.index(next(c for c in calls if " -m venv " in c)) + 1 :]
    assert after and all(c.startswith(f"{venv}/bin/python ") for c in after)
    pip = [c for c in after if " -m pip install " in c]
    assert len(pip) == 2
    assert "--require-hashes" in pip[0] and "--no-deps" in pip[0] and pip[0].endswith("requirements.lock")
    assert "--no-index" in pip[1] and "--no-deps" in pip[1] and pip[1].endswith("/src")
    assert any(c.endswith("check_deps.py ance-bundle[gpu]") for c in after[after.index(pip[1]) :])
    assert (tmp_path / "labels").read_text() == "org.opencontainers.image.version 9.8.7\n"


def test_post_refuses_a_python_the_lock_was_not_made_for(post_runner):
    result, calls = post_runner(python_version="3.9")
    assert result.returncode == 1
    assert "make container-lock" in result.stderr
    assert not [c for c in calls if " -m pip " in c], "nothing may be installed from a lock made for another base"


def test_help_explains_exec_run_app_gpus_and_binds(definition):
    text = definition.sections["help"]
    for needle in ("apptainer exec", "apptainer run --nv --app", "--nv", "--bind", "ANCE_RUNS", "apptainer test"):
        assert needle in text, needle
