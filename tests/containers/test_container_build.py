"""containers/build.sh (make container / container-test) and containers/check_deps.py, without apptainer.

A fake `apptainer` on PATH records how it is called; fake `id` and
`nvidia-smi` play non-root users and GPU nodes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE_APPTAINER = """#!/bin/sh
echo "$*" >>"$LOG"
case "$1" in
    --version) echo "apptainer version ${FAKE_VERSION:-1.3.4}" ;;
    build) [ -z "$FAKE_FAIL" ] || exit 1
           for last; do :; done  # the definition file; the image path comes before it
           eval "out=\\${$(($# - 1))}"; echo sif >"$out" ;;
esac
"""
FAKE_ID = '#!/bin/sh\n[ "$1" = -u ] && echo "$FAKE_UID" || exec /usr/bin/id "$@"\n'
FAKE_NVIDIA_SMI = '#!/bin/sh\n[ -n "$FAKE_GPU" ] && echo "GPU 0: NVIDIA H200 (UUID: GPU-0)" || exit 6\n'


@pytest.fixture
def fake(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("apptainer", FAKE_APPTAINER), ("id", FAKE_ID), ("nvidia-smi", FAKE_NVIDIA_SMI)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "apptainer.log"

    def run(*args: str, **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
        full_env = {
            "PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path), "LOG": str(log),
            "FAKE_UID": "1000", "SIF": str(tmp_path / "ance.sif"), **env,
        }
        result = subprocess.run(
            ["make", "-s", "--no-print-directory", *args], cwd=ROOT, env=full_env,
            capture_output=True, text=True, timeout=60,
        )
        return result, log.read_text().splitlines() if log.exists() else []

    return run


@pytest.mark.parametrize("target", ["container", "container-test"])
def test_targets_say_clearly_when_apptainer_is_absent(fake, target):
    result, calls = fake(target, APPTAINER="/nonexistent/apptainer")
    assert result.returncode != 0
    assert "'/nonexistent/apptainer' not found" in result.stderr
    assert "Apptainer >= 1.2" in result.stderr
    assert calls == []


def test_build_refuses_an_apptainer_without_build_args(fake):
    result, _ = fake("container", FAKE_VERSION="1.1.9")
    assert result.returncode != 0
    assert "too old" in result.stderr


def git_head() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def test_build_as_a_user_uses_fakeroot_and_passes_the_commit(fake, tmp_path):
    result, calls = fake("container", APPTAINER_BUILD_FLAGS="--tmpdir /scratch/tmp")
    assert result.returncode == 0, result.stderr
    build = next(c.split() for c in calls if c.startswith("build "))
    assert "--fakeroot" in build
    assert build[build.index("--tmpdir") + 1] == "/scratch/tmp"
    sha = build[build.index("--build-arg") + 1]
    assert sha in (f"GIT_SHA={git_head()}", f"GIT_SHA={git_head()}-dirty")
    assert build[-2:] == [f"{tmp_path}/ance.sif.partial", "containers/ance.def"]
    assert (tmp_path / "ance.sif").read_text() == "sif\n"
    assert not (tmp_path / "ance.sif.partial").exists()


def test_build_as_root_needs_no_fakeroot(fake):
    result, calls = fake("container", FAKE_UID="0")
    assert result.returncode == 0, result.stderr
    assert "--fakeroot" not in next(c for c in calls if c.startswith("build "))


def test_a_failed_build_keeps_the_previous_image(fake, tmp_path):
    (tmp_path / "ance.sif").write_text("previous\n")
    result, _ = fake("container", FAKE_FAIL="1")
    assert result.returncode != 0
    assert (tmp_path / "ance.sif").read_text() == "previous\n"


def test_container_test_without_a_gpu_runs_the_selftest_only(fake, tmp_path):
    (tmp_path / "ance.sif").write_text("sif\n")
    result, calls = fake("container-test")
    assert result.returncode == 0, result.stderr
    assert [c for c in calls if not c.startswith("--version")] == [f"test {tmp_path}/ance.sif"]
    assert "no GPU here" in result.stderr


def test_container_test_with_a_gpu_runs_a_stage_with_nv(fake, tmp_path):
    (tmp_path / "ance.sif").write_text("sif\n")
    result, calls = fake("container-test", FAKE_GPU="1")
    assert result.returncode == 0, result.stderr
    assert f"run --nv --app selftest {tmp_path}/ance.sif" in calls
    assert any(c.startswith(f"exec --nv {tmp_path}/ance.sif python3 -c") for c in calls)


def test_container_test_without_an_image_says_how_to_build_one(fake):
    result, _ = fake("container-test")
    assert result.returncode != 0
    assert "run 'make container' first" in result.stderr


# ---------------------------------------------------------------- check_deps.py


@pytest.fixture
def site(tmp_path) -> Path:
    """Installed metadata of two fake distributions: fake-app needs fake-lib (extra `deep`)."""
    def dist(name: str, *requires: str) -> None:
        info = tmp_path / f"{name.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        lines = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0", *(f"Requires-Dist: {r}" for r in requires)]
        (info / "METADATA").write_text("\n".join(lines) + "\n")

    dist("fake-app", "packaging", 'packaging>=999; extra == "new"', 'fake-lib; extra == "deep"')
    dist("fake-lib", "surely-not-installed-pkg>=1")
    return tmp_path


def check_deps(site: Path, requirement: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "containers" / "check_deps.py"), requirement],
        env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True, timeout=60,
    )


def test_check_deps_accepts_a_complete_closure(site):
    result = check_deps(site, "fake-app")
    assert result.returncode == 0, result.stderr


def test_check_deps_reports_wrong_versions_and_missing_packages_through_extras(site):
    result = check_deps(site, "fake-app[new,deep]")
    assert result.returncode == 1
    assert "needs packaging>=999" in result.stderr
    assert "surely-not-installed-pkg is not installed (needed by fake-lib 1.0" in result.stderr
    assert check_deps(site, "not-there-at-all").returncode == 1
